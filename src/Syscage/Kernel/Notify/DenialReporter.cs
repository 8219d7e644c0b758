using Syscage.Bpf;
using Syscage.Policy;
using Errno = Syscage.Policy.Syscalls.Errno;

namespace Syscage.Kernel.Notify;

/// <summary>
/// <c>syscage run --log-denials</c>: shows each denied call as it happens, decoded
/// (<c>openat(AT_FDCWD, "/etc/shadow", O_RDONLY) -> EPERM by default.policy:12</c>), then gives it its real verdict.
/// </summary>
/// <remarks>
/// The kernel runs <see cref="NotifyDenials"/>'s variant of the policy, where every denial (ERRNO, KILL_*, TRAP) is
/// USER_NOTIF; the supervisor finds the original verdict and the deciding rule with the policy's reference
/// evaluator, logs, and applies it:
/// <list type="bullet">
/// <item>ERRNO(n): the call fails with n (ERRNO(0) returns 0), exactly as the kernel would.</item>
/// <item>KILL_PROCESS, KILL_THREAD: SIGSYS to the caller's process, whose default action ends it with a core,
/// as the kernel's does. Not exact: a process that catches or blocks SIGSYS survives (its call is interrupted
/// and, restarted, notified again), and KILL_THREAD ends the whole process, not just the thread.</item>
/// <item>TRAP(n): the call fails with ENOSYS and SIGSYS goes to the calling thread (tgkill). Not exact: the
/// kernel's siginfo (si_code SYS_SECCOMP, si_syscall, si_call_addr, si_errno = n) can't be forged from
/// another process — the kernel refuses positive si_code values from rt_tgsigqueueinfo — so the handler sees
/// an ordinary SI_TKILL SIGSYS, a little after the call returned rather than in its place.</item>
/// </list>
/// Calls the original policy itself sends to user space (NOTIFY) go to <see cref="NotificationRouter"/>.
/// </remarks>
public sealed class DenialReporter
{
    private const int SIGSYS = 31, ENOSYS = 38;
    private readonly TextWriter _log;
    private readonly NotificationRouter _router;
    private long _denials;

    /// <summary>Creates a reporter for <paramref name="policy"/> (the original one), writing to <paramref name="log"/>.</summary>
    public DenialReporter(SeccompPolicy policy, TextWriter log, NotificationRouter? router = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(log);
        Policy = policy;
        _log = TextWriter.Synchronized(log);
        _router = router ?? new NotificationRouter(policy, log);
    }

    /// <summary>The original policy.</summary>
    public SeccompPolicy Policy { get; }

    /// <summary>Denied calls seen so far.</summary>
    public long Denials => Interlocked.Read(ref _denials);

    /// <summary>True for the actions <c>--log-denials</c> reports: ERRNO, KILL_PROCESS, KILL_THREAD, TRAP (and unknown actions, which kill).</summary>
    public static bool IsDenial(SeccompAction action) => action.Kind is SeccompActionKind.Errno or SeccompActionKind.KillProcess
        or SeccompActionKind.KillThread or SeccompActionKind.Trap or SeccompActionKind.Unknown;

    /// <summary>The policy the kernel runs: every denying rule and a denying default become USER_NOTIF (the bad-arch action is kept).</summary>
    public static SeccompPolicy NotifyDenials(SeccompPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var sections = policy.Sections.Select(s => new ArchitecturePolicy(s.Architecture,
            s.Syscalls.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<Rule>)[.. kv.Value.Select(r => IsDenial(r.Action) ? r with { Action = SeccompAction.UserNotif } : r)])));
        return new SeccompPolicy(IsDenial(policy.DefaultAction) ? SeccompAction.UserNotif : policy.DefaultAction, policy.BadArchAction, sections, policy.Name);
    }

    /// <summary>Handles one call: the <see cref="NotificationHandler"/> to give a <see cref="NotificationSupervisor"/>.</summary>
    public ValueTask<NotificationResponse> HandleAsync(Notification notification, NotificationContext context)
    {
        var decision = Policy.Evaluate(notification.Data);
        var action = decision.Action.Effective;
        if (!IsDenial(action))
        {
            return action.Kind switch
            {
                SeccompActionKind.UserNotif => _router.HandleAsync(notification, context),
                _ => ValueTask.FromResult(NotificationResponse.Continue),
            };
        }
        Interlocked.Increment(ref _denials);
        string call = SyscallDecoder.Decode(notification.Data, context);
        string by = decision.Reason switch
        {
            DecisionReason.Rule => decision.Rule?.Source?.ToString() ?? $"a rule of {Policy.Name}",
            DecisionReason.Default => $"the default action of {Policy.Name}",
            _ => $"the bad-arch action of {Policy.Name}",
        };
        switch (action.Kind)
        {
            case SeccompActionKind.Errno:
                _log.WriteLine($"syscage: {call} -> {Errno.Name(action.Data) ?? action.Data.ToString(System.Globalization.CultureInfo.InvariantCulture)} by {by}");
                return ValueTask.FromResult(action.Data == 0 ? NotificationResponse.Return(0) : NotificationResponse.Error(action.Data));
            case SeccompActionKind.Trap:
            {
                _log.WriteLine($"syscage: {call} -> TRAP({action.Data}) by {by}: SIGSYS to thread {notification.Pid}");
                int tgid = context.ThreadGroupId();
                // Answer first: a signal during the wait would interrupt and restart the call, notifying it again.
                if (context.Respond(NotificationResponse.Error(ENOSYS)) && tgid > 0)
                    _ = Interop.Libc.syscall(Interop.Libc.SYS_tgkill, tgid, notification.Pid, SIGSYS);
                return ValueTask.FromResult(NotificationResponse.Handled);
            }
            default:
            {
                string name = action.Kind == SeccompActionKind.KillThread ? "KILL_THREAD" : "KILL_PROCESS";
                _log.WriteLine($"syscage: {call} -> {name} by {by}: killing pid {notification.Pid} with SIGSYS");
                // Signal while the call is still pending, so the task never sees the call return.
                if (!context.SignalProcess(SIGSYS))
                    return ValueTask.FromResult(NotificationResponse.Handled);
                return ValueTask.FromResult(NotificationResponse.Error(ENOSYS));
            }
        }
    }
}
