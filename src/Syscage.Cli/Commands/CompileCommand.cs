using System.CommandLine;
using Syscage.Bpf;
using Syscage.Cli.Commands.Ebpf;
using Syscage.Policy;
using Syscage.Policy.Compiler;
using Syscage.Supervision;

namespace Syscage.Cli.Commands;

/// <summary>
/// <c>syscage compile POLICY [-o OUT] [--format raw|asm|c|pfc|policy|oci|k8s] [--arch LIST] [--no-optimize] [--cap-add CAP]
/// [--cap-drop CAP] [--kernel-version V]</c>: a classic BPF filter, or the policy in another language — the policy
/// language, an OCI/Docker profile or a Kubernetes SeccompProfile (<see cref="PolicyOutputs"/>, with the same decisions
/// or a said approximation that is never looser); POLICY may also be an
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
        var format = new Option<string>("--format", "-f")
        {
            Description = "raw (sock_filter bytes, for bwrap --seccomp), asm, c, pfc (the policy as pseudo filter code), policy (the policy language), " +
                          "oci (an OCI/Docker seccomp profile, JSON; for an eBPF object: its kernel half, the rest for 'syscage agent --ebpf') " +
                          "or k8s (a Security Profiles Operator SeccompProfile, YAML)",
            DefaultValueFactory = _ => "raw",
        };
        format.AcceptOnlyFromAmong("raw", "asm", "c", "pfc", "policy", "oci", "k8s");
        var listener = new Option<string?>("--listener") { Description = "With --format oci: the agent's socket (listenerPath)" };
        var metadata = new Option<string?>("--metadata") { Description = "With --format oci: listenerMetadata, the program the agent runs (default: the program's name)" };
        var kernelAction = new Option<string[]>("--kernel-action") { Description = "With --format oci: decide NAME (a syscall, or 'default' for calls no entry names) in the kernel with ACTION (SCMP_ACT_*) instead of asking the agent: NAME=ACTION. runc refuses SCMP_ACT_NOTIFY for write and as the default" };
        var arch = new Option<string?>("--arch") { Description = "Architectures to cover, e.g. x86_64,x86,x32 (default: the policy's own)" };
        var noOptimize = new Option<bool>("--no-optimize") { Description = "Plain comparison chains, for cross-checking the optimiser" };
        var oci = new OciInputs.Arguments();
        var cmd = oci.AddTo(new Command("compile", "Compile a policy to a classic BPF seccomp filter") { policy, output, format, arch, noOptimize, set, listener, metadata, kernelAction });
        cmd.SetAction(p => CliApp.Guard(p, (o, e) => Run(o, e, p.GetValue(policy)!, p.GetValue(output), p.GetValue(format)!, p.GetValue(arch), p.GetValue(noOptimize), p.GetValue(set), oci.Read(p),
            new OciOutput(p.GetValue(listener), p.GetValue(metadata), p.GetValue(kernelAction) ?? []))));
        return cmd;
    }

    /// <summary>The <c>--format oci</c> options: <c>--listener</c>, <c>--metadata</c>, <c>--kernel-action NAME=ACTION</c>.</summary>
    /// <param name="Listener">The agent's socket (listenerPath).</param>
    /// <param name="Metadata">listenerMetadata.</param>
    /// <param name="KernelActions">NAME=ACTION assignments.</param>
    public sealed record OciOutput(string? Listener, string? Metadata, IReadOnlyList<string> KernelActions)
    {
        /// <summary>True when an option of <c>--format oci</c> is given.</summary>
        public bool Given => Listener is not null || Metadata is not null || KernelActions.Count > 0;
    }

    /// <summary>Compiles and writes the filter.</summary>
    public static int Run(TextWriter stdout, TextWriter stderr, string policy, string? output, string format = "raw", string? arch = null, bool noOptimize = false,
        IReadOnlyList<string>? set = null, OciInputs? oci = null, OciOutput? ociOutput = null)
    {
        if (EbpfInputs.IsObject(policy))
        {
            if (oci is { Given: true })
                throw new CliException(ExitCode.Usage, "--cap-add, --cap-drop and --kernel-version are for OCI/Docker profiles (.json)");
            if (format == "oci")
                return RunObjectOci(stdout, stderr, policy, output, arch, noOptimize, set ?? [], ociOutput ?? new OciOutput(null, null, []));
            if (ociOutput is { Given: true })
                throw new CliException(ExitCode.Usage, "--listener, --metadata and --kernel-action go with --format oci");
            return RunObject(stdout, stderr, policy, output, format, arch, noOptimize, set ?? []);
        }
        if (ociOutput is { Given: true })
            throw new CliException(ExitCode.Usage, "--listener, --metadata and --kernel-action go with --format oci of an eBPF object (FILE.o)");
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
        using var filterSet = new EbpfFilterSet(EbpfInputs.Load([spec], set, stderr));
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
    /// An eBPF object as an OCI profile: what the split decides in the kernel as entries, the rest as SCMP_ACT_NOTIFY
    /// for the agent (<see cref="HybridOciProfile"/>).
    /// </summary>
    private static int RunObjectOci(TextWriter stdout, TextWriter stderr, string spec, string? output, string? arch, bool noOptimize, IReadOnlyList<string> set, OciOutput oci)
    {
        var actions = new Dictionary<string, Abi.SeccompAction>(StringComparer.Ordinal);
        foreach (var assignment in oci.KernelActions)
        {
            int eq = assignment.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
                throw new CliException(ExitCode.Usage, $"--kernel-action expects NAME=ACTION, not '{assignment}'");
            string name = assignment[..eq], text = assignment[(eq + 1)..];
            if (!TryParseScmpAction(text, out var action))
                throw new CliException(ExitCode.Usage, $"--kernel-action {name}: '{text}' is not an action: SCMP_ACT_ALLOW, SCMP_ACT_ERRNO (EPERM) or SCMP_ACT_ERRNO(N), SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_LOG, SCMP_ACT_TRAP");
            actions[name] = action;
        }
        var architectures = PolicyInputs.ParseArchList(arch);
        using var filterSet = new EbpfFilterSet(EbpfInputs.Load([spec], set, stderr));
        var hybrid = filterSet.Compile(new HybridOptions { Optimize = !noOptimize });
        var profile = HybridOciProfile.Create(filterSet, hybrid, new HybridOciOptions
        {
            ListenerPath = oci.Listener,
            ListenerMetadata = oci.Metadata,
            Architectures = architectures,
            KernelActions = actions,
        });
        foreach (var warning in profile.Warnings)
            stderr.WriteLine($"syscage: warning: {warning}");
        if (hybrid.NeedsSupervisor && oci.Listener is null)
            stderr.WriteLine("syscage: warning: calls go to the agent (SCMP_ACT_NOTIFY) but no --listener is given: add listenerPath before runc uses the profile");
        Write(stdout, output, profile.Json);
        if (output is not null and not "-")
            stderr.WriteLine($"{output}: {profile.Entries.Count} entries, {profile.Entries.Where(e => e.Action.Kind == Abi.SeccompActionKind.UserNotif).Sum(e => e.Names.Count)} syscalls sent to the agent");
        return (int)ExitCode.Ok;
    }

    /// <summary>runc's action names (SCMP_ACT_ERRNO is EPERM, as runc's default errnoRet), with an optional (N) for ERRNO and TRACE.</summary>
    private static bool TryParseScmpAction(string text, out Abi.SeccompAction action)
    {
        action = default;
        string name = text, data = "";
        int open = text.IndexOf('(', StringComparison.Ordinal);
        if (open > 0 && text.EndsWith(')'))
            (name, data) = (text[..open], text[(open + 1)..^1]);
        ushort? n = data.Length == 0 ? null
            : ushort.TryParse(data, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out ushort v) ? v
            : Abi.Errno.Number(data) is int e ? (ushort)e : null;
        if (data.Length > 0 && n is null)
            return false;
        // NOTIFY is no kernel action here: the agent is what --kernel-action replaces.
        return Policy.Oci.OciNames.TryParseAction(name, n, out action) && action.Kind != Abi.SeccompActionKind.UserNotif &&
            (n is null || Policy.Oci.OciNames.TakesErrnoRet(action.Kind));
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
        if (format is "policy" or "oci" or "k8s")
        {
            Write(stdout, output, PolicyOutputs.Translate(ir, format, stderr, output is null or "-" ? ir.Name : output));
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
                    if (!Console.IsOutputRedirected && ConsoleWriter.IsStandardOutput(stdout))
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
