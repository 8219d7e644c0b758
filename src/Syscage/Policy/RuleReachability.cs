using Syscage.Abi;

namespace Syscage.Policy;

/// <summary>What becomes of one rule of a syscall: does it ever decide, and if not, who decides its calls instead.</summary>
/// <param name="Index">The rule's position among the syscall's rules.</param>
/// <param name="Rule">The rule.</param>
/// <param name="Decides">True when some call is decided by it (it is the first rule to match for some arguments).</param>
/// <param name="NeverHolds">True when its condition holds for no arguments at all.</param>
/// <param name="PastNewest">True when the syscall is past the newest the policy knows: the newer-syscalls action decides it.</param>
/// <param name="DecidedFirstBy">For a rule that matches but never decides: the earlier rules that decide the calls it matches (positions).</param>
/// <param name="Undecided">True when the solver could not decide (the rule is then taken to decide).</param>
internal sealed record RuleFate(int Index, Rule Rule, bool Decides, bool NeverHolds, bool PastNewest, IReadOnlyList<int> DecidedFirstBy, bool Undecided);

/// <summary>
/// Which rules of a syscall ever decide, decided exactly: rule <c>i</c> decides some call when
/// <c>C_i &amp;&amp; !C_1 &amp;&amp; ... &amp;&amp; !C_(i-1)</c> can hold; the default action decides some call when no rule's
/// condition has to hold.
/// </summary>
/// <remarks>
/// Two ways to the same answers. Usually the argument vectors of <see cref="ConditionSolver.Cells"/> (one for each
/// combination of truths the syscall's comparisons can take) are few, and each is run through the rules in order, as
/// the reference evaluator does: a rule decides when it is the first to match some vector. When they are too many
/// (several arguments each compared with many values), each question goes to <see cref="ConditionSolver.Solve"/>.
/// </remarks>
internal static class RuleReachability
{
    /// <summary>Argument vectors beyond which the rules are not run on every one, and the solver is asked instead.</summary>
    internal const int MaxCells = 1 << 16;

    /// <summary>The fate of every rule of <paramref name="nr"/> in <paramref name="section"/>.</summary>
    public static IReadOnlyList<RuleFate> Analyse(SeccompPolicy policy, ArchitecturePolicy section, int nr, SolverBudget budget)
    {
        var rules = section.RulesFor(nr);
        if (policy.Newer?.Covers(section.Architecture, nr) == true)
            return [.. rules.Select((r, i) => new RuleFate(i, r, false, false, true, [], false))];
        bool is64 = section.Architecture.Is64Bit;
        budget = budget.Slice(SolverBudget.PerSyscall);
        var cells = ConditionSolver.Cells(rules.SelectMany(r => r.Condition.Predicates()), is64, MaxCells, budget);
        if (cells is { Count: 1 })
            return ByCells(rules, is64, cells);   // no argument is compared: nothing to spend
        if (cells is not null && !budget.Spend(cells.LongCount() * rules.Sum(r => ConditionSolver.Size(r.Condition))))
            return [.. rules.Select((r, i) => new RuleFate(i, r, true, false, false, [], true))];
        return cells is null ? BySolver(rules, is64, budget) : ByCells(rules, is64, cells);
    }

    private static List<RuleFate> ByCells(IReadOnlyList<Rule> rules, bool is64, List<ulong[]> cells)
    {
        int n = rules.Count;
        var first = new int[cells.Count];
        var decides = new bool[n];
        for (int c = 0; c < cells.Count; c++)
        {
            first[c] = FirstMatch(rules, cells[c], is64, n);
            if (first[c] < n)
                decides[first[c]] = true;
        }
        var fates = new List<RuleFate>(n);
        for (int i = 0; i < n; i++)
        {
            if (decides[i])
            {
                fates.Add(new RuleFate(i, rules[i], true, false, false, [], false));
                continue;
            }
            var by = new SortedSet<int>();
            for (int c = 0; c < cells.Count; c++)
                if (rules[i].Condition.Evaluate(cells[c], is64))
                    by.Add(first[c]);
            fates.Add(new RuleFate(i, rules[i], false, by.Count == 0, false, [.. by], false));
        }
        return fates;
    }

    private static int FirstMatch(IReadOnlyList<Rule> rules, ulong[] args, bool is64, int count)
    {
        for (int i = 0; i < count; i++)
            if (rules[i].Condition.Evaluate(args, is64))
                return i;
        return count;
    }

    private static List<RuleFate> BySolver(IReadOnlyList<Rule> rules, bool is64, SolverBudget budget)
    {
        var fates = new List<RuleFate>(rules.Count);
        int firstTrue = -1;
        for (int i = 0; i < rules.Count; i++)
        {
            var rule = rules[i];
            var own = ConditionSolver.Solve(rule.Condition, is64, out _, budget);
            if (own == Satisfiability.Unsatisfiable)
                fates.Add(new RuleFate(i, rule, false, true, false, [], false));
            else if (own == Satisfiability.Undecided)
                fates.Add(new RuleFate(i, rule, true, false, false, [], true));
            else
            {
                var decides = firstTrue >= 0 ? Satisfiability.Unsatisfiable : ConditionSolver.Solve(FirstToMatch(rules, i, rule.Condition), is64, out _, budget);
                if (decides == Satisfiability.Unsatisfiable)
                {
                    // Who takes its calls: each earlier rule that is the first to match for some of them.
                    var by = new List<int>();
                    for (int j = 0; j < i && (firstTrue < 0 || j <= firstTrue); j++)
                        if (ConditionSolver.Solve(Condition.All(rule.Condition, FirstToMatch(rules, j, rules[j].Condition)), is64, out _, budget) != Satisfiability.Unsatisfiable)
                            by.Add(j);
                    fates.Add(new RuleFate(i, rule, false, false, false, by, false));
                }
                else
                    fates.Add(new RuleFate(i, rule, true, false, false, [], decides == Satisfiability.Undecided));
            }
            if (firstTrue < 0 && rule.Condition.IsTrue)
                firstTrue = i;
        }
        return fates;
    }

    /// <summary><paramref name="condition"/> and none of the first <paramref name="count"/> rules' conditions.</summary>
    private static Condition FirstToMatch(IReadOnlyList<Rule> rules, int count, Condition condition) =>
        Condition.All([condition, .. rules.Take(count).Select(r => Condition.Not(r.Condition))]);

    /// <summary>
    /// The verdicts some call of <paramref name="nr"/> in <paramref name="section"/> can get while
    /// <paramref name="extra"/> holds of its arguments: each rule that decides such a call and the default action (rule
    /// null) when no rule matches one; the newer-syscalls action when the syscall is past the newest.
    /// </summary>
    public static IReadOnlyList<(Rule? Rule, SeccompAction Action)> Outcomes(SeccompPolicy policy, ArchitecturePolicy section, int nr, Condition extra, SolverBudget budget, out bool undecided)
    {
        undecided = false;
        bool is64 = section.Architecture.Is64Bit;
        if (policy.Newer is { } newer && newer.Covers(section.Architecture, nr))
            return ConditionSolver.Solve(extra, is64, out _, budget) == Satisfiability.Unsatisfiable ? [] : [(null, newer.Action)];
        var rules = section.RulesFor(nr);
        int n = rules.Count;
        budget = budget.Slice(SolverBudget.PerSyscall);
        var cells = ConditionSolver.Cells([.. rules.SelectMany(r => r.Condition.Predicates()), .. extra.Predicates()], is64, MaxCells, budget);
        var reached = new SortedSet<int>();
        if (cells is { Count: > 1 } && !budget.Spend(cells.LongCount() * (ConditionSolver.Size(extra) + rules.Sum(r => ConditionSolver.Size(r.Condition)))))
        {
            undecided = true;
            return [];
        }
        if (cells is not null)
        {
            foreach (var cell in cells)
                if (extra.Evaluate(cell, is64))
                    reached.Add(FirstMatch(rules, cell, is64, n));
        }
        else
        {
            for (int i = 0; i <= n; i++)
            {
                var s = ConditionSolver.Solve(Condition.All(extra, FirstToMatch(rules, i, i < n ? rules[i].Condition : Condition.True)), is64, out _, budget);
                if (s == Satisfiability.Undecided)
                    undecided = true;
                if (s != Satisfiability.Unsatisfiable)
                    reached.Add(i);
                if (i < n && rules[i].Condition.IsTrue)
                    break;
            }
        }
        return [.. reached.Select(i => i < n ? ((Rule?)rules[i], rules[i].Action) : (null, policy.DefaultAction))];
    }
}
