using System.Buffers.Binary;
using static Syscage.Ebpf.Isa.EbpfOpcode;

namespace Syscage.Ebpf.Verifier;

/// <summary>
/// ALU operations on <see cref="ScalarRange"/>s. Constants are computed exactly with the runtime semantics
/// (RFC 9669: shifts masked to the operand width, x/0 = 0, x%0 = x, signed division with <c>off = 1</c>);
/// otherwise the result is a sound over-approximation.
/// </summary>
internal static class ScalarAlu
{
    /// <summary>The exact result of one ALU operation on constants (<c>BPF_END</c> excluded).</summary>
    public static ulong Eval(byte op, bool is64, ulong a, ulong b, short off)
    {
        if (!is64)
        {
            uint x = (uint)a, y = (uint)b;
            uint r = op switch
            {
                BPF_ADD => x + y,
                BPF_SUB => x - y,
                BPF_MUL => x * y,
                BPF_DIV => off == 1 ? (uint)SDiv32((int)x, (int)y) : y == 0 ? 0 : x / y,
                BPF_MOD => off == 1 ? (uint)SMod32((int)x, (int)y) : y == 0 ? x : x % y,
                BPF_OR => x | y,
                BPF_AND => x & y,
                BPF_XOR => x ^ y,
                BPF_LSH => x << (int)(y & 31),
                BPF_RSH => x >> (int)(y & 31),
                BPF_ARSH => (uint)((int)x >> (int)(y & 31)),
                BPF_NEG => (uint)-(int)x,
                BPF_MOV => off switch { 8 => (uint)(sbyte)y, 16 => (uint)(short)y, _ => y },
                _ => throw new InvalidOperationException("not an ALU operation"),
            };
            return r;
        }
        return op switch
        {
            BPF_ADD => a + b,
            BPF_SUB => a - b,
            BPF_MUL => a * b,
            BPF_DIV => off == 1 ? (ulong)SDiv64((long)a, (long)b) : b == 0 ? 0 : a / b,
            BPF_MOD => off == 1 ? (ulong)SMod64((long)a, (long)b) : b == 0 ? a : a % b,
            BPF_OR => a | b,
            BPF_AND => a & b,
            BPF_XOR => a ^ b,
            BPF_LSH => a << (int)(b & 63),
            BPF_RSH => a >> (int)(b & 63),
            BPF_ARSH => (ulong)((long)a >> (int)(b & 63)),
            BPF_NEG => (ulong)-(long)a,
            BPF_MOV => off switch { 8 => (ulong)(sbyte)b, 16 => (ulong)(short)b, 32 => (ulong)(int)b, _ => b },
            _ => throw new InvalidOperationException("not an ALU operation"),
        };
    }

    private static int SDiv32(int x, int y) => y == 0 ? 0 : x == int.MinValue && y == -1 ? int.MinValue : x / y;
    private static int SMod32(int x, int y) => y == 0 ? x : y == -1 ? 0 : x % y;
    private static long SDiv64(long x, long y) => y == 0 ? 0 : x == long.MinValue && y == -1 ? long.MinValue : x / y;
    private static long SMod64(long x, long y) => y == 0 ? x : y == -1 ? 0 : x % y;

    /// <summary><c>BPF_END</c>: byte swap (<paramref name="alu64"/>: unconditional bswap) or conversion to/from little/big endian.</summary>
    public static ulong EvalEnd(bool alu64, bool toBig, int width, ulong a)
    {
        bool swap = alu64 || toBig; // the host (and the VM) is little endian
        return width switch
        {
            16 => swap ? BinaryPrimitives.ReverseEndianness((ushort)a) : (ushort)a,
            32 => swap ? BinaryPrimitives.ReverseEndianness((uint)a) : (uint)a,
            _ => swap ? BinaryPrimitives.ReverseEndianness(a) : a,
        };
    }

    /// <summary>The abstract result of <c>BPF_END</c>.</summary>
    public static ScalarRange End(bool alu64, bool toBig, int width, ScalarRange a)
    {
        if (a.IsConst)
            return ScalarRange.Const(EvalEnd(alu64, toBig, width, a.Value));
        if (!alu64 && !toBig && width < 64)
            return Truncate(a, width); // to-LE on a little-endian machine only zero-extends
        return ScalarRange.UnsignedBits(width);
    }

    /// <summary>The value's low <paramref name="bits"/> bits, zero-extended.</summary>
    public static ScalarRange Truncate(ScalarRange a, int bits)
    {
        if (bits >= 64)
            return a;
        ulong max = (1UL << bits) - 1;
        if (a.UMax <= max)
            return a;
        return (ScalarRange.UnsignedBits(bits) with { Value = a.Value & max, Mask = a.Mask & max }).Sync() ?? ScalarRange.UnsignedBits(bits);
    }

    /// <summary>The abstract result of one ALU operation (<c>BPF_END</c> excluded).</summary>
    public static ScalarRange Alu(byte op, bool is64, ScalarRange a, ScalarRange b, short off)
    {
        if (a.IsConst && b.IsConst)
            return ScalarRange.Const(Eval(op, is64, a.Value, b.Value, off));
        if (op == BPF_MOV)
        {
            if (off == 0)
                return is64 ? b : Truncate(b, 32);
            // Sign-extending move: exact when the source's sign bit (in the given width) is known clear.
            var narrow = Truncate(b, off);
            if (narrow.UMax < 1UL << (off - 1))
                return is64 ? narrow : Truncate(narrow, 32);
            return is64 ? ScalarRange.Unknown : ScalarRange.UnsignedBits(32);
        }
        if (!is64)
        {
            a = Truncate(a, 32);
            b = Truncate(b, 32);
            if (op == BPF_ARSH && a.UMax > int.MaxValue || off == 1 || op == BPF_NEG)
                return ScalarRange.UnsignedBits(32);
            var wide = Alu64(op, a, b, 32);
            return Truncate(wide, 32);
        }
        if (off == 1 || op == BPF_NEG)
            return ScalarRange.Unknown;
        return Alu64(op, a, b, 64);
    }

    private static ScalarRange Alu64(byte op, ScalarRange a, ScalarRange b, int width)
    {
        var u = ScalarRange.Unknown;
        ScalarRange r;
        switch (op)
        {
            case BPF_ADD:
            {
                var (v, m) = Tnum.Add(a.Value, a.Mask, b.Value, b.Mask);
                r = u with { Value = v, Mask = m };
                if (a.UMax <= ulong.MaxValue - b.UMax)
                    r = r with { UMin = a.UMin + b.UMin, UMax = a.UMax + b.UMax };
                if (!AddOverflows(a.SMin, b.SMin) && !AddOverflows(a.SMax, b.SMax))
                    r = r with { SMin = a.SMin + b.SMin, SMax = a.SMax + b.SMax };
                break;
            }
            case BPF_SUB:
            {
                var (v, m) = Tnum.Sub(a.Value, a.Mask, b.Value, b.Mask);
                r = u with { Value = v, Mask = m };
                if (a.UMin >= b.UMax)
                    r = r with { UMin = a.UMin - b.UMax, UMax = a.UMax - b.UMin };
                if (!SubOverflows(a.SMin, b.SMax) && !SubOverflows(a.SMax, b.SMin))
                    r = r with { SMin = a.SMin - b.SMax, SMax = a.SMax - b.SMin };
                break;
            }
            case BPF_MUL:
                r = u;
                if (a.UMax <= uint.MaxValue && b.UMax <= uint.MaxValue)
                    r = r with { UMin = a.UMin * b.UMin, UMax = a.UMax * b.UMax };
                break;
            case BPF_AND:
            {
                var (v, m) = Tnum.And(a.Value, a.Mask, b.Value, b.Mask);
                r = u with { Value = v, Mask = m, UMax = Math.Min(a.UMax, b.UMax) };
                break;
            }
            case BPF_OR:
            {
                var (v, m) = Tnum.Or(a.Value, a.Mask, b.Value, b.Mask);
                r = u with { Value = v, Mask = m, UMin = Math.Max(a.UMin, b.UMin) };
                break;
            }
            case BPF_XOR:
            {
                var (v, m) = Tnum.Xor(a.Value, a.Mask, b.Value, b.Mask);
                r = u with { Value = v, Mask = m };
                break;
            }
            case BPF_LSH when b.IsConst:
            {
                int k = (int)(b.Value & (ulong)(width - 1));
                r = u with { Value = a.Value << k, Mask = a.Mask << k };
                if (k == 0 || a.UMax >> (64 - k) == 0)
                    r = r with { UMin = a.UMin << k, UMax = a.UMax << k };
                break;
            }
            case BPF_RSH when b.IsConst:
            {
                int k = (int)(b.Value & (ulong)(width - 1));
                r = u with { Value = a.Value >> k, Mask = a.Mask >> k, UMin = a.UMin >> k, UMax = a.UMax >> k };
                break;
            }
            case BPF_ARSH when b.IsConst:
            {
                int k = (int)(b.Value & (ulong)(width - 1));
                r = u with { Value = (ulong)((long)a.Value >> k), Mask = (ulong)((long)a.Mask >> k), SMin = a.SMin >> k, SMax = a.SMax >> k };
                break;
            }
            case BPF_RSH:
                r = u with { UMax = a.UMax }; // shifting right never grows an unsigned value
                break;
            case BPF_DIV:
                // x / y <= x for every y (and x / 0 = 0).
                r = b.IsConst && b.Value != 0 ? u with { UMin = a.UMin / b.Value, UMax = a.UMax / b.Value } : u with { UMax = a.UMax };
                break;
            case BPF_MOD:
                // x % y <= x, and x % y < y when y > 0 (x % 0 = x).
                r = u with { UMax = b.UMin > 0 ? Math.Min(a.UMax, b.UMax - 1) : a.UMax };
                break;
            default:
                r = u;
                break;
        }
        return r.Sync() ?? ScalarRange.Unknown;
    }

    private static bool AddOverflows(long x, long y) => y > 0 ? x > long.MaxValue - y : x < long.MinValue - y;
    private static bool SubOverflows(long x, long y) => y < 0 ? x > long.MaxValue + y : x < long.MinValue + y;
}
