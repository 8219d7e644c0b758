using System.CommandLine;
using Syscage.Bpf;

namespace Syscage.Cli.Commands;

/// <summary><c>syscage disasm FILE.bpf [--format text|c]</c>.</summary>
public static class DisasmCommand
{
    /// <summary>The command definition; it only unpacks the parse result.</summary>
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "Raw sock_filter bytes ('-' for stdin)" };
        var format = new Option<string>("--format", "-f") { Description = "text (re-assembles with 'syscage asm') or c", DefaultValueFactory = _ => "text" };
        format.AcceptOnlyFromAmong("text", "c");
        var arch = new Option<string?>("--arch") { Description = "Architecture for syscall names where the program does not check arch (default: native)" };
        var cmd = new Command("disasm", "Disassemble a classic BPF seccomp program (valid or not)") { file, format, arch };
        cmd.SetAction(p => CliApp.Guard(p, (o, e) => Run(o, e, p.GetValue(file)!, p.GetValue(format)!, p.GetValue(arch))));
        return cmd;
    }

    /// <summary>Prints the disassembly of <paramref name="file"/>.</summary>
    public static int Run(TextWriter stdout, TextWriter stderr, string file, string format = "text", string? arch = null)
    {
        var architecture = ProgramFiles.ParseArch(arch);
        var insns = ProgramFiles.ReadInstructions(file, architecture);
        stdout.Write(format == "c" ? Disassembler.ToC(insns, "filter", architecture) : Disassembler.ToText(insns, architecture));
        if (Validator.Check(insns) is { } error)
            stderr.WriteLine($"syscage: warning: the kernel would reject this program: {error}");
        return (int)ExitCode.Ok;
    }
}
