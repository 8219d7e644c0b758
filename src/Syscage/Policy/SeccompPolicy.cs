using System.Globalization;
using Syscage.Bpf;
using Syscage.Abi;

namespace Syscage.Policy;

/// <summary>Where a rule came from, for <c>syscage explain</c> and error messages.</summary>
/// <param name="File">File name (or a built-in policy's name).</param>
/// <param name="Line">1-based line, 0 when unknown.</param>
/// <param name="Column">1-based column, 0 when unknown.</param>
/// <param name="Text">The rule as written, when the front-end keeps it.</param>
public sealed record PolicySource(string File, int Line = 0, int Column = 0, string? Text = null)
{
    /// <summary><c>file:line</c> (or just the file when the line is unknown).</summary>
    public override string ToString() => Line > 0 ? string.Create(CultureInfo.InvariantCulture, $"{File}:{Line}") : File;
}

/// <summary>Where a rule's calls are decided: in the kernel, or in user space by a named handler or an eBPF program.</summary>
public abstract record RuleRoute
{
    private protected RuleRoute() { }

    /// <summary>The kernel decides (every action but USER_NOTIF).</summary>
    public static RuleRoute Kernel { get; } = new KernelRoute();

    /// <summary>A user-space handler decides (<c>NOTIFY(name)</c>; null: the supervisor's default handler).</summary>
    public static RuleRoute Notify(string? handler = null) => new NotifyRoute(handler);

    /// <summary>The eBPF program named <paramref name="name"/> decides (<c>EBPF(name)</c>).</summary>
    public static RuleRoute Program(string name) => new ProgramRoute(name);
}

/// <summary>The kernel decides: the rule's action is the verdict.</summary>
public sealed record KernelRoute : RuleRoute
{
    /// <inheritdoc/>
    public override string ToString() => "kernel";
}

/// <summary>A user-space handler decides (the rule's action is USER_NOTIF).</summary>
/// <param name="Handler">The handler's name (<c>NOTIFY(name)</c>), or null for the supervisor's default.</param>
public sealed record NotifyRoute(string? Handler) : RuleRoute
{
    /// <inheritdoc/>
    public override string ToString() => Handler is null ? "NOTIFY" : $"NOTIFY({Handler})";
}

/// <summary>An eBPF program decides (the rule's action is USER_NOTIF).</summary>
/// <param name="Name">The program's name (<c>EBPF(name)</c>).</param>
public sealed record ProgramRoute(string Name) : RuleRoute
{
    /// <inheritdoc/>
    public override string ToString() => $"EBPF({Name})";
}

/// <summary>
/// One rule of a syscall: when <see cref="Condition"/> holds, <see cref="Action"/> is the verdict. A syscall's
/// rules are tried in order; the first that matches decides.
/// </summary>
/// <param name="Condition">What the arguments must satisfy (<see cref="Condition.True"/> for none).</param>
/// <param name="Action">The verdict.</param>
/// <param name="Source">Where the rule was written.</param>
/// <param name="Route">
/// For <c>USER_NOTIF</c> rules: who decides in user space (<see cref="NotifyRoute"/>, the default, or <see cref="ProgramRoute"/>);
/// every other action is the kernel's (<see cref="KernelRoute"/>), whatever is given.
/// </param>
public sealed record Rule(Condition Condition, SeccompAction Action, PolicySource? Source = null, RuleRoute? Route = null)
{
    private readonly RuleRoute? _route = Route;

    /// <summary>Who decides the rule's calls (read from the action: a rule made USER_NOTIF with <c>with</c> routes to the default handler).</summary>
    public RuleRoute Route
    {
        get => Action.Kind != SeccompActionKind.UserNotif ? RuleRoute.Kernel : _route is null or KernelRoute ? RuleRoute.Notify() : _route;
        init => _route = value;
    }

    /// <summary>
    /// For a rule on <c>socketcall(2)</c> or <c>ipc(2)</c> that a rule on one of the calls they make was lowered to
    /// (<see cref="PolicyBuilder"/>): that call and that rule. Null for a rule written for its own syscall.
    /// </summary>
    public MultiplexedOrigin? Via { get; init; }

    /// <inheritdoc/>
    public bool Equals(Rule? other) => other is not null && Condition.Equals(other.Condition) && Action == other.Action &&
        Equals(Source, other.Source) && Route.Equals(other.Route) && Equals(Via, other.Via);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Condition, Action, Source, Route, Via);

    /// <summary>The handler of a <c>NOTIFY(name)</c> rule (null for the default handler, a program or the kernel).</summary>
    public string? Handler => (Route as NotifyRoute)?.Handler;

    /// <summary>
    /// The group the rule's syscall was named through (<c>@file-system</c> in <c>ALLOW @file-system</c>: the group
    /// written in the rule, nested groups included), or null when the rule names the syscall itself. It says nothing
    /// about what the rule decides (equality ignores it); <see cref="PolicyLinter"/> reads it, as a rule that a group
    /// gives a syscall and an earlier rule overrides is the usual way to make an exception.
    /// </summary>
    public string? Group { get; init; }
}

/// <summary>
/// Where a rule on a multiplexer came from: the rule <see cref="Written"/> for <see cref="Call"/> (<c>socket</c>), made on
/// <c>socketcall(SYS_SOCKET, ...)</c>. The multiplexed form carries the call's arguments where a filter cannot read
/// them (in memory, behind a pointer), so a condition of the written rule cannot be checked there: such a rule decides
/// every call it could match, with the most restrictive action it or anything after it could give (kernel precedence,
/// <see cref="SeccompAction.Precede"/>), so that no argument value hidden in memory gets a verdict the policy refuses it.
/// </summary>
/// <param name="Call">The call the rule was written for.</param>
/// <param name="Written">The rule as written, on the call's own arguments.</param>
public sealed record MultiplexedOrigin(MultiplexedCall Call, Rule Written)
{
    /// <summary>True when the written rule has a condition, which the multiplexed form cannot check.</summary>
    public bool Unchecked => !Written.Condition.IsTrue;

    /// <summary>
    /// For an <see cref="Unchecked"/> rule whose action is not the written one: the later rule whose action, more
    /// restrictive, it takes instead (null: the written action, or the default action — <see cref="DefaultTaken"/>).
    /// </summary>
    public Rule? TakenFrom { get; init; }

    /// <summary>For an <see cref="Unchecked"/> rule: true when it takes the default action, more restrictive than the written one.</summary>
    public bool DefaultTaken { get; init; }
}

/// <summary>The rules for one architecture: per syscall number (as the kernel sees it: x32 numbers carry their bit).</summary>
public sealed class ArchitecturePolicy
{
    /// <summary>Creates a section; rules lists are kept in order.</summary>
    public ArchitecturePolicy(Architecture architecture, IReadOnlyDictionary<int, IReadOnlyList<Rule>> syscalls)
    {
        Architecture = architecture;
        Syscalls = new System.Collections.ObjectModel.ReadOnlyDictionary<int, IReadOnlyList<Rule>>(new Dictionary<int, IReadOnlyList<Rule>>(syscalls));
    }

    /// <summary>The architecture this section covers.</summary>
    public Architecture Architecture { get; }

    /// <summary>Rules by syscall number. A number without an entry gets the policy's default action.</summary>
    public IReadOnlyDictionary<int, IReadOnlyList<Rule>> Syscalls { get; }

    /// <summary>The rules for <paramref name="nr"/> (empty when none).</summary>
    public IReadOnlyList<Rule> RulesFor(int nr) => Syscalls.TryGetValue(nr, out var rules) ? rules : [];
}

/// <summary>Why a policy gave its verdict.</summary>
public enum DecisionReason
{
    /// <summary>The architecture (or the x32/x86_64 split) is not covered: the bad-arch action.</summary>
    BadArch,
    /// <summary>A rule matched.</summary>
    Rule,
    /// <summary>No rule matched: the default action.</summary>
    Default,
    /// <summary>The number is past the newest syscall the policy knows on its architecture: <see cref="NewerSyscalls.Action"/>.</summary>
    Newer,
}

/// <summary>
/// Forward compatibility: on each architecture it names, a call whose number is past the newest syscall the policy
/// knows there (compared unsigned, as <c>seccomp_data.nr</c> is a <c>u32</c> to a filter) gets <see cref="Action"/>
/// instead of the default action — usually <c>ERRNO(ENOSYS)</c>, what the kernel answers for a syscall it does not
/// have, so a program built for a newer kernel falls back to an older call instead of failing on a refusal.
/// </summary>
/// <remarks>
/// runc does this for every OCI profile whose default action is not ALLOW, LOG or TRACE (its ENOSYS stub,
/// <c>libcontainer/seccomp/patchbpf</c>), with the newest syscall the profile names on each architecture
/// (<see cref="Oci.OciProfileLoader"/>); the policy language says <c>newer-syscalls ACTION</c>, with the newest
/// syscall Syscage's tables know or a rule names. The check is made in the architecture section a call belongs to
/// (<see cref="SeccompPolicy.SectionFor"/>: the x32 rule decides between x86_64 and x32), before its rules: a rule for a
/// number past the newest never decides. The policy language's newest is never below a number its rules name; runc's
/// can be on x86, where libseccomp's resolver leaves the socket and IPC calls out of its largest number.
/// </remarks>
public sealed class NewerSyscalls
{
    private readonly Dictionary<Architecture, uint> _newest;

    /// <summary>Creates the rule.</summary>
    /// <param name="action">What a call past the newest syscall gets.</param>
    /// <param name="newest">Per architecture, the newest syscall number (as <c>seccomp_data.nr</c> holds it: x32 numbers with their bit); an architecture not named has no such check.</param>
    /// <param name="basis">How the newest syscalls were found, for explanations: <c>the profile names</c>, <c>Syscage's tables know or a rule names</c>.</param>
    /// <param name="source">Where the rule was asked for (a <c>newer-syscalls</c> line, or the profile).</param>
    public NewerSyscalls(SeccompAction action, IReadOnlyDictionary<Architecture, uint> newest, string basis, PolicySource? source = null)
    {
        ArgumentNullException.ThrowIfNull(newest);
        ArgumentNullException.ThrowIfNull(basis);
        Action = action;
        _newest = new Dictionary<Architecture, uint>(newest);
        Basis = basis;
        Source = source;
    }

    /// <summary>What a call past the newest syscall of its architecture gets.</summary>
    public SeccompAction Action { get; }

    /// <summary>Per architecture, the newest syscall number; numbers above it get <see cref="Action"/>.</summary>
    public IReadOnlyDictionary<Architecture, uint> Newest => _newest;

    /// <summary>How the newest syscalls were found (<c>the profile names</c>), as an explanation says it.</summary>
    public string Basis { get; }

    /// <summary>Where the rule was asked for.</summary>
    public PolicySource? Source { get; }

    /// <summary>The newest syscall number on <paramref name="architecture"/>, or null when calls there have no such check.</summary>
    public uint? NewestOn(Architecture architecture) => _newest.TryGetValue(architecture, out uint n) ? n : null;

    /// <summary>True when a call numbered <paramref name="nr"/> on <paramref name="architecture"/> is past the newest syscall there.</summary>
    public bool Covers(Architecture architecture, int nr) => NewestOn(architecture) is uint n && unchecked((uint)nr) > n;
}

/// <summary>A verdict of the reference evaluator, with the reason.</summary>
/// <param name="Action">The action.</param>
/// <param name="Reason">Why.</param>
/// <param name="Section">The architecture section consulted (null for bad arch).</param>
/// <param name="Rule">The matching rule, for <see cref="DecisionReason.Rule"/>.</param>
public sealed record PolicyDecision(SeccompAction Action, DecisionReason Reason, ArchitecturePolicy? Section, Rule? Rule);

/// <summary>
/// The policy IR every front-end lowers into and both the code generator and the reference evaluator read:
/// a default action, a bad-arch action, and per covered architecture the rules of each syscall.
/// </summary>
/// <remarks>
/// Semantics (DESIGN.md): the section is chosen by <c>seccomp_data.arch</c>; on <c>AUDIT_ARCH_X86_64</c> a
/// number with the x32 bit (0x40000000) set belongs to the x32 section, except -1 (which tracers use to skip a
/// call) that stays with x86_64. An architecture not covered gets the bad-arch action. A number past the newest
/// syscall of its section gets <see cref="Newer"/>'s action, when the policy has one. Within a section the
/// first matching rule of the syscall decides, else the default action. Each argument comparison is made at its
/// <see cref="ArgPredicate.Width"/> — the width at which the kernel reads the argument — and at most 32 bits on
/// 32-bit ABIs (<see cref="ArgPredicate.At"/>).
/// </remarks>
public sealed class SeccompPolicy
{
    /// <summary>Creates a policy; sections must be for distinct architectures.</summary>
    public SeccompPolicy(SeccompAction defaultAction, SeccompAction badArchAction, IEnumerable<ArchitecturePolicy> sections, string name = "policy")
    {
        DefaultAction = defaultAction;
        BadArchAction = badArchAction;
        Sections = [.. sections];
        Name = name;
        if (Sections.Select(s => s.Architecture).Distinct().Count() != Sections.Count)
            throw new ArgumentException("a policy has at most one section per architecture", nameof(sections));
    }

    /// <summary>The policy's name (file or built-in name).</summary>
    public string Name { get; }

    /// <summary>The action when no rule matches.</summary>
    public SeccompAction DefaultAction { get; }

    /// <summary>The action for an architecture the policy does not cover.</summary>
    public SeccompAction BadArchAction { get; }

    /// <summary>The covered architectures, in the order the generated filter tests them.</summary>
    public IReadOnlyList<ArchitecturePolicy> Sections { get; }

    /// <summary>
    /// Calls past the newest syscall the policy knows on their architecture, and what they get (null: none; they get
    /// the default action). The check comes before the section's rules, as runc's stub comes before the filter.
    /// </summary>
    public NewerSyscalls? Newer { get; init; }

    /// <summary>Every rule of every section.</summary>
    public IEnumerable<Rule> Rules => Sections.SelectMany(s => s.Syscalls.Values).SelectMany(rules => rules);

    /// <summary>
    /// True when some call can get <c>USER_NOTIF</c> (a rule, the default or the bad-arch action): a filter for it needs a
    /// listener, and a supervisor to serve it. The one answer to "does this policy need notification?".
    /// </summary>
    public bool UsesNotify => UsesHandlers || Rules.Any(r => r.Route is ProgramRoute);

    /// <summary>
    /// True when some call goes to a user-space handler (<c>NOTIFY</c>, <c>NOTIFY(name)</c>, or a USER_NOTIF default or
    /// bad-arch action), rather than only to eBPF programs (<c>EBPF(name)</c>): handlers may block, programs never do.
    /// </summary>
    public bool UsesHandlers =>
        DefaultAction.Kind == SeccompActionKind.UserNotif || BadArchAction.Kind == SeccompActionKind.UserNotif ||
        Newer?.Action.Kind == SeccompActionKind.UserNotif || Rules.Any(r => r.Route is NotifyRoute);

    /// <summary>
    /// Null when the rules of <paramref name="nr"/> in <paramref name="section"/> hold at most
    /// <see cref="InputLimits.MaxArgumentTestsPerSyscall"/> argument tests, the most a filter holds for one syscall;
    /// else the error, at the rule that crosses the limit (<c>file:line:col: read on x86_64: the rules test its arguments
    /// more than 1024 times, ...</c>). The compiler refuses such a policy, and the lint does not analyse such a syscall.
    /// </summary>
    public string? TooManyTests(ArchitecturePolicy section, int nr)
    {
        ArgumentNullException.ThrowIfNull(section);
        int tests = 0;
        foreach (var rule in section.RulesFor(nr))
        {
            // Counted up to the limit only: a hostile condition may hold a hundred thousand tests, shared by hundreds of syscalls.
            tests += rule.Condition.Predicates().Take(InputLimits.MaxArgumentTestsPerSyscall + 1 - tests).Count();
            if (tests <= InputLimits.MaxArgumentTestsPerSyscall)
                continue;
            string name = section.Architecture.Syscalls.TryGetName(nr, out var n) ? n : nr.ToString(CultureInfo.InvariantCulture);
            string where = rule.Source is { Line: > 0 } s
                ? string.Create(CultureInfo.InvariantCulture, $"{s.File}:{s.Line}:{s.Column}")
                : Name;
            return string.Create(CultureInfo.InvariantCulture,
                $"{where}: {name} on {section.Architecture.Name}: the rules test its arguments more than {InputLimits.MaxArgumentTestsPerSyscall} times, the most a filter holds for one syscall");
        }
        return null;
    }

    /// <summary>The section for a call, or null when its architecture is not covered.</summary>
    public ArchitecturePolicy? SectionFor(in SeccompData data)
    {
        // A loop, not LINQ: supervisors ask on every notified call, and a lambda capturing arch would allocate.
        if (Architecture.Of(data.Arch, data.Nr) is not { } arch)
            return null;
        foreach (var s in Sections)
            if (s.Architecture == arch)
                return s;
        return null;
    }

    /// <summary>The reference evaluator: what the policy decides for one call, and why.</summary>
    public PolicyDecision Evaluate(in SeccompData data)
    {
        var section = SectionFor(data);
        if (section is null)
            return new PolicyDecision(BadArchAction, DecisionReason.BadArch, null, null);
        if (Newer is { } newer && newer.Covers(section.Architecture, data.Nr))
            return new PolicyDecision(newer.Action, DecisionReason.Newer, section, null);
        Span<ulong> args = stackalloc ulong[6];
        for (int i = 0; i < 6; i++)
            args[i] = data.Arg(i);
        foreach (var rule in section.RulesFor(data.Nr))
            if (rule.Condition.Evaluate(args, section.Architecture.Is64Bit))
                return new PolicyDecision(rule.Action, DecisionReason.Rule, section, rule);
        return new PolicyDecision(DefaultAction, DecisionReason.Default, section, null);
    }
}
