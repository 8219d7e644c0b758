using System.CommandLine;
using System.Runtime.InteropServices;
using Syscage.Bpf;
using Syscage.Cli.Commands.Ebpf;
using Syscage.Ebpf.Seccomp;
using Syscage.Kernel;
using Syscage.Kernel.Notify;
using Syscage.Policy;
using Syscage.Policy.Compiler;
using Syscage.Supervision;

namespace Syscage.Cli.Commands;

/// <summary>
/// <c>syscage run [--policy POLICY] [--log-denials] -- CMD [ARGS...]</c>: run a command under a policy. A policy with
/// <c>NOTIFY</c> rules runs with a supervisor in this process (built-in handlers <c>log</c> and <c>deny</c>);
/// <c>--log-denials</c> shows each denied call on stderr as it happens, then gives it its real verdict.
/// With <c>--ebpf [NAME=]OBJ[:SECTION]</c> (repeatable: stacked), the command runs under eBPF seccomp programs:
/// the kernel decides what <c>struct seccomp_data</c> alone decides, the supervisor runs the programs for the rest
/// (<see cref="EbpfNotificationHandler"/>).
/// </summary>
public static class RunCommand
{
    /// <summary>The command definition; it only unpacks the parse result.</summary>
    public static Command Create()
    {
        var policy = new Option<string?>("--policy", "-p") { Description = "A .policy file, an OCI/Docker .json profile, a built-in policy name, or a raw .bpf filter (default: the built-in 'default', or none with --ebpf)" };
        var logDenials = new Option<bool>("--log-denials") { Description = "Show each denied call on stderr, decoded, with the rule that denied it, then apply the verdict" };
        var ebpf = new Option<string[]>("--ebpf") { Description = "An eBPF seccomp program: [NAME=]OBJ[:SECTION] from 'clang -O2 -g -target bpf -c' (repeatable: stacked filters; a policy's EBPF(NAME) rules hand calls to the one named NAME)" };
        var set = new Option<string[]>("--set") { Description = "Set a global (const volatile knob) of every --ebpf program that has it: NAME=VALUE (a number or a syscall name)" };
        var maps = new Option<bool>("--maps") { Description = "When the command ends, print every map of the --ebpf programs to stderr as a table" };
        var events = new Option<string?>("--events") { Description = "Write ring-buffer records as JSON lines to FILE ('-': stdout) instead of stderr" };
        var noSplit = new Option<bool>("--no-split") { Description = "Send every call to the supervisor, even those the kernel could decide (a baseline for measurements)" };
        var stats = new Option<bool>("--stats") { Description = "When the command ends, print to stderr how many calls the supervisor handled, per syscall" };
        var command = new Argument<string[]>("COMMAND") { Description = "The command and its arguments (put them after --)", Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("run", "Run a command under a seccomp policy (built-in 'default' unless --policy or --ebpf is given). " +
            "The exit status is the command's; if the filter kills it, 128+signal.") { policy, logDenials, ebpf, set, maps, events, noSplit, stats, command };
        cmd.SetAction(p => CliApp.Guard(p, (o, e) => Run(o, e, p.GetValue(policy), p.GetValue(command)!, p.GetValue(logDenials), new EbpfRunOptions
        {
            Programs = p.GetValue(ebpf) ?? [],
            Knobs = p.GetValue(set) ?? [],
            ShowMaps = p.GetValue(maps),
            EventsFile = p.GetValue(events),
            NoSplit = p.GetValue(noSplit),
            Stats = p.GetValue(stats),
        })));
        return cmd;
    }

    /// <summary>Runs the command with inherited stdio and returns its status.</summary>
    public static int Run(TextWriter stdout, TextWriter stderr, string policy, string[] command, bool logDenials = false) =>
        Run(stdout, stderr, (string?)policy, command, logDenials, null);

    /// <summary>
    /// Runs the command with inherited stdio and returns its status; with <paramref name="ebpf"/> programs, under them
    /// (and under <paramref name="policy"/> only when it is given).
    /// </summary>
    public static int Run(TextWriter stdout, TextWriter stderr, string? policy, string[] command, bool logDenials, EbpfRunOptions? ebpf)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        ArgumentNullException.ThrowIfNull(command);
        if (command.Length == 0)
            throw new CliException(ExitCode.Usage, "no command given: syscage run [--policy POLICY] -- CMD [ARGS...]");
        if (ebpf is { Programs.Count: > 0 })
            return RunEbpf(stdout, stderr, policy, command, logDenials, ebpf);
        if (ebpf is not null && (ebpf.Knobs.Count > 0 || ebpf.ShowMaps || ebpf.EventsFile is not null || ebpf.NoSplit || ebpf.Stats))
            throw new CliException(ExitCode.Usage, "--set, --maps, --events, --no-split and --stats go with --ebpf OBJ");
        policy ??= "default";
        var applier = new VerdictApplier();
        var report = new DeathReport($"policy '{policy}'", null, applier);
        Func<SandboxedProcessStartInfo, SandboxSession> start;
        var sessionOptions = new SessionOptions { Supervisor = new SupervisorOptions { OnError = OnError(stderr) }, ForwardSignals = true };
        if (PolicyInputs.IsProgram(policy))
        {
            if (logDenials)
                throw new CliException(ExitCode.Usage, $"{policy}: --log-denials needs a policy (its rules name the verdicts), not a compiled program");
            var program = PolicyInputs.LoadProgram(policy, Abi.Architecture.Native);
            start = info => SandboxSession.Start(program, info, sessionOptions);
        }
        else
        {
            var loaded = PolicyInputs.LoadPolicy(policy, warnings: stderr);
            if (loaded.Rules.FirstOrDefault(r => EbpfFilterSet.ProgramNameOf(r) is not null) is { } ebpfRule)
                throw new CliException(ExitCode.Usage, $"{ebpfRule.Source?.ToString() ?? policy}: EBPF({EbpfFilterSet.ProgramNameOf(ebpfRule)}) needs the program: add --ebpf {EbpfFilterSet.ProgramNameOf(ebpfRule)}=FILE.o");
            var router = new NotificationRouter(loaded, stderr);
            var kernelPolicy = logDenials ? DenialReporter.NotifyDenials(loaded) : loaded;
            NotificationHandler handler = logDenials ? new DenialReporter(loaded, stderr, router, applier).HandleAsync : router.HandleAsync;
            start = info => SandboxSession.Start(kernelPolicy, info, sessionOptions with { Handler = handler });
        }
        return Execute(stderr, command, report, info =>
        {
            var session = start(info);
            report.Filter = session.Filter;
            return (session.Process, session.WaitForExit, session);
        });
    }

    /// <summary>
    /// Starts <paramref name="command"/> with <paramref name="start"/> (which installs the filter and, when there is
    /// one, starts the supervisor), waits for it, and returns its shell status. <paramref name="afterExit"/> runs once
    /// the command has ended and the supervisor has stopped.
    /// </summary>
    private static int Execute(TextWriter stderr, string[] command, DeathReport report,
        Func<SandboxedProcessStartInfo, (SandboxedProcess Process, Func<SandboxExit> Wait, IDisposable Owner)> start, Action? afterExit = null)
    {
        var info = new SandboxedProcessStartInfo(command[0], command.Skip(1));
        (SandboxedProcess Process, Func<SandboxExit> Wait, IDisposable Owner) run;
        try
        {
            run = start(info);
        }
        catch (CommandNotRunnableException e)
        {
            stderr.WriteLine($"syscage: {e.Message}");
            return e.ShellStatus;
        }
        catch (SyscageException e)
        {
            stderr.WriteLine($"syscage: {e.Message}");
            return 127;
        }
        using (run.Owner)
        {
            var exit = run.Wait();
            afterExit?.Invoke();
            if (exit.Failure is not null)
            {
                stderr.WriteLine($"syscage: {command[0]}: {exit.Failure}");
                return exit.Failure.StartsWith("execve", StringComparison.Ordinal) ? 126 : 127;
            }
            if (report.Describe(exit, run.Process.CommandPid) is { } line)
                stderr.WriteLine($"syscage: {command[0]} {line}");
            if (exit.Swept > 0)
                stderr.WriteLine($"syscage: killed {exit.Swept} process{(exit.Swept == 1 ? "" : "es")} the command left running");
            return exit.ShellStatus;
        }
    }

    private static int RunEbpf(TextWriter stdout, TextWriter stderr, string? policyInput, string[] command, bool logDenials, EbpfRunOptions options)
    {
        if (logDenials)
            throw new CliException(ExitCode.Usage, "--log-denials does not go with --ebpf (the programs' verdicts are not rules to show)");
        SeccompPolicy? policy = null;
        if (policyInput is not null)
        {
            if (PolicyInputs.IsProgram(policyInput))
                throw new CliException(ExitCode.Usage, $"{policyInput}: --ebpf needs a policy (its rules are combined with the programs), not a compiled program");
            policy = PolicyInputs.LoadPolicy(policyInput, warnings: stderr);
        }
        var programs = EbpfInputs.Load(options.Programs, options.Knobs);
        using var set = new EbpfFilterSet(programs, policy);
        var log = TextWriter.Synchronized(stderr);
        TextWriter events = options.EventsFile switch
        {
            null => log,
            "-" => TextWriter.Synchronized(stdout),
            string file => OpenEvents(file),
        };
        try
        {
            var sandboxOptions = new EbpfSandboxOptions
            {
                Hybrid = new HybridOptions { Split = !options.NoSplit },
                Handler = new EbpfHandlerOptions
                {
                    Log = log,
                    OnRecord = r => events.WriteLine(EbpfReport.FormatRecord(r)),
                    TraceSink = line => log.WriteLine($"syscage: trace_printk: {line}"),
                    Applier = new VerdictApplier(),
                },
                OnError = OnError(log),
                ForwardSignals = true,
            };
            string source = policy is null
                ? $"eBPF program{(programs.Count > 1 ? "s" : "")} {string.Join(", ", programs.Select(p => p.Name))}"
                : $"policy '{policyInput}' or its eBPF programs";
            var report = new DeathReport(source, null, sandboxOptions.Handler.Applier!);
            EbpfSandboxedProcess? sandbox = null;
            return Execute(log, command, report, info =>
            {
                sandbox = EbpfSandboxedProcess.Start(set, info, sandboxOptions);
                report.Filter = sandbox.Filter.Filter;
                return (sandbox.Process, sandbox.WaitForExit, sandbox);
            }, () =>
            {
                var handler = sandbox!.Handler;
                handler.Drain();
                events.Flush();
                if (options.Stats)
                {
                    log.WriteLine($"syscage: {handler.Notifications} notified call{(handler.Notifications == 1 ? "" : "s")}" +
                                  (sandbox.Filter.NeedsSupervisor ? "" : " (the kernel decided every call: no supervisor)"));
                    foreach (var (name, count) in handler.NotificationsBySyscall)
                        log.WriteLine($"syscage:   {name} {count}");
                }
                if (options.ShowMaps)
                    EbpfReport.WriteMaps(log, set);
            });
        }
        finally
        {
            if (options.EventsFile is not null and not "-")
                events.Dispose();
        }
    }

    private static Action<Notification, Exception> OnError(TextWriter log) =>
        (n, e) => log.WriteLine($"syscage: handling {SyscallDecoder.Name(n.Data)} of pid {n.Pid}: {e.Message}");

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
}
