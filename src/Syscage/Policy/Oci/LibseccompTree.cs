using Syscage.Abi;

namespace Syscage.Policy.Oci;

/// <summary>
/// One <c>seccomp_rule_add</c> as runc makes it for a syscall on one architecture: the comparisons (at most one per
/// argument, as libseccomp requires; already reduced to the width the kernel reads, <see cref="ArgPredicate.At"/>),
/// the action, and where the profile says it.
/// </summary>
/// <param name="Order">The rule's position among the syscall's rules (profile order).</param>
/// <param name="Comparisons">The comparisons, ANDed.</param>
/// <param name="Action">The action.</param>
/// <param name="Source">The entry.</param>
internal sealed record RuncRule(int Order, IReadOnlyList<ArgPredicate> Comparisons, SeccompAction Action, PolicySource? Source)
{
    /// <summary>The comparisons libseccomp keeps: a MASKED_EQ whose mask has no bit left checks nothing and is dropped.</summary>
    public IReadOnlyList<ArgPredicate> Checks { get; } =
        [.. Comparisons.Where(c => c.Op != ComparisonOp.MaskedEq || c.Mask != 0).OrderBy(c => c.Arg)];

    /// <summary>The rule's condition: its comparisons ANDed (<see cref="Condition.True"/> when none is left).</summary>
    public Condition Condition => Checks.Count == 0 ? Condition.True
        : Checks.Count == 1 ? Condition.Of(Checks[0]) : Condition.All(Checks.Select(Condition.Of));
}

/// <summary>What happened to a rule added to a <see cref="LibseccompTree"/>.</summary>
internal enum TreeAddResult
{
    /// <summary>The rule is in the tree (possibly merged with others).</summary>
    Added,
    /// <summary>An earlier rule without argument checks decides every call; libseccomp drops this one.</summary>
    ShadowedByUnconditional,
    /// <summary>libseccomp takes the rule to be covered by a shorter one already in the tree and drops it (<c>_db_tree_prune</c>).</summary>
    Redundant,
    /// <summary><c>seccomp_rule_add</c> fails with <c>-EEXIST</c>: the rule's test repeats one of an earlier rule with another action.</summary>
    Refused,
    /// <summary><c>seccomp_rule_add</c> never returns: the tree's lists have become circular.</summary>
    Loops,
}

/// <summary>
/// The decision tree libseccomp 2.5 (<c>src/db.c</c>) builds from the rules of one syscall on one architecture, and
/// the order in which the filter it generates (<c>src/gen_bpf.c</c>) walks it: a model of what runc's filter decides
/// when several rules of a syscall match a call (docs/libseccomp-differences.md, "Overlapping entries").
/// </summary>
/// <remarks>
/// <para>The facts modelled, from libseccomp 2.5.4:</para>
/// <list type="bullet">
/// <item>A rule's comparisons are taken in argument order (the API stores them by argument number). On a 64-bit ABI
/// each becomes two or three tests on 32-bit halves (<c>_db_rule_gen_64</c>): GT/GE/LT/LE test <c>hi &gt; Rh</c>,
/// then <c>hi == Rh</c>, then the low half (<c>&gt;</c>, or <c>&gt;=</c> for GE and LT); EQ/NE/MASKED_EQ test the high
/// half, then the low half. LT, LE and NE match on the false side. On x86 and x32 (<c>ARCH_SIZE_32</c>) each is one
/// test, NE/LT/LE rewritten to EQ/GE/GT matching on the false side (<c>_db_rule_gen_32</c>). The tests of the next
/// comparison hang from every accepting exit of the previous one — one node, shared by those exits.</item>
/// <item>A level of the tree is a list of tests kept in descending order (<c>_db_chain_lt</c>): higher argument first
/// (the high half before the low half), then operator class (EQ/NE/MASKED_EQ, then LT/LE, then GT/GE), then datum —
/// larger first, but smaller first for LT/LE; equal keys keep the order they were added in.</item>
/// <item>A new rule is merged into the tree top-down (<c>_db_tree_add</c>): a test equal to one on the level (same
/// argument half, node operator, datum and mask) is shared; otherwise it is inserted before the first smaller test,
/// walking the level from the test the parent points at. Where the new rule ends in an action on a branch that goes on
/// in the tree, every action below must be the same or the rule is refused (<c>-EEXIST</c>). Two different actions on
/// the same branch of a shared test: refused if either test ends there; otherwise the existing action stays, except
/// that on a high-half test the true action of the rule with the larger 64-bit datum wins (GT/GE). Where the existing
/// tree ends in an action and the new rule goes on, the new rule is dropped from that point on — and libseccomp also
/// skips its other branch there.</item>
/// <item>Since a shared test belongs to one list but may be pointed at from several branches, inserting into a list
/// reached from one branch changes what every branch pointing into that list reaches (<c>gen_bpf</c> walks a level from
/// its first test); this model keeps those links as libseccomp does.</item>
/// <item>Before the merge, <c>_db_tree_prune</c> removes the tests a shorter new rule with the same action covers
/// (<c>_db_tree_remove</c>, also removing tests left with neither action nor branch), or drops the new rule when a
/// shorter rule of the tree covers it; its decisions follow libseccomp's flags and reference counts (a removed test is
/// freed only when nothing refers to it any more), so its mistakes are modelled too.</item>
/// <item>A rule without checks replaces the tree; after it, every rule of the syscall is dropped (<c>db_rule_add</c>).
/// A refused rule leaves the tree as it was (libseccomp's transaction).</item>
/// <item>The filter walks a level test by test; a branch without action and the end of a sub-level fall through to
/// the next test of the enclosing level; the end of the top level is the default action.</item>
/// </list>
/// <para>Checked against libseccomp 2.5.4 itself by <c>LibseccompTreeTests</c> (its rule database read back from its
/// pseudo filter code). Written from those facts, not from libseccomp's code.</para>
/// </remarks>
internal sealed class LibseccompTree
{
    /// <summary>Steps (test visits) one tree may take to build and walk; past it the lists are taken to be circular.</summary>
    internal const int StepBudget = 500_000;

    private readonly bool _halves;
    private Node? _top;
    private Node? _chain;
    private int _removals;
    private RuncRule? _unconditional;
    private int _steps;

    /// <summary>Starts the tree of one syscall.</summary>
    /// <param name="halves">True on a 64-bit ABI (tests on 32-bit halves); false on x86 and x32 (one test per comparison).</param>
    public LibseccompTree(bool halves) => _halves = halves;

    /// <summary>The rules that reached the tree, in the order added.</summary>
    public List<RuncRule> Rules { get; } = [];

    /// <summary>The rule without checks that decides every call, if one was added.</summary>
    public RuncRule? Unconditional => _unconditional;

    /// <summary>Adds a rule as <c>seccomp_rule_add</c> does.</summary>
    public TreeAddResult Add(RuncRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        if (_unconditional is not null)
            return TreeAddResult.ShadowedByUnconditional;
        if (rule.Checks.Count == 0)
        {
            _unconditional = rule;
            _top = null;
            Rules.Add(rule);
            return TreeAddResult.Added;
        }
        var chain = Generate(rule);
        if (_top is null)
        {
            _top = chain;
            Rules.Add(rule);
            return TreeAddResult.Added;
        }
        // A transaction: on refusal the tree is as before.
        var saved = Clone(_top);
        try
        {
            _steps = 0;
            _chain = chain;
            // First the tests the new rule makes redundant go, or the new rule if the tree already covers it.
            var flags = PruneFlags.None;
            int pruned = Prune(_top, chain, ref flags, rule.Action);
            if (pruned == 0 && (flags & PruneFlags.Redundant) == PruneFlags.Redundant)
                return TreeAddResult.Redundant;
            if (_top is null)
            {
                _top = chain;
                Rules.Add(rule);
                return TreeAddResult.Added;
            }
            var top = _top;
            bool added = Insert(ref top, chain);
            _top = top;
            if (added)
            {
                Rules.Add(rule);
                return TreeAddResult.Added;
            }
            _top = saved;
            return TreeAddResult.Refused;
        }
        catch (LoopException)
        {
            _top = saved;
            return TreeAddResult.Loops;
        }
        finally
        {
            _chain = null;
        }
    }

    // ---------------------------------------------------------------- the nodes

    private enum Half { High, Low, Whole }

    /// <summary>The test a node makes: <c>(half &amp; mask) OP datum</c>.</summary>
    private enum TestOp { Eq, Gt, Ge, MaskedEq }

    /// <summary>An action at the end of a branch, with the rules that put it there (for the guard, see <see cref="Paths"/>).</summary>
    private sealed class Leaf(SeccompAction action, IEnumerable<int> owners)
    {
        public SeccompAction Action { get; } = action;
        public SortedSet<int> Owners { get; } = [.. owners];
    }

    private sealed class Node
    {
        public required int Arg;
        public required Half Half;
        public required TestOp Op;
        /// <summary>The comparison the test comes from (its operator class orders the level).</summary>
        public required ComparisonOp Original;
        public required ulong Datum;
        public required ulong Mask;
        /// <summary>The comparison's whole datum (libseccomp's <c>datum_full</c>).</summary>
        public required ulong Full;
        /// <summary>The width the comparison is made at (the argument's).</summary>
        public required int Width;
        public Node? Prev, Next;
        public Node? NextTrue, NextFalse;
        public Leaf? LeafTrue, LeafFalse;
        /// <summary>libseccomp's <c>act_t</c> where no true action is set: 0, or what its LT/LE adjustment wrote there.</summary>
        public uint StaleTrue;
        /// <summary>References libseccomp still counts for level links a removal undid without dropping them.</summary>
        public int PhantomRefs;

        public uint RawTrue => LeafTrue?.Action.Value ?? StaleTrue;
        public uint RawFalse => LeafFalse?.Action.Value ?? 0;

        public Node Copy() => new()
        {
            Arg = Arg, Half = Half, Op = Op, Original = Original, Datum = Datum, Mask = Mask, Full = Full, Width = Width,
            StaleTrue = StaleTrue, PhantomRefs = PhantomRefs,
        };
    }

    private sealed class LoopException : Exception;

    private void Step()
    {
        if (++_steps > StepBudget)
            throw new LoopException();
    }

    private static int ArgRank(Node n) => (n.Arg << 1) + (n.Half == Half.High ? 1 : 0);

    private static int OpRank(ComparisonOp op) => op switch
    {
        ComparisonOp.Eq or ComparisonOp.Ne or ComparisonOp.MaskedEq => 3,
        ComparisonOp.Lt or ComparisonOp.Le => 2,
        _ => 1,
    };

    /// <summary><c>_db_chain_lt</c>: a sorts after b on a level.</summary>
    private static bool Less(Node a, Node b)
    {
        int aa = ArgRank(a), ba = ArgRank(b);
        if (aa != ba)
            return aa < ba;
        int ao = OpRank(a.Original), bo = OpRank(b.Original);
        if (ao != bo)
            return ao < bo;
        return a.Original is ComparisonOp.Lt or ComparisonOp.Le ? a.Datum > b.Datum : a.Datum < b.Datum;
    }

    /// <summary><c>_db_chain_eq</c>: one test.</summary>
    private static bool Same(Node a, Node b) =>
        ArgRank(a) == ArgRank(b) && a.Op == b.Op && a.Datum == b.Datum && a.Mask == b.Mask;

    private static bool IsLeaf(Node n) => n.NextTrue is null && n.NextFalse is null;

    // ---------------------------------------------------------------- a rule's chain

    /// <summary>The tests of a rule, linked as <c>_db_rule_gen_64</c>/<c>_32</c> link them; returns the first.</summary>
    private Node Generate(RuncRule rule)
    {
        Node? head = null;
        var exits = new List<(Node Node, bool Side)>();
        foreach (var c in rule.Checks)
        {
            var (entry, next) = _halves ? Halves(c) : Whole(c);
            if (head is null)
                head = entry;
            foreach (var (node, side) in exits)
            {
                if (side)
                    node.NextTrue = entry;
                else
                    node.NextFalse = entry;
            }
            exits = next;
        }
        foreach (var (node, side) in exits)
        {
            var leaf = new Leaf(rule.Action, [rule.Order]);
            if (side)
                node.LeafTrue = leaf;
            else
                node.LeafFalse = leaf;
        }
        return head!;
    }

    private static (Node Entry, List<(Node, bool)> Exits) Halves(ArgPredicate c)
    {
        const ulong Low32 = uint.MaxValue;
        ulong value = c.Value, mask = c.Op == ComparisonOp.MaskedEq ? c.Mask : ulong.MaxValue;
        Node Make(Half half, TestOp op, ulong datum, ulong m) => new()
        {
            Arg = c.Arg, Half = half, Op = op, Original = c.Op, Datum = datum & m, Mask = m, Full = value, Width = c.Width,
        };
        switch (c.Op)
        {
            case ComparisonOp.Gt or ComparisonOp.Ge or ComparisonOp.Lt or ComparisonOp.Le:
            {
                var c0 = Make(Half.High, TestOp.Gt, value >> 32, Low32);
                var c1 = Make(Half.High, TestOp.Eq, value >> 32, Low32);
                var c2 = Make(Half.Low, c.Op is ComparisonOp.Gt or ComparisonOp.Le ? TestOp.Gt : TestOp.Ge, value & Low32, Low32);
                c0.NextFalse = c1;
                c1.NextTrue = c2;
                return c.Op is ComparisonOp.Gt or ComparisonOp.Ge ? (c0, [(c0, true), (c2, true)]) : (c0, [(c1, false), (c2, false)]);
            }
            default:
            {
                var op = c.Op == ComparisonOp.MaskedEq ? TestOp.MaskedEq : TestOp.Eq;
                var c0 = Make(Half.High, op, value >> 32, mask >> 32);
                var c1 = Make(Half.Low, op, value & Low32, mask & Low32);
                c0.NextTrue = c1;
                return c.Op == ComparisonOp.Ne ? (c0, [(c0, false), (c1, false)]) : (c0, [(c1, true)]);
            }
        }
    }

    private static (Node Entry, List<(Node, bool)> Exits) Whole(ArgPredicate c)
    {
        var (op, side) = c.Op switch
        {
            ComparisonOp.Ne => (TestOp.Eq, false),
            ComparisonOp.Lt => (TestOp.Ge, false),
            ComparisonOp.Le => (TestOp.Gt, false),
            ComparisonOp.Eq => (TestOp.Eq, true),
            ComparisonOp.Gt => (TestOp.Gt, true),
            ComparisonOp.Ge => (TestOp.Ge, true),
            _ => (TestOp.MaskedEq, true),
        };
        ulong mask = c.Op == ComparisonOp.MaskedEq ? c.Mask : ulong.MaxValue;
        var node = new Node
        {
            Arg = c.Arg, Half = Half.Whole, Op = op, Original = c.Op, Datum = c.Value & mask, Mask = mask, Full = c.Value, Width = c.Width,
        };
        return (node, [(node, side)]);
    }

    // ---------------------------------------------------------------- merging

    /// <summary>
    /// Merges the chain starting at <paramref name="n"/> into the list <paramref name="head"/> points into, walking
    /// from there (<c>_db_tree_add</c>). False when the rule is refused.
    /// </summary>
    private bool Insert(ref Node head, Node n)
    {
        var x = head;
        while (true)
        {
            Step();
            if (Same(x, n))
                return Merge(x, n);
            if (!Less(x, n))
            {
                if (x.Next is null)
                {
                    // Appended: the new test keeps whatever follows it already (a test from another list keeps its link).
                    n.Prev = x;
                    x.Next = n;
                    return true;
                }
                x = x.Next;
                continue;
            }
            // Inserted before x; a test already on another list keeps its link back there when x is first.
            if (x.Prev is not null)
            {
                x.Prev.Next = n;
                n.Prev = x.Prev;
            }
            x.Prev = n;
            n.Next = x;
            if (ReferenceEquals(head, x))
                head = n;
            return true;
        }
    }

    private bool Merge(Node x, Node n)
    {
        // Actions first.
        if (!MergeAction(x, n, true) || !MergeAction(x, n, false))
            return false;
        // Then what follows.
        if (n.NextTrue is { } nt)
        {
            if (x.NextTrue is not null)
            {
                var xt = x.NextTrue;
                if (!Insert(ref xt, nt))
                    return false;
                x.NextTrue = xt;
            }
            else if (x.LeafTrue is null)
                x.NextTrue = nt;
            else
                return true;   // the existing rule ends here: the new one is dropped — and so is its false branch
        }
        if (n.NextFalse is { } nf)
        {
            if (x.NextFalse is not null)
            {
                var xf = x.NextFalse;
                if (!Insert(ref xf, nf))
                    return false;
                x.NextFalse = xf;
            }
            else if (x.LeafFalse is null)
                x.NextFalse = nf;
        }
        return true;
    }

    private bool MergeAction(Node x, Node n, bool side)
    {
        var nl = side ? n.LeafTrue : n.LeafFalse;
        if (nl is null)
            return true;
        var xl = side ? x.LeafTrue : x.LeafFalse;
        if (xl is null)
        {
            // The new rule ends where the tree goes on: everything below must have its action.
            if (!AllActionsAre(side ? x.NextTrue : x.NextFalse, nl.Action))
                return false;
            if (side)
                (x.NextTrue, x.LeafTrue) = (null, nl);
            else
                (x.NextFalse, x.LeafFalse) = (null, nl);
            return true;
        }
        if (xl.Action == nl.Action)
        {
            xl.Owners.UnionWith(nl.Owners);
            return true;
        }
        // libseccomp adjusts the true action of a high-half test by the 64-bit datum (GT/GE); its false-side
        // counterpart (LT/LE) writes the true action's value instead of the false one: no branch takes it, but
        // _db_tree_prune compares it.
        if (n.Half == Half.High && (side ? n.Full > x.Full : n.Full < x.Full))
        {
            if (side)
                x.LeafTrue = nl;
            else if (x.LeafTrue is null)
                x.StaleTrue = n.RawTrue;
        }
        return !IsLeaf(x) && !IsLeaf(n);
    }


    // ---------------------------------------------------------------- pruning

    [Flags]
    private enum PruneFlags
    {
        None = 0,
        Match = 0x1,
        MatchOnce = 0x2,
        XFinished = 0x10,
        NFinished = 0x20,
        XPrefix = 0x100,
        NPrefix = 0x200,
        MatchSet = Match | MatchOnce,
        Redundant = Match | XFinished | NPrefix,
    }

    /// <summary>
    /// <c>_db_tree_prune</c>: walks the tree against the new chain <paramref name="n"/>, removes tests of the tree a
    /// shorter new rule with the same action covers, and says in <paramref name="state"/> whether the tree already
    /// covers the new rule (<see cref="PruneFlags.Redundant"/>). Returns what libseccomp counts as freed.
    /// </summary>
    private int Prune(Node? existing, Node? n, ref PruneFlags state, SeccompAction action)
    {
        int count = 0;
        var fresh = state;
        var x = existing;
        if (n is null || x is null)
            goto Return;
        if ((state & PruneFlags.MatchSet) == PruneFlags.MatchOnce)
            goto Return;
        x = First(x);
        do
        {
            Step();
            var following = x.Next;
            if (Same(x, n))
            {
                fresh |= PruneFlags.MatchSet;
                if (IsLeaf(n))
                    fresh |= PruneFlags.NFinished;
                if (IsLeaf(x))
                    fresh |= PruneFlags.XFinished;
                if ((x.LeafTrue is not null || x.NextTrue is not null) && n.LeafTrue is null && n.NextTrue is null)
                    goto Return;
                if ((x.LeafFalse is not null || x.NextFalse is not null) && n.LeafFalse is null && n.NextFalse is null)
                    goto Return;
                if ((fresh & (PruneFlags.NFinished | PruneFlags.XFinished)) == (PruneFlags.NFinished | PruneFlags.XFinished) &&
                    ((n.LeafTrue is null) != (x.LeafTrue is null) || n.RawTrue != x.RawTrue ||
                     (n.LeafFalse is null) != (x.LeafFalse is null) || n.RawFalse != x.RawFalse))
                    goto Return;
                foreach (bool side in (bool[])[true, false])
                {
                    var nn = side ? n.NextTrue : n.NextFalse;
                    if (nn is null)
                        continue;
                    var sub = state | PruneFlags.MatchSet;
                    int removals = _removals;
                    x.PhantomRefs++;   // libseccomp holds the node while it looks below it
                    count += Prune(side ? x.NextTrue : x.NextFalse, nn, ref sub, action);
                    x.PhantomRefs--;
                    if ((sub & PruneFlags.Match) != 0)
                        fresh |= sub;
                    if (Released(x, removals))
                    {
                        count++;
                        goto Next;
                    }
                }
                bool same = AllActionsAre(x, action);
                if (same && (fresh & (PruneFlags.Match | PruneFlags.NFinished | PruneFlags.XPrefix)) == (PruneFlags.Match | PruneFlags.NFinished | PruneFlags.XPrefix))
                {
                    // The new rule is shorter: the test goes.
                    count += Remove(ref _top, x);
                    if (_top is null)
                        goto Return;
                }
                else if (same && (fresh & (PruneFlags.Match | PruneFlags.XFinished | PruneFlags.NPrefix)) == (PruneFlags.Match | PruneFlags.XFinished | PruneFlags.NPrefix))
                    goto Return;   // the tree is shorter
            }
            else
            {
                bool existingFirst = Less(x, n);
                if ((state & (existingFirst ? PruneFlags.NPrefix : PruneFlags.XPrefix)) != 0)
                    goto Return;
                foreach (bool side in (bool[])[true, false])
                {
                    var below = existingFirst ? (side ? x.NextTrue : x.NextFalse) : (side ? n.NextTrue : n.NextFalse);
                    if (below is null)
                        continue;
                    var sub = (state & ~PruneFlags.Match) | (existingFirst ? PruneFlags.XPrefix : PruneFlags.NPrefix);
                    int removals = _removals;
                    x.PhantomRefs++;
                    count += existingFirst ? Prune(below, n, ref sub, action) : Prune(x, below, ref sub, action);
                    x.PhantomRefs--;
                    if ((sub & PruneFlags.Match) != 0)
                    {
                        fresh |= sub;
                        goto Return;
                    }
                    if (Released(x, removals))
                    {
                        count++;
                        goto Next;
                    }
                }
            }
        Next:
            x = following;
        }
        while (x is not null);
        fresh &= ~PruneFlags.Match;
    Return:
        if ((fresh & PruneFlags.Match) != 0)
            state |= fresh;
        else
            state &= ~PruneFlags.Match;
        return count;
    }

    /// <summary>
    /// <c>_db_tree_remove</c>: finds <paramref name="target"/> below <paramref name="slot"/> and unlinks it from its list,
    /// removing on the way the tests left with neither action nor branch. Returns what libseccomp counts as freed.
    /// </summary>
    private int Remove(ref Node? slot, Node target)
    {
        if (slot is null)
            return 0;
        int count = 0;
        var c = First(slot);
        do
        {
            Step();
            if (ReferenceEquals(c, target))
                return count + Unlink(ref slot, c);
            count += Remove(ref c.NextTrue, target);
            count += Remove(ref c.NextFalse, target);
            if (IsLeaf(c) && c.LeafTrue is null && c.LeafFalse is null)
                return count + Unlink(ref slot, c);
            c = c.Next;
        }
        while (c is not null && count == 0);
        return count;
    }

    private int Unlink(ref Node? slot, Node c)
    {
        if (ReferenceEquals(c, slot))
            slot = c.Prev ?? c.Next;
        // libseccomp relinks the neighbours but keeps counting their references to the removed test.
        c.PhantomRefs += (c.Prev is null ? 0 : 1) + (c.Next is null ? 0 : 1);
        if (c.Prev is not null)
            c.Prev.Next = c.Next;
        if (c.Next is not null)
            c.Next.Prev = c.Prev;
        (c.Prev, c.Next) = (null, null);
        _removals++;
        return References(c) == 1 ? 1 : 0;
    }

    /// <summary>
    /// True when libseccomp would have freed <paramref name="x"/> on dropping its own hold: nothing else refers to it
    /// (which only a removal since <paramref name="removals"/> can have brought about).
    /// </summary>
    private bool Released(Node x, int removals) => _removals != removals && References(x) == 0;

    /// <summary>libseccomp's reference count of <paramref name="x"/>: the branches and links that point at it, plus those it still counts.</summary>
    private int References(Node x)
    {
        int refs = x.PhantomRefs + (ReferenceEquals(_top, x) ? 1 : 0) + (ReferenceEquals(_chain, x) ? 1 : 0);
        var seen = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<Node>();
        foreach (var root in (Node?[])[_top, _chain])
            if (root is not null && seen.Add(root))
                stack.Push(root);
        while (stack.Count > 0)
        {
            Step();
            var n = stack.Pop();
            foreach (var link in (Node?[])[n.Prev, n.Next, n.NextTrue, n.NextFalse])
            {
                if (link is null)
                    continue;
                if (ReferenceEquals(link, x))
                    refs++;
                if (seen.Add(link))
                    stack.Push(link);
            }
        }
        return refs;
    }

    /// <summary><c>_db_tree_act_check</c>: every action in the lists below <paramref name="node"/> is <paramref name="action"/>.</summary>
    private bool AllActionsAre(Node? node, SeccompAction action)
    {
        if (node is null)
            return true;
        for (var c = First(node); c is not null; c = c.Next)
        {
            Step();
            if (c.LeafTrue is { } t && t.Action != action || c.LeafFalse is { } f && f.Action != action)
                return false;
            if (!AllActionsAre(c.NextTrue, action) || !AllActionsAre(c.NextFalse, action))
                return false;
        }
        return true;
    }

    private Node First(Node node)
    {
        while (node.Prev is not null)
        {
            Step();
            node = node.Prev;
        }
        return node;
    }

    private static Node Clone(Node top)
    {
        var map = new Dictionary<Node, Node>(ReferenceEqualityComparer.Instance);
        var leaves = new Dictionary<Leaf, Leaf>(ReferenceEqualityComparer.Instance);
        var pending = new Stack<Node>();
        Node Get(Node n)
        {
            if (!map.TryGetValue(n, out var c))
            {
                map[n] = c = n.Copy();
                pending.Push(n);
            }
            return c;
        }
        Leaf? CopyLeaf(Leaf? l)
        {
            if (l is null)
                return null;
            if (!leaves.TryGetValue(l, out var c))
                leaves[l] = c = new Leaf(l.Action, l.Owners);
            return c;
        }
        var root = Get(top);
        while (pending.Count > 0)
        {
            var n = pending.Pop();
            var c = map[n];
            c.Prev = n.Prev is null ? null : Get(n.Prev);
            c.Next = n.Next is null ? null : Get(n.Next);
            c.NextTrue = n.NextTrue is null ? null : Get(n.NextTrue);
            c.NextFalse = n.NextFalse is null ? null : Get(n.NextFalse);
            c.LeafTrue = CopyLeaf(n.LeafTrue);
            c.LeafFalse = CopyLeaf(n.LeafFalse);
        }
        return root;
    }

    // ---------------------------------------------------------------- the filter's walk

    /// <summary>A path from the top of the tree to an action: its tests, the action, and the rules that put it there.</summary>
    internal sealed record DecisionPath(IReadOnlyList<TestStep> Tests, SeccompAction Action, IReadOnlyList<int> Owners);

    /// <summary>A test made on a path: the predicate (as the IR says it), and the outcome taken; null when always true.</summary>
    internal readonly record struct TestStep(Condition Test, bool Outcome);

    /// <summary>
    /// The paths to an action, in the order the filter tries them: the filter's verdict for a call is the action of the
    /// first path whose tests all hold (a test off the path does not matter: a branch that does not decide falls through).
    /// </summary>
    /// <param name="maxPaths">The most paths to list; past it an <see cref="InvalidOperationException"/> is thrown.</param>
    /// <exception cref="InvalidOperationException">More paths than <paramref name="maxPaths"/>, or the lists are circular.</exception>
    public IReadOnlyList<DecisionPath> Paths(int maxPaths)
    {
        var paths = new List<DecisionPath>();
        if (_unconditional is not null)
        {
            paths.Add(new DecisionPath([], _unconditional.Action, [_unconditional.Order]));
            return paths;
        }
        if (_top is null)
            return paths;
        _steps = 0;
        var tests = new List<TestStep>();
        try
        {
            Walk(_top, tests, paths, maxPaths);
        }
        catch (LoopException)
        {
            throw new InvalidOperationException("libseccomp's lists for them become circular: runc would hang");
        }
        return paths;
    }

    /// <summary>
    /// What libseccomp's filter decides for a call by this tree alone: the action of the first path whose tests hold,
    /// null when none does (the default action) — libseccomp's answer, right or wrong.
    /// </summary>
    public SeccompAction? Decide(ReadOnlySpan<ulong> args)
    {
        foreach (var path in Paths(LibseccompOrder.MaxPaths))
        {
            bool holds = true;
            foreach (var t in path.Tests)
                if (t.Test.Evaluate(args, true) != t.Outcome)
                {
                    holds = false;
                    break;
                }
            if (holds)
                return path.Action;
        }
        return null;
    }

    private void Walk(Node entry, List<TestStep> tests, List<DecisionPath> paths, int maxPaths)
    {
        for (var node = First(entry); node is not null; node = node.Next)
        {
            Step();
            foreach (bool outcome in (bool[])[true, false])
            {
                var next = outcome ? node.NextTrue : node.NextFalse;
                var leaf = outcome ? node.LeafTrue : node.LeafFalse;
                if (next is null && leaf is null)
                    continue;
                tests.Add(new TestStep(Predicate(node), outcome));
                if (next is not null)
                    Walk(next, tests, paths, maxPaths);
                else
                {
                    if (paths.Count >= maxPaths)
                        throw new InvalidOperationException($"libseccomp's tree for them has more than {maxPaths} paths");
                    paths.Add(new DecisionPath([.. tests], leaf!.Action, [.. leaf.Owners]));
                }
                tests.RemoveAt(tests.Count - 1);
            }
        }
    }

    /// <summary>
    /// The test as an IR condition on the argument (reduced to its width, as the kernel reads it): the low half is the
    /// low 32 bits; a test on the high half is a 64-bit comparison (<c>hi &gt; d</c> is <c>arg &gt;= (d + 1) &lt;&lt; 32</c>).
    /// </summary>
    private static Condition Predicate(Node n)
    {
        int width = n.Width;
        switch (n.Half)
        {
            case Half.Whole:
                return Condition.Of(n.Op switch
                {
                    TestOp.Eq => new ArgPredicate(n.Arg, ComparisonOp.Eq, n.Datum, Width: width),
                    TestOp.Gt => new ArgPredicate(n.Arg, ComparisonOp.Gt, n.Datum, Width: width),
                    TestOp.Ge => new ArgPredicate(n.Arg, ComparisonOp.Ge, n.Datum, Width: width),
                    _ => new ArgPredicate(n.Arg, ComparisonOp.MaskedEq, n.Datum, n.Mask, width),
                });
            case Half.Low:
            {
                int w = Math.Min(width, ArgPredicate.RegisterWidth32);
                ulong m = ArgPredicate.WidthMask(w);
                return Condition.Of(n.Op switch
                {
                    TestOp.Eq => new ArgPredicate(n.Arg, ComparisonOp.Eq, n.Datum & m, Width: w),
                    TestOp.Gt => new ArgPredicate(n.Arg, ComparisonOp.Gt, n.Datum & m, Width: w),
                    TestOp.Ge => new ArgPredicate(n.Arg, ComparisonOp.Ge, n.Datum & m, Width: w),
                    _ => new ArgPredicate(n.Arg, ComparisonOp.MaskedEq, n.Datum & m, n.Mask & m, w),
                });
            }
            default:
            {
                // The high half of an argument read on 32 bits or fewer is 0.
                if (width < ArgPredicate.FullWidth)
                {
                    bool holds = n.Op switch
                    {
                        TestOp.Eq or TestOp.MaskedEq => n.Datum == 0,
                        TestOp.Gt => false,
                        _ => n.Datum == 0,
                    };
                    return holds ? Condition.True : Condition.Any();
                }
                const ulong High = 0xffff_ffff_0000_0000;
                ulong d = n.Datum;
                return n.Op switch
                {
                    TestOp.Eq => Condition.Of(new ArgPredicate(n.Arg, ComparisonOp.MaskedEq, d << 32, High)),
                    TestOp.MaskedEq => Condition.Of(new ArgPredicate(n.Arg, ComparisonOp.MaskedEq, d << 32, n.Mask << 32)),
                    TestOp.Gt => d == uint.MaxValue ? Condition.Any() : Condition.Of(new ArgPredicate(n.Arg, ComparisonOp.Ge, (d + 1) << 32)),
                    _ => Condition.Of(new ArgPredicate(n.Arg, ComparisonOp.Ge, d << 32)),
                };
            }
        }
    }
}
