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
    }

    public static TheoryData<string, uint, string, bool, uint> Properties => new()
    {
        { "x86_64", 0xC000003E, "AUDIT_ARCH_X86_64", true, 0 },
        { "x86", 0x40000003, "AUDIT_ARCH_I386", false, 0 },
        { "x32", 0xC000003E, "AUDIT_ARCH_X86_64", true, 0x40000000 },
        { "aarch64", 0xC00000B7, "AUDIT_ARCH_AARCH64", true, 0 },
        { "arm", 0x40000028, "AUDIT_ARCH_ARM", false, 0 },
        { "riscv64", 0xC00000F3, "AUDIT_ARCH_RISCV64", true, 0 },
    };

    [Theory]
    [MemberData(nameof(Properties))]
    public void PropertiesAreTheKernelFacts(string name, uint auditArch, string auditArchName, bool is64Bit, uint numberBit)
    {
        Architecture arch = Architecture.Parse(name);
        Assert.Equal(name, arch.Name);
        Assert.Equal(name, arch.ToString());
        Assert.Equal(auditArch, arch.AuditArch);
        Assert.Equal(auditArchName, arch.AuditArchName);
        Assert.Equal(is64Bit, arch.Is64Bit);
        Assert.Equal(numberBit, arch.SyscallNumberBit);
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
    [InlineData("arm64", "aarch64")]
    [InlineData("AUDIT_ARCH_AARCH64", "aarch64")]
    [InlineData("AUDIT_ARCH_ARM", "arm")]
    [InlineData("RISCV64", "riscv64")]
    [InlineData("AUDIT_ARCH_RISCV64", "riscv64")]
    [InlineData(" x86_64 ", "x86_64")]
    public void TryParseKnowsAliases(string input, string expected)
    {
        Assert.True(Architecture.TryParse(input, out Architecture? arch), input);
        Assert.Equal(expected, arch.Name);
    }

    [Theory]
    [InlineData("")]
    [InlineData("mips")]
    [InlineData("x86_65")]
    [InlineData("AUDIT_ARCH_X32")]
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
        foreach (string name in new[] { "x86_64", "x86", "x32", "aarch64", "arm", "riscv64" })
        {
            Assert.Contains(name, e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void FromAuditArchPrefersX86_64OverX32()
    {
        Assert.Same(Architecture.X86_64, Architecture.FromAuditArch(0xC000003E));
        Assert.Same(Architecture.X86, Architecture.FromAuditArch(AuditArch.AUDIT_ARCH_I386));
        Assert.Same(Architecture.Aarch64, Architecture.FromAuditArch(AuditArch.AUDIT_ARCH_AARCH64));
        Assert.Same(Architecture.Arm, Architecture.FromAuditArch(AuditArch.AUDIT_ARCH_ARM));
        Assert.Same(Architecture.Riscv64, Architecture.FromAuditArch(AuditArch.AUDIT_ARCH_RISCV64));
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
