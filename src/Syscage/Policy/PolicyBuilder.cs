using Syscage.Bpf;
using Syscage.Abi;

namespace Syscage.Policy;

/// <summary>
/// Collects rules in order and makes a <see cref="SeccompPolicy"/>. Front-ends (policy language, OCI profiles,
/// the fluent API, eBPF analysis) all build through it.
/// </summary>
public sealed class PolicyBuilder
{
    private readonly List<Architecture> _arches = [];
    private readonly Dictionary<Architecture, Dictionary<int, List<Rule>>> _rules = [];

    /// <summary>Starts a policy covering <paramref name="architectures"/> (the native default set when empty).</summary>
    public PolicyBuilder(SeccompAction defaultAction, params IEnumerable<Architecture> architectures)
    {
        DefaultAction = defaultAction;
        foreach (var a in architectures)
            AddArchitecture(a);
    }

    /// <summary>The action when no rule matches.</summary>
    public SeccompAction DefaultAction { get; set; }

    /// <summary>The action for an architecture not covered (default KILL_PROCESS).</summary>
    public SeccompAction BadArchAction { get; set; } = SeccompAction.KillProcess;

    /// <summary>The policy's name.</summary>
    public string Name { get; set; } = "policy";

    /// <summary>
    /// Calls past the newest syscall of their architecture, and what they get (<see cref="SeccompPolicy.Newer"/>), as
    /// given; <see cref="PastNewestKnown"/> asks <see cref="Build"/> to work the newest syscalls out instead.
    /// </summary>
    public NewerSyscalls? Newer { get; set; }

    private (SeccompAction Action, PolicySource? Source)? _pastNewestKnown;

    /// <summary>
    /// Gives calls past the newest syscall Syscage's table knows on their architecture — or past the largest number a
    /// rule names there, when that is larger — <paramref name="action"/> instead of the default action (the policy
    /// language's <c>newer-syscalls ACTION</c>). <see cref="Build"/> works the numbers out from the rules added by then.
    /// An architecture whose table is empty and that has no rules gets no such check.
    /// </summary>
    public PolicyBuilder PastNewestKnown(SeccompAction action, PolicySource? source = null)
    {
        _pastNewestKnown = (action, source);
        Newer = null;
        return this;
    }

    /// <summary>How <see cref="PastNewestKnown"/> says where its numbers come from.</summary>
    public const string NewestKnownBasis = "Syscage's tables know or a rule names";

    /// <summary>The covered architectures so far.</summary>
    public IReadOnlyList<Architecture> Architectures => _arches;

    /// <summary>
    /// The architectures a filter on this machine covers by default: x86_64, x86 and x32 on x86_64 (DESIGN.md);
    /// the native architecture alone elsewhere.
    /// </summary>
    public static IReadOnlyList<Architecture> DefaultArchitectures =>
        Architecture.Native == Architecture.X86_64 ? [Architecture.X86_64, Architecture.X86, Architecture.X32] : [Architecture.Native];

    /// <summary>Adds an architecture to cover (no effect if already covered).</summary>
    public PolicyBuilder AddArchitecture(Architecture architecture)
    {
        if (!_arches.Contains(architecture))
        {
            _arches.Add(architecture);
            _rules[architecture] = [];
        }
        return this;
    }

    /// <summary>Appends a rule for syscall number <paramref name="nr"/> on <paramref name="architecture"/> (which must be covered).</summary>
    public PolicyBuilder Add(Architecture architecture, int nr, Rule rule)
    {
        if (!_rules.TryGetValue(architecture, out var byNr))
            throw new ArgumentException($"architecture {architecture.Name} is not covered by this policy", nameof(architecture));
        if (!byNr.TryGetValue(nr, out var list))
            byNr[nr] = list = [];
        list.Add(rule);
        return this;
    }

    /// <summary>True when a rule for syscall number <paramref name="nr"/> on <paramref name="architecture"/> has been added.</summary>
    public bool Has(Architecture architecture, int nr) => _rules.TryGetValue(architecture, out var byNr) && byNr.ContainsKey(nr);

    /// <summary>How many different syscalls of <paramref name="architecture"/> have rules so far.</summary>
    public int SyscallCount(Architecture architecture) => _rules.TryGetValue(architecture, out var byNr) ? byNr.Count : 0;

    /// <summary>
    /// Appends a rule for a syscall by name on every covered architecture that has it; returns how many
    /// architectures had the name.
    /// </summary>
    public int Add(string syscall, Rule rule)
    {
        int found = 0;
        foreach (var arch in _arches)
        {
            if (arch.Syscalls.TryGetNumber(syscall, out int nr))
            {
                Add(arch, nr, rule);
                found++;
            }
        }
        return found;
    }

    /// <summary>Makes the immutable policy.</summary>
    public SeccompPolicy Build()
    {
        var arches = _arches.Count > 0 ? _arches : [.. DefaultArchitectures];
        var sections = arches.Select(a => new ArchitecturePolicy(a,
            _rules.TryGetValue(a, out var byNr)
                ? byNr.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<Rule>)kv.Value.ToArray())
                : new Dictionary<int, IReadOnlyList<Rule>>()));
        var built = sections.ToList();
        var newer = Newer;
        if (newer is null && _pastNewestKnown is { } asked)
        {
            var newest = new Dictionary<Architecture, uint>();
            foreach (var section in built)
            {
                var arch = section.Architecture;
                uint? n = arch.Syscalls.Newest is { } s ? unchecked((uint)s.Number) : null;
                foreach (int nr in section.Syscalls.Keys.Where(arch.Owns))
                    n = n is uint m ? Math.Max(m, unchecked((uint)nr)) : unchecked((uint)nr);
                if (n is uint found)
                    newest[arch] = found;
            }
            newer = new NewerSyscalls(asked.Action, newest, NewestKnownBasis, asked.Source);
        }
        return new SeccompPolicy(DefaultAction, BadArchAction, built, Name) { Newer = newer };
    }
}
