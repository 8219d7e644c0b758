using System.CommandLine;
using Syscage.Bpf;
using Syscage.Cli.Commands.Ebpf;
using Syscage.Policy;
using Syscage.Policy.Compiler;
using Syscage.Supervision;

namespace Syscage.Cli.Commands;

/// <summary>
/// <c>syscage compile POLICY [-o OUT] [--format raw|asm|c|pfc] [--arch LIST] [--no-optimize] [--cap-add CAP] [--cap-drop CAP]
/// [--kernel-version V]</c>; POLICY may also be an
/// eBPF seccomp object (<c>FILE.o[:SECTION]</c>, knobs with <c>--set</c>) whose verdicts depend on <c>seccomp_data</c>
/// alone: it compiles entirely to classic BPF.
/// </summary>
public static class CompileCommand
{
    /// <summary>The command definition; it only unpacks the parse result.</summary>
    public static Command Create()
    {
        var policy = new Argument<string>("POLICY") { Description = "A .policy file, an OCI/Docker .json profile, a built-in policy name (default, ...), or an eBPF seccomp object FILE.o[:SECTION] with no maps or helpers" };
        var set = new Option<string[]>("--set") { Description = "For an eBPF object: set a global variable (const volatile knob) NAME=VALUE before compiling", AllowMultipleArgumentsPerToken = false };
        var output = new Option<string?>("--output", "-o") { Description = "Where to write; default stdout ('-')" };
        var format = new Option<string>("--format", "-f") { Description = "raw (sock_filter bytes, for bwrap --seccomp), asm, c, or pfc (the policy as pseudo filter code)", DefaultValueFactory = _ => "raw" };
        format.AcceptOnlyFromAmong("raw", "asm", "c", "pfc");
        var arch = new Option<string?>("--arch") { Description = "Architectures to cover, e.g. x86_64,x86,x32 (default: the policy's own)" };
        var noOptimize = new Option<bool>("--no-optimize") { Description = "Plain comparison chains, for cross-checking the optimiser" };
        var oci = new OciInputs.Arguments();
        var cmd = oci.AddTo(new Command("compile", "Compile a policy to a classic BPF seccomp filter") { policy, output, format, arch, noOptimize, set });
        cmd.SetAction(p => CliApp.Guard(p, (o, e) => Run(o, e, p.GetValue(policy)!, p.GetValue(output), p.GetValue(format)!, p.GetValue(arch), p.GetValue(noOptimize), p.GetValue(set), oci.Read(p))));
        return cmd;
    }

    /// <summary>Compiles and writes the filter.</summary>
    public static int Run(TextWriter stdout, TextWriter stderr, string policy, string? output, string format = "raw", string? arch = null, bool noOptimize = false,
        IReadOnlyList<string>? set = null, OciInputs? oci = null)
    {
        if (EbpfInputs.IsObject(policy))
        {
            if (oci is { Given: true })
                throw new CliException(ExitCode.Usage, "--cap-add, --cap-drop and --kernel-version are for OCI/Docker profiles (.json)");
            return RunObject(stdout, stderr, policy, output, format, arch, noOptimize, set ?? []);
        }
        if (set is { Count: > 0 })
            throw new CliException(ExitCode.Usage, "--set is for eBPF objects");
        var ir = PolicyInputs.LoadPolicy(policy, PolicyInputs.ParseArchList(arch), stderr, oci);
        return Emit(stdout, stderr, ir, output, format, noOptimize, lint: true);
    }

    /// <summary>
    /// An eBPF object: its hybrid split must leave nothing to the supervisor (no maps, no helpers on any path that
    /// can run), and then the kernel half is the whole program.
    /// </summary>
    private static int RunObject(TextWriter stdout, TextWriter stderr, string spec, string? output, string format, string? arch, bool noOptimize, IReadOnlyList<string> set)
    {
        if (arch is not null)
            throw new CliException(ExitCode.Usage, "--arch: an eBPF program decides its architectures itself (it tests seccomp_data.arch)");
        using var filterSet = new EbpfFilterSet(EbpfInputs.Load([spec], set));
        var hybrid = filterSet.Compile(new HybridOptions { Optimize = !noOptimize });
        if (hybrid.NeedsSupervisor)
        {
            var needs = hybrid.Report.SelectMany(r => r.Supervised.Concat(r.Mixed).Select(n => r.Architecture == Abi.Architecture.Native ? n : $"{r.Architecture.Name}.{n}")).Take(12).ToList();
            string where = needs.Count > 0 ? string.Join(", ", needs) : "syscalls outside the tables or other architectures";
            throw new CliException(ExitCode.Rejected, $"{spec}: {filterSet.Programs[0].Name} needs a user-space supervisor (maps, helpers or state) for {where}; " +
                "it can't be a classic BPF filter: run it with 'syscage run --ebpf', or see 'syscage ebpf split'");
        }
        return Emit(stdout, stderr, hybrid.Policy, output, format, noOptimize);
    }

    /// <summary>
    /// Compiles (or renders) and writes; with <paramref name="lint"/>, the lint's findings go to stderr once the policy
    /// has compiled, as a compiler's warnings (an OCI profile's own the loader has said).
    /// </summary>
    private static int Emit(TextWriter stdout, TextWriter stderr, SeccompPolicy ir, string? output, string format, bool noOptimize, bool lint = false)
    {
        if (format == "pfc")
        {
            string text = PseudoFilterCode.Render(ir);
            if (lint)
                LintOutput.WriteText(stderr, PolicyLinter.Lint(ir));
            Write(stdout, output, text);
            return (int)ExitCode.Ok;
        }
        var program = PolicyCompiler.Compile(ir, new CompileOptions { Optimize = !noOptimize });
        if (lint)
            LintOutput.WriteText(stderr, PolicyLinter.Lint(ir));
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
