using Syscage.Abi;

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
    [InlineData("x86_64", "ioctl", new[] { "fd", "request", "arg" })]
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
    [InlineData("x86", "mmap", new[] { "arg" })]
    [InlineData("x86", "select", new[] { "arg" })]
    // The kernel's prototype wins over the glibc wrapper's: no flags for faccessat, preadv2's flags are the sixth argument.
    [InlineData("x86_64", "faccessat", new[] { "dirfd", "pathname", "mode" })]
    [InlineData("x86_64", "preadv2", new[] { "fd", "iov", "iovcnt", "offset", "pos_h", "flags" })]
    [InlineData("x32", "preadv2", new[] { "fd", "iov", "iovcnt", "offset", "flags" })]
    [InlineData("x86_64", "getpgrp", new string[0])]
    // No man page: from the kernel's SYSCALL_DEFINE.
    [InlineData("x86_64", "io_uring_enter", new[] { "fd", "to_submit", "min_complete", "flags", "argp", "argsz" })]
    [InlineData("x86", "mmap2", new[] { "addr", "length", "prot", "flags", "fd", "pgoffset" })]
    public void ArgumentNames(string arch, string name, string[] expected)
    {
        Assert.True(Architecture.Parse(arch).Syscalls.TryGet(name, out Syscall? syscall), $"{arch} has no {name}");
        Assert.Equal(expected, syscall.ArgNames);
    }

    /// <summary>The kernel's syscall wrappers cast each register to the declared type: the width a filter must compare.</summary>
    [Theory]
    [InlineData("x86_64", "socket", 0, "int", 32)]
    [InlineData("x86_64", "ioctl", 1, "unsigned int", 32)]      // man: unsigned long request; fs/ioctl.c: unsigned int cmd
    [InlineData("x86_64", "ioctl", 2, "unsigned long", 64)]
    [InlineData("x32", "ioctl", 2, "compat_ulong_t", 32)]       // x32's ioctl is compat_sys_ioctl
    [InlineData("x86_64", "chmod", 1, "umode_t", 16)]           // man: mode_t; fs/open.c: umode_t
    [InlineData("x86_64", "openat", 3, "umode_t", 16)]
    [InlineData("x86_64", "openat", 0, "int", 32)]
    [InlineData("x86_64", "openat", 1, "const char *", 64)]
    [InlineData("x86_64", "personality", 0, "unsigned int", 32)] // man: unsigned long
    [InlineData("x86_64", "unshare", 0, "unsigned long", 64)]   // man: int
    [InlineData("x86_64", "mmap", 2, "unsigned long", 64)]      // man: int prot
    [InlineData("x86_64", "clone", 0, "unsigned long", 64)]
    [InlineData("x86_64", "kill", 0, "pid_t", 32)]
    [InlineData("x86_64", "keyctl", 0, "int", 32)]
    [InlineData("x86_64", "setuid", 0, "uid_t", 32)]
    [InlineData("x86", "setuid", 0, "old_uid_t", 16)]           // i386 23 is setuid16
    [InlineData("x86", "setuid32", 0, "uid_t", 32)]
    [InlineData("x86_64", "ptrace", 0, "long", 64)]             // man: enum __ptrace_request
    [InlineData("x32", "ptrace", 0, "compat_long_t", 32)]
    [InlineData("aarch64", "socket", 0, "int", 32)]
    public void ArgumentTypesAndWidths(string arch, string name, int index, string type, int bits)
    {
        Assert.True(Architecture.Parse(arch).Syscalls.TryGet(name, out Syscall? syscall), $"{arch} has no {name}");
        Assert.Equal(type, syscall.ArgType(index));
        Assert.Equal(bits, syscall.ArgWidth(index));
    }

    [Fact]
    public void EveryNamedArgumentHasATypeWithAWidth()
    {
        foreach (Architecture arch in Architecture.All)
        {
            foreach (Syscall s in arch.Syscalls.All)
            {
                Assert.True(s.ArgTypes.Count == s.ArgNames.Count, $"{arch}: {s}: {s.ArgTypes.Count} types for {s.ArgNames.Count} names");
                for (int i = 0; i < s.ArgTypes.Count; i++)
                    Assert.Contains(s.ArgWidth(i), new[] { 16, 32, 64 });
            }
        }
        Assert.True(Architecture.X86_64.Syscalls.TryGet("read", out Syscall? read));
        Assert.Null(read.ArgType(3));
        Assert.Equal(64, read.ArgWidth(3));   // beyond the prototype: the full register
    }

    [Fact]
    public void IndexOfArgFindsThePosition()
    {
        Assert.True(Architecture.X86_64.Syscalls.TryGet("openat", out Syscall? openat));
        Assert.Equal(2, openat.IndexOfArg("flags"));
        Assert.Equal(-1, openat.IndexOfArg("nope"));
        Assert.Equal("openat(dirfd, pathname, flags, mode) = 257", openat.ToString());
        Assert.Equal(new Syscall("openat", 257, ["dirfd", "pathname", "flags", "mode"], ["int", "const char *", "int", "umode_t"]), openat);
        Assert.NotEqual(new Syscall("openat", 257, ["dirfd", "pathname", "flags", "mode"]), openat);
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
