using Syscage.Bpf;
using Syscage.Policy;
using Syscage.Abi;

namespace Syscage.Testing;

/// <summary>
/// Seeded random policies in the IR: random architecture sets, default and bad-arch actions, syscalls with
/// 0..4 rules whose conditions nest all/any/not over predicates of every comparison and width, with values on the
/// 32-bit half boundaries where compiled code is most likely to go wrong.
/// </summary>
public static class RandomPolicies
{
    private static readonly ulong[] Edges =
    [
        0, 1, 2, 0x7f, 0xff, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff, 0x1_0000_0000, 0x1_0000_0001,
        0xffff_ffff_0000_0000, 0xffff_ffff_ffff_ffff, 0x8000_0000_0000_0000, 0x7fff_ffff_ffff_ffff, 0x5401,
    ];

    /// <summary>A random value near the interesting edges, or fully random.</summary>
    public static ulong Value(Random rng) => rng.Next(4) switch
    {
        0 => (ulong)rng.NextInt64(),
        1 => (ulong)rng.Next(64),
        _ => unchecked(Edges[rng.Next(Edges.Length)] + (ulong)(rng.Next(3) - 1)),
    };

    /// <summary>
    /// A width a comparison is made at: mostly the whole register, often an <c>int</c>'s 32 bits, sometimes an
    /// <c>umode_t</c>'s 16 or 8. Values are not reduced to it: the compiler and the evaluator must both do that.
    /// </summary>
    public static int Width(Random rng) => rng.Next(20) switch
    {
        < 10 => ArgPredicate.FullWidth,
        < 15 => 32,
        < 18 => 16,
        _ => 8,
    };

    /// <summary>A random action (all kinds, small data).</summary>
    public static SeccompAction Action(Random rng) => rng.Next(9) switch
    {
        0 => SeccompAction.KillProcess,
        1 => SeccompAction.KillThread,
        2 => SeccompAction.Trap((ushort)rng.Next(4)),
        3 or 4 => SeccompAction.Errno((ushort)rng.Next(1, 140)),
        5 => SeccompAction.Trace((ushort)rng.Next(4)),
        6 => SeccompAction.Log,
        7 => SeccompAction.UserNotif,
        _ => SeccompAction.Allow,
    };

    /// <summary>A random condition of bounded depth.</summary>
    public static Condition Condition(Random rng, int depth = 0)
    {
        int pick = depth >= 2 ? 0 : rng.Next(6);
        switch (pick)
        {
            case 3: return Syscage.Policy.Condition.All(Enumerable.Range(0, rng.Next(1, 4)).Select(_ => Condition(rng, depth + 1)).ToArray());
            case 4: return Syscage.Policy.Condition.Any(Enumerable.Range(0, rng.Next(1, 4)).Select(_ => Condition(rng, depth + 1)).ToArray());
            case 5: return Syscage.Policy.Condition.Not(Condition(rng, depth + 1));
            default:
                var op = (ComparisonOp)rng.Next(7);
                return Syscage.Policy.Condition.Of(new ArgPredicate(rng.Next(6), op, Value(rng), op == ComparisonOp.MaskedEq ? Value(rng) : ulong.MaxValue, Width(rng)));
        }
    }

    /// <summary>
    /// A random policy over the x86 family (and sometimes aarch64), or over a random part of <paramref name="pool"/>
    /// (never empty: its first architecture when the draw leaves none).
    /// </summary>
    public static SeccompPolicy Policy(Random rng, int maxSyscalls = 40, IReadOnlyList<Architecture>? pool = null)
    {
        pool ??= [Architecture.X86_64, Architecture.X86, Architecture.X32, Architecture.Aarch64];
        var arches = pool.Where(_ => rng.Next(3) != 0).ToList();
        if (arches.Count == 0)
            arches.Add(pool[0]);
        var b = new PolicyBuilder(Action(rng), arches) { BadArchAction = Action(rng), Name = "random" };
        int syscalls = rng.Next(0, maxSyscalls + 1);
        for (int i = 0; i < syscalls; i++)
        {
            var arch = arches[rng.Next(arches.Count)];
            var table = arch.Syscalls.All;
            int nr = rng.Next(20) == 0 ? (int)arch.SyscallNumberBit + rng.Next(1000) : table[rng.Next(table.Count)].Number;
            int rules = rng.Next(1, 5);
            for (int r = 0; r < rules; r++)
            {
                var cond = rng.Next(3) == 0 ? Syscage.Policy.Condition.True : Condition(rng);
                b.Add(arch, nr, new Rule(cond, Action(rng)));
            }
        }
        // Sometimes forward compatibility: past the newest syscall the tables know, or past numbers of our own (never
        // below a number with rules), on some of the architectures.
        switch (rng.Next(4))
        {
            case 0:
                b.PastNewestKnown(Action(rng));
                break;
            case 1:
                var built = b.Build();
                var newest = new Dictionary<Architecture, uint>();
                foreach (var section in built.Sections.Where(_ => rng.Next(4) != 0))
                {
                    var a = section.Architecture;
                    long n = (a.Syscalls.Newest?.Number ?? (int)a.SyscallNumberBit) + rng.Next(-60, 60);
                    foreach (int nr in section.Syscalls.Keys.Where(a.Owns))
                        n = Math.Max(n, unchecked((uint)nr));
                    newest[a] = (uint)Math.Max(n, 0);
                }
                b.Newer = new NewerSyscalls(Action(rng), newest, "random");
                break;
        }
        return b.Build();
    }

    /// <summary>A random call aimed at a policy: its syscalls, arches and predicate edges, or anything.</summary>
    public static SeccompData Call(Random rng, SeccompPolicy policy)
    {
        var sections = policy.Sections;
        uint arch = rng.Next(10) == 0 ? (uint)rng.NextInt64(0, 1L << 32)
            : rng.Next(5) == 0 ? Architecture.All[rng.Next(Architecture.All.Count)].AuditArch
            : sections[rng.Next(sections.Count)].Architecture.AuditArch;
        var section = sections[rng.Next(sections.Count)];
        var keys = section.Syscalls.Keys.ToArray();
        uint? newest = policy.Newer?.NewestOn(section.Architecture);
        int nr = keys.Length > 0 && rng.Next(4) != 0 ? keys[rng.Next(keys.Length)]
            : newest is uint last && rng.Next(3) == 0 ? unchecked((int)(last + (uint)rng.Next(-2, 3)))
            : rng.Next(3) == 0 ? unchecked((int)(uint)Value(rng)) : rng.Next(500);
        var args = new ulong[6];
        var preds = section.RulesFor(nr).SelectMany(r => r.Condition.Predicates()).ToArray();
        for (int i = 0; i < 6; i++)
        {
            var mine = preds.Where(p => p.Arg == i).ToArray();
            if (mine.Length > 0 && rng.Next(4) != 0)
            {
                var values = mine[rng.Next(mine.Length)].InterestingValues().ToArray();
                args[i] = values[rng.Next(values.Length)];
            }
            else
                args[i] = Value(rng);
        }
        return new SeccompData(nr, arch, (ulong)rng.NextInt64(), args);
    }
}
