using Syscage.Bpf;
using static Syscage.Bpf.Opcode;
using Syscage.Abi;

namespace Syscage.Policy.Compiler;

/// <summary>
/// Path-sensitive cleanup of argument checks: walks the decision DAG carrying what the tests on the way have
/// established about each argument word (an interval and a few excluded values), drops tests whose outcome is
/// already known, and specialises shared nodes per set of facts. Rules that test the same argument one after
/// another (<c>persona == 0 || persona == 8 || ...</c>) then stop re-testing the high half that the first test
/// already settled. Tests on <c>nr</c> and <c>arch</c> are left alone: the search tree never repeats them.
/// </summary>
internal sealed class Specializer(DecisionGraph graph)
{
    private const int MaxExcluded = 8;

    /// <summary>What is known of one accumulator value: it lies in [Low, High] and is none of Excluded.</summary>
    private sealed record Fact(AValue Value, uint Low, uint High, uint[] Excluded)
    {
        public bool Exact => Low == High;
    }

    private readonly Dictionary<(int, string), DecisionNode> _memo = [];
    private int _budget;

    /// <summary>The specialised DAG, or <paramref name="root"/> itself if specialising would grow it too much.</summary>
    public DecisionNode Run(DecisionNode root)
    {
        _budget = 4 * graph.Nodes.Count + 2000;
        try
        {
            return Visit(root, []);
        }
        catch (BudgetExceeded)
        {
            return root;
        }
    }

    private sealed class BudgetExceeded : Exception;

    private DecisionNode Visit(DecisionNode node, Fact[] facts)
    {
        if (node is not TestNode t)
            return node;
        bool argumentTest = t.Value.Offset >= SeccompData.ArgsOffset;
        if (!argumentTest)
            facts = [];
        var key = (t.Id, Key(facts));
        if (_memo.TryGetValue(key, out var done))
            return done;
        if (--_budget < 0)
            throw new BudgetExceeded();
        DecisionNode result;
        bool? known = argumentTest ? Decide(t, facts) : null;
        if (known is bool outcome)
            result = Visit(outcome ? t.True : t.False, facts);
        else
            result = graph.Test(t.Value, t.JumpOp, t.K,
                Visit(t.True, argumentTest ? Refine(facts, t, true) : facts),
                Visit(t.False, argumentTest ? Refine(facts, t, false) : facts));
        _memo[key] = result;
        return result;
    }

    private static Fact? Find(Fact[] facts, AValue value)
    {
        foreach (var f in facts)
            if (f.Value == value)
                return f;
        return null;
    }

    /// <summary>The test's outcome if the facts settle it.</summary>
    private static bool? Decide(TestNode t, Fact[] facts)
    {
        uint k = t.K;
        var f = Find(facts, t.Value);
        if (f is null && t.Value.Masked && Find(facts, AValue.Word(t.Value.Offset)) is { Exact: true } word)
        {
            uint v = word.Low & t.Value.Mask;
            f = new Fact(t.Value, v, v, []);
        }
        if (f is null)
            return null;
        if (f.Exact)
        {
            uint v = f.Low;
            return t.JumpOp switch { BPF_JEQ => v == k, BPF_JGT => v > k, BPF_JGE => v >= k, _ => (v & k) != 0 };
        }
        return t.JumpOp switch
        {
            BPF_JEQ when k < f.Low || k > f.High || f.Excluded.Contains(k) => false,
            BPF_JGT when f.Low > k => true,
            BPF_JGT when f.High <= k => false,
            BPF_JGE when f.Low >= k => true,
            BPF_JGE when f.High < k => false,
            _ => null,
        };
    }

    /// <summary>The facts after the test went <paramref name="outcome"/>.</summary>
    private static Fact[] Refine(Fact[] facts, TestNode t, bool outcome)
    {
        var old = Find(facts, t.Value) ?? new Fact(t.Value, 0, uint.MaxValue, []);
        uint k = t.K, lo = old.Low, hi = old.High;
        var excluded = old.Excluded;
        switch (t.JumpOp)
        {
            case BPF_JEQ when outcome:
                lo = hi = k;
                excluded = [];
                break;
            case BPF_JEQ:
                if (k == lo && lo < hi) lo++;
                else if (k == hi && lo < hi) hi--;
                else if (excluded.Length < MaxExcluded && !excluded.Contains(k)) excluded = [.. excluded, k];
                break;
            case BPF_JGT when outcome: lo = Math.Max(lo, k + 1); break;        // k < uint.MaxValue: else the test is always false
            case BPF_JGT: hi = Math.Min(hi, k); break;
            case BPF_JGE when outcome: lo = Math.Max(lo, k); break;
            case BPF_JGE: hi = Math.Min(hi, k - 1); break;                    // k > 0: else the test is always true
            default: return facts;                                           // JSET: nothing kept
        }
        var updated = new Fact(t.Value, lo, hi, excluded);
        var list = facts.Where(f => f.Value != t.Value).Append(updated).OrderBy(f => f.Value.Offset).ThenBy(f => f.Value.Mask).ToArray();
        return list;
    }

    private static string Key(Fact[] facts)
    {
        if (facts.Length == 0)
            return "";
        var sb = new System.Text.StringBuilder();
        foreach (var f in facts)
        {
            sb.Append(f.Value.Offset).Append(':').Append(f.Value.Mask).Append('=').Append(f.Low).Append('-').Append(f.High);
            foreach (uint e in f.Excluded.Order())
                sb.Append('!').Append(e);
            sb.Append(';');
        }
        return sb.ToString();
    }
}
