using System.Globalization;
using Syscage.Bpf;
using static Syscage.Bpf.Opcode;
using Syscage.Abi;

namespace Syscage.Testing;

/// <summary>A generated program and how it was made (for per-kind statistics and failure messages).</summary>
/// <param name="Program">The instructions; may be empty or longer than the kernel allows.</param>
/// <param name="Kind"><c>valid</c>, <c>mutant:&lt;mutation&gt;</c> or <c>random</c>.</param>
public sealed record GeneratedProgram(Instruction[] Program, string Kind);

/// <summary>
/// Seeded random classic BPF programs for differential tests against the kernel. Three families:
/// valid-looking seccomp programs (seccomp opcodes, operands inside the kernel's limits),
/// mutations of those aimed at one kernel rule each (and at its boundary, so that some mutants stay valid),
/// and fully random 8-byte instructions. <see cref="Next"/> mixes them so that about half the programs are
/// accepted by the kernel. The same seed gives the same sequence.
/// </summary>
public sealed class ProgramGenerator
{
    /// <summary><c>AUDIT_ARCH_X86_64</c>.</summary>
    public const uint AUDIT_ARCH_X86_64 = 0xC000003E;

    /// <summary>The first of the three unused x86_64 system call numbers the ALU programs act on.</summary>
    public const int ProbeSyscall = 1000;

    private static readonly ushort[] AluOps = [BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_XOR];
    private static readonly ushort[] CondOps = [BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET];
    private static readonly ushort[] SeccompCodeList = [.. SeccompCodes.Order()];
    private static readonly ushort[] KnownCodeList = [.. KnownCodes.Order()];
    private static readonly ushort[] NonSeccompCodes = [.. KnownCodes.Except(SeccompCodes).Order()];

    private static readonly uint[] ReturnValues =
    [
        SeccompAction.SECCOMP_RET_ALLOW, SeccompAction.SECCOMP_RET_KILL_PROCESS, SeccompAction.SECCOMP_RET_KILL_THREAD,
        SeccompAction.SECCOMP_RET_TRAP, SeccompAction.SECCOMP_RET_ERRNO | 1, SeccompAction.SECCOMP_RET_ERRNO | 38,
        SeccompAction.SECCOMP_RET_TRACE, SeccompAction.SECCOMP_RET_LOG, SeccompAction.SECCOMP_RET_USER_NOTIF,
    ];

    private static readonly uint[] InterestingWords =
    [
        0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 33, 63, 64, 255, 256, 0xfff, 0x1000, 0xffff, 0x10000,
        0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff, AUDIT_ARCH_X86_64, ProbeSyscall,
    ];

    private readonly Random _rng;

    /// <summary>Creates a generator; the same seed gives the same programs.</summary>
    public ProgramGenerator(int seed)
    {
        Seed = seed;
        _rng = new Random(seed);
    }

    /// <summary>The seed, to print with any failure.</summary>
    public int Seed { get; }

    /// <summary>
    /// The next program of the mix: 33% valid-looking, 8% scratch-heavy, 51% mutants, 8% fully random. Tuned so
    /// that about half are accepted by the kernel; the agreement test prints the ratio.
    /// </summary>
    public GeneratedProgram Next()
    {
        int roll = _rng.Next(100);
        if (roll < 33)
            return new GeneratedProgram(ValidLooking(), "valid");
        if (roll < 41)
            return new GeneratedProgram(ScratchHeavy(), "scratch-heavy");
        if (roll < 92)
        {
            var (program, mutation) = Mutate(ValidLooking());
            return new GeneratedProgram(program, "mutant:" + mutation);
        }
        return new GeneratedProgram(FullyRandom(), "random");
    }

    /// <summary>
    /// A program of seccomp opcodes with operands inside the kernel's limits: forward jumps in range, aligned
    /// <c>seccomp_data</c> loads, non-zero divisors, shifts below 32, a final RET. Scratch loads read words
    /// stored before the first jump, except now and then (those may be refused).
    /// </summary>
    public Instruction[] ValidLooking(int length = 0)
    {
        int n = length > 0 ? length : RandomLength();
        var p = new Instruction[n];
        ushort stored = 0;          // words written on every path: stores before the first jump
        bool jumped = false;
        for (int pc = 0; pc < n - 1; pc++)
        {
            var ins = RandomSeccompInstruction(pc, n, stored, wildScratch: _rng.Next(100) < 3);
            if (ins.Code is BPF_ST or BPF_STX && !jumped)
                stored |= (ushort)(1 << (int)ins.K);
            if (Class(ins.Code) == BPF_JMP || Class(ins.Code) == BPF_RET)
                jumped = true;
            p[pc] = ins;
        }
        p[n - 1] = RandomRet();
        return p;
    }

    /// <summary>
    /// Stores, loads, jumps and returns over three scratch words only, so that whether every load is preceded by a
    /// store on every path (as check_load_and_stores judges it, RET quirk included) is a close call.
    /// </summary>
    public Instruction[] ScratchHeavy()
    {
        int n = 2 + _rng.Next(30);
        var p = new Instruction[n];
        for (int pc = 0; pc < n - 1; pc++)
        {
            int room = n - pc - 2;
            uint word = (uint)_rng.Next(3);
            p[pc] = _rng.Next(10) switch
            {
                0 or 1 or 2 => Instruction.Stmt(Either(BPF_ST, BPF_STX), word),
                3 or 4 => Instruction.Stmt(Either(BPF_LD | BPF_MEM, BPF_LDX | BPF_MEM), word),
                5 or 6 => Instruction.Jump((ushort)(BPF_JMP | Pick(CondOps) | BPF_K), InterestingWord(), (byte)_rng.Next(Math.Min(room, 6) + 1), (byte)_rng.Next(Math.Min(room, 6) + 1)),
                7 => Instruction.Stmt(BPF_JMP | BPF_JA, (uint)_rng.Next(Math.Min(room, 6) + 1)),
                8 => RandomRet(),
                _ => Instruction.Stmt(Either(BPF_LD | BPF_W | BPF_ABS, BPF_ALU | BPF_ADD | BPF_K), (uint)(4 * _rng.Next(16))),
            };
        }
        p[n - 1] = RandomRet();
        return p;
    }

    /// <summary>Applies one targeted mutation; returns the mutant and the mutation's name.</summary>
    public (Instruction[] Program, string Mutation) Mutate(Instruction[] valid)
    {
        ArgumentNullException.ThrowIfNull(valid);
        var p = (Instruction[])valid.Clone();
        int n = p.Length;
        int At() => _rng.Next(n);
        switch (_rng.Next(22))
        {
            case 0:
            {
                int i = At();
                p[i] = p[i] with { Code = (ushort)(p[i].Code ^ (1 << _rng.Next(_rng.Next(4) == 0 ? 16 : 8))) };
                return (p, "flip-code-bit");
            }
            case 1:
            {
                int i = At();
                byte bit = (byte)(1 << _rng.Next(8));
                p[i] = _rng.Next(2) == 0 ? p[i] with { Jt = (byte)(p[i].Jt ^ bit) } : p[i] with { Jf = (byte)(p[i].Jf ^ bit) };
                return (p, "flip-jump-bit");
            }
            case 2:
            {
                int i = At();
                p[i] = p[i] with { K = p[i].K ^ (1u << _rng.Next(32)) };
                return (p, "flip-k-bit");
            }
            case 3:
                // Drop instructions from the end (the final RET goes) or from the middle (jumps may now overshoot).
                if (n > 1 && _rng.Next(2) == 0)
                    return (p[..(1 + _rng.Next(n - 1))], "truncate");
                return (Remove(p, At()), "remove-one");
            case 4:
            {
                // Append after the final RET: accepted only if the appended instruction is a RET.
                var extra = _rng.Next(3) == 0 ? RandomRet() : RandomSeccompInstruction(0, 2, 0, false);
                return ([.. p, extra], "append");
            }
            case 5:
            {
                var last = RandomSeccompInstruction(n - 1, n + 1, 0, false);
                p[n - 1] = Class(last.Code) is BPF_JMP or BPF_RET ? Instruction.Stmt(BPF_LD | BPF_IMM, last.K) : last;
                return (p, "no-final-ret");
            }
            case 6:
                return (JumpEdge(p), "jump-edge");
            case 7:
                return (ScratchBeforeWrite(p, out string how), "scratch:" + how);
            case 8:
            {
                uint k = Pick<uint>([1, 2, 3, 5, 6, 7, 13, 61, 62, 63, 64, 65, 68, 124, 128, 0x100, 0x1000, 0xffffffc, 0x7ffffffc, 0xffffffff, (uint)(4 * _rng.Next(16))]);
                return (Replace(p, Instruction.Stmt(BPF_LD | BPF_W | BPF_ABS, k)), "seccomp-data-offset");
            }
            case 9:
            {
                ushort code = Pick<ushort>([BPF_LD | BPF_H | BPF_ABS, BPF_LD | BPF_B | BPF_ABS, BPF_LD | BPF_W | BPF_IND, BPF_LD | BPF_H | BPF_IND, BPF_LD | BPF_B | BPF_IND, BPF_LDX | BPF_B | BPF_MSH]);
                return (Replace(p, Instruction.Stmt(code, (uint)_rng.Next(64))), "packet-load");
            }
            case 10:
                return (Replace(p, Instruction.Stmt(_rng.Next(2) == 0 ? (ushort)(BPF_ALU | BPF_MOD | BPF_X) : (ushort)(BPF_ALU | BPF_MOD | BPF_K), (uint)_rng.Next(3))), "mod");
            case 11:
            {
                // DIV/MOD by constant 0 (rejected) or 1 (DIV accepted).
                ushort code = _rng.Next(4) == 0 ? (ushort)(BPF_ALU | BPF_MOD | BPF_K) : (ushort)(BPF_ALU | BPF_DIV | BPF_K);
                return (Replace(p, Instruction.Stmt(code, _rng.Next(3) == 0 ? 1u : 0u)), "div-constant");
            }
            case 12:
            {
                ushort code = _rng.Next(2) == 0 ? (ushort)(BPF_ALU | BPF_LSH | BPF_K) : (ushort)(BPF_ALU | BPF_RSH | BPF_K);
                return (Replace(p, Instruction.Stmt(code, Pick<uint>([0, 31, 32, 33, 63, 64, 0x80000000, 0xffffffff]))), "shift-constant");
            }
            case 13:
                return LengthEdge();
            case 14:
            {
                // Loads at SKF_AD_OFF + off: known ancillary offsets pass bpf_check_classic, seccomp refuses all.
                uint off = Pick<uint>([0, 4, 8, 56, 60, 62, 64, 68, 0xffc, 0xfff, (uint)_rng.Next(0x1000)]);
                ushort code = Pick<ushort>([BPF_LD | BPF_W | BPF_ABS, BPF_LD | BPF_H | BPF_ABS, BPF_LD | BPF_B | BPF_ABS]);
                return (Replace(p, Instruction.Stmt(code, SKF_AD_OFF + off)), "ancillary");
            }
            case 15:
            {
                ushort code = Pick<ushort>([BPF_LD | BPF_MEM, BPF_LDX | BPF_MEM, BPF_ST, BPF_STX]);
                uint k = Pick<uint>([15, 16, 17, 31, 0x10000, 0xffffffff]);
                // Stores first so that a k of 15 is a legal load.
                var prefix = new[] { Instruction.Stmt(BPF_ST, 15) };
                return ([.. prefix, .. Replace(p, Instruction.Stmt(code, k))], "scratch-index");
            }
            case 16:
            {
                // Operand fields the instruction does not use: the kernel ignores them.
                int i = At();
                var ins = p[i];
                if (!IsConditionalJump(ins.Code))
                    ins = ins with { Jt = (byte)_rng.Next(256), Jf = (byte)_rng.Next(256) };
                if (!UsesK(ins.Code))
                    ins = ins with { K = (uint)_rng.NextInt64(1L << 32) };
                p[i] = ins;
                return (p, "unused-fields");
            }
            case 17:
            {
                // A neighbour of a real opcode: extra bits, another size or mode.
                int i = At();
                ushort code = Pick(KnownCodeList);
                code = _rng.Next(3) switch
                {
                    0 => (ushort)(code | (1 << _rng.Next(8, 16))),
                    1 => (ushort)(code ^ Pick<ushort>([0x08, 0x10, 0x18, 0x20, 0x40, 0x80])),
                    _ => (ushort)(code + _rng.Next(-2, 3)),
                };
                p[i] = p[i] with { Code = code };
                return (p, "near-opcode");
            }
            case 18:
            {
                // A known classic opcode that seccomp refuses.
                return (Replace(p, Instruction.Stmt(Pick(NonSeccompCodes), (uint)(4 * _rng.Next(16)))), "non-seccomp-opcode");
            }
            case 19:
            {
                // Whole-program shapes: a lone RET, RET A, a lone non-RET.
                return (_rng.Next(3) switch
                {
                    0 => [RandomRet()],
                    1 => [Instruction.Stmt(BPF_RET | BPF_A, (uint)_rng.NextInt64(1L << 32))],
                    _ => [RandomSeccompInstruction(0, 1, 0, false) is var x && Class(x.Code) != BPF_JMP ? x : Instruction.Stmt(BPF_MISC | BPF_TAX, 0)],
                }, "tiny");
            }
            case 20:
            {
                // LEN loads: rewritten by seccomp to A/X = 64; valid.
                ushort code = _rng.Next(2) == 0 ? (ushort)(BPF_LD | BPF_W | BPF_LEN) : (ushort)(BPF_LDX | BPF_W | BPF_LEN);
                return (Replace(p, Instruction.Stmt(code, (uint)_rng.Next(100))), "len");
            }
            default:
            {
                // Two mutations at once: the first failing rule must still be found.
                var (once, first) = Mutate(p);
                var (twice, second) = once.Length > 0 ? Mutate(once) : (once, "none");
                return (twice, first + "+" + second);
            }
        }
    }

    /// <summary>1..24 random instructions: 8 random bytes each, or a known opcode with random operands.</summary>
    public Instruction[] FullyRandom()
    {
        int n = 1 + _rng.Next(_rng.Next(4) == 0 ? 24 : 6);
        var p = new Instruction[n];
        var bytes = new byte[Instruction.Size];
        bool known = _rng.Next(3) == 0;
        for (int i = 0; i < n; i++)
        {
            _rng.NextBytes(bytes);
            p[i] = Instruction.Read(bytes);
            if (known)
                p[i] = p[i] with { Code = Pick(KnownCodeList) };
            else if (_rng.Next(2) == 0)
                p[i] = p[i] with { Code = (byte)p[i].Code };
        }
        return p;
    }

    /// <summary>
    /// A program for the interpreter-versus-kernel test: for x86_64 and nr in
    /// <see cref="ProbeSyscall"/>..+2 it runs a random ALU body over the call's arguments, then returns
    /// <c>SECCOMP_RET_ERRNO | bits</c> where bits are A's bits 0-11 (nr+0), 12-23 (nr+1) or 24-31 (nr+2);
    /// everything else is allowed. Division by an X of zero ends the filter with 0 (KILL_THREAD).
    /// </summary>
    public Instruction[] AluProgram()
    {
        const uint Errno = SeccompAction.SECCOMP_RET_ERRNO;
        var prefix = new List<Instruction>
        {
            Instruction.Stmt(BPF_LD | BPF_W | BPF_ABS, SeccompData.ArchOffset),          // A = arch
            Instruction.Jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),         // if (A == AUDIT_ARCH_X86_64) skip
            Instruction.Stmt(BPF_RET | BPF_K, SeccompAction.SECCOMP_RET_ALLOW),            // return ALLOW
            Instruction.Stmt(BPF_LD | BPF_W | BPF_ABS, SeccompData.NrOffset),             // A = nr
            Instruction.Jump(BPF_JMP | BPF_JGE | BPF_K, ProbeSyscall, 1, 0),              // if (A >= 1000) skip
            Instruction.Stmt(BPF_RET | BPF_K, SeccompAction.SECCOMP_RET_ALLOW),            // return ALLOW
            Instruction.Jump(BPF_JMP | BPF_JGT | BPF_K, ProbeSyscall + 2, 0, 1),          // if (A > 1002) return ALLOW
            Instruction.Stmt(BPF_RET | BPF_K, SeccompAction.SECCOMP_RET_ALLOW),
        };

        // Body: first some loads and stores that every path sees, then anything.
        int bodyLength = 4 + _rng.Next(_rng.Next(4) == 0 ? 60 : 24);
        var body = new Instruction[bodyLength];
        ushort stored = 0;
        int pre = Math.Min(bodyLength, 1 + _rng.Next(4));
        for (int i = 0; i < pre; i++)
        {
            body[i] = _rng.Next(3) switch
            {
                0 => Instruction.Stmt(BPF_LD | BPF_W | BPF_ABS, ArgWordOffset()),
                1 => Instruction.Stmt(BPF_MISC | BPF_TAX, 0),
                _ => Instruction.Stmt(_rng.Next(2) == 0 ? BPF_ST : BPF_STX, (uint)_rng.Next(15)),
            };
            if (body[i].Code is BPF_ST or BPF_STX)
                stored |= (ushort)(1 << (int)body[i].K);
        }
        for (int i = pre; i < bodyLength; i++)
            body[i] = AluBodyInstruction(i, bodyLength, ref stored);

        // Epilogue: M[15] = A; return ERRNO | one 12-bit slice of it, chosen by nr.
        var epilogue = new[]
        {
            Instruction.Stmt(BPF_ST, 15),                                         // M[15] = A
            Instruction.Stmt(BPF_LD | BPF_W | BPF_ABS, SeccompData.NrOffset),     // A = nr
            Instruction.Jump(BPF_JMP | BPF_JEQ | BPF_K, ProbeSyscall, 0, 4),      // if (A != 1000) goto next
            Instruction.Stmt(BPF_LD | BPF_MEM, 15),                               // A = M[15]
            Instruction.Stmt(BPF_ALU | BPF_AND | BPF_K, 0xfff),                   // A &= 0xfff
            Instruction.Stmt(BPF_ALU | BPF_OR | BPF_K, Errno),                    // A |= SECCOMP_RET_ERRNO
            Instruction.Stmt(BPF_RET | BPF_A, 0),                                 // return A
            Instruction.Jump(BPF_JMP | BPF_JEQ | BPF_K, ProbeSyscall + 1, 0, 5),  // if (A != 1001) goto next
            Instruction.Stmt(BPF_LD | BPF_MEM, 15),                               // A = M[15]
            Instruction.Stmt(BPF_ALU | BPF_RSH | BPF_K, 12),                      // A >>= 12
            Instruction.Stmt(BPF_ALU | BPF_AND | BPF_K, 0xfff),                   // A &= 0xfff
            Instruction.Stmt(BPF_ALU | BPF_OR | BPF_K, Errno),                    // A |= SECCOMP_RET_ERRNO
            Instruction.Stmt(BPF_RET | BPF_A, 0),                                 // return A
            Instruction.Stmt(BPF_LD | BPF_MEM, 15),                               // A = M[15]
            Instruction.Stmt(BPF_ALU | BPF_RSH | BPF_K, 24),                      // A >>= 24
            Instruction.Stmt(BPF_ALU | BPF_OR | BPF_K, Errno),                    // A |= SECCOMP_RET_ERRNO
            Instruction.Stmt(BPF_RET | BPF_A, 0),                                 // return A
        };
        return [.. prefix, .. body, .. epilogue];
    }

    /// <summary>Six arguments built from interesting 32-bit halves (0, 1, 31, 32, 33, sign bits...) and random ones.</summary>
    public ulong[] InterestingArgs()
    {
        var args = new ulong[6];
        for (int i = 0; i < 6; i++)
            args[i] = ((ulong)InterestingWord() << 32) | InterestingWord();
        return args;
    }

    /// <summary>The raw form of a program, one <see cref="Instruction.ToRawString"/> per line, numbered from <paramref name="firstPc"/>.</summary>
    public static string Dump(ReadOnlySpan<Instruction> program, int firstPc = 0)
    {
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < program.Length; i++)
            sb.Append(CultureInfo.InvariantCulture, $"  /* {firstPc + i,4} */ {program[i].ToRawString()},  // {program[i]}\n");
        return sb.ToString();
    }

    private uint InterestingWord() => _rng.Next(3) switch
    {
        0 => (uint)_rng.NextInt64(1L << 32),
        1 => (uint)_rng.Next(70),
        _ => Pick(InterestingWords),
    };

    private uint ArgWordOffset() => (uint)(SeccompData.ArgsOffset + 4 * _rng.Next(12));

    private Instruction AluBodyInstruction(int i, int bodyLength, ref ushort stored)
    {
        int roll = _rng.Next(100);
        if (roll < 12)
            return Instruction.Stmt(BPF_LD | BPF_W | BPF_ABS, _rng.Next(6) == 0 ? (uint)(4 * _rng.Next(2)) : ArgWordOffset());
        if (roll < 16)
            return Instruction.Stmt(Either(BPF_LD | BPF_IMM, BPF_LDX | BPF_IMM), InterestingWord());
        if (roll < 22)
            return Instruction.Stmt(Either(BPF_MISC | BPF_TAX, BPF_MISC | BPF_TXA), 0);
        if (roll < 24)
            return Instruction.Stmt(Either(BPF_LD | BPF_W | BPF_LEN, BPF_LDX | BPF_W | BPF_LEN), 0);
        if (roll < 38)
            return AluK();
        if (roll < 56)
            return Instruction.Stmt((ushort)(BPF_ALU | Pick(AluOps) | BPF_X), 0);
        if (roll < 60)
            return Instruction.Stmt(BPF_ALU | BPF_NEG, 0);
        if (roll < 66)
        {
            // Stores after a jump don't make a word readable on every path: keep the set of the prefix.
            return Instruction.Stmt(_rng.Next(2) == 0 ? BPF_ST : BPF_STX, (uint)_rng.Next(15));
        }
        if (roll < 72 && stored != 0)
        {
            uint k;
            do k = (uint)_rng.Next(15); while ((stored & (1 << (int)k)) == 0);
            return Instruction.Stmt(Either(BPF_LD | BPF_MEM, BPF_LDX | BPF_MEM), k);
        }
        if (roll < 96)
        {
            // Forward to any later body instruction or to the epilogue (which starts at bodyLength).
            int max = Math.Min(255, bodyLength - i - 1);
            byte jt = (byte)_rng.Next(max + 1), jf = (byte)_rng.Next(max + 1);
            uint k = _rng.Next(2) == 0 ? InterestingWord() : (uint)_rng.Next(64);
            return Instruction.Jump((ushort)(BPF_JMP | Pick(CondOps) | (_rng.Next(2) == 0 ? BPF_K : BPF_X)), k, jt, jf);
        }
        if (roll < 98)
            return Instruction.Stmt(BPF_JMP | BPF_JA, (uint)_rng.Next(Math.Min(8, bodyLength - i)));
        // An early exit with a chosen errno.
        return Instruction.Stmt(BPF_RET | BPF_K, SeccompAction.SECCOMP_RET_ERRNO | (uint)_rng.Next(1, 4096));
    }

    private Instruction AluK()
    {
        ushort op = Pick(AluOps);
        uint k = op switch
        {
            BPF_DIV => Math.Max(1u, InterestingWord()),
            BPF_LSH or BPF_RSH => (uint)_rng.Next(32),
            _ => InterestingWord(),
        };
        return Instruction.Stmt((ushort)(BPF_ALU | op | BPF_K), k);
    }

    private int RandomLength()
    {
        int roll = _rng.Next(100);
        return roll switch
        {
            < 70 => 1 + _rng.Next(24),
            < 92 => 25 + _rng.Next(100),
            < 99 => 125 + _rng.Next(500),
            _ => 625 + _rng.Next(BPF_MAXINSNS - 624),
        };
    }

    private Instruction RandomRet() => _rng.Next(4) == 0
        ? Instruction.Stmt(BPF_RET | BPF_A, 0)
        : Instruction.Stmt(BPF_RET | BPF_K, _rng.Next(4) == 0 ? (uint)_rng.NextInt64(1L << 32) : Pick(ReturnValues));

    /// <summary>A seccomp-legal instruction at <paramref name="pc"/> of an <paramref name="n"/>-long program.</summary>
    private Instruction RandomSeccompInstruction(int pc, int n, ushort stored, bool wildScratch)
    {
        int room = n - pc - 2;   // the farthest legal jump offset (target n-1)
        while (true)
        {
            ushort code = Pick(SeccompCodeList);
            switch (code)
            {
                case BPF_LD | BPF_W | BPF_ABS:
                    return Instruction.Stmt(code, (uint)(4 * _rng.Next(16)));
                case BPF_ALU | BPF_DIV | BPF_K:
                    return Instruction.Stmt(code, Math.Max(1u, InterestingWord()));
                case BPF_ALU | BPF_LSH | BPF_K:
                case BPF_ALU | BPF_RSH | BPF_K:
                    return Instruction.Stmt(code, (uint)_rng.Next(32));
                case BPF_ST:
                case BPF_STX:
                    return Instruction.Stmt(code, (uint)_rng.Next(BPF_MEMWORDS));
                case BPF_LD | BPF_MEM:
                case BPF_LDX | BPF_MEM:
                    if (wildScratch)
                        return Instruction.Stmt(code, (uint)_rng.Next(BPF_MEMWORDS));
                    if (stored == 0)
                        continue;
                    uint word;
                    do word = (uint)_rng.Next(BPF_MEMWORDS); while ((stored & (1 << (int)word)) == 0);
                    return Instruction.Stmt(code, word);
                case BPF_JMP | BPF_JA:
                    if (room < 0)
                        continue;
                    return Instruction.Stmt(code, (uint)_rng.Next(Math.Min(room, 16) + 1));
                case BPF_RET | BPF_K:
                case BPF_RET | BPF_A:
                    if (_rng.Next(3) != 0)
                        continue;   // keep mid-program returns rare
                    return code == (BPF_RET | BPF_A) ? Instruction.Stmt(code, 0) : RandomRet();
                default:
                    if (IsConditionalJump(code))
                    {
                        if (room < 0)
                            continue;
                        int max = Math.Min(room, 255);
                        int small = Math.Min(max, 6);
                        byte jt = (byte)(_rng.Next(4) == 0 ? _rng.Next(max + 1) : _rng.Next(small + 1));
                        byte jf = (byte)(_rng.Next(4) == 0 ? _rng.Next(max + 1) : _rng.Next(small + 1));
                        return Instruction.Jump(code, InterestingWord(), jt, jf);
                    }
                    return Instruction.Stmt(code, code is (BPF_LD | BPF_IMM) or (BPF_LDX | BPF_IMM) || Class(code) == BPF_ALU ? InterestingWord() : 0);
            }
        }
    }

    /// <summary>Sets a jump's offset to the last legal target or one past it (JA: k; conditional: jt or jf).</summary>
    private Instruction[] JumpEdge(Instruction[] p)
    {
        int n = p.Length;
        if (n < 2)
            return [Instruction.Stmt(BPF_JMP | BPF_JA, (uint)_rng.Next(2)), .. p];
        int pc = _rng.Next(n - 1);
        int legal = n - pc - 2;                    // target n-1
        int offset = legal + _rng.Next(2);         // legal or one past the end
        if (_rng.Next(8) == 0)
            offset = 255;
        if (_rng.Next(3) == 0)
        {
            uint k = _rng.Next(10) == 0 ? Pick<uint>([0xffffffff, 0x80000000, (uint)n]) : (uint)offset;
            p[pc] = Instruction.Stmt(BPF_JMP | BPF_JA, k);
            return p;
        }
        if (offset > 255)
            offset = 255;
        byte other = (byte)_rng.Next(Math.Min(Math.Max(legal, 0), 255) + 1);
        var code = (ushort)(BPF_JMP | Pick(CondOps) | (_rng.Next(2) == 0 ? BPF_K : BPF_X));
        p[pc] = _rng.Next(2) == 0
            ? Instruction.Jump(code, InterestingWord(), (byte)offset, other)
            : Instruction.Jump(code, InterestingWord(), other, (byte)offset);
        return p;
    }

    /// <summary>Scratch reads the kernel must judge by path: some legal, most not, including the RET quirk.</summary>
    private Instruction[] ScratchBeforeWrite(Instruction[] p, out string how)
    {
        uint k = (uint)_rng.Next(BPF_MEMWORDS);
        uint other = (k + 1 + (uint)_rng.Next(BPF_MEMWORDS - 1)) % BPF_MEMWORDS;
        Instruction St(uint w) => Instruction.Stmt(_rng.Next(2) == 0 ? BPF_ST : BPF_STX, w);
        Instruction Ld(uint w) => Instruction.Stmt(Either(BPF_LD | BPF_MEM, BPF_LDX | BPF_MEM), w);
        Instruction Cond(byte jt, byte jf) => Instruction.Jump((ushort)(BPF_JMP | Pick(CondOps) | BPF_K), InterestingWord(), jt, jf);
        Instruction[] snippet;
        switch (_rng.Next(8))
        {
            case 0: how = "no-store"; snippet = [Ld(k)]; break;                                  // rejected
            case 1: how = "other-word"; snippet = [St(other), Ld(k)]; break;                     // rejected
            case 2: how = "straight"; snippet = [St(k), Ld(k)]; break;                           // accepted
            case 3: how = "one-branch"; snippet = [Cond(0, 1), St(k), Ld(k)]; break;             // rejected
            case 4: how = "both-branches"; snippet = [Cond(0, 2), St(k), Instruction.Stmt(BPF_JMP | BPF_JA, 1), St(k), Ld(k)]; break; // accepted
            case 5: how = "store-before-jump"; snippet = [St(k), Cond(1, 0), Instruction.Stmt(BPF_LD | BPF_IMM, 1), Ld(k)]; break;   // accepted
            case 6:
                // check_load_and_stores carries the set across a RET: the load is reached only through the store,
                // yet the kernel refuses it because the RET's fall-through set lacks the word.
                how = "ret-quirk";
                snippet = [Cond(0, 2), St(k), Instruction.Stmt(BPF_JMP | BPF_JA, 1), Instruction.Stmt(BPF_RET | BPF_K, 0), Ld(k)];
                break;
            default:
                // A load no path reaches, after a RET: judged with the set carried across the RET.
                how = "dead-load";
                snippet = [St(_rng.Next(2) == 0 ? k : other), Instruction.Stmt(BPF_RET | BPF_K, 0), Ld(k)];
                break;
        }
        // Put the snippet at the very start so that no earlier jump lands inside it; the program follows.
        return [.. snippet, .. p];
    }

    private (Instruction[] Program, string Mutation) LengthEdge()
    {
        int length = Pick<int>([0, 1, BPF_MAXINSNS - 1, BPF_MAXINSNS, BPF_MAXINSNS, BPF_MAXINSNS + 1, BPF_MAXINSNS + 1, BPF_MAXINSNS + 2, 0xffff]);
        if (length == 0)
            return ([], "length-0");
        // A valid short program padded at the front with A = k (jumps are relative, so they stay legal).
        var tail = ValidLooking(Math.Min(length, 1 + _rng.Next(8)));
        var p = new Instruction[length];
        for (int i = 0; i < length - tail.Length; i++)
            p[i] = Instruction.Stmt(BPF_LD | BPF_IMM, (uint)i);
        tail.CopyTo(p, Math.Max(0, length - tail.Length));
        return (p, string.Create(CultureInfo.InvariantCulture, $"length-{length}"));
    }

    private Instruction[] Replace(Instruction[] p, Instruction ins)
    {
        // Any instruction but the final RET, so the program keeps its shape.
        if (p.Length < 2)
            return [ins, .. p];
        p[_rng.Next(p.Length - 1)] = ins;
        return p;
    }

    /// <summary>False for the instructions whose <c>k</c> the kernel never reads.</summary>
    private static bool UsesK(ushort code) => code switch
    {
        BPF_MISC | BPF_TAX or BPF_MISC | BPF_TXA or BPF_ALU | BPF_NEG or BPF_RET | BPF_A or
        BPF_LD | BPF_W | BPF_LEN or BPF_LDX | BPF_W | BPF_LEN => false,
        _ => !((Class(code) == BPF_ALU || Class(code) == BPF_JMP && Op(code) != BPF_JA) && Src(code) == BPF_X),
    };

    private static Instruction[] Remove(Instruction[] p, int index) => [.. p[..index], .. p[(index + 1)..]];

    private ushort Either(ushort a, ushort b) => _rng.Next(2) == 0 ? a : b;

    private T Pick<T>(T[] items) => items[_rng.Next(items.Length)];
}
