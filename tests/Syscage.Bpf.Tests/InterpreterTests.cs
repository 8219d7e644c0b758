using Syscage.Bpf;
using static Syscage.Bpf.Opcode;
using Syscage.Abi;

namespace Syscage.Bpf.Tests;

/// <summary>
/// Targeted semantics of <see cref="Interpreter"/>: the kernel facts it must reproduce (LEN is 64, division by an X of zero
/// returns 0, shifts by X use its low 5 bits, unsigned compares) and the instruction count. The random comparison with the
/// kernel itself is in <see cref="KernelAgreementTests"/>.
/// </summary>
public sealed class InterpreterTests
{
    private const uint Allow = SeccompAction.SECCOMP_RET_ALLOW;
    private const uint X86_64 = 0xC000003E;

    private static Instruction S(ushort code, uint k = 0) => Instruction.Stmt(code, k);
    private static Instruction J(ushort code, uint k, byte jt, byte jf) => Instruction.Jump(code, k, jt, jf);
    private static readonly Instruction RetA = Instruction.Stmt(BPF_RET | BPF_A, 0);

    private static SeccompData Data(int nr = 1, params ulong[] args) => new(nr, X86_64, 0x7fff12345678, args);

    private static ExecutionResult Run(Instruction[] program, SeccompData? data = null) =>
        Interpreter.Run(Validator.Validate(program), data ?? Data());

    private static uint A(Instruction[] program, SeccompData? data = null) => Run(program, data).ReturnValue;

    /// <summary>A = a; X = x; A = A op X; return A.</summary>
    private static uint AluX(ushort op, uint a, uint x) =>
        A([S(BPF_LD | BPF_IMM, a), S(BPF_LDX | BPF_IMM, x), S((ushort)(BPF_ALU | op | BPF_X)), RetA]);

    /// <summary>A = a; A = A op k; return A.</summary>
    private static uint AluK(ushort op, uint a, uint k) =>
        A([S(BPF_LD | BPF_IMM, a), S((ushort)(BPF_ALU | op | BPF_K), k), RetA]);

    [Fact]
    public void Len_is_the_size_of_seccomp_data()
    {
        Assert.Equal(64u, A([S(BPF_LD | BPF_W | BPF_LEN), RetA]));
        Assert.Equal(64u, A([S(BPF_LDX | BPF_W | BPF_LEN, 5), S(BPF_MISC | BPF_TXA), RetA]));
    }

    [Fact]
    public void A_and_X_start_at_zero()
    {
        Assert.Equal(0u, A([RetA]));
        Assert.Equal(0u, A([S(BPF_MISC | BPF_TXA), RetA]));
    }

    [Fact]
    public void Division_by_an_X_of_zero_returns_zero_at_once()
    {
        // A = 5; X = 0; A /= X  -> the filter returns 0 (SECCOMP_RET_KILL_THREAD) without reaching the RET.
        var result = Run([S(BPF_LD | BPF_IMM, 5), S(BPF_LDX | BPF_IMM, 0), S(BPF_ALU | BPF_DIV | BPF_X), S(BPF_RET | BPF_K, Allow)]);
        Assert.Equal(new ExecutionResult(0, 3), result);
        Assert.Equal(SeccompActionKind.KillThread, result.Action.Kind);
    }

    [Fact]
    public void Division_is_unsigned_and_truncating()
    {
        Assert.Equal(0x7fffffffu, AluX(BPF_DIV, 0xffffffff, 2));
        Assert.Equal(3u, AluX(BPF_DIV, 7, 2));
        Assert.Equal(0u, AluX(BPF_DIV, 1, 0x80000000));
        Assert.Equal(0x80000000u, AluK(BPF_DIV, 0x80000000, 1));
        Assert.Equal(1u, AluK(BPF_DIV, 0xffffffff, 0xffffffff));
    }

    [Theory]
    [InlineData(1u, 33u, 2u)]            // 33 & 31 = 1
    [InlineData(1u, 32u, 1u)]            // 32 & 31 = 0: no shift
    [InlineData(1u, 31u, 0x80000000u)]
    [InlineData(1u, 0xffffffffu, 0x80000000u)]
    [InlineData(0x12345678u, 64u, 0x12345678u)]
    [InlineData(0x12345678u, 4u, 0x23456780u)]
    public void Left_shift_by_X_uses_its_low_five_bits(uint a, uint x, uint expected) =>
        Assert.Equal(expected, AluX(BPF_LSH, a, x));

    [Theory]
    [InlineData(0x80000000u, 33u, 0x40000000u)]
    [InlineData(0x80000000u, 32u, 0x80000000u)]
    [InlineData(0x80000000u, 31u, 1u)]
    [InlineData(0xffffffffu, 0x3fu, 1u)]
    public void Right_shift_by_X_is_logical_and_uses_its_low_five_bits(uint a, uint x, uint expected) =>
        Assert.Equal(expected, AluX(BPF_RSH, a, x));

    [Fact]
    public void Shifts_by_constants()
    {
        Assert.Equal(0x80000000u, AluK(BPF_LSH, 1, 31));
        Assert.Equal(1u, AluK(BPF_RSH, 0x80000000, 31));
        Assert.Equal(0xabcdu, AluK(BPF_RSH, 0xabcd, 0));
    }

    [Theory]
    [InlineData(1u, 0xffffffffu)]
    [InlineData(0u, 0u)]
    [InlineData(0x80000000u, 0x80000000u)]
    [InlineData(0xffffffffu, 1u)]
    public void Neg_is_twos_complement(uint a, uint expected) =>
        Assert.Equal(expected, A([S(BPF_LD | BPF_IMM, a), S(BPF_ALU | BPF_NEG), RetA]));

    [Fact]
    public void Arithmetic_wraps_at_32_bits()
    {
        Assert.Equal(0u, AluK(BPF_ADD, 0xffffffff, 1));
        Assert.Equal(0xffffffffu, AluX(BPF_SUB, 0, 1));
        Assert.Equal(0xfffffffeu, AluX(BPF_MUL, 0xffffffff, 2));
        Assert.Equal(0u, AluK(BPF_MUL, 0x10000, 0x10000));
        Assert.Equal(0x0ff0u, AluX(BPF_AND, 0xfff0, 0x0fff));
        Assert.Equal(0xffffu, AluK(BPF_OR, 0xff00, 0x00ff));
        Assert.Equal(0xf00fu, AluX(BPF_XOR, 0xffff, 0x0ff0));
    }

    [Fact]
    public void Scratch_memory_round_trips_through_A_and_X()
    {
        Instruction[] program =
        [
            S(BPF_LD | BPF_IMM, 0x11111111), S(BPF_ST, 0),       // M[0] = 0x11111111
            S(BPF_LDX | BPF_IMM, 0x22222222), S(BPF_STX, 15),    // M[15] = 0x22222222
            S(BPF_LD | BPF_IMM, 0), S(BPF_LDX | BPF_IMM, 0),
            S(BPF_LD | BPF_MEM, 15), S(BPF_LDX | BPF_MEM, 0),    // A = M[15]; X = M[0]
            S(BPF_ALU | BPF_ADD | BPF_X), RetA,                  // return A + X
        ];
        Assert.Equal(0x33333333u, A(program));
    }

    [Fact]
    public void Loads_read_seccomp_data_words_in_native_order()
    {
        var data = new SeccompData(-1, X86_64, 0x1122334455667788, 0xaaaaaaaabbbbbbbb, 1, 2, 3, 4, 0xfedcba9876543210);
        uint Word(uint k) => A([S(BPF_LD | BPF_W | BPF_ABS, k), RetA], data);
        Assert.Equal(0xffffffffu, Word(0));         // nr = -1
        Assert.Equal(X86_64, Word(4));              // arch
        Assert.Equal(0x55667788u, Word(8));         // instruction_pointer, low half
        Assert.Equal(0x11223344u, Word(12));        // instruction_pointer, high half
        Assert.Equal(0xbbbbbbbbu, Word(16));        // args[0] low
        Assert.Equal(0xaaaaaaaau, Word(20));        // args[0] high
        Assert.Equal(1u, Word(24));                 // args[1] low
        Assert.Equal(0x76543210u, Word(56));        // args[5] low
        Assert.Equal(0xfedcba98u, Word(60));        // args[5] high
    }

    [Fact]
    public void Jumps_compare_unsigned()
    {
        // if (A > 0x80000000) return 1; else return 2;
        Instruction[] Gt(uint a) => [S(BPF_LD | BPF_IMM, a), J(BPF_JMP | BPF_JGT | BPF_K, 0x80000000, 0, 1), S(BPF_RET | BPF_K, 1), S(BPF_RET | BPF_K, 2)];
        Assert.Equal(1u, A(Gt(0xffffffff)));
        Assert.Equal(2u, A(Gt(0x80000000)));
        Assert.Equal(2u, A(Gt(1)));

        // if (A >= X) return 1; else return 2;
        Instruction[] Ge(uint a, uint x) => [S(BPF_LD | BPF_IMM, a), S(BPF_LDX | BPF_IMM, x), J(BPF_JMP | BPF_JGE | BPF_X, 0, 0, 1), S(BPF_RET | BPF_K, 1), S(BPF_RET | BPF_K, 2)];
        Assert.Equal(1u, A(Ge(0xffffffff, 0x7fffffff)));
        Assert.Equal(1u, A(Ge(5, 5)));
        Assert.Equal(2u, A(Ge(0x7fffffff, 0x80000000)));
    }

    [Fact]
    public void Jeq_and_jset_with_K_and_X()
    {
        Instruction[] Prog(ushort code, uint a, uint operand) =>
            [S(BPF_LD | BPF_IMM, a), S(BPF_LDX | BPF_IMM, operand), J(code, operand, 0, 1), S(BPF_RET | BPF_K, 1), S(BPF_RET | BPF_K, 2)];
        Assert.Equal(1u, A(Prog(BPF_JMP | BPF_JEQ | BPF_K, 7, 7)));
        Assert.Equal(2u, A(Prog(BPF_JMP | BPF_JEQ | BPF_X, 7, 8)));
        Assert.Equal(1u, A(Prog(BPF_JMP | BPF_JSET | BPF_K, 0x80000001, 0x80000000)));
        Assert.Equal(2u, A(Prog(BPF_JMP | BPF_JSET | BPF_X, 0x0f, 0xf0)));
    }

    [Fact]
    public void Instruction_count_includes_only_executed_instructions_and_the_ret()
    {
        Instruction[] program =
        [
            S(BPF_LD | BPF_W | BPF_ABS, 0),                       // 0: A = nr
            J(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 3),                // 1: if (A != 1) goto 5
            S(BPF_JMP | BPF_JA, 2),                               // 2: goto 5 (pc 2 + 1 + 2)
            S(BPF_RET | BPF_K, 100),                              // 3: dead
            S(BPF_RET | BPF_K, 101),                              // 4: dead
            S(BPF_LD | BPF_IMM, 7),                               // 5
            RetA,                                                 // 6
        ];
        Assert.Equal(new ExecutionResult(7, 5), Run(program, Data(nr: 1)));   // 0, 1, 2, 5, 6
        Assert.Equal(new ExecutionResult(7, 4), Run(program, Data(nr: 2)));   // 0, 1, 5, 6
        Assert.Equal(new ExecutionResult(Allow, 1), Run([S(BPF_RET | BPF_K, Allow)]));
    }

    [Fact]
    public void Ret_returns_its_operand_unchanged()
    {
        Assert.Equal(0xdeadbeefu, A([S(BPF_RET | BPF_K, 0xdeadbeef)]));
        Assert.Equal(SeccompActionKind.Errno, Run([S(BPF_RET | BPF_K, SeccompAction.SECCOMP_RET_ERRNO | 1)]).Action.Kind);
    }

    [Fact]
    public void Trace_sees_each_step_before_it_runs()
    {
        var steps = new List<TraceStep>();
        var program = Validator.Validate([S(BPF_LD | BPF_IMM, 3), S(BPF_MISC | BPF_TAX), S(BPF_ALU | BPF_ADD | BPF_X), RetA]);
        var result = Interpreter.Run(program, Data(), steps.Add);
        Assert.Equal(new ExecutionResult(6, 4), result);
        Assert.Equal([0, 1, 2, 3], steps.Select(s => s.Pc));
        Assert.Equal([0u, 3u, 3u, 6u], steps.Select(s => s.A));
        Assert.Equal([0u, 0u, 3u, 3u], steps.Select(s => s.X));
        Assert.Equal(program.Instructions[2], steps[2].Instruction);
    }
}
