using Syscage.Ebpf.Isa;
using Syscage.Ebpf.Verifier;
using static Syscage.Ebpf.Isa.EbpfOpcode;

namespace Syscage.EbpfLoader.Tests;

/// <summary>
/// What a rejection reads like: <c>&lt;reason&gt; at pc N: &lt;instruction&gt;</c>, the instruction printed by the one
/// eBPF printer (<see cref="EbpfDisassembler"/>), so it is the line <c>syscage ebpf disasm</c> shows for that slot and
/// it assembles back to the same bytes. <see cref="EbpfVerifier.TryVerify"/> reports it, and <see cref="EbpfVerifier.Verify"/>
/// throws it; the first error found is the one reported, and nothing is explored after it.
/// </summary>
public class VerifierMessageTests
{
    private static readonly EbpfInstruction Exit = new(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    private static readonly EbpfInstruction R0Is0 = new(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0);

    public static TheoryData<string, EbpfInstruction[], string> Rejections => new()
    {
        {
            "a store into the context: offset 0 is shown as [%r1], immediates as the disassembler writes them",
            [new(BPF_ST | BPF_MEM | BPF_W, 1, 0, 0, 7), R0Is0, Exit],
            "write into the context (struct seccomp_data is read-only) at pc 0: stw [%r1], 0x7"
        },
        {
            "a map-value reference reads as one, not as a map",
            [new(BPF_LD | BPF_DW | BPF_IMM, 1, BPF_PSEUDO_MAP_VALUE, 0, 3), new(0, 0, 0, 0, 4), R0Is0, Exit],
            "lddw refers to map 3, but the program has 0 maps at pc 0: lddw %r1, map_value[3]+4"
        },
        {
            "an exit with a stray immediate is not shown as a plain exit",
            [R0Is0, new(BPF_JMP | BPF_EXIT, 0, 0, 0, 1)],
            "unknown opcode 0x95 at pc 1: .raw 0x0000000100000095"
        },
        {
            "an operation on a pointer is named by its mnemonic",
            [new(BPF_ALU64 | BPF_MOV | BPF_X, 0, 10, 0, 0), new(BPF_ALU64 | BPF_MUL | BPF_K, 0, 0, 0, 2), Exit],
            "mul on a pointer (fp) is not allowed; only add and sub at pc 1: mul %r0, 0x2"
        },
        {
            "a signed division by its signed mnemonic",
            [new(BPF_ALU64 | BPF_MOV | BPF_X, 0, 10, 0, 0), new(BPF_ALU64 | BPF_DIV | BPF_K, 0, 0, 1, -2), Exit],
            "sdiv on a pointer (fp) is not allowed; only add and sub at pc 1: sdiv %r0, -2"
        },
        {
            "the encoding of every instruction is checked before any path is explored: a later bad slot wins",
            [new(BPF_ST | BPF_MEM | BPF_W, 1, 0, 0, 7), R0Is0, new(BPF_JMP | BPF_EXIT, 0, 0, 0, 1)],
            "unknown opcode 0x95 at pc 2: .raw 0x0000000100000095"
        },
        {
            "a rejection on the first path explored (the fall-through) ends verification: the jump target's error is never reached",
            [new(BPF_LDX | BPF_MEM | BPF_W, 2, 1, 0, 0), new(BPF_JMP | BPF_JEQ | BPF_K, 2, 0, 2, 0), new(BPF_ST | BPF_MEM | BPF_W, 1, 0, 0, 7), Exit,
             new(BPF_ALU64 | BPF_MOV | BPF_X, 0, 3, 0, 0), Exit],
            "write into the context (struct seccomp_data is read-only) at pc 2: stw [%r1], 0x7"
        },
    };

    [Theory]
    [MemberData(nameof(Rejections))]
    public void A_rejection_shows_the_instruction_as_the_disassembler_prints_it(string what, EbpfInstruction[] program, string expected)
    {
        Assert.False(EbpfVerifier.TryVerify(program, null, out _, out var error), $"{what}: accepted");
        Assert.True(expected == error.ToString(), $"{what}:\nexpected {expected}\n     got {error}");
        var thrown = Assert.Throws<EbpfVerificationException>(() => EbpfVerifier.Verify(program));
        Assert.Equal(error, thrown.Error);
        Assert.Equal(expected, thrown.Message);
        var next = error.Pc + 1 < program.Length ? program[error.Pc + 1] : (EbpfInstruction?)null;
        Assert.Equal(EbpfDisassembler.Format(program[error.Pc], next), error.Text);
        // The text is assembler: it spells exactly the bytes at the pc.
        var again = EbpfAssembler.Assemble(error.Text!);
        Assert.Equal(program.Skip(error.Pc).Take(again.Length), again);
    }
}
