using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Syscage.Ebpf.Vm;

/// <summary>
/// The RFC 9669 operations that are more than one IL instruction, shared by the interpreter and the JIT so the two
/// cannot disagree. Division by zero does not trap: <c>x / 0 = 0</c> and <c>x % 0 = x</c>; the signed overflow case
/// <c>INT_MIN / -1</c> gives <c>INT_MIN</c> and <c>INT_MIN % -1</c> gives 0 (what the kernel's x86 JIT and the
/// conformance suite do). 32-bit forms work on the low halves and zero the upper 32 bits of the result.
/// </summary>
/// <remarks>
/// The division methods are never inlined: inlined into a JIT-compiled program on .NET 10, RyuJIT narrowed the
/// caller's 64-bit register local in place when the method cast its argument to 32 bits (found by the differential
/// test in Release builds; a minimal case is <c>ldxsb r0; call local f; mod32 r7, r0; sdiv r0, K</c>). A call per
/// division keeps the JIT's output independent of that.
/// </remarks>
internal static class EbpfSemantics
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static ulong Div64(ulong a, ulong b) => b == 0 ? 0 : a / b;

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static ulong Mod64(ulong a, ulong b) => b == 0 ? a : a % b;

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static ulong Div32(ulong a, ulong b) => (uint)b == 0 ? 0 : (uint)a / (uint)b;

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static ulong Mod32(ulong a, ulong b) => (uint)b == 0 ? (uint)a : (uint)a % (uint)b;

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static ulong SDiv64(ulong a, ulong b)
    {
        long x = (long)a, y = (long)b;
        if (y == 0) return 0;
        if (y == -1) return (ulong)unchecked(-x); // INT_MIN / -1 wraps to INT_MIN
        return (ulong)(x / y);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static ulong SMod64(ulong a, ulong b)
    {
        long x = (long)a, y = (long)b;
        if (y == 0) return a;
        if (y == -1) return 0;
        return (ulong)(x % y);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static ulong SDiv32(ulong a, ulong b)
    {
        int x = (int)a, y = (int)b;
        if (y == 0) return 0;
        if (y == -1) return (uint)unchecked(-x);
        return (uint)(x / y);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static ulong SMod32(ulong a, ulong b)
    {
        int x = (int)a, y = (int)b;
        if (y == 0) return (uint)a;
        if (y == -1) return 0;
        return (uint)(x % y);
    }

    // BPF_DIV and BPF_MOD as an instruction states them: unsigned, or signed when its offset is 1 (the v4 sdiv/smod).
    // Named apart from the forms above: the JIT looks those up by name.
    public static ulong Quotient64(ulong a, ulong b, short offset) => offset == 1 ? SDiv64(a, b) : Div64(a, b);
    public static ulong Remainder64(ulong a, ulong b, short offset) => offset == 1 ? SMod64(a, b) : Mod64(a, b);
    public static ulong Quotient32(ulong a, ulong b, short offset) => offset == 1 ? SDiv32(a, b) : Div32(a, b);
    public static ulong Remainder32(ulong a, ulong b, short offset) => offset == 1 ? SMod32(a, b) : Mod32(a, b);

    /// <summary><c>BPF_END</c>: <paramref name="toBigEndian"/> selects <c>be</c> (swap on this little-endian host) or <c>le</c> (truncate only).</summary>
    public static ulong Endian(ulong v, int width, bool toBigEndian) => (width, toBigEndian) switch
    {
        (16, true) => BinaryPrimitives.ReverseEndianness((ushort)v),
        (32, true) => BinaryPrimitives.ReverseEndianness((uint)v),
        (64, true) => BinaryPrimitives.ReverseEndianness(v),
        (16, false) => (ushort)v,
        (32, false) => (uint)v,
        _ => v,
    };

    /// <summary>Signed jump conditions and unsigned ones on 64-bit operands.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static bool Condition64(byte op, ulong a, ulong b) => op switch
    {
        Isa.EbpfOpcode.BPF_JEQ => a == b,
        Isa.EbpfOpcode.BPF_JNE => a != b,
        Isa.EbpfOpcode.BPF_JGT => a > b,
        Isa.EbpfOpcode.BPF_JGE => a >= b,
        Isa.EbpfOpcode.BPF_JLT => a < b,
        Isa.EbpfOpcode.BPF_JLE => a <= b,
        Isa.EbpfOpcode.BPF_JSET => (a & b) != 0,
        Isa.EbpfOpcode.BPF_JSGT => (long)a > (long)b,
        Isa.EbpfOpcode.BPF_JSGE => (long)a >= (long)b,
        Isa.EbpfOpcode.BPF_JSLT => (long)a < (long)b,
        Isa.EbpfOpcode.BPF_JSLE => (long)a <= (long)b,
        _ => throw new InvalidOperationException($"not a conditional jump: 0x{op:x2}"),
    };

    /// <summary>The same on the low 32 bits (<c>BPF_JMP32</c>).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static bool Condition32(byte op, ulong a, ulong b) => op switch
    {
        Isa.EbpfOpcode.BPF_JSGT => (int)a > (int)b,
        Isa.EbpfOpcode.BPF_JSGE => (int)a >= (int)b,
        Isa.EbpfOpcode.BPF_JSLT => (int)a < (int)b,
        Isa.EbpfOpcode.BPF_JSLE => (int)a <= (int)b,
        _ => Condition64(op, (uint)a, (uint)b),
    };

    /// <summary><c>MOVSX</c>: sign-extend the low <paramref name="bits"/> of <paramref name="v"/> to 64 bits.</summary>
    public static ulong SignExtend(ulong v, int bits) => bits switch
    {
        8 => (ulong)(long)(sbyte)v,
        16 => (ulong)(long)(short)v,
        32 => (ulong)(long)(int)v,
        _ => v,
    };
}
