using System.CommandLine;
using Syscage.Bpf;

namespace Syscage.Cli.Commands;

/// <summary><c>syscage asm FILE [-o OUT]</c>: assembler text to raw <c>sock_filter</c> bytes.</summary>
public static class AsmCommand
{
    /// <summary>The command definition; it only unpacks the parse result.</summary>
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "Assembler text (see 'syscage disasm' for the syntax); '-' for stdin" };
        var output = new Option<string?>("--output", "-o") { Description = "Where to write the raw program; '-' for stdout (default: FILE with the extension .bpf)" };
        var arch = new Option<string?>("--arch") { Description = "Architecture for syscall names where the program does not check arch (default: native)" };
        var format = new Option<string>("--format") { Description = "raw (sock_filter bytes) or c (C array)", DefaultValueFactory = _ => "raw" };
        format.AcceptOnlyFromAmong("raw", "c");
        var noValidate = new Option<bool>("--no-validate") { Description = "Write the program even if the kernel would reject it (for testing)" };
        var cmd = new Command("asm", "Assemble a classic BPF seccomp program") { file, output, arch, format, noValidate };
        cmd.SetAction(p => CliApp.Guard(p, (o, e) => Run(o, e, p.GetValue(file)!, p.GetValue(output), p.GetValue(arch), p.GetValue(format)!, p.GetValue(noValidate))));
        return cmd;
    }

    /// <summary>Assembles <paramref name="file"/> and writes the program.</summary>
    public static int Run(TextWriter stdout, TextWriter stderr, string file, string? output, string? arch, string format = "raw", bool noValidate = false)
    {
        var architecture = ProgramFiles.ParseArch(arch);
        string text = ProgramFiles.ReadText(file);
        string name = file == "-" ? "<stdin>" : file;
        Instruction[] insns;
        if (noValidate)
        {
            if (!Assembler.TryAssemble(text, out var result, out var error, name, architecture))
                throw new CliException(ExitCode.BadInput, error.ToString());
            insns = result.Instructions;
        }
        else
        {
            if (!Assembler.TryAssembleProgram(text, out var program, out var error, name, architecture))
                throw new CliException(ExitCode.BadInput, error.ToString());
            insns = [.. program.Instructions];
        }
        output ??= file == "-" ? "-" : Path.ChangeExtension(file, format == "c" ? ".c" : ".bpf");
        if (format == "c")
        {
            string c = Disassembler.ToC(insns, "filter", architecture);
            if (output == "-")
                stdout.Write(c);
            else
                File.WriteAllText(output, c);
        }
        else
        {
            byte[] bytes = SockFilter.Write(insns);
            if (output == "-")
            {
                stdout.Flush();
                using var s = Console.OpenStandardOutput();
                s.Write(bytes);
            }
            else
                File.WriteAllBytes(output, bytes);
        }
        if (output != "-")
            stderr.WriteLine($"{output}: {insns.Length} instructions");
        return (int)ExitCode.Ok;
    }
}
