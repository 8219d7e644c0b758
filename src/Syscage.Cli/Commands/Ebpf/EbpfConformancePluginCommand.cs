using System.CommandLine;
using System.Globalization;
using Syscage.Ebpf;
using Syscage.Ebpf.Helpers;
using Syscage.Ebpf.Isa;
using Syscage.Ebpf.Verifier;
using Syscage.Ebpf.Vm;

namespace Syscage.Cli.Commands.Ebpf;

/// <summary>
/// <c>syscage ebpf conformance-plugin [MEMORY] [--jit|--interpret]</c>: the bpf_conformance plugin protocol — raw
/// program bytes on stdin, the memory as hex in the first argument, <c>r0</c> printed in hex. The program gets
/// <c>r1</c> = the memory and <c>r2</c> = its length.
/// </summary>
/// <remarks>
/// The program goes through the verifier first, with the memory as a writable context whose length is in r2;
/// a program the verifier rejects is reported (exit 3) and not run.
/// </remarks>
public static class EbpfConformancePluginCommand
{
    /// <summary>The command definition; it only unpacks the parse result.</summary>
    public static Command Create()
    {
        var memory = new Argument<string?>("MEMORY") { Description = "The memory r1 points to, as hex bytes (spaces allowed)", Arity = ArgumentArity.ZeroOrOne };
        var jit = new Option<bool>("--jit") { Description = "Run with the JIT (the default where the runtime has one; not in the native build)" };
        var interpret = new Option<bool>("--interpret") { Description = "Run with the interpreter (the default in the native build)" };
        var cmd = new Command("conformance-plugin", "bpf_conformance plugin: program bytes on stdin, memory as hex argument, prints r0 in hex") { memory, jit, interpret };
        cmd.Validators.Add(r =>
        {
            if (r.GetValue(jit) && r.GetValue(interpret))
                r.AddError("--jit and --interpret exclude each other");
        });
        cmd.SetAction(p => CliApp.Guard(p, (o, e) =>
        {
            using var stdin = Console.OpenStandardInput();
            return Run(o, e, stdin, p.GetValue(memory), p.GetValue(interpret), p.GetValue(jit));
        }));
        return cmd;
    }

    /// <summary>Runs the program read from <paramref name="stdin"/> and prints <c>r0</c>.</summary>
    public static int Run(TextWriter stdout, TextWriter stderr, Stream stdin, string? memoryHex, bool interpret = false, bool jit = false)
    {
        ArgumentNullException.ThrowIfNull(stdin);
        var bytes = InputFile.ReadBinary(stdin, "<stdin>");
        if (bytes.Length == 0 || bytes.Length % EbpfInstruction.Size != 0)
            throw new CliException(ExitCode.BadInput, $"<stdin>: {bytes.Length} bytes is not a non-empty whole number of 8-byte eBPF instructions");
        byte[] memory = ParseHex(memoryHex ?? "");
        var program = EbpfVerifier.Verify(EbpfInstruction.ReadAll(bytes), new VerifierOptions
        {
            Context = ContextDescription.Memory(memory.Length),
            ContextSizeInR2 = true,
            Name = "<stdin>",
        });
        var vm = EbpfVm.Create(program, engine: EbpfInputs.Engine(jit, interpret));
        ulong r0 = vm.RunOnMemory(memory, HelperContext.None);
        stdout.WriteLine(r0.ToString("x", CultureInfo.InvariantCulture));
        return (int)ExitCode.Ok;
    }

    private static byte[] ParseHex(string text)
    {
        var digits = new string([.. text.Where(c => !char.IsWhiteSpace(c))]);
        if (digits.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            digits = digits[2..];
        try
        {
            return Convert.FromHexString(digits);
        }
        catch (FormatException)
        {
            throw new CliException(ExitCode.Usage, $"MEMORY must be hex bytes, not '{text}'");
        }
    }
}
