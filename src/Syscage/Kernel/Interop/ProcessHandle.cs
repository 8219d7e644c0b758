using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Syscage.Abi;
using static Syscage.Kernel.Interop.Libc;

namespace Syscage.Kernel;

/// <summary>
/// A pidfd (<c>pidfd_open(2)</c>): a descriptor that names one process — or, with <see cref="OpenThread"/>, one thread —
/// for as long as it is open, so that signals and waits through it can never reach a process that reused the pid.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ProcessHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    /// <summary>An invalid handle (for marshalling).</summary>
    public ProcessHandle() : base(ownsHandle: true)
    {
    }

    private ProcessHandle(nint fd) : base(ownsHandle: true) => SetHandle(fd);

    /// <summary>Takes ownership of pidfd <paramref name="fd"/> (one the kernel handed over, as <c>SO_PEERPIDFD</c> does).</summary>
    internal static ProcessHandle Adopt(int fd) => new(fd);

    /// <summary>The descriptor number in this process.</summary>
    public int Fd => (int)handle;

    /// <summary>A pidfd for process <paramref name="pid"/>, or null (with the errno in <paramref name="errno"/>) when it can't be opened.</summary>
    public static ProcessHandle? Open(int pid, out int errno) => Open(pid, 0, out errno);

    /// <summary>A pidfd for thread <paramref name="tid"/> alone (<c>PIDFD_THREAD</c>, Linux 6.9), or null when it can't be opened.</summary>
    public static ProcessHandle? OpenThread(int tid, out int errno) => Open(tid, Uapi.PIDFD_THREAD, out errno);

    private static ProcessHandle? Open(int pid, int flags, out int errno)
    {
        nint fd = syscall(SYS_pidfd_open, pid, flags, 0);
        errno = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
        return fd < 0 ? null : new ProcessHandle(fd);
    }

    /// <summary>True once the process (or thread) has exited: "a pidfd ... becomes readable when the process terminates" (pidfd_open(2)).</summary>
    public unsafe bool HasExited
    {
        get
        {
            bool added = false;
            try
            {
                DangerousAddRef(ref added);
                PollFd fd = new() { Fd = Fd, Events = (short)Uapi.POLLIN };
                return poll(&fd, 1, 0) != 0; // 1: exited; -1: treat as gone too
            }
            finally
            {
                if (added)
                    DangerousRelease();
            }
        }
    }

    /// <summary>
    /// <c>pidfd_send_signal(2)</c> with <paramref name="signal"/>, optionally with a <c>siginfo_t</c> (128 bytes) and
    /// flags; 0 when sent, else the errno.
    /// </summary>
    public int Signal(int signal, ReadOnlySpan<byte> siginfo = default, uint flags = 0) => Signal(this, signal, siginfo, flags);

    /// <summary>
    /// <c>pidfd_send_signal(2)</c> through any descriptor the kernel takes as a pidfd — a pidfd, or a <c>/proc/PID</c>
    /// directory; 0 when sent, else the errno.
    /// </summary>
    public static unsafe int Signal(SafeHandle pidfd, int signal, ReadOnlySpan<byte> siginfo = default, uint flags = 0)
    {
        ArgumentNullException.ThrowIfNull(pidfd);
        bool added = false;
        try
        {
            pidfd.DangerousAddRef(ref added);
            fixed (byte* info = siginfo)
                return syscall4(SYS_pidfd_send_signal, pidfd.DangerousGetHandle(), signal, siginfo.IsEmpty ? 0 : (nint)info, (nint)flags) == 0
                    ? 0 : Marshal.GetLastPInvokeError();
        }
        finally
        {
            if (added)
                pidfd.DangerousRelease();
        }
    }

    /// <summary>
    /// A duplicate of descriptor <paramref name="fd"/> of this process in the caller (<c>pidfd_getfd(2)</c>: "The caller
    /// must have PTRACE_MODE_ATTACH_REALCREDS permission over the target process"), close-on-exec; null with the errno when refused.
    /// </summary>
    public SafeFileHandle? TakeDescriptor(int fd, out int errno)
    {
        bool added = false;
        try
        {
            DangerousAddRef(ref added);
            nint mine = syscall(SYS_pidfd_getfd, Fd, fd, 0);
            errno = mine < 0 ? Marshal.GetLastPInvokeError() : 0;
            return mine < 0 ? null : new SafeFileHandle(mine, ownsHandle: true);
        }
        finally
        {
            if (added)
                DangerousRelease();
        }
    }

    /// <summary>
    /// Waits for this process — a child of the caller — to end and reaps it (<c>waitid(P_PIDFD, ..., WEXITED)</c>,
    /// which no other wait can confuse with a reused pid). False when it was not ours to reap (ECHILD: reaped already).
    /// </summary>
    public unsafe bool WaitForExit(out int exitCode, out int signal)
    {
        exitCode = -1;
        signal = 0;
        byte* info = stackalloc byte[128];
        new Span<byte>(info, 128).Clear();
        bool added = false;
        try
        {
            DangerousAddRef(ref added);
            while (waitid(P_PIDFD, Fd, info, WEXITED) != 0)
                if (Marshal.GetLastPInvokeError() != Errno.EINTR)
                    return false;
        }
        finally
        {
            if (added)
                DangerousRelease();
        }
        // siginfo_t: si_code at offset 8 (CLD_EXITED, CLD_KILLED, CLD_DUMPED), si_status at 24.
        int code = *(int*)(info + 8), value = *(int*)(info + 24);
        if (code == Uapi.CLD_EXITED)
            exitCode = value;
        else if (code is Uapi.CLD_KILLED or Uapi.CLD_DUMPED)
            signal = value;
        return true;
    }

    /// <inheritdoc/>
    protected override bool ReleaseHandle() => close((int)handle) == 0;
}
