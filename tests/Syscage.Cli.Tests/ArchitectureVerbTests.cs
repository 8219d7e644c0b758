using Syscage.Testing;

namespace Syscage.Cli.Tests;

/// <summary>
/// The verbs on architectures other than this machine's: --arch takes all 23, emu keeps a 32-bit ABI's whole
/// registers (what the kernel hands the filter) and says what the syscall sees, disasm names a big-endian path with its
/// own table and halves, doctor compares this kernel with the tables.
/// </summary>
public sealed class ArchitectureVerbTests
{
    /// <summary>
    /// A 64-bit process can make an i386 call with int 0x80 and anything in the high halves: the filter sees them, the
    /// syscall does not. A rule refusing AF_VSOCK (40) must refuse (1 &lt;&lt; 32) | 40 on x86, and emu must not cut the
    /// value to 32 bits before the filter sees it.
    /// </summary>
    [Fact]
    public void EmuGivesA32BitAbisFilterTheWholeRegisters()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("p.policy"), "default ALLOW\narch x86, s390\nERRNO(EPERM) socket if domain == AF_VSOCK\nKILL_PROCESS read if count > 0xff\n");
        foreach (var arch in new[] { "x86", "s390" })
        {
            var r = CliRunner.Run("emu", dir.File("p.policy"), "socket", "0x100000028", "1", "--arch", arch);
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal("ERRNO(1)", r.LastLine);
            Assert.Contains($"# {arch} is a 32-bit ABI: the syscall sees args[0] = 0x28 (the filter saw 0x100000028)", r.Stdout, StringComparison.Ordinal);
            // count = 0xffffffff00000010: 0x10 to the syscall, so not above 0xff.
            Assert.Equal("ALLOW", CliRunner.Run("emu", dir.File("p.policy"), "read", "0", "0", "0xffffffff00000010", "--arch", arch).LastLine);
            Assert.Equal("KILL_PROCESS", CliRunner.Run("emu", dir.File("p.policy"), "read", "0", "0", "0x100", "--arch", arch).LastLine);
        }
        // A filter that looks at the high half (not one Syscage writes, but libseccomp's or a hand-written one can): the
        // kernel kills this call, so emu must say so.
        File.WriteAllText(dir.File("high.asm"), """
            A = arch
            if (A != AUDIT_ARCH_I386) goto allow
            A = args[0] >> 32
            if (A != 0) goto kill
            allow: return ALLOW
            kill: return KILL_PROCESS
            """);
        Assert.Equal("KILL_PROCESS", CliRunner.Run("emu", dir.File("high.asm"), "read", "0x100000000", "--arch", "x86").LastLine);
        Assert.Equal("ALLOW", CliRunner.Run("emu", dir.File("high.asm"), "read", "0xffffffff", "--arch", "x86").LastLine);
        // Every architecture is accepted, in any spelling; one the policy does not cover gets the bad-arch action.
        Assert.Equal("KILL_PROCESS", CliRunner.Run("emu", dir.File("p.policy"), "read", "--arch", "SCMP_ARCH_MIPSEL64N32").LastLine);
        Assert.Equal("KILL_PROCESS", CliRunner.Run("emu", dir.File("p.policy"), "socket", "40", "--arch", "x86_64").LastLine);
    }

    [Fact]
    public void DisasmNamesABigEndianPathWithItsOwnTableAndHalves()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("p.policy"), "default ERRNO(EPERM)\narch s390x\nALLOW openat if (flags & 3) == 0\nALLOW read if count <= 0x100000000\n");
        var c = CliRunner.Run("compile", dir.File("p.policy"), "-o", dir.File("p.bpf"));
        Assert.True(c.ExitCode == 0, c.ToString());
        var r = CliRunner.Run("disasm", dir.File("p.bpf"));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("AUDIT_ARCH_S390X", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("openat", r.Stdout, StringComparison.Ordinal);               // 288, x86_64's accept4
        Assert.DoesNotContain("accept4", r.Stdout, StringComparison.Ordinal);
        // flags' low half is the word at 36 on s390x; count's high half the word at 32.
        Assert.Contains(r.Stdout.Split('\n'), l => l.Contains("A = args[2]  # openat(flags)", StringComparison.Ordinal) && l.EndsWith("0x00000024", StringComparison.Ordinal));
        Assert.Contains(r.Stdout.Split('\n'), l => l.Contains("A = args[2] >> 32  # read(count)", StringComparison.Ordinal) && l.EndsWith("0x00000020", StringComparison.Ordinal));
        File.WriteAllText(dir.File("p.asm"), r.Stdout);
        var a = CliRunner.Run("asm", dir.File("p.asm"), "-o", dir.File("q.bpf"));
        Assert.True(a.ExitCode == 0, a.ToString());
        Assert.Equal(File.ReadAllBytes(dir.File("p.bpf")), File.ReadAllBytes(dir.File("q.bpf")));
        // The emulator, on the same program: a value whose halves are swapped is another value.
        Assert.Equal("ALLOW", CliRunner.Run("emu", dir.File("p.bpf"), "read", "0", "0", "0x100000000", "--arch", "s390x").LastLine);
        Assert.Equal("ERRNO(1)", CliRunner.Run("emu", dir.File("p.bpf"), "read", "0", "0", "0x100000001", "--arch", "s390x").LastLine);
    }

    [Fact]
    public void DoctorComparesThisKernelWithTheTables()
    {
        var r = CliRunner.Run("doctor");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("syscall tables   Linux 7.1, 23 architectures", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("this kernel (", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("NEWER", Syscage.Cli.Commands.DoctorCommand.TablesLine("8.0.1-arch1"), StringComparison.Ordinal);
        Assert.Contains("NEWER", Syscage.Cli.Commands.DoctorCommand.TablesLine("7.2.0"), StringComparison.Ordinal);
        Assert.Contains("not older than this kernel (7.1)", Syscage.Cli.Commands.DoctorCommand.TablesLine("7.1.0-rc4"), StringComparison.Ordinal);
        Assert.Contains("not older than this kernel (6.18)", Syscage.Cli.Commands.DoctorCommand.TablesLine("6.18.44-fc"), StringComparison.Ordinal);
        Assert.Contains("cannot read", Syscage.Cli.Commands.DoctorCommand.TablesLine("weird"), StringComparison.Ordinal);
    }
}
