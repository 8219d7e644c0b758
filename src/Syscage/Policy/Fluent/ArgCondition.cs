using System.Globalization;
using Syscage.Abi;

namespace Syscage.Policy.Fluent;

/// <summary>The arguments of the call a condition looks at: <c>a =&gt; a.Arg(2)...</c> or <c>a =&gt; a["flags"]...</c>.</summary>
public sealed class CallArgs
{
    internal static readonly CallArgs Instance = new();

    private CallArgs() { }

    /// <summary>Argument <paramref name="index"/> (0..5).</summary>
    public ArgTest Arg(int index) => index is >= 0 and <= 5 ? new ArgTest(index, null)
        : throw new ArgumentOutOfRangeException(nameof(index), index, "argument index is 0..5");

    /// <summary>The argument the syscall's man page calls <paramref name="name"/>, resolved on each architecture.</summary>
    public ArgTest Arg(string name) => new(null, name ?? throw new ArgumentNullException(nameof(name)));

    /// <summary>Same as <see cref="Arg(string)"/>.</summary>
    public ArgTest this[string name] => Arg(name);
}

/// <summary>
/// One argument, to be compared unsigned at the width the kernel reads it (its C type: the low 32 bits of an
/// <c>int</c>, the low 16 of an <c>umode_t</c>; all 64 bits of a <c>long</c> or a pointer; on 32-bit ABIs at most 32).
/// A constant that does not fit that width throws when the policy is built (negative values of the width fit: -1).
/// </summary>
public sealed class ArgTest
{
    private readonly int? _index;
    private readonly string? _name;

    internal ArgTest(int? index, string? name) => (_index, _name) = (index, name);

    internal string Label => _name ?? $"arg{_index}";

    /// <summary><c>arg == value</c>.</summary>
    public ArgCondition Eq(ulong value) => Test(ComparisonOp.Eq, value);
    /// <summary><c>arg != value</c>.</summary>
    public ArgCondition Ne(ulong value) => Test(ComparisonOp.Ne, value);
    /// <summary><c>arg &lt; value</c>.</summary>
    public ArgCondition Lt(ulong value) => Test(ComparisonOp.Lt, value);
    /// <summary><c>arg &lt;= value</c>.</summary>
    public ArgCondition Le(ulong value) => Test(ComparisonOp.Le, value);
    /// <summary><c>arg &gt; value</c>.</summary>
    public ArgCondition Gt(ulong value) => Test(ComparisonOp.Gt, value);
    /// <summary><c>arg &gt;= value</c>.</summary>
    public ArgCondition Ge(ulong value) => Test(ComparisonOp.Ge, value);

    /// <summary><c>(arg &amp; mask) == (value &amp; mask)</c>: libseccomp's MASKED_EQ.</summary>
    public ArgCondition MaskedEq(ulong mask, ulong value) => new ArgCondition.Test(this, ComparisonOp.MaskedEq, value, mask);

    /// <summary>Some bit of <paramref name="mask"/> is set: <c>arg &amp; mask</c>.</summary>
    public ArgCondition AnySet(ulong mask) => !MaskedEq(mask, 0);

    /// <summary>No bit of <paramref name="mask"/> is set.</summary>
    public ArgCondition NoneSet(ulong mask) => MaskedEq(mask, 0);

    /// <summary>Every bit of <paramref name="mask"/> is set.</summary>
    public ArgCondition AllSet(ulong mask) => MaskedEq(mask, mask);

    private ArgCondition.Test Test(ComparisonOp op, ulong value) => new(this, op, value, ulong.MaxValue);

    internal int Resolve(Architecture arch, Syscall? syscall, string syscallName)
    {
        if (_index is int i)
            return i;
        int index = syscall?.IndexOfArg(_name!) ?? -1;
        if (index >= 0)
            return index;
        var known = syscall?.ArgNames ?? [];
        string? close = Suggest.Closest(_name!, known);
        throw new ArgumentException(
            $"{syscallName} has no argument '{_name}' on {arch.Name}{(close is null ? "" : $"; did you mean '{close}'?")} "
            + $"({(known.Count > 0 ? $"its arguments there: {string.Join(", ", known)}" : "no argument names are known there")}; or Arg(0..5))");
    }
}

/// <summary>A condition on the arguments: combine with <c>&amp;</c>, <c>|</c> and <c>!</c>.</summary>
public abstract class ArgCondition
{
    private protected ArgCondition() { }

    /// <summary>Both hold.</summary>
    public static ArgCondition operator &(ArgCondition left, ArgCondition right) => new Both(left, right);

    /// <summary>Either holds.</summary>
    public static ArgCondition operator |(ArgCondition left, ArgCondition right) => new Either(left, right);

    /// <summary>The negation.</summary>
    public static ArgCondition operator !(ArgCondition condition) => new Negation(condition);

    /// <summary>Both hold (same as <c>&amp;</c>).</summary>
    public ArgCondition And(ArgCondition other) => this & other;

    /// <summary>Either holds (same as <c>|</c>).</summary>
    public ArgCondition Or(ArgCondition other) => this | other;

    /// <summary>The negation (same as <c>!</c>).</summary>
    public ArgCondition Not() => !this;

    /// <summary>Same as <see cref="And"/>, for languages without operator overloading.</summary>
    public static ArgCondition BitwiseAnd(ArgCondition left, ArgCondition right) => left & right;

    /// <summary>Same as <see cref="Or"/>, for languages without operator overloading.</summary>
    public static ArgCondition BitwiseOr(ArgCondition left, ArgCondition right) => left | right;

    /// <summary>Same as <see cref="Not()"/>, for languages without operator overloading.</summary>
    public static ArgCondition LogicalNot(ArgCondition condition) => !condition;

    internal abstract Condition Lower(Architecture arch, Syscall? syscall, string syscallName);

    internal sealed class Test(ArgTest arg, ComparisonOp op, ulong value, ulong mask) : ArgCondition
    {
        /// <summary>The comparison at the width the kernel reads the argument; a constant that does not fit it throws.</summary>
        internal override Condition Lower(Architecture arch, Syscall? syscall, string syscallName)
        {
            var p = ArgPredicate.ForArgument(syscall, arg.Resolve(arch, syscall, syscallName), op, value, mask, out string? misfit);
            return misfit is null ? Condition.Of(p) : throw new ArgumentException($"{misfit} (on {arch.Name})");
        }

        public override string ToString()
        {
            string v = string.Create(CultureInfo.InvariantCulture, $"0x{value:x}");
            return op switch
            {
                ComparisonOp.MaskedEq => string.Create(CultureInfo.InvariantCulture, $"({arg.Label} & 0x{mask:x}) == 0x{value & mask:x}"),
                ComparisonOp.Eq => $"{arg.Label} == {v}",
                ComparisonOp.Ne => $"{arg.Label} != {v}",
                ComparisonOp.Lt => $"{arg.Label} < {v}",
                ComparisonOp.Le => $"{arg.Label} <= {v}",
                ComparisonOp.Gt => $"{arg.Label} > {v}",
                _ => $"{arg.Label} >= {v}",
            };
        }
    }

    private sealed class Both(ArgCondition left, ArgCondition right) : ArgCondition
    {
        internal override Condition Lower(Architecture arch, Syscall? syscall, string syscallName) =>
            Flatten<Condition.AllOf>(left.Lower(arch, syscall, syscallName), right.Lower(arch, syscall, syscallName), x => x.Conditions, Condition.All);

        public override string ToString() => $"({left} && {right})";
    }

    private sealed class Either(ArgCondition left, ArgCondition right) : ArgCondition
    {
        internal override Condition Lower(Architecture arch, Syscall? syscall, string syscallName) =>
            Flatten<Condition.AnyOf>(left.Lower(arch, syscall, syscallName), right.Lower(arch, syscall, syscallName), x => x.Conditions, Condition.Any);

        public override string ToString() => $"({left} || {right})";
    }

    private sealed class Negation(ArgCondition inner) : ArgCondition
    {
        internal override Condition Lower(Architecture arch, Syscall? syscall, string syscallName) =>
            inner.Lower(arch, syscall, syscallName) switch
            {
                Condition.Predicate { Value: var p } when p.Negated() is { } n => Condition.Of(n),
                Condition.NotOf { Inner: var x } => x,
                var c => Condition.Not(c),
            };

        public override string ToString() => $"!{inner}";
    }

    private static Condition Flatten<T>(Condition a, Condition b, Func<T, IReadOnlyList<Condition>> items, Func<IEnumerable<Condition>, Condition> make)
        where T : Condition =>
        make((a is T ta ? items(ta) : [a]).Concat(b is T tb ? items(tb) : [b]));
}
