using Syscage.Abi;

namespace Syscage.Policy;

/// <summary>
/// Lowers the rules of the calls a multiplexer makes (<see cref="MultiplexedCall"/>) onto the multiplexer
/// (<c>socketcall(2)</c>, <c>ipc(2)</c>), beside its own rules: the one owner of what a rule on <c>socket</c> means for
/// <c>socketcall(SYS_SOCKET, ...)</c>.
/// </summary>
/// <remarks>
/// <para>libseccomp (<c>abi_rule_add</c> in 2.6's src/syscalls.c, <c>x86_rule_add</c> and its copies for s390, ppc and
/// mips in 2.5) adds, beside the rule on the direct call, the rule on the multiplexer with <c>arg0 == call</c> in place of
/// the rule's own comparison on argument 0 and the comparisons on arguments 1 to 5 kept as they are — on the
/// multiplexer's registers, which hold a pointer (<c>socketcall</c>) or the call's arguments in another order
/// (<c>ipc</c>). Here a rule becomes:</para>
/// <list type="bullet">
/// <item>without a condition: <c>call == CODE → action</c>, as in libseccomp; <c>call</c> is compared where the kernel
/// reads it (<see cref="MultiplexedCall.CodeWidth"/>: 32 bits of <c>socketcall</c>'s <c>int</c>, the low 16 of
/// <c>ipc</c>'s, whose high half is a version), where libseccomp compares the whole register;</item>
/// <item>with a condition: the condition is on arguments the filter cannot read there, so the rule decides every
/// <c>call == CODE</c> it reaches, with the most restrictive (kernel precedence) of its own action and every action a call
/// it does not match could get after it: the later rules that could match that call, up to the first that always does,
/// else the default action. Whatever the arguments in memory, the call gets no verdict more permissive than the one
/// the policy gives them: a conditional refusal (<c>ERRNO socket if domain == AF_VSOCK</c>) refuses every
/// <c>socketcall(SYS_SOCKET)</c>, a conditional permission under a refusing default allows none.</item>
/// </list>
/// <para>Rules keep the order in which they were added (<see cref="PolicyBuilder"/>), the multiplexer's own rules
/// included; a call's rules after one that always decides it are left out.</para>
/// </remarks>
internal static class MultiplexedRules
{
    /// <summary>The predicate that singles out <paramref name="call"/> on its multiplexer: argument 0 equal to its code, at the width the kernel reads it.</summary>
    public static ArgPredicate Selects(MultiplexedCall call) =>
        new(0, ComparisonOp.Eq, (ulong)call.Code, Width: call.CodeWidth);

    /// <summary>What a call could get from a point on: an action, the rule that gives it (null: the default action).</summary>
    private readonly record struct Outcome(SeccompAction Action, Rule? From, RuleRoute? Route)
    {
        public bool IsDefault => From is null;
    }

    /// <summary>The more restrictive of two outcomes, the earlier one on a tie (<see cref="SeccompAction.Precede"/>).</summary>
    private static Outcome Join(Outcome earlier, Outcome later) =>
        SeccompAction.Precede(earlier.Action.Value, later.Action.Value) == earlier.Action.Value ? earlier : later;

    /// <summary>
    /// The multiplexer's rules on <paramref name="arch"/>: <paramref name="items"/> in the order they were added, each a
    /// rule of the multiplexer itself (<c>Call</c> null) or of a call it makes.
    /// </summary>
    public static Rule[] Lower(Architecture arch, IReadOnlyList<(MultiplexedCall? Call, PolicyBuilder.Added Rule)> items, SeccompAction defaultAction)
    {
        var codes = items.Where(i => i.Call is not null).Select(i => i.Call!).Distinct().ToList();
        // From the end: per call, what it could get after the current rule.
        var after = codes.ToDictionary(c => c, _ => new Outcome(defaultAction, null, null));
        var lowered = new Rule[items.Count];
        for (int j = items.Count - 1; j >= 0; j--)
        {
            var (call, added) = items[j];
            var rule = added.Rule;
            if (call is null)
            {
                lowered[j] = rule;
                foreach (var c in codes)
                {
                    switch (Matches(rule.Condition, c, arch.Is64Bit))
                    {
                        case true:
                            after[c] = new Outcome(rule.Action, rule, rule.Route);
                            break;
                        case null:
                            after[c] = Join(new Outcome(rule.Action, rule, rule.Route), after[c]);
                            break;
                    }
                }
                continue;
            }
            var selects = Condition.Of(Selects(call));
            if (rule.Condition.IsTrue)
            {
                lowered[j] = new Rule(selects, rule.Action, rule.Source, rule.Route) { Via = new MultiplexedOrigin(call, rule) };
                after[call] = new Outcome(rule.Action, rule, rule.Route);
                continue;
            }
            var outcome = Join(new Outcome(rule.Action, rule, rule.Route), after[call]);
            var via = new MultiplexedOrigin(call, rule)
            {
                TakenFrom = outcome.From is { } from && !ReferenceEquals(from, rule) ? from : null,
                DefaultTaken = outcome.IsDefault,
            };
            lowered[j] = new Rule(selects, outcome.Action, rule.Source, outcome.Route) { Via = via };
            after[call] = outcome;
        }

        // A call's rules after one that always decides it are never reached: leave them out. (A multiplexer's own rule
        // that always decides stays in front of the call rules after it, so the unreachable-rule report names them.)
        var result = new List<Rule>(lowered.Length);
        var decided = new HashSet<MultiplexedCall>();
        for (int j = 0; j < lowered.Length; j++)
        {
            if (items[j].Call is { } call && !decided.Add(call))
                continue;
            result.Add(lowered[j]);
        }
        return [.. result];
    }

    /// <summary>
    /// Whether a multiplexer's own condition holds for every call that selects <paramref name="call"/> (true), for none
    /// (false), or may hold for some (null). It is decided when every comparison it makes is on argument 0 and on no
    /// more bits than the kernel reads to pick the call (<c>socketcall if call == SYS_CONNECT</c>), or when one of its
    /// conjuncts is such a comparison and false for the call's code.
    /// </summary>
    private static bool? Matches(Condition condition, MultiplexedCall call, bool is64Bit)
    {
        if (condition.IsTrue)
            return true;
        bool OnCode(ArgPredicate p) => p.Arg == 0 && p.WidthOn(is64Bit) <= call.CodeWidth;
        Span<ulong> args = stackalloc ulong[6];
        args[0] = (ulong)call.Code;
        if (condition.Predicates().All(OnCode))
            return condition.Evaluate(args, is64Bit);
        IEnumerable<Condition> conjuncts = condition is Condition.AllOf all ? all.Conditions : [condition];
        foreach (var c in conjuncts)
            if (c.Predicates().All(OnCode) && !c.Evaluate(args, is64Bit))
                return false;
        return null;
    }
}
