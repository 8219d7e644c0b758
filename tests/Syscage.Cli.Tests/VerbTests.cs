using Syscage.Bpf;

namespace Syscage.Cli.Tests;

/// <summary>The verbs on small hand-written programs: what they print and how they exit.</summary>
public sealed class VerbTests
{
    private const string Sample = """
        # allow read/write, deny openat with EACCES, kill everything else; i386 gets ERRNO(38)
                A = arch
                if (A == AUDIT_ARCH_I386) goto i386
                if (A != AUDIT_ARCH_X86_64) goto kill
                A = sys_number
                if (A >= 0x40000000) goto kill
                if (A == read) goto allow
                if (A == write) goto allow
                if (A == openat) goto eacces
                if (A != ioctl) goto kill
                A = args[1] >> 32
                if (A != 0) goto kill
                A = args[1]
                A &= 0xff00
                if (A == 0x5400) goto allow else goto kill
        i386:   A = sys_number
                if (A == open) goto eacces
                return ERRNO(38)
        allow:  return ALLOW
        eacces: return ERRNO(13)
        kill:   return KILL_PROCESS
        """;

    private static string Write(TempDir dir)
    {
        File.WriteAllText(dir.File("s.asm"), Sample);
        var r = CliRunner.Run("asm", dir.File("s.asm"), "-o", dir.File("s.bpf"));
        Assert.True(r.ExitCode == 0, r.ToString());
        return dir.File("s.bpf");
    }

    [Theory]
    [InlineData("read", "ALLOW")]
    [InlineData("openat", "ERRNO(13)")]
    [InlineData("execve", "KILL_PROCESS")]
    [InlineData("0x40000000", "KILL_PROCESS")]  // x32 read: never an x86_64 rule
    [InlineData("-1", "KILL_PROCESS")]
    public void EmuPrintsTheActionLast(string syscall, string action)
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("emu", Write(dir), syscall);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(action, r.LastLine);
    }

    [Fact]
    public void EmuReadsNamesForTheGivenArchitectureAndHighHalves()
    {
        using var dir = new TempDir();
        string f = Write(dir);
        Assert.Equal("ERRNO(13)", CliRunner.Run("emu", f, "open", "--arch", "x86").LastLine);     // i386 open = 5
        Assert.Equal("ERRNO(38)", CliRunner.Run("emu", f, "read", "--arch", "i386").LastLine);
        Assert.Equal("KILL_PROCESS", CliRunner.Run("emu", f, "read", "--arch", "aarch64").LastLine);
        Assert.Equal("ALLOW", CliRunner.Run("emu", f, "ioctl", "1", "0x5401").LastLine);
        // Differs only in the high 32 bits: must not pass.
        Assert.Equal("KILL_PROCESS", CliRunner.Run("emu", f, "ioctl", "1", "0x100005401").LastLine);
    }

    [Fact]
    public void EmuTraceShowsEachStep()
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("emu", Write(dir), "write", "--trace");
        Assert.Contains("0000: A=0x00000000 X=0x00000000  A = arch", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("if (A == write) goto", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("8 instructions executed", r.Stdout, StringComparison.Ordinal);
        Assert.Equal("ALLOW", r.LastLine);
    }

    [Fact]
    public void EmuShowsWhatTheKernelDoesWithOddValues()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("o.asm"), "return 0x12345678\n");
        Assert.Equal("KILL_PROCESS", CliRunner.Run("emu", dir.File("o.asm"), "read").LastLine);
        File.WriteAllText(dir.File("e.asm"), "return ERRNO(5000)\n");
        Assert.Equal("ERRNO(4095)", CliRunner.Run("emu", dir.File("e.asm"), "read").LastLine);
        File.WriteAllText(dir.File("t.asm"), "return TRAP(3)\n");
        Assert.Equal("TRAP(3)", CliRunner.Run("emu", dir.File("t.asm"), "read").LastLine);
        File.WriteAllText(dir.File("n.asm"), "return USER_NOTIF\n");
        Assert.Equal("USER_NOTIF", CliRunner.Run("emu", dir.File("n.asm"), "read").LastLine);
        File.WriteAllText(dir.File("l.asm"), "return LOG\n");
        Assert.Equal("LOG", CliRunner.Run("emu", dir.File("l.asm"), "read").LastLine);
        File.WriteAllText(dir.File("k.asm"), "return KILL_THREAD\n");
        Assert.Equal("KILL_THREAD", CliRunner.Run("emu", dir.File("k.asm"), "read").LastLine);
        File.WriteAllText(dir.File("r.asm"), "return TRACE(9)\n");
        Assert.Equal("TRACE(9)", CliRunner.Run("emu", dir.File("r.asm"), "read").LastLine);
    }

    [Fact]
    public void CheckExitCodes()
    {
        using var dir = new TempDir();
        var ok = CliRunner.Run("check", Write(dir));
        Assert.Equal(0, ok.ExitCode);
        Assert.Contains("ok, 20 instructions", ok.Stdout, StringComparison.Ordinal);
        File.WriteAllText(dir.File("bad.asm"), "A = data[5]\nreturn A\n");
        var bad = CliRunner.Run("asm", dir.File("bad.asm"), "--no-validate", "-o", dir.File("bad.bpf"));
        Assert.Equal(0, bad.ExitCode);
        var check = CliRunner.Run("check", dir.File("bad.bpf"));
        Assert.Equal(1, check.ExitCode);
        Assert.Contains("seccomp_data load must be 32-bit aligned and below offset 64 at pc 0", check.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void DisasmCFormat()
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("disasm", Write(dir), "--format", "c");
        Assert.Contains("BPF_STMT(BPF_LD|BPF_W|BPF_ABS, 4),", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("BPF_JUMP(BPF_JMP|BPF_JEQ|BPF_K, 0x40000003, ", r.Stdout, StringComparison.Ordinal);
        Assert.Contains(".len = 20,", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void SyscallsVerb()
    {
        var r = CliRunner.Run("syscalls", "openat");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("x86_64             257  openat(dirfd, pathname, flags, mode)", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("x86                295  openat", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("0x40000101", r.Stdout, StringComparison.Ordinal);
        // Every architecture, in the kernel's numbering (mips adds its ABI's base).
        Assert.Contains("mips64n32         6251  openat(dirfd, pathname, flags, mode)", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("s390x              288  openat(dirfd, pathname, flags, mode)", r.Stdout, StringComparison.Ordinal);
        Assert.Equal(23, r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        r = CliRunner.Run("syscalls", "--arches");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("s390x        SCMP_ARCH_S390X        AUDIT_ARCH_S390X         0x80000016   64 big", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("socketcall=4102 ipc=4117", r.Stdout, StringComparison.Ordinal);
        r = CliRunner.Run("syscalls", "--arch", "aarch64", "56");
        Assert.Contains("openat", r.Stdout, StringComparison.Ordinal);
        r = CliRunner.Run("syscalls", "--arch", "x86");
        Assert.Contains("socketcall", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("(AUDIT_ARCH_I386 0x40000003, 32-bit, little-endian)", r.Stdout, StringComparison.Ordinal);
        r = CliRunner.Run("syscalls", "--arch", "SCMP_ARCH_MIPSEL", "4003");
        Assert.Contains("mipsel            4003  read(fd, buf, count)", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryVerbHasHelp()
    {
        foreach (var verb in new[] { "asm", "disasm", "emu", "check", "syscalls", "compile", "explain", "run", "doctor" })
        {
            var r = CliRunner.Run(verb, "--help");
            Assert.Equal(0, r.ExitCode);
            Assert.Contains("Usage:", r.Stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void RandomProgramsRoundTripThroughDisasm()
    {
        // Any 8-byte sequence, valid or not, disassembles to text that re-assembles to the same bytes.
        var rng = new Random(99);
        for (int n = 0; n < 3000; n++)
        {
            int len = rng.Next(1, 12);
            var insns = new Instruction[len];
            for (int i = 0; i < len; i++)
            {
                ushort code = rng.Next(4) == 0 ? (ushort)rng.Next(0x10000) : Opcode.KnownCodes.ElementAt(rng.Next(Opcode.KnownCodes.Count));
                uint k = rng.Next(3) switch { 0 => (uint)rng.Next(64), 1 => (uint)rng.NextInt64(0, 1L << 32), _ => 0x40000003 };
                byte jt = (byte)(rng.Next(3) == 0 ? rng.Next(256) : rng.Next(len));
                byte jf = (byte)(rng.Next(3) == 0 ? 0 : rng.Next(len));
                insns[i] = new Instruction(code, jt, jf, k);
            }
            string text = Disassembler.ToText(insns);
            Assert.True(Assembler.TryAssemble(text, out var result, out var error), $"{error}\n{text}");
            Assert.True(insns.AsSpan().SequenceEqual(result.Instructions), text);
        }
    }
}
