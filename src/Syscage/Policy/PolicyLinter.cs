using System.Globalization;
using Syscage.Abi;

namespace Syscage.Policy;

/// <summary>What a <see cref="LintFinding"/> is about.</summary>
public enum LintKind
{
    /// <summary>A rule that never decides a call: an earlier rule decides every call it matches with another verdict, its condition never holds, or its syscall is past the newest the policy knows (<c>never-matches</c>).</summary>
    NeverMatches,
    /// <summary>A rule that never decides a call, because earlier rules already decide every call it matches the same way (<c>duplicate</c>).</summary>
    Duplicate,
    /// <summary>A <c>LOG</c> rule that lets calls run which the policy's default action refuses: LOG logs and allows (<c>log-allows</c>).</summary>
    LogAllows,
    /// <summary>The policy refuses <c>execve</c> on this machine's architecture, so <c>syscage run</c> cannot start a command under it (<c>refuses-execve</c>).</summary>
    RefusesExecve,
    /// <summary>ALLOW (or LOG) of an interface containers are escaped through: ptrace, bpf, io_uring, namespaces ... (<c>escape</c>).</summary>
    Escape,
    /// <summary>A comparison made on more bits of an argument than the kernel reads (<c>wide-comparison</c>).</summary>
    WideComparison,
    /// <summary>A warning of the front-end that read the policy (an OCI profile's unknown names, reduced values, ignored fields) (<c>profile</c>).</summary>
    Profile,
    /// <summary>
    /// A rule with a condition on a call an ABI also makes through socketcall(2) or ipc(2), whose arguments a filter
    /// cannot read there, where the calls made that way can get less refusal than the rule or the default gives — the
    /// rule can be walked around (<see cref="PolicyExplainer.UncheckedConditions"/>) (<c>unchecked-condition</c>).
    /// </summary>
    UncheckedCondition,
    /// <summary>The lint could not decide a question within its bounds (<c>undecided</c>).</summary>
    Undecided,
}

/// <summary>One warning of <see cref="PolicyLinter"/>, <c>file:line:col: warning: message [code]</c>.</summary>
/// <param name="Kind">What it is about.</param>
/// <param name="Source">Where (the rule, or just the policy's file for what belongs to no rule: the default action).</param>
/// <param name="Message">What is wrong, and what to do.</param>
public sealed record LintFinding(LintKind Kind, PolicySource Source, string Message)
{
    /// <summary>The syscall it is about, when it is about one.</summary>
    public string? Syscall { get; init; }

    /// <summary>The architectures it holds on (empty when it is not about a section).</summary>
    public IReadOnlyList<Architecture> Architectures { get; init; } = [];

    /// <summary>For a rule that never decides: the rules that decide its calls instead.</summary>
    public IReadOnlyList<PolicySource> DecidedBy { get; init; } = [];

    /// <summary>The kind as the output names it: <c>never-matches</c>, <c>duplicate</c>, <c>log-allows</c>, <c>refuses-execve</c>, <c>escape</c>, <c>wide-comparison</c>, <c>profile</c>, <c>undecided</c>.</summary>
    public string Code => PolicyLinter.Code(Kind);

    /// <summary><c>file:line:col</c>, <c>file:line</c> or <c>file</c>, as much as is known.</summary>
    public string Location => PolicyLinter.Location(Source);

    /// <summary><c>file:line:col: warning: message [code]</c>.</summary>
    public override string ToString() => $"{Location}: warning: {Message} [{Code}]";
}

/// <summary>
/// <c>syscage lint</c>, and the warnings <c>compile</c> and <c>check</c> print: what a policy says that its author
/// probably did not mean. Rules that never decide are found exactly, on the IR, by a solver over the argument
/// comparisons (for each rule, can its condition hold while no earlier rule's does?), not by sampling; a rule that a
/// group gives a syscall and an earlier rule overrides is the usual way to make an exception and is not reported, unless
/// nothing of the statement ever decides.
/// </summary>
/// <remarks>
/// Findings: rules that never match (<see cref="LintKind.NeverMatches"/>) or repeat earlier ones
/// (<see cref="LintKind.Duplicate"/>); LOG where a refusal was probably meant (<see cref="LintKind.LogAllows"/>); a policy
/// under which <c>execve</c> is refused, so nothing starts (<see cref="LintKind.RefusesExecve"/>); ALLOW or LOG of the
/// interfaces container escapes use — ptrace, bpf, userfaultfd, io_uring, process_vm_writev, open_by_handle_at, kexec,
/// module loading, perf_event_open, clone3 and namespace flags on clone and unshare, and a bad-arch action that lets other
/// ABIs through (<see cref="LintKind.Escape"/>); comparisons on more bits than the kernel reads
/// (<see cref="LintKind.WideComparison"/>); conditions a multiplexed call hides from the filter
/// (<see cref="LintKind.UncheckedCondition"/>).
/// </remarks>
public static class PolicyLinter
{
    /// <summary>The interfaces a container is escaped through, and why each is dangerous.</summary>
    private static readonly (string Syscall, string Why)[] EscapeCalls =
    [
        ("ptrace", "it controls other processes of the same user: their memory, registers and calls"),
        ("process_vm_writev", "it writes the memory of other processes of the same user"),
        ("bpf", "it loads programs and maps into the kernel, a frequent way to kernel bugs"),
        ("perf_event_open", "kernel performance events are a frequent way to kernel bugs and leaks"),
        ("userfaultfd", "it stalls the kernel at a chosen page fault, the usual tool for widening kernel races"),
        ("io_uring_setup", "io_uring performs calls the seccomp filter never sees"),
        ("io_uring_enter", "io_uring performs calls the seccomp filter never sees"),
        ("io_uring_register", "io_uring performs calls the seccomp filter never sees"),
        ("open_by_handle_at", "it opens files by handle, outside the container's mounts (the 'shocker' escape)"),
        ("kexec_load", "it loads a new kernel"),
        ("kexec_file_load", "it loads a new kernel"),
        ("init_module", "it loads kernel modules"),
        ("finit_module", "it loads kernel modules"),
        ("clone3", "its flags are in memory a filter cannot read, so allowing it allows new namespaces (CLONE_NEWUSER ...)"),
    ];

    private const int MaxTextShown = 60;

    /// <summary>The policy's findings, in file order.</summary>
    public static IReadOnlyList<LintFinding> Lint(SeccompPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var raw = new List<Raw>();
        var policySource = new PolicySource(policy.Name);
        var budget = new SolverBudget(SolverBudget.PerPolicy);
        // A syscall with more argument tests than a filter holds can't be compiled: said once, and not analysed.
        var tooLarge = new HashSet<(Architecture, int)>();
        var crossing = new Dictionary<PolicySource, List<string>>();
        // Tests counted once per condition (the policy language shares one among the syscalls of a rule), up to the limit.
        var counted = new Dictionary<Condition, int>(ReferenceEqualityComparer.Instance);
        int Tests(Condition c)
        {
            if (!counted.TryGetValue(c, out int n))
                counted[c] = n = c.Predicates().Take(InputLimits.MaxArgumentTestsPerSyscall + 1).Count();
            return n;
        }
        foreach (var section in policy.Sections)
            foreach (var nr in section.Syscalls.Keys.Order())
            {
                // Said at the rule that crosses the limit, as the compiler says it (SeccompPolicy.TooManyTests).
                int tests = 0;
                var at = section.RulesFor(nr).FirstOrDefault(r => (tests += Tests(r.Condition)) > InputLimits.MaxArgumentTestsPerSyscall);
                if (at is not null)
                {
                    tooLarge.Add((section.Architecture, nr));
                    var source = at.Source ?? policySource;
                    if (!crossing.TryGetValue(source, out var list))
                        crossing[source] = list = [];
                    list.Add($"{NameOf(section.Architecture, nr)} on {section.Architecture.Name}");
                }
            }
        foreach (var (source, names) in crossing)
            raw.Add(new Raw(LintKind.Undecided, source, null, null,
                string.Create(CultureInfo.InvariantCulture,
                    $"the rules of {string.Join(", ", names.Take(4))}{(names.Count > 4 ? $" and {names.Count - 4} more" : "")} test their arguments more than {InputLimits.MaxArgumentTestsPerSyscall} times, the most a filter holds for one syscall: the policy cannot be compiled, and those syscalls are not linted"), []));
        DeadRules(policy, budget, tooLarge, raw);
        LogRules(policy, budget, tooLarge, raw);
        Execve(policy, policySource, budget, tooLarge, raw);
        Escapes(policy, policySource, budget, tooLarge, raw);
        WideComparisons(policy, tooLarge, raw);
        // Only where the calls made through the multiplexer can get less refusal than the rule or the default gives:
        // an earlier rule decides them whatever the condition says (socketcall's own ALLOW in Docker's profile), or a
        // later one lets them through. Otherwise (the built-in policy's vsock refusal) they get the most restrictive
        // action the rule could lead to, nothing gets through that the condition refuses, and explain says the rest.
        foreach (var u in PolicyExplainer.UncheckedConditions(policy).Where(u => u.DecidedBy is not null
            || Weaker(u.Action, new SeccompAction(SeccompAction.Precede(u.Rule.Via!.Written.Action.Value, policy.DefaultAction.Value)))))
            raw.Add(new Raw(LintKind.UncheckedCondition, u.Rule.Via!.Written.Source ?? policySource, u.Call.Name, u.Architecture, u.Message, []));
        return Merge(policy, raw);
    }

    /// <summary>True when <paramref name="action"/> refuses less than <paramref name="than"/> (the kernel's precedence).</summary>
    private static bool Weaker(SeccompAction action, SeccompAction than) =>
        action.Value != than.Value && SeccompAction.Precede(action.Value, than.Value) == than.Value;

    /// <summary>The kind as the output names it (<see cref="LintFinding.Code"/>).</summary>
    public static string Code(LintKind kind) => kind switch
    {
        LintKind.NeverMatches => "never-matches",
        LintKind.Duplicate => "duplicate",
        LintKind.LogAllows => "log-allows",
        LintKind.RefusesExecve => "refuses-execve",
        LintKind.Escape => "escape",
        LintKind.WideComparison => "wide-comparison",
        LintKind.Profile => "profile",
        LintKind.UncheckedCondition => "unchecked-condition",
        LintKind.Undecided => "undecided",
        _ => kind.ToString(),
    };

    /// <summary><c>file:line:col</c>, <c>file:line</c> or <c>file</c>, as much as <paramref name="source"/> knows.</summary>
    public static string Location(PolicySource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return source.Line <= 0 ? source.File
            : source.Column > 0 ? string.Create(CultureInfo.InvariantCulture, $"{source.File}:{source.Line}:{source.Column}")
            : string.Create(CultureInfo.InvariantCulture, $"{source.File}:{source.Line}");
    }

    /// <summary>A finding on one architecture, before the same finding on every architecture is merged into one.</summary>
    private sealed record Raw(LintKind Kind, PolicySource Source, string? Syscall, Architecture? Architecture, string Message, IReadOnlyList<PolicySource> DecidedBy);

    // ---- rules that never decide ----

    private static void DeadRules(SeccompPolicy policy, SolverBudget budget, HashSet<(Architecture, int)> skip, List<Raw> raw)
    {
        // Per statement (its source): every rule it made, and those that never decide.
        var made = new Dictionary<PolicySource, int>();
        var dead = new Dictionary<PolicySource, List<(Architecture Arch, string Syscall, RuleFate Fate, IReadOnlyList<Rule> Rules)>>();
        foreach (var section in policy.Sections)
        {
            foreach (var (nr, rules) in section.Syscalls.OrderBy(kv => kv.Key))
            {
                if (skip.Contains((section.Architecture, nr)))
                    continue;
                string name = NameOf(section.Architecture, nr);
                var fates = RuleReachability.Analyse(policy, section, nr, budget);
                var undecided = fates.Where(f => f.Undecided).ToList();
                if (undecided.Count > 0)
                    raw.Add(new Raw(LintKind.Undecided, undecided[0].Rule.Source ?? new PolicySource(policy.Name), name, section.Architecture,
                        string.Create(CultureInfo.InvariantCulture,
                            $"could not decide whether {(undecided.Count == 1 ? "this rule" : $"this and {undecided.Count - 1} later rules")} for {name} ever decide a call: their conditions are too many to solve within the lint's bounds"), []));
                foreach (var fate in fates)
                {
                    // A rule on socketcall/ipc made from one on a call they make: the written rule is linted where it was written.
                    if (fate.Rule.Via is not null)
                        continue;
                    var source = fate.Rule.Source ?? new PolicySource(policy.Name);
                    made[source] = made.GetValueOrDefault(source) + 1;
                    if (fate.Decides)
                        continue;
                    if (!dead.TryGetValue(source, out var list))
                        dead[source] = list = [];
                    list.Add((section.Architecture, name, fate, rules));
                }
            }
        }
        foreach (var (source, list) in dead)
        {
            bool wholeStatement = list.Count == made[source];
            if (wholeStatement && list.Any(d => d.Fate.Rule.Group is not null))
            {
                // Nothing of the statement ever decides: one finding for it.
                var deciders = list.SelectMany(d => d.Fate.DecidedFirstBy.Select(i => d.Rules[i])).Distinct().ToList();
                bool same = list.All(d => d.Fate.DecidedFirstBy.Count > 0 && d.Fate.DecidedFirstBy.All(i => SameVerdict(d.Rules[i], d.Fate.Rule)));
                var by = deciders.Select(r => r.Source).OfType<PolicySource>().Distinct().ToList();
                raw.Add(new Raw(same ? LintKind.Duplicate : LintKind.NeverMatches, source, null, null,
                    same ? $"{Quote(source)} never decides a call: every call it names is already decided the same way by {Describe(by)}"
                         : $"{Quote(source)} never decides a call: every call it names is decided first by {Describe(by)}", by));
                continue;
            }
            foreach (var (arch, name, fate, rules) in list)
            {
                if (fate.Rule.Group is not null)
                    continue;   // a group's member overridden by an earlier rule: the usual way to make an exception
                if (fate.PastNewest)
                {
                    raw.Add(new Raw(LintKind.NeverMatches, source, name, arch,
                        $"{Quote(source)} never decides {name}: it is past the newest syscall the policy knows ({policy.Newer!.Basis}), so {policy.Newer.Action} decides it", []));
                    continue;
                }
                if (fate.NeverHolds)
                {
                    raw.Add(new Raw(LintKind.NeverMatches, source, name, arch, $"{Quote(source)} never matches {name}: its condition holds for no arguments", []));
                    continue;
                }
                var deciders = fate.DecidedFirstBy.Select(i => rules[i]).ToList();
                var by = deciders.Select(r => r.Source).OfType<PolicySource>().Distinct().ToList();
                bool same = deciders.All(r => SameVerdict(r, fate.Rule));
                raw.Add(same
                    ? new Raw(LintKind.Duplicate, source, name, arch, $"{Quote(source)} is redundant for {name}: every call it matches is already decided the same way ({Verdict(fate.Rule)}) by {Describe(by)}", by)
                    : new Raw(LintKind.NeverMatches, source, name, arch, $"{Quote(source)} never decides {name}: every call it matches is decided first by {Describe(by)}", by));
            }
        }
    }

    private static bool SameVerdict(Rule a, Rule b) => a.Action == b.Action && a.Route == b.Route;

    // ---- LOG ----

    private static void LogRules(SeccompPolicy policy, SolverBudget budget, HashSet<(Architecture, int)> skip, List<Raw> raw)
    {
        if (!Refuses(policy.DefaultAction))
            return;
        foreach (var section in policy.Sections)
            foreach (var (nr, rules) in section.Syscalls.OrderBy(kv => kv.Key))
            {
                if (!rules.Any(r => r.Action.Kind == SeccompActionKind.Log) || skip.Contains((section.Architecture, nr)))
                    continue;
                string name = NameOf(section.Architecture, nr);
                foreach (var fate in RuleReachability.Analyse(policy, section, nr, budget).Where(f => f.Decides && f.Rule.Action.Kind == SeccompActionKind.Log && f.Rule.Via is null))
                    raw.Add(new Raw(LintKind.LogAllows, fate.Rule.Source ?? new PolicySource(policy.Name), name, section.Architecture,
                        $"LOG lets {name} run (it logs the call and allows it), where the default action {Verdict(policy.DefaultAction)} would refuse it; " +
                        "to refuse and see it, give it a refusal (ERRNO, KILL_PROCESS) and run with 'syscage run --log-denials'", []));
            }
    }

    // ---- execve ----

    private static void Execve(SeccompPolicy policy, PolicySource policySource, SolverBudget budget, HashSet<(Architecture, int)> skip, List<Raw> raw)
    {
        var native = Architecture.Native;
        var section = policy.Sections.FirstOrDefault(s => s.Architecture == native);
        const string why = "'syscage run' installs the filter and then executes the command, so nothing can start under this policy";
        if (section is null)
        {
            if (Refuses(policy.BadArchAction))
                raw.Add(new Raw(LintKind.RefusesExecve, policySource, "execve", null,
                    $"the policy does not cover {native.Name}, this machine's architecture: every call here, execve included, gets the bad-arch action {Verdict(policy.BadArchAction)}; {why}", []));
            return;
        }
        if (!native.Syscalls.TryGet("execve", out var execve) || skip.Contains((native, execve.Number)))
            return;
        var outcomes = RuleReachability.Outcomes(policy, section, execve.Number, Condition.True, budget, out _);
        if (outcomes.Count == 0 || !outcomes.All(o => Refuses(o.Action)))
            return;
        var rules = outcomes.Select(o => o.Rule).OfType<Rule>().ToList();
        string by = outcomes.Count == 1 && outcomes[0].Rule is null ? $"the default action {Verdict(policy.DefaultAction)}"
            : string.Join(" or ", outcomes.Select(o => o.Rule is { } r ? $"{Verdict(r)} at {Location(r.Source ?? policySource)}" : $"the default action {Verdict(policy.DefaultAction)}"));
        raw.Add(new Raw(LintKind.RefusesExecve, rules.Count == 1 && outcomes.Count == 1 ? rules[0].Source ?? policySource : policySource, "execve", null,
            $"execve is refused on {native.Name} ({by}): {why}; allow it (ALLOW execve)", []));
    }

    // ---- container escapes ----

    private static void Escapes(SeccompPolicy policy, PolicySource policySource, SolverBudget budget, HashSet<(Architecture, int)> skip, List<Raw> raw)
    {
        if (policy.Sections.Count > 0 && Allows(policy.BadArchAction))
            raw.Add(new Raw(LintKind.Escape, policySource, null, null,
                $"bad-arch {Verdict(policy.BadArchAction)} lets every call of an architecture the policy does not cover ({string.Join(", ", policy.Sections.Select(s => s.Architecture.Name))}) run unfiltered: " +
                "a 64-bit process can make 32-bit calls (int 0x80 on x86_64); use bad-arch KILL_PROCESS", []));
        var nsFlags = KernelConstants.All.Where(c => c.Name.StartsWith("CLONE_NEW", StringComparison.Ordinal) && c.Value != 0).ToList();
        foreach (var section in policy.Sections)
        {
            var arch = section.Architecture;
            foreach (var (name, why) in EscapeCalls)
                if (arch.Syscalls.TryGet(name, out var call) && !skip.Contains((arch, call.Number)))
                    Escape(policy, section, call, Condition.True, $"{name} is allowed", why, policySource, budget, raw);
            // Namespace flags: the flags argument as each architecture places it; clone's exit-signal byte is not flags.
            foreach (string name in new[] { "clone", "unshare" })
            {
                if (!arch.Syscalls.TryGet(name, out var call) || skip.Contains((arch, call.Number)))
                    continue;
                int flags = call.IndexOfArg("flags");
                if (flags < 0)
                    continue;
                var bits = nsFlags.Where(f => name != "clone" || (f.Value & (ulong)Uapi.CSIGNAL) == 0)
                    .Select(f => Condition.Of(ArgPredicate.ForArgument(call, flags, ComparisonOp.MaskedEq, f.Value, f.Value, out _))).ToList();
                Escape(policy, section, call, Condition.Any(bits), $"{name} with namespace flags (CLONE_NEW*) is allowed",
                    "a new user namespace gives the command every capability inside it and a large kernel attack surface", policySource, budget, raw);
            }
        }
    }

    private static void Escape(SeccompPolicy policy, ArchitecturePolicy section, Syscall call, Condition when, string what, string why, PolicySource policySource,
        SolverBudget budget, List<Raw> raw)
    {
        var outcomes = RuleReachability.Outcomes(policy, section, call.Number, when, budget, out bool undecided);
        if (undecided)
            raw.Add(new Raw(LintKind.Undecided, policySource, call.Name, section.Architecture,
                $"could not decide whether {what.Replace(" is allowed", "", StringComparison.Ordinal)} is allowed (the rules for {call.Name} are too many to solve within the lint's bounds)", []));
        foreach (var (rule, action) in outcomes)
        {
            if (!Allows(action))
                continue;
            var source = rule?.Source ?? policySource;
            string by = rule is null ? $" by the default action {Verdict(action)}" : "";
            raw.Add(new Raw(LintKind.Escape, source, call.Name, section.Architecture,
                $"{what}{by}: {why}; refuse it (ERRNO(EPERM)) unless the command needs it", []));
        }
    }

    // ---- widths ----

    private static void WideComparisons(SeccompPolicy policy, HashSet<(Architecture, int)> skip, List<Raw> raw)
    {
        foreach (var section in policy.Sections)
        {
            var arch = section.Architecture;
            foreach (var (nr, rules) in section.Syscalls.OrderBy(kv => kv.Key))
            {
                if (!arch.Syscalls.TryGet(nr, out var call) || skip.Contains((arch, nr)))
                    continue;
                foreach (var rule in rules.Where(r => r.Via is null))
                    foreach (var p in rule.Condition.Predicates().Distinct())
                    {
                        int reads = Math.Min(call.ArgWidth(p.Arg), arch.Is64Bit ? ArgPredicate.FullWidth : ArgPredicate.RegisterWidth32);
                        int compares = p.WidthOn(arch.Is64Bit);
                        if (compares <= reads)
                            continue;
                        string arg = p.Arg < call.ArgNames.Count ? call.ArgNames[p.Arg] : string.Create(CultureInfo.InvariantCulture, $"arg{p.Arg}");
                        raw.Add(new Raw(LintKind.WideComparison, rule.Source ?? new PolicySource(policy.Name), call.Name, arch,
                            string.Create(CultureInfo.InvariantCulture,
                                $"{p.Format(arg)} compares {compares} bits of {call.Name}'s {arg}, but the kernel reads only its low {reads} ({call.ArgType(p.Arg) ?? "its type"}): ") +
                            "a value with other high bits gets past the comparison and means the same to the kernel; compare at the argument's width (ArgPredicate.ForArgument)", []));
                    }
            }
        }
    }

    // ---- output ----

    /// <summary>One finding per (kind, place, syscall, message), with the architectures it holds on; in file order.</summary>
    private static List<LintFinding> Merge(SeccompPolicy policy, List<Raw> raw)
    {
        var result = new List<LintFinding>();
        foreach (var g in raw.GroupBy(r => (r.Kind, r.Source, r.Syscall, r.Message)))
        {
            var arches = g.Select(r => r.Architecture).OfType<Architecture>().Distinct().ToList();
            string message = g.Key.Message;
            if (arches.Count > 0 && g.Key.Syscall is { } name && g.Key.Kind != LintKind.UncheckedCondition)
            {
                // Say where only when it is not everywhere the policy could have the syscall.
                var everywhere = policy.Sections.Select(s => s.Architecture).Where(a => a.Syscalls.TryGet(name, out _)).ToList();
                if (!everywhere.All(arches.Contains))
                    message += $" (on {string.Join(", ", arches.Select(a => a.Name))})";
            }
            result.Add(new LintFinding(g.Key.Kind, g.Key.Source, message)
            {
                Syscall = g.Key.Syscall,
                Architectures = arches,
                DecidedBy = [.. g.SelectMany(r => r.DecidedBy).Distinct()],
            });
        }
        return [.. result.OrderBy(f => f.Source.File, StringComparer.Ordinal).ThenBy(f => f.Source.Line).ThenBy(f => f.Source.Column).ThenBy(f => f.Kind)];
    }

    private static bool Refuses(SeccompAction action) => action.Effective.Kind is SeccompActionKind.Errno or SeccompActionKind.KillProcess
        or SeccompActionKind.KillThread or SeccompActionKind.Trap or SeccompActionKind.Unknown;

    private static bool Allows(SeccompAction action) => action.Effective.Kind is SeccompActionKind.Allow or SeccompActionKind.Log;

    private static string NameOf(Architecture arch, int nr) =>
        arch.Syscalls.TryGetName(nr, out var name) ? name : string.Create(CultureInfo.InvariantCulture, $"syscall {nr}");

    private static string Verdict(Rule rule) => rule.Route is KernelRoute ? Verdict(rule.Action) : rule.Route.ToString();

    private static string Verdict(SeccompAction action) =>
        action.Kind == SeccompActionKind.Errno && Errno.Name(action.Data) is { } e ? $"ERRNO({e})" : action.ToString();

    /// <summary>The statement as written, shortened: <c>'ALLOW @runtime, @basic-io, ...'</c>.</summary>
    private static string Quote(PolicySource source) => source.Text is { } text ? $"'{Shorten(text)}'" : "the rule";

    private static string Shorten(string text) => text.Length <= MaxTextShown ? text : text[..(MaxTextShown - 3)].TrimEnd() + "...";

    /// <summary><c>my.policy:9 ('ALLOW @file-system')</c>, for up to three rules.</summary>
    private static string Describe(IReadOnlyList<PolicySource> sources)
    {
        if (sources.Count == 0)
            return "earlier rules";
        var shown = sources.Take(3).Select(s => s.Text is null ? Location(s) : $"{Location(s)} ({Quote(s)})");
        return string.Join(", ", shown) + (sources.Count > 3 ? string.Create(CultureInfo.InvariantCulture, $" and {sources.Count - 3} more") : "");
    }
}
