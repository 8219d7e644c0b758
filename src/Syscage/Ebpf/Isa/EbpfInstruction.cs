using System.Buffers.Binary;
using System.Globalization;

namespace Syscage.Ebpf.Isa;

/// <summary>
/// One 8-byte eBPF instruction slot, as the kernel's <c>struct bpf_insn</c>:
/// <c>__u8 code; __u8 dst_reg:4; __u8 src_reg:4; __s16 off; __s32 imm;</c> (little endian).
/// <c>lddw</c> takes two slots; the second carries the upper 32 bits of the constant in its <see cref="Imm"/>.
/// </summary>
/// <param name="Opcode">The opcode byte (<see cref="EbpfOpcode"/>).</param>
/// <param name="Dst">Destination register, 0..10 (4 bits).</param>
/// <param name="Src">Source register or pseudo source, 0..15 (4 bits).</param>
/// <param name="Offset">Signed 16-bit offset: memory displacement or jump distance in slots.</param>
/// <param name="Imm">Signed 32-bit immediate.</param>
public readonly record struct EbpfInstruction(byte Opcode, byte Dst, byte Src, short Offset, int Imm)
{
    /// <summary>Size of one slot in bytes.</summary>
    public const int Size = 8;

    /// <summary>Decodes one slot from 8 little-endian bytes.</summary>
    public static EbpfInstruction Read(ReadOnlySpan<byte> bytes) => new(
        bytes[0],
        (byte)(bytes[1] & 0x0f),
        (byte)(bytes[1] >> 4),
        BinaryPrimitives.ReadInt16LittleEndian(bytes[2..]),
        BinaryPrimitives.ReadInt32LittleEndian(bytes[4..]));

    /// <summary>Encodes the slot as 8 little-endian bytes.</summary>
    public void Write(Span<byte> destination)
    {
        destination[0] = Opcode;
        destination[1] = (byte)((Dst & 0x0f) | (Src << 4));
        BinaryPrimitives.WriteInt16LittleEndian(destination[2..], Offset);
        BinaryPrimitives.WriteInt32LittleEndian(destination[4..], Imm);
    }

    /// <summary>Decodes a whole program (any number of whole slots).</summary>
    public static EbpfInstruction[] ReadAll(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length % Size != 0)
            throw new SyscageException(string.Create(CultureInfo.InvariantCulture,
                $"truncated eBPF program: {bytes.Length} bytes is not a whole number of 8-byte instructions"));
        var result = new EbpfInstruction[bytes.Length / Size];
        for (int i = 0; i < result.Length; i++)
            result[i] = Read(bytes.Slice(i * Size, Size));
        return result;
    }

    /// <summary>Encodes a whole program.</summary>
    public static byte[] WriteAll(ReadOnlySpan<EbpfInstruction> instructions)
    {
        var bytes = new byte[instructions.Length * Size];
        for (int i = 0; i < instructions.Length; i++)
            instructions[i].Write(bytes.AsSpan(i * Size, Size));
        return bytes;
    }

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{{ code=0x{Opcode:x2} dst=r{Dst} src={Src} off={Offset} imm={Imm} }}");
}
