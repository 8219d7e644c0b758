using System.Text;
using System.Text.Json;
using Syscage.Abi;
using Syscage.Policy;
using Syscage.Policy.Oci;

namespace Syscage.Supervision;

/// <summary>How <see cref="HybridOciProfile.Create"/> writes an eBPF program's kernel half as an OCI profile.</summary>
public sealed record HybridOciOptions
{
    /// <summary>The agent's socket (<c>listenerPath</c>); null: none written (add it when deploying).</summary>
    public string? ListenerPath { get; init; }

    /// <summary>The program the agent runs for the container (<c>listenerMetadata</c>); by default the set's program name.</summary>
    public string? ListenerMetadata { get; init; }

    /// <summary>
    /// The architectures the profile covers (its <c>architectures</c>); by default the native one and those its kernel
    /// runs beside it (x86_64, x86, x32). Calls of other architectures get runc's bad-arch action, whatever the program says.
    /// </summary>
    public IReadOnlyList<Architecture>? Architectures { get; init; }

    /// <summary>
    /// Calls to decide in the kernel with the given action instead of sending them to the agent: a syscall name, or
    /// <c>default</c> for the profile's <c>defaultAction</c> (the calls no entry names). runc refuses
    /// <c>SCMP_ACT_NOTIFY</c> for <c>write</c> and as the default action, so a program that needs the agent there must
    /// say what the kernel does instead; the profile then differs from the program there, and <see cref="HybridOciProfileResult.Warnings"/> says so.
    /// </summary>
    public IReadOnlyDictionary<string, SeccompAction> KernelActions { get; init; } = new Dictionary<string, SeccompAction>();
}

/// <summary>The profile, and where it departs from the program.</summary>
/// <param name="Json">The OCI profile (<c>linux.seccomp</c> of a runtime spec, or a Docker <c>--security-opt seccomp=</c> file).</param>
/// <param name="Entries">Its <c>syscalls[]</c> entries, in order.</param>
/// <param name="Warnings">One sentence per departure (a kernel action that overrides the program).</param>
public sealed record HybridOciProfileResult(string Json, IReadOnlyList<OciSyscallEntry> Entries, IReadOnlyList<string> Warnings);

/// <summary>
/// Writes the kernel half of eBPF seccomp programs (<see cref="HybridFilter"/>) as an OCI seccomp profile for runc and
/// an agent: what the split decides in the kernel becomes entries with that action, what needs the programs becomes
/// <c>SCMP_ACT_NOTIFY</c> with the agent's <c>listenerPath</c>, and <c>listenerMetadata</c> names the program the agent
/// runs (<c>syscage agent --ebpf NAME=OBJ</c>).
/// </summary>
/// <remarks>
/// <para>A profile names syscalls, not numbers per architecture, and libseccomp compares x86 and x32 arguments on their
/// low 32 bits (docs/libseccomp-differences.md), so an entry is static only where that means the same as the split:
/// a name decided the same way, unconditionally, on every covered architecture that has it; or, on an architecture
/// whose arguments libseccomp compares whole (x86_64), one entry per disjoint path of the split, its argument tests
/// ANDed (<c>==</c>, <c>!=</c>, <c>&lt;</c>, <c>&lt;=</c>, <c>&gt;</c>, <c>&gt;=</c>, masked equality; one per argument, as runc
/// ORs two on the same argument). Anything else goes to the agent, which runs the whole program and so decides
/// exactly: sending a call to the agent is never wrong, only slower.</para>
/// <para>runc refuses <c>SCMP_ACT_NOTIFY</c> as <c>defaultAction</c> and for <c>write</c>: where the programs need the
/// agent there, <see cref="HybridOciOptions.KernelActions"/> must say what the kernel does instead, or
/// <see cref="Create"/> refuses. Numbers no syscall name has get <c>defaultAction</c>.</para>
/// </remarks>
public static class HybridOciProfile
{
    /// <summary>The call runc refuses to notify (it writes the listener's number to its parent after installing the filter).</summary>
    public const string Write = "write";

    /// <summary>The name <see cref="HybridOciOptions.KernelActions"/> gives the profile's default action.</summary>
    public const string Default = "default";

    /// <summary>Writes the profile of <paramref name="filter"/>, the kernel half of <paramref name="set"/>.</summary>
    /// <exception cref="SyscageException">The programs need the agent where runc allows no notification, and no kernel action says what to do there.</exception>
    public static HybridOciProfileResult Create(EbpfFilterSet set, HybridFilter filter, HybridOciOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentNullException.ThrowIfNull(filter);
        options ??= new HybridOciOptions();
        var arches = options.Architectures ?? DefaultArchitectures;
        // An architecture the split left without a section gives every call the bad-arch action.
        var sections = arches.Select(a => filter.Policy.Sections.FirstOrDefault(s => s.Architecture == a)
            ?? new ArchitecturePolicy(a, new Dictionary<int, IReadOnlyList<Rule>>())).ToList();
        var sectionDefaults = arches.Select(a => filter.Policy.Sections.Any(s => s.Architecture == a) ? filter.Policy.DefaultAction.Effective : filter.Policy.BadArchAction.Effective).ToList();
        var warnings = new List<string>();
        foreach (var name in options.KernelActions.Keys)
            if (name != Default && !arches.Any(a => a.Syscalls.TryGetNumber(name, out _)))
                throw new SyscageException($"kernel action for '{name}': no covered architecture has that syscall" +
                    (Suggest.Closest(name, arches.SelectMany(a => a.Syscalls.All.Select(s => s.Name))) is { } near ? $"; did you mean '{near}'?" : ""));

        // The default: the verdict every covered section gives the numbers it has no entry for, when they agree and it is static.
        // The numbers a section has no entry for take its default.
        var defaults = sectionDefaults.Distinct().ToList();
        SeccompAction defaultAction;
        if (options.KernelActions.TryGetValue(Default, out var givenDefault))
        {
            defaultAction = givenDefault.Effective;
            if (defaults.Count != 1 || defaults[0] != defaultAction)
                warnings.Add($"calls no entry names (numbers without a syscall name) get {Describe(defaultAction)} in the kernel, not the program's verdict");
        }
        else if (defaults.Count == 1 && defaults[0].Kind != SeccompActionKind.UserNotif && ToScmp(defaults[0]) is not null)
            defaultAction = defaults[0];
        else if (defaults.Count > 1)
            throw new SyscageException("the program gives the calls no entry names (numbers without a syscall name) different verdicts on the covered " +
                $"architectures ({string.Join(", ", arches.Select((a, i) => $"{a.Name}: {sectionDefaults[i]}"))}), and a profile has one default action: " +
                "cover fewer architectures (--arch), or say what the kernel does with them (--kernel-action default=SCMP_ACT_ERRNO, for instance)");
        else
            throw new SyscageException("the program decides the calls no entry names (numbers without a syscall name) in user space, and runc refuses " +
                "SCMP_ACT_NOTIFY as the default action: say what the kernel does with them (--kernel-action default=SCMP_ACT_ERRNO, for instance)");

        var entries = new List<(string Name, SeccompAction Action, IReadOnlyList<OciArg> Args)>();
        var names = arches.SelectMany(a => a.Syscalls.All.Select(s => s.Name)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
        foreach (var name in names)
        {
            if (options.KernelActions.TryGetValue(name, out var forced))
            {
                if (!Same(name, arches, sections, sectionDefaults, forced.Effective))
                    warnings.Add($"{name} gets {Describe(forced.Effective)} in the kernel, not the program's verdict");
                if (forced.Effective != defaultAction)
                    entries.Add((name, forced.Effective, []));
                continue;
            }
            var decided = Decide(name, arches, sections, sectionDefaults, defaultAction);
            if (decided is null)
            {
                if (name == Write)
                    throw new SyscageException("the program decides write in user space, and runc refuses SCMP_ACT_NOTIFY for write (it writes the " +
                        "listener's number to its parent after installing the filter): say what the kernel does with it (--kernel-action write=SCMP_ACT_ALLOW, for instance)");
                entries.Add((name, SeccompAction.UserNotif, []));
                continue;
            }
            entries.AddRange(decided.Select(d => (name, d.Action, d.Args)));
        }

        // One entry per (action, arguments): names that share them are listed together, in name order.
        var grouped = entries.GroupBy(e => (Action: e.Action.Value, Args: string.Join(";", e.Args)))
            .Select(g => (Names: g.Select(e => e.Name).ToList(), g.First().Action, g.First().Args))
            .OrderBy(g => g.Action.Kind == SeccompActionKind.UserNotif ? 0 : 1).ThenBy(g => g.Names[0], StringComparer.Ordinal).ToList();
        var oci = grouped.Select((g, i) => new OciSyscallEntry(i, g.Names, g.Action, g.Args, new PolicySource("ebpf"))).ToList();
        string? metadata = options.ListenerMetadata ?? (set.Programs.Count == 1 ? set.Programs[0].Name : null);
        return new HybridOciProfileResult(ToJson(defaultAction, arches, options.ListenerPath, metadata, oci), oci, warnings);
    }

    /// <summary>
    /// x86_64, x86 and x32 on x86_64 (what runc and Docker's profiles list); the native architecture alone elsewhere: a
    /// policy's default coverage (<see cref="PolicyBuilder.DefaultArchitectures"/>).
    /// </summary>
    public static IReadOnlyList<Architecture> DefaultArchitectures => PolicyBuilder.DefaultArchitectures;

    /// <summary>True when every covered architecture that has <paramref name="name"/> gives it <paramref name="action"/> for every argument.</summary>
    private static bool Same(string name, IReadOnlyList<Architecture> arches, List<ArchitecturePolicy> sections, List<SeccompAction> sectionDefaults, SeccompAction action)
    {
        for (int i = 0; i < arches.Count; i++)
        {
            if (!arches[i].Syscalls.TryGetNumber(name, out int nr))
                continue;
            var rules = sections[i].RulesFor(nr);
            bool same = rules.Count == 0
                ? sectionDefaults[i] == action
                : rules.Count == 1 && rules[0].Condition.IsTrue && rules[0].Action.Effective == action;
            if (!same)
                return false;
        }
        return true;
    }

    /// <summary>
    /// The static entries for <paramref name="name"/>: none when it takes <paramref name="profileDefault"/>; one per path
    /// when they can be written exactly; null when the agent must decide it.
    /// </summary>
    private static List<(SeccompAction Action, IReadOnlyList<OciArg> Args)>? Decide(string name, IReadOnlyList<Architecture> arches, List<ArchitecturePolicy> sections,
        List<SeccompAction> sectionDefaults, SeccompAction profileDefault)
    {
        List<Rule>? seen = null;
        SeccompAction policyDefault = default;
        bool onlyWholeArguments = true;
        for (int i = 0; i < arches.Count; i++)
        {
            if (!arches[i].Syscalls.TryGetNumber(name, out int nr))
                continue;
            var rules = sections[i].RulesFor(nr).ToList();
            if (seen is null)
                (seen, policyDefault) = (rules, sectionDefaults[i]);
            else if (!rules.SequenceEqual(seen, RuleComparer.Instance) || sectionDefaults[i] != policyDefault)
                return null; // decided differently on two architectures: one entry can't say both
            onlyWholeArguments &= arches[i] == Architecture.X86_64;
        }
        if (seen is null)
            return [];
        // A call no rule matches takes the split's default (its sections leave out what equals it).
        if (seen.Count == 0 || (seen.Count == 1 && seen[0].Condition.IsTrue))
        {
            var action = seen.Count == 0 ? policyDefault : seen[0].Action.Effective;
            if (action == profileDefault)
                return [];
            return action.Kind == SeccompActionKind.UserNotif || ToScmp(action) is null ? null : [(action, [])];
        }
        // Paths with argument tests: exact only where libseccomp compares whole registers, when every path's action has
        // a runc spelling, and when what no path matches is the profile's default.
        if (!onlyWholeArguments || policyDefault != profileDefault
            || seen.Any(r => r.Action.Effective.Kind == SeccompActionKind.UserNotif || ToScmp(r.Action.Effective) is null))
            return null;
        var result = new List<(SeccompAction, IReadOnlyList<OciArg>)>();
        Architecture.X86_64.Syscalls.TryGet(name, out var syscall);
        foreach (var rule in seen)
        {
            if (ToArgs(rule.Condition, syscall) is not { } args)
                return null;
            result.Add((rule.Action.Effective, args));
        }
        return result;
    }

    /// <summary>
    /// A condition as ANDed OCI comparisons (one per argument), or null when it can't be written exactly. A comparison
    /// of the whole register is written only for an argument the kernel reads whole (<see cref="Syscall.ArgWidth"/> 64,
    /// or a call the tables do not know): runc + libseccomp compare it on 64 bits, but a profile's plain meaning — what
    /// Syscage reads it as — is at the argument's width, and for a narrower argument the two differ.
    /// </summary>
    internal static List<OciArg>? ToArgs(Condition condition, Syscall? syscall)
    {
        var predicates = new List<ArgPredicate>();
        if (!Flatten(condition, predicates))
            return null;
        var args = new List<OciArg>();
        foreach (var p in predicates.OrderBy(p => p.Arg))
        {
            if (args.Any(a => a.Index == p.Arg))
                return null; // runc would OR two comparisons of one argument
            // A whole-register test of a narrower argument means the same at both widths only when it looks at no bit
            // past the argument's: a masked equality whose mask fits in it.
            if (p.Width == ArgPredicate.FullWidth && syscall is not null && syscall.ArgWidth(p.Arg) is int width && width < ArgPredicate.FullWidth
                && !(p.Op == ComparisonOp.MaskedEq && (p.Mask & ~ArgPredicate.WidthMask(width)) == 0))
                return null;
            if (p.Width == ArgPredicate.FullWidth)
                args.Add(p.Op == ComparisonOp.MaskedEq
                    ? new OciArg(p.Arg, ComparisonOp.MaskedEq, p.Mask, p.Value & p.Mask)
                    : new OciArg(p.Arg, p.Op, p.Value, 0));
            else if (p.Op is ComparisonOp.Eq or ComparisonOp.MaskedEq)
            {
                // (arg & width mask) == value: the narrow test of the low bits, as a masked equality on the whole register.
                ulong mask = ArgPredicate.WidthMask(p.Width) & (p.Op == ComparisonOp.MaskedEq ? p.Mask : ulong.MaxValue);
                args.Add(new OciArg(p.Arg, ComparisonOp.MaskedEq, mask, p.Value & mask));
            }
            else
                return null;
        }
        return args;
    }

    private static bool Flatten(Condition c, List<ArgPredicate> into)
    {
        switch (c)
        {
            case Condition.Predicate { Value: var p }:
                into.Add(p);
                return true;
            case Condition.AllOf all:
                return all.Conditions.All(x => Flatten(x, into));
            case Condition.AnyOf { Conditions.Count: 1 } one:
                return Flatten(one.Conditions[0], into);
            case Condition.NotOf { Inner: Condition.Predicate { Value: var p } } when p.Op != ComparisonOp.MaskedEq:
                into.Add(p with
                {
                    Op = p.Op switch
                    {
                        ComparisonOp.Eq => ComparisonOp.Ne,
                        ComparisonOp.Ne => ComparisonOp.Eq,
                        ComparisonOp.Lt => ComparisonOp.Ge,
                        ComparisonOp.Ge => ComparisonOp.Lt,
                        ComparisonOp.Le => ComparisonOp.Gt,
                        _ => ComparisonOp.Le,
                    },
                });
                return p.Width == ArgPredicate.FullWidth; // a narrow != has no masked form
            default:
                return false;
        }
    }

    private sealed class RuleComparer : IEqualityComparer<Rule>
    {
        public static readonly RuleComparer Instance = new();
        public bool Equals(Rule? x, Rule? y) => x is not null && y is not null && x.Action == y.Action && x.Condition.Equals(y.Condition);
        public int GetHashCode(Rule obj) => HashCode.Combine(obj.Action, obj.Condition);
    }

    /// <summary>runc's spelling of an action and its <c>errnoRet</c>, or null when runc has none (TRAP with data).</summary>
    private static (string Name, int? ErrnoRet)? ToScmp(SeccompAction action) => action.Kind switch
    {
        SeccompActionKind.Unknown => null,
        SeccompActionKind.Trap when action.Data != 0 => null,
        var kind when OciNames.TakesErrnoRet(kind) => (OciNames.ActionName(kind), action.Data),
        var kind => (OciNames.ActionName(kind), null),
    };

    private static string Describe(SeccompAction action) => ToScmp(action) is { } s ? s.ErrnoRet is int e ? $"{s.Name}({e})" : s.Name : action.ToString();

    private static string ToJson(SeccompAction defaultAction, IReadOnlyList<Architecture> arches, string? listener, string? metadata, List<OciSyscallEntry> entries)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            var (name, errno) = ToScmp(defaultAction)!.Value;
            w.WriteString("defaultAction", name);
            if (errno is int d)
                w.WriteNumber("defaultErrnoRet", d);
            w.WriteStartArray("architectures");
            foreach (var a in arches)
                w.WriteStringValue(a.ScmpName);
            w.WriteEndArray();
            if (listener is not null)
                w.WriteString("listenerPath", listener);
            if (metadata is not null)
                w.WriteString("listenerMetadata", metadata);
            w.WriteStartArray("syscalls");
            foreach (var e in entries)
            {
                w.WriteStartObject();
                w.WriteStartArray("names");
                foreach (var n in e.Names)
                    w.WriteStringValue(n);
                w.WriteEndArray();
                var (action, errnoRet) = ToScmp(e.Action)!.Value;
                w.WriteString("action", action);
                if (errnoRet is int r)
                    w.WriteNumber("errnoRet", r);
                if (e.Args.Count > 0)
                {
                    w.WriteStartArray("args");
                    foreach (var a in e.Args)
                    {
                        w.WriteStartObject();
                        w.WriteNumber("index", a.Index);
                        w.WriteNumber("value", a.Value);
                        if (a.Op == ComparisonOp.MaskedEq)
                            w.WriteNumber("valueTwo", a.ValueTwo);
                        w.WriteString("op", OciNames.OperatorName(a.Op));
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan) + "\n";
    }
}
