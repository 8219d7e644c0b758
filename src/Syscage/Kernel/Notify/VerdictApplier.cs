using System.Collections.Concurrent;
using Syscage.Bpf;
using Syscage.Abi;

namespace Syscage.Kernel.Notify;

/// <summary>A process the supervisor killed for a KILL verdict.</summary>
/// <param name="ProcessId">The caller's process (thread group).</param>
/// <param name="ThreadId">The calling thread.</param>
/// <param name="Action">The verdict (KILL_PROCESS, KILL_THREAD or an unknown action, which kills).</param>
/// <param name="Call">The call, as the handler described it.</param>
public sealed record SupervisorKill(int ProcessId, int ThreadId, SeccompAction Action, string Call);

/// <summary>
/// Applies a seccomp verdict to a notified call from user space, as the kernel would have applied it where user
/// space can, and as finally where it can't be the same: the one applier of <c>--log-denials</c>, <c>NOTIFY</c>
/// handlers and eBPF verdicts.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>ALLOW and LOG: the call runs (<c>SECCOMP_USER_NOTIF_FLAG_CONTINUE</c>).</item>
/// <item>ERRNO(n): the call fails with n (data above 4095 clamped, as the kernel does); ERRNO(0) returns 0 without
/// running it.</item>
/// <item>TRACE: fails with ENOSYS, the kernel's answer when no tracer is attached (none can be here).</item>
/// <item>KILL_PROCESS, KILL_THREAD and unknown actions: the caller's whole process gets SIGKILL while its call is
/// pending, through a pidfd opened before the notification was checked to be still pending (so a reused pid is never
/// hit). The kernel kills with SIGSYS, which can't be caught there; from user space a SIGSYS can be caught, ignored or
/// blocked by the target — by another of its threads, even while the call waits — so only SIGKILL is final: the call
/// never returns, no handler runs. The difference shows in the exit status (128+9, not 128+31) and in the missing core
/// dump; <see cref="Kills"/> records each kill so the exit can be reported as the verdict it was. KILL_THREAD kills the
/// whole process: user space can't end one thread of another process.</item>
/// <item>TRAP(n): the call fails with ENOSYS, then SIGSYS goes to the calling thread (<c>tgkill</c>). Not exact: the
/// handler gets an ordinary <c>SI_TKILL</c> siginfo without <c>si_syscall</c>, <c>si_call_addr</c> or <c>si_errno</c> = n
/// (the kernel refuses a forged <c>SYS_SECCOMP</c> si_code), a little after the call returned.</item>
/// </list>
/// USER_NOTIF is not a verdict to apply: the caller routes it to a handler.
/// </remarks>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class VerdictApplier
{
    private readonly ConcurrentQueue<SupervisorKill> _kills = new();
    private readonly ConcurrentQueue<int> _traps = new();

    /// <summary>Every kill so far, in order.</summary>
    public IReadOnlyCollection<SupervisorKill> Kills => _kills;

    /// <summary>The threads a TRAP verdict sent SIGSYS to, in order.</summary>
    public IReadOnlyCollection<int> TrappedThreads => _traps;

    /// <summary>The kill of process <paramref name="pid"/>, if this applier killed it.</summary>
    public SupervisorKill? KillOf(int pid) => _kills.FirstOrDefault(k => k.ProcessId == pid);

    /// <summary>
    /// The answer to a verdict that needs nothing of the call (ALLOW and LOG run it, ERRNO fails it, TRACE and USER_NOTIF get
    /// ENOSYS), or null for TRAP and the kills, which signal the caller (<see cref="Apply"/>).
    /// </summary>
    internal static NotificationResponse? Answer(SeccompAction action)
    {
        action = action.Effective;
        return AnswerEffective(action, action.Kind);
    }

    /// <summary><see cref="Answer"/> of an action already normalised (<see cref="SeccompAction.Effective"/>), whose kind the caller has.</summary>
    internal static NotificationResponse? AnswerEffective(SeccompAction action, SeccompActionKind kind)
    {
        return kind switch
        {
            SeccompActionKind.Allow or SeccompActionKind.Log => NotificationResponse.Continue,
            SeccompActionKind.Errno => action.Data == 0 ? NotificationResponse.Return(0) : NotificationResponse.Error(action.Data),
            SeccompActionKind.Trace or SeccompActionKind.UserNotif => NotificationResponse.Error(Errno.ENOSYS),
            _ => null,
        };
    }

    /// <summary>
    /// Applies <paramref name="action"/> (normalised with <see cref="SeccompAction.Effective"/> first) to the call of
    /// <paramref name="context"/>; <paramref name="call"/> describes the call for <see cref="Kills"/>. Returns what the
    /// handler returns to its supervisor.
    /// </summary>
    public NotificationResponse Apply(SeccompAction action, NotificationContext context, string call)
    {
        action = action.Effective;
        if (Answer(action) is { } answer)
            return answer;
        switch (action.Kind)
        {
            case SeccompActionKind.Trap:
            {
                int tgid = context.ThreadGroupId();
                // Answer first: a signal during the wait would interrupt the call and, restarted, notify it again.
                if (context.Respond(NotificationResponse.Error(Errno.ENOSYS)) && tgid > 0 &&
                    Interop.Libc.syscall(Interop.Libc.SYS_tgkill, tgid, context.Notification.Pid, Signals.SIGSYS) == 0)
                    _traps.Enqueue(context.Notification.Pid);
                return NotificationResponse.Handled;
            }
            default:
            {
                int tgid = context.KillProcess(Signals.SIGKILL);
                if (tgid > 0)
                {
                    _kills.Enqueue(new SupervisorKill(tgid, context.Notification.Pid, action, call));
                    return NotificationResponse.Handled;
                }
                // Gone already (nothing to answer), or the kill failed: then the call must not run.
                return tgid == 0 ? NotificationResponse.Handled : NotificationResponse.Error(Errno.ENOSYS);
            }
        }
    }
}
