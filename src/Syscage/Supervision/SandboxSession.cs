using Syscage.Bpf;
using Syscage.Kernel;
using Syscage.Kernel.Notify;
using Syscage.Policy;
using Syscage.Policy.Compiler;

namespace Syscage.Supervision;

/// <summary>How a <see cref="SandboxSession"/> runs its command.</summary>
public sealed record SessionOptions
{
    /// <summary>
    /// Handles the calls the filter sends to user space (USER_NOTIF); null when it sends none. With a handler the
    /// filter is installed with a listener and a <see cref="NotificationSupervisor"/> serves it.
    /// </summary>
    public NotificationHandler? Handler { get; init; }

    /// <summary>
    /// The library's own handlers (the eBPF programs'): a handler that reads each call in place, used instead of
    /// <see cref="Handler"/> when set.
    /// </summary>
    internal ReceivedCallHandler? ReceivedCallHandler { get; init; }

    /// <summary>The handler the supervisor runs, if any.</summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    internal ReceivedCallHandler? SupervisorHandler =>
        ReceivedCallHandler ?? (Handler is { } handler ? NotificationSupervisor.Serve(handler) : null);

    /// <summary>How the supervisor runs (workers, SYNC_WAKE_UP, errors).</summary>
    public SupervisorOptions Supervisor { get; init; } = new();

    /// <summary>
    /// Pass every catchable signal this process receives on to the command (<see cref="SignalForwarding"/>): what a
    /// command-line tool does; a library host usually has signal handling of its own.
    /// </summary>
    public bool ForwardSignals { get; init; }

    /// <summary>
    /// Flags for the policy's filter, beside those of the start info: <see cref="FilterFlags.Log"/>,
    /// <see cref="FilterFlags.SpecAllow"/>, <see cref="FilterFlags.WaitKillableRecv"/> (which needs calls to go to user
    /// space). <see cref="FilterFlags.Tsync"/> is dropped (the filter goes in before the command has threads) and
    /// <see cref="FilterFlags.NewListener"/> is set exactly when there is a <see cref="Handler"/>.
    /// </summary>
    public FilterFlags FilterFlags { get; init; }
}

/// <summary>
/// The one start of every sandboxed run — plain, with NOTIFY handlers or <c>--log-denials</c>, with eBPF programs —
/// and the place its protections live (docs/security.md):
/// <list type="bullet">
/// <item>this process, the supervisor, is made not dumpable, so the command (same user) can't ptrace it, read or
/// write its memory or take its descriptors (the launcher does the same for itself);</item>
/// <item>a guard filter (<see cref="SupervisorGuard"/>) goes in before the policy: no signal, pidfd or rlimit of the
/// command reaches the supervisor or the launcher, and no second listener can be installed while calls are
/// supervised;</item>
/// <item>the launcher ties the command's whole tree to this process: when the supervisor dies, whatever killed it,
/// or when the session is disposed, the tree is killed; nothing the command started outlives the command;</item>
/// <item>with <see cref="SessionOptions.ForwardSignals"/>, signals sent to this process reach the command.</item>
/// </list>
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SandboxSession : IDisposable
{
    private static int s_protected;
    private readonly SignalForwarding? _forwarding;

    private SandboxSession(SandboxedProcess process, NotificationSupervisor? supervisor, SignalForwarding? forwarding)
    {
        Process = process;
        Supervisor = supervisor;
        _forwarding = forwarding;
    }

    /// <summary>The command (stdio, pids, signals).</summary>
    public SandboxedProcess Process { get; }

    /// <summary>
    /// The supervisor, when calls go to user space. The session stops it once the command's tree has ended; with one
    /// worker it waits for calls in RECV itself, so stopping or disposing it directly while the command runs takes effect
    /// when the command ends.
    /// </summary>
    public NotificationSupervisor? Supervisor { get; }

    /// <summary>The filter installed after the guard.</summary>
    public BpfProgram Filter { get; private init; } = null!;

    /// <summary>
    /// Starts <paramref name="info"/> under <paramref name="policy"/>, behind the guard. When the policy sends calls to
    /// user space (<see cref="SeccompPolicy.UsesNotify"/>), <see cref="SessionOptions.Handler"/> is required and serves
    /// them, and <c>pidfd_send_signal</c> goes through the supervisor too
    /// (<see cref="SupervisorGuard.RouteSignalDescriptors"/>). <paramref name="compiled"/>, when given, is the policy
    /// already compiled (used when the guard leaves the policy as it is).
    /// </summary>
    /// <exception cref="CommandNotRunnableException">The command was not found or is not executable.</exception>
    /// <exception cref="SyscageException">The launcher could not be started.</exception>
    public static SandboxSession Start(SeccompPolicy policy, SandboxedProcessStartInfo info, SessionOptions? options = null, BpfProgram? compiled = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        options ??= new SessionOptions();
        if (!policy.UsesNotify)
            return Start(compiled ?? PolicyCompiler.Compile(policy), info, options with { Handler = null, ReceivedCallHandler = null });
        var handler = options.SupervisorHandler ?? throw new ArgumentException($"{policy.Name} sends calls to user space: a handler is needed", nameof(options));
        var routed = SupervisorGuard.RouteSignalDescriptors(policy);
        var filter = compiled is not null && SamePolicy(routed, policy) ? compiled : PolicyCompiler.Compile(routed);
        int[] protectedProcesses = [];
        var route = SupervisorGuard.Route(handler, policy, () => protectedProcesses);
        return Start(filter, info, options with { Handler = null, ReceivedCallHandler = handler, Supervisor = options.Supervisor with { Route = route } },
            context => protectedProcesses = [context.SupervisorPid, context.LauncherPid]);
    }

    /// <summary>
    /// Starts <paramref name="info"/> under <paramref name="filter"/> (a compiled program: nothing goes to user space
    /// unless <see cref="SessionOptions.Handler"/> is given, and then the program alone decides what does), behind
    /// the guard.
    /// </summary>
    /// <exception cref="CommandNotRunnableException">The command was not found or is not executable.</exception>
    /// <exception cref="SyscageException">The launcher could not be started.</exception>
    public static SandboxSession Start(BpfProgram filter, SandboxedProcessStartInfo info, SessionOptions? options = null) =>
        Start(filter, info, options ?? new SessionOptions(), null);

    private static SandboxSession Start(BpfProgram filter, SandboxedProcessStartInfo info, SessionOptions options, Action<LaunchContext>? launched)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentNullException.ThrowIfNull(info);
        ProtectThisProcess();
        var handler = options.SupervisorHandler;
        bool supervised = handler is not null;
        // TSYNC does nothing for a filter installed before the command has threads (runc ignores it too), and with a
        // listener the kernel would refuse it.
        var flags = (info.Flags | options.FilterFlags) & ~FilterFlags.Tsync;
        if (!supervised && (flags & FilterFlags.WaitKillableRecv) != 0)
            throw new SyscageException("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a listener, and this filter has none: the policy sends no call to user space " +
                "(no NOTIFY rule, no SCMP_ACT_NOTIFY entry); the kernel refuses the flag without SECCOMP_FILTER_FLAG_NEW_LISTENER");
        info.Flags = supervised ? flags | FilterFlags.NewListener : flags & ~FilterFlags.NewListener;
        info.Guard = context =>
        {
            launched?.Invoke(context);
            return SupervisorGuard.Create(context, supervised);
        };
        // Signals are caught from before the start: one that arrives while the command is being launched is passed on
        // once it runs, instead of ending this process with its default action.
        var forwarding = options.ForwardSignals ? SignalForwarding.Start() : null;
        SandboxedProcess? process = null;
        NotificationSupervisor? supervisor = null;
        try
        {
            process = SandboxedProcess.Start(filter, info);
            if (handler is not null && process.Listener is { } listener)
                // The session kills the command's tree before it disposes the supervisor (Dispose, WaitForExit): a single
                // worker may wait in RECV itself, which only the tasks' end wakes.
                supervisor = new NotificationSupervisor(listener, handler, options.Supervisor with { ReceiveBlocking = true }).Start();
        }
        catch
        {
            process?.Dispose();
            forwarding?.Dispose();
            throw;
        }
        forwarding?.Attach(process);
        return new SandboxSession(process, supervisor, forwarding) { Filter = filter };
    }

    /// <summary>
    /// The guard filters of this build of the library, compiled, as text. A session compiles its guard's template once per
    /// process (the pids of each launch are then put in without compiling); a tool that starts one session per process —
    /// a command-line <c>syscage run</c> — can compile them when it is built instead, and hand the text to
    /// <see cref="ImportCompiledGuards"/> at start.
    /// </summary>
    public static string ExportCompiledGuards() => SupervisorGuard.Export();

    /// <summary>
    /// Uses the guards <paramref name="text"/> holds (<see cref="ExportCompiledGuards"/>) from now on, when it was written
    /// by this very build of the library (a guard depends on the library's code) and holds sound programs; otherwise
    /// returns false and changes nothing: the guards are then compiled at the first start.
    /// </summary>
    public static bool ImportCompiledGuards(string text) => SupervisorGuard.Import(text);

    private static bool SamePolicy(SeccompPolicy a, SeccompPolicy b) =>
        ReferenceEquals(a.Newer, b.Newer) && a.Sections.Zip(b.Sections).All(p => p.First.Syscalls.Count == p.Second.Syscalls.Count &&
            p.First.Syscalls.All(kv => p.Second.Syscalls.TryGetValue(kv.Key, out var rules) && rules.SequenceEqual(kv.Value)));

    /// <summary>Waits for the command and its tree, then stops the supervisor; says how the command ended.</summary>
    public SandboxExit WaitForExit()
    {
        var exit = Process.WaitForExit();
        Supervisor?.Dispose();
        _forwarding?.Dispose();
        return exit;
    }

    /// <summary>Kills the command's tree if it still runs, stops the supervisor and the signal forwarding.</summary>
    public void Dispose()
    {
        _forwarding?.Dispose();
        Process.Dispose();
        Supervisor?.Dispose();
    }

    /// <summary>Makes this process not dumpable, once (it stays so).</summary>
    private static void ProtectThisProcess()
    {
        if (Interlocked.Exchange(ref s_protected, 1) == 0)
            Dumpability.Disable();
    }
}
