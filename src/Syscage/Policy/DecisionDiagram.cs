using Syscage.Abi;

namespace Syscage.Policy;

/// <summary>
/// What one call gets, as far as the decision goes: the action as the kernel reads it (<see cref="SeccompAction.Effective"/>)
/// and, for USER_NOTIF, who decides in user space. Two verdicts are equal when no caller could tell them apart.
/// </summary>
/// <param name="Action">The effective action.</param>
/// <param name="Route">For USER_NOTIF, the handler or program; null for every other action.</param>
internal readonly record struct Verdict(SeccompAction Action, RuleRoute? Route)
{
    /// <summary>The verdict of an action (with its route when it is USER_NOTIF; the default handler when none is named).</summary>
    public static Verdict Of(SeccompAction action, RuleRoute? route = null)
    {
        var effective = action.Effective;
        return new Verdict(effective, effective.Kind == SeccompActionKind.UserNotif ? route is null or KernelRoute ? RuleRoute.Notify() : route : null);
    }

    /// <summary>The verdict of a rule.</summary>
    public static Verdict Of(Rule rule) => Of(rule.Action, rule.Route);

    /// <summary>The verdict of a reference-evaluator decision.</summary>
    public static Verdict Of(PolicyDecision decision) => Of(decision.Action, decision.Rule?.Route);

    /// <summary>
    /// How far the call gets: refused (ERRNO, TRAP, KILL_*: it never runs), deferred (USER_NOTIF, TRACE: someone else
    /// decides) or run (ALLOW, LOG).
    /// </summary>
    public Permissiveness Permissiveness => Action.Kind switch
    {
        SeccompActionKind.Allow or SeccompActionKind.Log => Permissiveness.Runs,
        SeccompActionKind.UserNotif or SeccompActionKind.Trace => Permissiveness.Deferred,
        _ => Permissiveness.Refused,
    };

    /// <inheritdoc/>
    public override string ToString() => Route is NotifyRoute or ProgramRoute ? Route.ToString()! : Action.ToString();
}

/// <summary>How far a call gets under a verdict; a higher value lets it get further.</summary>
internal enum Permissiveness
{
    /// <summary>ERRNO, TRAP, KILL_THREAD, KILL_PROCESS: the call does not run.</summary>
    Refused,

    /// <summary>USER_NOTIF, TRACE: a supervisor or tracer decides.</summary>
    Deferred,

    /// <summary>ALLOW, LOG: the call runs.</summary>
    Runs,
}

/// <summary>
/// A reduced, ordered decision diagram over the 384 bits of a call's six arguments whose leaves are
/// <see cref="Verdict"/>s (a multi-terminal BDD), with the two boolean leaves for conditions. It is canonical: two
/// functions are equal exactly when they are the same node, so comparing what two policies decide for a syscall is
/// exact, for every argument value, not a sample. Variables are ordered argument 0 first, each argument's bits from the
/// highest down, so a comparison with a constant is a chain of at most 64 nodes.
/// </summary>
/// <remarks>
/// Predicates are built as the reference evaluator reads them (<see cref="ArgPredicate.Evaluate"/>): reduced to the
/// width they are compared at on the ABI (<see cref="ArgPredicate.At"/>), bits above it not tested. Not thread-safe;
/// the size of one diagram is bounded by <see cref="MaxNodes"/>, past which an operation throws
/// <see cref="DiagramTooLargeException"/>.
/// </remarks>
internal sealed class DecisionDiagram
{
    /// <summary>Bits per argument.</summary>
    public const int Bits = 64;

    /// <summary>Nodes one diagram may hold.</summary>
    public const int MaxNodes = 2_000_000;

    /// <summary>The boolean leaf false.</summary>
    public const int False = -1;

    /// <summary>The boolean leaf true.</summary>
    public const int True = -2;

    private readonly List<(int Var, int Lo, int Hi)> _nodes = [];
    private readonly Dictionary<(int Var, int Lo, int Hi), int> _unique = [];
    private readonly List<Verdict> _leaves = [];
    private readonly Dictionary<Verdict, int> _leafIds = [];
    private readonly Dictionary<int, int> _not = [];
    private readonly Dictionary<(int, int, int), int> _ite = [];
    private readonly Dictionary<(Condition, bool), int> _conditions = [];

    /// <summary>The variable of bit <paramref name="bit"/> (0 = lowest) of argument <paramref name="arg"/>.</summary>
    public static int Variable(int arg, int bit) => arg * Bits + (Bits - 1 - bit);

    /// <summary>The argument and bit a variable stands for.</summary>
    public static (int Arg, int Bit) ArgumentBit(int variable) => (variable / Bits, Bits - 1 - variable % Bits);

    /// <summary>True for a leaf (a verdict or a boolean).</summary>
    public static bool IsLeaf(int node) => node < 0;

    /// <summary>Nodes made so far.</summary>
    public int Size => _nodes.Count;

    /// <summary>The leaf of a verdict.</summary>
    public int Leaf(Verdict verdict)
    {
        if (!_leafIds.TryGetValue(verdict, out int id))
        {
            id = -3 - _leaves.Count;
            _leaves.Add(verdict);
            _leafIds[verdict] = id;
        }
        return id;
    }

    /// <summary>The verdict of a verdict leaf.</summary>
    public Verdict VerdictOf(int leaf) => leaf <= -3 ? _leaves[-3 - leaf] : throw new ArgumentException("not a verdict leaf", nameof(leaf));

    /// <summary>The variable, low (bit 0) and high (bit 1) children of an inner node.</summary>
    public (int Var, int Lo, int Hi) this[int node] => _nodes[node];

    private int VarOf(int node) => node < 0 ? int.MaxValue : _nodes[node].Var;

    /// <summary>The node testing <paramref name="variable"/>, reduced (no node whose children are equal) and shared.</summary>
    public int Node(int variable, int lo, int hi)
    {
        if (lo == hi)
            return lo;
        if (_unique.TryGetValue((variable, lo, hi), out int id))
            return id;
        if (_nodes.Count >= MaxNodes)
            throw new DiagramTooLargeException();
        id = _nodes.Count;
        _nodes.Add((variable, lo, hi));
        _unique[(variable, lo, hi)] = id;
        return id;
    }

    /// <summary>The boolean negation of a condition diagram.</summary>
    public int Not(int a)
    {
        if (a == True)
            return False;
        if (a == False)
            return True;
        if (_not.TryGetValue(a, out int r))
            return r;
        var (v, lo, hi) = _nodes[a];
        r = Node(v, Not(lo), Not(hi));
        _not[a] = r;
        return r;
    }

    /// <summary>If <paramref name="condition"/> (a boolean diagram) then <paramref name="then"/> else <paramref name="otherwise"/>.</summary>
    public int Ite(int condition, int then, int otherwise)
    {
        if (condition == True || then == otherwise)
            return then;
        if (condition == False)
            return otherwise;
        if (then == True && otherwise == False)
            return condition;
        if (_ite.TryGetValue((condition, then, otherwise), out int r))
            return r;
        int top = Math.Min(VarOf(condition), Math.Min(VarOf(then), VarOf(otherwise)));
        var (c0, c1) = Cofactors(condition, top);
        var (t0, t1) = Cofactors(then, top);
        var (e0, e1) = Cofactors(otherwise, top);
        r = Node(top, Ite(c0, t0, e0), Ite(c1, t1, e1));
        _ite[(condition, then, otherwise)] = r;
        return r;
    }

    /// <summary>Both boolean diagrams hold.</summary>
    public int And(int a, int b) => Ite(a, b, False);

    /// <summary>Either boolean diagram holds.</summary>
    public int Or(int a, int b) => Ite(a, True, b);

    private (int Lo, int Hi) Cofactors(int node, int variable)
    {
        if (node < 0 || _nodes[node].Var != variable)
            return (node, node);
        var (_, lo, hi) = _nodes[node];
        return (lo, hi);
    }

    /// <summary>The argument's bits under <paramref name="mask"/> equal those of <paramref name="value"/>.</summary>
    public int MaskedEqual(int arg, ulong mask, ulong value)
    {
        int n = True;
        for (int bit = 0; bit < Bits; bit++)
        {
            ulong b = 1UL << bit;
            if ((mask & b) == 0)
                continue;
            n = (value & b) != 0 ? Node(Variable(arg, bit), False, n) : Node(Variable(arg, bit), n, False);
        }
        return n;
    }

    /// <summary>
    /// The argument's low <paramref name="width"/> bits, read unsigned, are below <paramref name="value"/> (or equal to it
    /// with <paramref name="orEqual"/>); <paramref name="greater"/> turns it into above (or equal).
    /// </summary>
    public int Compare(int arg, int width, ulong value, bool greater, bool orEqual)
    {
        // From the lowest bit up: n is the answer when the bits above decide nothing (are equal).
        int n = orEqual ? True : False;
        for (int bit = 0; bit < width; bit++)
        {
            bool one = (value >> bit & 1) != 0;
            int v = Variable(arg, bit);
            n = greater
                ? one ? Node(v, False, n) : Node(v, n, True)
                : one ? Node(v, True, n) : Node(v, n, False);
        }
        return n;
    }

    /// <summary>A predicate as it is compared on an ABI of that register width.</summary>
    public int Predicate(ArgPredicate predicate, bool is64Bit)
    {
        var p = predicate.At(is64Bit);
        ulong m = ArgPredicate.WidthMask(p.Width), v = p.Value & m;
        return p.Op switch
        {
            ComparisonOp.Eq => MaskedEqual(p.Arg, m, v),
            ComparisonOp.Ne => Not(MaskedEqual(p.Arg, m, v)),
            ComparisonOp.Lt => Compare(p.Arg, p.Width, v, greater: false, orEqual: false),
            ComparisonOp.Le => Compare(p.Arg, p.Width, v, greater: false, orEqual: true),
            ComparisonOp.Gt => Compare(p.Arg, p.Width, v, greater: true, orEqual: false),
            ComparisonOp.Ge => Compare(p.Arg, p.Width, v, greater: true, orEqual: true),
            _ => MaskedEqual(p.Arg, p.Mask & m, v & p.Mask),
        };
    }

    /// <summary>A condition as the reference evaluator reads it on an ABI of that register width.</summary>
    public int Condition(Condition condition, bool is64Bit)
    {
        if (_conditions.TryGetValue((condition, is64Bit), out int r))
            return r;
        r = condition switch
        {
            Policy.Condition.Predicate p => Predicate(p.Value, is64Bit),
            Policy.Condition.NotOf n => Not(Condition(n.Inner, is64Bit)),
            Policy.Condition.AllOf all => all.Conditions.Aggregate(True, (acc, c) => acc == False ? False : And(acc, Condition(c, is64Bit))),
            Policy.Condition.AnyOf any => any.Conditions.Aggregate(False, (acc, c) => acc == True ? True : Or(acc, Condition(c, is64Bit))),
            _ => throw new ArgumentException($"unknown condition {condition.GetType().Name}", nameof(condition)),
        };
        _conditions[(condition, is64Bit)] = r;
        return r;
    }

    /// <summary>
    /// What an ordered rule list decides on an ABI: the first rule whose condition holds, else <paramref name="otherwise"/>
    /// (a verdict leaf, or any diagram).
    /// </summary>
    public int Rules(IReadOnlyList<Rule> rules, bool is64Bit, int otherwise)
    {
        int acc = otherwise;
        for (int i = rules.Count - 1; i >= 0; i--)
            acc = Ite(Condition(rules[i].Condition, is64Bit), Leaf(Verdict.Of(rules[i])), acc);
        return acc;
    }

    /// <summary>
    /// Every path from <paramref name="node"/> to a verdict leaf other than <paramref name="skip"/>: per argument the bits
    /// the path tests (mask) and their values, and the verdict. The paths are disjoint and cover every such call. At most
    /// <paramref name="limit"/> paths; false when there are more.
    /// </summary>
    /// <remarks>With <paramref name="boolean"/>, the paths to <see cref="True"/> of a condition diagram (verdict: default).</remarks>
    public bool TryPaths(int node, int skip, int limit, out List<(ulong[] Masks, ulong[] Values, Verdict Verdict)> paths, bool boolean = false)
    {
        paths = [];
        var masks = new ulong[6];
        var values = new ulong[6];
        return Walk(node, skip, limit, masks, values, paths, boolean);
    }

    private bool Walk(int node, int skip, int limit, ulong[] masks, ulong[] values, List<(ulong[], ulong[], Verdict)> paths, bool boolean)
    {
        if (node < 0)
        {
            if (node == skip || (boolean ? node != True : node is False or True))
                return true;
            if (paths.Count >= limit)
                return false;
            paths.Add(((ulong[])masks.Clone(), (ulong[])values.Clone(), boolean ? default : VerdictOf(node)));
            return true;
        }
        var (v, lo, hi) = _nodes[node];
        var (arg, bit) = ArgumentBit(v);
        ulong b = 1UL << bit;
        masks[arg] |= b;
        bool ok = Walk(lo, skip, limit, masks, values, paths, boolean);
        values[arg] |= b;
        ok = ok && Walk(hi, skip, limit, masks, values, paths, boolean);
        values[arg] &= ~b;
        masks[arg] &= ~b;
        return ok;
    }

    /// <summary>
    /// Compares two verdict diagrams: the worst difference between what <paramref name="actual"/> and
    /// <paramref name="expected"/> decide for any argument values (none, a stricter actual verdict, or a looser one), with
    /// the arguments of a call that shows it.
    /// </summary>
    public (DifferenceKind? Kind, ulong[] Args, Verdict Expected, Verdict Actual) Worst(int expected, int actual)
    {
        var memo = new Dictionary<(int, int), DifferenceKind?>();
        var kind = WorstKind(expected, actual, memo);
        var args = new ulong[6];
        if (kind is null)
            return (null, args, default, default);
        // Walk down to a pair of leaves with that difference.
        int e = expected, a = actual;
        while (e >= 0 || a >= 0)
        {
            int top = Math.Min(VarOf(e), VarOf(a));
            var (e0, e1) = Cofactors(e, top);
            var (a0, a1) = Cofactors(a, top);
            if (WorstKind(e1, a1, memo) == kind)
            {
                var (arg, bit) = ArgumentBit(top);
                args[arg] |= 1UL << bit;
                (e, a) = (e1, a1);
            }
            else
                (e, a) = (e0, a0);
        }
        return (kind, args, VerdictOf(e), VerdictOf(a));
    }

    private DifferenceKind? WorstKind(int e, int a, Dictionary<(int, int), DifferenceKind?> memo)
    {
        if (e == a)
            return null;
        if (e < 0 && a < 0)
            return Classify(VerdictOf(e), VerdictOf(a));
        if (memo.TryGetValue((e, a), out var known))
            return known;
        int top = Math.Min(VarOf(e), VarOf(a));
        var (e0, e1) = Cofactors(e, top);
        var (a0, a1) = Cofactors(a, top);
        var lo = WorstKind(e0, a0, memo);
        var result = lo == DifferenceKind.Looser ? lo : Max(lo, WorstKind(e1, a1, memo));
        memo[(e, a)] = result;
        return result;
    }

    private static DifferenceKind? Max(DifferenceKind? x, DifferenceKind? y) => x is null ? y : y is null ? x : (DifferenceKind)Math.Max((int)x, (int)y);

    /// <summary>
    /// Null when the verdicts are equal; <see cref="DifferenceKind.Stricter"/> when <paramref name="actual"/> lets the call
    /// get less far, or both refuse it (another error, another kill); else <see cref="DifferenceKind.Looser"/> (a
    /// deferred verdict with another handler or data is looser: someone else would decide).
    /// </summary>
    public static DifferenceKind? Classify(Verdict expected, Verdict actual)
    {
        if (expected == actual)
            return null;
        var e = expected.Permissiveness;
        var a = actual.Permissiveness;
        return a < e || (a == Permissiveness.Refused && e == Permissiveness.Refused) ? DifferenceKind.Stricter : DifferenceKind.Looser;
    }
}

/// <summary>How a verdict differs from the one expected.</summary>
internal enum DifferenceKind
{
    /// <summary>The call gets less far, or is refused in another way: never more permissive.</summary>
    Stricter,

    /// <summary>The call gets further, or is deferred to someone else.</summary>
    Looser,
}

/// <summary>A decision diagram grew past <see cref="DecisionDiagram.MaxNodes"/>.</summary>
internal sealed class DiagramTooLargeException() : SyscageException($"the conditions make more than {DecisionDiagram.MaxNodes:N0} decision nodes");
