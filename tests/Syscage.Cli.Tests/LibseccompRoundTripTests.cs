using Syscage.Bpf;
using Syscage.Abi;
using Syscage.Testing;
using Xunit.Abstractions;
using static Syscage.Testing.Libseccomp;

namespace Syscage.Cli.Tests;

/// <summary>
/// Filters exported by libseccomp (the real libseccomp.so.2): disasm then asm gives the same bytes, and
/// emu agrees with the independent reference interpreter on every syscall number of every architecture.
/// </summary>
public sealed class LibseccompRoundTripTests(ITestOutputHelper output)
{
    private const uint ALLOW = 0x7fff0000, KILL_PROCESS = 0x80000000, LOG = 0x7ffc0000, NOTIFY = 0x7fc00000;
    private static uint Errno(int e) => 0x00050000u | (uint)e;
    private static uint Trap(int d) => 0x00030000u | (uint)d;
    private static uint Trace(int d) => 0x7ff00000u | (uint)d;

    /// <summary>A container-style allow-list on x86_64, x86 and x32 with argument checks of every comparison.</summary>
    internal static byte[] ExportSample(bool binaryTree)
    {
        using var f = new Libseccomp(Errno(1));
        f.AddArch(SCMP_ARCH_X86);
        f.AddArch(SCMP_ARCH_X32);
        if (binaryTree)
            f.SetAttr(SCMP_FLTATR_CTL_OPTIMIZE, 2);
        foreach (var name in new[] { "read", "write", "close", "exit", "exit_group", "brk", "mmap", "munmap", "rt_sigreturn", "getpid", "futex", "openat", "fstat", "newfstatat", "lseek" })
            Assert.Equal(0, f.AddRule(ALLOW, Resolve(SCMP_ARCH_X86_64, name)));
        Assert.Equal(0, f.AddRule(KILL_PROCESS, Resolve(SCMP_ARCH_X86_64, "ptrace")));
        Assert.Equal(0, f.AddRule(Trap(0), Resolve(SCMP_ARCH_X86_64, "reboot"))); // libseccomp takes TRAP without data
        Assert.Equal(0, f.AddRule(Trace(3), Resolve(SCMP_ARCH_X86_64, "mount")));
        Assert.Equal(0, f.AddRule(LOG, Resolve(SCMP_ARCH_X86_64, "uname")));
        Assert.Equal(0, f.AddRule(NOTIFY, Resolve(SCMP_ARCH_X86_64, "mkdir")));
        Assert.Equal(0, f.AddRule(Errno(13), Resolve(SCMP_ARCH_X86_64, "socket"), new ArgCmp { Arg = 0, Op = SCMP_CMP_EQ, DatumA = 16 }));
        Assert.Equal(0, f.AddRule(ALLOW, Resolve(SCMP_ARCH_X86_64, "ioctl"), new ArgCmp { Arg = 1, Op = SCMP_CMP_MASKED_EQ, DatumA = 0xffff_0000, DatumB = 0x5400 }));
        Assert.Equal(0, f.AddRule(ALLOW, Resolve(SCMP_ARCH_X86_64, "kill"), new ArgCmp { Arg = 0, Op = SCMP_CMP_GT, DatumA = 0x1_0000_0000 }, new ArgCmp { Arg = 1, Op = SCMP_CMP_NE, DatumA = 9 }));
        Assert.Equal(0, f.AddRule(Errno(22), Resolve(SCMP_ARCH_X86_64, "personality"), new ArgCmp { Arg = 0, Op = SCMP_CMP_LE, DatumA = 8 }));
        Assert.Equal(0, f.AddRule(ALLOW, Resolve(SCMP_ARCH_X86_64, "prctl"), new ArgCmp { Arg = 0, Op = SCMP_CMP_GE, DatumA = 0xffff_ffff_0000_0001 }));
        Assert.Equal(0, f.AddRule(ALLOW, Resolve(SCMP_ARCH_X86_64, "dup3"), new ArgCmp { Arg = 2, Op = SCMP_CMP_LT, DatumA = 3 }));
        return f.ExportBpf();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DisasmThenAsmGivesIdenticalBytes(bool binaryTree)
    {
        byte[] exported = ExportSample(binaryTree);
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("f.bpf"), exported);

        var dis = CliRunner.Run("disasm", dir.File("f.bpf"));
        Assert.True(dis.ExitCode == 0, dis.ToString());
        Assert.Equal("", dis.Stderr);
        File.WriteAllText(dir.File("f.asm"), dis.Stdout);

        var asm = CliRunner.Run("asm", dir.File("f.asm"), "-o", dir.File("g.bpf"));
        Assert.True(asm.ExitCode == 0, asm.ToString());
        byte[] again = File.ReadAllBytes(dir.File("g.bpf"));
        Assert.True(exported.AsSpan().SequenceEqual(again), "re-assembled bytes differ; disassembly:\n" + dis.Stdout);
        output.WriteLine($"{exported.Length / 8} instructions round-tripped; first lines:\n{string.Join('\n', dis.Stdout.Split('\n').Take(12))}");
    }

    [Fact]
    public void DisasmNamesSyscallsPerArchitecture()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("f.bpf"), ExportSample(false));
        var dis = CliRunner.Run("disasm", dir.File("f.bpf")).Stdout;
        Assert.Contains("if (A == openat)", dis, StringComparison.Ordinal);
        Assert.Contains("AUDIT_ARCH_I386", dis, StringComparison.Ordinal);
        Assert.Contains("x32.", dis, StringComparison.Ordinal);           // x32 numbers under AUDIT_ARCH_X86_64
        Assert.Contains("args[0] >> 32", dis, StringComparison.Ordinal);  // 64-bit comparisons check the high half
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EmuAgreesWithReferenceInterpreterOnEverySyscallNumber(bool binaryTree)
    {
        byte[] exported = ExportSample(binaryTree);
        using var dir = new TempDir();
        string path = dir.File("f.bpf");
        File.WriteAllBytes(path, exported);
        var rng = new Random(1234);
        int checkedCount = 0;
        foreach (var arch in new[] { Architecture.X86_64, Architecture.X86, Architecture.X32, Architecture.Aarch64 })
        {
            int max = arch.Syscalls.All.Max(s => s.Number & ~(int)arch.SyscallNumberBit);
            var numbers = Enumerable.Range(0, max + 20).Select(n => (long)(n | (int)arch.SyscallNumberBit))
                .Concat([-1, 0x3fffffff, 0x40000000, 0x40000000 + 257, 0x7fffffff, int.MinValue]);
            foreach (long nr in numbers)
            {
                ulong[] args = [(ulong)rng.NextInt64(), (ulong)rng.Next(20), 0x5401, 9, 0x1_0000_0001, (ulong)rng.Next(4)];
                if (!arch.Is64Bit)
                    args = args.Select(a => a & 0xffff_ffff).ToArray();
                string[] argText = args.Select(a => "0x" + a.ToString("x")).ToArray();
                var r = CliRunner.Run(["emu", path, nr.ToString(), .. argText, "--arch", arch.Name]);
                Assert.True(r.ExitCode == 0, r.ToString());
                uint expected = ReferenceBpf.Run(exported, ReferenceBpf.Data((int)nr, arch.AuditArch, 0, args));
                Assert.True(ReferenceBpf.Describe(expected) == r.LastLine,
                    $"{arch.Name} nr {nr}: reference {ReferenceBpf.Describe(expected)} (0x{expected:x8}), emu said:\n{r}");
                checkedCount++;
            }
        }
        output.WriteLine($"{checkedCount} calls agreed");
        Assert.True(checkedCount > 1500);
    }

    [Fact]
    public void TheRealToolRoundTripsToo()
    {
        using var dir = new TempDir();
        byte[] exported = ExportSample(true);
        File.WriteAllBytes(dir.File("f.bpf"), exported);
        var dis = CliRunner.RunProcess("disasm", dir.File("f.bpf"));
        Assert.True(dis.ExitCode == 0, dis.ToString());
        File.WriteAllText(dir.File("f.asm"), dis.Stdout);
        var asm = CliRunner.RunProcess("asm", dir.File("f.asm"), "-o", dir.File("g.bpf"));
        Assert.True(asm.ExitCode == 0, asm.ToString());
        Assert.Equal(exported, File.ReadAllBytes(dir.File("g.bpf")));
        var emu = CliRunner.RunProcess("emu", dir.File("f.bpf"), "ptrace");
        Assert.Equal("KILL_PROCESS", emu.LastLine);
        emu = CliRunner.RunProcess("emu", dir.File("f.bpf"), "socket", "16");
        Assert.Equal("ERRNO(13)", emu.LastLine);
    }
}
