using Syscage.Bpf;
using static Syscage.Bpf.Opcode;
using Syscage.Abi;

namespace Syscage.Bpf.Tests;

/// <summary>One targeted validator case: a program and the first reason and pc the kernel's order yields, or null when it is accepted.</summary>
public sealed record ValidatorCase(string Name, Instruction[] Program, string? Reason, int Pc);

/// <summary>
/// One case per kernel rule (bpf_check_basics_ok, bpf_check_classic, check_load_and_stores, seccomp_check_filter), each at
/// its boundary. <see cref="KernelAgreementTests"/> loads the same cases into the kernel, so every expectation here is
/// also checked against the real thing.
/// </summary>
public sealed class ValidatorTests
{
    private const uint Allow = SeccompAction.SECCOMP_RET_ALLOW;
    private const string Unknown = "unknown opcode";
    private const string DivZero = "division by constant zero";
    private const string Shift = "shift by 32 or more";
    private const string MemIndex = "scratch memory index out of range (0..15)";
    private const string JumpRange = "jump out of range";
    private const string Ancillary = "unknown ancillary load offset";
    private const string NoRet = "program does not end in a return";
    private const string Mod = "BPF_MOD is not allowed in seccomp filters";
    private const string Packet = "packet load is not allowed in seccomp filters (only 32-bit seccomp_data loads)";
    private const string DataLoad = "seccomp_data load must be 32-bit aligned and below offset 64";

    private static string Scratch(int k) => $"scratch word M[{k}] may be read before it is written";

    private static Instruction S(ushort code, uint k = 0) => Instruction.Stmt(code, k);
    private static Instruction J(ushort code, uint k, byte jt, byte jf) => Instruction.Jump(code, k, jt, jf);
    private static Instruction Ret(uint k = Allow) => Instruction.Stmt(BPF_RET | BPF_K, k);
    private static Instruction LdImm(uint k = 0) => Instruction.Stmt(BPF_LD | BPF_IMM, k);

    private static Instruction[] Padded(int length) => [.. Enumerable.Range(0, length - 1).Select(i => LdImm((uint)i)), Ret()];

    /// <summary>The cases; names are unique.</summary>
    public static readonly ValidatorCase[] Cases =
    [
        // bpf_check_basics_ok / seccomp_prepare_filter: 1..BPF_MAXINSNS instructions.
        new("empty", [], "empty program: a filter needs at least one instruction", -1),
        new("length-4096", Padded(4096), null, 0),
        new("length-4097", Padded(4097), "program too long: 4097 instructions, the kernel allows at most 4096", -1),
        new("lone-ret", [Ret()], null, 0),

        // chk_code_allowed
        new("unknown-0xffff", [LdImm(), new Instruction(0xffff, 0, 0, 0), Ret()], Unknown, 1),
        new("unknown-neg-x", [new Instruction(BPF_ALU | BPF_NEG | BPF_X, 0, 0, 0), Ret()], Unknown, 0),
        new("unknown-ld-h-len", [new Instruction(BPF_LD | BPF_H | BPF_LEN, 0, 0, 0), Ret()], Unknown, 0),
        new("unknown-high-byte", [new Instruction(0x0106, 0, 0, Allow)], Unknown, 0),
        new("unknown-jmp-x-ja", [new Instruction(BPF_JMP | BPF_JA | BPF_X, 0, 0, 0), Ret()], Unknown, 0),

        // Division and shift by constants.
        new("div-k-0", [LdImm(7), S(BPF_ALU | BPF_DIV | BPF_K, 0), Ret()], DivZero, 1),
        new("mod-k-0", [S(BPF_ALU | BPF_MOD | BPF_K, 0), Ret()], DivZero, 0),
        new("div-k-1", [S(BPF_ALU | BPF_DIV | BPF_K, 1), Ret()], null, 0),
        new("lsh-k-32", [S(BPF_ALU | BPF_LSH | BPF_K, 32), Ret()], Shift, 0),
        new("rsh-k-max", [LdImm(), S(BPF_ALU | BPF_RSH | BPF_K, 0xffffffff), Ret()], Shift, 1),
        new("lsh-k-31", [S(BPF_ALU | BPF_LSH | BPF_K, 31), S(BPF_ALU | BPF_RSH | BPF_K, 31), Ret()], null, 0),
        new("lsh-x-any", [S(BPF_LDX | BPF_IMM, 99), S(BPF_ALU | BPF_LSH | BPF_X, 99), Ret()], null, 0),

        // Scratch memory index.
        new("st-16", [S(BPF_ST, 16), Ret()], MemIndex, 0),
        new("stx-max", [S(BPF_STX, 0xffffffff), Ret()], MemIndex, 0),
        new("ld-mem-16", [S(BPF_ST, 0), S(BPF_LD | BPF_MEM, 16), Ret()], MemIndex, 1),
        new("ldx-mem-16", [S(BPF_LDX | BPF_MEM, 16), Ret()], MemIndex, 0),
        new("st-15-ld-15", [S(BPF_ST, 15), S(BPF_LDX | BPF_MEM, 15), Ret()], null, 0),

        // Jumps: JA k < flen - pc - 1; conditional pc + jt/jf + 1 < flen.
        new("ja-k-too-far", [LdImm(), LdImm(), LdImm(), S(BPF_JMP | BPF_JA, 1), Ret()], JumpRange, 3),
        new("ja-k-last", [S(BPF_JMP | BPF_JA, 2), LdImm(), LdImm(), Ret()], null, 0),
        new("ja-k-max", [S(BPF_JMP | BPF_JA, 0xffffffff), Ret()], JumpRange, 0),
        new("ja-k-0-before-ret", [S(BPF_JMP | BPF_JA, 0), Ret()], null, 0),
        new("jeq-jt-too-far", [J(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0), Ret()], JumpRange, 0),
        new("jgt-jf-too-far", [LdImm(), J(BPF_JMP | BPF_JGT | BPF_X, 0, 0, 2), LdImm(), Ret()], JumpRange, 1),
        new("jset-both-last", [J(BPF_JMP | BPF_JSET | BPF_K, 1, 2, 2), LdImm(), LdImm(), Ret()], null, 0),
        new("jge-255", [J(BPF_JMP | BPF_JGE | BPF_K, 1, 255, 0), .. Padded(256)], null, 0),
        new("jge-255-too-far", [J(BPF_JMP | BPF_JGE | BPF_K, 1, 255, 0), .. Padded(255)], JumpRange, 0),
        new("first-fault-in-pc-order", [LdImm(), S(BPF_JMP | BPF_JA, 9), new Instruction(0xffff, 0, 0, 0), Ret()], JumpRange, 1),

        // Ancillary loads: known offsets pass bpf_check_classic, seccomp refuses them later.
        new("ancillary-unknown", [S(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + 0x100), Ret()], Ancillary, 0),
        new("ancillary-unaligned", [S(BPF_LD | BPF_B | BPF_ABS, SKF_AD_OFF + 2), Ret()], Ancillary, 0),
        new("ancillary-past-vlan-tpid", [S(BPF_LD | BPF_H | BPF_ABS, SKF_AD_OFF + 64), Ret()], Ancillary, 0),
        new("ancillary-max", [S(BPF_LD | BPF_W | BPF_ABS, 0xffffffff), Ret()], Ancillary, 0),
        new("ancillary-protocol-w", [S(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF), Ret()], DataLoad, 0),
        new("ancillary-vlan-tpid-b", [S(BPF_LD | BPF_B | BPF_ABS, SKF_AD_OFF + 60), Ret()], Packet, 0),

        // The final instruction must be a RET; checked before check_load_and_stores and seccomp's rules.
        new("no-ret", [LdImm()], NoRet, 0),
        new("ret-then-tax", [Ret(), S(BPF_MISC | BPF_TAX)], NoRet, 1),
        new("no-ret-before-mod", [S(BPF_ALU | BPF_MOD | BPF_X), LdImm()], NoRet, 1),
        new("ret-a-last", [S(BPF_RET | BPF_A)], null, 0),

        // check_load_and_stores.
        new("ld-mem-unwritten", [S(BPF_LD | BPF_MEM, 0), Ret()], Scratch(0), 0),
        new("ldx-mem-other-word", [S(BPF_ST, 1), S(BPF_LDX | BPF_MEM, 2), Ret()], Scratch(2), 1),
        new("store-on-one-branch", [J(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1), S(BPF_ST, 3), S(BPF_LD | BPF_MEM, 3), S(BPF_RET | BPF_A)], Scratch(3), 2),
        new("store-on-both-branches",
            [J(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2), S(BPF_ST, 3), S(BPF_JMP | BPF_JA, 1), S(BPF_STX, 3), S(BPF_LD | BPF_MEM, 3), S(BPF_RET | BPF_A)], null, 0),
        new("store-before-jump", [S(BPF_STX, 5), J(BPF_JMP | BPF_JSET | BPF_X, 0, 0, 0), S(BPF_LDX | BPF_MEM, 5), Ret()], null, 0),
        // The kernel's walk does not reset its set at a RET: pc 4 is reached only from pc 2, after the store at pc 1, yet the
        // set carried from pc 3 (reached from pc 0 without the store) is intersected in, and the load is refused.
        new("ret-quirk",
            [J(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2), S(BPF_ST, 0), S(BPF_JMP | BPF_JA, 1), Ret(0), S(BPF_LD | BPF_MEM, 0), S(BPF_RET | BPF_A)], Scratch(0), 4),
        // Without the RET in between the same shape is accepted: the jump from pc 0 skips to pc 3, a store on each way.
        new("ret-quirk-control",
            [J(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2), S(BPF_ST, 0), S(BPF_JMP | BPF_JA, 1), S(BPF_ST, 0), S(BPF_LD | BPF_MEM, 0), S(BPF_RET | BPF_A)], null, 0),
        // Dead code after a RET is still walked, with the set carried across the RET.
        new("dead-load-after-ret", [Ret(), S(BPF_LD | BPF_MEM, 0), S(BPF_RET | BPF_A)], Scratch(0), 1),
        new("dead-load-after-ret-stored", [S(BPF_ST, 0), Ret(), S(BPF_LD | BPF_MEM, 0), S(BPF_RET | BPF_A)], null, 0),
        // After a JA the walk starts over from "everything written" at pc+1, which only jumps can reach.
        new("dead-load-after-ja", [S(BPF_JMP | BPF_JA, 1), S(BPF_LD | BPF_MEM, 7), Ret()], null, 0),
        // check_load_and_stores runs before seccomp_check_filter.
        new("scratch-before-packet-load", [S(BPF_LD | BPF_H | BPF_ABS, 0), S(BPF_LD | BPF_MEM, 0), Ret()], Scratch(0), 1),

        // seccomp_check_filter.
        new("mod-x", [S(BPF_ALU | BPF_MOD | BPF_X), Ret()], Mod, 0),
        new("mod-k-3", [LdImm(), S(BPF_ALU | BPF_MOD | BPF_K, 3), Ret()], Mod, 1),
        new("ld-h-abs", [S(BPF_LD | BPF_H | BPF_ABS, 0), Ret()], Packet, 0),
        new("ld-b-abs", [S(BPF_LD | BPF_B | BPF_ABS, 4), Ret()], Packet, 0),
        new("ld-w-ind", [S(BPF_LD | BPF_W | BPF_IND, 0), Ret()], Packet, 0),
        new("ld-b-ind", [S(BPF_LD | BPF_B | BPF_IND, 0), Ret()], Packet, 0),
        new("ldx-b-msh", [S(BPF_LDX | BPF_B | BPF_MSH, 0), Ret()], Packet, 0),
        new("ld-w-abs-misaligned", [S(BPF_LD | BPF_W | BPF_ABS, 2), Ret()], DataLoad, 0),
        new("ld-w-abs-64", [S(BPF_LD | BPF_W | BPF_ABS, 64), Ret()], DataLoad, 0),
        new("ld-w-abs-60", [S(BPF_LD | BPF_W | BPF_ABS, 60), Ret()], null, 0),
        new("ld-w-abs-large", [LdImm(), S(BPF_LD | BPF_W | BPF_ABS, 0x7ffffffc), Ret()], DataLoad, 1),
        new("ld-len", [S(BPF_LD | BPF_W | BPF_LEN, 12345), S(BPF_LDX | BPF_W | BPF_LEN), Ret()], null, 0),

        // Fields an instruction does not use are ignored.
        new("unused-fields", [new Instruction(BPF_ALU | BPF_NEG, 7, 9, 0xdeadbeef), new Instruction(BPF_MISC | BPF_TAX, 255, 255, 1), new Instruction(BPF_RET | BPF_A, 3, 4, 5)], null, 0),
    ];

    /// <summary>Case names for <see cref="Rule"/>.</summary>
    public static TheoryData<string> CaseNames
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var c in Cases)
                data.Add(c.Name);
            return data;
        }
    }

    /// <summary>Looks a case up by name.</summary>
    public static ValidatorCase Case(string name) => Cases.Single(c => c.Name == name);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Rule(string name)
    {
        var c = Case(name);
        var error = Validator.Check(c.Program);
        if (c.Reason is null)
        {
            Assert.True(error is null, $"{name}: expected accepted, got: {error}");
            return;
        }
        Assert.True(error is not null, $"{name}: expected '{c.Reason}' at pc {c.Pc}, got accepted");
        Assert.Equal(c.Reason, error.Reason);
        Assert.Equal(c.Pc, error.Pc);
        Assert.Equal("EINVAL", error.Errno);
        if (c.Pc >= 0)
            Assert.Equal(c.Program[c.Pc], error.Instruction);
        else
            Assert.Null(error.Instruction);
    }

    [Fact]
    public void Names_are_unique() =>
        Assert.Equal(Cases.Length, Cases.Select(c => c.Name).Distinct().Count());

    [Fact]
    public void Message_names_the_pc_and_the_instruction()
    {
        var error = Validator.Check(Case("ja-k-too-far").Program);
        Assert.NotNull(error);
        Assert.Equal("jump out of range at pc 3: BPF_JMP|BPF_JA jt=0 jf=0 k=0x1", error.ToString());
        Assert.Equal("empty program: a filter needs at least one instruction", Validator.Check([])!.ToString());
    }

    [Fact]
    public void Validate_throws_with_the_error_and_TryValidate_reports_it()
    {
        var bad = Case("ret-quirk").Program;
        var e = Assert.Throws<BpfValidationException>(() => Validator.Validate(bad));
        Assert.Equal(Scratch(0), e.Error.Reason);
        Assert.Equal(4, e.Error.Pc);
        Assert.StartsWith("scratch word M[0] may be read before it is written at pc 4", e.Message, StringComparison.Ordinal);

        Assert.False(Validator.TryValidate(bad, out var none, out var error));
        Assert.Null(none);
        Assert.Equal(4, error!.Pc);

        var good = Case("store-on-both-branches").Program;
        Assert.True(Validator.TryValidate(good, out var program, out var noError));
        Assert.Null(noError);
        Assert.Equal(good, program!.Instructions.ToArray());
    }

    [Fact]
    public void Every_seccomp_opcode_is_accepted_and_every_other_known_opcode_refused()
    {
        foreach (ushort code in KnownCodes)
        {
            // Operands that satisfy every per-instruction rule: k = 4 (aligned, < 16, < 32, non-zero), no jump offsets.
            var ins = new Instruction(code, 0, 0, code == (BPF_JMP | BPF_JA) ? 0u : 4u);
            Instruction[] program = [S(BPF_ST, 4), ins, Ret()];
            var error = Validator.Check(program);
            if (SeccompCodes.Contains(code))
                Assert.True(error is null, $"{Opcode.Name(code)}: {error}");
            else
                Assert.True(error is { Pc: 1 }, $"{Opcode.Name(code)} should be refused at pc 1, got {error?.ToString() ?? "accepted"}");
        }
    }

    [Fact]
    public void Codes_outside_the_classic_table_are_unknown()
    {
        for (int code = 0; code <= 0xffff; code++)
        {
            if (KnownCodes.Contains((ushort)code))
                continue;
            var error = Validator.Check([new Instruction((ushort)code, 0, 0, 0), Ret()]);
            Assert.True(error is { Reason: Unknown, Pc: 0 }, $"0x{code:x4}: {error?.ToString() ?? "accepted"}");
        }
    }
}
