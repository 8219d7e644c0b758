using System.Collections.Concurrent;
using System.Globalization;
using Syscage.Bpf;
using Syscage.Ebpf.Helpers;
using Syscage.Ebpf.Maps;
using Syscage.Kernel.Notify;
using Syscage.Policy;
using Syscage.Abi;
using Syscage.Ebpf;
using Syscage.Ebpf.Seccomp;

namespace Syscage.Supervision;

/// <summary>What <see cref="EbpfNotificationHandler"/> does besides answering calls.</summary>
public sealed record EbpfHandlerOptions
{
    /// <summary>Where LOG verdicts, kills, traps and routing problems are written, one line each (synchronised); null: nowhere.</summary>
    public TextWriter? Log { get; init; }

    /// <summary>
    /// Receives every ring-buffer record the programs submit, right after the run that submitted it (before the call
    /// is answered). Calls are serialised: one record at a time, in each ring's order.
    /// </summary>
    public Action<EbpfRingBufRecord>? OnRecord { get; init; }

    /// <summary>Receives <c>bpf_trace_printk</c> lines; null discards them.</summary>
    public Action<string>? TraceSink { get; init; }

    /// <summary>
    /// Handles the calls the set's policy sends to user space with its own <c>NOTIFY(handler)</c> rules; by default a
    /// <see cref="NotificationRouter"/> for the policy that logs to <see cref="Log"/>.
    /// </summary>
    public NotificationRouter? Router { get; init; }

    /// <summary>What applies the verdicts; shared with the run's other handlers so one record of kills serves the report.</summary>
    public VerdictApplier? Applier { get; init; }
}

/// <summary>One ring-buffer record, with the program and map it came from.</summary>
/// <param name="Program">The program whose map it is.</param>
/// <param name="Map">The ring buffer.</param>
/// <param name="Data">The record's bytes (a copy).</param>
public readonly record struct EbpfRingBufRecord(SeccompEbpfProgram Program, RingBufMap Map, byte[] Data);

/// <summary>
/// The supervisor half of eBPF seccomp filters: a <see cref="NotificationHandler"/> that runs an
/// <see cref="EbpfFilterSet"/> on each notified call — helpers bound to the calling thread (<see cref="NotifiedTask"/>)
/// — and applies the verdict as the kernel would have, as far as user space can.
/// </summary>
/// <remarks>
/// <para>The verdict is applied by the <see cref="VerdictApplier"/> shared with every supervised path (ALLOW, ERRNO and
/// TRACE as the kernel; KILL_* with SIGKILL, which is final where a SIGSYS from user space is not; TRAP with a SIGSYS
/// after the call). LOG lets the call run and writes one line with the decoded call to
/// <see cref="EbpfHandlerOptions.Log"/>. USER_NOTIF: when the set's policy sends the call to user space with a
/// <c>NOTIFY(handler)</c> rule, the <see cref="EbpfHandlerOptions.Router"/> handles it; a program returning USER_NOTIF
/// itself gets ENOSYS, what the kernel answers a filter that has no listener.</para>
/// <para>Memory read by <c>bpf_probe_read_user[_str]</c> can change after the read (another thread, shared memory): use it
/// for logging and fast rejection, never to allow a call.</para>
/// <para>Thread safety: the supervisor calls this from several workers at once. Programs and maps are safe for that
/// (each run has its own registers and stack; maps lock their structure, and value updates race as in the kernel, where
/// programs use atomics), so runs are not serialised; only ring-buffer draining is.</para>
/// </remarks>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class EbpfNotificationHandler
{
    private readonly TextWriter? _log;
    private readonly NotificationRouter? _router;
    private readonly Action<EbpfRingBufRecord>? _onRecord;
    private readonly Action<string>? _trace;
    private readonly (SeccompEbpfProgram Program, RingBufMap Map)[] _rings;
    private readonly object _drainLock = new();
    private readonly ConcurrentDictionary<ulong, long> _bySyscall = new(); // (arch << 32) | nr: names are looked up when read
    private readonly ConcurrentDictionary<SeccompActionKind, long> _byVerdict = new();
    private long _notifications;

    /// <summary>Creates the handler for <paramref name="set"/>.</summary>
    public EbpfNotificationHandler(EbpfFilterSet set, EbpfHandlerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(set);
        options ??= new EbpfHandlerOptions();
        Set = set;
        _log = options.Log is null ? null : TextWriter.Synchronized(options.Log);
        _router = options.Router ?? (set.Policy is { } policy ? new NotificationRouter(policy, _log) : null);
        _onRecord = options.OnRecord;
        _trace = options.TraceSink;
        _rings = [.. set.Programs.SelectMany(p => p.Maps.OfType<RingBufMap>().Select(m => (p, m)))];
        Applier = options.Applier ?? new VerdictApplier();
    }

    /// <summary>What applies the programs' verdicts (and remembers the kills).</summary>
    public VerdictApplier Applier { get; }

    /// <summary>The programs (and policy) run on each call.</summary>
    public EbpfFilterSet Set { get; }

    /// <summary>Notified calls handled so far.</summary>
    public long Notifications => Interlocked.Read(ref _notifications);

    /// <summary>Notified calls so far by syscall name (<see cref="SyscallDecoder.Name"/>), most frequent first.</summary>
    public IReadOnlyList<KeyValuePair<string, long>> NotificationsBySyscall =>
        [.. _bySyscall.GroupBy(kv => SyscallDecoder.Name(new SeccompData(unchecked((int)(uint)kv.Key), (uint)(kv.Key >> 32))), kv => kv.Value)
            .Select(g => new KeyValuePair<string, long>(g.Key, g.Sum()))
            .OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal)];

    /// <summary>Verdicts so far by action (after normalisation: unknown actions count as KILL_PROCESS).</summary>
    public IReadOnlyDictionary<SeccompActionKind, long> Verdicts => new Dictionary<SeccompActionKind, long>(_byVerdict);

    /// <summary>Handles one call: the <see cref="NotificationHandler"/> to give a <see cref="NotificationSupervisor"/>.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public ValueTask<NotificationResponse> HandleAsync(Notification notification, NotificationContext context)
    {
        Interlocked.Increment(ref _notifications);
        _bySyscall.AddOrUpdate(((ulong)notification.Data.Arch << 32) | (uint)notification.Data.Nr, 1, static (_, c) => c + 1);
        var task = new NotifiedTask(context);
        uint verdict = Set.Decide(notification.Data, new HelperContext(task, _trace));
        try
        {
            Drain();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // Output trouble must not change the verdict: the call is still answered as the programs decided.
            _log?.WriteLine($"syscage: writing ring-buffer records: {e.Message}");
        }
        var action = new SeccompAction(verdict).Effective;
        _byVerdict.AddOrUpdate(action.Kind, 1, static (_, c) => c + 1);
        switch (action.Kind)
        {
            case SeccompActionKind.Allow or SeccompActionKind.Errno or SeccompActionKind.Trace:
                return ValueTask.FromResult(Applier.Apply(action, context, ""));
            case SeccompActionKind.Log:
                _log?.WriteLine($"syscage: {SyscallDecoder.Decode(notification.Data, context)} -> LOG (pid {notification.Pid})");
                return ValueTask.FromResult(NotificationResponse.Continue);
            case SeccompActionKind.UserNotif:
                if (_router is not null && Set.Policy is { } policy && policy.Evaluate(notification.Data) is { Action.Kind: SeccompActionKind.UserNotif } d
                    && (d.Rule is null || d.Rule.Route is not ProgramRoute))
                    return _router.HandleAsync(notification, context);
                _log?.WriteLine($"syscage: {SyscallDecoder.Name(notification.Data)} -> ENOSYS: an eBPF program returned USER_NOTIF, which has no listener of its own (pid {notification.Pid})");
                return ValueTask.FromResult(Applier.Apply(action, context, ""));
            case SeccompActionKind.Trap:
            {
                string call = SyscallDecoder.Decode(notification.Data, context);
                _log?.WriteLine($"syscage: {call} -> TRAP({action.Data}): SIGSYS to thread {notification.Pid}");
                return ValueTask.FromResult(Applier.Apply(action, context, call));
            }
            default:
            {
                string call = SyscallDecoder.Decode(notification.Data, context);
                string name = new SeccompAction(verdict).Kind switch
                {
                    SeccompActionKind.KillThread => "KILL_THREAD",
                    SeccompActionKind.KillProcess => "KILL_PROCESS",
                    _ => string.Create(CultureInfo.InvariantCulture, $"unknown action 0x{verdict:x8} (kills, as in the kernel)"),
                };
                _log?.WriteLine($"syscage: {call} -> {name}: killing pid {notification.Pid}'s process with SIGKILL");
                return ValueTask.FromResult(Applier.Apply(action, context, call));
            }
        }
    }

    /// <summary>Hands every pending ring-buffer record to <see cref="EbpfHandlerOptions.OnRecord"/> now (also done after each run).</summary>
    public void Drain()
    {
        if (_rings.Length == 0 || _onRecord is null)
            return;
        lock (_drainLock)
            foreach (var (program, map) in _rings)
                map.Consume(r => _onRecord(new EbpfRingBufRecord(program, map, r.ToArray())));
    }
}
