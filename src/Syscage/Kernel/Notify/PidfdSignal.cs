using Syscage.Abi;
using static Syscage.Kernel.Interop.Libc;

namespace Syscage.Kernel.Notify;

/// <summary>
/// <c>pidfd_send_signal</c> made by the supervisor on behalf of a notified caller, refusing it when it would reach a
/// protected process. A filter sees only the descriptor's number, not the process behind it (a pidfd, or a
/// <c>/proc/PID</c> directory opened by path), so this is the one way to keep such a descriptor away from the
/// supervisor: the supervisor takes a duplicate of the caller's descriptor (<c>pidfd_getfd</c>), looks at the
/// process it names, and sends the signal through that duplicate itself. The duplicate names the same process
/// whatever the caller does to its descriptor table meanwhile, so there is no time-of-check race; letting the
/// caller's own call run (CONTINUE) would have one.
/// </summary>
/// <remarks>
/// The difference a receiver can see: a signal without <c>info</c> comes from the supervisor's pid (the kernel fills
/// <c>si_pid</c> with the sender's, and refuses a forged <c>SI_USER</c>), and a caller can no longer send itself a
/// siginfo with a non-negative <c>si_code</c> this way (the kernel allows that only to the sending process itself).
/// </remarks>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class PidfdSignal
{
    private const int SiginfoBytes = 128;

    /// <summary>
    /// Performs the notified <c>pidfd_send_signal(pidfd, sig, info, flags)</c> of <paramref name="context"/> unless the
    /// descriptor names one of <paramref name="protectedProcesses"/> or one of their threads, or asks for the process
    /// group one of them is in (<c>PIDFD_SIGNAL_PROCESS_GROUP</c>): then EPERM, as for a process one may not signal.
    /// </summary>
    public static NotificationResponse Send(NotificationContext context, IReadOnlyCollection<int> protectedProcesses)
    {
        ArgumentNullException.ThrowIfNull(protectedProcesses);
        var data = context.Notification.Data;
        int fd = unchecked((int)data.Arg(0)), signal = unchecked((int)data.Arg(1));
        ulong info = data.Arg(2);
        uint flags = unchecked((uint)data.Arg(3));
        using var caller = context.OpenProcess();
        if (caller is null)
            return NotificationResponse.Handled; // the call is gone
        using var copy = caller.TakeDescriptor(fd, out _);
        if (copy is null)
            return context.IsValid() ? NotificationResponse.Error(Errno.EBADF) : NotificationResponse.Handled;
        int target = ProcFs.ProcessOfDescriptor((int)copy.DangerousGetHandle());
        if (target > 0 && Reaches(target, flags, protectedProcesses))
            return NotificationResponse.Error(Errno.EPERM);
        Span<byte> siginfo = stackalloc byte[SiginfoBytes];
        if (info != 0 && context.ReadMemory(info, siginfo) != SiginfoBytes)
            return context.IsValid() ? NotificationResponse.Error(Errno.EFAULT) : NotificationResponse.Handled;
        if (!context.IsValid())
            return NotificationResponse.Handled;
        int errno = ProcessHandle.Signal(copy, signal, info != 0 ? siginfo : default, flags);
        return errno == 0 ? NotificationResponse.Return(0) : NotificationResponse.Error(errno);
    }

    private static bool Reaches(int target, uint flags, IReadOnlyCollection<int> protectedProcesses)
    {
        int group = (flags & PIDFD_SIGNAL_PROCESS_GROUP) != 0 ? ProcFs.ProcessGroup(target) : -1;
        foreach (int p in protectedProcesses)
            if (target == p || ProcFs.IsThreadOf(target, p) || (group > 0 && ProcFs.ProcessGroup(p) == group))
                return true;
        return false;
    }
}
