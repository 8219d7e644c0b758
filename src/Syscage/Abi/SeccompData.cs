using System.Buffers.Binary;

namespace Syscage.Abi;

/// <summary>
/// The input of a seccomp filter, the kernel's <c>struct seccomp_data</c>:
/// <c>int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6];</c> — 64 bytes, native (little) endian.
/// </summary>
public readonly struct SeccompData : IEquatable<SeccompData>
{
    /// <summary><c>sizeof(struct seccomp_data)</c>.</summary>
    public const int Size = 64;
    /// <summary>Offset of <c>nr</c>.</summary>
    public const int NrOffset = 0;
    /// <summary>Offset of <c>arch</c>.</summary>
    public const int ArchOffset = 4;
    /// <summary>Offset of <c>instruction_pointer</c>.</summary>
    public const int InstructionPointerOffset = 8;
    /// <summary>Offset of <c>args[0]</c>; <c>args[i]</c> is at <c>16 + 8*i</c>, its high half 4 bytes later.</summary>
    public const int ArgsOffset = 16;

    private readonly ulong _a0, _a1, _a2, _a3, _a4, _a5;

    /// <summary>Creates the data for one system call.</summary>
    public SeccompData(int nr, uint arch, ulong instructionPointer = 0, params ReadOnlySpan<ulong> args)
    {
        if (args.Length > 6)
            throw new ArgumentException("a system call has at most 6 arguments", nameof(args));
        Nr = nr;
        Arch = arch;
        InstructionPointer = instructionPointer;
        Span<ulong> a = stackalloc ulong[6];
        args.CopyTo(a);
        (_a0, _a1, _a2, _a3, _a4, _a5) = (a[0], a[1], a[2], a[3], a[4], a[5]);
    }

    /// <summary>The system call number (<c>nr</c>), as the kernel saw it, x32 bit included.</summary>
    public int Nr { get; }
    /// <summary>The <c>AUDIT_ARCH_*</c> value of the calling convention.</summary>
    public uint Arch { get; }
    /// <summary>The instruction pointer at the time of the call.</summary>
    public ulong InstructionPointer { get; }

    /// <summary>Argument <paramref name="index"/> (0..5), as a 64-bit register value.</summary>
    public ulong Arg(int index) => index switch
    {
        0 => _a0, 1 => _a1, 2 => _a2, 3 => _a3, 4 => _a4, 5 => _a5,
        _ => throw new ArgumentOutOfRangeException(nameof(index), index, "argument index is 0..5"),
    };

    /// <summary>A copy with <c>nr</c> replaced.</summary>
    public SeccompData WithNr(int nr) => new(nr, Arch, InstructionPointer, _a0, _a1, _a2, _a3, _a4, _a5);

    /// <summary>
    /// The 32-bit word at byte <paramref name="offset"/>, as <c>BPF_LD|BPF_W|BPF_ABS</c> reads it.
    /// The offset must be 4-byte aligned and below 64 (the validator guarantees it for programs).
    /// </summary>
    public uint ReadWord(uint offset)
    {
        if (offset >= Size || (offset & 3) != 0)
            throw new ArgumentOutOfRangeException(nameof(offset), offset, "seccomp_data loads are aligned 32-bit words below offset 64");
        return offset switch
        {
            NrOffset => unchecked((uint)Nr),
            ArchOffset => Arch,
            InstructionPointerOffset => (uint)InstructionPointer,
            InstructionPointerOffset + 4 => (uint)(InstructionPointer >> 32),
            _ => (offset & 4) == 0 ? (uint)Arg((int)(offset - ArgsOffset) / 8) : (uint)(Arg((int)(offset - ArgsOffset) / 8) >> 32),
        };
    }

    /// <summary>The 64 bytes the kernel hands the filter.</summary>
    public byte[] ToBytes()
    {
        var b = new byte[Size];
        WriteTo(b);
        return b;
    }

    /// <summary>Writes the 64 bytes the kernel hands the filter into <paramref name="b"/> (at least <see cref="Size"/> bytes).</summary>
    public void WriteTo(Span<byte> b)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(b.Length, Size, nameof(b));
        BinaryPrimitives.WriteInt32LittleEndian(b, Nr);
        BinaryPrimitives.WriteUInt32LittleEndian(b[4..], Arch);
        BinaryPrimitives.WriteUInt64LittleEndian(b[8..], InstructionPointer);
        for (int i = 0; i < 6; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(b[(ArgsOffset + 8 * i)..], Arg(i));
    }

    /// <inheritdoc/>
    public bool Equals(SeccompData other) =>
        Nr == other.Nr && Arch == other.Arch && InstructionPointer == other.InstructionPointer &&
        _a0 == other._a0 && _a1 == other._a1 && _a2 == other._a2 && _a3 == other._a3 && _a4 == other._a4 && _a5 == other._a5;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is SeccompData d && Equals(d);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Nr, Arch, InstructionPointer, _a0, _a1, _a2, HashCode.Combine(_a3, _a4, _a5));

    /// <summary>Equality.</summary>
    public static bool operator ==(SeccompData left, SeccompData right) => left.Equals(right);
    /// <summary>Inequality.</summary>
    public static bool operator !=(SeccompData left, SeccompData right) => !left.Equals(right);

    /// <inheritdoc/>
    public override string ToString() =>
        $"nr={Nr} arch=0x{Arch:x8} ip=0x{InstructionPointer:x} args=[0x{_a0:x}, 0x{_a1:x}, 0x{_a2:x}, 0x{_a3:x}, 0x{_a4:x}, 0x{_a5:x}]";
}
