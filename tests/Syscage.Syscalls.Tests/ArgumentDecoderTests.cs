using Syscage.Abi;

namespace Syscage.Syscalls.Tests;

/// <summary>
/// Arguments in the kernel's names, from the generated constants: each family against the values the uapi headers
/// give (looked up by name, so the expectations do not restate the numbers).
/// </summary>
public class ArgumentDecoderTests
{
    private static ulong K(string name) => KernelConstants.Value(name) ?? throw new InvalidOperationException($"{name} is not in the constants");

    private static Syscall Call(string name, Architecture? arch = null) =>
        (arch ?? Architecture.X86_64).Syscalls.TryGet(name, out var s) ? s : throw new InvalidOperationException(name);

    private static string? Names(string call, string arg, ulong value, Architecture? arch = null)
    {
        var s = Call(call, arch);
        return ArgumentDecoder.Symbolic(arch ?? Architecture.X86_64, s, s.IndexOfArg(arg), value);
    }

    public static TheoryData<string, string, string, string> Cases => new()
    {
        { "clone", "flags", "CLONE_NEWUSER|CLONE_NEWNS", "CLONE_NEWNS|CLONE_NEWUSER" },
        { "clone", "flags", "CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID",
            "CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID" },
        { "clone", "flags", "CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID|SIGCHLD", "CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD" },
        { "unshare", "flags", "CLONE_NEWUSER|CLONE_NEWTIME", "CLONE_NEWTIME|CLONE_NEWUSER" },
        { "openat", "flags", "O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC", "O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC" },
        { "openat", "flags", "O_RDWR|O_TMPFILE", "O_RDWR|O_TMPFILE" },
        { "openat", "flags", "O_RDONLY|O_SYNC", "O_RDONLY|O_SYNC" },
        { "mmap", "prot", "PROT_READ|PROT_WRITE|PROT_EXEC", "PROT_READ|PROT_WRITE|PROT_EXEC" },
        { "mmap", "flags", "MAP_PRIVATE|MAP_ANONYMOUS|MAP_STACK", "MAP_PRIVATE|MAP_ANONYMOUS|MAP_STACK" },
        { "mmap", "flags", "MAP_SHARED|MAP_HUGETLB|MAP_HUGE_2MB", "MAP_SHARED|MAP_HUGETLB|MAP_HUGE_2MB" },
        { "socket", "domain", "AF_UNIX", "AF_UNIX" },
        { "socket", "domain", "AF_NETLINK", "AF_NETLINK" },
        { "socket", "domain", "AF_VSOCK", "AF_VSOCK" },
        { "socket", "type", "SOCK_DGRAM|SOCK_CLOEXEC", "SOCK_DGRAM|SOCK_CLOEXEC" },
        { "ioctl", "request", "TIOCSTI", "TIOCSTI" },
        { "ioctl", "request", "TCGETS", "TCGETS" },
        { "ioctl", "request", "FIONREAD", "FIONREAD" },
        { "ioctl", "request", "USERFAULTFD_IOC_NEW", "USERFAULTFD_IOC_NEW" },
        { "ioctl", "request", "NS_GET_USERNS", "NS_GET_USERNS" },
        { "ioctl", "request", "FICLONE", "FICLONE" },
        { "prctl", "option", "PR_SET_NO_NEW_PRIVS", "PR_SET_NO_NEW_PRIVS" },
        { "prctl", "option", "PR_SET_SECCOMP", "PR_SET_SECCOMP" },
        { "prctl", "option", "PR_CAP_AMBIENT", "PR_CAP_AMBIENT" },
        { "fcntl", "cmd", "F_SETFD", "F_SETFD" },
        { "fcntl", "cmd", "F_DUPFD_CLOEXEC", "F_DUPFD_CLOEXEC" },
        { "fcntl", "cmd", "F_SETLEASE", "F_SETLEASE" },
        { "kill", "sig", "SIGTERM", "SIGTERM" },
        { "mount", "mountflags", "MS_RDONLY|MS_NOSUID|MS_NODEV", "MS_RDONLY|MS_NOSUID|MS_NODEV" },
        { "mount", "mountflags", "MS_MGC_VAL|MS_REMOUNT", "MS_MGC_VAL|MS_REMOUNT" },
        { "futex", "futex_op", "FUTEX_WAIT_PRIVATE", "FUTEX_WAIT_PRIVATE" },
        { "newfstatat", "flags", "AT_EMPTY_PATH|AT_SYMLINK_NOFOLLOW", "AT_SYMLINK_NOFOLLOW|AT_EMPTY_PATH" },
        { "unlinkat", "flags", "AT_REMOVEDIR", "AT_REMOVEDIR" },
        { "faccessat2", "flags", "AT_EACCESS", "AT_EACCESS" },
        { "seccomp", "operation", "SECCOMP_SET_MODE_FILTER", "SECCOMP_SET_MODE_FILTER" },
        { "seccomp", "flags", "SECCOMP_FILTER_FLAG_TSYNC|SECCOMP_FILTER_FLAG_NEW_LISTENER", "SECCOMP_FILTER_FLAG_TSYNC|SECCOMP_FILTER_FLAG_NEW_LISTENER" },
        { "wait4", "options", "WNOHANG|WUNTRACED", "WNOHANG|WUNTRACED" },
        { "lseek", "whence", "SEEK_END", "SEEK_END" },
        { "prlimit64", "resource", "RLIMIT_NOFILE", "RLIMIT_NOFILE" },
        { "clock_gettime", "clockid", "CLOCK_MONOTONIC", "CLOCK_MONOTONIC" },
        { "getrandom", "flags", "GRND_NONBLOCK", "GRND_NONBLOCK" },
        { "madvise", "advice", "MADV_DONTNEED", "MADV_DONTNEED" },
        // Names that share a value with a constant of the same prefix that is no option (PR_SET_MM_START_CODE,
        // F_WRLCK, PTRACE_EVENT_FORK are 1 too): the option's name, not the other's.
        { "prctl", "option", "PR_SET_PDEATHSIG", "PR_SET_PDEATHSIG" },
        { "fcntl", "cmd", "F_GETFD", "F_GETFD" },
        { "ptrace", "request", "PTRACE_PEEKTEXT", "PTRACE_PEEKTEXT" },
        { "prctl", "option", "PR_MPX_ENABLE_MANAGEMENT", "PR_MPX_ENABLE_MANAGEMENT" },
        { "prctl", "option", "PR_SVE_SET_VL", "PR_SVE_SET_VL" },
        { "futex", "futex_op", "FUTEX_LOCK_PI2_PRIVATE", "FUTEX_LOCK_PI2_PRIVATE" },
        { "mmap", "flags", "MAP_PRIVATE|MAP_HUGETLB|MAP_HUGE_1GB", "MAP_PRIVATE|MAP_HUGETLB|MAP_HUGE_1GB" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_value_made_of_names_reads_back_as_those_names(string call, string arg, string made, string expected)
    {
        // The value as a program makes it: the names ORed together (a signal by its number).
        ulong value = made.Split('|').Aggregate(0UL, (v, n) => v | (Signals.Number(n) is int s ? (ulong)s : K(n)));
        Assert.Equal(expected, Names(call, arg, value));
    }

    [Fact]
    public void What_no_name_covers_is_kept_in_hex()
    {
        Assert.Equal("CLONE_NEWUSER|0x1", Names("unshare", "flags", K("CLONE_NEWUSER") | 1));
        Assert.Equal("O_RDONLY|0x40000000", Names("openat", "flags", 0x4000_0000));
        Assert.Null(Names("ioctl", "request", 0xdead_beef));
        Assert.Null(Names("prctl", "option", 0xdead));
        Assert.Equal("PROT_NONE", Names("mmap", "prot", 0));
        Assert.Equal("O_RDONLY", Names("openat", "flags", 0));
    }

    [Fact]
    public void Ioctl_requests_are_read_on_their_32_bits()
    {
        // request is an unsigned int: the kernel ignores the high half, and so do the names.
        Assert.Equal("TIOCSTI", Names("ioctl", "request", (1UL << 32) | K("TIOCSTI")));
        Assert.Contains("TIOCSTI", KernelConstants.IoctlRequests);
        Assert.DoesNotContain("O_CLOEXEC", KernelConstants.IoctlRequests);
    }

    [Fact]
    public void AT_FDCWD_is_named_as_an_int_in_either_width()
    {
        Assert.Equal("AT_FDCWD", Names("openat", "dirfd", K("AT_FDCWD")));
        Assert.Equal("AT_FDCWD", Names("openat", "dirfd", K("AT_FDCWD") & uint.MaxValue));
        Assert.Null(Names("openat", "dirfd", 3));
        Assert.Equal("3", ArgumentDecoder.Format(Architecture.X86_64, Call("openat"), 0, 3));
    }

    [Fact]
    public void Numbers_are_shown_as_the_type_reads_them()
    {
        var kill = Call("kill");
        Assert.Equal("-1", ArgumentDecoder.Format(Architecture.X86_64, kill, 0, uint.MaxValue));   // pid_t
        Assert.Equal("0644", ArgumentDecoder.Format(Architecture.X86_64, Call("openat"), 3, 420));
        Assert.Equal("0x7ffd0000", ArgumentDecoder.Format(Architecture.X86_64, Call("read"), 1, 0x7ffd_0000));
        Assert.Equal("4096", ArgumentDecoder.Format(Architecture.X86_64, Call("read"), 2, 4096));
    }

    [Fact]
    public void Other_architectures_get_numbers()
    {
        // mips numbers its flags and signals otherwise; the x86_64 constants are not its names.
        var mips = Architecture.All.Single(a => a.Name == "mips");
        Assert.Null(Names("clone", "flags", K("CLONE_NEWUSER"), mips));
        Assert.Equal("CLONE_NEWUSER", Names("clone", "flags", K("CLONE_NEWUSER"), Architecture.X86));
    }

    [Fact]
    public void String_arguments_are_those_the_prototype_says_const_char()
    {
        var mount = Call("mount");
        Assert.True(ArgumentDecoder.IsString(mount, mount.IndexOfArg("source")));
        Assert.True(ArgumentDecoder.IsString(mount, mount.IndexOfArg("filesystemtype")));
        Assert.False(ArgumentDecoder.IsString(mount, mount.IndexOfArg("data")));
        Assert.True(ArgumentDecoder.IsString(Call("openat"), 1));
        Assert.False(ArgumentDecoder.IsString(Call("read"), 1));
        Assert.True(ArgumentDecoder.IsString(Call("memfd_create"), 0));
    }

    [Fact]
    public void A_call_reads_as_strace_writes_it()
    {
        var openat = Call("openat");
        var data = new SeccompData(openat.Number, Architecture.X86_64.AuditArch, 0, K("AT_FDCWD"), 0x1000, K("O_CLOEXEC"), 0);
        Assert.Equal("openat(AT_FDCWD, 0x1000, O_RDONLY|O_CLOEXEC)", ArgumentDecoder.Call(data));
        Assert.Equal("openat(AT_FDCWD, \"/etc/pass\\\"wd\", O_RDONLY|O_CLOEXEC)", ArgumentDecoder.Call(data, _ => "/etc/pass\"wd"));
        var creat = new SeccompData(openat.Number, Architecture.X86_64.AuditArch, 0, 3, 0x1000, K("O_CREAT") | K("O_WRONLY"), 420);
        Assert.Equal("openat(3, 0x1000, O_WRONLY|O_CREAT, 0644)", ArgumentDecoder.Call(creat));
        Assert.Equal("syscall_4095(0, 0, 0, 0, 0, 0)", ArgumentDecoder.Call(new SeccompData(4095, Architecture.X86_64.AuditArch)));
        Assert.Equal("read(0, NULL, 0)", ArgumentDecoder.Call(new SeccompData(Call("read").Number, Architecture.X86_64.AuditArch)));
    }
}
