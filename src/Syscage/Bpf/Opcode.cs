using Syscage.Abi;
namespace Syscage.Bpf;

/// <summary>
/// Classic BPF opcode fields with the kernel's names (<c>include/uapi/linux/bpf_common.h</c>,
/// <c>linux/filter.h</c>), so that code written against them greps against the uapi headers.
/// </summary>
/// <remarks>An opcode is <c>class | size | mode</c> for loads and stores, <c>class | op | src</c> for ALU and jumps.</remarks>
public static class Opcode
{
#pragma warning disable CS1591 // The kernel names document themselves; see bpf_common.h.
    public const ushort BPF_LD = (ushort)Uapi.BPF_LD;
    public const ushort BPF_LDX = (ushort)Uapi.BPF_LDX;
    public const ushort BPF_ST = (ushort)Uapi.BPF_ST;
    public const ushort BPF_STX = (ushort)Uapi.BPF_STX;
    public const ushort BPF_ALU = (ushort)Uapi.BPF_ALU;
    public const ushort BPF_JMP = (ushort)Uapi.BPF_JMP;
    public const ushort BPF_RET = (ushort)Uapi.BPF_RET;
    public const ushort BPF_MISC = (ushort)Uapi.BPF_MISC;

    public const ushort BPF_W = (ushort)Uapi.BPF_W;
    public const ushort BPF_H = (ushort)Uapi.BPF_H;
    public const ushort BPF_B = (ushort)Uapi.BPF_B;

    public const ushort BPF_IMM = (ushort)Uapi.BPF_IMM;
    public const ushort BPF_ABS = (ushort)Uapi.BPF_ABS;
    public const ushort BPF_IND = (ushort)Uapi.BPF_IND;
    public const ushort BPF_MEM = (ushort)Uapi.BPF_MEM;
    public const ushort BPF_LEN = (ushort)Uapi.BPF_LEN;
    public const ushort BPF_MSH = (ushort)Uapi.BPF_MSH;

    public const ushort BPF_ADD = (ushort)Uapi.BPF_ADD;
    public const ushort BPF_SUB = (ushort)Uapi.BPF_SUB;
    public const ushort BPF_MUL = (ushort)Uapi.BPF_MUL;
    public const ushort BPF_DIV = (ushort)Uapi.BPF_DIV;
    public const ushort BPF_OR = (ushort)Uapi.BPF_OR;
    public const ushort BPF_AND = (ushort)Uapi.BPF_AND;
    public const ushort BPF_LSH = (ushort)Uapi.BPF_LSH;
    public const ushort BPF_RSH = (ushort)Uapi.BPF_RSH;
    public const ushort BPF_NEG = (ushort)Uapi.BPF_NEG;
    public const ushort BPF_MOD = (ushort)Uapi.BPF_MOD;
    public const ushort BPF_XOR = (ushort)Uapi.BPF_XOR;

    public const ushort BPF_JA = (ushort)Uapi.BPF_JA;
    public const ushort BPF_JEQ = (ushort)Uapi.BPF_JEQ;
    public const ushort BPF_JGT = (ushort)Uapi.BPF_JGT;
    public const ushort BPF_JGE = (ushort)Uapi.BPF_JGE;
    public const ushort BPF_JSET = (ushort)Uapi.BPF_JSET;

    public const ushort BPF_K = (ushort)Uapi.BPF_K;
    public const ushort BPF_X = (ushort)Uapi.BPF_X;
    public const ushort BPF_A = 0x10;

    public const ushort BPF_TAX = 0x00;
    public const ushort BPF_TXA = 0x80;

    /// <summary><c>BPF_MAXINSNS</c>: the most instructions a classic program may have.</summary>
    public const int BPF_MAXINSNS = Uapi.BPF_MAXINSNS;
    /// <summary><c>BPF_MEMWORDS</c>: the number of scratch memory words.</summary>
    public const int BPF_MEMWORDS = Uapi.BPF_MEMWORDS;
    /// <summary><c>SKF_AD_OFF</c>: start of the socket-filter ancillary-data offsets (meaningless to seccomp).</summary>
    public const uint SKF_AD_OFF = unchecked((uint)-0x1000);
#pragma warning restore CS1591

    /// <summary><c>BPF_CLASS(code)</c>.</summary>
    public static ushort Class(ushort code) => (ushort)(code & 0x07);
    /// <summary><c>BPF_SIZE(code)</c>.</summary>
    public static ushort Size(ushort code) => (ushort)(code & 0x18);
    /// <summary><c>BPF_MODE(code)</c>.</summary>
    public static ushort Mode(ushort code) => (ushort)(code & 0xe0);
    /// <summary><c>BPF_OP(code)</c>.</summary>
    public static ushort Op(ushort code) => (ushort)(code & 0xf0);
    /// <summary><c>BPF_SRC(code)</c>.</summary>
    public static ushort Src(ushort code) => (ushort)(code & 0x08);
    /// <summary><c>BPF_RVAL(code)</c>.</summary>
    public static ushort RVal(ushort code) => (ushort)(code & 0x18);
    /// <summary><c>BPF_MISCOP(code)</c>.</summary>
    public static ushort MiscOp(ushort code) => (ushort)(code & 0xf8);

    /// <summary>True for the conditional jumps (JEQ, JGT, JGE, JSET with K or X).</summary>
    public static bool IsConditionalJump(ushort code) => code switch
    {
        BPF_JMP | BPF_JEQ | BPF_K or BPF_JMP | BPF_JEQ | BPF_X or
        BPF_JMP | BPF_JGT | BPF_K or BPF_JMP | BPF_JGT | BPF_X or
        BPF_JMP | BPF_JGE | BPF_K or BPF_JMP | BPF_JGE | BPF_X or
        BPF_JMP | BPF_JSET | BPF_K or BPF_JMP | BPF_JSET | BPF_X => true,
        _ => false,
    };

    /// <summary>
    /// The opcode spelt with the kernel's macro names, e.g. <c>BPF_LD|BPF_W|BPF_ABS</c>, or hex when the
    /// code is not one the kernel's classic checker knows.
    /// </summary>
    public static string Name(ushort code)
    {
        if (!KnownCodes.Contains(code))
            return $"0x{code:x4}";
        string cls = ClassNames[Class(code)];
        switch (Class(code))
        {
            case BPF_LD:
            case BPF_LDX:
                string mode = Mode(code) switch
                {
                    BPF_IMM => "BPF_IMM", BPF_ABS => "BPF_ABS", BPF_IND => "BPF_IND",
                    BPF_MEM => "BPF_MEM", BPF_LEN => "BPF_LEN", _ => "BPF_MSH",
                };
                string size = Size(code) switch { BPF_W => "BPF_W", BPF_H => "BPF_H", _ => "BPF_B" };
                // The kernel writes BPF_LD|BPF_IMM and BPF_LD|BPF_MEM without a size (BPF_W is 0).
                return Mode(code) is BPF_IMM or BPF_MEM ? $"{cls}|{mode}" : $"{cls}|{size}|{mode}";
            case BPF_ST:
            case BPF_STX:
                return cls;
            case BPF_ALU:
                return Op(code) == BPF_NEG ? "BPF_ALU|BPF_NEG" : $"BPF_ALU|{AluNames[Op(code) >> 4]}|{(Src(code) == BPF_X ? "BPF_X" : "BPF_K")}";
            case BPF_JMP:
                return Op(code) == BPF_JA ? "BPF_JMP|BPF_JA" : $"BPF_JMP|{JmpNames[Op(code) >> 4]}|{(Src(code) == BPF_X ? "BPF_X" : "BPF_K")}";
            case BPF_RET:
                return RVal(code) == BPF_A ? "BPF_RET|BPF_A" : "BPF_RET|BPF_K";
            default:
                return MiscOp(code) == BPF_TXA ? "BPF_MISC|BPF_TXA" : "BPF_MISC|BPF_TAX";
        }
    }

    private static readonly string[] ClassNames = ["BPF_LD", "BPF_LDX", "BPF_ST", "BPF_STX", "BPF_ALU", "BPF_JMP", "BPF_RET", "BPF_MISC"];
    private static readonly string[] AluNames = ["BPF_ADD", "BPF_SUB", "BPF_MUL", "BPF_DIV", "BPF_OR", "BPF_AND", "BPF_LSH", "BPF_RSH", "BPF_NEG", "BPF_MOD", "BPF_XOR"];
    private static readonly string[] JmpNames = ["BPF_JA", "BPF_JEQ", "BPF_JGT", "BPF_JGE", "BPF_JSET"];

    /// <summary>
    /// Every opcode the kernel's classic checker (<c>chk_code_allowed</c> in net/core/filter.c) accepts for
    /// any classic program. Seccomp accepts a subset of these; see <see cref="SeccompCodes"/>.
    /// </summary>
    public static IReadOnlySet<ushort> KnownCodes { get; } = new HashSet<ushort>
    {
        BPF_ALU | BPF_ADD | BPF_K, BPF_ALU | BPF_ADD | BPF_X,
        BPF_ALU | BPF_SUB | BPF_K, BPF_ALU | BPF_SUB | BPF_X,
        BPF_ALU | BPF_MUL | BPF_K, BPF_ALU | BPF_MUL | BPF_X,
        BPF_ALU | BPF_DIV | BPF_K, BPF_ALU | BPF_DIV | BPF_X,
        BPF_ALU | BPF_MOD | BPF_K, BPF_ALU | BPF_MOD | BPF_X,
        BPF_ALU | BPF_AND | BPF_K, BPF_ALU | BPF_AND | BPF_X,
        BPF_ALU | BPF_OR | BPF_K, BPF_ALU | BPF_OR | BPF_X,
        BPF_ALU | BPF_XOR | BPF_K, BPF_ALU | BPF_XOR | BPF_X,
        BPF_ALU | BPF_LSH | BPF_K, BPF_ALU | BPF_LSH | BPF_X,
        BPF_ALU | BPF_RSH | BPF_K, BPF_ALU | BPF_RSH | BPF_X,
        BPF_ALU | BPF_NEG,
        BPF_LD | BPF_W | BPF_ABS, BPF_LD | BPF_H | BPF_ABS, BPF_LD | BPF_B | BPF_ABS,
        BPF_LD | BPF_W | BPF_LEN,
        BPF_LD | BPF_W | BPF_IND, BPF_LD | BPF_H | BPF_IND, BPF_LD | BPF_B | BPF_IND,
        BPF_LD | BPF_IMM, BPF_LD | BPF_MEM,
        BPF_LDX | BPF_W | BPF_LEN, BPF_LDX | BPF_B | BPF_MSH, BPF_LDX | BPF_IMM, BPF_LDX | BPF_MEM,
        BPF_ST, BPF_STX,
        BPF_MISC | BPF_TAX, BPF_MISC | BPF_TXA,
        BPF_RET | BPF_K, BPF_RET | BPF_A,
        BPF_JMP | BPF_JA,
        BPF_JMP | BPF_JEQ | BPF_K, BPF_JMP | BPF_JEQ | BPF_X,
        BPF_JMP | BPF_JGE | BPF_K, BPF_JMP | BPF_JGE | BPF_X,
        BPF_JMP | BPF_JGT | BPF_K, BPF_JMP | BPF_JGT | BPF_X,
        BPF_JMP | BPF_JSET | BPF_K, BPF_JMP | BPF_JSET | BPF_X,
    };

    /// <summary>
    /// The opcodes <c>seccomp_check_filter</c> (kernel/seccomp.c) lets through: no packet loads, no
    /// <c>BPF_MOD</c>, and <c>BPF_LD|BPF_W|BPF_ABS</c> only (with its own offset rule).
    /// </summary>
    public static IReadOnlySet<ushort> SeccompCodes { get; } = new HashSet<ushort>
    {
        BPF_LD | BPF_W | BPF_ABS, BPF_LD | BPF_W | BPF_LEN, BPF_LDX | BPF_W | BPF_LEN,
        BPF_RET | BPF_K, BPF_RET | BPF_A,
        BPF_ALU | BPF_ADD | BPF_K, BPF_ALU | BPF_ADD | BPF_X,
        BPF_ALU | BPF_SUB | BPF_K, BPF_ALU | BPF_SUB | BPF_X,
        BPF_ALU | BPF_MUL | BPF_K, BPF_ALU | BPF_MUL | BPF_X,
        BPF_ALU | BPF_DIV | BPF_K, BPF_ALU | BPF_DIV | BPF_X,
        BPF_ALU | BPF_AND | BPF_K, BPF_ALU | BPF_AND | BPF_X,
        BPF_ALU | BPF_OR | BPF_K, BPF_ALU | BPF_OR | BPF_X,
        BPF_ALU | BPF_XOR | BPF_K, BPF_ALU | BPF_XOR | BPF_X,
        BPF_ALU | BPF_LSH | BPF_K, BPF_ALU | BPF_LSH | BPF_X,
        BPF_ALU | BPF_RSH | BPF_K, BPF_ALU | BPF_RSH | BPF_X,
        BPF_ALU | BPF_NEG,
        BPF_LD | BPF_IMM, BPF_LDX | BPF_IMM,
        BPF_MISC | BPF_TAX, BPF_MISC | BPF_TXA,
        BPF_LD | BPF_MEM, BPF_LDX | BPF_MEM, BPF_ST, BPF_STX,
        BPF_JMP | BPF_JA,
        BPF_JMP | BPF_JEQ | BPF_K, BPF_JMP | BPF_JEQ | BPF_X,
        BPF_JMP | BPF_JGE | BPF_K, BPF_JMP | BPF_JGE | BPF_X,
        BPF_JMP | BPF_JGT | BPF_K, BPF_JMP | BPF_JGT | BPF_X,
        BPF_JMP | BPF_JSET | BPF_K, BPF_JMP | BPF_JSET | BPF_X,
    };
}
