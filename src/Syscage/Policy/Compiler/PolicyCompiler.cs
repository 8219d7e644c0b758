using System.Globalization;
using Syscage.Bpf;
using Syscage.Abi;
using static Syscage.Bpf.Opcode;

namespace Syscage.Policy.Compiler;

/// <summary>Options of <see cref="PolicyCompiler"/>.</summary>
public sealed record CompileOptions
{
    /// <summary>
    /// True (the default): optimal search over syscall numbers, loads left out where A already holds the
    /// value, peephole passes. False: a plain chain of comparisons per architecture, every value reloaded —
    /// slower filters, kept for cross-checking the optimiser.
    /// </summary>
    public bool Optimize { get; init; } = true;
}

/// <summary>Raised when a policy cannot be compiled (e.g. it needs more than 4096 instructions).</summary>
public sealed class PolicyCompileException(string message) : SyscageException(message);

/// <summary>
/// Compiles the policy IR to a validated classic BPF program: architecture dispatch on <c>seccomp_data.arch</c>
/// (x86_64 and x32 share <c>AUDIT_ARCH_X86_64</c> and are told apart by the x32 bit of the number), a search
/// over syscall numbers (numbers past a section's newest syscall are one range with <see cref="SeccompPolicy.Newer"/>'s
/// action), argument checks on 32-bit halves, shared return blocks. Always-allowed syscalls are
/// decided from <c>nr</c> and <c>arch</c> alone, so the kernel's action cache (<c>seccomp_is_const_allow</c>)
/// recognises them.
/// </summary>
public static class PolicyCompiler
{
    /// <summary>Relative weight of x32 numbers when shaping the search: x32 calls are rare (and x32 is often disabled).</summary>
    private const double X32Weight = 0.01;

    /// <summary>A gap between table numbers wider than this splits them into separate runs of likely numbers (see SearchGroup).</summary>
    private const uint ClusterGap = 256;

    /// <summary>Weight multiplier for numbers whose decision needs argument checks (see SearchGroup).</summary>
    private const double ArgumentCheckBoost = 6;

    /// <summary>Compiles <paramref name="policy"/>; the result has passed the validator.</summary>
    public static BpfProgram Compile(SeccompPolicy policy, CompileOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        options ??= new CompileOptions();
        CheckSize(policy);
        var graph = new DecisionGraph();
        var badArch = graph.Return(policy.BadArchAction);
        var dispatch = (DecisionNode)badArch;
        var auditArches = policy.Sections.Select(s => s.Architecture.AuditArch).Distinct().ToList();
        for (int i = auditArches.Count - 1; i >= 0; i--)
        {
            var group = options.Optimize ? SearchGroup(graph, policy, auditArches[i], badArch) : ChainGroup(graph, policy, auditArches[i], badArch);
            dispatch = graph.Test(AValue.Word(SeccompData.ArchOffset), BPF_JEQ, auditArches[i], group, dispatch);
        }
        if (options.Optimize)
            dispatch = new Specializer(graph).Run(dispatch);
        var insns = new Emitter(elideLoads: options.Optimize).Emit(dispatch);
        if (options.Optimize)
            insns = Peephole.Run(insns);
        if (insns.Length > BPF_MAXINSNS)
            throw new PolicyCompileException(string.Create(CultureInfo.InvariantCulture,
                $"{policy.Name}: the filter needs {insns.Length} instructions; the kernel allows at most {BPF_MAXINSNS}"));
        return Validator.Validate(insns);
    }

    /// <summary>
    /// Refuses a syscall whose rules hold more than <see cref="InputLimits.MaxArgumentTestsPerSyscall"/> argument tests,
    /// naming the rule that crosses the limit (<see cref="SeccompPolicy.TooManyTests"/>): such a filter can't fit the
    /// kernel's 4096 instructions, the graph passes would recurse once per test, and <see cref="PseudoFilterCode"/> would
    /// write the tests out per syscall.
    /// </summary>
    /// <exception cref="PolicyCompileException">A syscall has too many tests.</exception>
    internal static void CheckSize(SeccompPolicy policy)
    {
        foreach (var section in policy.Sections)
            foreach (var nr in section.Syscalls.Keys)
                if (policy.TooManyTests(section, nr) is { } error)
                    throw new PolicyCompileException(error);
    }

    /// <summary>One routing segment of the number space: which section (null: not covered) owns it.</summary>
    private readonly record struct Segment(uint Low, uint High, ArchitecturePolicy? Section);

    /// <summary>
    /// How the numbers under one <c>AUDIT_ARCH_*</c> value split between sections. On x86_64 a number with the x32
    /// bit (0x40000000) belongs to x32, except -1, as <see cref="SeccompPolicy.SectionFor"/> says.
    /// </summary>
    private static List<Segment> Segments(SeccompPolicy policy, uint auditArch)
    {
        ArchitecturePolicy? Find(Architecture a) => policy.Sections.FirstOrDefault(s => s.Architecture == a);
        if (auditArch == Architecture.X86_64.AuditArch)
        {
            ArchitecturePolicy? x64 = Find(Architecture.X86_64), x32 = Find(Architecture.X32);
            // The x32 rule: the x32 bit, bit 30, splits each half of the number space; -1 (all ones) is x86_64's.
            uint bit = Architecture.X32.SyscallNumberBit, skipped = unchecked((uint)Architecture.SkippedCall);
            return
            [
                new(0, bit - 1, x64),
                new(bit, 2 * bit - 1, x32),
                new(2 * bit, 3 * bit - 1, x64),
                new(3 * bit, skipped - 1, x32),
                new(skipped, skipped, x64),
            ];
        }
        return [new(0, uint.MaxValue, policy.Sections.First(s => s.Architecture.AuditArch == auditArch))];
    }

    private static DecisionNode SearchGroup(DecisionGraph graph, SeccompPolicy policy, uint auditArch, DecisionNode badArch)
    {
        var otherwise = graph.Return(policy.DefaultAction);
        var pieces = new List<(uint, uint, DecisionNode)>();
        var domains = new List<(uint Low, uint High, double Weight)>();
        foreach (var seg in Segments(policy, auditArch))
        {
            if (seg.Section is null)
            {
                pieces.Add((seg.Low, seg.High, badArch));
                continue;
            }
            var arch = seg.Section.Architecture;
            // Where the table's numbers are: one run per cluster, so that arm's private calls (0xf0000 + n) do not make
            // the gap below them look like likely numbers.
            int[] table = [.. arch.Syscalls.Numbers];
            for (int i = 0; i < table.Length;)
            {
                int j = i;
                while (j + 1 < table.Length && (uint)table[j + 1] - (uint)table[j] <= ClusterGap)
                    j++;
                uint lo = (uint)table[i], hi = (uint)table[j];
                if (lo >= seg.Low && hi <= seg.High)
                    domains.Add((lo, hi, arch == Architecture.X32 ? X32Weight : 1.0));
                i = j + 1;
            }
            long next = seg.Low;
            uint? newestHere = policy.Newer?.NewestOn(arch);
            foreach (var (nr, rules) in seg.Section.Syscalls.Where(kv => (uint)kv.Key >= seg.Low && (uint)kv.Key <= seg.High).OrderBy(kv => (uint)kv.Key))
            {
                uint n = (uint)nr;
                if (n > newestHere)
                    break;   // the newer-syscalls check comes first: this rule and those after it never decide

                if (n > next)
                    pieces.Add(((uint)next, n - 1, otherwise));
                pieces.Add((n, n, graph.Rules(rules, otherwise, arch)));
                next = n + 1L;
            }
            // Past the newest syscall of the section: the newer-syscalls action.
            if (policy.Newer?.NewestOn(arch) is uint newest && newest < seg.High)
            {
                long from = Math.Max(next, newest + 1L);
                if (next < from)
                    pieces.Add(((uint)next, (uint)(from - 1), otherwise));
                pieces.Add(((uint)from, seg.High, graph.Return(policy.Newer.Action)));
                next = seg.High + 1L;
            }
            if (next <= seg.High)
                pieces.Add(((uint)next, seg.High, otherwise));
        }
        double Weight(uint low, uint high, DecisionNode decision)
        {
            double w = 0.001;
            foreach (var d in domains)
            {
                long a = Math.Max(low, d.Low), b = Math.Min(high, d.High);
                if (b >= a)
                    w += (b - a + 1) * d.Weight;
            }
            // Argument checks come after the search: lift them, so the slowest syscalls are not also the deepest.
            return decision is TestNode ? w * ArgumentCheckBoost : w;
        }
        return NumberSearch.Tree(graph, NumberSearch.Runs(pieces, Weight));
    }

    private static DecisionNode ChainGroup(DecisionGraph graph, SeccompPolicy policy, uint auditArch, DecisionNode badArch)
    {
        var otherwise = graph.Return(policy.DefaultAction);
        DecisionNode Chain(ArchitecturePolicy? section, Func<uint, bool> owns)
        {
            if (section is null)
                return badArch;
            var chain = NumberSearch.Chain(graph,
                section.Syscalls.Where(kv => owns((uint)kv.Key)).Select(kv => ((uint)kv.Key, graph.Rules(kv.Value, otherwise, section.Architecture))),
                otherwise);
            // Past the newest syscall of the section: the newer-syscalls action, before the rules.
            return policy.Newer?.NewestOn(section.Architecture) is uint newest
                ? graph.Test(AValue.Word(SeccompData.NrOffset), BPF_JGT, newest, graph.Return(policy.Newer.Action), chain)
                : chain;
        }
        if (auditArch != Architecture.X86_64.AuditArch)
            return Chain(policy.Sections.First(s => s.Architecture.AuditArch == auditArch), _ => true);
        // The x32 rule (Architecture.IsX32Number) as code: -1 is x86_64's, else the x32 bit decides.
        var x64 = Chain(policy.Sections.FirstOrDefault(s => s.Architecture == Architecture.X86_64), n => Architecture.X86_64.Owns((int)n));
        var x32 = Chain(policy.Sections.FirstOrDefault(s => s.Architecture == Architecture.X32), n => Architecture.X32.Owns((int)n));
        var nr = AValue.Word(SeccompData.NrOffset);
        return graph.Test(nr, BPF_JEQ, unchecked((uint)Architecture.SkippedCall), x64, graph.Test(nr, BPF_JSET, Architecture.X32.SyscallNumberBit, x32, x64));
    }
}
