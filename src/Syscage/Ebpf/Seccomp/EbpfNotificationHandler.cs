using System.Collections.Concurrent;
using System.Globalization;
using Syscage.Bpf;
using Syscage.Ebpf.Helpers;
using Syscage.Ebpf.Maps;
using Syscage.Kernel.Notify;
using Syscage.Policy;

namespace Syscage.Ebpf.Seccomp;

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
/// <para>The verdict (after the kernel's own normalisation, <see cref="SeccompAction.Effective"/>) becomes:</para>
/// <list type="bullet">
/// <item>ALLOW: the call runs (<c>SECCOMP_USER_NOTIF_FLAG_CONTINUE</c>).</item>
/// <item>ERRNO(n): the call fails with n, data above 4095 clamped to 4095; ERRNO(0) returns 0 without running the call —
/// both as the kernel does.</item>
/// <item>LOG: the call runs, and one line with the decoded call goes to <see cref="EbpfHandlerOptions.Log"/>.</item>
/// <item>TRACE(n): fails with ENOSYS, the kernel's answer when no tracer is attached (none can be here).</item>
/// <item>KILL_PROCESS, KILL_THREAD and unknown actions: the caller's process is killed while its call is pending, with
/// SIGSYS when SIGSYS would kill it (default disposition, not blocked by the calling thread) so the exit status reads
/// 128+31 as after a kernel kill, else with SIGKILL. Not exact: KILL_THREAD kills the whole process — user space can't
/// end one thread of another process — and the kernel's kill needs no signal delivery at all.</item>
/// <item>TRAP(n): the call fails with ENOSYS, then SIGSYS goes to the calling thread (<c>tgkill</c>). Not exact: the
/// handler gets an ordinary <c>SI_TKILL</c> siginfo without <c>si_syscall</c>, <c>si_call_addr</c> or
/// <c>si_errno</c> = n (the kernel refuses a forged <c>SYS_SECCOMP</c> si_code), a little after the call returned.</item>
/// <item>USER_NOTIF: when the set's policy sends the call to user space with a <c>NOTIFY(handler)</c> rule, the
/// <see cref="EbpfHandlerOptions.Router"/> handles it; a program returning USER_NOTIF itself gets ENOSYS, what the kernel
/// answers a filter that has no listener.</item>
/// </list>
/// <para>Memory read by <c>bpf_probe_read_user[_str]</c> can change after the read (another thread, shared memory): use it
/// for logging and fast rejection, never to allow a call.</para>
/// <para>Thread safety: the supervisor calls this from several workers at once. Programs and maps are safe for that
/// (each run has its own registers and stack; maps lock their structure, and value updates race as in the kernel, where
/// programs use atomics), so runs are not serialised; only ring-buffer draining is.</para>
/// </remarks>
public sealed class EbpfNotificationHandler
{
    private const int ENOSYS = 38, SIGKILL = 9, SIGSYS = 31;
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
    }

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
            case SeccompActionKind.Allow:
                return ValueTask.FromResult(NotificationResponse.Continue);
            case SeccompActionKind.Errno:
                return ValueTask.FromResult(action.Data == 0 ? NotificationResponse.Return(0) : NotificationResponse.Error(action.Data));
            case SeccompActionKind.Log:
                _log?.WriteLine($"syscage: {SyscallDecoder.Decode(notification.Data, context)} -> LOG (pid {notification.Pid})");
                return ValueTask.FromResult(NotificationResponse.Continue);
            case SeccompActionKind.Trace:
                return ValueTask.FromResult(NotificationResponse.Error(ENOSYS));
            case SeccompActionKind.UserNotif:
                if (_router is not null && Set.Policy is { } policy && policy.Evaluate(notification.Data) is { Action.Kind: SeccompActionKind.UserNotif } d
                    && (d.Rule is null || EbpfFilterSet.ProgramNameOf(d.Rule) is null))
                    return _router.HandleAsync(notification, context);
                _log?.WriteLine($"syscage: {SyscallDecoder.Name(notification.Data)} -> ENOSYS: an eBPF program returned USER_NOTIF, which has no listener of its own (pid {notification.Pid})");
                return ValueTask.FromResult(NotificationResponse.Error(ENOSYS));
            case SeccompActionKind.Trap:
            {
                _log?.WriteLine($"syscage: {SyscallDecoder.Decode(notification.Data, context)} -> TRAP({action.Data}): SIGSYS to thread {notification.Pid}");
                int tgid = task.Tgid;
                // Answer first: a signal during the wait would interrupt the call and, restarted, notify it again.
                if (context.Respond(NotificationResponse.Error(ENOSYS)) && tgid > 0)
                    _ = Kernel.Interop.Libc.syscall(Kernel.Interop.Libc.SYS_tgkill, tgid, notification.Pid, SIGSYS);
                return ValueTask.FromResult(NotificationResponse.Handled);
            }
            default:
            {
                int signal = SigsysWouldKill(notification.Pid) ? SIGSYS : SIGKILL;
                string name = new SeccompAction(verdict).Kind switch
                {
                    SeccompActionKind.KillThread => "KILL_THREAD",
                    SeccompActionKind.KillProcess => "KILL_PROCESS",
                    _ => string.Create(CultureInfo.InvariantCulture, $"unknown action 0x{verdict:x8} (kills, as in the kernel)"),
                };
                _log?.WriteLine($"syscage: {SyscallDecoder.Decode(notification.Data, context)} -> {name}: killing pid {notification.Pid}'s process with {(signal == SIGSYS ? "SIGSYS" : "SIGKILL")}");
                // Signal while the call is pending, so the task never sees it return; answer ENOSYS in case it survives.
                if (!context.SignalProcess(signal))
                    return ValueTask.FromResult(NotificationResponse.Handled);
                return ValueTask.FromResult(NotificationResponse.Error(ENOSYS));
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

    /// <summary>
    /// True when SIGSYS would end the thread's process: not caught, not ignored (<c>SigCgt</c>, <c>SigIgn</c>, per
    /// process) and not blocked by the thread (<c>SigBlk</c>) in <c>/proc/PID/status</c>.
    /// </summary>
    private static bool SigsysWouldKill(int pid)
    {
        const ulong bit = 1UL << (SIGSYS - 1);
        Span<byte> buffer = stackalloc byte[Kernel.ProcFs.StatusBytes];
        int n = Kernel.ProcFs.Read(pid, "status"u8, buffer);
        if (n <= 0)
            return false;
        var text = buffer[..n];
        return Clear(text, "SigBlk:"u8) && Clear(text, "SigIgn:"u8) && Clear(text, "SigCgt:"u8);

        // A mask that is there must be readable and clear of SIGSYS; a missing line sets nothing.
        static bool Clear(ReadOnlySpan<byte> text, ReadOnlySpan<byte> field) =>
            Kernel.ProcFs.TryField(text, field, hex: true, out ulong mask) ? (mask & bit) == 0 : text.IndexOf(field) < 0;
    }
}
