namespace Syscage.Policy;

/// <summary>What <see cref="ConditionSolver.Solve"/> found.</summary>
internal enum Satisfiability
{
    /// <summary>No argument values make the condition hold.</summary>
    Unsatisfiable,
    /// <summary>Some do; the witness is one.</summary>
    Satisfiable,
    /// <summary>The condition was too large to decide within the budget (too many states of one argument, or too many combinations to search).</summary>
    Undecided,
}

/// <summary>
/// How much work the questions about one policy may take, in condition nodes evaluated: the lint answers "undecided"
/// rather than run for long on a policy built to be hard (the questions are SAT in general).
/// </summary>
internal sealed class SolverBudget(long units, SolverBudget? parent = null)
{
    /// <summary>What one lint may spend in all: a second or two.</summary>
    public const long PerPolicy = 1L << 26;

    /// <summary>What the questions about one syscall may spend, so that one hard syscall leaves the others their answers.</summary>
    public const long PerSyscall = 1L << 22;

    /// <summary>Units left.</summary>
    public long Remaining { get; private set; } = units;

    /// <summary>True when the budget (or the one it was sliced from) is spent.</summary>
    public bool Exhausted => Remaining <= 0 || parent?.Exhausted == true;

    /// <summary>Spends <paramref name="units"/> (here and in the budget this one was sliced from); false when that exhausts either.</summary>
    public bool Spend(long units)
    {
        Remaining -= units;
        bool left = parent?.Spend(units) ?? true;
        return Remaining > 0 && left;
    }

    /// <summary>A budget of at most <paramref name="units"/> whose spending counts here too (and that shares its answers).</summary>
    public SolverBudget Slice(long units) => new(Math.Min(units, Remaining), this);

    /// <summary>
    /// The combinations already found for a list of atoms, shared by every slice: a policy language rule on many syscalls
    /// shares one condition, so its atoms come back for each.
    /// </summary>
    internal Dictionary<AtomList, (Truths Truth, ulong Value)[]?> Combinations => parent?.Combinations ?? (_combinations ??= []);

    private Dictionary<AtomList, (Truths Truth, ulong Value)[]?>? _combinations;
}

/// <summary>One argument's atoms, compared by value (a dictionary key).</summary>
internal readonly struct AtomList(List<ArgPredicate> atoms) : IEquatable<AtomList>
{
    private readonly int _hash = atoms.Aggregate(atoms.Count, (h, a) => HashCode.Combine(h, a));

    public List<ArgPredicate> Atoms { get; } = atoms;

    public bool Equals(AtomList other) => _hash == other._hash && Atoms.SequenceEqual(other.Atoms);

    public override bool Equals(object? obj) => obj is AtomList other && Equals(other);

    public override int GetHashCode() => _hash;
}

/// <summary>
/// Decides exactly whether a <see cref="Condition"/> can hold for some six argument values, as the reference evaluator
/// reads it on a 64-bit or 32-bit ABI, and gives values where it does. The lint's dead-rule check asks it whether
/// <c>C_i &amp;&amp; !C_1 &amp;&amp; ... &amp;&amp; !C_(i-1)</c> can hold: if not, rule <c>i</c> never decides.
/// </summary>
/// <remarks>
/// Every predicate tests one argument, so the arguments are independent but for the boolean structure. For each
/// argument the solver finds every combination of truth values its comparisons can take together, with an argument
/// value for each, by walking the value's 64 bits from the top, as a comparison reads them: each comparison is then
/// "still equal to its constant", "already below" or "already above" (bits above its width are skipped, as the
/// width reduction drops them), each masked comparison "still matching" or "already not". Values whose walks reach the
/// same state have the same truths from there on, so one is kept per state, and the states per bit stay few (they are
/// the places of the value among the constants). A search then picks one combination per argument that makes the
/// condition true, pruning on a three-valued evaluation. Exact, with no sampling: every value is represented by a
/// state. A witness is checked with <see cref="Condition.Evaluate"/> before it is returned.
/// </remarks>
internal static class ConditionSolver
{
    /// <summary>States per bit beyond which one argument is undecided.</summary>
    internal const int MaxStates = 1 << 16;

    /// <summary>Search nodes beyond which the combination of arguments is undecided.</summary>
    internal const int MaxSearchNodes = 1 << 20;

    /// <summary>Can <paramref name="condition"/> hold on an ABI with 64-bit (or 32-bit) registers?</summary>
    public static Satisfiability Solve(Condition condition, bool is64Bit, out ulong[]? witness, SolverBudget? budget = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        witness = null;
        budget ??= new SolverBudget(SolverBudget.PerPolicy);
        if (budget.Exhausted)
            return Satisfiability.Undecided;
        // The atoms: each distinct predicate as the filter makes it on this ABI, numbered per argument.
        var (atoms, index) = Atoms(condition.Predicates(), is64Bit);

        // Per argument, every truth combination its atoms can take, with a value for each.
        var options = new (Truths Truth, ulong Value)[6][];
        for (int a = 0; a < 6; a++)
        {
            if (atoms[a].Count == 0)
                continue;
            var found = Combinations(atoms[a], budget);
            if (found is null)
                return Satisfiability.Undecided;
            options[a] = found;
        }

        // Arguments with the fewest combinations first: the search branches least at the top.
        int[] order = [.. Enumerable.Range(0, 6).Where(a => options[a] is not null).OrderBy(a => options[a].Length)];
        var chosen = new int[6];
        Array.Fill(chosen, -1);
        int nodes = 0;
        bool undecided = false;
        long size = Size(condition);

        sbyte Eval(Condition c)
        {
            switch (c)
            {
                case Condition.Predicate { Value: var p }:
                    int pick = chosen[p.Arg];
                    if (pick < 0)
                        return -1;
                    return options[p.Arg][pick].Truth[index[p]] ? (sbyte)1 : (sbyte)0;
                case Condition.AllOf all:
                {
                    sbyte result = 1;
                    foreach (var x in all.Conditions)
                    {
                        sbyte v = Eval(x);
                        if (v == 0)
                            return 0;
                        if (v < 0)
                            result = -1;
                    }
                    return result;
                }
                case Condition.AnyOf any:
                {
                    sbyte result = 0;
                    foreach (var x in any.Conditions)
                    {
                        sbyte v = Eval(x);
                        if (v == 1)
                            return 1;
                        if (v < 0)
                            result = -1;
                    }
                    return result;
                }
                case Condition.NotOf not:
                {
                    sbyte v = Eval(not.Inner);
                    return v < 0 ? v : (sbyte)(1 - v);
                }
                default:
                    throw new InvalidOperationException($"unknown condition {c.GetType().Name}");
            }
        }

        bool Search(int depth)
        {
            if (++nodes > MaxSearchNodes || !budget.Spend(size))
            {
                undecided = true;
                return false;
            }
            sbyte v = Eval(condition);
            if (v == 1)
                return true;
            if (v == 0 || depth == order.Length)
                return false;
            int a = order[depth];
            for (int o = 0; o < options[a].Length; o++)
            {
                chosen[a] = o;
                if (Search(depth + 1))
                    return true;
                if (undecided)
                    break;
            }
            chosen[a] = -1;
            return false;
        }

        if (!Search(0))
            return undecided ? Satisfiability.Undecided : Satisfiability.Unsatisfiable;
        var values = new ulong[6];
        for (int a = 0; a < 6; a++)
            if (chosen[a] >= 0)
                values[a] = options[a][chosen[a]].Value;
        if (!condition.Evaluate(values, is64Bit))
            throw new InvalidOperationException($"the condition solver's witness does not satisfy {condition}: a bug in Syscage");
        witness = values;
        return Satisfiability.Satisfiable;
    }

    /// <summary>The number of nodes of a condition: what one evaluation of it costs.</summary>
    internal static long Size(Condition condition) => condition switch
    {
        Condition.AllOf all => 1 + all.Conditions.Sum(Size),
        Condition.AnyOf any => 1 + any.Conditions.Sum(Size),
        Condition.NotOf not => 1 + Size(not.Inner),
        _ => 1,
    };

    /// <summary>The distinct predicates as the filter makes them on the ABI, per argument, and each predicate's place among them.</summary>
    private static (List<ArgPredicate>[] Atoms, Dictionary<ArgPredicate, int> Index) Atoms(IEnumerable<ArgPredicate> predicates, bool is64Bit)
    {
        var atoms = new List<ArgPredicate>[6];
        var places = new Dictionary<ArgPredicate, int>[6];
        for (int a = 0; a < 6; a++)
        {
            atoms[a] = [];
            places[a] = [];
        }
        var index = new Dictionary<ArgPredicate, int>();
        foreach (var p in predicates)
        {
            if (index.ContainsKey(p))
                continue;
            var made = p.At(is64Bit);
            if (!places[p.Arg].TryGetValue(made, out int i))
            {
                i = atoms[p.Arg].Count;
                atoms[p.Arg].Add(made);
                places[p.Arg][made] = i;
            }
            index[p] = i;
        }
        return (atoms, index);
    }

    /// <summary>
    /// Argument vectors that stand for all of them as far as <paramref name="predicates"/> can tell: for any six
    /// values, one of the vectors gives every predicate the same truth, so any condition over these predicates holds
    /// on the values exactly when it holds on that vector. Null when there would be more than <paramref name="max"/>
    /// (the product of each argument's combinations) or an argument is undecided.
    /// </summary>
    public static List<ulong[]>? Cells(IEnumerable<ArgPredicate> predicates, bool is64Bit, int max, SolverBudget budget)
    {
        ArgumentNullException.ThrowIfNull(budget);
        ArgumentNullException.ThrowIfNull(predicates);
        var (atoms, _) = Atoms(predicates, is64Bit);
        var values = new ulong[6][];
        long product = 1;
        for (int a = 0; a < 6; a++)
        {
            if (atoms[a].Count == 0)
            {
                values[a] = [0];
                continue;
            }
            var found = Combinations(atoms[a], budget);
            if (found is null)
                return null;
            values[a] = [.. found.Select(c => c.Value)];
            product *= values[a].Length;
            if (product > max)
                return null;
        }
        var cells = new List<ulong[]>((int)product);
        var pick = new int[6];
        while (true)
        {
            var cell = new ulong[6];
            for (int a = 0; a < 6; a++)
                cell[a] = values[a][pick[a]];
            cells.Add(cell);
            int d = 0;
            while (d < 6 && ++pick[d] == values[d].Length)
                pick[d++] = 0;
            if (d == 6)
                return cells;
        }
    }

    /// <summary>
    /// Every combination of truth values of <paramref name="atoms"/> (predicates on one argument) that some 64-bit value
    /// gives, each with such a value; null when there are too many to find within the bounds.
    /// </summary>
    internal static (Truths Truth, ulong Value)[]? Combinations(List<ArgPredicate> atoms, SolverBudget budget)
    {
        var key = new AtomList(atoms);
        if (budget.Combinations.TryGetValue(key, out var known))
            return known;
        (Truths Truth, ulong Value)[]? found;
        if (atoms.Count > 0 && atoms.All(a => a.Op != ComparisonOp.MaskedEq && a.Width == atoms[0].Width))
            found = budget.Spend(2L * atoms.Count * atoms.Count / 8 + 1) ? Edges(atoms) : null;   // the candidates times the atoms, compared a word at a time
        else
            found = Walk(atoms, budget);
        if (found is not null || !budget.Exhausted)
            budget.Combinations[key] = found;
        return found;
    }

    /// <summary>
    /// Plain comparisons made at one width: a comparison with <c>v</c> changes truth only between <c>v - 1</c> and
    /// <c>v</c> or between <c>v</c> and <c>v + 1</c>, so every stretch of values where all truths stay the same starts at
    /// 0, at some <c>v</c> or at some <c>v + 1</c>; those values give every combination.
    /// </summary>
    private static (Truths Truth, ulong Value)[] Edges(List<ArgPredicate> atoms)
    {
        ulong max = ArgPredicate.WidthMask(atoms[0].Width);
        var starts = new SortedSet<ulong> { 0 };
        foreach (var a in atoms)
        {
            ulong v = a.Value & max;
            starts.Add(v);
            if (v < max)
                starts.Add(v + 1);
        }
        var ops = new ComparisonOp[atoms.Count];
        var values = new ulong[atoms.Count];
        for (int i = 0; i < atoms.Count; i++)
            (ops[i], values[i]) = (atoms[i].Op, atoms[i].Value & max);
        var result = new Dictionary<Truths, ulong>();
        foreach (ulong x in starts)
        {
            var truth = new Truths(atoms.Count);
            for (int i = 0; i < ops.Length; i++)
            {
                ulong v = values[i];
                bool holds = ops[i] switch
                {
                    ComparisonOp.Eq => x == v,
                    ComparisonOp.Ne => x != v,
                    ComparisonOp.Lt => x < v,
                    ComparisonOp.Le => x <= v,
                    ComparisonOp.Gt => x > v,
                    _ => x >= v,
                };
                if (holds)
                    truth[i] = true;
            }
            result.TryAdd(truth, x);
        }
        return [.. result.Select(kv => (kv.Key, kv.Value))];
    }

    /// <summary>
    /// The general case (masks, mixed widths): the walk over the value's bits from the top, one value kept per state.
    /// Null when the states of one bit are more than <see cref="MaxStates"/> or the budget runs out.
    /// </summary>
    private static (Truths Truth, ulong Value)[]? Walk(IReadOnlyList<ArgPredicate> atoms, SolverBudget budget)
    {
        int k = atoms.Count, w = (k + 63) / 64;
        // Per bit b: which atoms read it, and what their constant (or, for a mask, the datum) has there; sets of atoms as
        // w words each.
        var comparesBit = new ulong[64 * w];
        var constantBit = new ulong[64 * w];
        var masksBit = new ulong[64 * w];
        var datumBit = new ulong[64 * w];
        var byOp = new ulong[7 * w];   // Eq, Ne, Lt, Le, Gt, Ge, MaskedEq
        for (int i = 0; i < k; i++)
        {
            var p = atoms[i];
            int word = i >> 6;
            ulong bit = 1UL << (i & 63);
            ulong width = ArgPredicate.WidthMask(p.Width);
            byOp[OpIndex(p.Op) * w + word] |= bit;
            if (p.Op == ComparisonOp.MaskedEq)
            {
                ulong mask = p.Mask & width, datum = p.Value & mask;
                for (int b = 0; b < 64; b++)
                {
                    if ((mask >> b & 1) != 0)
                        masksBit[b * w + word] |= bit;
                    if ((datum >> b & 1) != 0)
                        datumBit[b * w + word] |= bit;
                }
            }
            else
            {
                ulong value = p.Value & width;
                for (int b = 0; b < p.Width; b++)
                {
                    comparesBit[b * w + word] |= bit;
                    if ((value >> b & 1) != 0)
                        constantBit[b * w + word] |= bit;
                }
            }
        }

        // A state: the atoms already below their constant, already above it, and the masks already missed (3w words).
        var states = new Dictionary<Truths, ulong> { [new Truths(3 * w * 64)] = 0 };
        for (int b = 63; b >= 0; b--)
        {
            var compares = comparesBit.AsSpan(b * w, w);
            var masks = masksBit.AsSpan(b * w, w);
            if (!compares.ContainsAnyExcept(0UL) && !masks.ContainsAnyExcept(0UL))
                continue;   // no atom reads this bit: the values keep 0 there
            if (!budget.Spend(2L * states.Count * w + 1))
                return null;
            var constant = constantBit.AsSpan(b * w, w);
            var datum = datumBit.AsSpan(b * w, w);
            var next = new Dictionary<Truths, ulong>(states.Count * 2);
            foreach (var (state, value) in states)
            {
                var zero = new Truths(3 * w * 64);
                var one = new Truths(3 * w * 64);
                var s = state.Words;
                var z = zero.Words;
                var o = one.Words;
                for (int j = 0; j < w; j++)
                {
                    ulong below = s[j], above = s[w + j], missed = s[2 * w + j];
                    ulong open = compares[j] & ~(below | above);
                    // The bit is 0: below every open constant with a 1 here; a mask wanting 1 is missed.
                    z[j] = below | (open & constant[j]);
                    z[w + j] = above;
                    z[2 * w + j] = missed | (masks[j] & datum[j]);
                    // The bit is 1: above every open constant with a 0 here; a mask wanting 0 is missed.
                    o[j] = below;
                    o[w + j] = above | (open & ~constant[j]);
                    o[2 * w + j] = missed | (masks[j] & ~datum[j]);
                }
                next.TryAdd(zero, value);
                next.TryAdd(one, value | (1UL << b));
            }
            if (next.Count > MaxStates)
                return null;
            states = next;
        }

        var result = new Dictionary<Truths, ulong>();
        foreach (var (state, value) in states)
        {
            var truth = new Truths(k);
            var s = state.Words;
            var t = truth.Words;
            for (int j = 0; j < w; j++)
            {
                ulong below = s[j], above = s[w + j], missed = s[2 * w + j], equal = ~(below | above);
                t[j] = (byOp[j] & equal) | (byOp[w + j] & ~equal) | (byOp[2 * w + j] & below) | (byOp[3 * w + j] & ~above)
                       | (byOp[4 * w + j] & above) | (byOp[5 * w + j] & ~below) | (byOp[6 * w + j] & ~missed);
            }
            result.TryAdd(truth, value);
        }
        return [.. result.Select(kv => (kv.Key, kv.Value))];
    }

    private static int OpIndex(ComparisonOp op) => op switch
    {
        ComparisonOp.Eq => 0,
        ComparisonOp.Ne => 1,
        ComparisonOp.Lt => 2,
        ComparisonOp.Le => 3,
        ComparisonOp.Gt => 4,
        ComparisonOp.Ge => 5,
        _ => 6,
    };
}

/// <summary>The truth of each atom of one argument, compared by value (a dictionary key).</summary>
internal readonly struct Truths : IEquatable<Truths>
{
    private readonly ulong[] _words;

    public Truths(int count) => _words = new ulong[(count + 63) / 64];

    /// <summary>The bits, 64 to a word (bit i of the set is bit i % 64 of word i / 64).</summary>
    public ulong[] Words => _words;

    public bool this[int i]
    {
        get => (_words[i >> 6] >> (i & 63) & 1) != 0;
        set
        {
            if (value)
                _words[i >> 6] |= 1UL << (i & 63);
            else
                _words[i >> 6] &= ~(1UL << (i & 63));
        }
    }

    public bool Equals(Truths other) => _words.AsSpan().SequenceEqual(other._words);

    public override bool Equals(object? obj) => obj is Truths t && Equals(t);

    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (ulong w in _words)
            h.Add(w);
        return h.ToHashCode();
    }
}
