using System.Globalization;

namespace Syscage.Ebpf.Verifier;

/// <summary>
/// What the verifier knows about a 64-bit value: unsigned and signed bounds and known bits (a "tnum": bits set in
/// <see cref="Mask"/> are unknown, the others equal <see cref="Value"/>), kept consistent with each other as the
/// kernel's <c>reg_bounds_sync</c> does. For pointers it describes the variable part of the offset.
/// </summary>
/// <param name="UMin">Unsigned minimum.</param>
/// <param name="UMax">Unsigned maximum.</param>
/// <param name="SMin">Signed minimum.</param>
/// <param name="SMax">Signed maximum.</param>
/// <param name="Value">Known bits (bits under <see cref="Mask"/> are 0 here).</param>
/// <param name="Mask">Unknown bits.</param>
internal readonly record struct ScalarRange(ulong UMin, ulong UMax, long SMin, long SMax, ulong Value, ulong Mask)
{
    /// <summary>Nothing known.</summary>
    public static ScalarRange Unknown { get; } = new(0, ulong.MaxValue, long.MinValue, long.MaxValue, 0, ulong.MaxValue);

    /// <summary>Exactly <paramref name="v"/>.</summary>
    public static ScalarRange Const(ulong v) => new(v, v, (long)v, (long)v, v, 0);

    /// <summary>Any value in [0, 2^bits - 1] (a zero-extended load of that many bits).</summary>
    public static ScalarRange UnsignedBits(int bits) => bits >= 64 ? Unknown : FromUnsigned(0, (1UL << bits) - 1);

    /// <summary>Any value in [lo, hi] (unsigned).</summary>
    public static ScalarRange FromUnsigned(ulong lo, ulong hi) => (Unknown with { UMin = lo, UMax = hi }).Sync() ?? Unknown;

    /// <summary>True when the value is known exactly.</summary>
    public bool IsConst => Mask == 0;

    /// <summary>True when the value is known to be 0.</summary>
    public bool IsZero => Mask == 0 && Value == 0;

    /// <summary>
    /// Tightens every bound from the others; null when they contradict each other (the path is impossible).
    /// </summary>
    public ScalarRange? Sync()
    {
        ulong umin = UMin, umax = UMax, val = Value, mask = Mask;
        long smin = SMin, smax = SMax;
        for (int round = 0; round < 2; round++)
        {
            // Bounds from the known bits.
            umin = Math.Max(umin, val);
            umax = Math.Min(umax, val | mask);
            const ulong sign = 1UL << 63;
            smin = Math.Max(smin, (long)(val | (mask & sign)));
            smax = Math.Min(smax, (long)(val | (mask & ~sign)));
            // Signed and unsigned bounds agree when the range does not cross the sign boundary.
            if ((long)umin >= 0 == (long)umax >= 0 && umin <= umax)
            {
                smin = Math.Max(smin, (long)umin);
                smax = Math.Min(smax, (long)umax);
            }
            if (smin >= 0 == smax >= 0 && smin <= smax)
            {
                umin = Math.Max(umin, (ulong)smin);
                umax = Math.Min(umax, (ulong)smax);
            }
            if (umin > umax || smin > smax)
                return null;
            // Known bits from the unsigned range: the common prefix of umin and umax.
            var range = Tnum.Range(umin, umax);
            if (Tnum.Intersect(val, mask, range.Value, range.Mask) is not { } t)
                return null;
            (val, mask) = t;
        }
        if (umin > umax || smin > smax || (val & ~mask) != val)
            return null;
        return new ScalarRange(umin, umax, smin, smax, val, mask);
    }

    /// <summary>The smallest range holding both (used when joining facts from several paths).</summary>
    public ScalarRange Join(ScalarRange other)
    {
        ulong mask = Mask | other.Mask | (Value ^ other.Value);
        return new ScalarRange(Math.Min(UMin, other.UMin), Math.Max(UMax, other.UMax), Math.Min(SMin, other.SMin), Math.Max(SMax, other.SMax), Value & ~mask, mask);
    }

    /// <summary>True when every value this range allows is allowed by <paramref name="outer"/>.</summary>
    public bool IsWithin(ScalarRange outer) =>
        UMin >= outer.UMin && UMax <= outer.UMax && SMin >= outer.SMin && SMax <= outer.SMax
        && (Mask & ~outer.Mask) == 0 && (Value & ~outer.Mask) == outer.Value;

    /// <inheritdoc/>
    public override string ToString() => IsConst
        ? string.Create(CultureInfo.InvariantCulture, $"{(long)Value}")
        : string.Create(CultureInfo.InvariantCulture, $"[u {UMin}..{UMax}, s {SMin}..{SMax}, bits 0x{Value:x}/0x{Mask:x}]");
}

/// <summary>Tristate numbers (known bits), the kernel's <c>kernel/bpf/tnum.c</c> algorithms.</summary>
internal static class Tnum
{
    public static (ulong Value, ulong Mask) Range(ulong min, ulong max)
    {
        ulong chi = min ^ max;
        int bits = chi == 0 ? 0 : 64 - System.Numerics.BitOperations.LeadingZeroCount(chi);
        if (bits > 63)
            return (0, ulong.MaxValue);
        ulong delta = (1UL << bits) - 1;
        return (min & ~delta, delta);
    }

    public static (ulong, ulong)? Intersect(ulong av, ulong am, ulong bv, ulong bm)
    {
        // Known bits must agree where both know them.
        if (((av ^ bv) & ~am & ~bm) != 0)
            return null;
        ulong v = av | bv, mu = am & bm;
        return (v & ~mu, mu);
    }

    public static (ulong, ulong) Add(ulong av, ulong am, ulong bv, ulong bm)
    {
        ulong sm = am + bm, sv = av + bv, sigma = sm + sv, chi = sigma ^ sv, mu = chi | am | bm;
        return (sv & ~mu, mu);
    }

    public static (ulong, ulong) Sub(ulong av, ulong am, ulong bv, ulong bm)
    {
        ulong dv = av - bv, alpha = dv + am, beta = dv - bm, chi = alpha ^ beta, mu = chi | am | bm;
        return (dv & ~mu, mu);
    }

    public static (ulong, ulong) And(ulong av, ulong am, ulong bv, ulong bm)
    {
        ulong alpha = av | am, beta = bv | bm, v = av & bv;
        return (v, alpha & beta & ~v);
    }

    public static (ulong, ulong) Or(ulong av, ulong am, ulong bv, ulong bm)
    {
        ulong v = av | bv, mu = am | bm;
        return (v, mu & ~v);
    }

    public static (ulong, ulong) Xor(ulong av, ulong am, ulong bv, ulong bm)
    {
        ulong v = av ^ bv, mu = am | bm;
        return (v & ~mu, mu);
    }
}
