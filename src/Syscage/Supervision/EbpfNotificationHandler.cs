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
    // Counters without a lock, an atomic instruction or an allocation on the call's path: each worker thread counts in its
    // own ThreadCounts (the native architecture's first numbers in an array), summed when read; the rest
    // ((arch << 32) | nr; names are looked up when read) in a shared dictionary.
    private readonly List<ThreadCounts> _threadCounts = [];
    private readonly ConcurrentDictionary<ulong, long> _bySyscall = new();
    private readonly HelperContext? _sharedHelpers;
    // The lean path's program: a set of one program and no policy, run on the kernel's seccomp_data without the set.
    private readonly SeccompEbpfProgram? _single;
    private readonly ConcurrentDictionary<int, (SeccompData Data, NotificationResponse Response)> _interrupted = new();
    private int _interruptedCount;

    /// <summary>The counts of the handler this thread last counted for (one worker serves one handler at a time).</summary>
    [ThreadStatic]
    private static ThreadCounts? t_counts;

    /// <summary>
    /// One thread's counts for one handler: written by that thread alone, read by anyone (with Volatile). One array holds
    /// them all (<see cref="Notifications"/>, then the verdicts by <see cref="SeccompActionKind"/>, then the native
    /// architecture's calls by number): a call's counting reads one object's bounds, not three.
    /// </summary>
    private sealed class ThreadCounts(EbpfNotificationHandler owner)
    {
        public const int Notifications = 0, FirstVerdict = 1, FirstSyscall = FirstVerdict + Verdicts;
        public const int Verdicts = (int)SeccompActionKind.Unknown + 1;
        public readonly EbpfNotificationHandler Owner = owner;
        public readonly long[] Cells = new long[FirstSyscall + NativeCounted];

        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        public void Add(int cell) => Volatile.Write(ref Cells[cell], Cells[cell] + 1);

        public long Read(int cell) => Volatile.Read(ref Cells[cell]);
    }

    /// <summary>Answers kept for calls a signal interrupted, at most (threads that died with one leave it behind).</summary>
    private const int MaxInterrupted = 4096;

    /// <summary>Syscall numbers of the native architecture counted in an array (every x86_64 number has room).</summary>
    private const int NativeCounted = 1024;

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
        // Programs that read no task state share one helper context: no task is bound (no /proc, no pidfd) per call.
        _sharedHelpers = set.ReadsTask ? null : new HelperContext(null, _trace);
        _single = set.Single;
    }

    /// <summary>What applies the programs' verdicts (and remembers the kills).</summary>
    public VerdictApplier Applier { get; }

    /// <summary>The programs (and policy) run on each call.</summary>
    public EbpfFilterSet Set { get; }

    /// <summary>Notified calls handled so far.</summary>
    public long Notifications => Counts().Sum(c => c.Read(ThreadCounts.Notifications));

    /// <summary>Notified calls so far by syscall name (<see cref="SyscallDecoder.Name"/>), most frequent first.</summary>
    public IReadOnlyList<KeyValuePair<string, long>> NotificationsBySyscall
    {
        get
        {
            var native = new long[NativeCounted];
            foreach (var c in Counts())
                for (int nr = 0; nr < native.Length; nr++)
                    native[nr] += c.Read(ThreadCounts.FirstSyscall + nr);
            return [.. _bySyscall.Concat(native.Select((count, nr) => new KeyValuePair<ulong, long>(((ulong)NativeArch << 32) | (uint)nr, count)))
                .Where(kv => kv.Value > 0)
                .GroupBy(kv => SyscallDecoder.Name(new SeccompData(unchecked((int)(uint)kv.Key), (uint)(kv.Key >> 32))), kv => kv.Value)
                .Select(g => new KeyValuePair<string, long>(g.Key, g.Sum()))
                .OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal)];
        }
    }

    /// <summary>Verdicts so far by action (after normalisation: unknown actions count as KILL_PROCESS).</summary>
    public IReadOnlyDictionary<SeccompActionKind, long> Verdicts
    {
        get
        {
            var byVerdict = new long[ThreadCounts.Verdicts];
            foreach (var c in Counts())
                for (int k = 0; k < byVerdict.Length; k++)
                    byVerdict[k] += c.Read(ThreadCounts.FirstVerdict + k);
            return Enumerable.Range(0, byVerdict.Length).Where(k => byVerdict[k] > 0).ToDictionary(k => (SeccompActionKind)k, k => byVerdict[k]);
        }
    }

    private ThreadCounts[] Counts()
    {
        lock (_threadCounts)
            return [.. _threadCounts];
    }

    /// <summary>
    /// This thread's counts for this handler, made (and listed for the readers) on its first call here. A thread that
    /// serves another handler in between starts a new list entry when it comes back: the old one keeps its counts, and
    /// each entry still has one writer. Supervisor workers serve one handler for their whole life.
    /// </summary>
    private ThreadCounts CountsOfThisThread()
    {
        if (t_counts is { } counts && counts.Owner == this)
            return counts;
        counts = new ThreadCounts(this);
        lock (_threadCounts)
            _threadCounts.Add(counts);
        return t_counts = counts;
    }

    private static readonly uint NativeArch = Architecture.Native.AuditArch;

    /// <summary>Handles one call: the <see cref="NotificationHandler"/> to give a <see cref="NotificationSupervisor"/>.</summary>
    public ValueTask<NotificationResponse> HandleAsync(Notification notification, NotificationContext context) =>
        Handle(new ReceivedCall(context));

    /// <summary>Handles one call, read in place from the supervisor's receive buffer (what <see cref="EbpfSandboxedProcess"/> runs).</summary>
    /// <remarks>
    /// The path of a call the programs allow or fail with an errno is kept short: it runs on every notified call, a round
    /// trip of about 2 µs. The call's number, architecture and raw <c>seccomp_data</c> are read where the kernel wrote them;
    /// its counters are the thread's own (no atomic instruction); a <see cref="Notification"/> and a
    /// <see cref="NotificationContext"/> are made only for what needs them (a policy, programs that read the task, rarer
    /// verdicts: <see cref="HandleRare"/>, out of line, which keeps this method's frame small).
    /// </remarks>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    internal unsafe ValueTask<NotificationResponse> Handle(in ReceivedCall call)
    {
        var counts = CountsOfThisThread();
        counts.Add(ThreadCounts.Notifications);
        uint arch = call.Arch;
        int nr = call.Nr;
        if (arch == NativeArch && (uint)nr < NativeCounted)
            counts.Add(ThreadCounts.FirstSyscall + nr);
        else
            _bySyscall.AddOrUpdate(((ulong)arch << 32) | (uint)nr, 1, static (_, c) => c + 1);
        // A call whose wait a signal interrupted after the programs decided it is restarted by the kernel and notified
        // again: it is one call, so it gets the answer the programs gave it, without running them (and their state) twice.
        if (Volatile.Read(ref _interruptedCount) > 0 && Interrupted(call.Notification) is { } earlier)
            return ValueTask.FromResult(earlier);
        // The lean path: no task bound when no program reads one, and the kernel's seccomp_data handed to the VM as it
        // came when it is already what the programs read (a 64-bit ABI on a little-endian machine).
        var helpers = _sharedHelpers ?? new HelperContext(new NotifiedTask(call.Context()), _trace);
        byte* raw = call.RawData;
        uint verdict = raw is null || !EbpfFilterSet.TakesRawData(arch) ? Set.Decide(call.Notification.Data, helpers)
            : _single is { } single ? single.RunOnKernelData(raw, helpers)
            : Set.DecideOnKernelData(Set.Policy is null ? default : call.Notification.Data, raw, helpers);
        if (_rings.Length > 0)
            DrainAfterRun();
        var answer = QuickAnswer(verdict, out var kind);
        counts.Add(ThreadCounts.FirstVerdict + (int)kind);
        return answer is { } ready ? ValueTask.FromResult(ready) : HandleRare(call, verdict);
    }

    /// <summary>
    /// The answer the supervisor sends at once for <paramref name="verdict"/>, or null for the verdicts that write a line,
    /// route the call or signal the caller (LOG, USER_NOTIF, TRAP, the kills: <see cref="HandleRare"/>); and the verdict's
    /// kind after normalisation (<see cref="SeccompAction.Effective"/>), which the counts use.
    /// </summary>
    /// <remarks>
    /// The two verdicts of nearly every call are answered without decoding the action: exactly ALLOW, and ERRNO with an
    /// errno the kernel does not clamp. Every other value goes through <see cref="SeccompAction.Effective"/> and
    /// <see cref="VerdictApplier.AnswerEffective"/>, which both shortcuts agree with (a test checks every action).
    /// </remarks>
    internal static NotificationResponse? QuickAnswer(uint verdict, out SeccompActionKind kind)
    {
        if (verdict == SeccompAction.SECCOMP_RET_ALLOW)
        {
            kind = SeccompActionKind.Allow;
            return NotificationResponse.Continue;
        }
        uint data = verdict & SeccompAction.SECCOMP_RET_DATA;
        if ((verdict & SeccompAction.SECCOMP_RET_ACTION_FULL) == SeccompAction.SECCOMP_RET_ERRNO && data - 1 < SeccompAction.MAX_ERRNO)
        {
            kind = SeccompActionKind.Errno;
            return NotificationResponse.Error((int)data);
        }
        var action = new SeccompAction(verdict).Effective;
        kind = action.Kind;
        return kind is SeccompActionKind.Log or SeccompActionKind.UserNotif ? null : VerdictApplier.AnswerEffective(action, kind);
    }

    /// <summary>The answer kept for <paramref name="notification"/>'s thread when a signal interrupted its call (<see cref="CallGone"/>), if it is this call.</summary>
    private NotificationResponse? Interrupted(Notification notification)
    {
        if (!_interrupted.TryRemove(notification.Pid, out var earlier))
            return null;
        Interlocked.Decrement(ref _interruptedCount);
        return earlier.Data.Equals(notification.Data) ? earlier.Response : null;
    }

    private void DrainAfterRun()
    {
        try
        {
            Drain();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // Output trouble must not change the verdict: the call is still answered as the programs decided.
            _log?.WriteLine($"syscage: writing ring-buffer records: {e.Message}");
        }
    }

    /// <summary>LOG, USER_NOTIF, TRAP and the kills: verdicts that write a line, route the call or signal the caller.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private ValueTask<NotificationResponse> HandleRare(in ReceivedCall received, uint verdict)
    {
        var action = new SeccompAction(verdict).Effective;
        var context = received.Context();
        var notification = context.Notification;
        switch (action.Kind)
        {
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

    /// <summary>
    /// Tells the handler an answer found its call gone (<see cref="SupervisorOptions.OnGone"/>): when a signal interrupted the
    /// call's wait, the kernel restarts it, and the thread's next notification with the same <c>seccomp_data</c> gets this
    /// answer again instead of a second run of the programs — whose state (an exec-once flag, a counter) would otherwise
    /// count one call twice. Under the kernel's eBPF seccomp there is no such wait to interrupt.
    /// </summary>
    public void CallGone(Notification notification, NotificationResponse response)
    {
        if (response.Kind == NotificationResponseKind.Handled)
            return;
        if (Volatile.Read(ref _interruptedCount) >= MaxInterrupted)
        {
            _interrupted.Clear();
            Volatile.Write(ref _interruptedCount, 0);
        }
        if (_interrupted.TryAdd(notification.Pid, (notification.Data, response)))
            Interlocked.Increment(ref _interruptedCount);
        else
            _interrupted[notification.Pid] = (notification.Data, response);
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
