using System.CommandLine;
using Syscage.Bpf;
using Syscage.Policy;
using Syscage.Policy.Compiler;

namespace Syscage.Cli.Commands;

/// <summary><c>syscage compile POLICY [-o OUT] [--format raw|asm|c|pfc] [--arch LIST] [--no-optimize]</c>.</summary>
public static class CompileCommand
{
    /// <summary>The command definition; it only unpacks the parse result.</summary>
    public static Command Create()
    {
        var policy = new Argument<string>("POLICY") { Description = "A .policy file, an OCI/Docker .json profile, or a built-in policy name (default, ...)" };
        var output = new Option<string?>("--output", "-o") { Description = "Where to write; default stdout ('-')" };
        var format = new Option<string>("--format", "-f") { Description = "raw (sock_filter bytes, for bwrap --seccomp), asm, c, or pfc (the policy as pseudo filter code)", DefaultValueFactory = _ => "raw" };
        format.AcceptOnlyFromAmong("raw", "asm", "c", "pfc");
        var arch = new Option<string?>("--arch") { Description = "Architectures to cover, e.g. x86_64,x86,x32 (default: the policy's own)" };
        var noOptimize = new Option<bool>("--no-optimize") { Description = "Plain comparison chains, for cross-checking the optimiser" };
        var cmd = new Command("compile", "Compile a policy to a classic BPF seccomp filter") { policy, output, format, arch, noOptimize };
        cmd.SetAction(p => CliApp.Guard(p, (o, e) => Run(o, e, p.GetValue(policy)!, p.GetValue(output), p.GetValue(format)!, p.GetValue(arch), p.GetValue(noOptimize))));
        return cmd;
    }

    /// <summary>Compiles and writes the filter.</summary>
    public static int Run(TextWriter stdout, TextWriter stderr, string policy, string? output, string format = "raw", string? arch = null, bool noOptimize = false)
    {
        var ir = PolicyInputs.LoadPolicy(policy, PolicyInputs.ParseArchList(arch), stderr);
        if (format == "pfc")
        {
            Write(stdout, output, PseudoFilterCode.Render(ir));
            return (int)ExitCode.Ok;
        }
        var program = PolicyCompiler.Compile(ir, new CompileOptions { Optimize = !noOptimize });
        switch (format)
        {
            case "asm":
                Write(stdout, output, Disassembler.ToText(program.Instructions.AsSpan()));
                break;
            case "c":
                Write(stdout, output, Disassembler.ToC(program.Instructions.AsSpan()));
                break;
            default:
                byte[] bytes = program.ToBytes();
                if (output is null or "-")
                {
                    if (!Console.IsOutputRedirected && ReferenceEquals(stdout, Console.Out))
                        throw new CliException(ExitCode.Usage, "refusing to write a binary filter to a terminal: use -o FILE or --format asm");
                    stdout.Flush();
                    using var s = Console.OpenStandardOutput();
                    s.Write(bytes);
                }
                else
                    File.WriteAllBytes(output, bytes);
                break;
        }
        if (output is not null and not "-")
            stderr.WriteLine($"{output}: {program.Length} instructions");
        return (int)ExitCode.Ok;
    }

    private static void Write(TextWriter stdout, string? output, string text)
    {
        if (output is null or "-")
            stdout.Write(text);
        else
            File.WriteAllText(output, text);
    }
}
