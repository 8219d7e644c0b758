using System.Numerics;
using Syscage.Abi;
using Syscage.Bpf;

namespace Syscage.Policy.Compiler;

/// <summary>One input on which a program and a policy disagree.</summary>
/// <param name="Data">The call.</param>
/// <param name="Expected">The policy's verdict (reference evaluator).</param>
/// <param name="Actual">The program's verdict (interpreter).</param>
public sealed record Mismatch(SeccompData Data, SeccompAction Expected, SeccompAction Actual);

/// <summary>The outcome of <see cref="EquivalenceChecker.Check"/>.</summary>
/// <param name="Vectors">How many calls were compared.</param>
/// <param name="Combinations">
/// How many calls a complete check would compare: every input <see cref="EquivalenceChecker.Vectors"/> draws from, with
/// each syscall's whole product of argument values. Equal to <paramref name="Vectors"/> unless some were sampled.
/// </param>
/// <param name="SampledSyscalls">For how many (architecture, syscall) pairs only a sample of the argument product was compared.</param>
/// <param name="Mismatches">The calls where the verdicts differ (at most the first 100).</param>
/// <param name="MismatchCount">How many calls differed in all.</param>
public sealed record EquivalenceReport(long Vectors, BigInteger Combinations, int SampledSyscalls, IReadOnlyList<Mismatch> Mismatches, long MismatchCount)
{
    /// <summary>True when every compared call got the same verdict.</summary>
    public bool Equivalent => MismatchCount == 0;

    /// <summary>
    /// True when some argument combinations were left out (<see cref="EquivalenceChecker.MaxCombinationsPerSyscall"/>):
    /// <see cref="Vectors"/> were compared out of <see cref="Combinations"/>.
    /// </summary>
    public bool Sampled => SampledSyscalls > 0;
}

/// <summary>
/// Compares a compiled program with its policy (the reference evaluator) on the inputs where they are most likely to
/// differ: every architecture Syscage knows and some foreign <c>AUDIT_ARCH_*</c> values; under a covered one every
/// syscall number of its tables, under all of them every number a rule names and its neighbours and the edges of the
/// number space (-1, the x32 bit, sign and half edges); and for each
/// syscall with argument rules, the product of the interesting values (<see cref="ArgPredicate.InterestingValues"/>)
/// of every argument its rules test: each comparison's value and neighbours at every width it can be read at, the
/// 32-bit half edges the compiled code compares, a mask's lowest and highest bits flipped.
/// </summary>
/// <remarks>
/// What agreement means: a plain comparison changes truth only at its edges, so for a program that tests what the
/// policy tests (the compiler's output) agreement on every combination leaves little room for a difference; it is still
/// a test, not a proof. Masks are tried on a few bits, not all; values between edges, the instruction pointer, and
/// arguments of syscalls without argument rules are not varied, so a program that tests something the policy does not
/// can differ unseen. Above <see cref="MaxCombinationsPerSyscall"/> combinations for one syscall, only every
/// single-argument variation and a seeded random sample of the product are compared; the report says so
/// (<see cref="EquivalenceReport.Sampled"/>).
/// </remarks>
public static class EquivalenceChecker
{
    /// <summary>Above this many argument combinations for one syscall, the product is sampled (seeded): at most this many random combinations besides the single-argument variations.</summary>
    public const int MaxCombinationsPerSyscall = 20_000;

    private static readonly uint[] EdgeNumbers =
    [
        0, 1, 0x3fff_ffff, 0x4000_0000, 0x4000_0001, 0x7fff_ffff, 0x8000_0000, 0xbfff_ffff, 0xc000_0000,
        0xffff_fffe, 0xffff_ffff, 0x1000, 0xffff,
    ];

    /// <summary>Foreign <c>AUDIT_ARCH_*</c> values tried besides the known ones: always the bad-arch action unless covered.</summary>
    private static readonly uint[] ForeignArches = [0, 0xdead_beef, 0x4000_003e /* libseccomp's x32 token */, 0x4000_00f3 /* riscv32 */, 0x0000_0028 /* armeb */];

    /// <summary>What an enumeration of the inputs left out, filled in as it goes.</summary>
    private sealed class Tally
    {
        public BigInteger Combinations;
        public int SampledSyscalls;
    }

    /// <summary>Compares <paramref name="program"/> with <paramref name="policy"/> on the inputs of <see cref="Vectors"/>.</summary>
    public static EquivalenceReport Check(SeccompPolicy policy, BpfProgram program)
    {
        var mismatches = new List<Mismatch>();
        long vectors = 0, count = 0;
        var tally = new Tally();
        foreach (var data in Inputs(policy, tally))
        {
            vectors++;
            var expected = policy.Evaluate(data).Action;
            var actual = Interpreter.Run(program, data).Action;
            if (expected != actual)
            {
                count++;
                if (mismatches.Count < 100)
                    mismatches.Add(new Mismatch(data, expected, actual));
            }
        }
        return new EquivalenceReport(vectors, tally.Combinations, tally.SampledSyscalls, mismatches, count);
    }

    /// <summary>The inputs <see cref="Check"/> compares.</summary>
    public static IEnumerable<SeccompData> Vectors(SeccompPolicy policy) => Inputs(policy, new Tally());

    private static IEnumerable<SeccompData> Inputs(SeccompPolicy policy, Tally tally)
    {
        var arches = Architecture.All.Select(a => a.AuditArch).Concat(ForeignArches).Distinct();
        // Every call under an AUDIT_ARCH_* value the policy does not cover gets the bad-arch action: the edges and the
        // numbers the rules name are enough to see that it does. Under a covered one, every number of its tables too.
        var ruled = new SortedSet<uint>(EdgeNumbers);
        foreach (var (_, newest) in policy.Newer?.Newest ?? new Dictionary<Architecture, uint>())
        {
            // Either side of the newest syscall, and the newest of the section's other half of the x86_64 space.
            ruled.Add(newest);
            ruled.Add(unchecked(newest + 1));
            ruled.Add(newest ^ Architecture.X32.SyscallNumberBit);
            ruled.Add(unchecked((newest ^ Architecture.X32.SyscallNumberBit) + 1));
        }
        foreach (var section in policy.Sections)
        {
            foreach (int nr in section.Syscalls.Keys)
            {
                ruled.Add((uint)nr);
                ruled.Add(unchecked((uint)nr + 1));
                ruled.Add(unchecked((uint)nr - 1));
                ruled.Add((uint)nr ^ Architecture.X32.SyscallNumberBit);
            }
        }
        foreach (uint auditArch in arches)
        {
            var numbers = ruled;
            if (policy.Sections.Any(s => s.Architecture.AuditArch == auditArch))
            {
                numbers = new SortedSet<uint>(ruled);
                foreach (var a in Architecture.All.Where(a => a.AuditArch == auditArch))
                {
                    foreach (var s in a.Syscalls.All)
                    {
                        numbers.Add((uint)s.Number);
                        numbers.Add((uint)s.Number + 1);
                    }
                }
            }
            foreach (uint nr in numbers)
            {
                var data = new SeccompData(unchecked((int)nr), auditArch);
                tally.Combinations++;
                yield return data;
                var section = policy.SectionFor(data);
                if (section is null || !section.Syscalls.TryGetValue(data.Nr, out var rules) || rules.All(r => r.Condition.IsTrue))
                    continue;
                foreach (var args in ArgumentVectors(rules, unchecked((int)nr), tally))
                    yield return new SeccompData(data.Nr, auditArch, 0, args);
            }
        }
    }

    /// <summary>The product of each tested argument's interesting values; above the cap, a sample of it, without repeats.</summary>
    private static IEnumerable<ulong[]> ArgumentVectors(IReadOnlyList<Rule> rules, int seed, Tally tally)
    {
        var perArg = new SortedSet<ulong>[6];
        foreach (var p in rules.SelectMany(r => r.Condition.Predicates()))
            foreach (ulong v in p.InterestingValues())
                (perArg[p.Arg] ??= []).Add(v);
        var tested = Enumerable.Range(0, 6).Where(i => perArg[i] is not null).ToArray();
        var values = tested.Select(i => perArg[i].ToArray()).ToArray();
        // Exact: six arguments of many predicates each overflow a long.
        var total = values.Aggregate(BigInteger.One, (acc, v) => acc * v.Length);
        tally.Combinations += total;
        if (total <= MaxCombinationsPerSyscall)
        {
            var index = new int[tested.Length];
            for (long n = 0; n < (long)total; n++)
            {
                var args = new ulong[6];
                for (int k = 0; k < tested.Length; k++)
                    args[tested[k]] = values[k][index[k]];
                yield return args;
                for (int k = 0; k < tested.Length && ++index[k] == values[k].Length; k++)
                    index[k] = 0;
            }
            yield break;
        }
        // Too many to enumerate: every single-argument variation, then seeded random combinations, each once.
        var seen = new HashSet<(ulong, ulong, ulong, ulong, ulong, ulong)>();
        IEnumerable<ulong[]> Candidates()
        {
            for (int k = 0; k < tested.Length; k++)
            {
                foreach (ulong v in values[k])
                {
                    var args = new ulong[6];
                    args[tested[k]] = v;
                    yield return args;
                }
            }
            var rng = new Random(seed);
            for (int n = 0; n < MaxCombinationsPerSyscall; n++)
            {
                var args = new ulong[6];
                for (int k = 0; k < tested.Length; k++)
                    args[tested[k]] = values[k][rng.Next(values[k].Length)];
                yield return args;
            }
        }
        foreach (var args in Candidates())
            if (seen.Add((args[0], args[1], args[2], args[3], args[4], args[5])))
                yield return args;
        if (seen.Count < total)
            tally.SampledSyscalls++;
    }
}
