namespace Syscage.Policy;

/// <summary>
/// A boolean expression over <see cref="ArgPredicate"/>s: what a rule requires of the arguments. The policy
/// language's <c>&amp;&amp; || !</c> lower to <see cref="All"/>, <see cref="Any"/> and <see cref="Not"/>; an OCI
/// entry's <c>args</c> are an <see cref="All"/>.
/// </summary>
public abstract record Condition
{
    private protected Condition() { }

    /// <summary>The condition that always holds (a rule without argument checks).</summary>
    public static Condition True { get; } = new AllOf([]);

    /// <summary>One predicate.</summary>
    public static Condition Of(ArgPredicate predicate) => new Predicate(predicate);

    /// <summary>All of the conditions (an empty list is <see cref="True"/>).</summary>
    public static Condition All(params IEnumerable<Condition> conditions) => new AllOf([.. conditions]);

    /// <summary>Any of the conditions (an empty list never holds).</summary>
    public static Condition Any(params IEnumerable<Condition> conditions) => new AnyOf([.. conditions]);

    /// <summary>The negation.</summary>
    public static Condition Not(Condition condition) => new NotOf(condition);

    /// <summary>True when this is <see cref="True"/> (no argument checks).</summary>
    public bool IsTrue => this is AllOf { Conditions.Count: 0 };

    /// <summary>Evaluates the condition on six argument values.</summary>
    public abstract bool Evaluate(ReadOnlySpan<ulong> args, bool is64Bit);

    /// <summary>Every predicate the condition mentions.</summary>
    public abstract IEnumerable<ArgPredicate> Predicates();

    /// <summary>One predicate.</summary>
    /// <param name="Value">The predicate.</param>
    public sealed record Predicate(ArgPredicate Value) : Condition
    {
        /// <inheritdoc/>
        public override bool Evaluate(ReadOnlySpan<ulong> args, bool is64Bit) => Value.Evaluate(args[Value.Arg], is64Bit);
        /// <inheritdoc/>
        public override IEnumerable<ArgPredicate> Predicates() => [Value];
        /// <inheritdoc/>
        public override string ToString() => Value.ToString();
    }

    /// <summary>Conjunction.</summary>
    /// <param name="Conditions">The conjuncts.</param>
    public sealed record AllOf(IReadOnlyList<Condition> Conditions) : Condition
    {
        /// <inheritdoc/>
        public override bool Evaluate(ReadOnlySpan<ulong> args, bool is64Bit)
        {
            foreach (var c in Conditions)
                if (!c.Evaluate(args, is64Bit))
                    return false;
            return true;
        }
        /// <inheritdoc/>
        public override IEnumerable<ArgPredicate> Predicates() => Conditions.SelectMany(c => c.Predicates());
        /// <inheritdoc/>
        public bool Equals(AllOf? other) => other is not null && Conditions.SequenceEqual(other.Conditions);
        /// <inheritdoc/>
        public override int GetHashCode() => Conditions.Aggregate(17, (h, c) => HashCode.Combine(h, c));
        /// <inheritdoc/>
        public override string ToString() => Conditions.Count == 0 ? "true" : string.Join(" && ", Conditions.Select(c => c is AnyOf ? $"({c})" : c.ToString()));
    }

    /// <summary>Disjunction.</summary>
    /// <param name="Conditions">The disjuncts.</param>
    public sealed record AnyOf(IReadOnlyList<Condition> Conditions) : Condition
    {
        /// <inheritdoc/>
        public override bool Evaluate(ReadOnlySpan<ulong> args, bool is64Bit)
        {
            foreach (var c in Conditions)
                if (c.Evaluate(args, is64Bit))
                    return true;
            return false;
        }
        /// <inheritdoc/>
        public override IEnumerable<ArgPredicate> Predicates() => Conditions.SelectMany(c => c.Predicates());
        /// <inheritdoc/>
        public bool Equals(AnyOf? other) => other is not null && Conditions.SequenceEqual(other.Conditions);
        /// <inheritdoc/>
        public override int GetHashCode() => Conditions.Aggregate(19, (h, c) => HashCode.Combine(h, c));
        /// <inheritdoc/>
        public override string ToString() => Conditions.Count == 0 ? "false" : string.Join(" || ", Conditions.Select(c => c.ToString()));
    }

    /// <summary>Negation.</summary>
    /// <param name="Inner">The negated condition.</param>
    public sealed record NotOf(Condition Inner) : Condition
    {
        /// <inheritdoc/>
        public override bool Evaluate(ReadOnlySpan<ulong> args, bool is64Bit) => !Inner.Evaluate(args, is64Bit);
        /// <inheritdoc/>
        public override IEnumerable<ArgPredicate> Predicates() => Inner.Predicates();
        /// <inheritdoc/>
        public override string ToString() => $"!({Inner})";
    }
}
