using System.Globalization;
using Syscage.Abi;

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
/// One comparison of argument <see cref="Arg"/> with a constant, made at <see cref="Width"/> bits: the width at which
/// the kernel reads the argument (its syscall wrapper casts the register to the declared type, so an <c>int</c> is
/// its low 32 bits, an <c>umode_t</c> its low 16). Both sides are reduced to that width and compared unsigned; on a
/// 32-bit ABI only the low 32 bits exist, so there nothing is wider than 32 (see <see cref="At"/>). The front-ends
/// set the width from the syscall tables (<see cref="Syscall.ArgWidth"/>); 64, the default, compares the
/// whole register.
/// </summary>
/// <param name="Arg">Argument index, 0..5.</param>
/// <param name="Op">The comparison.</param>
/// <param name="Value">The constant compared with.</param>
/// <param name="Mask">For <see cref="ComparisonOp.MaskedEq"/>: the mask; ignored otherwise (all ones).</param>
/// <param name="Width">The width in bits the comparison is made at: 8, 16, 32 or 64.</param>
public sealed record ArgPredicate(int Arg, ComparisonOp Op, ulong Value, ulong Mask = ulong.MaxValue, int Width = ArgPredicate.FullWidth)
{
    /// <summary>The width of a whole register of a 64-bit ABI, and of a comparison that is not narrowed.</summary>
    public const int FullWidth = 64;

    /// <summary>The width of a register of a 32-bit ABI.</summary>
    public const int RegisterWidth32 = 32;

    private readonly int _width = CheckWidth(Width);

    /// <summary>Checks the argument index.</summary>
    public int Arg { get; } = Arg is >= 0 and <= 5 ? Arg : throw new ArgumentOutOfRangeException(nameof(Arg), Arg, "argument index is 0..5");

    /// <summary>The width in bits the comparison is made at: 8, 16, 32 or 64 (checked).</summary>
    public int Width { get => _width; init => _width = CheckWidth(value); }

    private static int CheckWidth(int width) =>
        width is 8 or 16 or 32 or FullWidth ? width : throw new ArgumentOutOfRangeException(nameof(Width), width, "a comparison is made at 8, 16, 32 or 64 bits");

    /// <summary>The values of <paramref name="bits"/> bits: <c>2^bits - 1</c> (all ones for 64).</summary>
    public static ulong WidthMask(int bits) => bits >= FullWidth ? ulong.MaxValue : (1UL << bits) - 1;

    /// <summary>
    /// True when <paramref name="value"/> is a value of a <paramref name="bits"/>-bit type: it fits unsigned
    /// (<c>0..2^bits-1</c>), or it is a negative value of that width sign-extended to 64 bits (<c>-1</c>,
    /// <c>AT_FDCWD</c>), as a C library passes a negative <c>int</c>.
    /// </summary>
    public static bool Fits(ulong value, int bits)
    {
        ulong max = WidthMask(bits);
        return value <= max || value >= ~(max >> 1);
    }

    /// <summary>
    /// The comparison <c>arg OP value</c> (for <see cref="ComparisonOp.MaskedEq"/>: <c>(arg &amp; mask) == value</c>) of
    /// argument <paramref name="index"/> of <paramref name="syscall"/>, made at the width the kernel reads that argument
    /// (<see cref="Syscall.ArgWidth"/>; 64 for a call the tables do not know), with the constant reduced to it.
    /// </summary>
    /// <param name="syscall">The call on the architecture the rule is for, or null when the tables do not know it.</param>
    /// <param name="index">The argument, 0..5.</param>
    /// <param name="op">The comparison.</param>
    /// <param name="value">The value compared with (for MaskedEq: the datum).</param>
    /// <param name="mask">For MaskedEq: the mask.</param>
    /// <param name="misfit">
    /// Null when the constant fits the width (<see cref="Fits"/>; for MaskedEq the mask is what must fit); else why not,
    /// e.g. <c>0x100000028 does not fit socket's domain (int, 32 bits): the kernel reads only its low 32 bits, 0x28</c>.
    /// The policy language makes it an error, OCI profiles a warning.
    /// </param>
    public static ArgPredicate ForArgument(Syscall? syscall, int index, ComparisonOp op, ulong value, ulong mask, out string? misfit)
    {
        int width = syscall?.ArgWidth(index) ?? FullWidth;
        ulong m = WidthMask(width);
        ulong constant = op == ComparisonOp.MaskedEq ? mask : value;
        misfit = null;
        if (!Fits(constant, width))
        {
            string name = syscall!.ArgNames.Count > index ? syscall.ArgNames[index] : string.Create(CultureInfo.InvariantCulture, $"arg{index}");
            string what = op == ComparisonOp.MaskedEq ? "the mask " : "";
            misfit = string.Create(CultureInfo.InvariantCulture,
                $"{what}0x{constant:x} does not fit {syscall.Name}'s {name} ({syscall.ArgType(index)}, {width} bits): the kernel reads only its low {width} bits, 0x{constant & m:x}");
        }
        return new ArgPredicate(index, op, value & m, op == ComparisonOp.MaskedEq ? mask & m : ulong.MaxValue, width);
    }

    /// <summary>The width the comparison is made at on an ABI: <see cref="Width"/>, at most 32 on a 32-bit ABI.</summary>
    public int WidthOn(bool is64Bit) => is64Bit ? Width : Math.Min(Width, RegisterWidth32);

    /// <summary>
    /// The comparison as a filter makes it on an ABI: the width capped by the ABI's registers (<see cref="WidthOn"/>),
    /// value (and for MaskedEq the mask) reduced to it; this same predicate when nothing changes. The reference evaluator, the compiler and the explanations all start from it.
    /// </summary>
    public ArgPredicate At(bool is64Bit)
    {
        int width = WidthOn(is64Bit);
        ulong m = WidthMask(width);
        ulong mask = Op == ComparisonOp.MaskedEq ? Mask & m : Mask;   // only MaskedEq reads the mask
        return width == Width && (Value & m) == Value && mask == Mask ? this : this with { Width = width, Value = Value & m, Mask = mask };
    }

    /// <summary>
    /// The predicate's truth for an argument value: argument, value and mask reduced to the width the comparison is
    /// made at on the ABI (<see cref="At"/>), then compared unsigned.
    /// </summary>
    public bool Evaluate(ulong arg, bool is64Bit = true)
    {
        var p = At(is64Bit);
        arg &= WidthMask(p.Width);
        ulong value = p.Value, mask = p.Mask;
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
    /// Argument values where this predicate's truth (or the 32-bit halves the compiled code compares) changes, or
    /// where a wrong compilation would show: the value and its neighbours, the half-word edges, sign edges, for a
    /// narrowed comparison the edges of its width and values that differ from the value only above it, and for a mask
    /// the datum, with every bit outside the mask set, its complement within the mask, and with the mask's lowest and
    /// highest bits flipped (not every bit). Compiler tests and the equivalence checker sweep them.
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
        // The edges of every width the comparison can be made at (its own, and 32 on a 32-bit ABI): the largest
        // value, the sign edge, the first value past it; the value reduced, and with bits set just above the width
        // or everywhere above it, which the kernel ignores.
        foreach (int width in new[] { Width, WidthOn(false) }.Distinct().Where(w => w < FullWidth))
        {
            ulong m = WidthMask(width), above = m + 1;
            set.Add(m);
            set.Add(above);
            set.Add(m >> 1);
            set.Add((m >> 1) + 1);
            set.Add(v & m);
            set.Add(unchecked((v & m) - 1) & m);
            set.Add(((v & m) + 1) & m);
            set.Add((v & m) | above);
            set.Add(unchecked(v + above));
            set.Add((v & m) | ~m);
            set.Add(v ^ above);
        }
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

    /// <summary>The comparison with the argument written <c>argN</c>, <c>argN.loW</c> when narrowed (see <see cref="FormatAtWidth"/>).</summary>
    public override string ToString() => FormatAtWidth(string.Create(CultureInfo.InvariantCulture, $"arg{Arg}"));

    /// <summary>
    /// The comparison written with <paramref name="argument"/> for the argument, followed by <c>.loW</c> when it is made
    /// on the low <c>W</c> bits only: <c>arg0.lo32 == 0x28</c>, <c>$a1.lo16 == 0x9ed</c>.
    /// </summary>
    public string FormatAtWidth(string argument) =>
        Format(Width < FullWidth ? string.Create(CultureInfo.InvariantCulture, $"{argument}.lo{Width}") : argument);

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
