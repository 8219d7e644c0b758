using System.Buffers.Binary;

namespace Syscage.Abi;

/// <summary>
/// The input of a seccomp filter, the kernel's <c>struct seccomp_data</c>:
/// <c>int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6];</c> — 64 bytes in the byte order of the machine
/// whose kernel fills it in. A filter reads it in 32-bit words (<see cref="ReadWord"/>): on a little-endian machine the
/// word at the offset of a 64-bit field is its low half, on a big-endian one (s390x, ppc64, mips, ...) its high half.
/// The byte order is the one of the call's ABI (<see cref="IsBigEndian"/>).
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
    /// <summary>
    /// Offset of <c>args[0]</c>; <c>args[i]</c> is at <c>16 + 8*i</c>. Which of its two words is the low half depends on
    /// the byte order (<see cref="WordOffset"/>).
    /// </summary>
    public const int ArgsOffset = 16;

    private readonly ulong _a0, _a1, _a2, _a3, _a4, _a5;

    /// <summary>
    /// The offset of the low (or, with <paramref name="highHalf"/>, the high) 32-bit word of the 64-bit field at
    /// <paramref name="fieldOffset"/> (<see cref="InstructionPointerOffset"/>, or <see cref="ArgsOffset"/> + 8*i): the
    /// field's own offset for the low half of a little-endian machine and the high half of a big-endian one, 4 more
    /// for the other half.
    /// </summary>
    public static uint WordOffset(uint fieldOffset, bool highHalf, bool bigEndian) => fieldOffset + (highHalf != bigEndian ? 4u : 0u);

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

    /// <summary>
    /// True when the machine that fills in this data is big-endian: what <see cref="Arch"/>'s <c>__AUDIT_ARCH_LE</c> bit
    /// says, for an architecture Syscage knows (<see cref="Architecture.IsBigEndian"/>) or not. A kernel's compat ABIs
    /// share its byte order, so the arch decides it.
    /// </summary>
    /// <remarks>
    /// A bit test, not a table lookup, and not a field: every notified call makes a <see cref="SeccompData"/> and copies
    /// it, and its 64 bytes are the kernel's.
    /// </remarks>
    public bool IsBigEndian => Architecture.IsBigEndianAuditArch(Arch);

    /// <summary>Argument <paramref name="index"/> (0..5), as a 64-bit register value.</summary>
    public ulong Arg(int index) => index switch
    {
        0 => _a0, 1 => _a1, 2 => _a2, 3 => _a3, 4 => _a4, 5 => _a5,
        _ => throw new ArgumentOutOfRangeException(nameof(index), index, "argument index is 0..5"),
    };

    /// <summary>
    /// The call as the syscall itself receives it: on a 32-bit ABI (<see cref="Architecture.Is64Bit"/> false) each
    /// argument cut to its low 32 bits — the kernel hands the filter whole registers (a 64-bit process can make an
    /// i386 call with <c>int 0x80</c> and anything in the high halves), but the call reads only the low half. This data
    /// itself for a 64-bit ABI or an unknown one.
    /// </summary>
    public SeccompData AsSyscallSeesIt() =>
        Architecture.Of(Arch, Nr) is { Is64Bit: false }
            ? new(Nr, Arch, InstructionPointer, (uint)_a0, (uint)_a1, (uint)_a2, (uint)_a3, (uint)_a4, (uint)_a5)
            : this;

    /// <summary>A copy with <c>nr</c> replaced.</summary>
    public SeccompData WithNr(int nr) => new(nr, Arch, InstructionPointer, _a0, _a1, _a2, _a3, _a4, _a5);

    /// <summary>
    /// The 32-bit word at byte <paramref name="offset"/>, as <c>BPF_LD|BPF_W|BPF_ABS</c> reads it on the machine of
    /// <see cref="Arch"/>: of a 64-bit field, the low half at the field's offset when little-endian, the high half when
    /// big-endian (<see cref="IsBigEndian"/>). The offset must be 4-byte aligned and below 64 (the validator guarantees
    /// it for programs).
    /// </summary>
    public uint ReadWord(uint offset)
    {
        if (offset >= Size || (offset & 3) != 0)
            throw new ArgumentOutOfRangeException(nameof(offset), offset, "seccomp_data loads are aligned 32-bit words below offset 64");
        if (offset == NrOffset)
            return unchecked((uint)Nr);
        if (offset == ArchOffset)
            return Arch;
        ulong field = offset < ArgsOffset ? InstructionPointer : Arg((int)(offset - ArgsOffset) / 8);
        bool high = ((offset & 4) != 0) != IsBigEndian;
        return high ? (uint)(field >> 32) : (uint)field;
    }

    /// <summary>
    /// The 64 bytes a little-endian kernel hands the filter (each field little-endian, whatever <see cref="Arch"/> says):
    /// the image of an x86 or arm machine, and the context an eBPF program (<c>bpfel</c>) reads.
    /// </summary>
    public byte[] ToBytes()
    {
        var b = new byte[Size];
        WriteTo(b);
        return b;
    }

    /// <summary>Writes the little-endian image of <see cref="ToBytes"/> into <paramref name="b"/> (at least <see cref="Size"/> bytes).</summary>
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
