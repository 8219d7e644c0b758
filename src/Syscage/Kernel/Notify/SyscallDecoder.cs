using System.Globalization;
using System.Text;
using Syscage.Bpf;
using Syscage.Abi;

namespace Syscage.Kernel.Notify;

/// <summary>
/// Writes a notified call the way strace would: <c>openat(AT_FDCWD, "/etc/shadow", O_RDONLY)</c>. Names come
/// from the syscall tables (argument names from the man pages) and the kernel constants; strings such as paths
/// are read from the caller's memory — for display only (see <see cref="NotificationContext"/>).
/// </summary>
public static class SyscallDecoder
{
    private static readonly HashSet<string> StringArgs = new(StringComparer.Ordinal)
    {
        "pathname", "path", "filename", "oldpath", "newpath", "oldname", "newname", "linkpath", "target",
        "source", "special", "library", "specialfile", "dev_name", "dir_name", "type",
    };

    private static readonly HashSet<string> DirFdArgs = new(StringComparer.Ordinal) { "dirfd", "olddirfd", "newdirfd", "dfd", "fd" };

    private static readonly HashSet<string> OpenCalls = new(StringComparer.Ordinal) { "open", "openat", "creat", "open_by_handle_at" };

    private static readonly string[] OpenFlagNames =
    [
        // Multi-bit flags first: O_TMPFILE includes O_DIRECTORY's bit, O_SYNC includes O_DSYNC's.
        "O_TMPFILE", "O_SYNC", "O_CREAT", "O_EXCL", "O_NOCTTY", "O_TRUNC", "O_APPEND", "O_NONBLOCK", "O_DSYNC", "O_DIRECT",
        "O_LARGEFILE", "O_DIRECTORY", "O_NOFOLLOW", "O_NOATIME", "O_CLOEXEC", "O_PATH",
    ];

    /// <summary>The architecture of a call, from <c>seccomp_data.arch</c> and the x32 bit of <c>nr</c>.</summary>
    public static Architecture? ArchitectureOf(in SeccompData data) => Architecture.Of(data.Arch, data.Nr);

    /// <summary>The call's name (<c>openat</c>), or <c>syscall_NNN</c> when the table has none.</summary>
    public static string Name(in SeccompData data) =>
        ArchitectureOf(data)?.Syscalls.TryGetName(data.Nr, out var name) == true ? name : string.Create(CultureInfo.InvariantCulture, $"syscall_{data.Nr}");

    /// <summary>
    /// Decodes the call. With <paramref name="context"/>, string arguments are read from the caller (and shown
    /// as <c>0x...</c> when unreadable); without, every argument is a number.
    /// </summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public static string Decode(in SeccompData data, NotificationContext? context = null)
    {
        var arch = ArchitectureOf(data);
        Syscall? call = null;
        arch?.Syscalls.TryGet(data.Nr, out call);
        var sb = new StringBuilder();
        sb.Append(call?.Name ?? string.Create(CultureInfo.InvariantCulture, $"syscall_{data.Nr}")).Append('(');
        int count = call?.ArgNames.Count ?? 6;
        bool is64 = arch?.Is64Bit ?? true;
        // As strace does: open's mode is shown only when the flags make the kernel read it.
        int flagsIndex = call is not null && OpenCalls.Contains(call.Name) ? call.IndexOfArg("flags") : -1;
        ulong createBits = (KernelConstants.Value("O_CREAT") ?? 0x40) | (KernelConstants.Value("O_TMPFILE") ?? 0x410000);
        bool omitMode = flagsIndex >= 0 && (data.Arg(flagsIndex) & createBits) == 0;
        for (int i = 0; i < count; i++)
        {
            string argName = call?.ArgNames[i] ?? "";
            if (omitMode && argName == "mode")
                continue;
            if (i > 0)
                sb.Append(", ");
            ulong value = is64 ? data.Arg(i) : (uint)data.Arg(i);
            sb.Append(FormatArg(call?.Name ?? "", argName, value, context));
        }
        return sb.Append(')').ToString();
    }

    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private static string FormatArg(string call, string argName, ulong value, NotificationContext? context)
    {
        if (StringArgs.Contains(argName) && context is { } ctx && !(call is "mount" && argName is "type" && value == 0))
        {
            string? s = value == 0 ? null : ctx.ReadString(value);
            if (s is not null)
                return Quote(s);
        }
        if (DirFdArgs.Contains(argName) && (int)value == -100 && call.EndsWith("at", StringComparison.Ordinal) | call.EndsWith("at2", StringComparison.Ordinal))
            return "AT_FDCWD";
        if (argName == "flags" && OpenCalls.Contains(call))
            return OpenFlags(value);
        if (argName == "flags" && call is "unshare" or "clone" && value != 0)
            return CloneFlags(value);
        if (argName == "mode")
            return value == 0 ? "0" : "0" + Convert.ToString((long)(value & 0xffff_ffff), 8);
        if (value < 0x10000)
            return value.ToString(CultureInfo.InvariantCulture);
        if ((long)value < 0 && (long)value >= -4096)
            return ((long)value).ToString(CultureInfo.InvariantCulture);
        return string.Create(CultureInfo.InvariantCulture, $"0x{value:x}");
    }

    /// <summary><c>O_RDONLY|O_CLOEXEC</c>: the access mode, then the flags the kernel constants name, then what is left in hex.</summary>
    public static string OpenFlags(ulong flags)
    {
        ulong accmode = KernelConstants.Value("O_ACCMODE") ?? 3;
        ulong mode = flags & accmode;
        var parts = new List<string>
        {
            mode == (KernelConstants.Value("O_WRONLY") ?? 1) ? "O_WRONLY" : mode == (KernelConstants.Value("O_RDWR") ?? 2) ? "O_RDWR" : mode == 0 ? "O_RDONLY" : "O_ACCMODE",
        };
        ulong rest = flags & ~accmode;
        foreach (var name in OpenFlagNames)
        {
            if (KernelConstants.Value(name) is ulong bit && bit != 0 && (rest & bit) == bit)
            {
                parts.Add(name);
                rest &= ~bit;
            }
        }
        if (rest != 0)
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"0x{rest:x}"));
        return string.Join('|', parts);
    }

    /// <summary><c>CLONE_NEWUSER|CLONE_NEWNS</c>: the single-bit <c>CLONE_*</c> kernel constants, then what is left in hex.</summary>
    public static string CloneFlags(ulong flags)
    {
        var parts = new List<string>();
        ulong rest = flags;
        foreach (var (name, bit) in CloneBits.Value)
        {
            if ((rest & bit) == bit)
            {
                parts.Add(name);
                rest &= ~bit;
            }
        }
        if (rest != 0 || parts.Count == 0)
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"0x{rest:x}"));
        return string.Join('|', parts);
    }

    private static readonly Lazy<(string Name, ulong Bit)[]> CloneBits = new(() =>
        [.. KernelConstants.All.Where(c => c.Name.StartsWith("CLONE_", StringComparison.Ordinal) && c.Value != 0 && (c.Value & (c.Value - 1)) == 0)
            .OrderBy(c => c.Value).Select(c => (c.Name, c.Value))]);

    private static string Quote(string s)
    {
        var sb = new StringBuilder(s.Length + 2).Append('"');
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
}
