using System.CommandLine;
using Syscage.Ebpf.Isa;

namespace Syscage.Cli.Commands.Ebpf;

/// <summary><c>syscage ebpf asm FILE [-o OUT]</c>: conformance-suite assembler text to raw eBPF instruction bytes.</summary>
public static class EbpfAsmCommand
{
    /// <summary>The command definition; it only unpacks the parse result.</summary>
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "eBPF assembler text ('mov32 %r0, 0', see 'syscage ebpf disasm'); '-' for stdin" };
        var output = new Option<string?>("--output", "-o") { Description = "Where to write the raw instructions; '-' for stdout (default: FILE with the extension .ebpf)" };
        var cmd = new Command("asm", "Assemble eBPF text into raw 8-byte instructions") { file, output };
        cmd.SetAction(p => CliApp.Guard(p, (o, e) => Run(o, e, p.GetValue(file)!, p.GetValue(output))));
        return cmd;
    }

    /// <summary>Assembles <paramref name="file"/> and writes the bytes.</summary>
    public static int Run(TextWriter stdout, TextWriter stderr, string file, string? output, Stream? stdoutStream = null)
    {
        string text = ProgramFiles.ReadText(file);
        string name = file == "-" ? "<stdin>" : file;
        if (!EbpfAssembler.TryAssemble(text, out var insns, out var error, name))
            throw new CliException(ExitCode.BadInput, error.ToString());
        byte[] bytes = EbpfInstruction.WriteAll(insns);
        output ??= file == "-" ? "-" : Path.ChangeExtension(file, ".ebpf");
        if (output == "-")
        {
            stdout.Flush();
            if (stdoutStream is not null)
                stdoutStream.Write(bytes);
            else
            {
                using var s = Console.OpenStandardOutput();
                s.Write(bytes);
            }
        }
        else
        {
            File.WriteAllBytes(output, bytes);
            stderr.WriteLine($"{output}: {insns.Length} instruction slots");
        }
        return (int)ExitCode.Ok;
    }
}
