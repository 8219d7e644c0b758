using System.Globalization;
using Syscage.Bpf;
using Syscage.Ebpf.Helpers;
using Syscage.Ebpf.Isa;
using Syscage.Ebpf.Verifier;
using Syscage.Ebpf.Vm;
using Syscage.Testing;

namespace Syscage.Ebpf.Tests;

/// <summary>
/// Every file of the eBPF conformance suite, unchanged, through the interpreter and the JIT, with the suite's harness
/// convention: r1 = the <c>-- mem</c> bytes (writable), r2 = their length, expected r0 from <c>-- result</c>.
/// </summary>
public sealed class ConformanceTests
{
    /// <summary>Every file: all of them must assemble and round-trip through the disassembler.</summary>
    public static TheoryData<string> Files()
    {
        var data = new TheoryData<string>();
        foreach (var name in ConformanceFile.AllNames())
            data.Add(name);
        return data;
    }

    /// <summary>The files that run: all but <see cref="ConformanceFile.Refused"/>.</summary>
    public static TheoryData<string> RunnableFiles()
    {
        var data = new TheoryData<string>();
        foreach (var name in ConformanceFile.AllNames().Where(n => !ConformanceFile.Refused.ContainsKey(n)))
            data.Add(name);
        return data;
    }

    [Fact]
    public void The_suite_is_there_and_the_refused_list_names_real_files()
    {
        var names = ConformanceFile.AllNames().ToList();
        Assert.True(names.Count >= 300, $"expected the whole suite in {ConformanceFile.Directory}, found {names.Count} files");
        foreach (var name in ConformanceFile.Refused.Keys)
            Assert.Contains(name, names);
    }

    [Theory]
    [MemberData(nameof(RunnableFiles))]
    public void Interpreter(string file) => Check(file, EbpfEngine.Interpreter);

    [Theory]
    [MemberData(nameof(RunnableFiles))]
    public void Jit(string file) => Check(file, EbpfEngine.Jit);

    [Theory]
    [MemberData(nameof(Files))]
    public void Disassembly_reassembles_to_the_same_bytes(string file)
    {
        var vector = ConformanceFile.Load(file);
        Assert.NotNull(vector.Asm);
        var program = EbpfAssembler.Assemble(vector.Asm!, vector.Path);
        var text = EbpfDisassembler.ToText(program);
        Assert.True(EbpfAssembler.TryAssemble(text, out var again, out AssemblyError? error), $"{file}: disassembly does not assemble: {error}\n{text}");
        Assert.True(program.SequenceEqual(again), $"{file}: round trip changed the program\n{text}");
    }

    internal static string Describe(ConformanceFile vector, IReadOnlyList<EbpfInstruction> program) =>
        $"{vector.Path}:{vector.ResultLine}\n{EbpfDisassembler.ToText([.. program])}";

    private static void Check(string file, EbpfEngine engine)
    {
        var vector = ConformanceFile.Load(file);
        Assert.True(vector.Asm is not null, $"{vector.Path}: no -- asm section");
        var program = EbpfAssembler.Assemble(vector.Asm!, vector.Path);

        if (vector.Raw is { } raw)
        {
            var bytes = EbpfInstruction.WriteAll(program);
            var expected = raw.SelectMany(BitConverter.GetBytes).ToArray();
            Assert.True(expected.SequenceEqual(bytes), $"{vector.Path}: -- raw differs from the assembler's bytes\n{Describe(vector, program)}");
        }

        // Through the verifier, as every program Syscage runs: the conformance harness's r1/r2 convention is a
        // writable memory block with its length in r2.
        var verified = EbpfVerifier.Verify(program, new VerifierOptions
        {
            Context = ContextDescription.Memory(vector.Memory.Length),
            ContextSizeInR2 = true,
            Name = Path.GetFileName(vector.Path),
        });
        var executor = EbpfVm.Create(verified, engine: engine);
        var memory = (byte[])vector.Memory.Clone();
        if (vector.Error is { } expectedError)
        {
            var e = Assert.ThrowsAny<SyscageException>(() => executor.RunOnMemory(memory, HelperContext.None));
            Assert.True(e.Message.Contains(expectedError, StringComparison.Ordinal), $"{Describe(vector, program)}\nexpected error '{expectedError}', got '{e.Message}'");
            return;
        }
        ulong actual = executor.RunOnMemory(memory, HelperContext.None);
        Assert.True(vector.Result == actual, string.Create(CultureInfo.InvariantCulture,
            $"{Describe(vector, program)}{engine}: expected r0 = 0x{vector.Result:x}, got 0x{actual:x}"));
    }
}
