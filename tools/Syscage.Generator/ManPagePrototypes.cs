using System.Text.RegularExpressions;

namespace Syscage.Generator;

/// <summary>
/// The <c>man</c> rows of <c>facts/syscall-prototypes.csv</c>: each system call's arguments as the SYNOPSIS
/// prototypes of the section-2 man pages give them (types and names), for the calls whose page, or whose glibc
/// wrapper's page, has one.
/// </summary>
internal sealed partial class ManPagePrototypes
{
    /// <summary>The architectures built with <c>CONFIG_CLONE_BACKWARDS</c>, for clone's second row.</summary>
    private readonly IReadOnlyList<string> cloneBackwardsArches;
    private readonly Dictionary<string, Prototype> synopsis = new(StringComparer.Ordinal);
    private readonly Prototype? cloneDefault;
    private readonly Prototype? cloneBackwards;

    /// <summary>Reads every page of <paramref name="manDirectory"/>.</summary>
    public ManPagePrototypes(string manDirectory, IReadOnlyList<string> cloneBackwardsArches)
    {
        this.cloneBackwardsArches = cloneBackwardsArches;
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
            if (p.Parameters[4].Name == "tls")
            {
                cloneDefault ??= p;
            }
            else if (p.Parameters[3].Name == "tls")
            {
                cloneBackwards ??= p;
            }
        }
    }

    /// <summary>The man-pages release most pages carry in their <c>.TH</c> line, e.g. <c>Linux man-pages 6.03</c>.</summary>
    public string ManPagesVersion { get; }

    /// <summary>How many pages were read.</summary>
    public int PageCount { get; }

    /// <summary>The rows for the kernel's call <paramref name="syscall"/>: none when no page gives its arguments.</summary>
    public IEnumerable<PrototypeRow> RowsFor(string syscall)
    {
        if (syscall == "clone")
        {
            if (cloneDefault is not null)
            {
                yield return Row(syscall, [], cloneDefault, "NOTES");
            }

            if (cloneBackwards is not null)
            {
                yield return Row(syscall, cloneBackwardsArches, cloneBackwards, "NOTES, CONFIG_CLONE_BACKWARDS");
            }

            yield break;
        }

        if ((!synopsis.TryGetValue(syscall, out Prototype? prototype)
                && !(WrapperNames.TryGetValue(syscall, out string? wrapper) && synopsis.TryGetValue(wrapper, out prototype)))
            || prototype.Parameters.Count > PrototypeFile.MaxArguments)
        {
            yield break; // a longer prototype is a library function, not a syscall
        }

        yield return Row(syscall, [], prototype, prototype.Function == syscall ? "" : $"{prototype.Function}()");
    }

    private static PrototypeRow Row(string syscall, IReadOnlyList<string> abis, Prototype prototype, string note)
    {
        string page = prototype.Page.EndsWith(".gz", StringComparison.Ordinal) ? prototype.Page[..^3] : prototype.Page;
        string origin = page + (note.Length > 0 ? " " + note : "");
        return new PrototypeRow(syscall, abis, prototype.Parameters.Select(p => p with { Type = NormalizeType(p.Type) }).ToList(), PrototypeSource.Man, origin);
    }

    /// <summary>
    /// A man-page type as the prototypes file writes it: without the nullability annotations and <c>restrict</c>
    /// (which say nothing about the register), array parameters as the pointers they are.
    /// </summary>
    internal static string NormalizeType(string type)
    {
        string t = Annotation().Replace(type, " ");
        t = t.Replace("[]", " *", StringComparison.Ordinal);
        t = WhiteSpace().Replace(t, " ").Trim();
        return StarsTogether().Replace(t, "*");
    }

    /// <summary>
    /// System calls with no page of their own whose arguments are, in order, those of the glibc wrapper named
    /// here, as the wrappers' pages say under "C library/kernel differences" (pread(2): "the underlying system
    /// calls were renamed to pread64() and pwrite64()"; stat(2): fstatat's system call "is actually called
    /// fstatat64() or, on some architectures, newfstatat()"; chown(2) and the other uid/gid pages: the 32-bit-ID
    /// calls chown32() and so on; the *_time64 calls of 32-bit ABIs take the same arguments with 64-bit times).
    /// A kernel call with extra trailing arguments (rt_sigaction's sigsetsize) gets only the wrapper's arguments.
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

    private static string PageName(string page)
    {
        string name = page.EndsWith(".gz", StringComparison.Ordinal) ? page[..^3] : page;
        return name.EndsWith(".2", StringComparison.Ordinal) ? name[..^2] : name;
    }

    [GeneratedRegex(@"^\.TH\s+\S+\s+\S+\s+\S+\s+""(?<version>[^""]+)""", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex TitleLine();

    [GeneratedRegex(@"\b(_Nullable|_Nonnull|restrict|__restrict)\b", RegexOptions.CultureInvariant)]
    private static partial Regex Annotation();

    [GeneratedRegex(@"\s+", RegexOptions.CultureInvariant)]
    private static partial Regex WhiteSpace();

    [GeneratedRegex(@"\*\s+(?=\*)", RegexOptions.CultureInvariant)]
    private static partial Regex StarsTogether();
}
