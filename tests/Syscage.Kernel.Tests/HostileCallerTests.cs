using Syscage.Bpf;
using Syscage.Policy;
using Syscage.Policy.Compiler;
using Syscage.Abi;
using static Syscage.Kernel.Tests.Sandboxed;

namespace Syscage.Kernel.Tests;

/// <summary>Callers that try the edges of the number space and the argument halves. None gets through.</summary>
public sealed class HostileCallerTests
{
    /// <summary>An allow-list for x86_64 only: everything the helper needs, ERRNO(1) for the rest, bad arch ERRNO(77).</summary>
    private static SeccompPolicy AllowList()
    {
        var b = new PolicyBuilder(SeccompAction.Errno(1), Architecture.X86_64) { BadArchAction = SeccompAction.Errno(77) };
        foreach (var name in new[] { "execve", "brk", "arch_prctl", "mmap", "mprotect", "munmap", "openat", "read", "write",
                     "close", "newfstatat", "fstat", "pread64", "access", "set_tid_address", "set_robust_list", "rseq",
                     "prlimit64", "getrandom", "exit_group", "exit", "futex", "rt_sigaction", "rt_sigprocmask",
                     "clone3", "clone", "madvise", "getpid" })
            b.Add(name, new Rule(Condition.True, SeccompAction.Allow));
        b.Add("kill", new Rule(Condition.Of(new ArgPredicate(0, ComparisonOp.Eq, 0)), SeccompAction.Allow));
        return b.Build();
    }

    [Theory]
    [InlineData("0x40000027", "ret -1 errno 77")]     // x32 getpid: the filter acts before the kernel's ENOSYS
    [InlineData("0x40000000", "ret -1 errno 77")]     // x32 read
    [InlineData("0x4000003e", "ret -1 errno 77")]     // x32 kill
    [InlineData("-1", "ret -1 errno 1")]              // -1: not x32, not allowed
    [InlineData("0x3fffffff", "ret -1 errno 1")]      // beyond the table
    [InlineData("463", "ret -1 errno 1")]
    [InlineData("0x7fffffff", "ret -1 errno 77")]
    [InlineData("0x80000027", "ret -1 errno 1")]      // sign bit, no x32 bit: x86_64 section, not allowed
    public void NumbersOutsideTheTableAreStopped(string nr, string expected)
    {
        var o = Run(AllowList(), "call", nr);
        Assert.Equal(expected, o.Stdout);
    }

    [Fact]
    public void ArgumentsDifferingOnlyInTheHighHalfAreStopped()
    {
        // kill(0, 0) is allowed (pid 0 = own process group, signal 0 = just a check); kill(0x1_0000_0000, 0) is not.
        Assert.Equal("ret 0 errno 0", Run(AllowList(), "call", "62", "0", "0").Stdout);
        Assert.Equal("ret -1 errno 1", Run(AllowList(), "call", "62", "0x100000000", "0").Stdout);
        Assert.Equal("ret -1 errno 1", Run(AllowList(), "call", "62", "0xffffffff00000000", "0").Stdout);
    }

    [Fact]
    public void ForeignArchitecturesGetTheBadArchAction()
    {
        // Foreign architectures are checked in the emulator on the same program (i386 calls through int 0x80 are made for
        // real in MultiplexedCallTests).
        var policy = AllowList();
        var program = PolicyCompiler.Compile(policy);
        foreach (uint arch in new uint[] { AuditArch.AUDIT_ARCH_I386, AuditArch.AUDIT_ARCH_AARCH64, AuditArch.AUDIT_ARCH_RISCV64, 0x4000_003e, 0 })
        {
            foreach (int nr in new[] { 0, 1, 3, 4, 39, 59, 231, -1, 0x4000_0000 })
                Assert.Equal(SeccompAction.Errno(77), Interpreter.Run(program, new SeccompData(nr, arch)).Action);
        }
        Assert.True(EquivalenceChecker.Check(policy, program).Equivalent);
    }
}
