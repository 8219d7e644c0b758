using Syscage.Abi;
using Syscage.Bpf;
using Syscage.Kernel;
using Syscage.Kernel.Notify;
using Syscage.Policy;

namespace Syscage.Supervision;

/// <summary>What <see cref="CommandRun.Run"/> runs, and under what: exactly one of a policy, a compiled program or a set of eBPF programs.</summary>
/// <param name="Command">The command and its arguments (found on PATH when the name has no slash).</param>
public sealed record RunRequest(IReadOnlyList<string> Command)
{
    /// <summary>A policy: its NOTIFY rules are served by a supervisor in this process.</summary>
    public SeccompPolicy? Policy { get; init; }

    /// <summary>A compiled filter instead of a policy: the kernel alone decides every call.</summary>
    public BpfProgram? Program { get; init; }

    /// <summary>eBPF programs (stacked, and combined with their policy when the set has one), split between the kernel and the supervisor.</summary>
    public EbpfFilterSet? Programs { get; init; }

    /// <summary>With <see cref="Policy"/>: show each denied call on <see cref="Log"/> as it happens, then give it its verdict.</summary>
    public bool LogDenials { get; init; }

    /// <summary>With <see cref="LogDenials"/>: each denial as one JSON object on a line (<see cref="DenialEvent.Json"/>).</summary>
    public bool LogJson { get; init; }

    /// <summary>
    /// With <see cref="Policy"/>: the check before enforcing. Every call the policy would refuse (its ERRNO, KILL and TRAP
    /// rules and default, its bad-arch action, a <c>NOTIFY</c> handler's error) is shown on <see cref="Log"/> as it
    /// happens and then runs; at the end, how many there were. Only the supervisor's guard refuses anything.
    /// </summary>
    public bool Audit { get; init; }

    /// <summary>
    /// With <see cref="Policy"/>: serves every call the policy sends to user space, instead of the handlers its
    /// <c>NOTIFY(name)</c> rules name (a recording, say). The guard still routes <c>pidfd_send_signal</c> through the
    /// supervisor.
    /// </summary>
    public NotificationHandler? Handler { get; init; }

    /// <summary>Give the command this process's stderr as its stdout too, so nothing it prints reaches this process's stdout.</summary>
    public bool StandardOutputToStandardError { get; init; }

    /// <summary>
    /// One supervisor worker, with <c>SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP</c> where the kernel has it: the cheapest round
    /// trip for handlers that answer at once and never block (the default is two workers, so that a slow handler does
    /// not stop the others).
    /// </summary>
    public bool FastHandler { get; init; }

    /// <summary>How eBPF programs split between the kernel and the supervisor.</summary>
    public HybridOptions Hybrid { get; init; } = HybridOptions.ThisMachine;

    /// <summary>Where denials, LOG verdicts, handler failures and routing problems are written (synchronised).</summary>
    public TextWriter Log { get; init; } = TextWriter.Null;

    /// <summary>Receives the eBPF programs' ring-buffer records.</summary>
    public Action<EbpfRingBufRecord>? OnRecord { get; init; }

    /// <summary>Receives <c>bpf_trace_printk</c> lines.</summary>
    public Action<string>? TraceSink { get; init; }

    /// <summary>
    /// With eBPF programs: the path of a control socket (<see cref="MapControlServer"/>) through which
    /// <c>syscage maps</c> reads and writes the programs' maps while the command runs; the sandboxed tree may not use it.
    /// Null (default): none. A socket that can't be made is reported on <see cref="Log"/>, and the run goes on without it.
    /// </summary>
    public string? MapsSocket { get; init; }

    /// <summary>What decided the calls, for the report of how the command died (<c>policy 'default'</c>).</summary>
    public string Source { get; init; } = "the policy";

    /// <summary>Pass the signals this process receives on to the command (what a command-line tool does).</summary>
    public bool ForwardSignals { get; init; } = true;

    /// <summary>
    /// Flags for the filter of <see cref="Policy"/> or <see cref="Program"/> (an OCI profile's <c>flags</c>:
    /// <see cref="CommandRun.FilterFlagsOf"/>); see <see cref="SessionOptions.FilterFlags"/>.
    /// </summary>
    public FilterFlags FilterFlags { get; init; }

    /// <summary>This request with the filter flags an OCI profile's <c>flags</c> names (<see cref="CommandRun.FilterFlagsOf"/>).</summary>
    /// <exception cref="ArgumentException">A name is not a seccomp filter flag.</exception>
    public RunRequest WithFilterFlags(IEnumerable<string> names) => this with { FilterFlags = CommandRun.FilterFlagsOf(names) };
}

/// <summary>How a run ended.</summary>
/// <param name="ShellStatus">What a shell would show: the command's exit code, 128+signal, or 126/127 when it could not run.</param>
/// <param name="Exit">How the command ended; null when it was never started.</param>
/// <param name="Messages">Lines for the user, without a prefix: why the command could not run, how it died, what was swept.</param>
/// <param name="Handler">With eBPF programs: the supervisor's handler (notification counts), whose ring buffers are drained.</param>
/// <param name="Hybrid">With eBPF programs: the kernel half that was installed.</param>
public sealed record RunResult(int ShellStatus, SandboxExit? Exit, IReadOnlyList<string> Messages, EbpfNotificationHandler? Handler, HybridFilter? Hybrid)
{
    /// <summary>True when the command was started (whether or not its execve then worked).</summary>
    public bool Started => Exit is not null;
}

/// <summary>
/// <c>syscage run</c> as one library call: starts the command through a <see cref="SandboxSession"/> (guarded, its
/// tree tied to this process), serves what the kernel sends to user space — NOTIFY handlers, <c>--log-denials</c>, eBPF
/// programs — waits, and says how it ended.
/// </summary>
public static class CommandRun
{
    /// <summary>
    /// The filter flags an OCI profile's <c>flags</c> names (<c>SECCOMP_FILTER_FLAG_LOG</c>, <c>SPEC_ALLOW</c>,
    /// <c>WAIT_KILLABLE_RECV</c>, <c>TSYNC</c> — which a run drops, as runc does).
    /// </summary>
    /// <exception cref="ArgumentException">A name is not a seccomp filter flag.</exception>
    public static FilterFlags FilterFlagsOf(IEnumerable<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        var flags = FilterFlags.None;
        foreach (string name in names)
            flags |= Seccomp.TryParseFilterFlag(name, out var flag) ? flag : throw new ArgumentException($"'{name}' is not a seccomp filter flag", nameof(names));
        return flags;
    }

    /// <summary>
    /// Makes an in-memory copy of <paramref name="image"/> (a <c>syscage-exec</c> built for this machine) the launcher of
    /// the runs of this process, for a tool that carries it inside itself (the single-file <c>syscage</c>):
    /// <see cref="SandboxedProcess.LoadLauncher"/>. Returns the copy's path.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="image"/> is not an ELF file.</exception>
    /// <exception cref="KernelException">The memfd could not be made.</exception>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public static string UseLauncher(ReadOnlySpan<byte> image) => SandboxedProcess.LoadLauncher(image);

    /// <summary>Runs <paramref name="request"/> with this process's stdio and returns how it ended.</summary>
    /// <exception cref="ArgumentException">Not exactly one of a policy, a program or eBPF programs; <c>LogDenials</c> without a policy; an <c>EBPF(name)</c> rule without its program.</exception>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public static RunResult Run(RunRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Command.Count == 0)
            throw new ArgumentException("no command given", nameof(request));
        if ((request.Policy is null ? 0 : 1) + (request.Program is null ? 0 : 1) + (request.Programs is null ? 0 : 1) != 1)
            throw new ArgumentException("a run has exactly one of a policy, a compiled program or eBPF programs", nameof(request));
        if (request.LogDenials && request.Policy is null)
            throw new ArgumentException("--log-denials needs a policy: its rules name the verdicts", nameof(request));
        if (request.Audit && request.Policy is null)
            throw new ArgumentException("--audit needs a policy: its rules name the verdicts", nameof(request));
        if ((request.LogDenials || request.Audit) && request.Handler is not null)
            throw new ArgumentException("a handler of every notified call does not go with --log-denials or --audit", nameof(request));
        if (request.Policy?.Rules.FirstOrDefault(r => r.Route is ProgramRoute) is { Route: ProgramRoute missing } rule)
            throw new ArgumentException($"{rule.Source?.ToString() ?? request.Policy.Name}: EBPF({missing.Name}) needs the program", nameof(request));

        var log = TextWriter.Synchronized(request.Log);
        var applier = new VerdictApplier();
        var supervisor = new SupervisorOptions { OnError = (n, e) => log.WriteLine($"syscage: handling {SyscallDecoder.Name(n.Data)} of pid {n.Pid}: {e.Message}") };
        if (request.FastHandler)
            supervisor = supervisor with { Workers = 1, SyncWakeUp = true };
        var info = new SandboxedProcessStartInfo(request.Command[0], request.Command.Skip(1))
        {
            StandardOutputToStandardError = request.StandardOutputToStandardError,
        };
        DenialReporter? auditor = null;
        var report = new DeathReport(request.Source, null, applier);
        EbpfSandboxedProcess? ebpf = null;
        SandboxSession? session = null;
        MapControlServer? control = null;
        // Listening before the command starts, so that a client the command is waited for finds the socket; clients are
        // accepted once the sandbox's root is known.
        if (request.Programs is { } programs && request.MapsSocket is { } socketPath)
        {
            try
            {
                control = new MapControlServer(socketPath, programs.Programs, new MapControlOptions { Diagnostics = log });
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or SyscageException)
            {
                log.WriteLine($"syscage: no maps socket: {e.Message}");
            }
        }
        try
        {
            if (request.Programs is { } set)
            {
                ebpf = EbpfSandboxedProcess.Start(set, info, new EbpfSandboxOptions
                {
                    Hybrid = request.Hybrid,
                    Handler = new EbpfHandlerOptions { Log = log, OnRecord = request.OnRecord, TraceSink = request.TraceSink, Applier = applier },
                    OnError = supervisor.OnError,
                    ForwardSignals = request.ForwardSignals,
                });
                report.Filter = ebpf.Filter.Filter;
            }
            else
            {
                var options = new SessionOptions { Supervisor = supervisor, ForwardSignals = request.ForwardSignals, FilterFlags = request.FilterFlags };
                if (request.Program is { } program)
                    session = SandboxSession.Start(program, info, options);
                else
                {
                    var policy = request.Policy!;
                    var router = new NotificationRouter(policy, log);
                    if (request.Audit)
                    {
                        auditor = new DenialReporter(policy, log, router, applier) { Audit = true };
                        session = SandboxSession.Start(DenialReporter.AuditFilter(policy), info, options with { Handler = auditor.HandleAsync });
                    }
                    else if (request.LogDenials)
                        session = SandboxSession.Start(DenialReporter.NotifyDenials(policy), info, options with { Handler = new DenialReporter(policy, log, router, applier) { Json = request.LogJson }.HandleAsync });
                    else
                        session = SandboxSession.Start(policy, info, options with { Handler = request.Handler ?? router.HandleAsync });
                }
                report.Filter = session.Filter;
            }
        }
        catch (CommandNotRunnableException e)
        {
            control?.Dispose();
            return new RunResult(e.ShellStatus, null, [e.Message], null, null);
        }
        catch (SyscageException e)
        {
            control?.Dispose();
            return new RunResult(127, null, [e.Message], null, null);
        }

        if (control is not null && ebpf is not null)
        {
            try
            {
                control.Start(ebpf.Process.LauncherPid);
            }
            catch (IOException e)
            {
                // A command that has ended already has no maps left to change: only a live one is worth a line.
                if (!ebpf.Process.HasExited)
                    log.WriteLine($"syscage: no maps socket: {e.Message}");
                control.Dispose();
                control = null;
            }
        }
        using (control)
        using (ebpf)
        using (session)
        {
            var exit = ebpf?.WaitForExit() ?? session!.WaitForExit();
            int commandPid = ebpf?.Process.CommandPid ?? session!.Process.CommandPid;
            string name = request.Command[0];
            var messages = new List<string>();
            int status = exit.ShellStatus;
            if (exit.Failure is not null)
            {
                messages.Add($"{name}: {exit.Failure}");
                status = exit.Failure.StartsWith("execve", StringComparison.Ordinal) ? 126 : 127;
            }
            else if (report.Describe(exit, commandPid) is { } line)
                messages.Add($"{name} {line}");
            if (exit.Swept > 0)
                messages.Add($"killed {exit.Swept} process{(exit.Swept == 1 ? "" : "es")} the command left running");
            if (auditor is not null)
                messages.Add(auditor.Summary());
            return new RunResult(status, exit, messages, ebpf?.Handler, ebpf?.Filter);
        }
    }
}
