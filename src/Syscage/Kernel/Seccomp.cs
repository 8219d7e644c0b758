using System.Runtime.InteropServices;
using Syscage.Bpf;
using static Syscage.Kernel.Interop.Libc;
using Syscage.Abi;

namespace Syscage.Kernel;

/// <summary><c>SECCOMP_FILTER_FLAG_*</c>: how <c>seccomp(SECCOMP_SET_MODE_FILTER)</c> installs a filter.</summary>
[Flags]
public enum FilterFlags : uint
{
    /// <summary>No flags.</summary>
    None = 0,
    /// <summary><c>SECCOMP_FILTER_FLAG_TSYNC</c>: install on every thread of the process, or fail.</summary>
    Tsync = Uapi.SECCOMP_FILTER_FLAG_TSYNC,
    /// <summary><c>SECCOMP_FILTER_FLAG_LOG</c>: log every action but ALLOW.</summary>
    Log = Uapi.SECCOMP_FILTER_FLAG_LOG,
    /// <summary><c>SECCOMP_FILTER_FLAG_SPEC_ALLOW</c>: don't force the speculative-store-bypass mitigation.</summary>
    SpecAllow = Uapi.SECCOMP_FILTER_FLAG_SPEC_ALLOW,
    /// <summary><c>SECCOMP_FILTER_FLAG_NEW_LISTENER</c>: return a user-notification listener fd.</summary>
    NewListener = Uapi.SECCOMP_FILTER_FLAG_NEW_LISTENER,
    /// <summary><c>SECCOMP_FILTER_FLAG_TSYNC_ESRCH</c>: a TSYNC failure returns ESRCH instead of a thread id.</summary>
    TsyncEsrch = Uapi.SECCOMP_FILTER_FLAG_TSYNC_ESRCH,
    /// <summary><c>SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV</c>: once received, a notified task waits killably.</summary>
    WaitKillableRecv = Uapi.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
}

/// <summary>
/// The seccomp system call and its feature queries (<c>seccomp(2)</c>). Installing a filter here filters the
/// calling process for the rest of its life: use <see cref="Sandbox"/> to do it on purpose, or
/// <see cref="SandboxedProcess"/> to filter a child instead.
/// </summary>
public static class Seccomp
{
#pragma warning disable CS1591 // Kernel names: include/uapi/linux/seccomp.h.
    public const uint SECCOMP_SET_MODE_STRICT = (uint)Uapi.SECCOMP_SET_MODE_STRICT;
    public const uint SECCOMP_SET_MODE_FILTER = (uint)Uapi.SECCOMP_SET_MODE_FILTER;
    public const uint SECCOMP_GET_ACTION_AVAIL = (uint)Uapi.SECCOMP_GET_ACTION_AVAIL;
    public const uint SECCOMP_GET_NOTIF_SIZES = (uint)Uapi.SECCOMP_GET_NOTIF_SIZES;
#pragma warning restore CS1591

    /// <summary>Sizes of the user-notification structures this kernel uses (<c>struct seccomp_notif_sizes</c>).</summary>
    /// <param name="Notif"><c>sizeof(struct seccomp_notif)</c>.</param>
    /// <param name="NotifResp"><c>sizeof(struct seccomp_notif_resp)</c>.</param>
    /// <param name="Data"><c>sizeof(struct seccomp_data)</c>.</param>
    public readonly record struct NotifSizes(ushort Notif, ushort NotifResp, ushort Data);

    /// <summary>
    /// <c>SECCOMP_GET_ACTION_AVAIL</c>: "Test to see if an action is supported by the kernel" — 0 if so,
    /// EOPNOTSUPP if not (seccomp(2)).
    /// </summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public static unsafe bool IsActionAvailable(uint action)
    {
        uint value = action & SeccompAction.SECCOMP_RET_ACTION_FULL;
        nint rc = syscall(SYS_seccomp, (nint)SECCOMP_GET_ACTION_AVAIL, 0, (nint)(&value));
        if (rc == 0)
            return true;
        int errno = Marshal.GetLastPInvokeError();
        if (errno == Errno.EOPNOTSUPP)
            return false;
        throw new KernelException("seccomp(SECCOMP_GET_ACTION_AVAIL)", errno);
    }

    /// <summary><c>SECCOMP_GET_NOTIF_SIZES</c>.</summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public static unsafe NotifSizes GetNotifSizes()
    {
        NotifSizes sizes;
        if (syscall(SYS_seccomp, (nint)SECCOMP_GET_NOTIF_SIZES, 0, (nint)(&sizes)) != 0)
            throw KernelException.FromLastError("seccomp(SECCOMP_GET_NOTIF_SIZES)");
        return sizes;
    }

    /// <summary>
    /// Whether the kernel knows <paramref name="flags"/>: asks to install a filter from a null pointer, which
    /// fails with EFAULT after the flags were accepted and with EINVAL when they were not. Installs nothing.
    /// </summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public static bool AreFlagsSupported(FilterFlags flags)
    {
        nint rc = syscall(SYS_seccomp, (nint)SECCOMP_SET_MODE_FILTER, (nint)(uint)flags, 0);
        int errno = Marshal.GetLastPInvokeError();
        if (rc == 0)
            throw new InvalidOperationException("seccomp accepted a null filter");
        return errno == Errno.EFAULT;
    }

    /// <summary>The filter flags by the kernel's names, as OCI profiles write them (<c>flags</c>).</summary>
    private static readonly (string Name, FilterFlags Flag)[] FlagNames =
    [
        ("SECCOMP_FILTER_FLAG_TSYNC", FilterFlags.Tsync),
        ("SECCOMP_FILTER_FLAG_LOG", FilterFlags.Log),
        ("SECCOMP_FILTER_FLAG_SPEC_ALLOW", FilterFlags.SpecAllow),
        ("SECCOMP_FILTER_FLAG_NEW_LISTENER", FilterFlags.NewListener),
        ("SECCOMP_FILTER_FLAG_TSYNC_ESRCH", FilterFlags.TsyncEsrch),
        ("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", FilterFlags.WaitKillableRecv),
    ];

    /// <summary>Reads a flag by its kernel name (<c>SECCOMP_FILTER_FLAG_LOG</c>).</summary>
    public static bool TryParseFilterFlag(string name, out FilterFlags flag)
    {
        ArgumentNullException.ThrowIfNull(name);
        foreach (var (n, f) in FlagNames)
        {
            if (string.Equals(n, name, StringComparison.Ordinal))
            {
                flag = f;
                return true;
            }
        }
        flag = FilterFlags.None;
        return false;
    }

    /// <summary>The kernel names of the flags in <paramref name="flags"/>, joined with <c>|</c> (<c>0</c> for none).</summary>
    public static string FlagNamesOf(FilterFlags flags)
    {
        var names = FlagNames.Where(f => (flags & f.Flag) != 0).Select(f => f.Name).ToList();
        var unknown = flags & ~FlagNames.Aggregate(FilterFlags.None, (all, f) => all | f.Flag);
        if (unknown != 0)
            names.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"0x{(uint)unknown:x}"));
        return names.Count == 0 ? "0" : string.Join("|", names);
    }

    /// <summary>
    /// Why <c>seccomp(SECCOMP_SET_MODE_FILTER)</c> refuses <paramref name="flags"/> whatever the filter (EINVAL, in
    /// <c>seccomp_set_mode_filter</c>), or null when it accepts the combination: a bit it does not define; TSYNC with
    /// NEW_LISTENER unless TSYNC_ESRCH ("there's no way to tell whether something succeeded or failed");
    /// WAIT_KILLABLE_RECV without NEW_LISTENER ("doesn't make sense without" it). Whether this kernel knows each flag is
    /// <see cref="AreFlagsSupported"/>.
    /// </summary>
    public static string? FlagsProblem(FilterFlags flags)
    {
        var known = FlagNames.Aggregate(FilterFlags.None, (all, f) => all | f.Flag);
        if ((flags & ~known) != 0)
            return $"{FlagNamesOf(flags & ~known)}: not a seccomp filter flag";
        if ((flags & FilterFlags.Tsync) != 0 && (flags & FilterFlags.NewListener) != 0 && (flags & FilterFlags.TsyncEsrch) == 0)
            return "SECCOMP_FILTER_FLAG_TSYNC with SECCOMP_FILTER_FLAG_NEW_LISTENER needs SECCOMP_FILTER_FLAG_TSYNC_ESRCH: the kernel refuses the pair alone (EINVAL), as a thread id and a listener would look alike";
        if ((flags & FilterFlags.WaitKillableRecv) != 0 && (flags & FilterFlags.NewListener) == 0)
            return "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a listener (SECCOMP_FILTER_FLAG_NEW_LISTENER): it says how a notified task waits for its answer, and the kernel refuses it without one (EINVAL)";
        return null;
    }

    /// <summary>
    /// <c>prctl(PR_SET_NO_NEW_PRIVS, 1)</c>: "Once set, this bit cannot be unset" — required to install a filter
    /// without CAP_SYS_ADMIN, and inherited by children and across execve.
    /// </summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public static void SetNoNewPrivileges()
    {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
            throw KernelException.FromLastError("prctl(PR_SET_NO_NEW_PRIVS)");
    }

    /// <summary>The calling thread's seccomp mode (<c>PR_GET_SECCOMP</c>): 0 none, 1 strict, 2 filter.</summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public static int CurrentMode()
    {
        int mode = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
        if (mode < 0)
            throw KernelException.FromLastError("prctl(PR_GET_SECCOMP)");
        return mode;
    }

    /// <summary>
    /// <c>seccomp(SECCOMP_SET_MODE_FILTER, flags, prog)</c> on the calling thread (and, with TSYNC, the process).
    /// Returns the syscall's result: 0, or a listener fd with <see cref="FilterFlags.NewListener"/>.
    /// </summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    internal static unsafe int InstallFilter(BpfProgram program, FilterFlags flags)
    {
        ArgumentNullException.ThrowIfNull(program);
        byte[] bytes = program.ToBytes();
        fixed (byte* filter = bytes)
        {
            // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
            var fprog = stackalloc nint[2];
            fprog[0] = program.Length;
            fprog[1] = (nint)filter;
            nint rc = syscall(SYS_seccomp, (nint)SECCOMP_SET_MODE_FILTER, (nint)(uint)flags, (nint)fprog);
            if (rc < 0)
                throw KernelException.FromLastError("seccomp(SECCOMP_SET_MODE_FILTER)", Hint(Marshal.GetLastPInvokeError()));
            if (rc > 0 && (flags & FilterFlags.Tsync) != 0 && (flags & FilterFlags.NewListener) == 0)
                throw new KernelException("seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC)", 0,
                    $"thread {rc} could not be synchronised: it already has a filter that is not an ancestor of this thread's");
            return (int)rc;
        }
    }

    private static string? Hint(int errno) => errno switch
    {
        13 => "set no_new_privs first (prctl(PR_SET_NO_NEW_PRIVS)) or run with CAP_SYS_ADMIN",
        12 => "the process's filters together exceed the kernel's 32768-instruction limit",
        3 => "a thread could not be synchronised (SECCOMP_FILTER_FLAG_TSYNC_ESRCH)",
        16 => "another filter of this process already has a user-notification listener",
        _ => null,
    };
}
