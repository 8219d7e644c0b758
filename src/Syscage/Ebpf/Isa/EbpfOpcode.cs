using Syscage.Abi;
namespace Syscage.Ebpf.Isa;

/// <summary>
/// eBPF opcode fields with the kernel's names (<c>include/uapi/linux/bpf.h</c>, <c>bpf_common.h</c>; RFC 9669).
/// An opcode byte is <c>class | op | source</c> for ALU and jumps and <c>class | size | mode</c> for memory.
/// </summary>
public static class EbpfOpcode
{
#pragma warning disable CS1591 // Kernel names; see include/uapi/linux/bpf.h and RFC 9669.
    // Instruction classes.
    public const byte BPF_LD = (byte)Uapi.BPF_LD;
    public const byte BPF_LDX = (byte)Uapi.BPF_LDX;
    public const byte BPF_ST = (byte)Uapi.BPF_ST;
    public const byte BPF_STX = (byte)Uapi.BPF_STX;
    public const byte BPF_ALU = (byte)Uapi.BPF_ALU;
    public const byte BPF_JMP = (byte)Uapi.BPF_JMP;
    public const byte BPF_JMP32 = (byte)Uapi.BPF_JMP32;
    public const byte BPF_ALU64 = (byte)Uapi.BPF_ALU64;

    // Sizes.
    public const byte BPF_W = (byte)Uapi.BPF_W;
    public const byte BPF_H = (byte)Uapi.BPF_H;
    public const byte BPF_B = (byte)Uapi.BPF_B;
    public const byte BPF_DW = (byte)Uapi.BPF_DW;

    // Memory modes.
    public const byte BPF_IMM = (byte)Uapi.BPF_IMM;
    public const byte BPF_ABS = (byte)Uapi.BPF_ABS;
    public const byte BPF_IND = (byte)Uapi.BPF_IND;
    public const byte BPF_MEM = (byte)Uapi.BPF_MEM;
    public const byte BPF_MEMSX = 0x80;
    public const byte BPF_ATOMIC = (byte)Uapi.BPF_ATOMIC;

    // Source.
    public const byte BPF_K = (byte)Uapi.BPF_K;
    public const byte BPF_X = (byte)Uapi.BPF_X;
    /// <summary>For <c>BPF_END</c>: convert to little endian (ALU) — in ALU64 class it is the unconditional <c>bswap</c>.</summary>
    public const byte BPF_TO_LE = (byte)Uapi.BPF_TO_LE;
    /// <summary>For <c>BPF_END</c>: convert to big endian.</summary>
    public const byte BPF_TO_BE = (byte)Uapi.BPF_TO_BE;

    // ALU operations.
    public const byte BPF_ADD = (byte)Uapi.BPF_ADD;
    public const byte BPF_SUB = (byte)Uapi.BPF_SUB;
    public const byte BPF_MUL = (byte)Uapi.BPF_MUL;
    public const byte BPF_DIV = (byte)Uapi.BPF_DIV;
    public const byte BPF_OR = (byte)Uapi.BPF_OR;
    public const byte BPF_AND = (byte)Uapi.BPF_AND;
    public const byte BPF_LSH = (byte)Uapi.BPF_LSH;
    public const byte BPF_RSH = (byte)Uapi.BPF_RSH;
    public const byte BPF_NEG = (byte)Uapi.BPF_NEG;
    public const byte BPF_MOD = (byte)Uapi.BPF_MOD;
    public const byte BPF_XOR = (byte)Uapi.BPF_XOR;
    public const byte BPF_MOV = (byte)Uapi.BPF_MOV;
    public const byte BPF_ARSH = (byte)Uapi.BPF_ARSH;
    public const byte BPF_END = (byte)Uapi.BPF_END;

    // Jump operations.
    public const byte BPF_JA = (byte)Uapi.BPF_JA;
    public const byte BPF_JEQ = (byte)Uapi.BPF_JEQ;
    public const byte BPF_JGT = (byte)Uapi.BPF_JGT;
    public const byte BPF_JGE = (byte)Uapi.BPF_JGE;
    public const byte BPF_JSET = (byte)Uapi.BPF_JSET;
    public const byte BPF_JNE = (byte)Uapi.BPF_JNE;
    public const byte BPF_JSGT = (byte)Uapi.BPF_JSGT;
    public const byte BPF_JSGE = (byte)Uapi.BPF_JSGE;
    public const byte BPF_CALL = (byte)Uapi.BPF_CALL;
    public const byte BPF_EXIT = (byte)Uapi.BPF_EXIT;
    public const byte BPF_JLT = (byte)Uapi.BPF_JLT;
    public const byte BPF_JLE = (byte)Uapi.BPF_JLE;
    public const byte BPF_JSLT = (byte)Uapi.BPF_JSLT;
    public const byte BPF_JSLE = (byte)Uapi.BPF_JSLE;

    // Atomic operations (in imm of BPF_STX | BPF_ATOMIC).
    public const int BPF_FETCH = Uapi.BPF_FETCH;
    public const int BPF_XCHG = Uapi.BPF_XCHG;
    public const int BPF_CMPXCHG = Uapi.BPF_CMPXCHG;

    // Pseudo sources.
    /// <summary><c>lddw</c> src: imm is a map fd (or, in an ELF object, a relocation to a map).</summary>
    public const byte BPF_PSEUDO_MAP_FD = (byte)Uapi.BPF_PSEUDO_MAP_FD;
    /// <summary><c>lddw</c> src: imm is a map fd and the next imm an offset into its value.</summary>
    public const byte BPF_PSEUDO_MAP_VALUE = (byte)Uapi.BPF_PSEUDO_MAP_VALUE;
    /// <summary><c>call</c> src: a bpf-to-bpf call, imm is the pc-relative target.</summary>
    public const byte BPF_PSEUDO_CALL = (byte)Uapi.BPF_PSEUDO_CALL;
    /// <summary><c>call</c> src: a call to a kernel function by BTF id (not supported by Syscage).</summary>
    public const byte BPF_PSEUDO_KFUNC_CALL = (byte)Uapi.BPF_PSEUDO_KFUNC_CALL;

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
