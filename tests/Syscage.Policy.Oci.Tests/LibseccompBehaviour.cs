using Syscage.Bpf;
using Syscage.Policy;
using Syscage.Policy.Oci;
using Syscage.Abi;

namespace Syscage.Policy.Oci.Tests;

/// <summary>
/// Models of the ways libseccomp 2.5.4's filter for a profile differs from the profile's plain meaning (the IR).
/// A mismatch is explained when one model, or a combination, reproduces libseccomp's answer exactly;
/// docs/libseccomp-differences.md describes each.
/// </summary>
internal static class LibseccompBehaviour
{
    /// <summary>libseccomp's arch-x32 is <c>ARCH_SIZE_32</c>: it compares only the low 32 bits of x32 arguments.</summary>
    public const string X32LowHalves = "x32 arguments compared on their low 32 bits only";

    /// <summary>Several rules of one syscall on a 32-bit ABI (for libseccomp: x86 and x32) merged into a tree that decides otherwise; not modelled.</summary>
    public const string Merged32 = "several rules of one syscall merged by libseccomp's 32-bit generator (x86, x32) decide otherwise (seen, not modelled)";

    /// <summary>
    /// libseccomp merges the conditional rules of a syscall into one tree ordered by argument number and operator,
    /// not by the profile; when several rules with different actions match, which wins is libseccomp's order.
    /// </summary>
    public const string Overlap = "overlapping conditional rules with different actions: libseccomp's tree order decides";

    /// <summary>
    /// libseccomp checks x86_64 numbers with <c>JGE 0x40000000</c> (unsigned) before the x32 split, so every
    /// number from 0x40000000 up that is not an x32 call — 0x80000000, -2 ... — gets the bad-arch action; the IR
    /// (and the kernel's own x32 test) look at bit 30 only.
    /// </summary>
    public const string HighNumbers = "x86_64 syscall numbers >= 0x40000000 without the x32 bit get libseccomp's bad-arch action";

    /// <summary>
    /// libseccomp 2.5.4's BPF generator drops the load of an argument word when the tree of a later rule starts with
    /// the word it believes is in A, but another path into that tree arrives with a different word loaded: the
    /// comparison then reads the wrong half (or the wrong argument).
    /// </summary>
    public const string StaleAccumulator = "stale accumulator: a later rule's comparison reads a word loaded on another path (load elided by libseccomp's BPF generator)";

    /// <summary>
    /// With x86_64 and x32 in one filter, libseccomp 2.5.4 can emit the syscall-number tests of the shared
    /// AUDIT_ARCH_X86_64 block without first loading <c>nr</c>: A still holds <c>arch</c>, no number test matches,
    /// and every call falls to the default action.
    /// </summary>
    public const string MissingNrLoad = "x86_64+x32 block compares the syscall number with A still holding seccomp_data.arch (nr load missing)";

    /// <summary>
    /// libseccomp compares every argument on all 64 bits (x86_64) or all 32 (x86, x32); the kernel reads an <c>int</c>
    /// on its low 32 bits and an <c>umode_t</c> on its low 16, and so does Syscage. <c>socket((1 &lt;&lt; 32) |
    /// AF_VSOCK)</c> passes Docker's <c>domain</c> checks in libseccomp and is refused by Syscage.
    /// </summary>
    public const string Width = "argument compared on the whole register by libseccomp, at the width of its type (int: 32 bits, umode_t: 16) by the kernel and Syscage";

    [Flags]
    private enum Model
    {
        None = 0,
        /// <summary>x32 as a 32-bit ABI.</summary>
        X32Low = 1,
        /// <summary>Every comparison on the whole register, whatever the argument's type.</summary>
        FullWidth = 2,
    }

    /// <summary>The name of the behaviour that explains libseccomp's answer <paramref name="libseccomp"/>, or null.</summary>
    public static string? Explain(OciProfile profile, SeccompData data, uint libseccomp, byte[] bpf)
    {
        var section = profile.Policy.SectionFor(data);
        if (section is null)
            return null;
        if (section.Architecture == Architecture.X86_64 && (uint)data.Nr >= 0x4000_0000 && libseccomp == profile.Policy.BadArchAction.Value)
            return HighNumbers;
        switch (BpfPaths.Check(bpf, data.ToBytes()))
        {
            case BpfPaths.Hazard.PathDependentWord:
                return StaleAccumulator;
            case BpfPaths.Hazard.ArchComparedAsNumber:
                return MissingNrLoad;
        }
        var rules = section.RulesFor(data.Nr);
        Span<ulong> args = stackalloc ulong[6];
        for (int i = 0; i < 6; i++)
            args[i] = data.Arg(i);
        var arch = section.Architecture;
        var models = new List<Model> { Model.None, Model.FullWidth };
        if (arch == Architecture.X32)
            models.AddRange([Model.X32Low, Model.X32Low | Model.FullWidth]);
        // First match under a model. The model's view of the widths also decides which rules count as unconditional
        // (a MASKED_EQ whose mask has no bit in the width), and so which rule wins over the others.
        foreach (var m in models.Skip(1))
        {
            var answer = FirstMatch(ModelledRules(profile, arch, data.Nr, m), args, arch, m) ?? profile.Policy.DefaultAction.Value;
            if (answer == libseccomp)
                return Name(m, overlap: false);
        }
        // Any matching rule's action under a model: the tree order picked another matching rule.
        foreach (var m in models)
        {
            foreach (var r in m == Model.None ? rules : ModelledRules(profile, arch, data.Nr, m))
                if (Matches(r, args, arch, m) && r.Action.Value == libseccomp)
                    return Name(m, overlap: true);
        }
        // libseccomp's 32-bit generator (x86, and x32 which it treats as 32-bit) merging several rules of a syscall:
        // seen, not modelled.
        if ((arch == Architecture.X86 || arch == Architecture.X32) && rules.Count >= 2)
            return Merged32;
        return null;
    }

    /// <summary>
    /// The syscall's rules as the OCI loader makes them, but under a model: with <see cref="Model.FullWidth"/> each
    /// comparison on the whole register (libseccomp's reading of <c>args</c>) instead of the argument type's width, and
    /// with "unconditional" (a rule whose every MASKED_EQ mask has no bit left) judged at the model's widths.
    /// </summary>
    private static List<Rule> ModelledRules(OciProfile profile, Architecture arch, int nr, Model m)
    {
        var all = new List<Rule>();
        if (!arch.Syscalls.TryGet(nr, out Syscall? syscall))
            return all;
        bool is64 = Is64(arch, m);
        foreach (var e in profile.Entries)
        {
            if (e.Action == profile.Policy.DefaultAction || !e.Names.Contains(syscall.Name))
                continue;
            var predicates = e.Args.Select(a => (m & Model.FullWidth) != 0 ? a.ToPredicate() : a.ToPredicate(syscall, out _)).ToList();
            if (predicates.Count == 0)
                all.Add(new Rule(Condition.True, e.Action));
            else if (e.ArgsAreOred)
                all.AddRange(predicates.Select(p => new Rule(Condition.Of(p), e.Action)));
            else
                all.Add(new Rule(Condition.All(predicates.Select(Condition.Of)), e.Action));
        }
        var first = all.FirstOrDefault(r => r.Condition.Predicates().All(p => p.Op == ComparisonOp.MaskedEq && p.At(is64).Mask == 0));
        return first is null ? all : [first];
    }

    /// <summary>Whether the model sees 64-bit registers: libseccomp's x32 has 32.</summary>
    private static bool Is64(Architecture arch, Model m) => arch.Is64Bit && (m & Model.X32Low) == 0;

    private static string Name(Model m, bool overlap)
    {
        var parts = new List<string>();
        if (overlap)
            parts.Add(Overlap);
        if ((m & Model.FullWidth) != 0)
            parts.Add(Width);
        if ((m & Model.X32Low) != 0)
            parts.Add(X32LowHalves);
        return string.Join(" + ", parts);
    }

    private static uint? FirstMatch(IReadOnlyList<Rule> rules, ReadOnlySpan<ulong> args, Architecture arch, Model m)
    {
        foreach (var r in rules)
            if (Matches(r, args, arch, m))
                return r.Action.Value;
        return null;
    }

    /// <summary>Whether a rule (a conjunction of predicates, as the OCI loader makes them) matches under a model.</summary>
    private static bool Matches(Rule rule, ReadOnlySpan<ulong> args, Architecture arch, Model m) => rule.Condition.Evaluate(args, Is64(arch, m));
}
