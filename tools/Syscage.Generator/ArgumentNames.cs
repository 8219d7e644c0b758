using System.Text.RegularExpressions;

namespace Syscage.Generator;

/// <summary>
/// Argument names per system call, from the SYNOPSIS prototypes of the section-2 man pages, adjusted where a
/// page's prototype is not what the kernel receives on an architecture.
/// </summary>
internal sealed partial class ArgumentNames
{
    /// <summary>seccomp_data.args has six slots; a longer prototype is a library function, not a syscall.</summary>
    private const int MaxArguments = 6;

    private readonly Dictionary<string, Prototype> synopsis = new(StringComparer.Ordinal);
    private readonly IReadOnlyList<string>? cloneDefault;
    private readonly IReadOnlyList<string>? cloneBackwards;

    /// <summary>Reads every page of <paramref name="manDirectory"/>.</summary>
    public ArgumentNames(string manDirectory)
    {
        var all = new List<Prototype>();
        var versions = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach ((string page, string text) in ManPages.ReadPages(manDirectory))
        {
            all.AddRange(ManPages.Prototypes(page, text));
            Match title = TitleLine().Match(text);
            if (title.Success)
            {
                string version = title.Groups["version"].Value;
                versions[version] = versions.GetValueOrDefault(version) + 1;
            }
        }

        PageCount = versions.Values.Sum();
        ManPagesVersion = versions.OrderByDescending(v => v.Value).ThenBy(v => v.Key, StringComparer.Ordinal).Select(v => v.Key).FirstOrDefault() ?? "unknown";

        // When several SYNOPSIS prototypes name the function, prefer: the raw syscall(SYS_x, ...) form, which is
        // the kernel's interface; then the page named after the call; then the most arguments (open's 3-argument
        // form over its 2-argument one); then page and position order, for a deterministic answer.
        foreach (IGrouping<string, Prototype> group in all.Where(p => p.Section == "SYNOPSIS").GroupBy(p => p.Function, StringComparer.Ordinal))
        {
            string function = group.Key;
            synopsis[function] = group
                .OrderByDescending(p => p.IsRawSyscall)
                .ThenByDescending(p => PageName(p.Page) == function)
                .ThenByDescending(p => p.Parameters.Count)
                .ThenBy(p => p.Page, StringComparer.Ordinal)
                .ThenBy(p => p.Order)
                .First();
        }

        // clone(2)'s SYNOPSIS shows the glibc wrapper clone(fn, stack, flags, arg, ...); the raw call's layouts are
        // in its NOTES: "long clone(unsigned long flags, void *stack, int *parent_tid, int *child_tid, unsigned long tls);"
        // and, with CONFIG_CLONE_BACKWARDS, the same with the last two arguments swapped.
        foreach (Prototype p in all.Where(p => p.Function == "clone" && PageName(p.Page) == "clone" && p.Parameters.Count == 5 && p.Parameters[0].Name == "flags"))
        {
            string[] names = p.Parameters.Select(q => q.Name).ToArray();
            if (names[4] == "tls")
            {
                cloneDefault ??= names;
            }
            else if (names[3] == "tls")
            {
                cloneBackwards ??= names;
            }
        }
    }

    /// <summary>The man-pages release most pages carry in their <c>.TH</c> line, e.g. <c>Linux man-pages 6.03</c>.</summary>
    public string ManPagesVersion { get; }

    /// <summary>How many pages were read.</summary>
    public int PageCount { get; }

    /// <summary>The names of <paramref name="syscall"/>'s arguments on <paramref name="arch"/>; empty when unknown.</summary>
    public IReadOnlyList<string> For(ArchitectureSpec arch, string syscall)
    {
        if (arch.NotTheKernelAbi.Contains(syscall))
        {
            return [];
        }

        if (syscall == "clone")
        {
            return (arch.CloneBackwards ? cloneBackwards : cloneDefault) ?? [];
        }

        if ((!synopsis.TryGetValue(syscall, out Prototype? prototype)
                && !(WrapperNames.TryGetValue(syscall, out string? wrapper) && synopsis.TryGetValue(wrapper, out prototype)))
            || prototype.Parameters.Count > MaxArguments)
        {
            return [];
        }

        var names = new List<string>();
        foreach (Parameter parameter in prototype.Parameters)
        {
            // On a 32-bit ABI a 64-bit value takes two registers, split and aligned in ways that differ per
            // architecture (x86 fallocate: fd, mode, offset_lo, offset_hi, len_lo, len_hi). Names after it would
            // point at the wrong register, so stop at the first one.
            if (!arch.Is64Bit && parameter.IsByValue && IsSixtyFourBit(parameter.Type))
            {
                break;
            }

            names.Add(parameter.Name);
        }

        return names;
    }

    /// <summary>
    /// System calls with no page of their own whose arguments are, in order, those of the glibc wrapper named
    /// here, as the wrappers' pages say under "C library/kernel differences" (pread(2): "the underlying system
    /// calls were renamed to pread64() and pwrite64()"; stat(2): fstatat's system call "is actually called
    /// fstatat64() or, on some architectures, newfstatat()"; chown(2) and the other uid/gid pages: the 32-bit-ID
    /// calls chown32() and so on; the *_time64 calls of 32-bit ABIs take the same arguments with 64-bit times).
    /// A kernel call with extra trailing arguments (rt_sigaction's sigsetsize) gets only the wrapper's names.
    /// Not listed: statfs64/fstatfs64, which take a size argument the wrappers do not, and signalfd4/pselect6,
    /// whose arguments differ from signalfd()/pselect().
    /// </summary>
    private static readonly Dictionary<string, string> WrapperNames = new(StringComparer.Ordinal)
    {
        ["exit"] = "_exit",
        ["pread64"] = "pread",
        ["pwrite64"] = "pwrite",
        ["prlimit64"] = "prlimit",
        ["newfstatat"] = "fstatat",
        ["fstatat64"] = "fstatat",
        ["stat64"] = "stat",
        ["lstat64"] = "lstat",
        ["fstat64"] = "fstat",
        ["truncate64"] = "truncate",
        ["ftruncate64"] = "ftruncate",
        ["fcntl64"] = "fcntl",
        ["sendfile64"] = "sendfile",
        ["fadvise64"] = "posix_fadvise",
        ["fadvise64_64"] = "posix_fadvise",
        ["eventfd2"] = "eventfd",
        ["rt_sigaction"] = "sigaction",
        ["rt_sigpending"] = "sigpending",
        ["rt_sigsuspend"] = "sigsuspend",
        ["rt_sigtimedwait"] = "sigtimedwait",
        ["chown32"] = "chown",
        ["fchown32"] = "fchown",
        ["lchown32"] = "lchown",
        ["setuid32"] = "setuid",
        ["setgid32"] = "setgid",
        ["setreuid32"] = "setreuid",
        ["setregid32"] = "setregid",
        ["setresuid32"] = "setresuid",
        ["getresuid32"] = "getresuid",
        ["setresgid32"] = "setresgid",
        ["getresgid32"] = "getresgid",
        ["getgroups32"] = "getgroups",
        ["setgroups32"] = "setgroups",
        ["setfsuid32"] = "setfsuid",
        ["setfsgid32"] = "setfsgid",
        ["clock_gettime64"] = "clock_gettime",
        ["clock_settime64"] = "clock_settime",
        ["clock_adjtime64"] = "clock_adjtime",
        ["clock_getres_time64"] = "clock_getres",
        ["clock_nanosleep_time64"] = "clock_nanosleep",
        ["timer_gettime64"] = "timer_gettime",
        ["timer_settime64"] = "timer_settime",
        ["timerfd_gettime64"] = "timerfd_gettime",
        ["timerfd_settime64"] = "timerfd_settime",
        ["utimensat_time64"] = "utimensat",
        ["ppoll_time64"] = "ppoll",
        ["recvmmsg_time64"] = "recvmmsg",
        ["mq_timedsend_time64"] = "mq_timedsend",
        ["mq_timedreceive_time64"] = "mq_timedreceive",
        ["semtimedop_time64"] = "semtimedop",
        ["rt_sigtimedwait_time64"] = "sigtimedwait",
        ["futex_time64"] = "futex",
        ["sched_rr_get_interval_time64"] = "sched_rr_get_interval",
    };

    private static bool IsSixtyFourBit(string type)
    {
        string[] words = type.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return words.Count(w => w == "long") >= 2
            || words.Any(w => w is "off_t" or "loff_t" or "off64_t" or "uint64_t" or "int64_t" or "u64" or "__u64" or "s64" or "__s64" or "__aligned_u64");
    }

    private static string PageName(string page)
    {
        string name = page.EndsWith(".gz", StringComparison.Ordinal) ? page[..^3] : page;
        return name.EndsWith(".2", StringComparison.Ordinal) ? name[..^2] : name;
    }

    [GeneratedRegex(@"^\.TH\s+\S+\s+\S+\s+\S+\s+""(?<version>[^""]+)""", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex TitleLine();
}
