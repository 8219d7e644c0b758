using Syscage.Abi;
using Syscage.Ebpf.Helpers;
using Syscage.Kernel;
using Syscage.Kernel.Notify;

namespace Syscage.Supervision;

/// <summary>
/// The thread that made a notified system call, as eBPF helpers see it ("current"): ids and name from
/// <c>/proc/PID/status</c>, <c>/proc/PID/comm</c> and <c>/proc/PID/stat</c>, memory through
/// <see cref="NotificationContext.ReadMemory"/> (<c>process_vm_readv</c> followed by <c>SECCOMP_IOCTL_NOTIF_ID_VALID</c>).
/// </summary>
/// <remarks>
/// One object serves one notification: what it reads from <c>/proc</c> is read once, on first use, and is valid only
/// while the call waits (the thread can't change ids or exit meanwhile without ending the notification). After each
/// <c>/proc</c> read the notification is checked again; if it is gone, the pid may already name another task, and the
/// task reads as ids 0 and an empty name (the answer to a gone call is discarded by the kernel anyway).
/// </remarks>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class NotifiedTask : IBpfTask
{
    private readonly NotificationContext _context;
    private Status? _status;
    private string? _comm;
    private object? _identity;
    private int _mayRead = -1;

    /// <summary>Binds the thread of <paramref name="context"/>'s notification.</summary>
    public NotifiedTask(NotificationContext context)
    {
        _context = context;
        Pid = context.Notification.Pid;
    }

    /// <inheritdoc/>
    public int Pid { get; }

    /// <inheritdoc/>
    public int Tgid => ThreadGroup();

    /// <inheritdoc/>
    public uint Uid => ReadStatus().Uid;

    /// <inheritdoc/>
    public uint Gid => ReadStatus().Gid;

    /// <inheritdoc/>
    public string Comm => _comm ??= ReadComm();

    /// <summary>
    /// The eBPF-seccomp patch set lets <c>bpf_probe_read_user[_str]</c> read the task only when the filter's installer
    /// could ptrace it. Here the supervisor asks exactly what it would do: may it <c>process_vm_readv</c> the task
    /// (<see cref="NotificationContext.MayReadMemory"/>)?
    /// </summary>
    public bool MayReadMemory
    {
        get
        {
            if (_mayRead < 0)
                _mayRead = _context.MayReadMemory() ? 1 : 0;
            return _mayRead == 1;
        }
    }

    /// <summary>
    /// Reads the thread's memory; 0 when every byte was read, <c>-EFAULT</c> when some could not be (an unmapped page,
    /// or the notification is gone), as <c>copy_from_user</c> failures read in the kernel.
    /// </summary>
    public int ReadMemory(ulong address, Span<byte> destination)
    {
        if (destination.IsEmpty)
            return 0;
        int n = _context.ReadMemory(address, destination);
        return n == destination.Length ? 0 : -Errno.EFAULT;
    }

    /// <summary>
    /// (thread id, start time in clock ticks since boot — field 22 of <c>/proc/PID/stat</c>): a thread id can be reused
    /// after the thread exits, the pair can't, so task storage never hands one thread's value to its successor.
    /// </summary>
    public object Identity => _identity ??= new TaskIdentity(Pid, ReadStartTime());

    /// <summary>A task's identity: its thread id and start time (see <see cref="Identity"/>).</summary>
    /// <param name="Pid">Thread id.</param>
    /// <param name="StartTime">Start time in clock ticks after boot; 0 when unreadable.</param>
    public readonly record struct TaskIdentity(int Pid, ulong StartTime);

    private Status ReadStatus()
    {
        if (_status is { } s)
            return s;
        Span<byte> buffer = stackalloc byte[ProcFs.StatusBytes];
        int n = ProcFs.Read(Pid, "status"u8, buffer);
        var text = n > 0 ? buffer[..n] : [];
        long tgid = ProcFs.Field(text, "Tgid:"u8), uid = ProcFs.Field(text, "Uid:"u8), gid = ProcFs.Field(text, "Gid:"u8);
        // Real ids: the first of "Uid: real effective saved fs" is what bpf_get_current_uid_gid gives.
        var status = n > 0 && tgid > 0 && _context.IsValid() ? new Status((int)tgid, (uint)uid, (uint)gid) : new Status(0, 0, 0);
        _status = status;
        if (status.Tgid > 0)
            RememberThreadGroup(Pid, status.Tgid);
        return status;
    }

    /// <summary>
    /// The thread group of the calling thread, without reading <c>/proc</c> on every call. The mapping thread → group is
    /// cached with a pidfd of the thread (<c>pidfd_open(tid, PIDFD_THREAD)</c>): while the pidfd doesn't report the
    /// thread's exit, that thread is alive, and since live threads have distinct ids the caller is that thread. Kernels
    /// without <c>PIDFD_THREAD</c> (before 6.9) check <c>/proc/TGID/task/TID</c> instead.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private int ThreadGroup()
    {
        if (_status is { } s)
            return s.Tgid;
        if (ThreadGroups.TryGetValue(Pid, out var cached))
        {
            if (cached.Thread is { } thread ? !Exited(thread) : ProcFs.IsThreadOf(Pid, cached.Tgid))
                return cached.Tgid;
            Forget(Pid);
        }
        return ReadStatus().Tgid;
    }

    private sealed record ThreadEntry(int Tgid, ProcessHandle? Thread);

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, ThreadEntry> ThreadGroups = new();

    /// <summary>At most this many pidfds are held (the fd limit is often 1024): past it, dead threads are swept, and a thread that still doesn't fit is checked through /proc.</summary>
    private const int MaxPidFds = 256;

    private static void RememberThreadGroup(int tid, int tgid)
    {
        if (ThreadGroups.Count >= MaxPidFds)
            foreach (var (key, e) in ThreadGroups)
                if (e.Thread is not { } t || Exited(t))
                    Forget(key);
        var thread = ThreadGroups.Count < MaxPidFds ? ProcessHandle.OpenThread(tid, out _) : null;
        if (!ThreadGroups.TryAdd(tid, new ThreadEntry(tgid, thread)))
            thread?.Dispose();
    }

    private static void Forget(int tid)
    {
        if (ThreadGroups.TryRemove(tid, out var entry))
            entry.Thread?.Dispose();
    }

    /// <summary>
    /// A thread pidfd polls readable once its thread has exited. Another worker may have forgotten (disposed) it
    /// meanwhile: the SafeHandle then says so rather than polling a descriptor number that may name something else now.
    /// </summary>
    private static bool Exited(ProcessHandle thread)
    {
        try
        {
            return thread.HasExited;
        }
        catch (ObjectDisposedException)
        {
            return true;
        }
    }

    private string ReadComm()
    {
        Span<byte> buffer = stackalloc byte[64]; // TASK_COMM_LEN is 16
        int n = ProcFs.Read(Pid, "comm"u8, buffer);
        if (n <= 0 || !_context.IsValid())
            return "";
        return System.Text.Encoding.UTF8.GetString(buffer[..n].TrimEnd((byte)'\n'));
    }

    private ulong ReadStartTime()
    {
        Span<byte> buffer = stackalloc byte[1024];
        int n = ProcFs.Read(Pid, "stat"u8, buffer);
        if (n <= 0)
            return 0;
        // "pid (comm) state ppid ...": comm may hold spaces and ')', so fields are counted after the last ')'.
        var rest = buffer[..n];
        int close = rest.LastIndexOf((byte)')');
        if (close < 0 || close + 2 > rest.Length)
            return 0;
        rest = rest[(close + 2)..];
        // Field 3 (state) comes first; field 22 (starttime) is 19 fields later.
        for (int skip = 0; skip < 19; skip++)
        {
            int space = rest.IndexOf((byte)' ');
            if (space < 0)
                return 0;
            rest = rest[(space + 1)..];
        }
        return System.Buffers.Text.Utf8Parser.TryParse(rest, out ulong t, out _) ? t : 0;
    }

    private readonly record struct Status(int Tgid, uint Uid, uint Gid);
}
