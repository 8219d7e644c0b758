using Syscage.Ebpf.Isa;
using Syscage.Ebpf.Verifier;
using Syscage.Testing;

namespace Syscage.EbpfLoader.Tests;

/// <summary>
/// The bpf_conformance programs through the verifier, with the suite's calling convention (r1 = memory,
/// r2 = its length). A sane verifier accepts them all except <see cref="ConformanceFile.Refused"/>, each for its reason.
/// </summary>
public class ConformanceTests
{
    public static TheoryData<string> Files => [.. ConformanceFile.AllNames()];

    [Theory]
    [MemberData(nameof(Files))]
    public void Conformance_program_verifies(string file)
    {
        var vector = ConformanceFile.Load(file);
        Assert.True(vector.Asm is not null, $"{vector.Path}: no -- asm section");
        var program = EbpfAssembler.Assemble(vector.Asm, vector.Path);
        var options = new VerifierOptions { Context = ContextDescription.Memory(vector.Memory.Length), ContextSizeInR2 = true };
        bool ok = EbpfVerifier.TryVerify(program, options, out _, out var error);
        if (ConformanceFile.Refused.TryGetValue(file, out var reason))
        {
            Assert.False(ok, $"{vector.Path} was expected to be rejected ({reason})");
            Assert.StartsWith(reason, error!.Reason);
        }
        else
            Assert.True(ok, $"{vector.Path}: {error}");
    }
}
