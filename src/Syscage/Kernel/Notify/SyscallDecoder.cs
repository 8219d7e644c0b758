using System.Globalization;
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
    /// <summary>The architecture of a call, from <c>seccomp_data.arch</c> and the x32 bit of <c>nr</c>.</summary>
    public static Architecture? ArchitectureOf(in SeccompData data) => Architecture.Of(data.Arch, data.Nr);

    /// <summary>The call's name (<c>openat</c>), or <c>syscall_NNN</c> when the table has none.</summary>
    public static string Name(in SeccompData data) =>
        ArchitectureOf(data)?.Syscalls.TryGetName(data.Nr, out var name) == true ? name : string.Create(CultureInfo.InvariantCulture, $"syscall_{data.Nr}");

    /// <summary>
    /// Decodes the call: flags and enumerations in the kernel's names (<see cref="ArgumentDecoder"/>), and with
    /// <paramref name="context"/> every string argument (<c>const char *</c>: paths, names, a file system type) read
    /// from the caller (shown as <c>0x...</c> when unreadable); without it, strings are pointers in hex.
    /// </summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public static string Decode(in SeccompData data, NotificationContext? context = null) =>
        ArgumentDecoder.Call(data, Reader(context));

    /// <summary>The call's arguments as <see cref="Decode"/> shows them (<see cref="ArgumentDecoder.Arguments"/>), strings read with <paramref name="context"/>.</summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public static IReadOnlyList<DecodedArgument> Arguments(in SeccompData data, NotificationContext? context = null) =>
        ArgumentDecoder.Arguments(data, Reader(context));

    /// <summary>What reads a string argument: the caller's memory through <paramref name="context"/>, or nothing.</summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private static Func<ulong, string?>? Reader(NotificationContext? context) =>
        context is { } ctx ? address => ctx.ReadString(address) : null;

    /// <summary><c>O_RDONLY|O_CLOEXEC</c>: the access mode, then the flags the kernel constants name, then what is left in hex.</summary>
    public static string OpenFlags(ulong flags) => ArgumentDecoder.OpenFlags(flags);

    /// <summary><c>CLONE_NEWUSER|CLONE_NEWNS</c>: the single-bit <c>CLONE_*</c> kernel constants, then what is left in hex.</summary>
    public static string CloneFlags(ulong flags) => ArgumentDecoder.CloneFlags(flags);
}
