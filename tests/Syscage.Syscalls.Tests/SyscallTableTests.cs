using Syscage.Policy.Syscalls;

namespace Syscage.Syscalls.Tests;

public class SyscallTableTests
{
    public static TheoryData<string, string, int> KnownNumbers => new()
    {
        // asm/unistd_64.h
        { "x86_64", "read", 0 },
        { "x86_64", "execve", 59 },
        { "x86_64", "openat", 257 },
        { "x86_64", "seccomp", 317 },
        // asm/unistd_32.h
        { "x86", "openat", 295 },
        { "x86", "socketcall", 102 },
        { "x86", "read", 3 },
        // asm/unistd_x32.h: (__X32_SYSCALL_BIT + n), x32's own calls from 512
        { "x32", "read", 0x40000000 },
        { "x32", "execve", 0x40000000 + 520 },
        { "x32", "openat", 0x40000000 + 257 },
        // asm-generic/unistd.h
        { "aarch64", "openat", 56 },
        { "aarch64", "read", 63 },
        { "aarch64", "renameat", 38 },
        { "aarch64", "fstat", 80 },
        { "aarch64", "newfstatat", 79 },
        { "aarch64", "clone3", 435 },
        { "aarch64", "memfd_secret", 447 },
        { "riscv64", "openat", 56 },
        { "riscv64", "riscv_flush_icache", 259 },
        { "riscv64", "memfd_secret", 447 },
        { "riscv64", "getrlimit", 163 },
    };

    [Theory]
    [MemberData(nameof(KnownNumbers))]
    public void KnownNumbersAreThere(string arch, string name, int number)
    {
        SyscallTable table = Architecture.Parse(arch).Syscalls;
        Assert.True(table.TryGetNumber(name, out int actual), $"{arch} has no {name}");
        Assert.Equal(number, actual);
        Assert.True(table.TryGetName(number, out string? actualName));
        Assert.Equal(name, actualName);
    }

    public static TheoryData<string, string> KnownAbsences => new()
    {
        // The generic table has only the *at calls, no time32 calls on 64-bit, no renameat on riscv.
        { "aarch64", "open" },
        { "aarch64", "stat" },
        { "aarch64", "fork" },
        { "aarch64", "clock_gettime64" },
        { "aarch64", "riscv_flush_icache" },
        { "riscv64", "open" },
        { "riscv64", "renameat" },
        { "x86_64", "socketcall" },
        { "x86_64", "clock_gettime64" },
        { "x32", "ioctl_nonexistent" },
    };

    [Theory]
    [MemberData(nameof(KnownAbsences))]
    public void KnownAbsencesAreAbsent(string arch, string name)
        => Assert.False(Architecture.Parse(arch).Syscalls.TryGet(name, out _), $"{arch} should not have {name}");

    [Fact]
    public void NonSyscallMacrosAreLeftOut()
    {
        foreach (Architecture arch in Architecture.All)
        {
            foreach (string name in new[] { "syscalls", "arch_specific_syscall" })
            {
                Assert.False(arch.Syscalls.TryGet(name, out _), $"{arch}: {name}");
            }

            Assert.DoesNotContain(arch.Syscalls.All, s => s.Name.StartsWith("3264", StringComparison.Ordinal) || s.Name.StartsWith("_NR", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void EveryTableRoundTripsNameAndNumber()
    {
        foreach (Architecture arch in Architecture.All)
        {
            SyscallTable table = arch.Syscalls;
            Assert.True(table.Count > 250, $"{arch} has only {table.Count} syscalls");
            Assert.Same(arch, table.Architecture);
            Assert.Equal(table.All.Count, table.All.Select(s => s.Name).Distinct().Count());
            Assert.Equal(table.All.Count, table.All.Select(s => s.Number).Distinct().Count());
            Assert.Equal(table.All.OrderBy(s => s.Number).Select(s => s.Name), table.All.Select(s => s.Name));
            foreach (Syscall syscall in table.All)
            {
                Assert.True(table.TryGetNumber(syscall.Name, out int number), $"{arch}: {syscall.Name}");
                Assert.Equal(syscall.Number, number);
                Assert.True(table.TryGetName(syscall.Number, out string? name), $"{arch}: {syscall.Number}");
                Assert.Equal(syscall.Name, name);
                Assert.True(table.TryGet(syscall.Name, out Syscall? found));
                Assert.Same(syscall, found);
                Assert.True(syscall.ArgNames.Count <= 6, $"{arch}: {syscall}");
                Assert.Equal((uint)syscall.Number & arch.SyscallNumberBit, arch.SyscallNumberBit);
            }
        }
    }

    [Fact]
    public void X32NumbersAllCarryTheX32BitAndX86_64NumbersNone()
    {
        Assert.All(Architecture.X32.Syscalls.All, s => Assert.True((s.Number & 0x40000000) != 0, s.ToString()));
        Assert.All(Architecture.X86_64.Syscalls.All, s => Assert.True((s.Number & 0x40000000) == 0, s.ToString()));
    }

    [Fact]
    public void UnknownLookupsFail()
    {
        SyscallTable table = Architecture.X86_64.Syscalls;
        Assert.False(table.TryGetNumber("no_such_call", out int number));
        Assert.Equal(0, number);
        Assert.False(table.TryGetName(99999, out string? name));
        Assert.Null(name);
        Assert.False(table.TryGetNumber("OPENAT", out _)); // kernel spelling only
    }

    [Fact]
    public void ArmIsNamedButHasNoTableAndIsNotInAll()
    {
        Assert.Empty(Architecture.Arm.Syscalls.All);
        Assert.DoesNotContain(Architecture.Arm, Architecture.All);
        Assert.Equal(new[] { "x86_64", "x86", "x32", "aarch64", "riscv64" }, Architecture.All.Select(a => a.Name));
    }

    [Fact]
    public void SuggestNamesFindsCloseNames()
    {
        SyscallTable table = Architecture.X86_64.Syscalls;
        Assert.Contains("openat", table.SuggestNames("opneat"));
        Assert.Equal("openat", table.SuggestNames("opneat").First());
        Assert.Contains("execve", table.SuggestNames("exceve"));
        Assert.Contains("openat", table.SuggestNames("OPENAT"));
        Assert.Contains("read", table.SuggestNames("raed"));
        Assert.True(table.SuggestNames("getpid", max: 2).Count() <= 2);
        Assert.Empty(table.SuggestNames("completely_unrelated_words"));
        Assert.Empty(table.SuggestNames("openat", max: 0));
    }

    [Theory]
    [InlineData("x86_64", "openat", new[] { "dirfd", "pathname", "flags", "mode" })]
    [InlineData("x86_64", "read", new[] { "fd", "buf", "count" })]
    [InlineData("x86", "read", new[] { "fd", "buf", "count" })]
    [InlineData("aarch64", "openat", new[] { "dirfd", "pathname", "flags", "mode" })]
    [InlineData("x86_64", "execve", new[] { "pathname", "argv", "envp" })]
    [InlineData("x86_64", "fcntl", new[] { "fd", "cmd", "arg" })]
    [InlineData("x86_64", "ioctl", new[] { "fd", "request" })]
    [InlineData("x86_64", "mremap", new[] { "old_address", "old_size", "new_size", "flags", "new_address" })]
    [InlineData("x86_64", "futex", new[] { "uaddr", "futex_op", "val", "timeout", "uaddr2", "val3" })]
    [InlineData("x86_64", "clone3", new[] { "cl_args", "size" })]
    [InlineData("x86_64", "getpid", new string[0])]
    [InlineData("x86_64", "exit_group", new[] { "status" })]
    [InlineData("x86_64", "pread64", new[] { "fd", "buf", "count", "offset" })]
    [InlineData("x86_64", "statfs", new[] { "path", "buf" })]
    // clone(2) NOTES: x86-64 (flags, stack, parent_tid, child_tid, tls); CONFIG_CLONE_BACKWARDS swaps the last two.
    [InlineData("x86_64", "clone", new[] { "flags", "stack", "parent_tid", "child_tid", "tls" })]
    [InlineData("x32", "clone", new[] { "flags", "stack", "parent_tid", "child_tid", "tls" })]
    [InlineData("x86", "clone", new[] { "flags", "stack", "parent_tid", "tls", "child_tid" })]
    [InlineData("aarch64", "clone", new[] { "flags", "stack", "parent_tid", "tls", "child_tid" })]
    [InlineData("riscv64", "clone", new[] { "flags", "stack", "parent_tid", "tls", "child_tid" })]
    // On a 32-bit ABI a 64-bit argument takes two registers: names stop before it.
    [InlineData("x86_64", "fallocate", new[] { "fd", "mode", "offset", "len" })]
    [InlineData("x86", "fallocate", new[] { "fd", "mode" })]
    [InlineData("x86", "pread64", new[] { "fd", "buf", "count" })]
    // i386's mmap and select are old_mmap/old_select (one pointer to the arguments).
    [InlineData("x86", "mmap", new string[0])]
    [InlineData("x86", "select", new string[0])]
    [InlineData("x86", "mmap2", new[] { "addr", "length", "prot", "flags", "fd", "pgoffset" })]
    public void ArgumentNames(string arch, string name, string[] expected)
    {
        Assert.True(Architecture.Parse(arch).Syscalls.TryGet(name, out Syscall? syscall), $"{arch} has no {name}");
        Assert.Equal(expected, syscall.ArgNames);
    }

    [Fact]
    public void IndexOfArgFindsThePosition()
    {
        Assert.True(Architecture.X86_64.Syscalls.TryGet("openat", out Syscall? openat));
        Assert.Equal(2, openat.IndexOfArg("flags"));
        Assert.Equal(-1, openat.IndexOfArg("nope"));
        Assert.Equal("openat(dirfd, pathname, flags, mode) = 257", openat.ToString());
        Assert.Equal(new Syscall("openat", 257, ["dirfd", "pathname", "flags", "mode"]), openat);
    }

    [Fact]
    public void MostSyscallsHaveArgumentNames()
    {
        foreach (Architecture arch in Architecture.All)
        {
            int named = arch.Syscalls.All.Count(s => s.ArgNames.Count > 0);
            Assert.True(named * 10 >= arch.Syscalls.Count * 7, $"{arch}: only {named} of {arch.Syscalls.Count} syscalls have argument names");
        }
    }
}
