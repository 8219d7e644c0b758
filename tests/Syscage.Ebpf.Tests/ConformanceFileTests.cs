using Syscage.Ebpf.Isa;
using Syscage.Testing;

namespace Syscage.Ebpf.Tests;

/// <summary>The one reader of the conformance <c>.data</c> format (<see cref="ConformanceFile"/>), on text written here.</summary>
public sealed class ConformanceFileTests
{
    private const string Sample = """
        # Copyright line
        -- c
        uint64_t entry(void) { return 0x1122; }
        -- asm
        ldxh %r0, [%r1]   # a comment
        exit
        -- raw
        0x0000000000001069
        0x0000000000000095
        -- mem
        22 11 # little endian
        -- result
        0x1122
        """;

    [Fact]
    public void Every_section_is_read_with_its_line()
    {
        var f = ConformanceFile.Parse("dir/sample.data", Sample);
        Assert.Equal("sample.data", f.Name);
        Assert.Equal([0x1069ul, 0x95], f.Raw);
        Assert.Equal([0x22, 0x11], f.Memory);
        Assert.Equal(0x1122ul, f.Result);
        Assert.Equal(12, f.ResultLine);
        Assert.Null(f.Error);
        // The asm keeps the file's line numbers: its first instruction is on line 5, and the notes in '-- c' are not in it.
        Assert.Equal("ldxh %r0, [%r1]   # a comment", f.Asm!.Split('\n')[4]);
        Assert.Equal(EbpfInstruction.ReadAll(BitConverter.GetBytes(0x1069ul).Concat(BitConverter.GetBytes(0x95ul)).ToArray()),
            EbpfAssembler.Assemble(f.Asm, f.Path));
        var e = Assert.ThrowsAny<Exception>(() => EbpfAssembler.Assemble(f.Asm.Replace("exit", "exot", StringComparison.Ordinal), f.Path));
        Assert.Contains("dir/sample.data:6", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_error_section_instead_of_a_result()
    {
        var f = ConformanceFile.Parse("e.data", "-- asm\nexit\n-- error\ndivision by zero # why\n");
        Assert.Null(f.Result);
        Assert.Equal(0, f.ResultLine);
        Assert.Equal("division by zero", f.Error);
        Assert.Empty(f.Memory);
        Assert.Null(f.Raw);
    }

    [Theory]
    [InlineData("-- asm\nexit\n-- result\n0x1\n-- result\n0x2\n", "x.data:5: a second '-- result' section (the first is at line 3)")]
    [InlineData("-- mem\n00 1g\n", "x.data:2: '1g' is not a hex byte")]
    [InlineData("-- raw\n0x95\nzz\n", "x.data:3: 'zz' is not a hex number")]
    [InlineData("-- result\n0x1\n0x2\n", "x.data:1: the result section holds 2 values, not one")]
    public void Malformed_files_name_the_line(string text, string message)
    {
        var e = Assert.Throws<FormatException>(() => ConformanceFile.Parse("x.data", text));
        Assert.Equal(message, e.Message);
    }
}
