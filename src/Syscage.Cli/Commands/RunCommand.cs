using System.CommandLine;
using System.Runtime.InteropServices;
using Syscage.Bpf;
using Syscage.Cli.Commands.Ebpf;
using Syscage.Policy;
using Syscage.Policy.Compiler;
using Syscage.Supervision;
using Syscage.Abi;

namespace Syscage.Cli.Commands;

/// <summary>
/// <c>syscage run [--policy POLICY] [--log-denials] -- CMD [ARGS...]</c>: run a command under a policy. A policy with
/// <c>NOTIFY</c> rules runs with a supervisor in this process (built-in handlers <c>log</c> and <c>deny</c>);
/// <c>--log-denials</c> shows each denied call on stderr as it happens, then gives it its real verdict;
/// <c>--audit POLICY</c> shows each call POLICY would refuse and lets it run (the check before enforcing).
/// With <c>--ebpf [NAME=]OBJ[:SECTION]</c> (repeatable: stacked), the command runs under eBPF seccomp programs:
/// the kernel decides what <c>struct seccomp_data</c> alone decides, the supervisor runs the programs for the rest
/// (<see cref="EbpfNotificationHandler"/>).
/// </summary>
public static class RunCommand
{
    // The options' names: given to the parser (Create) and known to the plain reader (TryReadPlain), which leaves
    // --audit (another verb's work) to the parser.
    private const string PolicyName = "--policy", PolicyAlias = "-p", LogDenialsName = "--log-denials", JsonName = "--json", EbpfName = "--ebpf",
        SetName = "--set", MapsName = "--maps", EventsName = "--events", NoSplitName = "--no-split", StatsName = "--stats", MapName = "--map",
        MapsSocketName = "--maps-socket";

    /// <summary>The command definition; it only unpacks the parse result.</summary>
    public static Command Create()
    {
        var policy = new Option<string?>(PolicyName, PolicyAlias) { Description = "A .policy file, an OCI/Docker .json profile, a built-in policy name, or a raw .bpf filter (default: the built-in 'default', or none with --ebpf)" };
        var logDenials = new Option<bool>(LogDenialsName) { Description = "Show each denied call on stderr, decoded, with the rule that denied it, then apply the verdict" };
        var audit = new Option<string?>("--audit") { Description = "Audit POLICY, the check before enforcing it: show each call it would refuse, with the rule, and let it run; at the end, how many" };
        var json = new Option<bool>(JsonName) { Description = "With --log-denials: each denied call as one JSON object per line (call, arguments decoded, action, rule)" };
        var ebpf = new Option<string[]>(EbpfName) { Description = "An eBPF seccomp program: [NAME=]OBJ[:SECTION] from 'clang -O2 -g -target bpf -c' (repeatable: stacked filters; a policy's EBPF(NAME) rules hand calls to the one named NAME)" };
        var set = new Option<string[]>(SetName) { Description = "Set a global (const volatile knob) of every --ebpf program that has it: NAME=VALUE (a number or a syscall name)" };
        var maps = new Option<bool>(MapsName) { Description = "When the command ends, print every map of the --ebpf programs to stderr as a table" };
        var events = new Option<string?>(EventsName) { Description = "Write ring-buffer records as JSON lines to FILE ('-': stdout) instead of stderr" };
        var noSplit = new Option<bool>(NoSplitName) { Description = "Send every call to the supervisor, even those the kernel could decide (a baseline for measurements)" };
        var stats = new Option<bool>(StatsName) { Description = "When the command ends, print to stderr how many calls the supervisor handled, per syscall" };
        var fill = new Option<string[]>(MapName) { Description = "Fill a map of the --ebpf programs before the first call: [PROGRAM:]MAP=FILE.json (an object whose members are the entries)" };
        var mapsSocket = new Option<string?>(MapsSocketName) { Description = "Where the control socket for 'syscage maps' goes (default: $XDG_RUNTIME_DIR/syscage/PID.sock, or /tmp/syscage-UID/PID.sock; 'none': no socket)" };
        var command = new Argument<string[]>("COMMAND") { Description = "The command and its arguments (put them after --)", Arity = ArgumentArity.OneOrMore };
        var oci = new OciInputs.Arguments();
        var cmd = oci.AddTo(new Command("run", "Run a command under a seccomp policy (built-in 'default' unless --policy or --ebpf is given). " +
            "The exit status is the command's; if the filter kills it, 128+signal. An OCI profile's flags (SECCOMP_FILTER_FLAG_LOG, SPEC_ALLOW, " +
            "WAIT_KILLABLE_RECV) are applied to its filter.") { policy, logDenials, json, audit, ebpf, set, maps, events, noSplit, stats, fill, mapsSocket, command });
        cmd.SetAction(p => CliApp.Guard(p, (o, e) => p.GetValue(audit) is { } audited
            ? Audit(e, audited, p.GetValue(command)!, p.GetValue(policy), p.GetValue(logDenials) || p.GetValue(json), p.GetValue(ebpf) is { Length: > 0 }, oci.Read(p))
            : Run(o, e, p.GetValue(policy), p.GetValue(command)!, p.GetValue(logDenials), new EbpfRunOptions
        {
            Programs = p.GetValue(ebpf) ?? [],
            Knobs = p.GetValue(set) ?? [],
            ShowMaps = p.GetValue(maps),
            EventsFile = p.GetValue(events),
            NoSplit = p.GetValue(noSplit),
            Stats = p.GetValue(stats),
            MapFiles = p.GetValue(fill) ?? [],
            MapsSocket = p.GetValue(mapsSocket),
        }, oci.Read(p), p.GetValue(json))));
        return cmd;
    }

    /// <summary>What a <c>syscage run</c> command line says (<see cref="TryReadPlain"/>).</summary>
    internal sealed record Arguments(string? Policy, string[] Command, bool LogDenials, EbpfRunOptions Ebpf, OciInputs Oci, bool Json, bool Verbose);

    /// <summary>
    /// Reads <c>syscage run ...</c> without the parser when it has the plain shape scripts use: each option as
    /// <c>NAME VALUE</c> or <c>NAME</c> (no <c>NAME=VALUE</c>, no bundling, no value that starts with
    /// <c>-</c>), a single-valued option or a flag at most once, then <c>--</c> and the command. Anything else — help, a
    /// typo, another spelling — is left to the parser, which reads every form and says what is wrong. Building the parser
    /// is about a tenth of a run's start. <c>CliTests</c> check that whatever this reads, the parser reads the same.
    /// </summary>
    internal static bool TryReadPlain(string[] args, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Arguments? arguments)
    {
        arguments = null;
        if (args.Length < 3 || args[0] != "run")
            return false;
        string? policy = null, events = null, kernelVersion = null, mapsSocket = null;
        List<string> programs = [], knobs = [], capAdd = [], capDrop = [], mapFiles = [];
        var flags = new HashSet<string>(StringComparer.Ordinal);
        int i = 1;
        for (; i < args.Length && args[i] != "--"; i++)
        {
            string name = args[i];
            if (name is LogDenialsName or JsonName or MapsName or NoSplitName or StatsName or CliApp.VerboseName or CliApp.VerboseAlias)
            {
                if (!flags.Add(name is CliApp.VerboseAlias ? CliApp.VerboseName : name))
                    return false;
                continue;
            }
            if (i + 1 >= args.Length || args[i + 1].Length == 0 || args[i + 1][0] == '-')
                return false;
            string value = args[++i];
            switch (name)
            {
                case PolicyName or PolicyAlias when policy is null:
                    policy = value;
                    break;
                case EventsName when events is null:
                    events = value;
                    break;
                case OciInputs.KernelVersionName when kernelVersion is null:
                    kernelVersion = value;
                    break;
                case MapsSocketName when mapsSocket is null:
                    mapsSocket = value;
                    break;
                case MapName:
                    mapFiles.Add(value);
                    break;
                case EbpfName:
                    programs.Add(value);
                    break;
                case SetName:
                    knobs.Add(value);
                    break;
                case OciInputs.CapAddName:
                    capAdd.Add(value);
                    break;
                case OciInputs.CapDropName:
                    capDrop.Add(value);
                    break;
                default:
                    return false;
            }
        }
        // The command: everything after "--", at least one word (words starting with @ are words: the tool reads no
        // response files, CliApp.ParserConfiguration).
        if (i >= args.Length - 1)
            return false;
        bool verbose = flags.Contains(CliApp.VerboseName);
        arguments = new Arguments(policy, args[(i + 1)..], flags.Contains(LogDenialsName), new EbpfRunOptions
        {
            Programs = programs,
            Knobs = knobs,
            ShowMaps = flags.Contains(MapsName),
            EventsFile = events,
            NoSplit = flags.Contains(NoSplitName),
            Stats = flags.Contains(StatsName),
            MapFiles = mapFiles,
            MapsSocket = mapsSocket,
        }, new OciInputs(capAdd, capDrop, kernelVersion, verbose), flags.Contains(JsonName), verbose);
        return true;
    }

    /// <summary>Runs what <paramref name="arguments"/> says (<see cref="TryReadPlain"/>).</summary>
    internal static int Run(TextWriter stdout, TextWriter stderr, Arguments arguments) =>
        Run(stdout, stderr, arguments.Policy, arguments.Command, arguments.LogDenials, arguments.Ebpf, arguments.Oci, arguments.Json);

    /// <summary>Runs the command with inherited stdio and returns its status.</summary>
    public static int Run(TextWriter stdout, TextWriter stderr, string policy, string[] command, bool logDenials = false) =>
        Run(stdout, stderr, (string?)policy, command, logDenials, null);

    /// <summary>
    /// Runs the command with inherited stdio and returns its status; with <paramref name="ebpf"/> programs, under them
    /// (and under <paramref name="policy"/> only when it is given). The inputs are read here; the run is one call,
    /// <see cref="CommandRun.Run"/>.
    /// </summary>
    public static int Run(TextWriter stdout, TextWriter stderr, string? policy, string[] command, bool logDenials, EbpfRunOptions? ebpf, OciInputs? oci = null, bool json = false)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        ArgumentNullException.ThrowIfNull(command);
        if (command.Length == 0)
            throw new CliException(ExitCode.Usage, "no command given: syscage run [--policy POLICY] -- CMD [ARGS...]");
        bool withPrograms = ebpf is { Programs.Count: > 0 };
        if (!withPrograms && ebpf is not null && (ebpf.Knobs.Count > 0 || ebpf.ShowMaps || ebpf.EventsFile is not null || ebpf.NoSplit || ebpf.Stats
                                                  || ebpf.MapFiles.Count > 0 || ebpf.MapsSocket is not null))
            throw new CliException(ExitCode.Usage, "--set, --map, --maps, --maps-socket, --events, --no-split and --stats go with --ebpf OBJ");
        if (json && !logDenials)
            throw new CliException(ExitCode.Usage, "--json is for the denial log: give --log-denials too");
        if (logDenials && withPrograms)
            throw new CliException(ExitCode.Usage, "--log-denials does not go with --ebpf (the programs' verdicts are not rules to show)");
        policy ??= withPrograms ? null : "default";
        EmbeddedLauncher.Use();
        BuiltinPrograms.UseCompiledGuards();
        var log = TextWriter.Synchronized(stderr);
        var request = new RunRequest(command) { Log = log, LogDenials = logDenials, LogJson = json, Source = $"policy '{policy}'" };
        SeccompPolicy? loaded = null;
        IReadOnlyList<string> flags = [];
        if (policy is not null && PolicyInputs.IsProgram(policy))
        {
            if (oci is { Given: true })
                throw new CliException(ExitCode.Usage, $"{policy}: --cap-add, --cap-drop and --kernel-version are for OCI/Docker profiles (.json)");
            if (logDenials)
                throw new CliException(ExitCode.Usage, $"{policy}: --log-denials needs a policy (its rules name the verdicts), not a compiled program");
            if (withPrograms)
                throw new CliException(ExitCode.Usage, $"{policy}: --ebpf needs a policy (its rules are combined with the programs), not a compiled program");
            request = request with { Program = PolicyInputs.LoadProgram(policy, Abi.Architecture.Native) };
        }
        else if (policy is not null && !logDenials && !withPrograms && BuiltinPrograms.TryGet(policy, out var builtin))
            request = request with { Program = builtin }; // compiled when the tool was built: the kernel decides every call
        else if (policy is not null)
        {
            var input = PolicyInputs.Load(policy, warnings: stderr, oci: oci);
            loaded = input.Policy;
            flags = input.FilterFlags;
            if (withPrograms && flags.Count > 0)
                throw new CliException(ExitCode.Usage, $"{policy}: its flags ({string.Join(", ", input.FilterFlags)}) can't be applied with --ebpf, whose filter is the programs' and the policy's together");
        }
        else if (oci is { Given: true })
            throw new CliException(ExitCode.Usage, "--cap-add, --cap-drop and --kernel-version are for OCI/Docker profiles (--policy FILE.json)");
        if (!withPrograms)
        {
            if (loaded?.Rules.FirstOrDefault(r => r.Route is ProgramRoute) is { Route: ProgramRoute missing } rule)
                throw new CliException(ExitCode.Usage, $"{rule.Source?.ToString() ?? policy}: EBPF({missing.Name}) needs the program: add --ebpf {missing.Name}=FILE.o");
            return Finish(stderr, loaded is null ? CommandRun.Run(request) : CommandRun.Run((request with { Policy = loaded }).WithFilterFlags(flags)));
        }

        var programs = EbpfInputs.Load(ebpf!.Programs, ebpf.Knobs, stderr);
        using var set = new EbpfFilterSet(programs, loaded);
        MapFiles.Fill(programs, ebpf.MapFiles);
        string? socket = ebpf.MapsSocket switch
        {
            "none" => null,
            string path => path,
            // A socket only for programs that have maps a user could read.
            null when programs.Any(p => p.Maps.Count > 0) => DefaultMapsSocket(log),
            null => null,
        };
        TextWriter events = ebpf.EventsFile switch
        {
            null => log,
            "-" => TextWriter.Synchronized(stdout),
            string file => OpenEvents(file),
        };
        try
        {
            var result = CommandRun.Run(request with
            {
                Programs = set,
                Hybrid = HybridOptions.ThisMachine with { Split = !ebpf.NoSplit },
                OnRecord = r => events.WriteLine(EbpfReport.FormatRecord(r)),
                TraceSink = line => log.WriteLine($"syscage: trace_printk: {line}"),
                MapsSocket = socket,
                Source = loaded is null
                    ? $"eBPF program{(programs.Count > 1 ? "s" : "")} {string.Join(", ", programs.Select(p => p.Name))}"
                    : $"policy '{policy}' or its eBPF programs",
            });
            events.Flush();
            if (result.Handler is { } handler && ebpf.Stats)
            {
                log.WriteLine($"syscage: {handler.Notifications} notified call{(handler.Notifications == 1 ? "" : "s")}" +
                              (result.Hybrid!.NeedsSupervisor ? "" : " (the kernel decided every call: no supervisor)"));
                foreach (var (name, count) in handler.NotificationsBySyscall)
                    log.WriteLine($"syscage:   {name} {count}");
            }
            if (result.Started && ebpf.ShowMaps)
                EbpfReport.WriteMaps(log, set);
            return Finish(log, result);
        }
        finally
        {
            if (ebpf.EventsFile is not null and not "-")
                events.Dispose();
        }
    }

    /// <summary>
    /// <c>syscage run --audit POLICY -- CMD</c>: runs the command with every call <paramref name="policy"/> would refuse
    /// shown on stderr (decoded, with the rule) and let run, then how many there were; returns the command's status.
    /// </summary>
    public static int Audit(TextWriter stderr, string policy, string[] command, string? alsoPolicy = null, bool logDenials = false, bool ebpf = false, OciInputs? oci = null)
    {
        ArgumentNullException.ThrowIfNull(stderr);
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(command);
        if (command.Length == 0)
            throw new CliException(ExitCode.Usage, "no command given: syscage run --audit POLICY -- CMD [ARGS...]");
        if (alsoPolicy is not null)
            throw new CliException(ExitCode.Usage, "--audit names the policy: leave out --policy");
        if (logDenials)
            throw new CliException(ExitCode.Usage, "--audit already shows every refusal (as text): leave out --log-denials and --json");
        if (ebpf)
            throw new CliException(ExitCode.Usage, "--audit does not go with --ebpf (the programs' verdicts are not rules to show)");
        if (PolicyInputs.IsProgram(policy))
            throw new CliException(ExitCode.Usage, $"{policy}: --audit needs a policy (its rules name the verdicts), not a compiled program");
        var input = PolicyInputs.Load(policy, warnings: stderr, oci: oci);
        var loaded = input.Policy;
        EmbeddedLauncher.Use();
        BuiltinPrograms.UseCompiledGuards();
        if (loaded.Rules.FirstOrDefault(r => r.Route is ProgramRoute) is { Route: ProgramRoute missing } rule)
            throw new CliException(ExitCode.Usage, $"{rule.Source?.ToString() ?? policy}: EBPF({missing.Name}) needs the program, which --audit does not run");
        var log = TextWriter.Synchronized(stderr);
        // The profile's flags stay: LOG and SPEC_ALLOW change nothing a refusal would, and the run is otherwise as enforced.
        return Finish(log, CommandRun.Run(new RunRequest(command) { Policy = loaded, Audit = true, Log = log, Source = $"policy '{policy}'" }.WithFilterFlags(input.FilterFlags)));
    }

    /// <summary>This run's control socket in the default directory, or null (said on <paramref name="log"/>) when the directory is not safe.</summary>
    private static string? DefaultMapsSocket(TextWriter log)
    {
        try
        {
            return MapControlServer.PathFor(MapControlServer.DefaultDirectory(), Environment.ProcessId);
        }
        catch (IOException e)
        {
            log.WriteLine($"syscage: no maps socket: {e.Message}");
            return null;
        }
    }

    /// <summary>Prints the run's messages and returns its shell status.</summary>
    private static int Finish(TextWriter stderr, RunResult result)
    {
        foreach (var message in result.Messages)
            stderr.WriteLine($"syscage: {message}");
        return result.ShellStatus;
    }

    private static TextWriter OpenEvents(string file)
    {
        try
        {
            return TextWriter.Synchronized(new StreamWriter(file, append: false) { AutoFlush = true });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException(ExitCode.IoError, $"--events {file}: {e.Message}");
        }
    }

}

/// <summary>The <c>--ebpf</c> options of <c>syscage run</c>.</summary>
public sealed record EbpfRunOptions
{
    /// <summary><c>--ebpf [NAME=]OBJ[:SECTION]</c>, in installation order.</summary>
    public IReadOnlyList<string> Programs { get; init; } = [];

    /// <summary><c>--set NAME=VALUE</c> assignments.</summary>
    public IReadOnlyList<string> Knobs { get; init; } = [];

    /// <summary><c>--maps</c>: print the maps at exit.</summary>
    public bool ShowMaps { get; init; }

    /// <summary><c>--events FILE</c> (<c>-</c>: stdout); null: stderr.</summary>
    public string? EventsFile { get; init; }

    /// <summary><c>--no-split</c>: every call goes to the supervisor.</summary>
    public bool NoSplit { get; init; }

    /// <summary><c>--stats</c>: print notification counts at exit.</summary>
    public bool Stats { get; init; }

    /// <summary><c>--map [PROGRAM:]MAP=FILE.json</c>: maps filled before the first call.</summary>
    public IReadOnlyList<string> MapFiles { get; init; } = [];

    /// <summary><c>--maps-socket PATH</c> (<c>none</c>: no socket); null: the default path when a program has maps.</summary>
    public string? MapsSocket { get; init; }
}
