namespace Syscage.Bpf;

/// <summary>
/// Classic BPF opcode fields with the kernel's names (<c>include/uapi/linux/bpf_common.h</c>,
/// <c>linux/filter.h</c>), so that code written against them greps against the uapi headers.
/// </summary>
/// <remarks>An opcode is <c>class | size | mode</c> for loads and stores, <c>class | op | src</c> for ALU and jumps.</remarks>
public static class Opcode
{
#pragma warning disable CS1591 // The kernel names document themselves; see bpf_common.h.
    public const ushort BPF_LD = 0x00;
    public const ushort BPF_LDX = 0x01;
    public const ushort BPF_ST = 0x02;
    public const ushort BPF_STX = 0x03;
    public const ushort BPF_ALU = 0x04;
    public const ushort BPF_JMP = 0x05;
    public const ushort BPF_RET = 0x06;
    public const ushort BPF_MISC = 0x07;

    public const ushort BPF_W = 0x00;
    public const ushort BPF_H = 0x08;
    public const ushort BPF_B = 0x10;

    public const ushort BPF_IMM = 0x00;
    public const ushort BPF_ABS = 0x20;
    public const ushort BPF_IND = 0x40;
    public const ushort BPF_MEM = 0x60;
    public const ushort BPF_LEN = 0x80;
    public const ushort BPF_MSH = 0xa0;

    public const ushort BPF_ADD = 0x00;
    public const ushort BPF_SUB = 0x10;
    public const ushort BPF_MUL = 0x20;
    public const ushort BPF_DIV = 0x30;
    public const ushort BPF_OR = 0x40;
    public const ushort BPF_AND = 0x50;
    public const ushort BPF_LSH = 0x60;
    public const ushort BPF_RSH = 0x70;
    public const ushort BPF_NEG = 0x80;
    public const ushort BPF_MOD = 0x90;
    public const ushort BPF_XOR = 0xa0;

    public const ushort BPF_JA = 0x00;
    public const ushort BPF_JEQ = 0x10;
    public const ushort BPF_JGT = 0x20;
    public const ushort BPF_JGE = 0x30;
    public const ushort BPF_JSET = 0x40;

    public const ushort BPF_K = 0x00;
    public const ushort BPF_X = 0x08;
    public const ushort BPF_A = 0x10;

    public const ushort BPF_TAX = 0x00;
    public const ushort BPF_TXA = 0x80;

    /// <summary><c>BPF_MAXINSNS</c>: the most instructions a classic program may have.</summary>
    public const int BPF_MAXINSNS = 4096;
    /// <summary><c>BPF_MEMWORDS</c>: the number of scratch memory words.</summary>
    public const int BPF_MEMWORDS = 16;
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
