using Syscage.Abi;

namespace Syscage.Policy.Oci;

/// <summary>
/// libseccomp's resolution of a syscall's overlapping rules, lowered to first-match IR rules: the paths of
/// <see cref="LibseccompTree"/> in the order runc's filter tries them, each guarded by the condition of an entry with
/// its action, then every entry in profile order, simplified by <see cref="RuleSimplifier"/>.
/// </summary>
/// <remarks>
/// The guard keeps a path from deciding a call no entry with its action matches (libseccomp's shared lists can reach
/// another rule's action for such a call); the entries at the end decide a call some entry matches but no path decides
/// (libseccomp loses part of a rule in some merges, drops some rules as redundant, and refuses others). So every
/// verdict is the action of an entry that matches the call, or the default action when none does — and it is
/// libseccomp's verdict whenever libseccomp's is such an action (docs/libseccomp-differences.md, "Overlapping entries").
/// </remarks>
internal static class LibseccompOrder
{
    /// <summary>The most decision paths one syscall may have (a bound on time and on the filter's size).</summary>
    internal const int MaxPaths = 4096;

    /// <summary>
    /// The most rules of one syscall whose order is worked out (a bound on time: each is merged into the tree in a
    /// transaction); Docker's default profile has at most 5 rules for a syscall (personality).
    /// </summary>
    internal const int MaxRules = 256;

    /// <summary>The most rules of one profile whose order is worked out, all syscalls and architectures together.</summary>
    internal const int MaxRulesPerProfile = 4096;

    /// <summary>The lowered rules and what did not go as written.</summary>
    /// <param name="Rules">First-match IR rules.</param>
    /// <param name="NotAdded">Rules libseccomp drops, refuses or loops on, with what happens.</param>
    /// <param name="Failure">Why the tree could not be used (circular lists, too many paths); the rules are then in profile order.</param>
    internal sealed record Result(IReadOnlyList<Rule> Rules, IReadOnlyList<(RuncRule Rule, TreeAddResult Result)> NotAdded, string? Failure)
    {
        /// <summary>The clauses before <see cref="RuleSimplifier"/> (empty when the tree was not used).</summary>
        internal IReadOnlyList<Clause> Clauses { get; init; } = [];
    }

    /// <summary>Lowers the rules of one syscall on one architecture.</summary>
    /// <param name="rules">The rules in profile order (<see cref="RuncRule.Order"/> 0, 1, ...).</param>
    /// <param name="halves">True on a 64-bit ABI, false on x86 and x32 (libseccomp's 32-bit ABIs).</param>
    public static Result Lower(IReadOnlyList<RuncRule> rules, bool halves)
    {
        ArgumentNullException.ThrowIfNull(rules);
        var tree = new LibseccompTree(halves);
        var notAdded = new List<(RuncRule, TreeAddResult)>();
        foreach (var rule in rules)
        {
            var result = tree.Add(rule);
            if (result != TreeAddResult.Added)
                notAdded.Add((rule, result));
        }
        if (tree.Unconditional is { } all)
            return new Result([new Rule(Condition.True, all.Action, all.Source)], notAdded, null);

        IReadOnlyList<LibseccompTree.DecisionPath> paths;
        try
        {
            paths = tree.Paths(MaxPaths);
        }
        catch (InvalidOperationException e)
        {
            return new Result([.. rules.Select(r => new Rule(r.Condition, r.Action, r.Source))], notAdded, e.Message);
        }

        var byOrder = rules.ToDictionary(r => r.Order);
        var clauses = new List<Clause>();
        foreach (var path in paths)
        {
            var tests = new List<Literal>();
            bool possible = true;
            foreach (var t in path.Tests)
            {
                switch (t.Test)
                {
                    case Condition.Predicate { Value: var p }:
                        tests.Add(new Literal(p, t.Outcome));
                        break;
                    case Condition.AllOf { Conditions.Count: 0 }:   // always true
                        possible &= t.Outcome;
                        break;
                    default:                                          // always false
                        possible &= !t.Outcome;
                        break;
                }
            }
            if (!possible)
                continue;
            // The guard: the path decides only calls an entry with its action matches — first the entries that put the
            // action there, then the others with that action, each in profile order.
            var owners = path.Owners.Select(o => byOrder[o]).ToList();
            foreach (var r in owners.Concat(rules.Where(r => r.Action == path.Action && !owners.Contains(r))))
                clauses.Add(new Clause([.. tests, .. r.Checks.Select(c => new Literal(c, true))], r));
        }
        // The entries themselves: those in the tree in profile order, then the ones libseccomp refuses, loops on or takes
        // to be redundant.
        var inTree = tree.Rules.ToHashSet();
        foreach (var r in tree.Rules.Concat(rules.Where(r => !inTree.Contains(r))))
            clauses.Add(new Clause([.. r.Checks.Select(c => new Literal(c, true))], r));
        return new Result(RuleSimplifier.Simplify(clauses), notAdded, null) { Clauses = clauses };
    }
}
