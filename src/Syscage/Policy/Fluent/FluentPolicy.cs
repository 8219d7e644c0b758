using Syscage.Bpf;
using Syscage.Policy.Language;
using Syscage.Abi;

namespace Syscage.Policy.Fluent;

/// <summary>
/// Builds a <see cref="SeccompPolicy"/> in C#: the same meaning as the policy language, checked the same way.
/// </summary>
/// <example>
/// <code>
/// using Syscage.Bpf;
/// using Syscage.Policy;
/// using Syscage.Policy.Fluent;
///
/// SeccompPolicy policy = FluentPolicy.DefaultAction(SeccompAction.Errno(1))
///     .Allow("@basic-io", "exit_group")
///     .Deny("openat", "EACCES").When(a => a.Arg(2).MaskedEq(mask: 3, value: 0).Not())   // only read-only opens
///     .Allow("openat")
///     .Allow("socket").When(a => a["domain"].Eq(1) | a["domain"].Eq(2))                // AF_UNIX or AF_INET
///     .Allow("clone").When(a => !a["flags"].AnySet(KernelConstants.Value("CLONE_NEWUSER")!.Value))
///     .Notify("mkdir", handler: "log")
///     .Build();
/// </code>
/// Rules are tried in the order they are added, the first that matches decides; <see cref="PolicyDefinition.When"/>
/// sets the condition of the rule added just before it. Syscall names missing on a covered architecture are skipped
/// there; a name no architecture knows throws. Argument names (<c>a["flags"]</c>) are resolved per architecture.
/// </example>
public static class FluentPolicy
{
    /// <summary>Starts a policy whose default action (when no rule matches) is <paramref name="action"/>.</summary>
    public static PolicyDefinition DefaultAction(SeccompAction action) => new(action);
}

/// <summary>A policy being written with <see cref="FluentPolicy"/>: add rules, then <see cref="Build"/>.</summary>
public sealed class PolicyDefinition
{
    private readonly SeccompAction _default;
    private SeccompAction _badArch = SeccompAction.KillProcess;
    private string _name = "fluent";
    private Architecture[]? _arches;
    private readonly List<PendingRule> _rules = [];
    private int _lastAdded = -1;

    private sealed class PendingRule(SeccompAction action, IReadOnlyList<string> syscalls, string? handler)
    {
        public SeccompAction Action { get; } = action;
        public IReadOnlyList<string> Syscalls { get; } = syscalls;
        public string? Handler { get; } = handler;
        public ArgCondition? Condition { get; set; }
    }

    internal PolicyDefinition(SeccompAction defaultAction) => _default = defaultAction;

    /// <summary>The architectures to cover (default: <see cref="PolicyBuilder.DefaultArchitectures"/>).</summary>
    public PolicyDefinition ForArchitectures(params Architecture[] architectures)
    {
        ArgumentNullException.ThrowIfNull(architectures);
        _arches = architectures;
        return this;
    }

    /// <summary>The action for calls from an architecture the policy does not cover (default KILL_PROCESS).</summary>
    public PolicyDefinition BadArchAction(SeccompAction action)
    {
        _badArch = action;
        return this;
    }

    /// <summary>
    /// The action for calls past the newest syscall Syscage's tables know on their architecture, or a rule names
    /// (<see cref="SeccompPolicy.Newer"/>; the policy language's <c>newer-syscalls</c>): usually <c>ERRNO(ENOSYS)</c>, so
    /// that programs built for a newer kernel fall back. Default: none (the default action).
    /// </summary>
    public PolicyDefinition NewerSyscalls(SeccompAction action)
    {
        _newer = action;
        return this;
    }

    private SeccompAction? _newer;

    /// <summary>The policy's name (<see cref="SeccompPolicy.Name"/>; default <c>fluent</c>).</summary>
    public PolicyDefinition Named(string name)
    {
        _name = name ?? throw new ArgumentNullException(nameof(name));
        return this;
    }

    /// <summary>Adds a rule: <paramref name="action"/> for <paramref name="syscalls"/> (names, numbers or <c>@groups</c>).</summary>
    public PolicyDefinition Rule(SeccompAction action, params string[] syscalls) => Add(action, syscalls, null);

    /// <summary>Adds an ALLOW rule.</summary>
    public PolicyDefinition Allow(params string[] syscalls) => Add(SeccompAction.Allow, syscalls, null);

    /// <summary>Adds an ERRNO rule with errno number <paramref name="errno"/> (0..4095).</summary>
    public PolicyDefinition Deny(string syscall, int errno)
    {
        if (errno is < 0 or > SeccompAction.MAX_ERRNO)
            throw new ArgumentOutOfRangeException(nameof(errno), errno, "an errno is 0..4095");
        return Add(SeccompAction.Errno((ushort)errno), [syscall], null);
    }

    /// <summary>Adds an ERRNO rule with the errno called <paramref name="errno"/> (<c>EACCES</c>).</summary>
    public PolicyDefinition Deny(string syscall, string errno) => Deny([syscall], errno);

    /// <summary>Adds an ERRNO rule for several syscalls with the errno called <paramref name="errno"/>.</summary>
    public PolicyDefinition Deny(IEnumerable<string> syscalls, string errno)
    {
        ArgumentNullException.ThrowIfNull(errno);
        int number = Errno.Number(errno) ?? throw new ArgumentException(
            $"unknown errno '{errno}'{(Suggest.Closest(errno, Errno.All.Select(e => e.Name)) is { } c ? $"; did you mean '{c}'?" : "")}", nameof(errno));
        return Add(SeccompAction.Errno((ushort)number), [.. syscalls], null);
    }

    /// <summary>Adds a KILL_PROCESS rule.</summary>
    public PolicyDefinition Kill(params string[] syscalls) => Add(SeccompAction.KillProcess, syscalls, null);

    /// <summary>Adds a LOG rule (allowed and logged by the kernel).</summary>
    public PolicyDefinition Log(params string[] syscalls) => Add(SeccompAction.Log, syscalls, null);

    /// <summary>Adds a USER_NOTIF rule, handled in user space by the handler called <paramref name="handler"/>.</summary>
    public PolicyDefinition Notify(string syscall, string? handler = null) => Add(SeccompAction.UserNotif, [syscall], handler);

    /// <summary>
    /// Sets the condition of the rule added just before (a second <c>When</c> adds a conjunct): the rule decides only
    /// when the condition holds, else the next rule of the syscall is tried.
    /// </summary>
    /// <exception cref="InvalidOperationException">No rule was added yet.</exception>
    public PolicyDefinition When(Func<CallArgs, ArgCondition> condition)
    {
        ArgumentNullException.ThrowIfNull(condition);
        if (_lastAdded < 0)
            throw new InvalidOperationException("When(...) applies to the rule added before it: add a rule first (Allow, Deny, ...)");
        var rule = _rules[_lastAdded];
        var c = condition(CallArgs.Instance) ?? throw new ArgumentException("the condition is null", nameof(condition));
        rule.Condition = rule.Condition is null ? c : rule.Condition & c;
        return this;
    }

    /// <summary>Makes the policy.</summary>
    /// <exception cref="ArgumentException">
    /// A syscall, group or argument name is unknown (the message suggests a close one), or a constant does not fit the
    /// width at which the kernel reads its argument (<see cref="ArgPredicate.ForArgument"/>).
    /// </exception>
    public SeccompPolicy Build()
    {
        var builder = new PolicyBuilder(_default, _arches ?? PolicyBuilder.DefaultArchitectures)
        {
            BadArchAction = _badArch,
            Name = _name,
        };
        if (_newer is { } newer)
            builder.PastNewestKnown(newer, new PolicySource(_name, 0, 0, $"NewerSyscalls({newer})"));
        int index = 0;
        foreach (var rule in _rules)
        {
            index++;
            var source = new PolicySource(_name, index, 0, $"{rule.Action} {string.Join(", ", rule.Syscalls)}{(rule.Condition is null ? "" : $" if {rule.Condition}")}");
            foreach (var arch in builder.Architectures)
            {
                var done = new HashSet<int>();
                var doneMultiplexed = new HashSet<MultiplexedCall>();
                foreach (var (name, group) in Expand(rule.Syscalls))
                {
                    Syscall? syscall;
                    int nr;
                    if (int.TryParse(name, System.Globalization.CultureInfo.InvariantCulture, out int n))
                    {
                        nr = n | (int)arch.SyscallNumberBit;
                        arch.Syscalls.TryGet(nr, out syscall);
                    }
                    else if (arch.Syscalls.TryGet(name, out syscall))
                        nr = syscall.Number;
                    else if (arch.TryGetMultiplexed(name, out var multiplexed))
                    {
                        // Only through socketcall(2)/ipc(2) on this ABI (accept on x86): a rule on the multiplexer alone.
                        if (doneMultiplexed.Add(multiplexed))
                            builder.AddMultiplexed(arch, multiplexed, new Rule(rule.Condition?.Lower(arch, multiplexed.On(arch), name) ?? Condition.True, rule.Action, source, RuleRoute.Notify(rule.Handler)) { Group = group });
                        continue;
                    }
                    else
                        continue;
                    if (done.Add(nr))
                        builder.Add(arch, nr, new Rule(rule.Condition?.Lower(arch, syscall, name) ?? Condition.True, rule.Action, source, RuleRoute.Notify(rule.Handler)) { Group = group });
                }
            }
        }
        return builder.Build();
    }

    private PolicyDefinition Add(SeccompAction action, string[] syscalls, string? handler)
    {
        ArgumentNullException.ThrowIfNull(syscalls);
        if (syscalls.Length == 0)
            throw new ArgumentException("a rule names at least one syscall", nameof(syscalls));
        foreach (var (s, _) in Expand(syscalls))
        {
            if (!int.TryParse(s, System.Globalization.CultureInfo.InvariantCulture, out _) && !Architecture.All.Any(a => a.Syscalls.TryGet(s, out _)))
            {
                string? close = Suggest.Closest(s, Parser.AllSyscallNames.Value);
                throw new ArgumentException($"unknown syscall '{s}'{(close is null ? "" : $"; did you mean '{close}'?")}", nameof(syscalls));
            }
        }
        _rules.Add(new PendingRule(action, syscalls, handler));
        _lastAdded = _rules.Count - 1;
        return this;
    }

    /// <summary>The syscalls named, groups expanded, each with the group it came through (null: named itself).</summary>
    private static IEnumerable<(string Name, string? Group)> Expand(IEnumerable<string> syscalls)
    {
        foreach (string s in syscalls)
        {
            if (s.StartsWith('@'))
            {
                foreach (string member in SyscallGroups.Members(s))
                    yield return (member, s);
            }
            else
                yield return (s, null);
        }
    }
}
