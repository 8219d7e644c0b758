using Syscage.Abi;

namespace Syscage.Policy.Recording;

/// <summary>Which arguments a recording keeps, to write argument conditions (<c>syscage record --args</c>).</summary>
public enum ArgumentRecording
{
    /// <summary>None: rules name syscalls only.</summary>
    None,

    /// <summary>
    /// The arguments that choose what kind of operation a call is and whose values are fixed by the program's code, not
    /// by its data, its environment or timing, so every run of the same work makes the same ones: <c>socket</c>'s
    /// domain, <c>socketcall</c>'s call, <c>clone</c>'s flags, <c>ioctl</c>'s request, <c>prctl</c>'s option,
    /// <c>fcntl</c>'s command, <c>personality</c>'s persona.
    /// </summary>
    Stable,

    /// <summary>
    /// <see cref="Stable"/>, and the arguments with few values that describe the operation but may follow what the
    /// program is asked to do: socket types and protocols, socket options, memory protections and mapping flags,
    /// <c>madvise</c> advice, <c>futex</c> operations, open flags, signal numbers, and the operation of
    /// <c>arch_prctl</c>, <c>unshare</c>, <c>seccomp</c>, <c>bpf</c>, <c>keyctl</c>, <c>ptrace</c>, <c>setns</c>,
    /// <c>lseek</c> and <c>rt_sigprocmask</c>.
    /// </summary>
    All,
}

/// <summary>How an argument's recorded values become a condition.</summary>
internal enum ArgumentKind
{
    /// <summary>A value among few (a family, a command, a request): one rule per value seen, <c>arg == value</c>.</summary>
    Value,

    /// <summary>A set of flag bits: every bit seen may be set, no other: <c>(arg &amp; ~seen) == 0</c>.</summary>
    Flags,
}

/// <summary>One argument a recording can keep.</summary>
/// <param name="Syscall">The syscall's name.</param>
/// <param name="Argument">The argument's name in the tables (the man page's).</param>
/// <param name="Kind">Values or flag bits.</param>
/// <param name="Level">The lowest <c>--args</c> level that keeps it.</param>
/// <param name="Prefixes">Prefixes of the kernel constants that name its values, most specific first.</param>
internal sealed record TrackedArgument(string Syscall, string Argument, ArgumentKind Kind, ArgumentRecording Level, params string[] Prefixes);

/// <summary>The arguments a recording keeps, per syscall and level: the one table of what <c>--args</c> means.</summary>
internal static class RecordedArguments
{
    /// <summary>More values than this for one argument of one syscall: they are not "few", and the argument is dropped.</summary>
    public const int MaxValues = 16;

    /// <summary>Second names of a value, which the headers happen to define first.</summary>
    private static readonly HashSet<string> Aliases = new(StringComparer.Ordinal) { "AF_LOCAL", "AF_FILE", "AF_ROUTE", "PF_LOCAL" };

    private static readonly TrackedArgument[] Table =
    [
        new("socket", "domain", ArgumentKind.Value, ArgumentRecording.Stable, "AF_"),
        new("socketcall", "call", ArgumentKind.Value, ArgumentRecording.Stable),
        new("clone", "flags", ArgumentKind.Flags, ArgumentRecording.Stable, "CLONE_"),
        new("ioctl", "request", ArgumentKind.Value, ArgumentRecording.Stable, "TC", "TIOC", "FIO"),
        new("prctl", "option", ArgumentKind.Value, ArgumentRecording.Stable, "PR_SET_", "PR_GET_", "PR_"),
        new("fcntl", "cmd", ArgumentKind.Value, ArgumentRecording.Stable, "F_"),
        new("fcntl64", "cmd", ArgumentKind.Value, ArgumentRecording.Stable, "F_"),
        new("personality", "persona", ArgumentKind.Value, ArgumentRecording.Stable, "PER_"),

        new("socket", "type", ArgumentKind.Value, ArgumentRecording.All, "SOCK_"),
        new("socket", "protocol", ArgumentKind.Value, ArgumentRecording.All, "IPPROTO_"),
        new("socketpair", "domain", ArgumentKind.Value, ArgumentRecording.All, "AF_"),
        new("socketpair", "type", ArgumentKind.Value, ArgumentRecording.All, "SOCK_"),
        new("setsockopt", "level", ArgumentKind.Value, ArgumentRecording.All, "SOL_", "IPPROTO_"),
        new("setsockopt", "optname", ArgumentKind.Value, ArgumentRecording.All),
        new("getsockopt", "level", ArgumentKind.Value, ArgumentRecording.All, "SOL_", "IPPROTO_"),
        new("getsockopt", "optname", ArgumentKind.Value, ArgumentRecording.All),
        new("mmap", "prot", ArgumentKind.Flags, ArgumentRecording.All, "PROT_"),
        new("mmap", "flags", ArgumentKind.Flags, ArgumentRecording.All, "MAP_"),
        new("mmap2", "prot", ArgumentKind.Flags, ArgumentRecording.All, "PROT_"),
        new("mmap2", "flags", ArgumentKind.Flags, ArgumentRecording.All, "MAP_"),
        new("mprotect", "prot", ArgumentKind.Flags, ArgumentRecording.All, "PROT_"),
        new("pkey_mprotect", "prot", ArgumentKind.Flags, ArgumentRecording.All, "PROT_"),
        new("madvise", "advice", ArgumentKind.Value, ArgumentRecording.All, "MADV_"),
        new("arch_prctl", "code", ArgumentKind.Value, ArgumentRecording.All),
        new("futex", "futex_op", ArgumentKind.Value, ArgumentRecording.All, "FUTEX_"),
        new("unshare", "flags", ArgumentKind.Flags, ArgumentRecording.All, "CLONE_"),
        new("open", "flags", ArgumentKind.Flags, ArgumentRecording.All, "O_"),
        new("openat", "flags", ArgumentKind.Flags, ArgumentRecording.All, "O_"),
        new("kill", "sig", ArgumentKind.Value, ArgumentRecording.All, "SIG"),
        new("tgkill", "sig", ArgumentKind.Value, ArgumentRecording.All, "SIG"),
        new("rt_sigaction", "signum", ArgumentKind.Value, ArgumentRecording.All, "SIG"),
        new("rt_sigprocmask", "how", ArgumentKind.Value, ArgumentRecording.All, "SIG_"),
        new("lseek", "whence", ArgumentKind.Value, ArgumentRecording.All, "SEEK_"),
        new("seccomp", "operation", ArgumentKind.Value, ArgumentRecording.All, "SECCOMP_SET_", "SECCOMP_GET_"),
        new("bpf", "cmd", ArgumentKind.Value, ArgumentRecording.All, "BPF_"),
        new("keyctl", "operation", ArgumentKind.Value, ArgumentRecording.All, "KEYCTL_"),
        new("ptrace", "request", ArgumentKind.Value, ArgumentRecording.All, "PTRACE_"),
        new("setns", "nstype", ArgumentKind.Value, ArgumentRecording.All, "CLONE_NEW"),
    ];

    /// <summary>
    /// The arguments of syscall <paramref name="nr"/> of <paramref name="arch"/> kept at <paramref name="level"/>, by
    /// index (an argument the tables don't name there is left out).
    /// </summary>
    public static IReadOnlyList<(int Index, TrackedArgument Argument)> For(Architecture arch, int nr, ArgumentRecording level)
    {
        if (level == ArgumentRecording.None || !arch.Syscalls.TryGet(nr, out var syscall))
            return [];
        List<(int, TrackedArgument)>? found = null;
        foreach (var t in Table)
        {
            if (t.Level > level || t.Syscall != syscall.Name)
                continue;
            int index = syscall.IndexOfArg(t.Argument);
            if (index >= 0)
                (found ??= []).Add((index, t));
        }
        return found is null ? [] : found.OrderBy(f => f.Item1).ToArray();
    }

    /// <summary>The entry for argument <paramref name="index"/> of <paramref name="syscall"/>, at any level.</summary>
    public static TrackedArgument? Find(Syscall syscall, int index) =>
        index < syscall.ArgNames.Count ? Table.FirstOrDefault(t => t.Syscall == syscall.Name && t.Argument == syscall.ArgNames[index]) : null;

    /// <summary>
    /// A constant expression for <paramref name="value"/> of a tracked argument: the first kernel constant (in header
    /// order) of its most specific prefix with that value, or for flags the single-bit constants it is made of; null
    /// when none names it. <see cref="Language.PolicyWriter"/> checks the expression evaluates to the value.
    /// </summary>
    public static string? Name(TrackedArgument argument, ulong value, int width)
    {
        if (argument.Prefixes.Length == 0)
            return null;
        if (argument.Kind == ArgumentKind.Value)
        {
            if (argument.Prefixes is ["SIG"])
                return value <= int.MaxValue ? Signals.Name((int)value) : null;
            if (Exact(argument, value) is { } exact)
                return exact;
            // A value with flag bits of the same family (SOCK_DGRAM|SOCK_CLOEXEC): the highest single-bit constants
            // out, while what is left has a name of its own.
            var flagParts = new List<string>();
            ulong left = value;
            foreach (var (name, bit) in SingleBits(argument.Prefixes[0], width).Reverse())
            {
                if ((left & bit) == 0 || left == bit)
                    continue;
                flagParts.Add(name);
                left &= ~bit;
                if (Exact(argument, left) is { } named)
                    return string.Join("|", [named, .. flagParts]);
            }
            return null;
        }
        // Flags: the single-bit constants of the first prefix, highest bit first, then what is left in hex.
        var parts = new List<string>();
        ulong rest = value;
        foreach (var (name, bit) in SingleBits(argument.Prefixes[0], width))
            if ((rest & bit) != 0)
            {
                parts.Add(name);
                rest &= ~bit;
            }
        if (parts.Count == 0)
            return null;
        if (rest != 0)
            parts.Add(rest < 10 ? rest.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"0x{rest:x}");
        return string.Join('|', parts);
    }

    private static string? Exact(TrackedArgument argument, ulong value)
    {
        foreach (var prefix in argument.Prefixes)
            foreach (var (name, v) in KernelConstants.All)
                if (v == value && name.StartsWith(prefix, StringComparison.Ordinal) && !Aliases.Contains(name))
                    return name;
        return null;
    }

    /// <summary>The constants of a family that are one bit each, lowest first (the first name of each bit).</summary>
    private static IEnumerable<(string Name, ulong Bit)> SingleBits(string prefix, int width) =>
        KernelConstants.All.Where(c => c.Name.StartsWith(prefix, StringComparison.Ordinal) && !Aliases.Contains(c.Name) && c.Value != 0 &&
                                       (c.Value & (c.Value - 1)) == 0 && c.Value <= ArgPredicate.WidthMask(width))
            .GroupBy(c => c.Value).Select(g => g.First()).OrderBy(c => c.Value);
}
