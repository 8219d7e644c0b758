using System.Runtime.InteropServices;
using static Syscage.Kernel.Interop.Libc;

namespace Syscage.Kernel;

/// <summary>
/// A seccomp user-notification listener: the file descriptor <c>seccomp(SECCOMP_SET_MODE_FILTER,
/// SECCOMP_FILTER_FLAG_NEW_LISTENER)</c> returns. Closing it answers every pending and future notification of
/// its filter: once the supervisor is gone, "the kernel causes the target process's system call to fail with the
/// error ENOSYS" (seccomp_unotify(2)).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
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
        using var process = ProcessHandle.Open(pid, out int errno) ?? throw new KernelException("pidfd_open", errno);
        var mine = process.TakeDescriptor(fd, out errno) ?? throw new KernelException("pidfd_getfd", errno,
            "the listener is taken from the command's process, which needs ptrace rights over it (same user; Yama ptrace_scope at most 1)");
        return Adopt(mine);
    }

    /// <summary>Takes over <paramref name="descriptor"/> (which is then invalid) as a listener handle, without checking what it is.</summary>
    public static ListenerHandle Adopt(SafeHandle descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        var listener = new ListenerHandle((int)descriptor.DangerousGetHandle());
        descriptor.SetHandleAsInvalid();
        return listener;
    }

    /// <summary>
    /// True when <paramref name="descriptor"/> (of this process) is a seccomp user-notification listener: its
    /// <c>/proc/self/fd</c> link reads <c>anon_inode:seccomp notify</c>, the name kernel/seccomp.c gives the file
    /// (<c>anon_inode_getfile("seccomp notify", ...)</c>). Any other descriptor — an eventfd, a pipe, a socket — is not.
    /// </summary>
    public static bool IsSeccompListener(SafeHandle descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        if (descriptor.IsInvalid || descriptor.IsClosed)
            return false;
        try
        {
            string fd = ((int)descriptor.DangerousGetHandle()).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return new FileInfo($"/proc/self/fd/{fd}").LinkTarget == "anon_inode:seccomp notify";
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <inheritdoc/>
    protected override bool ReleaseHandle() => close((int)handle) == 0;
}
