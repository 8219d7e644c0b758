using Syscage.Bpf;
using static Syscage.Bpf.Opcode;
using Syscage.Abi;

namespace Syscage.Policy.Compiler;

/// <summary>
/// What the accumulator holds: a 32-bit word of <c>seccomp_data</c> at <paramref name="Offset"/>, ANDed with
/// <paramref name="Mask"/> (<see cref="uint.MaxValue"/> for none).
/// </summary>
internal readonly record struct AValue(uint Offset, uint Mask)
{
    public static AValue Word(uint offset) => new(offset, uint.MaxValue);
    public bool Masked => Mask != uint.MaxValue;
}

/// <summary>A node of the decision DAG the code generator lays out: a return, or a load-and-test.</summary>
internal abstract class DecisionNode
{
    /// <summary>Dense id, assigned by the graph in creation order (children before parents).</summary>
    public int Id { get; init; }
}

/// <summary><c>return K</c>.</summary>
internal sealed class ReturnNode(uint value) : DecisionNode
{
    public uint Value { get; } = value;
}

/// <summary>
/// <c>A = data[offset]; [A &amp;= mask;] if (A op K) goto True else goto False</c>. The load and the AND are
/// emitted only when the accumulator does not already hold that value on every path into the node.
/// </summary>
internal sealed class TestNode(AValue value, ushort jumpOp, uint k, DecisionNode whenTrue, DecisionNode whenFalse) : DecisionNode
{
    public AValue Value { get; } = value;
    /// <summary><c>BPF_JEQ</c>, <c>BPF_JGT</c>, <c>BPF_JGE</c> or <c>BPF_JSET</c> (always with <c>BPF_K</c>).</summary>
    public ushort JumpOp { get; } = jumpOp;
    public uint K { get; } = k;
    public DecisionNode True { get; } = whenTrue;
    public DecisionNode False { get; } = whenFalse;
}

/// <summary>
/// Builds the decision DAG with hash-consing: structurally equal nodes are one node, so equal decisions
/// (the same return, the same argument checks leading to the same actions) share code and merge ranges.
/// </summary>
internal sealed class DecisionGraph(bool shareNodes = true)
{
    private readonly Dictionary<uint, ReturnNode> _returns = [];
    private readonly Dictionary<(AValue, ushort, uint, int, int), TestNode> _tests = [];
    private readonly List<DecisionNode> _nodes = [];

    /// <summary>Every node made, children before parents.</summary>
    public IReadOnlyList<DecisionNode> Nodes => _nodes;

    public ReturnNode Return(SeccompAction action) => Return(action.Value);

    public ReturnNode Return(uint value)
    {
        if (shareNodes && _returns.TryGetValue(value, out var r))
            return r;
        r = new ReturnNode(value) { Id = _nodes.Count };
        _nodes.Add(r);
        _returns.TryAdd(value, r);
        return r;
    }

    /// <summary>A test, or just the common child when both branches lead to the same node.</summary>
    public DecisionNode Test(AValue value, ushort jumpOp, uint k, DecisionNode whenTrue, DecisionNode whenFalse)
    {
        if (whenTrue == whenFalse)
            return whenTrue;
        var key = (value, jumpOp, k, whenTrue.Id, whenFalse.Id);
        if (shareNodes && _tests.TryGetValue(key, out var t))
            return t;
        t = new TestNode(value, jumpOp, k, whenTrue, whenFalse) { Id = _nodes.Count };
        _nodes.Add(t);
        _tests.TryAdd(key, t);
        return t;
    }

    /// <summary>Code that goes to <paramref name="whenTrue"/> when <paramref name="condition"/> holds, else <paramref name="whenFalse"/>.</summary>
    public DecisionNode Condition(Condition condition, DecisionNode whenTrue, DecisionNode whenFalse, Architecture arch) => condition switch
    {
        Policy.Condition.Predicate p => Predicate(p.Value, whenTrue, whenFalse, arch),
        Policy.Condition.NotOf n => Condition(n.Inner, whenFalse, whenTrue, arch),
        Policy.Condition.AllOf a => a.Conditions.Reverse().Aggregate(whenTrue, (next, c) => Condition(c, next, whenFalse, arch)),
        Policy.Condition.AnyOf o => o.Conditions.Reverse().Aggregate(whenFalse, (next, c) => Condition(c, whenTrue, next, arch)),
        _ => throw new ArgumentException($"unknown condition {condition.GetType().Name}", nameof(condition)),
    };

    /// <summary>
    /// One comparison at the width it is made at on the ABI (<see cref="ArgPredicate.At"/>): at 64 bits, tests on the
    /// 32-bit halves, high half first; at 32 bits (an <c>int</c> argument, or any argument of a 32-bit ABI, whose
    /// syscall sees only the low half of the register, whatever seccomp_data holds above it) a test of the low half
    /// alone; below 32 bits (an <c>umode_t</c>) a test of the low half ANDed with the width's mask. The halves are
    /// where the ABI keeps them (<see cref="Architecture.ArgumentOffset"/>): on a big-endian ABI the low half is the
    /// second word of the argument.
    /// </summary>
    public DecisionNode Predicate(ArgPredicate predicate, DecisionNode t, DecisionNode f, Architecture arch)
    {
        var p = predicate.At(arch.Is64Bit);
        uint lo = arch.ArgumentOffset(p.Arg), hi = arch.ArgumentOffset(p.Arg, highHalf: true);
        bool wide = p.Width == ArgPredicate.FullWidth;
        var low = new AValue(lo, (uint)ArgPredicate.WidthMask(Math.Min(p.Width, ArgPredicate.RegisterWidth32)));
        ulong value = p.Value, mask = p.Mask;
        uint vHi = (uint)(value >> 32), vLo = (uint)value;
        switch (p.Op)
        {
            case ComparisonOp.Ne:
                return Predicate(p with { Op = ComparisonOp.Eq }, f, t, arch);
            case ComparisonOp.Lt:
                return Predicate(p with { Op = ComparisonOp.Ge }, f, t, arch);
            case ComparisonOp.Le:
                return Predicate(p with { Op = ComparisonOp.Gt }, f, t, arch);
            case ComparisonOp.Eq:
            {
                var lowTest = Test(low, BPF_JEQ, vLo, t, f);
                return wide ? Test(AValue.Word(hi), BPF_JEQ, vHi, lowTest, f) : lowTest;
            }
            case ComparisonOp.Gt:
            case ComparisonOp.Ge:
            {
                ushort op = p.Op == ComparisonOp.Gt ? BPF_JGT : BPF_JGE;
                var lowTest = LowCompare(low, op, vLo, t, f);
                if (!wide)
                    return lowTest;
                // hi > vHi: true; hi == vHi: compare the low halves; hi < vHi: false.
                var equalHigh = Test(AValue.Word(hi), BPF_JEQ, vHi, lowTest, f);
                return vHi == uint.MaxValue ? equalHigh : Test(AValue.Word(hi), BPF_JGT, vHi, t, equalHigh);
            }
            default:
            {
                // At() has reduced the mask to the width: a narrower one only ever ANDs the low half.
                ulong datum = value & mask;
                var lowTest = Masked(lo, (uint)mask, (uint)datum, t, f);
                return wide ? Masked(hi, (uint)(mask >> 32), (uint)(datum >> 32), lowTest, f) : lowTest;
            }
        }
    }

    /// <summary>
    /// Unsigned <c>A op K</c> on a low half (ANDed with the width's mask below 32 bits), with the always-true and
    /// always-false cases folded.
    /// </summary>
    private DecisionNode LowCompare(AValue value, ushort op, uint k, DecisionNode t, DecisionNode f) =>
        op == BPF_JGE && k == 0 ? t
        : op == BPF_JGT && k >= value.Mask ? f
        : Test(value, op, k, t, f);

    /// <summary>
    /// <c>(A &amp; mask) == datum</c> on one half: nothing for a zero mask, a bit test (JSET, no AND) when the
    /// datum is zero or a single-bit mask is fully set, else AND and compare.
    /// </summary>
    private DecisionNode Masked(uint offset, uint mask, uint datum, DecisionNode t, DecisionNode f)
    {
        if (mask == 0)
            return t;
        if (datum == 0)
            return Test(AValue.Word(offset), BPF_JSET, mask, f, t);
        if (datum == mask && (mask & (mask - 1)) == 0)
            return Test(AValue.Word(offset), BPF_JSET, mask, t, f);
        return Test(new AValue(offset, mask), BPF_JEQ, datum, t, f);
    }

    /// <summary>The rules of one syscall in order, falling to <paramref name="otherwise"/>.</summary>
    public DecisionNode Rules(IReadOnlyList<Rule> rules, DecisionNode otherwise, Architecture arch)
    {
        var node = otherwise;
        for (int i = rules.Count - 1; i >= 0; i--)
            node = Condition(rules[i].Condition, Return(rules[i].Action), node, arch);
        return node;
    }
}
