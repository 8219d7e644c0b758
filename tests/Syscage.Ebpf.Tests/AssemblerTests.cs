using Syscage.Bpf;
using Syscage.Ebpf.Isa;
using Syscage.Testing;
using static Syscage.Ebpf.Isa.EbpfOpcode;

namespace Syscage.Ebpf.Tests;

public sealed class AssemblerTests
{
    [Theory]
    [InlineData("mov32 %r0, 0", BPF_ALU | BPF_MOV | BPF_K, 0, 0, 0, 0)]
    [InlineData("ldxdw %r1, [%r10-8]", BPF_LDX | BPF_MEM | BPF_DW, 1, 10, -8, 0)]
    [InlineData("stb [%r1+2], 0x11", BPF_ST | BPF_MEM | BPF_B, 1, 0, 2, 0x11)]
    [InlineData("lock fetch add32 [%r10-4], %r1", BPF_STX | BPF_ATOMIC | BPF_W, 10, 1, -4, BPF_ADD | BPF_FETCH)]
    [InlineData("lock cmpxchg [%r10-8], %r1", BPF_STX | BPF_ATOMIC | BPF_DW, 10, 1, -8, BPF_CMPXCHG)]
    [InlineData("lock xchg32 [%r2], %r3", BPF_STX | BPF_ATOMIC | BPF_W, 2, 3, 0, BPF_XCHG)]
    [InlineData("sdiv32 %r0, -1", BPF_ALU | BPF_DIV | BPF_K, 0, 0, 1, -1)]
    [InlineData("smod %r0, %r1", BPF_ALU64 | BPF_MOD | BPF_X, 0, 1, 1, 0)]
    [InlineData("movsx3264 %r0, %r9", BPF_ALU64 | BPF_MOV | BPF_X, 0, 9, 32, 0)]
    [InlineData("be16 %r0", BPF_ALU | BPF_END | BPF_TO_BE, 0, 0, 0, 16)]
    [InlineData("le64 %r3", BPF_ALU | BPF_END | BPF_TO_LE, 3, 0, 0, 64)]
    [InlineData("bswap32 %r0", BPF_ALU64 | BPF_END, 0, 0, 0, 32)]
    [InlineData("ldxsh %r0, [%r1+2]", BPF_LDX | BPF_MEMSX | BPF_H, 0, 1, 2, 0)]
    [InlineData("jsgt32 %r1, %r2, +3", BPF_JMP32 | BPF_JSGT | BPF_X, 1, 2, 3, 0)]
    [InlineData("jeq %r1, 0x80000000, -1", BPF_JMP | BPF_JEQ | BPF_K, 1, 0, -1, int.MinValue)]
    [InlineData("ja32 +5", BPF_JMP32 | BPF_JA, 0, 0, 0, 5)]
    [InlineData("call 14", BPF_JMP | BPF_CALL, 0, 0, 0, 14)]
    [InlineData("neg32 %r2", BPF_ALU | BPF_NEG, 2, 0, 0, 0)]
    public void Encodes_one_instruction(string text, int code, int dst, int src, int off, int imm)
    {
        var insn = Assert.Single(EbpfAssembler.Assemble(text));
        Assert.Equal(new EbpfInstruction((byte)code, (byte)dst, (byte)src, (short)off, imm), insn);
        Assert.Equal(insn, Assert.Single(EbpfAssembler.Assemble(EbpfDisassembler.ToText([insn]))));
    }

    [Fact]
    public void Labels_local_calls_and_wide_constants()
    {
        var p = EbpfAssembler.Assemble("""
            start: lddw %r1, map[3]
            lddw %r2, map_value[1]+16
            call local f   # comment
            ja start
            f:
            exit
            """);
        Assert.Equal(7, p.Length);
        Assert.Equal(new EbpfInstruction(BPF_LD | BPF_DW, 1, BPF_PSEUDO_MAP_FD, 0, 3), p[0]);
        Assert.Equal(new EbpfInstruction(BPF_LD | BPF_DW, 2, BPF_PSEUDO_MAP_VALUE, 0, 1), p[2]);
        Assert.Equal(16, p[3].Imm);
        Assert.Equal(new EbpfInstruction(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 1), p[4]);
        Assert.Equal(-6, p[5].Offset);
        Assert.True(p.SequenceEqual(EbpfAssembler.Assemble(EbpfDisassembler.ToText(p))));
    }

    [Theory]
    [InlineData("mov %r0, 1\nmovv %r0, 1", "<input>:2:1: unknown instruction 'movv' (did you mean 'mov'?)")]
    [InlineData("mov %r11, 1", "<input>:1:5: expected a register %r0..%r10, found '%r11'")]
    [InlineData("ja nowhere\nexit", "<input>:1:4: undefined label 'nowhere'")]
    [InlineData("jeq %r0, 1, loop\nlop: exit", "<input>:1:13: undefined label 'loop' (did you mean 'lop'?)")]
    [InlineData("mov32 %r0, 0x100000000", "<input>:1:12: immediate 0x100000000 does not fit in 32 bits")]
    [InlineData("ldxw %r0, [%r1+40000]", "<input>:1:11: memory offset '+40000' is not a 16-bit signed integer")]
    [InlineData("  exit %r0", "<input>:1:3: 'exit' takes no operands")]
    [InlineData("x: exit\nx: exit", "<input>:2:1: label 'x' defined twice")]
    [InlineData("lock nand [%r1], %r2", "<input>:1:6: unknown atomic operation 'nand' (add, or, and, xor, xchg, cmpxchg, with an optional 32 suffix)")]
    // Of two errors the first met is reported: the memory operand is read before the register, the register before the target.
    [InlineData("ldxw %r11, [%r1+40000]", "<input>:1:12: memory offset '+40000' is not a 16-bit signed integer")]
    [InlineData("jeq %r11, 1, nowhere\nexit", "<input>:1:5: expected a register %r0..%r10, found '%r11'")]
    [InlineData("mov %r0, 1\nmovv %r0, 1\nmov %r11, 1", "<input>:2:1: unknown instruction 'movv' (did you mean 'mov'?)")]
    public void Errors_point_at_line_and_column(string text, string message)
    {
        Assert.False(EbpfAssembler.TryAssemble(text, out _, out AssemblyError? error));
        Assert.Equal(message, error!.ToString());
        Assert.Equal(message, Assert.Throws<SyscageException>(() => EbpfAssembler.Assemble(text)).Message);
    }

    [Fact]
    public void Any_bytes_disassemble_to_text_that_reassembles_to_the_same_bytes()
    {
        var random = new Random(6);
        byte[] interesting = [.. Enumerable.Range(0, 256).Select(i => (byte)i)];
        for (int round = 0; round < 2000; round++)
        {
            var program = new EbpfInstruction[random.Next(1, 12)];
            for (int i = 0; i < program.Length; i++)
            {
                // Mostly plausible slots (valid opcodes, small fields), sometimes arbitrary bytes.
                bool wild = random.Next(4) == 0;
                program[i] = new EbpfInstruction(
                    interesting[random.Next(256)],
                    (byte)random.Next(wild ? 16 : 11),
                    (byte)(wild ? random.Next(16) : random.Next(3) == 0 ? random.Next(11) : 0),
                    (short)(wild ? random.Next(short.MinValue, short.MaxValue) : random.Next(-3, 4) * (random.Next(2) == 0 ? 1 : 8)),
                    wild ? random.Next(int.MinValue, int.MaxValue) : random.Next(3) == 0 ? 0 : random.Next(-70, 70));
            }
            var text = EbpfDisassembler.ToText(program);
            Assert.True(EbpfAssembler.TryAssemble(text, out var again, out var error), $"{error}\n{text}");
            Assert.True(program.SequenceEqual(again), $"round trip changed the program:\n{text}\n{string.Join("\n", program)}\n--\n{string.Join("\n", again)}");
        }
    }
}

public sealed class AssemblerFuzzTests
{
    [Fact]
    public void Mutated_suite_text_gives_an_error_or_a_program_never_an_exception()
    {
        var random = new Random(66);
        var texts = ConformanceFile.AllNames().Select(n => ConformanceFile.Load(n).Asm!).ToArray();
        const string alphabet = "%r0123456789abcdefx+-[],: #\nlocalmapvalue_.";
        for (int round = 0; round < 3000; round++)
        {
            var chars = texts[random.Next(texts.Length)].ToCharArray().ToList();
            for (int m = random.Next(1, 6); m > 0 && chars.Count > 0; m--)
            {
                int at = random.Next(chars.Count);
                switch (random.Next(3))
                {
                    case 0: chars[at] = alphabet[random.Next(alphabet.Length)]; break;
                    case 1: chars.RemoveAt(at); break;
                    default: chars.Insert(at, alphabet[random.Next(alphabet.Length)]); break;
                }
            }
            var text = new string([.. chars]);
            bool ok = EbpfAssembler.TryAssemble(text, out var program, out var error);
            Assert.True(ok ? program is not null : error is not null && error.Position.Line >= 1, text);
        }
    }
}
