namespace Syscage.Ebpf.Isa;

/// <summary>
/// eBPF opcode fields with the kernel's names (<c>include/uapi/linux/bpf.h</c>, <c>bpf_common.h</c>; RFC 9669).
/// An opcode byte is <c>class | op | source</c> for ALU and jumps and <c>class | size | mode</c> for memory.
/// </summary>
public static class EbpfOpcode
{
#pragma warning disable CS1591 // Kernel names; see include/uapi/linux/bpf.h and RFC 9669.
    // Instruction classes.
    public const byte BPF_LD = 0x00;
    public const byte BPF_LDX = 0x01;
    public const byte BPF_ST = 0x02;
    public const byte BPF_STX = 0x03;
    public const byte BPF_ALU = 0x04;
    public const byte BPF_JMP = 0x05;
    public const byte BPF_JMP32 = 0x06;
    public const byte BPF_ALU64 = 0x07;

    // Sizes.
    public const byte BPF_W = 0x00;
    public const byte BPF_H = 0x08;
    public const byte BPF_B = 0x10;
    public const byte BPF_DW = 0x18;

    // Memory modes.
    public const byte BPF_IMM = 0x00;
    public const byte BPF_ABS = 0x20;
    public const byte BPF_IND = 0x40;
    public const byte BPF_MEM = 0x60;
    public const byte BPF_MEMSX = 0x80;
    public const byte BPF_ATOMIC = 0xc0;

    // Source.
    public const byte BPF_K = 0x00;
    public const byte BPF_X = 0x08;
    /// <summary>For <c>BPF_END</c>: convert to little endian (ALU) — in ALU64 class it is the unconditional <c>bswap</c>.</summary>
    public const byte BPF_TO_LE = 0x00;
    /// <summary>For <c>BPF_END</c>: convert to big endian.</summary>
    public const byte BPF_TO_BE = 0x08;

    // ALU operations.
    public const byte BPF_ADD = 0x00;
    public const byte BPF_SUB = 0x10;
    public const byte BPF_MUL = 0x20;
    public const byte BPF_DIV = 0x30;
    public const byte BPF_OR = 0x40;
    public const byte BPF_AND = 0x50;
    public const byte BPF_LSH = 0x60;
    public const byte BPF_RSH = 0x70;
    public const byte BPF_NEG = 0x80;
    public const byte BPF_MOD = 0x90;
    public const byte BPF_XOR = 0xa0;
    public const byte BPF_MOV = 0xb0;
    public const byte BPF_ARSH = 0xc0;
    public const byte BPF_END = 0xd0;

    // Jump operations.
    public const byte BPF_JA = 0x00;
    public const byte BPF_JEQ = 0x10;
    public const byte BPF_JGT = 0x20;
    public const byte BPF_JGE = 0x30;
    public const byte BPF_JSET = 0x40;
    public const byte BPF_JNE = 0x50;
    public const byte BPF_JSGT = 0x60;
    public const byte BPF_JSGE = 0x70;
    public const byte BPF_CALL = 0x80;
    public const byte BPF_EXIT = 0x90;
    public const byte BPF_JLT = 0xa0;
    public const byte BPF_JLE = 0xb0;
    public const byte BPF_JSLT = 0xc0;
    public const byte BPF_JSLE = 0xd0;

    // Atomic operations (in imm of BPF_STX | BPF_ATOMIC).
    public const int BPF_FETCH = 0x01;
    public const int BPF_XCHG = 0xe0 | BPF_FETCH;
    public const int BPF_CMPXCHG = 0xf0 | BPF_FETCH;

    // Pseudo sources.
    /// <summary><c>lddw</c> src: imm is a map fd (or, in an ELF object, a relocation to a map).</summary>
    public const byte BPF_PSEUDO_MAP_FD = 1;
    /// <summary><c>lddw</c> src: imm is a map fd and the next imm an offset into its value.</summary>
    public const byte BPF_PSEUDO_MAP_VALUE = 2;
    /// <summary><c>call</c> src: a bpf-to-bpf call, imm is the pc-relative target.</summary>
    public const byte BPF_PSEUDO_CALL = 1;
    /// <summary><c>call</c> src: a call to a kernel function by BTF id (not supported by Syscage).</summary>
    public const byte BPF_PSEUDO_KFUNC_CALL = 2;

    /// <summary>Registers: r0 return value, r1-r5 arguments, r6-r9 callee-saved, r10 read-only frame pointer.</summary>
    public const int MAX_BPF_REG = 11;
    /// <summary>The frame pointer register.</summary>
    public const int BPF_REG_FP = 10;
    /// <summary>Stack bytes per frame (<c>MAX_BPF_STACK</c>).</summary>
    public const int MAX_BPF_STACK = 512;
#pragma warning restore CS1591

    /// <summary><c>BPF_CLASS(code)</c>.</summary>
    public static byte Class(byte code) => (byte)(code & 0x07);
    /// <summary><c>BPF_SIZE(code)</c>.</summary>
    public static byte Size(byte code) => (byte)(code & 0x18);
    /// <summary><c>BPF_MODE(code)</c>.</summary>
    public static byte Mode(byte code) => (byte)(code & 0xe0);
    /// <summary><c>BPF_OP(code)</c>.</summary>
    public static byte Op(byte code) => (byte)(code & 0xf0);
    /// <summary><c>BPF_SRC(code)</c>.</summary>
    public static byte Src(byte code) => (byte)(code & 0x08);
    /// <summary>Bytes moved by a load or store of this size.</summary>
    public static int SizeInBytes(byte code) => Size(code) switch { BPF_W => 4, BPF_H => 2, BPF_B => 1, _ => 8 };
    /// <summary>True for <c>lddw</c> (<c>BPF_LD | BPF_DW | BPF_IMM</c>), which occupies two instruction slots.</summary>
    public static bool IsWide(byte code) => code == (BPF_LD | BPF_DW | BPF_IMM);
}
