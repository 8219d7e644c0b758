using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Syscage.Abi;

/// <summary>The kind of a seccomp return value, from its <c>SECCOMP_RET_ACTION_FULL</c> bits.</summary>
public enum SeccompActionKind
{
    /// <summary><c>SECCOMP_RET_KILL_PROCESS</c>.</summary>
    KillProcess,
    /// <summary><c>SECCOMP_RET_KILL_THREAD</c> (also <c>SECCOMP_RET_KILL</c>).</summary>
    KillThread,
    /// <summary><c>SECCOMP_RET_TRAP</c>.</summary>
    Trap,
    /// <summary><c>SECCOMP_RET_ERRNO</c>.</summary>
    Errno,
    /// <summary><c>SECCOMP_RET_USER_NOTIF</c>.</summary>
    UserNotif,
    /// <summary><c>SECCOMP_RET_TRACE</c>.</summary>
    Trace,
    /// <summary><c>SECCOMP_RET_LOG</c>.</summary>
    Log,
    /// <summary><c>SECCOMP_RET_ALLOW</c>.</summary>
    Allow,
    /// <summary>An action value the kernel does not define; the kernel treats it as <c>SECCOMP_RET_KILL_PROCESS</c>.</summary>
    Unknown,
}

/// <summary>
/// A seccomp filter's 32-bit return value: an action in the high 16 bits and data in the low 16
/// (<c>include/uapi/linux/seccomp.h</c>).
/// </summary>
public readonly record struct SeccompAction(uint Value)
{
#pragma warning disable CS1591 // Kernel names, see include/uapi/linux/seccomp.h.
    public const uint SECCOMP_RET_KILL_PROCESS = Uapi.SECCOMP_RET_KILL_PROCESS;
    public const uint SECCOMP_RET_KILL_THREAD = (uint)Uapi.SECCOMP_RET_KILL_THREAD;
    public const uint SECCOMP_RET_KILL = SECCOMP_RET_KILL_THREAD;
    public const uint SECCOMP_RET_TRAP = (uint)Uapi.SECCOMP_RET_TRAP;
    public const uint SECCOMP_RET_ERRNO = (uint)Uapi.SECCOMP_RET_ERRNO;
    public const uint SECCOMP_RET_USER_NOTIF = (uint)Uapi.SECCOMP_RET_USER_NOTIF;
    public const uint SECCOMP_RET_TRACE = (uint)Uapi.SECCOMP_RET_TRACE;
    public const uint SECCOMP_RET_LOG = (uint)Uapi.SECCOMP_RET_LOG;
    public const uint SECCOMP_RET_ALLOW = (uint)Uapi.SECCOMP_RET_ALLOW;
    public const uint SECCOMP_RET_ACTION_FULL = Uapi.SECCOMP_RET_ACTION_FULL;
    public const uint SECCOMP_RET_ACTION = (uint)Uapi.SECCOMP_RET_ACTION;
    public const uint SECCOMP_RET_DATA = (uint)Uapi.SECCOMP_RET_DATA;
    /// <summary><c>MAX_ERRNO</c>: the kernel clamps ERRNO data to this (include/linux/err.h).</summary>
    public const int MAX_ERRNO = 4095;
#pragma warning restore CS1591

    /// <summary>ALLOW.</summary>
    public static SeccompAction Allow => new(SECCOMP_RET_ALLOW);
    /// <summary>KILL_PROCESS.</summary>
    public static SeccompAction KillProcess => new(SECCOMP_RET_KILL_PROCESS);
    /// <summary>KILL_THREAD.</summary>
    public static SeccompAction KillThread => new(SECCOMP_RET_KILL_THREAD);
    /// <summary>LOG.</summary>
    public static SeccompAction Log => new(SECCOMP_RET_LOG);
    /// <summary>USER_NOTIF.</summary>
    public static SeccompAction UserNotif => new(SECCOMP_RET_USER_NOTIF);
    /// <summary>ERRNO(<paramref name="errno"/>).</summary>
    public static SeccompAction Errno(ushort errno) => new(SECCOMP_RET_ERRNO | errno);
    /// <summary>TRAP(<paramref name="data"/>).</summary>
    public static SeccompAction Trap(ushort data) => new(SECCOMP_RET_TRAP | data);
    /// <summary>TRACE(<paramref name="data"/>).</summary>
    public static SeccompAction Trace(ushort data) => new(SECCOMP_RET_TRACE | data);

    /// <summary>The action bits (<c>SECCOMP_RET_ACTION_FULL</c>).</summary>
    public uint ActionBits => Value & SECCOMP_RET_ACTION_FULL;

    /// <summary>The data bits (<c>SECCOMP_RET_DATA</c>): errno, trap or trace data.</summary>
    public ushort Data => (ushort)(Value & SECCOMP_RET_DATA);

    /// <summary>The action this value selects.</summary>
    public SeccompActionKind Kind => ActionBits switch
    {
        SECCOMP_RET_KILL_PROCESS => SeccompActionKind.KillProcess,
        SECCOMP_RET_KILL_THREAD => SeccompActionKind.KillThread,
        SECCOMP_RET_TRAP => SeccompActionKind.Trap,
        SECCOMP_RET_ERRNO => SeccompActionKind.Errno,
        SECCOMP_RET_USER_NOTIF => SeccompActionKind.UserNotif,
        SECCOMP_RET_TRACE => SeccompActionKind.Trace,
        SECCOMP_RET_LOG => SeccompActionKind.Log,
        SECCOMP_RET_ALLOW => SeccompActionKind.Allow,
        _ => SeccompActionKind.Unknown,
    };

    /// <summary>
    /// What the kernel does with this value: unknown actions kill the process (the <c>default:</c> case of
    /// <c>__seccomp_filter</c>) ERRNO data above <see cref="MAX_ERRNO"/> is clamped to it, and
    /// the data bits of actions that take none are dropped.
    /// </summary>
    public SeccompAction Effective => Kind switch
    {
        SeccompActionKind.Unknown => KillProcess,
        SeccompActionKind.Errno when Data > MAX_ERRNO => Errno(MAX_ERRNO),
        SeccompActionKind.Errno or SeccompActionKind.Trap or SeccompActionKind.Trace => this,
        // The data bits of the other actions are ignored by the kernel.
        _ => new SeccompAction(ActionBits),
    };

    /// <summary>
    /// Precedence when several filters are stacked: the kernel keeps the value whose
    /// <c>(s32)(ret &amp; SECCOMP_RET_ACTION_FULL)</c> is lowest. Lower rank wins.
    /// </summary>
    public int Rank => unchecked((int)ActionBits);

    /// <summary>
    /// The canonical spelling: <c>ALLOW</c>, <c>KILL_PROCESS</c>, <c>KILL_THREAD</c>, <c>TRAP(n)</c>,
    /// <c>ERRNO(n)</c>, <c>TRACE(n)</c>, <c>LOG</c>, <c>USER_NOTIF</c>; a value that does not fit these
    /// (unknown action, or data on an action that has none) is written in hex.
    /// </summary>
    public override string ToString() => Kind switch
    {
        SeccompActionKind.Trap => $"TRAP({Data})",
        SeccompActionKind.Errno => $"ERRNO({Data})",
        SeccompActionKind.Trace => $"TRACE({Data})",
        _ when Data != 0 || Kind == SeccompActionKind.Unknown => string.Create(CultureInfo.InvariantCulture, $"0x{Value:x8}"),
        SeccompActionKind.KillProcess => "KILL_PROCESS",
        SeccompActionKind.KillThread => "KILL_THREAD",
        SeccompActionKind.UserNotif => "USER_NOTIF",
        SeccompActionKind.Log => "LOG",
        _ => "ALLOW",
    };

    /// <summary>
    /// Parses the canonical spelling (see <see cref="ToString"/>), the aliases <c>KILL</c> and <c>NOTIFY</c>, a
    /// <c>SECCOMP_RET_</c> prefix, and plain numbers (<c>0x7fff0000</c>). Data in parentheses may be a number or,
    /// for ERRNO, an errno name when <paramref name="errnoResolver"/> knows it.
    /// </summary>
    public static bool TryParse(string text, out SeccompAction action, Func<string, int?>? errnoResolver = null)
    {
        action = default;
        string s = text.Trim();
        if (TryParseNumber(s, out uint raw))
        {
            action = new SeccompAction(raw);
            return true;
        }
        string name = s, arg = "";
        int open = s.IndexOf('(');
        if (open >= 0)
        {
            if (!s.EndsWith(')'))
                return false;
            name = s[..open].Trim();
            arg = s[(open + 1)..^1].Trim();
        }
        name = name.ToUpperInvariant();
        if (name.StartsWith("SECCOMP_RET_", StringComparison.Ordinal))
            name = name["SECCOMP_RET_".Length..];
        uint bits;
        bool takesData;
        switch (name)
        {
            case "KILL_PROCESS": bits = SECCOMP_RET_KILL_PROCESS; takesData = false; break;
            case "KILL_THREAD" or "KILL": bits = SECCOMP_RET_KILL_THREAD; takesData = false; break;
            case "TRAP": bits = SECCOMP_RET_TRAP; takesData = true; break;
            case "ERRNO": bits = SECCOMP_RET_ERRNO; takesData = true; break;
            case "USER_NOTIF" or "NOTIFY": bits = SECCOMP_RET_USER_NOTIF; takesData = false; break;
            case "TRACE": bits = SECCOMP_RET_TRACE; takesData = true; break;
            case "LOG": bits = SECCOMP_RET_LOG; takesData = false; break;
            case "ALLOW": bits = SECCOMP_RET_ALLOW; takesData = false; break;
            default: return false;
        }
        uint data = 0;
        if (open >= 0)
        {
            if (!takesData)
                return false;
            if (TryParseNumber(arg, out uint n) && n <= SECCOMP_RET_DATA)
                data = n;
            else if (bits == SECCOMP_RET_ERRNO && errnoResolver?.Invoke(arg) is int e && e is >= 0 and <= 0xffff)
                data = (uint)e;
            else
                return false;
        }
        action = new SeccompAction(bits | data);
        return true;
    }

    /// <summary>Parses a decimal or <c>0x</c> hexadecimal 32-bit number.</summary>
    internal static bool TryParseNumber(string s, out uint value)
    {
        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return uint.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
        return uint.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>
    /// The verdict the kernel keeps when <paramref name="next"/> comes after <paramref name="kept"/>: the later one only
    /// when its action ranks strictly lower (<c>seccomp_run_filters</c>).
    /// </summary>
    public static uint Precede(uint kept, uint next) => RankOf(next) < RankOf(kept) ? next : kept;

    /// <summary>The kernel's precedence rank of a verdict: <c>(s32)(ret &amp; SECCOMP_RET_ACTION_FULL)</c>, lower wins.</summary>
    public static int RankOf(uint verdict) => new SeccompAction(verdict).Rank;
}
