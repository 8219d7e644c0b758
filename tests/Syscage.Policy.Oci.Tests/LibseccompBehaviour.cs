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

    /// <summary>
    /// libseccomp's tree for a syscall gives the call the action of no entry that matches it, or the default although an
    /// entry matches (a list shared between rules reaches another rule's tests; a rule taken for redundant, or part of one
    /// lost in a merge). Syscage follows libseccomp's order only where its verdict is the action of a matching entry.
    /// </summary>
    public const string TreeBug = "libseccomp's tree gives the call to an entry that does not match it, or to none although one does (shared lists, rules dropped)";

    /// <summary>
    /// libseccomp checks x86_64 numbers with <c>JGE 0x40000000</c> (unsigned) before the x32 split, so every
    /// number from 0x40000000 up that is not an x32 call — 0x80000000, -2 ... — gets the bad-arch action; the IR
    /// (and the kernel's own x32 test) look at bit 30 only.
    /// </summary>
    public const string HighNumbers = "x86_64 syscall numbers >= 0x40000000 without the x32 bit get libseccomp's bad-arch action";

    /// <summary>
    /// runc's ENOSYS stub picks x32's largest number by the x32 bit alone, so <c>syscall(-1)</c> on x86_64 (all bits set)
    /// gets ENOSYS from it when the profile names an x32 call; the kernel and Syscage take -1 for no x32 call, and it
    /// gets x86_64's decision (docs/libseccomp-differences.md).
    /// </summary>
    public const string MinusOneAsX32 = "syscall(-1) on x86_64: runc's ENOSYS stub reads it as an x32 number past x32's newest";

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
    internal enum Model
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
        if (section.Architecture == Architecture.X86_64 && data.Nr == -1 && profile.Policy.Newer?.NewestOn(Architecture.X32) is not null
            && libseccomp == profile.Policy.Newer.Action.Value)
            return MinusOneAsX32;
        switch (BpfPaths.Check(bpf, data.ToBytes()))
        {
            case BpfPaths.Hazard.PathDependentWord:
                return StaleAccumulator;
            case BpfPaths.Hazard.ArchComparedAsNumber:
                return MissingNrLoad;
        }
        var args = new ulong[6];
        for (int i = 0; i < 6; i++)
            args[i] = data.Arg(i);
        var arch = section.Architecture;
        var models = new List<Model> { Model.None, Model.FullWidth };
        if (arch == Architecture.X32)
            models.AddRange([Model.X32Low, Model.X32Low | Model.FullWidth]);
        // Syscage's resolution of the entries (libseccomp's order where its verdict is a matching entry's action), but
        // with libseccomp's view of the arguments: the model explains libseccomp's verdict when it gives it.
        foreach (var m in models.Skip(1))
        {
            var lowered = LibseccompOrder.Lower(ModelledRules(profile, arch, data.Nr, m), Halves(arch));
            var answer = lowered.Rules.FirstOrDefault(r => r.Condition.Evaluate(args, true))?.Action.Value ?? profile.Policy.DefaultAction.Value;
            if (answer == libseccomp)
                return Name(m, tree: false);
        }
        // libseccomp's tree itself, where its verdict is no matching entry's action.
        foreach (var m in models)
        {
            var tree = new LibseccompTree(Halves(arch));
            foreach (var r in ModelledRules(profile, arch, data.Nr, m))
                tree.Add(r);
            try
            {
                if ((tree.Decide(args)?.Value ?? profile.Policy.DefaultAction.Value) == libseccomp)
                    return Name(m, tree: true);
            }
            catch (InvalidOperationException)
            {
                // circular lists: libseccomp would not have finished
            }
        }
        return null;
    }

    /// <summary>libseccomp tests the arguments of its 64-bit ABIs on 32-bit halves; x86 and x32 are its 32-bit ABIs.</summary>
    internal static bool Halves(Architecture arch) => arch.Is64Bit && arch != Architecture.X32;

    /// <summary>
    /// The syscall's rules as runc adds them (<see cref="RuncRule"/>), under a model: with <see cref="Model.FullWidth"/>
    /// each comparison on the whole register (libseccomp's reading of <c>args</c>) instead of the argument type's width;
    /// with <see cref="Model.X32Low"/> x32 arguments on 32 bits.
    /// </summary>
    internal static List<RuncRule> ModelledRules(OciProfile profile, Architecture arch, int nr, Model m)
    {
        var all = new List<RuncRule>();
        if (!arch.Syscalls.TryGet(nr, out Syscall? syscall))
            return all;
        bool is64 = Is64(arch, m);
        foreach (var e in profile.Entries)
        {
            if (e.Action == profile.Policy.DefaultAction || !e.Names.Contains(syscall.Name))
                continue;
            var predicates = e.Args.Select(a => ((m & Model.FullWidth) != 0 ? a.ToPredicate() : a.ToPredicate(syscall, out _)).At(is64)).ToList();
            IEnumerable<IReadOnlyList<ArgPredicate>> split = e.ArgsAreOred ? predicates.Select(p => (IReadOnlyList<ArgPredicate>)[p]) : [predicates];
            foreach (var comparisons in split)
                all.Add(new RuncRule(all.Count, comparisons, e.Action, e.Source));
        }
        return all;
    }

    /// <summary>Whether the model sees 64-bit registers: libseccomp's x32 has 32.</summary>
    private static bool Is64(Architecture arch, Model m) => arch.Is64Bit && (m & Model.X32Low) == 0;

    private static string Name(Model m, bool tree)
    {
        var parts = new List<string>();
        if (tree)
            parts.Add(TreeBug);
        if ((m & Model.FullWidth) != 0)
            parts.Add(Width);
        if ((m & Model.X32Low) != 0)
            parts.Add(X32LowHalves);
        return string.Join(" + ", parts);
    }
}
