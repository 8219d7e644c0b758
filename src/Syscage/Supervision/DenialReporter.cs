using Syscage.Bpf;
using Syscage.Policy;
using Errno = Syscage.Abi.Errno;
using Syscage.Abi;
using Syscage.Kernel.Notify;

namespace Syscage.Supervision;

/// <summary>
/// <c>syscage run --log-denials</c>: shows each denied call as it happens, decoded
/// (<c>openat(AT_FDCWD, "/etc/shadow", O_RDONLY) -> EPERM by default.policy:12</c>), then gives it its real verdict.
/// With <see cref="Audit"/> (<c>syscage run --audit</c>) it shows the verdict and lets the call run instead.
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
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _refusedBySyscall = new(StringComparer.Ordinal);

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

    /// <summary>
    /// Audit: log each call the policy would refuse — by its rules, its default or bad-arch action, or a <c>NOTIFY</c>
    /// handler's error — and let it run (the check before enforcing). Calls a handler answers otherwise (a value, an
    /// emulation) are answered as without audit.
    /// </summary>
    public bool Audit { get; init; }

    /// <summary>The refused (or, in <see cref="Audit"/>, would-be refused) calls so far, per syscall name.</summary>
    public IReadOnlyDictionary<string, long> DenialsBySyscall => _refusedBySyscall;

    /// <summary>One line for the end of an audited run: how many calls would have been refused, and which.</summary>
    public string Summary()
    {
        long n = Denials;
        if (n == 0)
            return $"audit: no call would have been refused by {Policy.Name}";
        var which = _refusedBySyscall.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value}"));
        return string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"audit: {n} call{(n == 1 ? "" : "s")} would have been refused by {Policy.Name}: {string.Join(", ", which)}");
    }

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

    /// <summary>
    /// The policy the kernel runs for <see cref="Audit"/>: as <see cref="NotifyDenials"/>, and a denying bad-arch action
    /// becomes USER_NOTIF too, so that nothing but the supervisor's guard refuses a call.
    /// </summary>
    public static SeccompPolicy AuditFilter(SeccompPolicy policy)
    {
        var notified = NotifyDenials(policy);
        return IsDenial(policy.BadArchAction.Effective)
            ? new SeccompPolicy(notified.DefaultAction, SeccompAction.UserNotif, notified.Sections, notified.Name)
            : notified;
    }

    /// <summary>Handles one call: the <see cref="NotificationHandler"/> to give a <see cref="NotificationSupervisor"/>.</summary>
    public ValueTask<NotificationResponse> HandleAsync(Notification notification, NotificationContext context)
    {
        var decision = Policy.Evaluate(notification.Data);
        var action = decision.Action.Effective;
        if (!IsDenial(action))
        {
            if (action.Kind != SeccompActionKind.UserNotif)
                return ValueTask.FromResult(NotificationResponse.Continue);
            var handled = _router.HandleAsync(notification, context);
            if (!Audit)
                return handled;
            return handled.IsCompletedSuccessfully ? ValueTask.FromResult(LetRun(handled.Result, notification, context, decision)) : Later(handled, notification, context, decision);
        }
        Interlocked.Increment(ref _denials);
        _refusedBySyscall.AddOrUpdate(SyscallDecoder.Name(notification.Data), 1, (_, n) => n + 1);
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
        if (Audit)
        {
            string verdict = action.Kind switch
            {
                SeccompActionKind.Errno => $"{what} by {by}",
                SeccompActionKind.Trap => $"TRAP({action.Data}) by {by}",
                SeccompActionKind.KillThread => $"KILL_THREAD by {by}",
                _ => $"KILL_PROCESS by {by}",
            };
            _log.WriteLine($"syscage: audit: {call} -> would be {verdict}; let run (pid {notification.Pid})");
            return ValueTask.FromResult(NotificationResponse.Continue);
        }
        if (Json)
            _log.WriteLine(DenialEvent.Json(notification, context, Policy, decision, action));
        else
            _log.WriteLine(action.Kind == SeccompActionKind.Errno ? $"syscage: {call} -> {what} by {by}" : $"syscage: {call} -> {what}");
        return ValueTask.FromResult(Applier.Apply(action, context, call));
    }

    /// <summary>Audit: a handler's error is logged as a refusal and the call runs; any other answer stands.</summary>
    private NotificationResponse LetRun(NotificationResponse response, Notification notification, NotificationContext context, PolicyDecision decision)
    {
        if (response.Kind != NotificationResponseKind.Error)
            return response;
        Interlocked.Increment(ref _denials);
        _refusedBySyscall.AddOrUpdate(SyscallDecoder.Name(notification.Data), 1, (_, n) => n + 1);
        string by = decision.Rule?.Source?.ToString() ?? $"a rule of {Policy.Name}";
        string handler = decision.Rule?.Handler ?? _router.DefaultHandler;
        _log.WriteLine($"syscage: audit: {SyscallDecoder.Decode(notification.Data, context)} -> would be {Errno.Name(response.Errno) ?? response.Errno.ToString(System.Globalization.CultureInfo.InvariantCulture)} " +
                       $"by handler '{handler}' of {by}; let run (pid {notification.Pid})");
        return NotificationResponse.Continue;
    }

    private async ValueTask<NotificationResponse> Later(ValueTask<NotificationResponse> pending, Notification notification, NotificationContext context, PolicyDecision decision) =>
        LetRun(await pending.ConfigureAwait(false), notification, context, decision);
}
