using Syscage.Bpf;
using Syscage.Policy;
using Errno = Syscage.Abi.Errno;
using Syscage.Abi;
using Syscage.Kernel.Notify;

namespace Syscage.Supervision;

/// <summary>
/// <c>syscage run --log-denials</c>: shows each denied call as it happens, decoded
/// (<c>openat(AT_FDCWD, "/etc/shadow", O_RDONLY) -> EPERM by default.policy:12</c>), then gives it its real verdict.
/// </summary>
/// <remarks>
/// The kernel runs <see cref="NotifyDenials"/>'s variant of the policy, where every denial (ERRNO, KILL_*, TRAP) is
/// USER_NOTIF; the supervisor finds the original verdict and the deciding rule with the policy's reference
/// evaluator, logs, and applies it with the <see cref="VerdictApplier"/> (ERRNO exactly as the kernel; KILL with
/// SIGKILL, which is final where a SIGSYS from user space is not; TRAP with a SIGSYS after the call). Calls the
/// original policy itself sends to user space (NOTIFY) go to <see cref="NotificationRouter"/>.
/// </remarks>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class DenialReporter
{
    private readonly TextWriter _log;
    private readonly NotificationRouter _router;
    private long _denials;

    /// <summary>Creates a reporter for <paramref name="policy"/> (the original one), writing to <paramref name="log"/>.</summary>
    public DenialReporter(SeccompPolicy policy, TextWriter log, NotificationRouter? router = null, VerdictApplier? applier = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(log);
        Policy = policy;
        _log = TextWriter.Synchronized(log);
        _router = router ?? new NotificationRouter(policy, log);
        Applier = applier ?? new VerdictApplier();
    }

    /// <summary>The original policy.</summary>
    public SeccompPolicy Policy { get; }

    /// <summary>What applies the verdicts (and remembers the kills).</summary>
    public VerdictApplier Applier { get; }

    /// <summary>Denied calls seen so far.</summary>
    public long Denials => Interlocked.Read(ref _denials);

    /// <summary>Write each denial as one JSON object on a line (<see cref="DenialEvent.Json"/>) instead of text.</summary>
    public bool Json { get; init; }

    /// <summary>True for the actions <c>--log-denials</c> reports: ERRNO, KILL_PROCESS, KILL_THREAD, TRAP (and unknown actions, which kill).</summary>
    public static bool IsDenial(SeccompAction action) => action.Kind is SeccompActionKind.Errno or SeccompActionKind.KillProcess
        or SeccompActionKind.KillThread or SeccompActionKind.Trap or SeccompActionKind.Unknown;

    /// <summary>
    /// The policy the kernel runs: every denying rule, a denying default and a denying newer-syscalls action become
    /// USER_NOTIF (the bad-arch action is kept).
    /// </summary>
    public static SeccompPolicy NotifyDenials(SeccompPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var sections = policy.Sections.Select(s => new ArchitecturePolicy(s.Architecture,
            s.Syscalls.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<Rule>)[.. kv.Value.Select(r => IsDenial(r.Action) ? r with { Action = SeccompAction.UserNotif } : r)])));
        var newer = policy.Newer is { } n && IsDenial(n.Action) ? new NewerSyscalls(SeccompAction.UserNotif, n.Newest, n.Basis, n.Source) : policy.Newer;
        return new SeccompPolicy(IsDenial(policy.DefaultAction) ? SeccompAction.UserNotif : policy.DefaultAction, policy.BadArchAction, sections, policy.Name) { Newer = newer };
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
            DecisionReason.Newer => $"{(Policy.Newer!.Source is { Line: > 0 } at ? at.ToString() : Policy.Name)} (past the newest syscall {Policy.Newer.Basis} on {decision.Section!.Architecture.Name})",
            _ => $"the bad-arch action of {Policy.Name}",
        };
        string what = action.Kind switch
        {
            SeccompActionKind.Errno => Errno.Name(action.Data) ?? action.Data.ToString(System.Globalization.CultureInfo.InvariantCulture),
            SeccompActionKind.Trap => $"TRAP({action.Data}) by {by}: SIGSYS to thread {notification.Pid}",
            SeccompActionKind.KillThread => $"KILL_THREAD by {by}: killing pid {notification.Pid}'s process with SIGKILL",
            _ => $"KILL_PROCESS by {by}: killing pid {notification.Pid}'s process with SIGKILL",
        };
        if (Json)
            _log.WriteLine(DenialEvent.Json(notification, context, Policy, decision, action));
        else
            _log.WriteLine(action.Kind == SeccompActionKind.Errno ? $"syscage: {call} -> {what} by {by}" : $"syscage: {call} -> {what}");
        return ValueTask.FromResult(Applier.Apply(action, context, call));
    }
}
