using System.CommandLine;
using Syscage.Ebpf.Isa;

namespace Syscage.Cli.Commands.Ebpf;

/// <summary><c>syscage ebpf disasm FILE</c>: raw eBPF instruction bytes to text that <c>syscage ebpf asm</c> reads back.</summary>
public static class EbpfDisasmCommand
{
    /// <summary>The command definition; it only unpacks the parse result.</summary>
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "Raw eBPF instructions (8 bytes each, little endian); '-' for stdin" };
        var cmd = new Command("disasm", "Disassemble raw eBPF instructions (the text re-assembles to the same bytes)") { file };
        cmd.SetAction(p => CliApp.Guard(p, (o, e) => Run(o, e, p.GetValue(file)!)));
        return cmd;
    }

    /// <summary>Prints the disassembly of <paramref name="file"/>.</summary>
    public static int Run(TextWriter stdout, TextWriter stderr, string file)
    {
        byte[] bytes = ProgramFiles.ReadBytes(file);
        if (bytes.Length % EbpfInstruction.Size != 0)
            throw new CliException(ExitCode.BadInput, $"{file}: {bytes.Length} bytes is not a whole number of 8-byte eBPF instructions");
        stdout.Write(EbpfDisassembler.ToText(EbpfInstruction.ReadAll(bytes)));
        return (int)ExitCode.Ok;
    }
}
