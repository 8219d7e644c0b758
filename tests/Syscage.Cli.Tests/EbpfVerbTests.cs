using System.Text;
using Syscage.Cli.Commands.Ebpf;
using Syscage.Ebpf.Isa;
using Syscage.Testing;

namespace Syscage.Cli.Tests;

/// <summary><c>syscage ebpf asm|disasm|conformance-plugin</c>.</summary>
public sealed class EbpfVerbTests
{
    private const string Program = """
        # r0 = mem[1] + len
        ldxb %r0, [%r1+1]
        add %r0, %r2
        exit
        """;

    [Fact]
    public void Asm_then_disasm_round_trips_through_files()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("p.asm"), Program);
        var asm = CliRunner.Run("ebpf", "asm", dir.File("p.asm"));
        Assert.True(asm.ExitCode == 0, asm.ToString());
        Assert.Equal(24, new FileInfo(dir.File("p.ebpf")).Length);
        var disasm = CliRunner.Run("ebpf", "disasm", dir.File("p.ebpf"));
        Assert.Equal("ldxb %r0, [%r1+1]\nadd %r0, %r2\nexit\n", disasm.Stdout);
    }

    [Fact]
    public void Asm_errors_name_file_line_and_column()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("bad.asm"), "exit\n  ldxq %r0, [%r1]\n");
        var r = CliRunner.Run("ebpf", "asm", dir.File("bad.asm"));
        Assert.Equal(3, r.ExitCode);
        Assert.Contains($"{dir.File("bad.asm")}:2:3: unknown instruction 'ldxq'", r.Stderr);
    }

    [Fact]
    public void Disasm_refuses_a_partial_instruction()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("p.ebpf"), new byte[12]);
        var r = CliRunner.Run("ebpf", "disasm", dir.File("p.ebpf"));
        Assert.Equal(3, r.ExitCode);
        Assert.Contains("not a whole number of 8-byte eBPF instructions", r.Stderr);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Conformance_plugin_prints_r0_in_hex(bool interpret)
    {
        var bytes = Syscage.Ebpf.Isa.EbpfInstruction.WriteAll(Syscage.Ebpf.Isa.EbpfAssembler.Assemble(Program));
        var o = new StringWriter { NewLine = "\n" };
        int rc = EbpfConformancePluginCommand.Run(o, TextWriter.Null, new MemoryStream(bytes), "00 fa 00", interpret);
        Assert.Equal(0, rc);
        Assert.Equal("fd\n", o.ToString());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Conformance_plugin_passes_the_suite(bool interpret)
    {
        // What bpf_conformance does with the plugin: the -- asm program's bytes on stdin, the -- mem bytes as hex.
        var names = ConformanceFile.AllNames();
        Assert.True(names.Count >= 300, $"expected the suite in {ConformanceFile.Directory}, found {names.Count} files");
        var wrong = new List<string>();
        foreach (var name in names)
        {
            var vector = ConformanceFile.Load(name);
            var bytes = EbpfInstruction.WriteAll(EbpfAssembler.Assemble(vector.Asm!, vector.Path));
            var o = new StringWriter { NewLine = "\n" };
            string memory = Convert.ToHexString(vector.Memory);
            string got;
            try
            {
                EbpfConformancePluginCommand.Run(o, TextWriter.Null, new MemoryStream(bytes), memory, interpret);
                got = $"r0 = 0x{o.ToString().Trim()}";
            }
            catch (SyscageException e)
            {
                got = e.Message;
            }
            // A refused program or an expected error: a message that says so; else exactly r0.
            string? message = ConformanceFile.Refused.TryGetValue(name, out var refusal) ? refusal : vector.Error;
            string expected = message ?? $"r0 = 0x{vector.Result:x}";
            if (message is null ? got != expected : !got.Contains(message, StringComparison.Ordinal))
                wrong.Add($"{vector.Path}:{vector.ResultLine}: expected {expected}, got {got}");
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    [Fact]
    public void Conformance_plugin_as_a_process_reads_stdin()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("p.asm"), Program);
        Assert.Equal(0, CliRunner.Run("ebpf", "asm", dir.File("p.asm")).ExitCode);
        var psi = new System.Diagnostics.ProcessStartInfo("sh") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add($"\"{CliRunner.Tool}\" ebpf conformance-plugin 0102 < \"{dir.File("p.ebpf")}\"");
        using var p = System.Diagnostics.Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, stderr);
        Assert.Equal("4\n", stdout);
    }

    [Fact]
    public void Conformance_plugin_rejects_both_engines_and_bad_hex()
    {
        var r = CliRunner.Run("ebpf", "conformance-plugin", "--jit", "--interpret");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("exclude each other", r.Stderr);
        var e = Assert.Throws<CliException>(() => EbpfConformancePluginCommand.Run(TextWriter.Null, TextWriter.Null,
            new MemoryStream(new byte[8]), "zz"));
        Assert.Equal(ExitCode.Usage, e.ExitCode);
    }
}
