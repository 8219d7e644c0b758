using System.Runtime.InteropServices;
using static Syscage.Kernel.Interop.Libc;

namespace Syscage.Kernel;

/// <summary>
/// A seccomp user-notification listener: the file descriptor <c>seccomp(SECCOMP_SET_MODE_FILTER,
/// SECCOMP_FILTER_FLAG_NEW_LISTENER)</c> returns. Closing it answers every pending and future notification of
/// its filter: once the supervisor is gone, "the kernel causes the target process's system call to fail with the
/// error ENOSYS" (seccomp_unotify(2)).
/// </summary>
public sealed class ListenerHandle : SafeHandle
{
    /// <summary>An invalid handle (for marshalling).</summary>
    public ListenerHandle() : base(-1, ownsHandle: true)
    {
    }

    /// <summary>Wraps <paramref name="fd"/>, a listener this process owns.</summary>
    public ListenerHandle(int fd, bool ownsHandle = true) : base(-1, ownsHandle) => SetHandle(fd);

    /// <inheritdoc/>
    public override bool IsInvalid => handle < 0;

    /// <summary>The descriptor number in this process.</summary>
    public int Fd => (int)handle;

    /// <summary>
    /// Takes a duplicate of descriptor <paramref name="fd"/> of process <paramref name="pid"/> with
    /// <c>pidfd_open</c> + <c>pidfd_getfd</c>: "The caller must have PTRACE_MODE_ATTACH_REALCREDS permission over
    /// the target process" (pidfd_getfd(2)); the new descriptor is close-on-exec.
    /// </summary>
    public static ListenerHandle TakeFrom(int pid, int fd)
    {
        int pidfd = (int)syscall(SYS_pidfd_open, pid, 0, 0);
        if (pidfd < 0)
            throw KernelException.FromLastError("pidfd_open");
        try
        {
            int mine = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
            if (mine < 0)
                throw KernelException.FromLastError("pidfd_getfd", "the listener is taken from the command's process, which needs ptrace rights over it (same user; Yama ptrace_scope at most 1)");
            return new ListenerHandle(mine);
        }
        finally
        {
            close(pidfd);
        }
    }

    /// <summary>
    /// True when descriptor <paramref name="fd"/> of this process is a seccomp user-notification listener: its
    /// <c>/proc/self/fd</c> link reads <c>anon_inode:seccomp notify</c>, the name kernel/seccomp.c gives the file
    /// (<c>anon_inode_getfile("seccomp notify", ...)</c>). Any other descriptor — an eventfd, a pipe, a socket — is not.
    /// </summary>
    public static bool IsSeccompListener(int fd)
    {
        if (fd < 0)
            return false;
        try
        {
            return new FileInfo($"/proc/self/fd/{fd.ToString(System.Globalization.CultureInfo.InvariantCulture)}").LinkTarget == "anon_inode:seccomp notify";
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <inheritdoc/>
    protected override bool ReleaseHandle() => close((int)handle) == 0;
}
