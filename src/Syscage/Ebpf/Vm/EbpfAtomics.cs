using System.Runtime.CompilerServices;

namespace Syscage.Ebpf.Vm;

/// <summary>Atomic read-modify-write operations .NET's <see cref="Interlocked"/> lacks; used by both engines.</summary>
internal static class EbpfAtomics
{
    /// <summary>Atomically <c>cell ^= v</c>; returns the old value.</summary>
    public static long Xor64(ref long cell, long v)
    {
        long old = Volatile.Read(ref cell);
        while (true)
        {
            long seen = Interlocked.CompareExchange(ref cell, old ^ v, old);
            if (seen == old) return old;
            old = seen;
        }
    }

    /// <summary>Atomically <c>cell ^= v</c> on 32 bits; returns the old value.</summary>
    public static int Xor32(ref int cell, int v)
    {
        int old = Volatile.Read(ref cell);
        while (true)
        {
            int seen = Interlocked.CompareExchange(ref cell, old ^ v, old);
            if (seen == old) return old;
            old = seen;
        }
    }

    // Pointer forms the JIT calls (IL cannot easily take a managed ref to an unmanaged address inline).
    // NoInlining: inlined into the compiled program, the 32-bit forms came out wrong on .NET 10 RyuJIT — the
    // register holding the 64-bit source operand lost its upper half after `lock cmpxchg32` (found by the
    // differential test in Release builds). A call per atomic instruction is the price of not depending on that.
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static unsafe long Add64(long* p, long v) => Interlocked.Add(ref Unsafe.AsRef<long>(p), v) - v;
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static unsafe long Or64(long* p, long v) => Interlocked.Or(ref Unsafe.AsRef<long>(p), v);
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static unsafe long And64(long* p, long v) => Interlocked.And(ref Unsafe.AsRef<long>(p), v);
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static unsafe long Xor64(long* p, long v) => Xor64(ref Unsafe.AsRef<long>(p), v);
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static unsafe long Xchg64(long* p, long v) => Interlocked.Exchange(ref Unsafe.AsRef<long>(p), v);
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static unsafe long CmpXchg64(long* p, long v, long expected) => Interlocked.CompareExchange(ref Unsafe.AsRef<long>(p), v, expected);
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static unsafe int Add32(int* p, int v) => Interlocked.Add(ref Unsafe.AsRef<int>(p), v) - v;
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static unsafe int Or32(int* p, int v) => Interlocked.Or(ref Unsafe.AsRef<int>(p), v);
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static unsafe int And32(int* p, int v) => Interlocked.And(ref Unsafe.AsRef<int>(p), v);
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static unsafe int Xor32(int* p, int v) => Xor32(ref Unsafe.AsRef<int>(p), v);
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static unsafe int Xchg32(int* p, int v) => Interlocked.Exchange(ref Unsafe.AsRef<int>(p), v);
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static unsafe int CmpXchg32(int* p, int v, int expected) => Interlocked.CompareExchange(ref Unsafe.AsRef<int>(p), v, expected);
}
