using System.Globalization;
using System.Numerics;

namespace Syscage.Abi;

/// <summary>
/// Shows a system-call argument as the kernel's names say it, from the generated constants (<see cref="KernelConstants"/>,
/// <see cref="Signals"/>): <c>CLONE_NEWUSER|CLONE_NEWNS</c>, <c>AT_FDCWD</c>, <c>O_RDWR|O_CREAT|O_CLOEXEC</c>,
/// <c>PROT_READ|PROT_WRITE</c>, <c>MAP_PRIVATE|MAP_ANONYMOUS</c>, <c>AF_UNIX</c>, <c>SOCK_STREAM|SOCK_CLOEXEC</c>,
/// <c>TIOCSTI</c>, <c>PR_SET_NO_NEW_PRIVS</c>, <c>F_SETFD</c>, <c>SIGTERM</c>, <c>FUTEX_WAIT_PRIVATE</c>, <c>MS_RDONLY|MS_NOSUID</c>.
/// Which argument takes which names is written here by syscall and argument name (as strace knows it); the values are
/// the generated tables'. Explanations, the denial log, <c>emu</c> and the agent all ask here.
/// </summary>
/// <remarks>
/// The constants are x86_64's (<see cref="KernelConstants"/>), which x86 and x32 share for everything named here; on
/// other architectures flags and signal numbers differ (mips, sparc, parisc, alpha), so arguments there are shown as
/// numbers. A string argument is one the C prototype declares <c>const char *</c>: its value is a pointer, read by the
/// caller where it can read the tracee's memory (the notification supervisor), never here.
/// </remarks>
public static class ArgumentDecoder
{
    /// <summary>
    /// The value in the kernel's names, or null when the argument has no names or none fits (a file descriptor, a
    /// pointer, a count, an unknown ioctl). Flags that have no name are kept in hex: <c>O_CREAT|0x40000000</c>.
    /// </summary>
    /// <param name="arch">The call's architecture (null: x86_64).</param>
    /// <param name="call">The syscall (null: nothing is known of its arguments).</param>
    /// <param name="index">The argument, 0 to 5.</param>
    /// <param name="value">The argument as the syscall sees it (a 32-bit ABI's low half).</param>
    public static string? Symbolic(Architecture? arch, Syscall? call, int index, ulong value)
    {
        if (call is null || index < 0 || index >= call.ArgNames.Count || !NamesApply(arch))
            return null;
        string arg = call.ArgNames[index];
        int width = Math.Min(call.ArgWidth(index), arch?.Is64Bit == false ? 32 : 64);
        ulong v = width >= 64 ? value : value & ((1UL << width) - 1);
        if (DirFdArgs.Contains(arg) && (int)v == (int)AtFdcwd.Value)
            return "AT_FDCWD";
        return FormatOf(call.Name, arg) is { } format ? format(v) : null;
    }

    /// <summary>
    /// The value as <c>syscage</c> shows it: <see cref="Symbolic"/>'s names where there are some, a pointer in hex
    /// (<c>NULL</c> for 0), a mode in octal (<c>0644</c>), a small value or a small negative one (-1) in decimal, anything
    /// else in hex.
    /// </summary>
    public static string Format(Architecture? arch, Syscall? call, int index, ulong value)
    {
        if (Symbolic(arch, call, index, value) is { } names)
            return names;
        string arg = call is not null && index < call.ArgNames.Count ? call.ArgNames[index] : "";
        int width = call?.ArgWidth(index) ?? 64;
        if (arch?.Is64Bit == false)
            width = Math.Min(width, 32);
        if (width < 64)
            value &= (1UL << width) - 1;
        // A pointer: an address, in hex (NULL as C spells it).
        if (call?.ArgType(index) is { } type && type.Contains('*', StringComparison.Ordinal))
            return value == 0 ? "NULL" : string.Create(CultureInfo.InvariantCulture, $"0x{value:x}");
        if (arg is "mode" or "umode")
            return value == 0 ? "0" : "0" + Convert.ToString((long)(value & 0xffff_ffff), 8);
        // A signed type narrower than the register: its negative values as the syscall sees them (-1, not 0xffffffff).
        long signed = width == 32 && IsSigned(call?.ArgType(index)) ? (int)(uint)value : (long)value;
        if (signed is >= -4096 and < 0x10000)
            return signed.ToString(CultureInfo.InvariantCulture);
        return string.Create(CultureInfo.InvariantCulture, $"0x{value:x}");
    }

    /// <summary>
    /// The call as strace writes it, <c>openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC)</c>: the name from the
    /// tables (<c>syscall_N</c> when they have none), each argument as <see cref="Arguments"/> shows it.
    /// </summary>
    /// <param name="data">The call, as the filter sees it.</param>
    /// <param name="readString">Reads a string argument's text from the caller's memory (null, or a null answer: shown as a pointer).</param>
    public static string Call(in SeccompData data, Func<ulong, string?>? readString = null)
    {
        var arch = Architecture.Of(data.Arch, data.Nr);
        Syscall? call = null;
        arch?.Syscalls.TryGet(data.Nr, out call);
        string name = call?.Name ?? string.Create(CultureInfo.InvariantCulture, $"syscall_{data.Nr}");
        return name + "(" + string.Join(", ", Arguments(data, readString).Select(a => a.Text)) + ")";
    }

    /// <summary>
    /// The call's arguments, each with its name (<c>argN</c> when the table has none), its value as the syscall sees it
    /// (a 32-bit ABI's low half) and its text: a string argument quoted (when <paramref name="readString"/> reads it),
    /// else <see cref="Format"/>'s. open's <c>mode</c> is left out when the flags do not make the kernel read it, as
    /// strace does.
    /// </summary>
    public static IReadOnlyList<DecodedArgument> Arguments(in SeccompData data, Func<ulong, string?>? readString = null)
    {
        var arch = Architecture.Of(data.Arch, data.Nr);
        Syscall? call = null;
        arch?.Syscalls.TryGet(data.Nr, out call);
        int count = call?.ArgNames.Count ?? 6;
        var seen = data.AsSyscallSeesIt();
        int flags = call is not null && call.Name is "open" or "openat" or "open_by_handle_at" ? call.IndexOfArg("flags") : -1;
        bool omitMode = flags >= 0 && (seen.Arg(flags) & ((ulong)Uapi.O_CREAT | (ulong)Uapi.O_TMPFILE)) == 0;
        var result = new List<DecodedArgument>(count);
        for (int i = 0; i < count; i++)
        {
            string argName = call?.ArgNames[i] ?? string.Create(CultureInfo.InvariantCulture, $"arg{i}");
            if (omitMode && argName == "mode")
                continue;
            ulong value = seen.Arg(i);
            string text = IsString(call, i) && readString is not null && value != 0 && readString(value) is { } s
                ? Quote(s)
                : Format(arch, call, i, value);
            result.Add(new DecodedArgument(argName, value, text));
        }
        return result;
    }

    /// <summary>A string as C writes it: quotes, backslash escapes for quotes, backslashes and control characters.</summary>
    public static string Quote(string s)
    {
        ArgumentNullException.ThrowIfNull(s);
        var sb = new System.Text.StringBuilder(s.Length + 2).Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c < ' ')
                        sb.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}");
                    else
                        sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }

    /// <summary>True when argument <paramref name="index"/> of <paramref name="call"/> is a string the caller passes in (<c>const char *</c>: paths, names, a file system type).</summary>
    public static bool IsString(Syscall? call, int index)
    {
        if (call?.ArgType(index) is not { } type)
            return false;
        string t = type.Replace(" ", "", StringComparison.Ordinal).Replace("__user", "", StringComparison.Ordinal);
        return t == "constchar*" || (t == "char*" && call.Name is "sethostname" or "setdomainname");
    }

    /// <summary><c>O_RDONLY|O_CLOEXEC</c>: the access mode, then the flags the kernel constants name, then what is left in hex.</summary>
    public static string OpenFlags(ulong flags) => Open.Value(flags);

    /// <summary><c>CLONE_NEWUSER|CLONE_NEWNS</c>: the single-bit <c>CLONE_*</c> kernel constants, then what is left in hex.</summary>
    public static string CloneFlags(ulong flags) => Unshare.Value(flags) ?? "0";

    // ---- which argument takes which names ----

    private static readonly Lazy<NameSet> Ioctls = new(() => new NameSet([.. KernelConstants.IoctlRequests.Select(n => (n, KernelConstants.Value(n)!.Value & uint.MaxValue))]));

    private static readonly Lazy<NameSet> OFlagBits = new(() => new NameSet([.. Set("O_", Anything, "asm-generic/fcntl.h", "O_ACCMODE", "O_RDONLY", "O_WRONLY", "O_RDWR").Names]));

    private static readonly HashSet<string> DirFdArgs = new(StringComparer.Ordinal) { "dirfd", "olddirfd", "newdirfd", "dfd", "from_dfd", "to_dfd" };

    private static readonly Lazy<ulong> AtFdcwd = new(() => KernelConstants.Value("AT_FDCWD") ?? throw new InvalidOperationException("AT_FDCWD is missing from the constants"));

    /// <summary>True where the x86_64 constants hold: x86_64, x32, x86, or no architecture said.</summary>
    private static bool NamesApply(Architecture? arch) =>
        arch is null || arch == Architecture.X86_64 || arch == Architecture.X32 || arch == Architecture.X86;

    private static Func<ulong, string?>? FormatOf(string call, string arg)
    {
        foreach (var (calls, args, format) in Table)
            if (Array.IndexOf(args, arg) >= 0 && Array.IndexOf(calls, call) >= 0)
                return format.Value;
        return null;
    }

    private static Lazy<Func<ulong, string?>> F(Func<Func<ulong, string?>> make) => new(make);

    /// <summary>(calls, argument names, how to show it), by strace's knowledge of the syscalls.</summary>
    private static readonly (string[] Calls, string[] Args, Lazy<Func<ulong, string?>> Format)[] Table =
    [
        (["open", "openat", "open_by_handle_at", "mq_open"], ["flags", "oflag"], F(() => v => Open.Value(v))),
        (["pipe2", "dup3", "signalfd4", "timerfd_create", "fanotify_init"], ["flags"], F(() => v => v == 0 ? "0" : Bits(OFlagBits, v))),
        (["clone"], ["flags", "clone_flags"], F(() => v => Clone.Value(v))),
        (["unshare"], ["flags", "unshare_flags"], F(() => v => Unshare.Value(v))),
        (["setns"], ["nstype"], F(() => v => Unshare.Value(v) ?? "0")),
        (["mmap", "mmap2", "mprotect", "pkey_mprotect"], ["prot"], F(() => v => v == 0 ? "PROT_NONE" : Bits(Set("PROT_", Anything, "asm-generic/mman-common.h"), v))),
        (["mmap", "mmap2"], ["flags"], F(() => v => Map.Value(v))),
        (["socket", "socketpair"], ["domain", "family"], F(() => v => Enum(Set("AF_", Anything, null, "AF_LOCAL", "AF_FILE", "AF_ROUTE", "AF_MAX"), v))),
        (["socket", "socketpair"], ["type"], F(() => v => SocketType.Value(v))),
        (["accept4"], ["flags"], F(() => v => Bits(Set("SOCK_", r => r is "NONBLOCK" or "CLOEXEC", null), v))),
        (["ioctl"], ["request", "cmd"], F(() => v => Enum(Ioctls.Value, v & uint.MaxValue))),
        (["prctl"], ["option"], F(() => v => Enum(Set("PR_", IsPrctlOption, "linux/prctl.h"), v))),
        (["fcntl", "fcntl64"], ["cmd"], F(() => v => Enum(Set("F_", r => r is not ("RDLCK" or "WRLCK" or "UNLCK" or "EXLCK" or "SHLCK" or "LINUX_SPECIFIC_BASE" or "OK") && !StartsWith(r, "OWNER_", "SEAL_"), null), v))),
        (["kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_send_signal", "rt_sigaction", "sigaction", "signal"], ["sig", "signum", "signo"], F(() => Signal)),
        (["mount"], ["mountflags", "flags"], F(() => v => Mount.Value(v))),
        (["umount2"], ["flags"], F(() => v => v == 0 ? "0" : Bits(Set("MNT_", r => r is "FORCE" or "DETACH" or "EXPIRE", "linux/mount.h"), v))),
        (["futex", "futex_time64"], ["futex_op", "op"], F(() => v => Enum(Set("FUTEX_", IsFutexOp, "linux/futex.h"), v))),
        (["madvise", "process_madvise"], ["advice"], F(() => v => Enum(Set("MADV_", Anything, null), v))),
        (["lseek", "_llseek"], ["whence"], F(() => v => Enum(Set("SEEK_", r => r is "SET" or "CUR" or "END" or "DATA" or "HOLE", null), v))),
        (["getrlimit", "setrlimit", "prlimit64", "ugetrlimit"], ["resource"], F(() => v => Enum(Set("RLIMIT_", r => !StartsWith(r, "NLIMITS"), null), v))),
        (["clock_gettime", "clock_settime", "clock_getres", "clock_nanosleep", "timer_create", "clock_adjtime", "clock_gettime64", "clock_settime64", "clock_getres_time64", "clock_nanosleep_time64"],
            ["clockid", "which_clock", "clk_id", "clock_id"], F(() => v => Enum(Set("CLOCK_", Anything, "linux/time.h"), v))),
        (["wait4", "waitid", "waitpid"], ["options"], F(() => v => v == 0 ? "0" : Bits(Set("W", r => r is "NOHANG" or "UNTRACED" or "STOPPED" or "EXITED" or "CONTINUED" or "NOWAIT", "linux/wait.h"), v))),
        (["waitid"], ["idtype", "which"], F(() => v => Enum(Set("P_", r => r is "ALL" or "PID" or "PGID" or "PIDFD", "linux/wait.h"), v))),
        (["seccomp"], ["operation", "op"], F(() => v => Enum(Set("SECCOMP_", r => r is "SET_MODE_STRICT" or "SET_MODE_FILTER" or "GET_ACTION_AVAIL" or "GET_NOTIF_SIZES", "linux/seccomp.h"), v))),
        (["seccomp"], ["flags"], F(() => v => v == 0 ? "0" : Bits(Set("SECCOMP_FILTER_FLAG_", Anything, "linux/seccomp.h"), v))),
        (["getrandom"], ["flags"], F(() => v => v == 0 ? "0" : Bits(Set("GRND_", Anything, null), v))),
        (["memfd_create"], ["flags"], F(() => v => v == 0 ? "0" : Bits(Set("MFD_", r => r is "CLOEXEC" or "ALLOW_SEALING" or "HUGETLB" or "NOEXEC_SEAL" or "EXEC", null), v))),
        (["eventfd2"], ["flags"], F(() => v => v == 0 ? "0" : Bits(Set("EFD_", Anything, null), v))),
        (["pidfd_open"], ["flags"], F(() => v => v == 0 ? "0" : Bits(Set("PIDFD_", r => r is "NONBLOCK" or "THREAD", null), v))),
        (["close_range"], ["flags"], F(() => v => v == 0 ? "0" : Bits(Set("CLOSE_RANGE_", Anything, null), v))),
        (["renameat2"], ["flags"], F(() => v => v == 0 ? "0" : Bits(Set("RENAME_", Anything, null), v))),
        (["fallocate"], ["mode"], F(() => v => v == 0 ? "0" : Bits(Set("FALLOC_FL_", Anything, null), v))),
        (["inotify_init1"], ["flags"], F(() => v => v == 0 ? "0" : Bits(Set("IN_", r => r is "CLOEXEC" or "NONBLOCK", null), v))),
        (["membarrier"], ["cmd"], F(() => v => Enum(Set("MEMBARRIER_CMD_", Anything, null), v))),
        (["keyctl"], ["option", "operation", "cmd"], F(() => v => Enum(Set("KEYCTL_", Anything, null), v))),
        (["ptrace"], ["request"], F(() => v => Enum(Set("PTRACE_", r => !StartsWith(r, "O_", "EVENT_", "SYSCALL_INFO_", "PEEKSIGINFO_SHARED"), "linux/ptrace.h"), v))),
        (["flock"], ["operation", "op"], F(() => v => Bits(Set("LOCK_", r => r is "SH" or "EX" or "NB" or "UN", null), v))),
        (["msync"], ["flags"], F(() => v => v == 0 ? "0" : Bits(Set("MS_", r => r is "ASYNC" or "INVALIDATE" or "SYNC", "asm-generic/mman-common.h"), v))),
        (["mlockall"], ["flags"], F(() => v => Bits(Set("MCL_", Anything, null), v))),
        (["mremap"], ["flags"], F(() => v => v == 0 ? "0" : Bits(Set("MREMAP_", Anything, null), v))),
        (["personality"], ["persona", "personality"], F(() => v => v == uint.MaxValue ? null : Enum(Set("PER_", r => r != "MASK", null), v))),
        (["faccessat2"], ["flags"], F(() => v => v == 0 ? "0" : Bits(Set("AT_", r => r is "EACCESS" or "SYMLINK_NOFOLLOW" or "EMPTY_PATH", null), v))),
        (["unlinkat"], ["flags", "flag"], F(() => v => v == 0 ? "0" : Bits(Set("AT_", r => r == "REMOVEDIR", null), v))),
        (["newfstatat", "fstatat64", "statx", "fchownat", "linkat", "utimensat", "utimensat_time64", "execveat", "fchmodat2", "name_to_handle_at", "open_tree", "mount_setattr", "getxattrat", "setxattrat", "listxattrat", "removexattrat"],
            ["flags", "flag"], F(() => v => v == 0 ? "0" : Bits(Set("AT_", r => r is "SYMLINK_NOFOLLOW" or "SYMLINK_FOLLOW" or "NO_AUTOMOUNT" or "EMPTY_PATH" or "STATX_FORCE_SYNC" or "STATX_DONT_SYNC" or "RECURSIVE", null), v))),
    ];

    // ---- sets of names ----

    /// <summary>A set of constants: each value once, under its first name in header order.</summary>
    private sealed record NameSet(IReadOnlyList<(string Name, ulong Value)> Names)
    {
        public Dictionary<ulong, string> ByValue { get; } = Names.GroupBy(n => n.Value).ToDictionary(g => g.Key, g => g.First().Name);
    }

    /// <summary>
    /// The constants named <paramref name="prefix"/> followed by a rest <paramref name="rest"/> accepts (from
    /// <paramref name="header"/> when given), but the names excluded.
    /// </summary>
    private static NameSet Set(string prefix, Func<string, bool> rest, string? header, params string[] excluded)
    {
        var names = new List<(string Name, ulong Value)>();
        foreach (var c in KernelConstants.All)
        {
            if (c.Name.StartsWith(prefix, StringComparison.Ordinal) && rest(c.Name[prefix.Length..]) && Array.IndexOf(excluded, c.Name) < 0
                && (header is null || KernelConstants.HeaderOf(c.Name) == header))
                names.Add(c);
        }
        return new NameSet(names);
    }

    /// <summary>Any rest: every name with the prefix.</summary>
    private static bool Anything(string rest) => true;

    private static bool StartsWith(string rest, params string[] prefixes)
    {
        foreach (string p in prefixes)
            if (rest.StartsWith(p, StringComparison.Ordinal))
                return true;
        return false;
    }

    private static bool IsUpperWord(string s, bool digits)
    {
        foreach (char c in s)
            if (!(char.IsAsciiLetterUpper(c) || c == '_' || (digits && char.IsAsciiDigit(c))))
                return false;
        return s.Length > 0;
    }

    /// <summary>The futex operations, each also with <c>_PRIVATE</c>.</summary>
    private static bool IsFutexOp(string rest) =>
        (rest.EndsWith("_PRIVATE", StringComparison.Ordinal) ? rest[..^"_PRIVATE".Length] : rest)
            is "WAIT" or "WAKE" or "FD" or "REQUEUE" or "CMP_REQUEUE" or "WAKE_OP" or "LOCK_PI" or "UNLOCK_PI" or "TRYLOCK_PI"
            or "WAIT_BITSET" or "WAKE_BITSET" or "WAIT_REQUEUE_PI" or "CMP_REQUEUE_PI" or "LOCK_PI2";

    /// <summary><c>MAP_HUGE_2MB</c>, <c>MAP_HUGE_1GB</c>: digits, then K, M or G, then B.</summary>
    private static bool IsHugePageSize(string rest) =>
        rest.Length >= 3 && rest[^1] == 'B' && rest[^2] is 'K' or 'M' or 'G' && rest.AsSpan(0, rest.Length - 2).IndexOfAnyExceptInRange('0', '9') < 0;

    /// <summary>
    /// The prctl options: the <c>PR_SET_*</c> and <c>PR_GET_*</c> operations (not the arguments of <c>PR_SET_MM</c> and
    /// <c>PR_SET_VMA</c>, nor <c>*_ONEXEC</c> values), and the options named otherwise.
    /// </summary>
    private static bool IsPrctlOption(string rest)
    {
        if (rest.StartsWith("SET_", StringComparison.Ordinal) || rest.StartsWith("GET_", StringComparison.Ordinal))
        {
            string what = rest[4..];
            return !StartsWith(what, "MM_", "VMA_") && IsUpperWord(what, digits: true) && !rest.EndsWith("_ONEXEC", StringComparison.Ordinal);
        }
        if (rest.StartsWith("MPX_", StringComparison.Ordinal))
            return IsUpperWord(rest[4..], digits: false);
        return rest is "CAPBSET_READ" or "CAPBSET_DROP" or "TASK_PERF_EVENTS_DISABLE" or "TASK_PERF_EVENTS_ENABLE" or "MCE_KILL"
            or "MCE_KILL_GET" or "CAP_AMBIENT" or "SVE_SET_VL" or "SVE_GET_VL" or "SME_SET_VL" or "SME_GET_VL" or "PAC_RESET_KEYS"
            or "PAC_SET_ENABLED_KEYS" or "PAC_GET_ENABLED_KEYS" or "SCHED_CORE";
    }

    private static string? Enum(NameSet set, ulong value) => set.ByValue.TryGetValue(value, out var name) ? name : null;

    private static string? Enum(Lazy<NameSet> set, ulong value) => Enum(set.Value, value);

    /// <summary>
    /// The names of the bits set in <paramref name="value"/>, multi-bit names first (<c>O_TMPFILE</c> holds
    /// <c>O_DIRECTORY</c>'s bit, <c>O_SYNC</c> <c>O_DSYNC</c>'s), then what no name covers in hex; null for 0.
    /// </summary>
    private static string? Bits(NameSet set, ulong value, List<string>? parts = null)
    {
        parts ??= [];
        ulong rest = value;
        foreach (var (name, bit) in set.Names.Where(n => n.Value != 0).DistinctBy(n => n.Value)
                     .OrderByDescending(n => BitOperations.PopCount(n.Value)).ThenBy(n => n.Value))
        {
            if ((rest & bit) == bit)
            {
                parts.Add(name);
                rest &= ~bit;
            }
        }
        if (rest != 0)
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"0x{rest:x}"));
        return parts.Count == 0 ? null : string.Join('|', parts);
    }

    private static string? Bits(Lazy<NameSet> set, ulong value) => Bits(set.Value, value);

    private static string? Signal(ulong value) => value <= Signals.Last ? Signals.Name((int)value) : null;

    // ---- values with fields ----

    private static class Open
    {
        private static readonly Lazy<(ulong Mask, NameSet Modes)> Access = new(() =>
            (KernelConstants.Value("O_ACCMODE")!.Value, Set("O_", r => r is "RDONLY" or "WRONLY" or "RDWR", "asm-generic/fcntl.h")));

        public static string Value(ulong flags)
        {
            var (mask, modes) = Access.Value;
            ulong mode = flags & mask;
            var parts = new List<string> { Enum(modes, mode) ?? "O_ACCMODE" };
            return Bits(OFlagBits.Value, flags & ~mask, parts)!;
        }
    }

    private static class Clone
    {
        private static readonly Lazy<(ulong Signal, NameSet Flags)> Parts = new(() =>
        {
            ulong signal = KernelConstants.Value("CSIGNAL")!.Value;
            return (signal, new NameSet([.. SingleBits("CLONE_").Where(c => (c.Value & signal) == 0)]));
        });

        public static string Value(ulong flags)
        {
            var (signalMask, names) = Parts.Value;
            var parts = new List<string>();
            string? result = Bits(names, flags & ~signalMask, parts);
            ulong signal = flags & signalMask;
            if (signal != 0)
                return (result is null ? "" : result + "|") + (Signal(signal) ?? string.Create(CultureInfo.InvariantCulture, $"0x{signal:x}"));
            return result ?? "0";
        }
    }

    private static class Unshare
    {
        private static readonly Lazy<NameSet> Names = new(() => new NameSet([.. SingleBits("CLONE_")]));

        public static string? Value(ulong flags) => Bits(Names.Value, flags);
    }

    private static IEnumerable<(string Name, ulong Value)> SingleBits(string prefix) =>
        Set(prefix, Anything, "linux/sched.h").Names.Where(c => BitOperations.PopCount(c.Value) == 1);

    private static class Map
    {
        private static readonly Lazy<(ulong TypeMask, NameSet Types, NameSet Bits, int HugeShift, ulong HugeMask, NameSet Huge)> Parts = new(() =>
        {
            ulong typeMask = KernelConstants.Value("MAP_TYPE")!.Value;
            int hugeShift = (int)(KernelConstants.Value("MAP_HUGE_SHIFT") ?? throw new InvalidOperationException("MAP_HUGE_SHIFT is missing from the constants"));
            ulong hugeMask = (KernelConstants.Value("MAP_HUGE_MASK") ?? throw new InvalidOperationException("MAP_HUGE_MASK is missing from the constants")) << hugeShift;
            var types = Set("MAP_", r => r is "SHARED" or "PRIVATE" or "SHARED_VALIDATE" or "DROPPABLE", null);
            var bits = new NameSet([.. Set("MAP_", Anything, null, "MAP_TYPE", "MAP_FILE", "MAP_HUGE_SHIFT", "MAP_HUGE_MASK").Names
                .Where(n => BitOperations.PopCount(n.Value) == 1 && (n.Value & typeMask) == 0 && (n.Value & hugeMask) == 0)]);
            var huge = new NameSet([.. Set("MAP_HUGE_", IsHugePageSize, null).Names]);
            return (typeMask, types, bits, hugeShift, hugeMask, huge);
        });

        public static string Value(ulong flags)
        {
            var (typeMask, types, bits, _, hugeMask, huge) = Parts.Value;
            var parts = new List<string>();
            ulong type = flags & typeMask;
            if (type != 0)
                parts.Add(Enum(types, type) ?? string.Create(CultureInfo.InvariantCulture, $"0x{type:x}"));
            ulong size = flags & hugeMask;
            ulong rest = flags & ~typeMask & ~hugeMask;
            string? named = Bits(bits, rest, parts);
            if (size != 0)
                parts.Add(Enum(huge, size) ?? string.Create(CultureInfo.InvariantCulture, $"0x{size:x}"));
            return parts.Count == 0 ? named ?? "0" : string.Join('|', parts);
        }
    }

    private static class SocketType
    {
        private static readonly Lazy<(NameSet Types, NameSet Flags)> Parts = new(() =>
            (Set("SOCK_", r => r is not ("NONBLOCK" or "CLOEXEC"), null), Set("SOCK_", r => r is "NONBLOCK" or "CLOEXEC", null)));

        public static string? Value(ulong value)
        {
            var (types, flags) = Parts.Value;
            ulong flagBits = flags.Names.Aggregate(0UL, (m, n) => m | n.Value);
            ulong type = value & ~flagBits;
            var parts = new List<string> { Enum(types, type) ?? string.Create(CultureInfo.InvariantCulture, $"{type}") };
            return Bits(flags, value & flagBits, parts);
        }
    }

    private static class Mount
    {
        private static readonly Lazy<(ulong MagicMask, ulong Magic, NameSet Flags)> Parts = new(() =>
        {
            ulong mask = KernelConstants.Value("MS_MGC_MSK")!.Value;
            return (mask, KernelConstants.Value("MS_MGC_VAL")!.Value,
                new NameSet([.. Set("MS_", Anything, "linux/mount.h", "MS_MGC_VAL", "MS_MGC_MSK", "MS_RMT_MASK").Names.Where(n => BitOperations.PopCount(n.Value) == 1)]));
        });

        public static string Value(ulong flags)
        {
            var (mask, magic, names) = Parts.Value;
            var parts = new List<string>();
            if ((flags & mask) == magic)
            {
                parts.Add("MS_MGC_VAL");
                flags &= ~mask;
            }
            return Bits(names, flags, parts) ?? "0";
        }
    }

    private static bool IsSigned(string? type) => type is "int" or "pid_t" or "key_serial_t" or "clockid_t" or "timer_t" or "mqd_t" or "off_t" or "long" or "loff_t";
}

/// <summary>One argument of a call as <see cref="ArgumentDecoder.Arguments"/> shows it.</summary>
/// <param name="Name">The argument's name (from the man page), or <c>argN</c>.</param>
/// <param name="Value">The value as the syscall sees it.</param>
/// <param name="Text">The value shown: in the kernel's names, quoted, octal or a number.</param>
public sealed record DecodedArgument(string Name, ulong Value, string Text)
{
    /// <summary>
    /// <c>"args": [{"name": "flags", "value": "0x10000000", "text": "CLONE_NEWUSER"}, ...]</c>: each argument as the
    /// syscall sees it (in hex: a 64-bit value loses digits as a JSON number in most readers), and as it is shown. The
    /// one form of the verbs' <c>--json</c> and the denial log.
    /// </summary>
    public static void WriteJson(System.Text.Json.Utf8JsonWriter writer, IReadOnlyList<DecodedArgument> arguments)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(arguments);
        writer.WriteStartArray("args");
        foreach (var a in arguments)
        {
            writer.WriteStartObject();
            writer.WriteString("name", a.Name);
            writer.WriteString("value", string.Create(CultureInfo.InvariantCulture, $"0x{a.Value:x}"));
            writer.WriteString("text", a.Text);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    }
}
