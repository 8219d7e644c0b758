using System.Numerics;
using Syscage.Abi;

namespace Syscage.Policy.Oci;

/// <summary>A comparison as a path takes it: the predicate, or its negation.</summary>
/// <param name="Predicate">The comparison.</param>
/// <param name="Holds">False for its negation.</param>
internal readonly record struct Literal(ArgPredicate Predicate, bool Holds);

/// <summary>One first-match rule under construction: a conjunction of literals, its action, and the entry it stands for.</summary>
/// <param name="Literals">The literals, ANDed.</param>
/// <param name="Owner">The entry (its action and source decide; its comparisons shape how the rule is written).</param>
internal sealed record Clause(IReadOnlyList<Literal> Literals, RuncRule Owner);

/// <summary>
/// Turns the clauses <see cref="LibseccompOrder"/> lists — a path of libseccomp's tree (tests on 32-bit halves)
/// ANDed with its entry's comparisons — into IR rules a reader can follow, without changing any verdict: each
/// argument's literals become one set (an interval of values, with the masks and exclusions an interval cannot say),
/// impossible clauses go, a clause moves up past clauses it shares no call with to join an earlier one of the same
/// entry, a bound that only keeps out calls earlier clauses catch anyway is widened to the entry's own, and a clause an
/// earlier one covers goes. Where a set is what the entry's comparison says, it is written as the entry wrote it.
/// </summary>
internal static class RuleSimplifier
{
    /// <summary>Clauses beyond which only the per-clause simplification is done (moving and merging is quadratic).</summary>
    private const int MaxReordered = 512;

    /// <summary>The IR rules, in order.</summary>
    public static List<Rule> Simplify(IReadOnlyList<Clause> clauses)
    {
        var items = new List<Item>();
        foreach (var clause in clauses)
            if (Item.From(clause) is { } item)
                items.Add(item);
        if (items.Count <= MaxReordered)
        {
            for (int pass = 0; pass < 4; pass++)
            {
                bool changed = Merge(items);
                changed |= Widen(items);
                changed |= DropCovered(items);
                if (!changed)
                    break;
            }
        }
        return [.. items.Select(i => i.ToRule())];
    }

    /// <summary>Moves each clause up past the clauses it shares no call with, to merge it into one of the same entry.</summary>
    private static bool Merge(List<Item> items)
    {
        bool changed = false;
        for (int j = 1; j < items.Count; j++)
        {
            for (int i = j - 1; i >= 0; i--)
            {
                if (items[i].TryMerge(items[j]) is { } merged)
                {
                    items[i] = merged;
                    items.RemoveAt(j);
                    j--;
                    changed = true;
                    break;
                }
                if (!items[i].Disjoint(items[j]))
                    break;
            }
        }
        return changed;
    }

    /// <summary>
    /// Widens a bound to the entry's own when the calls it keeps out are caught by an earlier clause that tests that
    /// argument alone (the widened clause is never reached for them).
    /// </summary>
    private static bool Widen(List<Item> items)
    {
        bool changed = false;
        for (int j = 1; j < items.Count; j++)
        {
            var item = items[j];
            for (int arg = 0; arg < 6; arg++)
            {
                if (item.Sets[arg] is not { IsInterval: true } set)
                    continue;
                var own = item.OwnerSet(arg);
                if (own is null || !own.IsInterval || own.Width != set.Width || own.Lo > set.Lo || own.Hi < set.Hi || (own.Lo == set.Lo && own.Hi == set.Hi))
                    continue;
                // The pieces of the entry's interval the clause leaves out.
                var pieces = new List<(ulong From, ulong To)>();
                if (own.Lo < set.Lo)
                    pieces.Add((own.Lo, set.Lo - 1));
                if (set.Hi < own.Hi)
                    pieces.Add((set.Hi + 1, own.Hi));
                int at = arg;
                bool covered = pieces.All(piece => items.Take(j).Any(e =>
                    e.OnlyArg == at && e.Sets[at] is { IsInterval: true } c && c.Width == set.Width && c.Lo <= piece.From && c.Hi >= piece.To));
                if (covered)
                {
                    item = item.With(arg, own);
                    changed = true;
                }
            }
            items[j] = item;
        }
        return changed;
    }

    /// <summary>Drops the clauses an earlier clause covers.</summary>
    private static bool DropCovered(List<Item> items)
    {
        int before = items.Count;
        for (int j = items.Count - 1; j > 0; j--)
            if (items.Take(j).Any(i => i.Covers(items[j])))
                items.RemoveAt(j);
        return items.Count != before;
    }

    // ---------------------------------------------------------------- a clause as sets

    private sealed class Item
    {
        public required ArgSet?[] Sets;
        public required RuncRule Owner;

        public static Item? From(Clause clause)
        {
            var sets = new ArgSet?[6];
            foreach (var group in clause.Literals.GroupBy(l => l.Predicate.Arg))
            {
                var set = ArgSet.Of([.. group]);
                if (set is null)
                    return null;   // no value of the argument satisfies the clause
                sets[group.Key] = set.IsEverything ? null : set;
            }
            return new Item { Sets = sets, Owner = clause.Owner };
        }

        /// <summary>The only argument the clause tests, or -1.</summary>
        public int OnlyArg
        {
            get
            {
                int only = -1;
                for (int a = 0; a < 6; a++)
                    if (Sets[a] is not null)
                    {
                        if (only >= 0)
                            return -1;
                        only = a;
                    }
                return only;
            }
        }

        /// <summary>The set the entry's own comparison on <paramref name="arg"/> accepts (everything when it has none).</summary>
        public ArgSet? OwnerSet(int arg)
        {
            var mine = Owner.Checks.Where(c => c.Arg == arg).Select(c => new Literal(c, true)).ToList();
            if (mine.Count == 0)
                return Sets[arg] is { } s ? ArgSet.Everything(s.Width) : null;
            return ArgSet.Of(mine);
        }

        public Item With(int arg, ArgSet? set)
        {
            var sets = (ArgSet?[])Sets.Clone();
            sets[arg] = set is { IsEverything: true } ? null : set;
            return new Item { Sets = sets, Owner = Owner };
        }

        /// <summary>True when no call satisfies both clauses (false when unsure).</summary>
        public bool Disjoint(Item other)
        {
            for (int a = 0; a < 6; a++)
                if (Sets[a] is { } x && other.Sets[a] is { } y && x.Disjoint(y))
                    return true;
            return false;
        }

        /// <summary>True when every call satisfying <paramref name="other"/> satisfies this clause (false when unsure).</summary>
        public bool Covers(Item other)
        {
            for (int a = 0; a < 6; a++)
            {
                if (Sets[a] is not { } x)
                    continue;
                if (other.Sets[a] is not { } y || !x.Contains(y))
                    return false;
            }
            return true;
        }

        /// <summary>This clause and <paramref name="other"/> as one, when they are of one entry and differ on one argument whose intervals join.</summary>
        public Item? TryMerge(Item other)
        {
            if (!ReferenceEquals(Owner, other.Owner))
                return null;
            int differ = -1;
            for (int a = 0; a < 6; a++)
            {
                var (x, y) = (Sets[a], other.Sets[a]);
                if (x is null && y is null || x is not null && y is not null && x.SameAs(y))
                    continue;
                if (differ >= 0)
                    return null;
                differ = a;
            }
            if (differ < 0)
                return this;
            var (p, q) = (Sets[differ], other.Sets[differ]);
            if (p is null || q is null || !p.IsInterval || !q.IsInterval || p.Width != q.Width)
                return null;
            if (q.Lo > p.Hi && q.Lo - p.Hi > 1 || p.Lo > q.Hi && p.Lo - q.Hi > 1)
                return null;
            return With(differ, ArgSet.Interval(p.Width, Math.Min(p.Lo, q.Lo), Math.Max(p.Hi, q.Hi)));
        }

        public Rule ToRule()
        {
            var parts = new List<Condition>();
            for (int a = 0; a < 6; a++)
                if (Sets[a] is { } set)
                    parts.AddRange(set.Render(a, Owner.Checks.FirstOrDefault(c => c.Arg == a)));
            var condition = parts.Count == 1 ? parts[0] : Condition.All(parts);
            return new Rule(condition, Owner.Action, Owner.Source);
        }
    }

    /// <summary>
    /// The values of one argument a clause accepts, at the argument's width: an interval, minus excluded values, and
    /// masks it must (or must not) match; tests on the low 32 bits of a 64-bit argument that the interval cannot take in
    /// are kept as they are.
    /// </summary>
    private sealed class ArgSet
    {
        public required int Width;
        public ulong Lo, Hi;
        public List<ulong> Excluded = [];
        public List<(ulong Mask, ulong Value, bool Equal)> Masks = [];
        public List<Literal> Narrow = [];

        private ulong Max => ArgPredicate.WidthMask(Width);
        public bool IsInterval => Excluded.Count == 0 && Masks.Count == 0 && Narrow.Count == 0;
        public bool IsEverything => IsInterval && Lo == 0 && Hi == Max;

        public static ArgSet Everything(int width) => new() { Width = width, Lo = 0, Hi = ArgPredicate.WidthMask(width) };

        public static ArgSet Interval(int width, ulong lo, ulong hi) => new() { Width = width, Lo = lo, Hi = hi };

        /// <summary>The set the literals (all on one argument) accept; null when empty.</summary>
        public static ArgSet? Of(IReadOnlyList<Literal> literals)
        {
            int width = literals.Max(l => l.Predicate.Width);
            var set = Everything(width);
            var narrow = new List<Literal>();
            foreach (var l in literals)
            {
                if (l.Predicate.Width < width)
                    narrow.Add(l);
                else if (!set.Apply(l))
                    return null;
            }
            // A test on the low bits decides as a test on the whole value when the interval keeps the high bits fixed.
            foreach (var l in narrow)
            {
                int w = l.Predicate.Width;
                if (set.Lo >> w == set.Hi >> w)
                {
                    ulong block = set.Lo & ~ArgPredicate.WidthMask(w);
                    var p = l.Predicate;
                    var whole = p.Op == ComparisonOp.MaskedEq
                        ? new ArgPredicate(p.Arg, p.Op, p.Value & p.Mask, p.Mask, width)
                        : new ArgPredicate(p.Arg, p.Op, block | p.Value, Width: width);
                    if (!set.Apply(new Literal(whole, l.Holds)))
                        return null;
                }
                else
                    set.Narrow.Add(l);
            }
            return set.Settle() ? set : null;
        }

        /// <summary>Applies a literal at the set's width; false when the set becomes empty.</summary>
        private bool Apply(Literal l)
        {
            var p = l.Predicate;
            if (!l.Holds)
            {
                if (p.Negated() is { } n)
                    p = n;
                else
                {
                    // Not a masked equality: when the mask fixes the high bits only, it rules out one block of values.
                    Masks.Add((p.Mask, p.Value & p.Mask, false));
                    return true;
                }
            }
            ulong v = p.Value;
            switch (p.Op)
            {
                case ComparisonOp.Eq:
                    Lo = Math.Max(Lo, v);
                    Hi = Math.Min(Hi, v);
                    break;
                case ComparisonOp.Ne:
                    Excluded.Add(v);
                    break;
                case ComparisonOp.Lt:
                    if (v == 0)
                        return false;
                    Hi = Math.Min(Hi, v - 1);
                    break;
                case ComparisonOp.Le:
                    Hi = Math.Min(Hi, v);
                    break;
                case ComparisonOp.Gt:
                    if (v >= Max)
                        return false;
                    Lo = Math.Max(Lo, v + 1);
                    break;
                case ComparisonOp.Ge:
                    Lo = Math.Max(Lo, v);
                    break;
                default:
                    if (PrefixBlock(p.Mask) is { } low)
                    {
                        // (arg & high bits) == v: the block [v, v | low].
                        Lo = Math.Max(Lo, v & p.Mask);
                        Hi = Math.Min(Hi, (v & p.Mask) | low);
                    }
                    else
                        Masks.Add((p.Mask, v & p.Mask, true));
                    break;
            }
            return Lo <= Hi;
        }

        /// <summary>For a mask of high bits only (within the width), the low bits it leaves free; else null.</summary>
        private ulong? PrefixBlock(ulong mask)
        {
            ulong low = ~mask & Max;
            return (low & (low + 1)) == 0 && (mask & Max) == (Max & ~low) ? low : null;
        }

        /// <summary>Takes in the exclusions and masks the interval decides; false when nothing is left.</summary>
        private bool Settle()
        {
            if (Lo > Hi)
                return false;
            for (bool changed = true; changed;)
            {
                changed = false;
                Excluded = [.. Excluded.Where(e => e >= Lo && e <= Hi).Distinct().Order()];
                if (Excluded.Contains(Lo))
                {
                    if (Lo == Hi)
                        return false;
                    Lo++;
                    changed = true;
                }
                if (Excluded.Contains(Hi))
                {
                    if (Lo == Hi)
                        return false;
                    Hi--;
                    changed = true;
                }
                for (int i = Masks.Count - 1; i >= 0; i--)
                {
                    var (mask, value, equal) = Masks[i];
                    // A mask decides when every value of the interval has the same masked bits.
                    // The bits every value of [Lo, Hi] shares: those above the highest bit where Lo and Hi differ.
                    int free = 64 - BitOperations.LeadingZeroCount(Lo ^ Hi);
                    ulong fixedBits = free == 64 ? 0 : ~((1UL << free) - 1);
                    if ((mask & ~fixedBits) == 0)
                    {
                        if (((Lo & mask) == value) != equal)
                            return false;
                        Masks.RemoveAt(i);
                    }
                }
            }
            if (Lo == Hi && Narrow.Count > 0)
            {
                foreach (var l in Narrow)
                    if (l.Predicate.Evaluate(Lo) != l.Holds)
                        return false;
                Narrow.Clear();
            }
            return true;
        }

        public bool SameAs(ArgSet o) =>
            Width == o.Width && Lo == o.Lo && Hi == o.Hi && Excluded.SequenceEqual(o.Excluded) &&
            Masks.Order().SequenceEqual(o.Masks.Order()) && Narrow.SequenceEqual(o.Narrow);

        /// <summary>True when no value is in both sets (false when unsure).</summary>
        public bool Disjoint(ArgSet o)
        {
            if (Width != o.Width)
                return false;
            if (Hi < o.Lo || o.Hi < Lo)
                return true;
            if (Lo == Hi)
                return !o.Accepts(Lo);
            if (o.Lo == o.Hi)
                return !Accepts(o.Lo);
            return false;
        }

        /// <summary>True when every value of <paramref name="o"/> is in this set (false when unsure).</summary>
        public bool Contains(ArgSet o)
        {
            if (Width != o.Width)
                return false;
            if (SameAs(o))
                return true;
            if (o.Lo < Lo || o.Hi > Hi)
                return false;
            if (IsInterval)
                return true;
            return o.Lo == o.Hi && Accepts(o.Lo);
        }

        private bool Accepts(ulong v) =>
            v >= Lo && v <= Hi && !Excluded.Contains(v) && Masks.All(m => ((v & m.Mask) == m.Value) == m.Equal) &&
            Narrow.All(l => l.Predicate.Evaluate(v) == l.Holds);

        /// <summary>The set as conditions on argument <paramref name="arg"/>; as the entry wrote it when the entry's comparison says exactly this.</summary>
        public IEnumerable<Condition> Render(int arg, ArgPredicate? own)
        {
            if (own is not null && own.Width == Width && Of([new Literal(own, true)]) is { } mine && mine.SameAs(this))
            {
                yield return Condition.Of(own);
                yield break;
            }
            if (Lo == Hi)
                yield return Condition.Of(new ArgPredicate(arg, ComparisonOp.Eq, Lo, Width: Width));
            else
            {
                if (Lo > 0)
                    yield return Condition.Of(own is { Op: ComparisonOp.Gt } && own.Value + 1 == Lo
                        ? own : new ArgPredicate(arg, ComparisonOp.Ge, Lo, Width: Width));
                if (Hi < Max)
                    yield return Condition.Of(own is { Op: ComparisonOp.Lt } && own.Value - 1 == Hi
                        ? own : new ArgPredicate(arg, ComparisonOp.Le, Hi, Width: Width));
            }
            foreach (ulong e in Excluded)
                yield return Condition.Of(new ArgPredicate(arg, ComparisonOp.Ne, e, Width: Width));
            foreach (var (mask, value, equal) in Masks)
            {
                var m = Condition.Of(new ArgPredicate(arg, ComparisonOp.MaskedEq, value, mask, Width));
                yield return equal ? m : Condition.Not(m);
            }
            foreach (var l in Narrow)
                yield return l.Holds ? Condition.Of(l.Predicate) : l.Predicate.Negated() is { } n ? Condition.Of(n) : Condition.Not(Condition.Of(l.Predicate));
        }
    }
}
