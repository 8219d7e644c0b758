using System.CommandLine;
using Syscage.Bpf;

namespace Syscage.Cli.Commands;

/// <summary><c>syscage check FILE.bpf</c>: would the kernel accept this program?</summary>
public static class CheckCommand
{
    /// <summary>The command definition; it only unpacks the parse result.</summary>
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "Raw sock_filter bytes, or assembler text (.asm, .s)" };
        var arch = new Option<string?>("--arch") { Description = "Architecture for syscall names in assembler text (default: native)" };
        var cmd = new Command("check", "Validate a program exactly as seccomp(SECCOMP_SET_MODE_FILTER) would; exit 0 if accepted, 1 if not") { file, arch };
        cmd.SetAction(p => CliApp.Guard(p, (o, e) => Run(o, e, p.GetValue(file)!, p.GetValue(arch))));
        return cmd;
    }

    /// <summary>Prints the verdict; 0 when the kernel would accept the program, 1 when not.</summary>
    public static int Run(TextWriter stdout, TextWriter stderr, string file, string? arch = null)
    {
        var insns = ProgramFiles.ReadInstructions(file, ProgramFiles.ParseArch(arch));
        if (Validator.Check(insns) is { } error)
        {
            stdout.WriteLine($"{file}: rejected ({error.Errno}): {error}");
            return (int)ExitCode.Rejected;
        }
        stdout.WriteLine($"{file}: ok, {insns.Length} instructions");
        return (int)ExitCode.Ok;
    }
}
