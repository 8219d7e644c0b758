using Syscage.Abi;
using Architecture = Syscage.Abi.Architecture;
using ProcessArchitecture = System.Runtime.InteropServices.Architecture;
using RuntimeInformation = System.Runtime.InteropServices.RuntimeInformation;

namespace Syscage.Syscalls.Tests;

public class ArchitectureTests
{
    [Fact]
    public void AuditArchConstantsHaveTheKernelValues()
    {
        // linux/audit.h: EM_* | __AUDIT_ARCH_64BIT (0x80000000) | __AUDIT_ARCH_LE (0x40000000).
        Assert.Equal(0xC000003Eu, AuditArch.AUDIT_ARCH_X86_64);
        Assert.Equal(0x40000003u, AuditArch.AUDIT_ARCH_I386);
        Assert.Equal(0xC00000B7u, AuditArch.AUDIT_ARCH_AARCH64);
        Assert.Equal(0x40000028u, AuditArch.AUDIT_ARCH_ARM);
        Assert.Equal(0xC00000F3u, AuditArch.AUDIT_ARCH_RISCV64);
        Assert.Equal(0x80000016u, AuditArch.AUDIT_ARCH_S390X);
        Assert.Equal(0xA0000008u, AuditArch.AUDIT_ARCH_MIPS64N32);
    }

    /// <summary>One line of tests/vectors/abi/architectures.vectors.</summary>
    public sealed record ArchitectureFacts(string Where, string Name, string AuditArchName, uint AuditArch, int Bits, bool BigEndian,
        int NumberBase, string ScmpName, int? Socketcall, int? Ipc)
    {
        public override string ToString() => $"{Where} {Name}";
    }

    public static TheoryData<ArchitectureFacts> Facts() => [.. ReadFacts()];

    private static List<ArchitectureFacts> ReadFacts()
    {
        static int? Optional(string s) => s == "-" ? null : int.Parse(s, System.Globalization.CultureInfo.InvariantCulture);
        static long Number(string s) => s.StartsWith("0x", StringComparison.Ordinal)
            ? long.Parse(s.AsSpan(2), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture)
            : long.Parse(s, System.Globalization.CultureInfo.InvariantCulture);
        var data = new List<ArchitectureFacts>();
        string[] lines = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "vectors", "abi", "architectures.vectors"));
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].Split('#')[0].Trim();
            if (line.Length == 0)
                continue;
            string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            Assert.True(f.Length == 9, $"architectures.vectors:{i + 1}: expected 9 fields");
            Assert.True(f[4] is "big" or "little", $"architectures.vectors:{i + 1}: endian is big or little");
            data.Add(new ArchitectureFacts($"architectures.vectors:{i + 1}", f[0], f[1], (uint)Number(f[2]), int.Parse(f[3], System.Globalization.CultureInfo.InvariantCulture),
                f[4] == "big", (int)Number(f[5]), f[6], Optional(f[7]), Optional(f[8])));
        }
        return data;
    }

    [Fact]
    public void TheVectorsListEveryArchitectureInOrder() =>
        Assert.Equal(Architecture.All.Select(a => a.Name), ReadFacts().Select(f => f.Name));

    [Theory]
    [MemberData(nameof(Facts))]
    public void PropertiesAreTheKernelFacts(ArchitectureFacts facts)
    {
        Architecture arch = Architecture.Parse(facts.Name);
        Assert.Equal(facts.Name, arch.Name);
        Assert.Equal(facts.Name, arch.ToString());
        Assert.Equal(facts.AuditArch, arch.AuditArch);
        Assert.Equal(facts.AuditArchName, arch.AuditArchName);
        Assert.Equal(facts.Bits == 64, arch.Is64Bit);
        Assert.Equal(facts.BigEndian, arch.IsBigEndian);
        Assert.Equal(facts.NumberBase, arch.SyscallNumberBase);
        Assert.Equal(facts.Name == "x32" ? 0x40000000u : 0u, arch.SyscallNumberBit);
        Assert.Equal(facts.ScmpName, arch.ScmpName);
        Assert.Same(arch, Architecture.Parse(facts.ScmpName));
        Assert.Equal(facts.Socketcall, arch.SocketcallNumber);
        Assert.Equal(facts.Ipc, arch.IpcNumber);
    }

    /// <summary>
    /// libseccomp agrees on the token of every architecture it knows (its AUDIT_ARCH_* value; x32 has its own). The
    /// 2.5.4 of Debian 12 predates loongarch64, m68k and sh (2.6.0): for those it must answer "unknown", nothing else.
    /// </summary>
    [Theory]
    [MemberData(nameof(Facts))]
    public void LibseccompResolvesTheNameToTheAuditValue(ArchitectureFacts facts)
    {
        uint token = Syscage.Testing.Libseccomp.ArchToken(facts.Name);
        if (token == 0)
        {
            Assert.Contains(facts.Name, Syscage.Testing.Libseccomp.NewerArchitectures);
            return;
        }
        Assert.Equal(facts.Name == "x32" ? Syscage.Testing.Libseccomp.SCMP_ARCH_X32 : facts.AuditArch, token);
    }

    /// <summary>On a big-endian ABI the high half of an argument is the word at its offset; a filter's load must take the other.</summary>
    [Fact]
    public void ArgumentWordsFollowTheByteOrder()
    {
        Assert.Equal(16u, Architecture.X86_64.ArgumentOffset(0));
        Assert.Equal(20u, Architecture.X86_64.ArgumentOffset(0, highHalf: true));
        Assert.Equal(20u, Architecture.S390x.ArgumentOffset(0));
        Assert.Equal(16u, Architecture.S390x.ArgumentOffset(0, highHalf: true));
        Assert.Equal(60u, Architecture.Mips.ArgumentOffset(5));
        Assert.Equal(56u, Architecture.Mipsel.ArgumentOffset(5));
        Assert.Throws<ArgumentOutOfRangeException>(() => Architecture.Ppc64.ArgumentOffset(6));
    }

    /// <summary>A filter's 32-bit load reads the word the ABI's byte order puts there.</summary>
    [Fact]
    public void SeccompDataReadsWordsInTheArchitecturesByteOrder()
    {
        var le = new SeccompData(1, AuditArch.AUDIT_ARCH_X86_64, 0x1111_2222_3333_4444, 0xaaaa_bbbb_cccc_dddd);
        var be = new SeccompData(1, AuditArch.AUDIT_ARCH_S390X, 0x1111_2222_3333_4444, 0xaaaa_bbbb_cccc_dddd);
        Assert.False(le.IsBigEndian);
        Assert.True(be.IsBigEndian);
        Assert.Equal(0xcccc_ddddu, le.ReadWord(16));
        Assert.Equal(0xaaaa_bbbbu, le.ReadWord(20));
        Assert.Equal(0xaaaa_bbbbu, be.ReadWord(16));
        Assert.Equal(0xcccc_ddddu, be.ReadWord(20));
        Assert.Equal(0x3333_4444u, le.ReadWord(8));
        Assert.Equal(0x1111_2222u, be.ReadWord(8));
        Assert.Equal(1u, be.ReadWord(0));
        Assert.Equal(AuditArch.AUDIT_ARCH_S390X, be.ReadWord(4));
        // An AUDIT_ARCH_* value Syscage does not know: its __AUDIT_ARCH_LE bit says (0x28: ARM big-endian).
        Assert.True(new SeccompData(0, 0x0000_0028).IsBigEndian);
        Assert.False(new SeccompData(0, 0x4000_00f3).IsBigEndian);
    }

    /// <summary>What a 32-bit ABI's syscall sees: the low halves; the filter sees the registers whole.</summary>
    [Fact]
    public void ThirtyTwoBitCallsSeeTheLowHalves()
    {
        var x86 = new SeccompData(3, AuditArch.AUDIT_ARCH_I386, 0, 0x1_0000_0005, ulong.MaxValue);
        Assert.Equal(0x1_0000_0005ul, x86.Arg(0));
        Assert.Equal(5ul, x86.AsSyscallSeesIt().Arg(0));
        Assert.Equal(0xffff_fffful, x86.AsSyscallSeesIt().Arg(1));
        var x64 = new SeccompData(0, AuditArch.AUDIT_ARCH_X86_64, 0, 0x1_0000_0005);
        Assert.Equal(x64, x64.AsSyscallSeesIt());
        var x32 = new SeccompData(0x4000_0000, AuditArch.AUDIT_ARCH_X86_64, 0, 0x1_0000_0005);
        Assert.Equal(x32, x32.AsSyscallSeesIt());   // x32's registers are 64-bit
    }

    [Fact]
    public void StaticPropertiesAreTheParsedOnes()
    {
        Assert.Same(Architecture.X86_64, Architecture.Parse("x86_64"));
        Assert.Same(Architecture.X86, Architecture.Parse("x86"));
        Assert.Same(Architecture.X32, Architecture.Parse("x32"));
        Assert.Same(Architecture.Aarch64, Architecture.Parse("aarch64"));
        Assert.Same(Architecture.Arm, Architecture.Parse("arm"));
        Assert.Same(Architecture.Riscv64, Architecture.Parse("riscv64"));
        Assert.Same(Architecture.Loongarch64, Architecture.Parse("loongarch64"));
        Assert.Same(Architecture.M68k, Architecture.Parse("m68k"));
        Assert.Same(Architecture.Mips, Architecture.Parse("mips"));
        Assert.Same(Architecture.Mipsel, Architecture.Parse("mipsel"));
        Assert.Same(Architecture.Mips64, Architecture.Parse("mips64"));
        Assert.Same(Architecture.Mipsel64, Architecture.Parse("mipsel64"));
        Assert.Same(Architecture.Mips64N32, Architecture.Parse("mips64n32"));
        Assert.Same(Architecture.Mipsel64N32, Architecture.Parse("mipsel64n32"));
        Assert.Same(Architecture.Parisc, Architecture.Parse("parisc"));
        Assert.Same(Architecture.Parisc64, Architecture.Parse("parisc64"));
        Assert.Same(Architecture.Ppc, Architecture.Parse("ppc"));
        Assert.Same(Architecture.Ppc64, Architecture.Parse("ppc64"));
        Assert.Same(Architecture.Ppc64le, Architecture.Parse("ppc64le"));
        Assert.Same(Architecture.S390, Architecture.Parse("s390"));
        Assert.Same(Architecture.S390x, Architecture.Parse("s390x"));
        Assert.Same(Architecture.Sh, Architecture.Parse("sh"));
        Assert.Same(Architecture.Sheb, Architecture.Parse("sheb"));
        Assert.Equal(23, Architecture.All.Count);
        Assert.Equal(23, Architecture.All.Distinct().Count());
    }

    [Theory]
    [InlineData("X86_64", "x86_64")]
    [InlineData("amd64", "x86_64")]
    [InlineData("AMD64", "x86_64")]
    [InlineData("AUDIT_ARCH_X86_64", "x86_64")]
    [InlineData("audit_arch_x86_64", "x86_64")]
    [InlineData("i386", "x86")]
    [InlineData("i686", "x86")]
    [InlineData("ia32", "x86")]
    [InlineData("AUDIT_ARCH_I386", "x86")]
    [InlineData("X32", "x32")]
    [InlineData("SCMP_ARCH_X32", "x32")]
    [InlineData("arm64", "aarch64")]
    [InlineData("AUDIT_ARCH_AARCH64", "aarch64")]
    [InlineData("AUDIT_ARCH_ARM", "arm")]
    [InlineData("armv7l", "arm")]
    [InlineData("RISCV64", "riscv64")]
    [InlineData("AUDIT_ARCH_RISCV64", "riscv64")]
    [InlineData(" x86_64 ", "x86_64")]
    [InlineData("loong64", "loongarch64")]
    [InlineData("mips64el", "mipsel64")]
    [InlineData("mipsn32", "mips64n32")]
    [InlineData("hppa", "parisc")]
    [InlineData("powerpc", "ppc")]
    [InlineData("ppc64el", "ppc64le")]
    [InlineData("SCMP_ARCH_PPC64LE", "ppc64le")]
    [InlineData("AUDIT_ARCH_S390X", "s390x")]
    [InlineData("AUDIT_ARCH_SHEL", "sh")]
    [InlineData("AUDIT_ARCH_SH", "sheb")]
    [InlineData("sh4", "sh")]
    public void TryParseKnowsAliases(string input, string expected)
    {
        Assert.True(Architecture.TryParse(input, out Architecture? arch), input);
        Assert.Equal(expected, arch.Name);
    }

    [Theory]
    [InlineData("")]
    [InlineData("sparc")]
    [InlineData("riscv32")]
    [InlineData("x86_65")]
    [InlineData("AUDIT_ARCH_X32")]
    [InlineData("SCMP_ARCH_NATIVE")]
    public void TryParseRejectsUnknownNames(string input)
    {
        Assert.False(Architecture.TryParse(input, out Architecture? arch));
        Assert.Null(arch);
    }

    [Fact]
    public void ParseListsTheValidNames()
    {
        var e = Assert.Throws<ArgumentException>(() => Architecture.Parse("sparc"));
        Assert.Contains("'sparc'", e.Message, StringComparison.Ordinal);
        foreach (Architecture arch in Architecture.All)
        {
            Assert.Contains(arch.Name, e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void FromAuditArchPrefersX86_64OverX32()
    {
        Assert.Same(Architecture.X86_64, Architecture.FromAuditArch(0xC000003E));
        foreach (Architecture arch in Architecture.All.Where(a => a != Architecture.X32))
        {
            Assert.Same(arch, Architecture.FromAuditArch(arch.AuditArch));
        }

        Assert.Null(Architecture.FromAuditArch(0));
        Assert.Null(Architecture.FromAuditArch(0x40000028 | 0x80000000));
    }

    [Fact]
    public void NativeMatchesTheProcess()
    {
        Architecture expected = RuntimeInformation.ProcessArchitecture switch
        {
            ProcessArchitecture.X64 => Architecture.X86_64,
            ProcessArchitecture.Arm64 => Architecture.Aarch64,
            ProcessArchitecture.X86 => Architecture.X86,
            ProcessArchitecture.RiscV64 => Architecture.Riscv64,
            ProcessArchitecture.S390x => Architecture.S390x,
            ProcessArchitecture.Ppc64le => Architecture.Ppc64le,
            ProcessArchitecture.LoongArch64 => Architecture.Loongarch64,
            _ => Architecture.Arm,
        };
        Assert.Same(expected, Architecture.Native);
    }

    [Fact]
    public void TheX32RuleIsTheBitExceptMinusOne()
    {
        uint x86_64 = Architecture.X86_64.AuditArch;
        Assert.Same(Architecture.X86_64, Architecture.Of(x86_64, 0));
        Assert.Same(Architecture.X32, Architecture.Of(x86_64, 0x4000_0000));
        Assert.Same(Architecture.X32, Architecture.Of(x86_64, unchecked((int)0xc000_0001)));
        Assert.Same(Architecture.X86_64, Architecture.Of(x86_64, -1));
        Assert.Same(Architecture.X86, Architecture.Of(Architecture.X86.AuditArch, 0x4000_0000));
        Assert.Null(Architecture.Of(0x1234, 0));
        Assert.True(Architecture.X32.Owns(0x4000_0001) && !Architecture.X86_64.Owns(0x4000_0001) && Architecture.X86_64.Owns(-1) && !Architecture.X32.Owns(-1));
        Assert.True(Architecture.X86.Owns(0x4000_0001));
    }
}
