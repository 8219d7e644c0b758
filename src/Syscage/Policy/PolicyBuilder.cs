using Syscage.Bpf;
using Syscage.Abi;

namespace Syscage.Policy;

/// <summary>
/// Collects rules in order and makes a <see cref="SeccompPolicy"/>. Front-ends (policy language, OCI profiles,
/// the fluent API, eBPF analysis) all build through it.
/// </summary>
/// <remarks>
/// On an ABI with <c>socketcall(2)</c> or <c>ipc(2)</c> (x86, m68k, mips o32, ppc, ppc64, s390, s390x, sh), a rule for a
/// call they make (<see cref="MultiplexedCall"/>: <c>socket</c>, <c>connect</c>, <c>semop</c> ...) also decides that call
/// made through its multiplexer — <c>socketcall(SYS_SOCKET, ...)</c>, <c>ipc(SEMOP, ...)</c> — as libseccomp makes it
/// (<see cref="Build"/>): it becomes a rule on the multiplexer whose first argument selects the call, placed among the
/// multiplexer's own rules in the order the rules were added. A rule for a call the ABI has no direct number for
/// (<c>accept</c> on x86) is added with <see cref="AddMultiplexed"/>.
/// </remarks>
public sealed class PolicyBuilder
{
    private readonly List<Architecture> _arches = [];
    private readonly Dictionary<Architecture, Dictionary<int, List<Added>>> _rules = [];
    private readonly Dictionary<Architecture, List<(MultiplexedCall Call, Added Rule)>> _multiplexedOnly = [];
    private long _added;

    /// <summary>A rule and when it was added, so that a multiplexer's rules keep the order of every rule they come from.</summary>
    internal readonly record struct Added(Rule Rule, long Order);

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
        list.Add(new Added(rule, _added++));
        return this;
    }

    /// <summary>
    /// Appends a rule for <paramref name="call"/> made through its multiplexer on <paramref name="architecture"/> (which
    /// must be covered and have that multiplexer), for an ABI without the direct call (<c>accept</c>, <c>send</c>,
    /// <c>semop</c> on x86). Where the ABI has the direct call, <see cref="Add(Architecture, int, Rule)"/> with its number
    /// decides both. The rule's condition is on the call's own arguments (<see cref="MultiplexedCall.On"/>).
    /// </summary>
    public PolicyBuilder AddMultiplexed(Architecture architecture, MultiplexedCall call, Rule rule)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        ArgumentNullException.ThrowIfNull(call);
        ArgumentNullException.ThrowIfNull(rule);
        if (!_rules.ContainsKey(architecture))
            throw new ArgumentException($"architecture {architecture.Name} is not covered by this policy", nameof(architecture));
        if (architecture.MultiplexerNumber(call.Multiplexer) is null)
            throw new ArgumentException($"{architecture.Name} has no {call.MultiplexerName}(2) to make {call.Name} through", nameof(call));
        if (!_multiplexedOnly.TryGetValue(architecture, out var list))
            _multiplexedOnly[architecture] = list = [];
        list.Add((call, new Added(rule, _added++)));
        return this;
    }

    /// <summary>True when a rule for syscall number <paramref name="nr"/> on <paramref name="architecture"/> has been added.</summary>
    public bool Has(Architecture architecture, int nr) => _rules.TryGetValue(architecture, out var byNr) && byNr.ContainsKey(nr);

    /// <summary>How many different syscalls of <paramref name="architecture"/> have rules so far.</summary>
    public int SyscallCount(Architecture architecture) => _rules.TryGetValue(architecture, out var byNr) ? byNr.Count : 0;

    /// <summary>
    /// Appends a rule for a syscall by name on every covered architecture that has it, directly or through a multiplexer
    /// (<see cref="AddMultiplexed"/>); returns how many architectures had the name.
    /// </summary>
    public int Add(string syscall, Rule rule)
    {
        int found = 0;
        foreach (var arch in _arches)
        {
            if (arch.Syscalls.TryGetNumber(syscall, out int nr))
                Add(arch, nr, rule);
            else if (arch.TryGetMultiplexed(syscall, out var call))
                AddMultiplexed(arch, call, rule);
            else
                continue;
            found++;
        }
        return found;
    }

    /// <summary>Makes the immutable policy.</summary>
    public SeccompPolicy Build()
    {
        var arches = _arches.Count > 0 ? _arches : [.. DefaultArchitectures];
        var sections = arches.Select(a => new ArchitecturePolicy(a, SectionRules(a)));
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

    /// <summary>
    /// The rules of one architecture by syscall number: as added, and on a multiplexer the rules every call it makes
    /// decides there too, lowered by <see cref="MultiplexedRules"/>.
    /// </summary>
    private Dictionary<int, IReadOnlyList<Rule>> SectionRules(Architecture arch)
    {
        var result = new Dictionary<int, IReadOnlyList<Rule>>();
        if (!_rules.TryGetValue(arch, out var byNr))
            return result;
        foreach (var (nr, list) in byNr)
            result[nr] = list.Select(a => a.Rule).ToArray();
        foreach (var multiplexer in (Multiplexer[])[Multiplexer.Socketcall, Multiplexer.Ipc])
        {
            if (arch.MultiplexerNumber(multiplexer) is not int m)
                continue;
            var made = new List<(MultiplexedCall? Call, Added Rule)>();
            foreach (var (nr, list) in byNr)
                if (arch.MultiplexedCallOf(nr) is { } call && call.Multiplexer == multiplexer)
                    made.AddRange(list.Select(a => ((MultiplexedCall?)call, a)));
            if (_multiplexedOnly.TryGetValue(arch, out var only))
                made.AddRange(only.Where(o => o.Call.Multiplexer == multiplexer).Select(o => ((MultiplexedCall?)o.Call, o.Rule)));
            if (made.Count == 0)
                continue;
            if (byNr.TryGetValue(m, out var own))
                made.AddRange(own.Select(a => ((MultiplexedCall?)null, a)));
            result[m] = MultiplexedRules.Lower(arch, [.. made.OrderBy(x => x.Rule.Order)], DefaultAction);
        }
        return result;
    }
}
