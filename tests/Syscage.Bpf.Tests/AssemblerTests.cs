namespace Syscage.Bpf.Tests;

/// <summary>
/// The assembler's Try and throw pair: malformed text gives the same first error through <see cref="Assembler.TryAssemble"/>
/// (false, the <see cref="AssemblyError"/>) and <see cref="Assembler.Assemble"/> (a <see cref="BpfFormatException"/>
/// with that message). Where a text has several errors, the one reported is the first the assembler meets.
/// </summary>
public sealed class AssemblerTests
{
    [Theory]
    [InlineData("A = sys_number\nretrun ALLOW\n", "t.asm:2:1: unknown instruction 'retrun'; did you mean 'return'?")]
    [InlineData("", "t.asm:1:1: empty program: no instructions")]
    // Two bad lines: the first is reported.
    [InlineData("retrun ALLOW\nreturn ALOW\n", "t.asm:1:1: unknown instruction 'retrun'; did you mean 'return'?")]
    // Operands are read left to right.
    [InlineData("raw(0x10000, 300, 0, 0)\n", "t.asm:1:5: opcode 0x10000 is out of range (at most 65535)")]
    // A line is split into tokens before it is read.
    [InlineData("A = $\nretrun ALLOW\n", "t.asm:1:5: unexpected character '$'")]
    // Jumps are resolved before syscall names (which need the whole program's facts).
    [InlineData("if (A == opnat) goto nowhere\nreturn ALLOW\n", "t.asm:1:22: undefined label 'nowhere'")]
    public void Malformed_text_fails_alike_through_TryAssemble_and_Assemble(string text, string message)
    {
        Assert.False(Assembler.TryAssemble(text, out var result, out var error, "t.asm"));
        Assert.Null(result);
        Assert.Equal(message, error!.ToString());
        Assert.Equal(message, Assert.Throws<BpfFormatException>(() => Assembler.Assemble(text, "t.asm")).Message);
    }

    [Fact]
    public void Well_formed_text_assembles_alike_through_both()
    {
        const string text = "A = sys_number\nif (A == read) goto ok\nreturn KILL_PROCESS\nok: return ALLOW\n";
        Assert.True(Assembler.TryAssemble(text, out var result, out var error), error?.ToString());
        Assert.Equal(result.Instructions, Assembler.Assemble(text));
    }
}
