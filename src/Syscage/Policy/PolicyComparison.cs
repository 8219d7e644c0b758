using System.Globalization;
using Syscage.Abi;

namespace Syscage.Policy;

/// <summary>One call on which two policies decide differently, and how.</summary>
/// <param name="Kind">Whether the second policy is stricter or looser there.</param>
/// <param name="Architecture">The call's architecture, or null for an <c>AUDIT_ARCH</c> value no architecture has.</param>
/// <param name="Call">The call.</param>
/// <param name="Expected">What the first policy decides.</param>
/// <param name="Actual">What the second decides.</param>
internal sealed record PolicyDifference(DifferenceKind Kind, Architecture? Architecture, SeccompData Call, Verdict Expected, Verdict Actual)
{
    /// <summary>The call as a person reads it: <c>x86_64 socket(arg0=0x28)</c>.</summary>
    public string Describe()
    {
        if (Architecture is not { } arch)
            return string.Create(CultureInfo.InvariantCulture, $"a call of an unknown architecture (AUDIT_ARCH 0x{Call.Arch:x8})");
        string name = arch.Syscalls.TryGetName(Call.Nr, out var n) ? n
            : string.Create(CultureInfo.InvariantCulture, $"syscall {(uint)Call.Nr & ~arch.SyscallNumberBit}");
        var args = Enumerable.Range(0, 6).Where(i => Call.Arg(i) != 0)
            .Select(i => string.Create(CultureInfo.InvariantCulture, $"arg{i}=0x{Call.Arg(i):x}")).ToList();
        return $"{arch.Name} {name}({string.Join(", ", args)})";
    }
}

/// <summary>
/// Exact comparison of what two policies decide, for every call: every architecture (and an <c>AUDIT_ARCH</c> value
/// none has), every syscall number, every argument value. The syscalls either policy has rules for are compared as
/// decision diagrams (<see cref="DecisionDiagram"/>: all argument values at once); every other number is decided by
/// the default, newer-syscalls and bad-arch actions alone, which only change at the numbers tested (the newest
/// syscall either policy knows, the edges of the x32 range).
/// </summary>
internal static class PolicyComparison
{
    /// <summary>An <c>AUDIT_ARCH</c> value no architecture has.</summary>
    private const uint ForeignArch = 0;

    /// <summary>
    /// The differences between <paramref name="expected"/> and <paramref name="actual"/>: per architecture, the first
    /// looser call found and the first stricter one. Empty when they decide every call alike.
    /// </summary>
    /// <exception cref="DiagramTooLargeException">The conditions are too complex to compare exactly.</exception>
    public static IReadOnlyList<PolicyDifference> Compare(SeccompPolicy expected, SeccompPolicy actual, IEnumerable<Architecture>? architectures = null)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(actual);
        var dd = new DecisionDiagram();
        var result = new List<PolicyDifference>();
        foreach (var arch in architectures ?? Architecture.All)
        {
            PolicyDifference? looser = null, stricter = null;
            void Note(PolicyDifference d)
            {
                if (d.Kind == DifferenceKind.Looser)
                    looser ??= d;
                else
                    stricter ??= d;
            }
            var se = expected.Sections.FirstOrDefault(s => s.Architecture == arch);
            var sa = actual.Sections.FirstOrDefault(s => s.Architecture == arch);
            var keys = new SortedSet<uint>();
            foreach (var s in new[] { se, sa })
                if (s is not null)
                    foreach (int nr in s.Syscalls.Keys.Where(arch.Owns))
                        keys.Add(unchecked((uint)nr));
            foreach (uint key in keys)
            {
                int nr = unchecked((int)key);
                int fe = Function(dd, expected, se, arch, nr);
                int fa = Function(dd, actual, sa, arch, nr);
                if (fe == fa)
                    continue;
                var (kind, args, ve, va) = dd.Worst(fe, fa);
                if (kind is { } k)
                    Note(new PolicyDifference(k, arch, new SeccompData(nr, arch.AuditArch, 0, args), ve, va));
                if (looser is not null && stricter is not null)
                    break;
            }
            // Numbers without rules: the default, newer-syscalls or bad-arch action, constant between these edges.
            var edges = new SortedSet<uint> { 0, 1, 0x3fff_ffff, 0x4000_0000, 0x4000_0001, 0x7fff_ffff, 0x8000_0000, 0xbfff_ffff, 0xc000_0000, 0xffff_fffe, 0xffff_ffff };
            foreach (var p in new[] { expected, actual })
                if (p.Newer?.NewestOn(arch) is uint t)
                {
                    edges.Add(t);
                    edges.Add(unchecked(t + 1));
                }
            foreach (uint key in keys)
            {
                edges.Add(unchecked(key - 1));
                edges.Add(unchecked(key + 1));
            }
            foreach (uint edge in edges)
            {
                int nr = unchecked((int)edge);
                if (keys.Contains(edge) || !arch.Owns(nr))
                    continue;
                var call = new SeccompData(nr, arch.AuditArch);
                var ve = Verdict.Of(expected.Evaluate(call));
                var va = Verdict.Of(actual.Evaluate(call));
                if (DecisionDiagram.Classify(ve, va) is { } k)
                    Note(new PolicyDifference(k, arch, call, ve, va));
            }
            if (looser is not null)
                result.Add(looser);
            if (stricter is not null)
                result.Add(stricter);
        }
        if (architectures is null)
        {
            var foreign = new SeccompData(0, ForeignArch);
            var ve = Verdict.Of(expected.Evaluate(foreign));
            var va = Verdict.Of(actual.Evaluate(foreign));
            if (DecisionDiagram.Classify(ve, va) is { } k)
                result.Add(new PolicyDifference(k, null, foreign, ve, va));
        }
        return result;
    }

    /// <summary>What <paramref name="policy"/> decides for syscall <paramref name="nr"/> of <paramref name="arch"/>, over every argument value.</summary>
    private static int Function(DecisionDiagram dd, SeccompPolicy policy, ArchitecturePolicy? section, Architecture arch, int nr)
    {
        if (section is null)
            return dd.Leaf(Verdict.Of(policy.BadArchAction));
        if (policy.Newer is { } newer && newer.Covers(arch, nr))
            return dd.Leaf(Verdict.Of(newer.Action));
        return dd.Rules(section.RulesFor(nr), arch.Is64Bit, dd.Leaf(Verdict.Of(policy.DefaultAction)));
    }
}
