using System.Buffers.Binary;
using System.Globalization;

namespace Syscage.Bpf;

/// <summary>
/// One classic BPF instruction, laid out like the kernel's <c>struct sock_filter</c>
/// (<c>__u16 code; __u8 jt; __u8 jf; __u32 k;</c>).
/// </summary>
/// <param name="Code">The opcode (<see cref="Opcode"/>).</param>
/// <param name="Jt">Conditional jumps: instructions to skip when the condition holds.</param>
/// <param name="Jf">Conditional jumps: instructions to skip when it does not.</param>
/// <param name="K">The generic immediate operand.</param>
public readonly record struct Instruction(ushort Code, byte Jt, byte Jf, uint K)
{
    /// <summary>Size of one instruction in the raw <c>sock_filter</c> format.</summary>
    public const int Size = 8;

    /// <summary><c>BPF_STMT(code, k)</c>.</summary>
    public static Instruction Stmt(ushort code, uint k) => new(code, 0, 0, k);

    /// <summary><c>BPF_JUMP(code, k, jt, jf)</c>.</summary>
    public static Instruction Jump(ushort code, uint k, byte jt, byte jf) => new(code, jt, jf, k);

    /// <summary>Reads one instruction from 8 little-endian bytes.</summary>
    public static Instruction Read(ReadOnlySpan<byte> bytes) => new(
        BinaryPrimitives.ReadUInt16LittleEndian(bytes),
        bytes[2],
        bytes[3],
        BinaryPrimitives.ReadUInt32LittleEndian(bytes[4..]));

    /// <summary>Writes the instruction as 8 little-endian bytes.</summary>
    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(destination, Code);
        destination[2] = Jt;
        destination[3] = Jf;
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], K);
    }

    /// <summary>The raw fields in the C initialiser form used by <c>struct sock_filter</c> arrays.</summary>
    public string ToRawString() => string.Create(CultureInfo.InvariantCulture, $"{{ 0x{Code:x2}, {Jt}, {Jf}, 0x{K:x8} }}");

    /// <inheritdoc/>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Opcode.Name(Code)} jt={Jt} jf={Jf} k=0x{K:x}");
}
