using System.Collections.Concurrent;
using System.Globalization;
using Syscage.Bpf;
using Syscage.Policy;
using Errno = Syscage.Abi.Errno;
using Syscage.Abi;
using Syscage.Kernel.Notify;

namespace Syscage.Supervision;

/// <summary>
/// Routes the notified calls of a policy to handlers by the name its <c>NOTIFY(handler)</c> rules give
/// (<see cref="Rule.Handler"/>), found with the policy's reference evaluator.
/// </summary>
/// <remarks>
/// Built-in handlers:
/// <list type="bullet">
/// <item><c>log</c>: writes the decoded call (<see cref="SyscallDecoder"/>) to <see cref="Log"/>, then lets it
/// run (<c>SECCOMP_USER_NOTIF_FLAG_CONTINUE</c>).</item>
/// <item><c>deny</c>: fails the call with EPERM; <c>deny_ENAME</c> or <c>"deny(ENAME)"</c> with that errno.</item>
/// </list>
/// Library users add their own with <see cref="Register"/> (by handler name) or <see cref="Emulate"/> (by syscall
/// name: emulate the call in the supervisor, whatever the rule's handler). A <c>NOTIFY</c> rule without a
/// handler name goes to <see cref="DefaultHandler"/> (<c>log</c>); an unknown name fails the call with ENOSYS and
/// says so in the log.
/// </remarks>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class NotificationRouter
{
    private readonly ConcurrentDictionary<string, NotificationHandler> _handlers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, NotificationHandler> _emulated = new(StringComparer.Ordinal);

    /// <summary>Creates a router for <paramref name="policy"/>, logging to <paramref name="log"/> (synchronised).</summary>
    public NotificationRouter(SeccompPolicy policy, TextWriter? log = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        Policy = policy;
        Log = log is null ? null : TextWriter.Synchronized(log);
        _handlers["log"] = LogAndContinue;
    }

    /// <summary>The policy whose rules name the handlers.</summary>
    public SeccompPolicy Policy { get; }

    /// <summary>Where <c>log</c> and routing problems are written.</summary>
    public TextWriter? Log { get; }

    /// <summary>The handler name for <c>NOTIFY</c> rules that name none (default <c>log</c>).</summary>
    public string DefaultHandler { get; set; } = "log";

    /// <summary>Registers (or replaces) the handler called <paramref name="name"/> in <c>NOTIFY(name)</c>.</summary>
    public NotificationRouter Register(string name, NotificationHandler handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(handler);
        _handlers[name] = handler;
        return this;
    }

    /// <summary>
    /// The emulate hook: every notified call of <paramref name="syscallName"/> (e.g. <c>mkdir</c>) goes to
    /// <paramref name="handler"/>, which performs it in the supervisor and answers with its result (or an errno).
    /// </summary>
    public NotificationRouter Emulate(string syscallName, NotificationHandler handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(syscallName);
        ArgumentNullException.ThrowIfNull(handler);
        _emulated[syscallName] = handler;
        return this;
    }

    /// <summary>The handler name the policy gives this call (null when no <c>NOTIFY</c> rule decides it).</summary>
    public string? HandlerNameFor(in SeccompData data)
    {
        var decision = Policy.Evaluate(data);
        if (decision.Action.Kind != SeccompActionKind.UserNotif)
            return null;
        return decision.Rule?.Handler ?? DefaultHandler;
    }

    /// <summary>Handles one call: the <see cref="NotificationHandler"/> to give a <see cref="NotificationSupervisor"/>.</summary>
    public ValueTask<NotificationResponse> HandleAsync(Notification notification, NotificationContext context)
    {
        if (_emulated.Count > 0 && _emulated.TryGetValue(SyscallDecoder.Name(notification.Data), out var emulate))
            return emulate(notification, context);
        string name = HandlerNameFor(notification.Data) ?? DefaultHandler;
        if (_handlers.TryGetValue(name, out var handler))
            return handler(notification, context);
        if (TryDenyErrno(name, out int errno))
            return ValueTask.FromResult(NotificationResponse.Error(errno));
        Log?.WriteLine($"syscage: {SyscallDecoder.Decode(notification.Data, context)} -> Errno.ENOSYS: no handler named '{name}' (pid {notification.Pid})");
        return ValueTask.FromResult(NotificationResponse.Error(Errno.ENOSYS));
    }

    /// <summary><c>deny</c> (EPERM), <c>deny_EACCES</c>, <c>deny(EACCES)</c>, <c>deny(13)</c>.</summary>
    public static bool TryDenyErrno(string handlerName, out int errno)
    {
        ArgumentNullException.ThrowIfNull(handlerName);
        errno = 0;
        if (handlerName == "deny")
        {
            errno = Errno.EPERM;
            return true;
        }
        string? arg = handlerName.StartsWith("deny_", StringComparison.Ordinal) ? handlerName[5..]
            : handlerName.StartsWith("deny(", StringComparison.Ordinal) && handlerName.EndsWith(')') ? handlerName[5..^1].Trim() : null;
        if (arg is null)
            return false;
        if (Errno.Number(arg) is int n || int.TryParse(arg, NumberStyles.None, CultureInfo.InvariantCulture, out n))
        {
            errno = n;
            return n is > 0 and <= SeccompAction.MAX_ERRNO;
        }
        return false;
    }

    private ValueTask<NotificationResponse> LogAndContinue(Notification notification, NotificationContext context)
    {
        Log?.WriteLine($"syscage: {SyscallDecoder.Decode(notification.Data, context)} (pid {notification.Pid})");
        return ValueTask.FromResult(NotificationResponse.Continue);
    }
}
