using Syscage.Abi;
using System.Runtime.InteropServices;
using System.Text;
using static Syscage.Kernel.Interop.Libc;
using static Syscage.Kernel.Interop.NotifStructs;

namespace Syscage.Kernel.Notify;

/// <summary>
/// What a handler can do about the call it handles: check that it is still pending, read the caller's memory,
/// install a descriptor in the caller, signal it.
/// </summary>
/// <remarks>
/// <b>Memory reads are for logging and fast rejection, never for allowing.</b> The caller's memory can change
/// between the read and the moment the kernel runs the call (another thread, or a process sharing the memory),
/// so a path read here is not the path <c>SECCOMP_USER_NOTIF_FLAG_CONTINUE</c> will open. The uapi header says it
/// plainly: "the seccomp notifier _cannot_ be used to implement a security policy" (include/uapi/linux/seccomp.h).
/// Every read is followed by <c>SECCOMP_IOCTL_NOTIF_ID_VALID</c>: if the notification is gone, the task may
/// have died and its pid been reused, and the bytes are discarded.
/// </remarks>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public readonly struct NotificationContext
{
    private readonly NotificationSupervisor _supervisor;

    internal NotificationContext(NotificationSupervisor supervisor, in Notification notification, nint rawData = 0)
    {
        _supervisor = supervisor;
        Notification = notification;
        RawData = rawData;
    }

    /// <summary>
    /// The call's <c>struct seccomp_data</c> as the kernel wrote it into the supervisor's receive buffer (64 bytes in the
    /// machine's layout), or 0. Valid only while the handler runs synchronously: the buffer takes the worker's next
    /// notification once the handler has returned (or gone asynchronous), so nothing may keep the address.
    /// </summary>
    internal nint RawData { get; }

    /// <summary>The call being handled.</summary>
    public Notification Notification { get; }

    /// <summary>The supervisor delivering it.</summary>
    public NotificationSupervisor Supervisor => _supervisor;

    /// <summary><c>SECCOMP_IOCTL_NOTIF_ID_VALID</c>: true while the call still waits for an answer.</summary>
    public bool IsValid() => _supervisor.IsIdValid(Notification.Id);

    /// <summary>
    /// Whether this process may read the caller's memory at all: <c>process_vm_readv</c> needs
    /// <c>PTRACE_MODE_ATTACH_REALCREDS</c> ("Permission to read from or write to another process is governed by a ptrace
    /// access mode PTRACE_MODE_ATTACH_REALCREDS check", process_vm_readv(2)). One byte at address 0 is tried: EFAULT means
    /// the check passed and only the address is bad; EPERM, EACCES or ESRCH mean no.
    /// </summary>
    public unsafe bool MayReadMemory()
    {
        byte b;
        IoVec local = new() { Base = (nint)(&b), Length = 1 };
        IoVec remote = new() { Base = 0, Length = 1 };
        nint n = process_vm_readv(Notification.Pid, &local, 1, &remote, 1, 0);
        if (n >= 0)
            return true; // something is mapped at 0 (mmap_min_addr = 0): the read was allowed
        return Marshal.GetLastPInvokeError() == Errno.EFAULT;
    }

    /// <summary>
    /// Reads the caller's memory at <paramref name="address"/> with <c>process_vm_readv</c>, then checks the
    /// notification is still valid. Returns the number of bytes read (it stops at an unmapped page), or -1 when
    /// nothing could be read or the notification is gone.
    /// </summary>
    public unsafe int ReadMemory(ulong address, Span<byte> destination)
    {
        if (destination.IsEmpty)
            return 0;
        nint n;
        fixed (byte* p = destination)
        {
            IoVec local = new() { Base = (nint)p, Length = (nuint)destination.Length };
            IoVec remote = new() { Base = (nint)address, Length = (nuint)destination.Length };
            // process_vm_readv(2) may transfer less than asked: it stops at the first inaccessible page.
            n = process_vm_readv(Notification.Pid, &local, 1, &remote, 1, 0);
        }
        if (n < 0 || !IsValid())
            return -1;
        return (int)n;
    }

    /// <summary>
    /// Reads a NUL-terminated string (a path, usually) of at most <paramref name="maxBytes"/> bytes from the caller
    /// at <paramref name="address"/>, as UTF-8. Null when unreadable or when the notification is gone; when no NUL
    /// is found within the limit, the text read so far followed by <c>...</c>. For logging, not for allowing.
    /// </summary>
    public string? ReadString(ulong address, int maxBytes = 4096)
    {
        if (address == 0)
            return null;
        Span<byte> buffer = maxBytes <= 1024 ? stackalloc byte[maxBytes] : new byte[maxBytes];
        int total = 0;
        while (total < maxBytes)
        {
            // Read page by page: a string ending just before an unmapped page must still be found.
            ulong at = address + (ulong)total;
            int chunk = (int)Math.Min((ulong)(maxBytes - total), 4096 - (at & 4095));
            int n = ReadMemory(at, buffer.Slice(total, chunk));
            if (n <= 0)
                return total == 0 ? null : Encoding.UTF8.GetString(buffer[..total]) + "...";
            int nul = buffer.Slice(total, n).IndexOf((byte)0);
            if (nul >= 0)
                return Encoding.UTF8.GetString(buffer[..(total + nul)]);
            total += n;
        }
        return Encoding.UTF8.GetString(buffer[..total]) + "...";
    }

    /// <summary>
    /// <c>SECCOMP_IOCTL_NOTIF_ADDFD</c>: installs a duplicate of <paramref name="fd"/> in the caller and returns
    /// its number there. With <paramref name="targetFd"/> (<c>SECCOMP_ADDFD_FLAG_SETFD</c>) it takes that number,
    /// replacing what was there.
    /// </summary>
    public int AddFd(SafeHandle fd, int? targetFd = null, bool closeOnExec = false) =>
        _supervisor.AddFd(Notification.Id, fd, targetFd, closeOnExec, send: false);

    /// <summary>
    /// <c>SECCOMP_IOCTL_NOTIF_ADDFD</c> with <c>SECCOMP_ADDFD_FLAG_SEND</c>: installs the descriptor and answers
    /// the call with its number: it "can be used to atomically add the file descriptor and return that value, making
    /// sure no file descriptors are inadvertently leaked into the target" (seccomp_unotify(2)). Return the result
    /// from the handler.
    /// </summary>
    public NotificationResponse AddFdAndReturn(SafeHandle fd, bool closeOnExec = false)
    {
        _supervisor.AddFd(Notification.Id, fd, null, closeOnExec, send: true);
        return NotificationResponse.Handled;
    }

    /// <summary>
    /// Answers the call now (<c>SECCOMP_IOCTL_NOTIF_SEND</c>), for handlers that must act after the answer (e.g.
    /// signal the caller once its call has returned); the handler then returns <see cref="NotificationResponse.Handled"/>.
    /// False when the call is gone.
    /// </summary>
    public bool Respond(NotificationResponse response) => _supervisor.Send(Notification, response);

    /// <summary>The process (thread group) id of the caller, from <c>/proc/PID/status</c>; -1 when it is gone.</summary>
    public int ThreadGroupId()
    {
        Span<byte> buffer = stackalloc byte[ProcFs.StatusBytes];
        int n = ProcFs.Read(Notification.Pid, "status"u8, buffer);
        long tgid = n > 0 ? ProcFs.Field(buffer[..n], "Tgid:"u8) : -1;
        return tgid > 0 && IsValid() ? (int)tgid : -1;
    }

    /// <summary>
    /// Sends <paramref name="signal"/> to the calling thread (<c>tgkill</c>), after checking the notification is
    /// still pending (so the thread exists and its id can't have been reused). False when it is gone.
    /// </summary>
    public bool SignalThread(int signal)
    {
        int tgid = ThreadGroupId();
        if (tgid < 0)
            return false;
        return syscall(SYS_tgkill, tgid, Notification.Pid, signal) == 0;
    }

    /// <summary>
    /// A pidfd for the caller's whole process, opened before the notification is checked to be still pending, so it
    /// names the caller's process and never a process that reused its pid; null when the call is gone (its task died
    /// or was interrupted) or the pidfd could not be opened.
    /// </summary>
    public ProcessHandle? OpenProcess() => OpenProcess(out _);

    private ProcessHandle? OpenProcess(out int tgid)
    {
        tgid = ThreadGroupId();
        if (tgid < 0)
            return null;
        var pidfd = ProcessHandle.Open(tgid, out _);
        if (pidfd is not null && !IsValid())
        {
            pidfd.Dispose();
            return null;
        }
        return pidfd;
    }

    /// <summary>
    /// Sends <paramref name="signal"/> to the caller's whole process through <see cref="OpenProcess()"/>'s pidfd, so the
    /// signal can only reach the caller's process. Returns the process id when the signal was sent, 0 when the call is
    /// gone, -1 when the signal could not be sent.
    /// </summary>
    public int KillProcess(int signal)
    {
        using var pidfd = OpenProcess(out int tgid);
        if (pidfd is null)
            return IsValid() ? -1 : 0;
        return pidfd.Signal(signal) == 0 ? tgid : -1;
    }
}
