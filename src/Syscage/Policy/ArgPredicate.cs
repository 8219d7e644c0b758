using System.Globalization;

namespace Syscage.Policy;

/// <summary>The comparisons a rule can make on a system-call argument (libseccomp's <c>enum scmp_compare</c>).</summary>
public enum ComparisonOp
{
    /// <summary><c>arg == value</c>.</summary>
    Eq,
    /// <summary><c>arg != value</c>.</summary>
    Ne,
    /// <summary><c>arg &lt; value</c>, unsigned.</summary>
    Lt,
    /// <summary><c>arg &lt;= value</c>, unsigned.</summary>
    Le,
    /// <summary><c>arg &gt; value</c>, unsigned.</summary>
    Gt,
    /// <summary><c>arg &gt;= value</c>, unsigned.</summary>
    Ge,
    /// <summary><c>(arg &amp; mask) == (value &amp; mask)</c>, libseccomp's <c>SCMP_CMP_MASKED_EQ</c>.</summary>
    MaskedEq,
}

/// <summary>
/// One comparison of argument <see cref="Arg"/> with a constant. Values are unsigned 64-bit; on a 32-bit ABI
/// only the low 32 bits exist, so there the argument, value and mask are all taken modulo 2^32
/// (see <see cref="Evaluate(ulong, bool)"/>).
/// </summary>
/// <param name="Arg">Argument index, 0..5.</param>
/// <param name="Op">The comparison.</param>
/// <param name="Value">The constant compared with.</param>
/// <param name="Mask">For <see cref="ComparisonOp.MaskedEq"/>: the mask; ignored otherwise (all ones).</param>
public sealed record ArgPredicate(int Arg, ComparisonOp Op, ulong Value, ulong Mask = ulong.MaxValue)
{
    /// <summary>Checks the argument index.</summary>
    public int Arg { get; } = Arg is >= 0 and <= 5 ? Arg : throw new ArgumentOutOfRangeException(nameof(Arg), Arg, "argument index is 0..5");

    /// <summary>
    /// The predicate's truth for an argument value. On a 32-bit ABI (<paramref name="is64Bit"/> false) the
    /// comparison is on the low 32 bits of the argument, value and mask.
    /// </summary>
    public bool Evaluate(ulong arg, bool is64Bit = true)
    {
        ulong value = Value, mask = Mask;
        if (!is64Bit)
        {
            arg &= uint.MaxValue;
            value &= uint.MaxValue;
            mask &= uint.MaxValue;
        }
        return Op switch
        {
            ComparisonOp.Eq => arg == value,
            ComparisonOp.Ne => arg != value,
            ComparisonOp.Lt => arg < value,
            ComparisonOp.Le => arg <= value,
            ComparisonOp.Gt => arg > value,
            ComparisonOp.Ge => arg >= value,
            _ => (arg & mask) == (value & mask),
        };
    }

    /// <summary>The predicate with the opposite truth value (MaskedEq has no single negation and returns null).</summary>
    public ArgPredicate? Negated() => Op switch
    {
        ComparisonOp.Eq => this with { Op = ComparisonOp.Ne },
        ComparisonOp.Ne => this with { Op = ComparisonOp.Eq },
        ComparisonOp.Lt => this with { Op = ComparisonOp.Ge },
        ComparisonOp.Ge => this with { Op = ComparisonOp.Lt },
        ComparisonOp.Le => this with { Op = ComparisonOp.Gt },
        ComparisonOp.Gt => this with { Op = ComparisonOp.Le },
        _ => null,
    };

    /// <summary>
    /// Argument values around every point where this predicate's truth (or the 32-bit halves the compiled
    /// code compares) can change: the value and its neighbours, the half-word edges, sign edges, the mask's
    /// bits set and cleared. Compiler tests and the equivalence checker sweep them.
    /// </summary>
    public IEnumerable<ulong> InterestingValues()
    {
        ulong v = Value;
        var set = new SortedSet<ulong>
        {
            0, 1, uint.MaxValue, (ulong)uint.MaxValue + 1, ulong.MaxValue, 0x8000_0000, 0x7fff_ffff,
            0x8000_0000_0000_0000, 0x7fff_ffff_ffff_ffff,
            v, unchecked(v - 1), unchecked(v + 1),
            v & uint.MaxValue, v & 0xffff_ffff_0000_0000,
            v ^ 0x1_0000_0000, v ^ 1,                                 // differ only in the high / low half
            unchecked(v + 0x1_0000_0000), unchecked(v - 0x1_0000_0000),
            (v & 0xffff_ffff_0000_0000) | uint.MaxValue,
        };
        if (Op == ComparisonOp.MaskedEq)
        {
            ulong m = Mask;
            set.Add(v & m);
            set.Add((v & m) | ~m);
            set.Add(~v & m);
            for (int bit = 0; bit < 64; bit++)
                if ((m & (1UL << bit)) != 0)
                {
                    set.Add((v & m) ^ (1UL << bit));
                    break;
                }
            for (int bit = 63; bit >= 0; bit--)
                if ((m & (1UL << bit)) != 0)
                {
                    set.Add((v & m) ^ (1UL << bit));
                    break;
                }
        }
        return set;
    }

    /// <inheritdoc/>
    public override string ToString() => Format($"arg{Arg}");

    /// <summary>The comparison written with <paramref name="argument"/> for the argument, e.g. <c>$a2 &gt; 0x10</c>.</summary>
    public string Format(string argument)
    {
        string hex(ulong x) => x < 10 ? x.ToString(CultureInfo.InvariantCulture) : string.Create(CultureInfo.InvariantCulture, $"0x{x:x}");
        return Op switch
        {
            ComparisonOp.Eq => $"{argument} == {hex(Value)}",
            ComparisonOp.Ne => $"{argument} != {hex(Value)}",
            ComparisonOp.Lt => $"{argument} < {hex(Value)}",
            ComparisonOp.Le => $"{argument} <= {hex(Value)}",
            ComparisonOp.Gt => $"{argument} > {hex(Value)}",
            ComparisonOp.Ge => $"{argument} >= {hex(Value)}",
            _ => $"({argument} & {hex(Mask)}) == {hex(Value & Mask)}",
        };
    }
}
