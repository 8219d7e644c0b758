using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Syscage.Generator;

/// <summary>
/// Generates <c>src/Syscage/Abi/Constants.g.cs</c>: the named constants a policy condition may use
/// (<c>O_ACCMODE</c>, <c>AF_UNIX</c>, <c>CLONE_NEWUSER</c>, <c>TCGETS</c> ...), read from the uapi and glibc headers
/// on this machine. Each header contributes the names it defines (by <c>#define</c> or as an enumerator) that match
/// its prefixes; a name whose value is not an integer constant expression (<c>_IOR('T', ...)</c>, casts) is left
/// out. Where a value depends on the architecture, the x86_64 headers are read.
/// </summary>
public sealed partial class ConstantsTableGenerator(string includeDirectory = "/usr/include", string? newerFactsFile = null)
{
    /// <summary>Where the output goes, relative to the repository root.</summary>
    public const string OutputRelativePath = "src/Syscage/Abi/Constants.g.cs";

    /// <summary>Where the internal constants go: every name of the table as a C# constant, for the library's own use.</summary>
    public const string UapiOutputRelativePath = "src/Syscage/Abi/Uapi.g.cs";

    /// <summary>The facts newer than the build machine's headers, relative to the repository root (read after them).</summary>
    public const string NewerFactsRelativePath = "facts/uapi-newer.h";

    /// <summary>The headers read, in order, with the names each one contributes.</summary>
    internal static readonly (string Header, string Pattern)[] Sources =
    [
        ("asm-generic/ioctl.h", @"(?!)"),   // the _IO/_IOR/_IOW/_IOWR macros the ioctl numbers below are made with
        ("asm-generic/fcntl.h", @"^(O_|F_|FD_|LOCK_)"),
        ("linux/fcntl.h", @"^(AT_|F_|DN_)"),
        ("linux/openat2.h", @"^RESOLVE_"),
        ("linux/stat.h", @"^(S_I|STATX_)"),
        ("linux/fs.h", @"^(RENAME_|SEEK_|FS_IOC_|FS_IOC32_|FI(CLONE|CLONERANGE|DEDUPERANGE|FREEZE|THAW|TRIM|BMAP|GETBSZ)$|BLK[A-Z0-9]+$)"),
        ("linux/falloc.h", @"^FALLOC_FL_"),
        ("linux/close_range.h", @"^CLOSE_RANGE_"),
        ("asm-generic/hugetlb_encode.h", @"(?!)"),   // the HUGETLB_FLAG_ENCODE_* macros MAP_HUGE_* and MFD_HUGE_* are made with
        ("linux/memfd.h", @"^MFD_"),
        ("linux/xattr.h", @"^XATTR_(CREATE|REPLACE)$"),
        ("linux/inotify.h", @"^IN_"),
        ("linux/sched.h", @"^(CLONE_|CSIGNAL$|SCHED_)"),
        ("asm-generic/mman-common.h", @"^(PROT_|MAP_|MADV_|MLOCK_|MS_(ASYNC|INVALIDATE|SYNC)$)"),
        ("asm-generic/mman.h", @"^(MAP_|MCL_)"),
        ("x86_64-linux-gnu/asm/mman.h", @"^MAP_"),
        ("linux/mman.h", @"^(MREMAP_|MAP_)"),
        ("linux/mempolicy.h", @"^MPOL_"),
        ("linux/prctl.h", @"^PR_"),
        ("linux/capability.h", @"^CAP_"),
        ("asm-generic/ioctls.h", @"^(TC|TIOC|FIO)"),
        ("linux/sockios.h", @"^SIOC"),
        ("linux/seccomp.h", @"^SECCOMP_"),
        ("linux/futex.h", @"^FUTEX_"),
        ("x86_64-linux-gnu/bits/socket.h", @"^(PF_|AF_|SOL_|MSG_|SOMAXCONN$|SCM_)"),
        ("x86_64-linux-gnu/bits/socket_type.h", @"^SOCK_"),
        ("asm-generic/socket.h", @"^(SO_|SOL_SOCKET$)"),
        ("linux/in.h", @"^IPPROTO_"),
        ("linux/netlink.h", @"^NETLINK_"),
        ("linux/personality.h", @"^(PER_|ADDR_|MMAP_PAGE_ZERO$|READ_IMPLIES_EXEC$|SHORT_INODE$|WHOLE_SECONDS$|STICKY_TIMEOUTS$|FDPIC_FUNCPTRS$|UNAME26$)"),
        ("linux/mount.h", @"^(MS_|MNT_|MOVE_MOUNT_|OPEN_TREE_|FSMOUNT_|FSOPEN_|FSPICK_|MOUNT_ATTR_)"),
        ("x86_64-linux-gnu/asm/signal.h", @"^(SIG[A-Z0-9]+$|SA_)"),
        ("linux/wait.h", @"^(W[A-Z]+$|P_[A-Z]+$|__WALL$)"),
        ("asm-generic/siginfo.h", @"^(CLD_[A-Z]+$|SYS_SECCOMP$)"),
        ("asm-generic/resource.h", @"^(RLIMIT_|RLIM_INFINITY$)"),
        ("linux/time.h", @"^(CLOCK_|TIMER_ABSTIME$)"),
        ("linux/ipc.h", @"^(IPC_|SEM(OP|GET|CTL|TIMEDOP)$|MSG(SND|RCV|GET|CTL)$|SHM(AT|DT|GET|CTL)$)"),   // ipc(2)'s calls too
        ("linux/net.h", @"^SYS_[A-Z]+[0-9]*$"),                                                      // socketcall(2)'s calls
        ("linux/keyctl.h", @"^(KEYCTL_|KEY_SPEC_)"),
        ("linux/reboot.h", @"^LINUX_REBOOT_"),
        ("linux/kexec.h", @"^KEXEC_"),
        ("linux/module.h", @"^MODULE_INIT_"),
        ("linux/ptrace.h", @"^PTRACE_"),
        ("linux/random.h", @"^(GRND_|RND[A-Z]+$)"),
        ("linux/membarrier.h", @"^MEMBARRIER_CMD_"),
        ("linux/userfaultfd.h", @"^(USERFAULTFD_IOC_NEW$|UFFD_USER_MODE_ONLY$|UFFDIO_(API|REGISTER|UNREGISTER|WAKE|COPY|ZEROPAGE|MOVE|WRITEPROTECT|CONTINUE|POISON)$)"),
        ("asm-generic/poll.h", @"^POLL"),
        ("x86_64-linux-gnu/bits/eventfd.h", @"^EFD_"),
        ("linux/pidfd.h", @"^PIDFD_"),
        ("linux/elf.h", @"^(EM_BPF$|ET_REL$|SHT_|SHF_(WRITE|ALLOC|EXECINSTR)$|STT_|SHN_(UNDEF|LORESERVE)$)"),
        ("elf.h", @"^R_BPF_"),
        ("linux/btf.h", @"^BTF_"),
        ("linux/bpf_common.h", @"^BPF_"),
        ("linux/filter.h", @"^BPF_(MAXINSNS|MEMWORDS)$"),
        ("linux/bpf.h", @"^BPF_"),
        // ioctl requests of namespaces, loop devices and the console, for decoding (IoctlRequests).
        ("linux/nsfs.h", @"^NS_GET_"),
        ("linux/loop.h", @"^LOOP_(SET_FD|CLR_FD|SET_STATUS|GET_STATUS|SET_STATUS64|GET_STATUS64|CHANGE_FD|SET_CAPACITY|SET_DIRECT_IO|SET_BLOCK_SIZE|CONFIGURE|CTL_ADD|CTL_REMOVE|CTL_GET_FREE)$"),
        ("linux/kd.h", @"^(KD[A-Z0-9]+|KIOC[A-Z]+|GIO_[A-Z]+|PIO_[A-Z]+)$"),
        ("linux/vt.h", @"^VT_(OPENQRY|GETMODE|SETMODE|GETSTATE|SENDSIG|RELDISP|ACTIVATE|WAITACTIVE|DISALLOCATE|RESIZE|RESIZEX|LOCKSWITCH|UNLOCKSWITCH|GETHIFONTMASK|WAITEVENT|SETACTIVATE)$"),
    ];

    /// <summary>
    /// The names of <see cref="Sources"/> that are ioctl requests (the second argument of ioctl(2)), per header: what
    /// <c>syscage</c> prints as <c>TIOCSTI</c> rather than <c>0x5412</c>. Listed in <c>Constants.g.cs</c> as
    /// <c>IoctlRequestNames</c>.
    /// </summary>
    internal static readonly (string Header, string Pattern)[] IoctlRequests =
    [
        ("asm-generic/ioctls.h", @"^(TC|TIOC|FIO)"),
        ("linux/sockios.h", @"^SIOC"),
        ("linux/fs.h", @"^(FS_IOC_|FS_IOC32_|FI[A-Z]+$|BLK)"),
        ("linux/random.h", @"^RND"),
        ("linux/seccomp.h", @"^SECCOMP_IOCTL_"),
        ("linux/userfaultfd.h", @"^(USERFAULTFD_IOC_NEW$|UFFDIO_)"),
        ("linux/nsfs.h", @"^NS_GET_"),
        ("linux/loop.h", @"^LOOP_"),
        ("linux/kd.h", @"^(KD|KIOC|GIO_|PIO_)"),
        ("linux/vt.h", @"^VT_"),
    ];

    /// <summary>One constant: its name, its value as the filter compares it (sign-extended to 64 bits), its header.</summary>
    internal sealed record Constant(string Name, ulong Value, string Header);

    /// <summary>Reads every header and returns the constants in header order, each name once (the first header wins).</summary>
    internal List<Constant> Read()
    {
        var pre = new HeaderPreprocessor();
        // What the skipped #include lines and the compiler would have defined for x86_64 user space.
        pre.Define("__BITS_PER_LONG", "64");
        pre.Define("__x86_64__");
        pre.Define("__LP64__");
        pre.Define("_SYS_SOCKET_H");
        pre.Define("_SYS_EVENTFD_H");
        pre.Define("__USE_GNU");
        pre.Define("__USE_MISC");
        pre.Define("__USE_XOPEN2K8");
        var result = new List<Constant>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (header, pattern) in Sources)
        {
            string path = Path.Combine(includeDirectory, header);
            if (!File.Exists(path))
            {
                string package = header.Contains("bits/", StringComparison.Ordinal) || !header.Contains('/', StringComparison.Ordinal) ? "libc6-dev" : "linux-libc-dev";
                throw new MissingSourceException($"{path} is missing: install Debian's {package} (apt-get install {package})");
            }
            ReadHeader(pre, File.ReadAllText(path), path, header, pattern, result, seen);
        }
        if (newerFactsFile is not null)
        {
            if (!File.Exists(newerFactsFile))
                throw new MissingSourceException($"{newerFactsFile} is missing (it is part of the repository: {NewerFactsRelativePath})");
            ReadHeader(pre, File.ReadAllText(newerFactsFile), newerFactsFile, NewerFactsRelativePath, ".", result, seen);
        }
        return result;
    }

    /// <summary>Runs one header through the preprocessor, learns its structures' sizes, and adds the constants it defines that <paramref name="pattern"/> wants.</summary>
    private static void ReadHeader(HeaderPreprocessor pre, string text, string path, string header, string pattern, List<Constant> result, HashSet<string> seen)
    {
        pre.Process(text, path);
        TypeSizes.Learn(HeaderPreprocessor.StripComments(HeaderPreprocessor.JoinContinuationLines(text)));
        var names = new List<string>();
        foreach (Match m in DefineLine().Matches(text))
            names.Add(m.Groups[1].Value);
        foreach (var (name, body) in Enumerators(text))
        {
            // An enumerator is a constant of its own: it replaces glibc's "#define SOCK_STREAM SOCK_STREAM".
            pre.Define(name, body);
            names.Add(name);
        }

        var wanted = new Regex(pattern, RegexOptions.CultureInvariant);
        foreach (string name in names)
        {
            if (!wanted.IsMatch(name) || !seen.Add(name))
                continue;
            long value;
            try
            {
                value = IntegerExpression.Evaluate(name, pre.Macros, inCondition: false, context: name);
            }
            catch (FormatException)
            {
                // Not an integer constant expression for us (casts, unknown structure sizes, stringizing).
                seen.Remove(name);
                continue;
            }
            result.Add(new Constant(name, unchecked((ulong)value), header));
        }
    }

    /// <summary>
    /// The enumerators of every <c>enum { ... }</c> in <paramref name="text"/>, with their values as C expressions
    /// (an enumerator without one is the previous plus one). Preprocessor lines inside the braces are skipped.
    /// </summary>
    internal static IEnumerable<(string Name, string Body)> Enumerators(string text)
    {
        string clean = HeaderPreprocessor.StripComments(HeaderPreprocessor.JoinContinuationLines(text));
        foreach (Match m in EnumBlock().Matches(clean))
        {
            string body = string.Join('\n', m.Groups[1].Value.Split('\n').Where(l => !l.TrimStart().StartsWith('#')));
            string? previous = null;
            foreach (string raw in body.Split(','))
            {
                string item = raw.Trim();
                if (item.Length == 0)
                    continue;
                int eq = item.IndexOf('=', StringComparison.Ordinal);
                string name = (eq < 0 ? item : item[..eq]).Trim();
                if (!Identifier().IsMatch(name))
                    break;
                string value = eq < 0 ? (previous is null ? "0" : $"({previous} + 1)") : $"({item[(eq + 1)..].Trim()})";
                yield return (name, value);
                previous = name;
            }
        }
    }

    /// <summary>The generated C# text.</summary>
    public string Generate()
    {
        var constants = Read();
        var headers = constants.Select(c => c.Header).Distinct().ToList();
        var w = new StringBuilder();
        w.Append("// <auto-generated>\n");
        w.Append("//   Generated by tools/Syscage.Generator from the uapi and glibc headers under ").Append(includeDirectory).Append(":\n");
        foreach (string h in headers)
            w.Append("//     ").Append(h).Append('\n');
        w.Append("//   Where a value depends on the architecture, it is x86_64's. Do not edit; regenerate with:\n");
        w.Append("//   ").Append(SyscallTableGenerator.RegenerateCommand).Append('\n');
        w.Append("// </auto-generated>\n\n");
        w.Append("namespace Syscage.Abi;\n\n");
        w.Append("public static partial class KernelConstants\n{\n");
        w.Append("    private static readonly string[] Headers =\n    [\n");
        foreach (string h in headers)
            w.Append("        \"").Append(h).Append("\",\n");
        w.Append("    ];\n\n");
        w.Append(CultureInfo.InvariantCulture, $"    // {constants.Count} constants: name, value (sign-extended to 64 bits), index into Headers.\n");
        w.Append("    private static readonly (string Name, ulong Value, int Header)[] Table =\n    [\n");
        foreach (var c in constants)
            w.Append(CultureInfo.InvariantCulture, $"        (\"{c.Name}\", 0x{c.Value:X}UL, {headers.IndexOf(c.Header)}),\n");
        w.Append("    ];\n\n");
        var ioctls = constants.Where(c => IoctlRequests.Any(r => r.Header == c.Header && Regex.IsMatch(c.Name, r.Pattern, RegexOptions.CultureInvariant))).ToList();
        w.Append(CultureInfo.InvariantCulture, $"    // The {ioctls.Count} names above that are ioctl requests, in the same order.\n");
        w.Append("    private static readonly string[] IoctlRequestNames =\n    [\n");
        foreach (var c in ioctls)
            w.Append("        \"").Append(c.Name).Append("\",\n");
        w.Append("    ];\n}\n");
        return w.ToString();
    }

    /// <summary>
    /// The generated <c>Uapi.g.cs</c>: every constant of the table as an internal C# constant, typed by its value (int,
    /// then uint, long, ulong), for the library's own use — interop, opcodes, ELF and BTF — so that no kernel number is
    /// written anywhere else.
    /// </summary>
    public string GenerateUapi()
    {
        var constants = Read();
        var w = new StringBuilder();
        w.Append("// <auto-generated>\n");
        w.Append("//   Generated by tools/Syscage.Generator from the same headers as Constants.g.cs; do not edit; regenerate with:\n");
        w.Append("//   ").Append(SyscallTableGenerator.RegenerateCommand).Append('\n');
        w.Append("// </auto-generated>\n\n");
        w.Append("namespace Syscage.Abi;\n\n");
        w.Append("/// <summary>The kernel's and the C library's constants, by their C names (see Constants.g.cs for the headers).</summary>\n");
        w.Append("internal static class Uapi\n{\n");
        foreach (var c in constants)
        {
            long signed = unchecked((long)c.Value);
            string decl = signed is >= int.MinValue and <= int.MaxValue ? $"int {c.Name} = {signed}"
                : c.Value <= uint.MaxValue ? $"uint {c.Name} = 0x{c.Value:X}"
                : signed < 0 ? $"long {c.Name} = {signed}"
                : $"ulong {c.Name} = 0x{c.Value:X}";
            w.Append(CultureInfo.InvariantCulture, $"    internal const {decl};\n");
        }
        w.Append("}\n");
        return w.ToString();
    }

    [GeneratedRegex(@"^[ \t]*#[ \t]*define[ \t]+([A-Za-z_][A-Za-z0-9_]*)[ \t]+\S", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex DefineLine();

    [GeneratedRegex(@"\benum\b[^{};]*\{([^}]*)\}", RegexOptions.CultureInvariant)]
    private static partial Regex EnumBlock();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*$", RegexOptions.CultureInvariant)]
    private static partial Regex Identifier();
}
