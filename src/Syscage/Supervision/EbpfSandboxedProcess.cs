using Syscage.Bpf;
using Syscage.Kernel;
using Syscage.Kernel.Notify;
using Syscage.Supervision;

namespace Syscage.Supervision;

/// <summary>How <see cref="EbpfSandboxedProcess.Start"/> runs a command under eBPF seccomp programs.</summary>
public sealed record EbpfSandboxOptions
{
    /// <summary>How the programs split between the kernel and the supervisor.</summary>
    public HybridOptions Hybrid { get; init; } = HybridOptions.ThisMachine;

    /// <summary>Where log lines, ring-buffer records and <c>bpf_trace_printk</c> output go.</summary>
    public EbpfHandlerOptions Handler { get; init; } = new();

    /// <summary>
    /// Supervisor worker threads; null (default): one with <c>SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP</c> when no policy
    /// handler can block, two otherwise. More workers run programs concurrently (the maps are thread-safe).
    /// </summary>
    public int? Workers { get; init; }

    /// <summary>Called when answering a call fails (the call then fails with EPERM).</summary>
    public Action<Notification, Exception>? OnError { get; init; }

    /// <summary>Pass the signals this process receives on to the command (see <see cref="SessionOptions.ForwardSignals"/>).</summary>
    public bool ForwardSignals { get; init; }
}

/// <summary>
/// A command running under an <see cref="EbpfFilterSet"/>: the kernel half (<see cref="HybridCompiler"/>) installed
/// before the command's first instruction, and — when some call needs it — a supervisor in this process running
/// the programs on the notified calls (<see cref="EbpfNotificationHandler"/>). The library form of
/// <c>syscage run --ebpf</c>.
/// </summary>
/// <remarks>
/// When no policy rule has a <c>NOTIFY</c> handler of its own, the supervisor uses one worker with
/// <c>SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP</c>: the VM never blocks, and the caller and the supervisor then hand the
/// CPU to each other directly (17 µs per notified call on the development VM, against 27 µs with two workers).
/// </remarks>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class EbpfSandboxedProcess : IDisposable
{
    private readonly SandboxSession _session;

    private EbpfSandboxedProcess(HybridFilter filter, SandboxSession session, EbpfNotificationHandler handler)
    {
        Filter = filter;
        _session = session;
        Handler = handler;
    }

    /// <summary>The kernel half that was installed.</summary>
    public HybridFilter Filter { get; }

    /// <summary>The command (its stdio, pid, signals).</summary>
    public SandboxedProcess Process => _session.Process;

    /// <summary>The handler: notification counters, the programs' maps through the set.</summary>
    public EbpfNotificationHandler Handler { get; }

    /// <summary>The supervisor, when the filter needs one.</summary>
    public NotificationSupervisor? Supervisor => _session.Supervisor;

    /// <summary>
    /// Compiles <paramref name="set"/>'s kernel half and starts <paramref name="info"/> under it through a
    /// <see cref="SandboxSession"/> (guarded; a supervisor when some call needs one). Throws
    /// <see cref="SyscageException"/> when the command can't be started.
    /// </summary>
    public static EbpfSandboxedProcess Start(EbpfFilterSet set, SandboxedProcessStartInfo info, EbpfSandboxOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentNullException.ThrowIfNull(info);
        options ??= new EbpfSandboxOptions();
        var filter = set.Compile(options.Hybrid);
        var handler = new EbpfNotificationHandler(set, options.Handler);
        bool fast = !set.HasBlockingHandlers;
        int workers = options.Workers ?? (fast ? 1 : 2);
        var session = SandboxSession.Start(filter.Policy, info, new SessionOptions
        {
            ReceivedCallHandler = handler.Handle,
            Supervisor = new SupervisorOptions { SyncWakeUp = workers == 1, Workers = workers, OnError = options.OnError, OnGone = handler.CallGone },
            ForwardSignals = options.ForwardSignals,
        }, filter.Filter);
        return new EbpfSandboxedProcess(filter with { Filter = session.Filter }, session, handler);
    }

    /// <summary>
    /// Waits for the command, then stops the supervisor and drains the ring buffers, so every record has been
    /// delivered and the maps hold their final values when this returns.
    /// </summary>
    public SandboxExit WaitForExit()
    {
        var exit = _session.WaitForExit();
        Handler.Drain();
        return exit;
    }

    /// <inheritdoc/>
    public void Dispose() => _session.Dispose();
}
