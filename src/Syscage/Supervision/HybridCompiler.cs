using System.Collections.Concurrent;
using Syscage.Bpf;
using Syscage.Policy;
using Syscage.Policy.Compiler;
using Syscage.Abi;
using Syscage.Ebpf.Analysis;
using Syscage.Ebpf;
using Syscage.Ebpf.Verifier;

namespace Syscage.Supervision;

/// <summary>How <see cref="HybridCompiler"/> splits programs between the kernel and the supervisor.</summary>
public sealed record HybridOptions
{
    /// <summary>
    /// True (default): decide in the kernel the calls whose verdict the symbolic exploration finds to follow from
    /// <c>struct seccomp_data</c> alone, in terms the policy IR can express; the others go to the supervisor (so does,
    /// for instance, a call decided by a test of the instruction pointer: docs/ebpf-hybrid.md lists what stays out).
    /// False: every call goes to the supervisor (a baseline for measurements and differential tests).
    /// </summary>
    public bool Split { get; init; } = true;

    /// <summary>Optimise the classic BPF (as <see cref="CompileOptions.Optimize"/>).</summary>
    public bool Optimize { get; init; } = true;

    /// <summary>Paths explored per program and architecture before the explorer falls back to one syscall at a time.</summary>
    public int MaxPaths { get; init; } = 4096;

    /// <summary>
    /// The architectures whose calls get sections of their own; null (the default): every architecture Syscage knows.
    /// Every other architecture shares the bad-arch verdict, which is then the programs' verdict for all of them when
    /// that is one constant, else <c>USER_NOTIF</c> (the supervisor runs the programs): a filter decides every input as
    /// the programs do whatever is listed, and the list only chooses which calls the kernel decides alone. A filter
    /// installed here only ever sees the ABIs of this machine's kernel (<see cref="PolicyBuilder.DefaultArchitectures"/>,
    /// what a sandboxed run uses), and exploring the twenty-odd others was most of the start of a program that needs the
    /// supervisor (docs/ebpf-hybrid.md). x86_64 and x32 share an audit value: naming either gives both their sections.
    /// </summary>
    public IReadOnlyList<Architecture>? Architectures { get; init; }

    /// <summary>For filters installed on this machine: sections for the ABIs of its kernel only (<see cref="Architectures"/>).</summary>
    public static HybridOptions ThisMachine { get; } = new() { Architectures = PolicyBuilder.DefaultArchitectures };
}

/// <summary>
/// The kernel half of one or more stacked eBPF seccomp programs: a policy (and its classic BPF) that gives every call
/// either the programs' combined verdict, where it depends on <c>struct seccomp_data</c> only, or
/// <c>SECCOMP_RET_USER_NOTIF</c>, where a supervisor must run the programs.
/// </summary>
/// <param name="Policy">The policy in the IR; <c>USER_NOTIF</c> marks the calls that reach the supervisor.</param>
/// <param name="Filter">The compiled classic BPF.</param>
public sealed record HybridFilter(SeccompPolicy Policy, BpfProgram Filter)
{
    /// <summary>True when some call can return <c>USER_NOTIF</c>: the filter needs a listener and a supervisor.</summary>
    public bool NeedsSupervisor { get; } = Policy.UsesNotify;

    /// <summary>Per architecture section: how many of its table's syscalls the kernel decides alone, and which go to the supervisor (always or for some arguments).</summary>
    public IReadOnlyList<HybridSectionReport> Report { get; init; } = [];
}

/// <summary>How one architecture's calls are split.</summary>
/// <param name="Architecture">The section.</param>
/// <param name="InKernel">Table syscalls the kernel decides for every argument.</param>
/// <param name="Supervised">Table syscalls that reach the supervisor for every argument.</param>
/// <param name="Mixed">Table syscalls that reach it for some arguments only.</param>
/// <param name="Section">How syscalls without an entry are decided (the section's default).</param>
public sealed record HybridSectionReport(Architecture Architecture, IReadOnlyList<string> InKernel, IReadOnlyList<string> Supervised, IReadOnlyList<string> Mixed, string Section);

/// <summary>
/// Compiles verified eBPF seccomp programs into their kernel half (see <see cref="HybridFilter"/>), through the
/// policy IR: each program is explored symbolically per architecture (<see cref="SymbolicExplorer"/>); a path that
/// only reads the context, the stack and read-only globals, calls no helper and tests only what the IR can express
/// (not the instruction pointer, nor arithmetic on an argument) ends in a constant and becomes a rule with that
/// verdict; every other path becomes a <c>USER_NOTIF</c> rule. Stacked programs and a policy combine as the kernel combines
/// stacked filters; a call is decided in the kernel only when no program that sees it needs the supervisor.
/// </summary>
public static class HybridCompiler
{
    private static readonly ulong X32Bit = Architecture.X32.SyscallNumberBit;
    private const int DenseNumbers = 1024;

    /// <summary>Compiles the kernel half of <paramref name="set"/>.</summary>
    public static HybridFilter Compile(EbpfFilterSet set, HybridOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(set);
        options ??= new HybridOptions();
        var compileOptions = new CompileOptions { Optimize = options.Optimize };
        if (!options.Split)
        {
            var everything = new SeccompPolicy(SeccompAction.UserNotif, SeccompAction.UserNotif, [], "ebpf (no split)");
            return new HybridFilter(everything, PolicyCompiler.Compile(everything, compileOptions));
        }
        var analyses = set.Programs.ToDictionary(p => p.Name, p => new ProgramAnalysis(p.Program, options.MaxPaths), StringComparer.Ordinal);
        var components = new List<IComponent>();
        // Decide's order: stacked programs from the last installed to the first, then the policy.
        for (int i = set.Stacked.Count - 1; i >= 0; i--)
            components.Add(analyses[set.Stacked[i].Name]);
        if (set.Policy is not null)
            components.Add(new PolicyComponent(set.Policy, analyses));

        var sections = SectionsFor(options.Architectures);
        uint? badArch = Combine(components.Select(c => c.OtherArchitectures(sections)));
        var pending = new List<(Architecture Arch, uint[] Keys)>();
        var defaults = new List<uint?>();
        var report = new List<HybridSectionReport>();
        foreach (var arch in sections)
        {
            uint? uniform = Combine(components.Select(c => c.Uniform(arch)));
            if (uniform is not null && badArch is not null && uniform == badArch)
                continue;
            // Every number up to 1023 past the ABI's first gets an entry, not just the table's: a kernel newer than the
            // tables has more syscalls, and they should be decided in the kernel too when the program can.
            uint first = (uint)arch.SyscallNumberBase;
            // The dense run, and the few numbers outside it (x86_64's -1, numbers the components test for, table numbers
            // far from the ABI's first).
            var outside = new List<uint>();
            void Add(uint k)
            {
                if (k - first >= DenseNumbers)
                    outside.Add(k);
            }
            foreach (int n in arch.Syscalls.Numbers)
                Add((uint)n);
            if (arch == Architecture.X86_64)
                Add(uint.MaxValue);
            foreach (var c in components)
                foreach (uint k in c.Keys(arch))
                    if (Owns(arch, k))
                        Add(k);
            uint[] keys = WithDenseRun(outside, first);
            var excluded = new HashSet<ulong>(keys.Length);
            foreach (uint k in keys)
                excluded.Add(k);
            uint? sectionDefault = uniform ?? Combine(components.Select(c => c.Default(arch, excluded)));
            defaults.Add(sectionDefault);
            pending.Add((arch, keys)); // rules come once the policy-wide default is known
        }
        uint defaultVerdict = defaults.Count > 0 && defaults.All(d => d is not null && d == defaults[0]) ? defaults[0]!.Value : SeccompAction.UserNotif.Value;
        var finalSections = new List<ArchitecturePolicy>();
        foreach (var (arch, keys) in pending)
        {
            var syscalls = new Dictionary<int, IReadOnlyList<Rule>>();
            var inKernel = new List<string>();
            var supervised = new List<string>();
            var mixed = new List<string>();
            // Most numbers take the same paths of a program as many others (every call it does not test for, one set):
            // their decisions are the same lists, combined once.
            var combined = new Dictionary<List<Entry>[], (List<Rule> Rules, bool AnyNotify, bool AllNotify)>(SameLists.Instance);
            var decided = new List<Entry>[components.Count];
            foreach (uint nr in keys)
            {
                for (int i = 0; i < decided.Length; i++)
                    decided[i] = components[i].Decide(arch, nr);
                if (!combined.TryGetValue(decided, out var done))
                {
                    var product = Product([.. decided]);
                    combined[[.. decided]] = done = (ToRules(product, defaultVerdict), product.Any(e => e.Verdict is null), product.All(e => e.Verdict is null));
                }
                var (rules, anyNotify, allNotify) = done;
                if (arch.Syscalls.TryGetName((int)nr, out string? name))
                    (allNotify ? supervised : anyNotify ? mixed : inKernel).Add(name);
                if (rules.Count > 0)
                    syscalls[(int)nr] = rules;
            }
            finalSections.Add(new ArchitecturePolicy(arch, syscalls));
            report.Add(new HybridSectionReport(arch, inKernel, supervised, mixed, new SeccompAction(defaultVerdict).ToString()));
        }
        var policy = new SeccompPolicy(new SeccompAction(defaultVerdict), new SeccompAction(badArch ?? SeccompAction.UserNotif.Value), finalSections,
            set.Policy is null ? "ebpf" : set.Policy.Name + "+ebpf");
        return new HybridFilter(policy, PolicyCompiler.Compile(policy, compileOptions)) { Report = report };
    }

    /// <summary>
    /// <paramref name="outside"/> (numbers outside the dense run from <paramref name="first"/>) and the run, in ascending
    /// order, each once.
    /// </summary>
    private static uint[] WithDenseRun(List<uint> outside, uint first)
    {
        outside.Sort();
        var keys = new List<uint>(DenseNumbers + outside.Count);
        int i = 0;
        for (; i < outside.Count && outside[i] < first; i++)
            if (keys.Count == 0 || keys[^1] != outside[i])
                keys.Add(outside[i]);
        for (uint n = 0; n < DenseNumbers; n++)
            keys.Add(first + n);
        for (; i < outside.Count; i++)
            if (keys[^1] != outside[i])
                keys.Add(outside[i]);
        return [.. keys];
    }

    /// <summary>
    /// The sections of a hybrid policy: every architecture Syscage knows, or those whose audit value one of
    /// <paramref name="wanted"/> has (x86_64 and x32 share theirs), in <see cref="Architecture.All"/>'s order.
    /// </summary>
    private static IReadOnlyList<Architecture> SectionsFor(IReadOnlyList<Architecture>? wanted) =>
        wanted is null ? Architecture.All : [.. Architecture.All.Where(a => wanted.Any(w => w.AuditArch == a.AuditArch))];

    /// <summary>Whether <paramref name="nr"/> belongs to <paramref name="arch"/>'s section (x86_64 and x32 share an audit value).</summary>
    private static bool Owns(Architecture arch, uint nr) => arch.Owns(unchecked((int)nr));

    /// <summary>The facts that hold for every number of a section's default (beyond the excluded keys).</summary>
    internal static Atom[] SectionFacts(Architecture arch) =>
        arch == Architecture.X86_64 ? [Atom.MaskedEq(DataField.Nr, X32Bit, 0)]
        : arch == Architecture.X32 ? [Atom.MaskedEq(DataField.Nr, X32Bit, X32Bit), Atom.MaskedEq(DataField.Nr, uint.MaxValue, unchecked((uint)Architecture.SkippedCall), negated: true)]
        : [];

    /// <summary>
    /// Combines the components' verdicts as <see cref="EbpfFilterSet.Decide"/> does (null, the supervisor, when
    /// any one is null).
    /// </summary>
    private static uint? Combine(IEnumerable<uint?> verdicts)
    {
        uint? result = null;
        bool first = true;
        foreach (var v in verdicts)
        {
            if (v is null)
                return null;
            result = first ? v : SeccompAction.Precede(result!.Value, v.Value);
            first = false;
        }
        return first ? SeccompAction.Allow.Value : result;
    }

    private static List<Entry> Product(List<List<Entry>> lists)
    {
        var acc = new List<Entry> { new(Condition.True, SeccompAction.Allow.Value) };
        bool first = true;
        foreach (var list in lists)
        {
            var next = new List<Entry>();
            foreach (var a in acc)
                foreach (var b in list)
                {
                    var cond = a.Condition.IsTrue ? b.Condition : b.Condition.IsTrue ? a.Condition : Condition.All(a.Condition, b.Condition);
                    uint? v = first ? b.Verdict : a.Verdict is null || b.Verdict is null ? null : SeccompAction.Precede(a.Verdict.Value, b.Verdict.Value);
                    next.Add(new Entry(cond, v));
                }
            acc = next;
            first = false;
        }
        return acc;
    }

    private static List<Rule> ToRules(List<Entry> entries, uint defaultVerdict)
    {
        // Entries are disjoint and cover every argument: those with the default's verdict can be left to it.
        uint Of(Entry e) => e.Verdict ?? SeccompAction.UserNotif.Value;
        var distinct = entries.Select(Of).Distinct().ToList();
        if (distinct.Count == 1)
            return distinct[0] == defaultVerdict ? [] : [new Rule(Condition.True, new SeccompAction(distinct[0]))];
        return [.. entries.Where(e => Of(e) != defaultVerdict).Select(e => new Rule(e.Condition, new SeccompAction(Of(e))))];
    }

    /// <summary>Lists of entries compared by identity, element by element: the components' decisions for one number.</summary>
    private sealed class SameLists : IEqualityComparer<List<Entry>[]>
    {
        public static readonly SameLists Instance = new();

        public bool Equals(List<Entry>[]? x, List<Entry>[]? y)
        {
            if (x is null || y is null || x.Length != y.Length)
                return false;
            for (int i = 0; i < x.Length; i++)
                if (!ReferenceEquals(x[i], y[i]))
                    return false;
            return true;
        }

        public int GetHashCode(List<Entry>[] lists)
        {
            var hash = new HashCode();
            foreach (var list in lists)
                hash.Add(System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(list));
            return hash.ToHashCode();
        }
    }

    /// <summary>A part of the decision for one call, under a condition on the arguments.</summary>
    internal sealed record Entry(Condition Condition, uint? Verdict);

    /// <summary>Something that decides calls: a program, or the policy with its routed programs.</summary>
    internal interface IComponent
    {
        /// <summary>The verdict for every architecture outside <paramref name="sections"/>, when it is one constant.</summary>
        uint? OtherArchitectures(IReadOnlyList<Architecture> sections);

        /// <summary>The verdict for every call of <paramref name="arch"/>, when it is one constant.</summary>
        uint? Uniform(Architecture arch);

        /// <summary>Numbers worth a section entry (the ones the component tests for).</summary>
        IEnumerable<uint> Keys(Architecture arch);

        /// <summary>The verdict for numbers of <paramref name="arch"/> outside <paramref name="excluded"/>, when it is one constant.</summary>
        uint? Default(Architecture arch, HashSet<ulong> excluded);

        /// <summary>The decision for one number: disjoint entries covering every argument.</summary>
        List<Entry> Decide(Architecture arch, uint nr);
    }

    /// <summary>One program's decisions, from its symbolic paths.</summary>
    internal sealed class ProgramAnalysis(EbpfProgram program, int maxPaths) : IComponent
    {
        private const long StepBudget = 5_000_000;
        private bool _stopRefining;
        private readonly SymbolicExplorer _explorer = new(program, maxPaths);
        private readonly ConcurrentDictionary<uint, List<SymbolicPath>?> _byArch = new();
        private readonly Dictionary<(uint, uint), List<Entry>> _byNr = [];
        // The decision made of a set of paths (their indexes), for the numbers that take exactly those paths: by a bit
        // per path when a section has at most 64 (nearly always), else by the list of indexes.
        private readonly Dictionary<(uint, ulong), List<Entry>> _byPathBits = [];
        private readonly Dictionary<(uint, string), List<Entry>> _byPaths = [];
        // Per section: each path's tests of the number, and the paths that a number fixed may make static (dynamic and
        // refinable), as bits.
        private readonly Dictionary<uint, (Atom[][] NrAtoms, ulong Refinable)> _sections = [];
        // The section asked for last, with its paths and tests (under the lock): the split asks for one section's
        // numbers one after the other.
        private uint _lastArch;
        private List<SymbolicPath>? _lastPaths;
        private (Atom[][] NrAtoms, ulong Refinable) _lastSection;
        private (bool Done, uint? Verdict) _other;

        /// <summary>
        /// The calls of <paramref name="arch"/>: on a 32-bit ABI the program sees only the arguments' low halves
        /// (<see cref="Ebpf.Seccomp.SeccompEbpfProgram.Run"/>), as the classic half compares them.
        /// </summary>
        private static Scenario ArchScenario(Architecture arch)
        {
            var sc = new Scenario().With(DataField.Arch, arch.AuditArch);
            if (!arch.Is64Bit)
                for (int i = 0; i < 6; i++)
                    sc.PossibleBits[(int)DataField.Arg0 + i] = uint.MaxValue;
            return sc;
        }

        /// <summary>Paths with arch fixed and nr symbolic (null when exploring gave up).</summary>
        private List<SymbolicPath>? Paths(Architecture arch) =>
            _byArch.TryGetValue(arch.AuditArch, out var paths) ? paths : _byArch.GetOrAdd(arch.AuditArch, _ => _explorer.Explore(ArchScenario(arch)));

        // One analysis serves one compile, so one list of sections: the verdict is kept for it.
        public uint? OtherArchitectures(IReadOnlyList<Architecture> sections)
        {
            if (_other.Done)
                return _other.Verdict;
            var sc = new Scenario();
            sc.Excluded[DataField.Arch] = [.. sections.Select(a => (ulong)a.AuditArch)];
            var paths = _explorer.Explore(sc);
            _other = (true, Uniform(paths, [], null));
            return _other.Verdict;
        }

        public uint? Uniform(Architecture arch) => Uniform(Paths(arch), SectionFacts(arch), null);

        public IEnumerable<uint> Keys(Architecture arch)
        {
            var paths = Paths(arch);
            if (paths is null)
                return [];
            return paths.SelectMany(p => p.Atoms).Where(a => a.Field == DataField.Nr && !a.IsRange && a.Mask == uint.MaxValue).Select(a => (uint)a.Value).Distinct();
        }

        public uint? Default(Architecture arch, HashSet<ulong> excluded) => Uniform(Paths(arch), SectionFacts(arch), excluded);

        /// <summary>The one static verdict of every path that some number outside <paramref name="excluded"/> can take; null when there is none.</summary>
        private static uint? Uniform(List<SymbolicPath>? paths, Atom[] facts, HashSet<ulong>? excluded)
        {
            if (paths is null)
                return null;
            uint? verdict = null;
            foreach (var p in paths)
            {
                var nrAtoms = p.Atoms.Where(a => a.Field == DataField.Nr).Concat(facts).ToList();
                if (!Constraints.Satisfiable(nrAtoms, uint.MaxValue, excluded))
                    continue;
                if (p.Verdict is null)
                    return null;
                if (verdict is null)
                    verdict = p.Verdict;
                else if (verdict != p.Verdict)
                    return null;
            }
            return verdict ?? SeccompAction.Allow.Value; // no feasible path: nothing to decide
        }

        public List<Entry> Decide(Architecture arch, uint nr)
        {
            lock (_byNr)
            {
                var all = _lastPaths is not null && _lastArch == arch.AuditArch ? _lastPaths : Paths(arch);
                // The common case first, without building anything: the paths this number takes, as bits, are a set
                // already decided, and none of them asks for the number to be fixed (so no decision of its own, in
                // _byNr, can differ).
                if (all is { Count: <= 64 })
                {
                    if (!ReferenceEquals(all, _lastPaths) || _lastArch != arch.AuditArch)
                        (_lastArch, _lastPaths, _lastSection) = (arch.AuditArch, all, Section(arch, all));
                    var (nrAtoms, refinable) = _lastSection;
                    ulong bits = 0;
                    for (int i = 0; i < nrAtoms.Length; i++)
                        if (HoldsAll(nrAtoms[i], nr))
                            bits |= 1UL << i;
                    if ((bits & refinable) == 0 && _byPathBits.TryGetValue((arch.AuditArch, bits), out var same))
                        return same;
                }
                if (_byNr.TryGetValue((arch.AuditArch, nr), out var cached))
                    return cached;
                List<SymbolicPath>? paths = null;
                string? taken = null; // the indexes of the paths this number takes
                if (all is not null)
                {
                    paths = [];
                    var indexes = new System.Text.StringBuilder();
                    for (int i = 0; i < all.Count; i++)
                        if (all[i].HoldsFor(DataField.Nr, nr))
                        {
                            paths.Add(all[i]);
                            indexes.Append(i).Append(',');
                        }
                    taken = indexes.ToString();
                }
                // A dynamic path may only be one the symbolic number made opaque (a bit test by shifting, arithmetic
                // the atoms can't follow): with the number fixed, the same program may well decide in the kernel.
                // Bounded: a program that explodes per number too (a loop on an argument) leaves the rest to the
                // supervisor instead of holding up the start.
                (uint, string)? shared = null;
                if ((paths is null || paths.Any(p => p.Verdict is null && p.Refinable)) && !_stopRefining && _explorer.TotalSteps < StepBudget)
                {
                    var fixedNr = _explorer.Explore(ArchScenario(arch).With(DataField.Nr, nr));
                    _stopRefining = fixedNr is null; // too many paths even with the number fixed: the others will be too
                    paths = fixedNr ?? paths;
                    if (fixedNr is null && taken is not null)
                        shared = (arch.AuditArch, taken);
                }
                else if (taken is not null)
                    shared = (arch.AuditArch, taken);
                if (shared is { } key && _byPaths.TryGetValue(key, out var sameList))
                    return _byNr[(arch.AuditArch, nr)] = sameList;
                List<Entry> result = paths is null ? [new Entry(Condition.True, null)]
                    : [.. paths.Select(p => new Entry(ToCondition(p.Atoms, arch), p.Verdict))];
                if (result.Count == 0)
                    result.Add(new Entry(Condition.True, SeccompAction.Allow.Value)); // unreachable: no path holds
                if (shared is { } newKey)
                {
                    _byPaths[newKey] = result;
                    if (all is { Count: <= 64 })
                        _byPathBits[(arch.AuditArch, Bits(newKey.Item2))] = result;
                }
                _byNr[(arch.AuditArch, nr)] = result;
                return result;
            }
        }

        /// <summary>
        /// Each path of <paramref name="arch"/>'s section as its tests of the number, and the paths that are dynamic but
        /// may be static with the number fixed, as bits.
        /// </summary>
        private (Atom[][] NrAtoms, ulong Refinable) Section(Architecture arch, List<SymbolicPath> all)
        {
            if (_sections.TryGetValue(arch.AuditArch, out var section))
                return section;
            var nrAtoms = new Atom[all.Count][];
            ulong refinable = 0;
            for (int i = 0; i < all.Count; i++)
            {
                nrAtoms[i] = [.. all[i].Atoms.Where(a => a.Field == DataField.Nr)];
                if (all[i].Verdict is null && all[i].Refinable)
                    refinable |= 1UL << i;
            }
            return _sections[arch.AuditArch] = (nrAtoms, refinable);
        }

        /// <summary>Whether every one of <paramref name="atoms"/> holds for <paramref name="nr"/> (<see cref="SymbolicPath.HoldsFor"/>).</summary>
        private static bool HoldsAll(Atom[] atoms, uint nr)
        {
            foreach (var atom in atoms)
                if (!atom.Holds(nr))
                    return false;
            return true;
        }

        /// <summary>The indexes of a <c>taken</c> list ("0,3,") as bits.</summary>
        private static ulong Bits(string taken)
        {
            ulong bits = 0;
            foreach (var index in taken.Split(',', StringSplitOptions.RemoveEmptyEntries))
                bits |= 1UL << int.Parse(index, System.Globalization.CultureInfo.InvariantCulture);
            return bits;
        }

        /// <summary>
        /// A path's atoms on the arguments as a condition. The atoms say what the program itself compares: it loads the
        /// argument's bytes it wants (a 32-bit load of an <c>int</c> is an atom with mask 0xffffffff), so the
        /// predicates keep the program's own semantics and are made at the full width, whatever the argument's type.
        /// </summary>
        private static Condition ToCondition(IReadOnlyList<Atom> atoms, Architecture arch)
        {
            const int width = ArgPredicate.FullWidth;
            ulong full = arch.Is64Bit ? ulong.MaxValue : uint.MaxValue;
            var parts = new List<Condition>();
            foreach (var a in atoms)
            {
                if (a.Field < DataField.Arg0)
                    continue;
                int arg = a.Field - DataField.Arg0;
                if (a.IsRange)
                {
                    if (a.Lo > 0)
                        parts.Add(Condition.Of(new ArgPredicate(arg, ComparisonOp.Ge, a.Lo, Width: width)));
                    if (a.Hi < full)
                        parts.Add(Condition.Of(new ArgPredicate(arg, ComparisonOp.Le, a.Hi, Width: width)));
                    continue;
                }
                var p = a.Mask == full ? new ArgPredicate(arg, ComparisonOp.Eq, a.Value, Width: width) : new ArgPredicate(arg, ComparisonOp.MaskedEq, a.Value, a.Mask, width);
                parts.Add(!a.Negated ? Condition.Of(p) : a.Mask == full ? Condition.Of(p with { Op = ComparisonOp.Ne }) : Condition.Not(Condition.Of(p)));
            }
            return parts.Count switch { 0 => Condition.True, 1 => parts[0], _ => Condition.All(parts) };
        }
    }

    /// <summary>A policy, whose <c>EBPF(name)</c> rules hand calls to programs.</summary>
    private sealed class PolicyComponent(SeccompPolicy policy, Dictionary<string, ProgramAnalysis> programs) : IComponent
    {
        private ArchitecturePolicy? Section(Architecture arch) => policy.Sections.FirstOrDefault(s => s.Architecture == arch);

        // An architecture the policy has a section for but the filter does not is decided by its rules: the supervisor's.
        public uint? OtherArchitectures(IReadOnlyList<Architecture> sections) =>
            policy.Sections.All(s => sections.Contains(s.Architecture)) ? policy.BadArchAction.Value : null;

        public uint? Uniform(Architecture arch)
        {
            var s = Section(arch);
            if (s is null)
                return policy.BadArchAction.Value;
            return s.Syscalls.Count == 0 && policy.Newer?.NewestOn(arch) is null ? policy.DefaultAction.Value : null;
        }

        public IEnumerable<uint> Keys(Architecture arch)
        {
            var s = Section(arch);
            if (s is null)
                return [];
            var keys = s.Syscalls.Keys.Select(k => (uint)k).ToList();
            foreach (var rule in s.Syscalls.Values.SelectMany(r => r))
                if (rule.Route is ProgramRoute { Name: var name })
                    keys.AddRange(programs[name].Keys(arch));
            return keys;
        }

        public uint? Default(Architecture arch, HashSet<ulong> excluded)
        {
            if (Section(arch) is null)
                return policy.BadArchAction.Value;
            if (policy.Newer?.NewestOn(arch) is not uint newest)
                return policy.DefaultAction.Value;
            // The numbers without an entry are one verdict only when all are past the newest syscall (the usual case:
            // the entries run past it); otherwise the supervisor decides them.
            ulong first = arch == Architecture.X32 ? X32Bit : 0;
            while (excluded.Contains(first) || !Owns(arch, (uint)first))
                first++;
            return first > newest ? policy.Newer.Action.Value : null;
        }

        public List<Entry> Decide(Architecture arch, uint nr)
        {
            var s = Section(arch);
            if (s is null)
                return [new Entry(Condition.True, policy.BadArchAction.Value)];
            if (policy.Newer is { } newer && newer.Covers(arch, (int)nr))
                return [new Entry(Condition.True, newer.Action.Value)];
            var result = new List<Entry>();
            var earlier = new List<Condition>();
            foreach (var rule in s.RulesFor((int)nr))
            {
                var guard = earlier.Count == 0 ? rule.Condition : Condition.All([rule.Condition, .. earlier.Select(Condition.Not)]);
                if (rule.Route is ProgramRoute { Name: var name })
                    foreach (var e in programs[name].Decide(arch, nr))
                        result.Add(new Entry(e.Condition.IsTrue ? guard : guard.IsTrue ? e.Condition : Condition.All(guard, e.Condition), e.Verdict));
                else
                    result.Add(new Entry(guard, rule.Action.Value));
                if (rule.Condition.IsTrue)
                    return result;
                earlier.Add(rule.Condition);
            }
            result.Add(new Entry(earlier.Count == 0 ? Condition.True : Condition.All(earlier.Select(Condition.Not)), policy.DefaultAction.Value));
            return result;
        }
    }
}
