using Syscage.Abi;

namespace Syscage.Syscalls.Tests;

public class SyscallTableTests
{
    private static readonly string VectorFile = Path.Combine(AppContext.BaseDirectory, "vectors", "abi", "syscall-numbers.vectors");

    /// <summary>tests/vectors/abi/syscall-numbers.vectors: <c>ARCH NAME NUMBER</c>, or <c>-</c> for an absent call; each with its line.</summary>
    public static TheoryData<string, string, string, int?> PinnedNumbers()
    {
        var data = new TheoryData<string, string, string, int?>();
        string[] lines = File.ReadAllLines(VectorFile);
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].Split('#')[0].Trim();
            if (line.Length == 0)
                continue;
            string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            Assert.True(f.Length == 3, $"syscall-numbers.vectors:{i + 1}: expected ARCH NAME NUMBER");
            int? number = f[2] == "-" ? null
                : f[2].StartsWith("0x", StringComparison.Ordinal) ? int.Parse(f[2].AsSpan(2), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture)
                : int.Parse(f[2], System.Globalization.CultureInfo.InvariantCulture);
            data.Add($"syscall-numbers.vectors:{i + 1}", f[0], f[1], number);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(PinnedNumbers))]
    public void PinnedNumbersAreTheTables(string where, string arch, string name, int? number)
    {
        SyscallTable table = Architecture.Parse(arch).Syscalls;
        if (number is null)
        {
            Assert.False(table.TryGet(name, out _), $"{where}: {arch} should not have {name}");
            return;
        }
        Assert.True(table.TryGetNumber(name, out int actual), $"{where}: {arch} has no {name}");
        Assert.True(number == actual, $"{where}: {arch} {name} is {actual}, not {number}");
        Assert.True(table.TryGetName(actual, out string? actualName));
        Assert.Equal(name, actualName);
    }

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
    public void AllIsEveryArchitectureLibseccompKnows()
    {
        Assert.Equal(
            new[]
            {
                "x86_64", "x86", "x32", "arm", "aarch64", "loongarch64", "m68k", "mips", "mipsel", "mips64", "mipsel64",
                "mips64n32", "mipsel64n32", "parisc", "parisc64", "ppc", "ppc64", "ppc64le", "riscv64", "s390", "s390x", "sh", "sheb",
            },
            Architecture.All.Select(a => a.Name));
    }

    /// <summary>Every number lies in its ABI's number space: from its base (mips 4000/5000/6000, x32's bit), below the next ABI's.</summary>
    [Fact]
    public void NumbersStartAtTheirAbisBase()
    {
        foreach (Architecture arch in Architecture.All)
        {
            foreach (Syscall s in arch.Syscalls.All)
            {
                Assert.True(s.Number >= arch.SyscallNumberBase, $"{arch}: {s} is below {arch.SyscallNumberBase}");
                // arm's private calls are 0xf0000 + n; the others are within 1000 of the base.
                Assert.True(s.Number < arch.SyscallNumberBase + 1000 || (arch == Architecture.Arm && s.Number is >= 0xf0000 and < 0xf0100), $"{arch}: {s}");
            }
        }
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
    [InlineData("s390x", "openat", new[] { "dirfd", "pathname", "flags", "mode" })]
    [InlineData("mips", "openat", new[] { "dirfd", "pathname", "flags", "mode" })]
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

    [Fact]
    public void A_number_found_in_the_table_text_is_the_tables()
    {
        foreach (var arch in Architecture.All)
        {
            foreach (var syscall in arch.Syscalls.All)
            {
                Assert.True(SyscallTable.TryFindNumber(arch.SyscallTableText, syscall.Name, out int found), $"{arch.Name}: {syscall.Name}");
                Assert.True(found == syscall.Number, $"{arch.Name}: {syscall.Name} found as {found}, is {syscall.Number}");
            }
            // Prefixes and extensions of real names, and names of no call, are not found.
            foreach (string name in new[] { "", "read_", "rea", "xread", "no_such_call", "pidfd", "clone3 ", "read 0\nwrite" })
                Assert.False(SyscallTable.TryFindNumber(arch.SyscallTableText, name, out _) && !arch.Syscalls.TryGetNumber(name, out _), $"{arch.Name}: '{name}'");
        }
    }
}
