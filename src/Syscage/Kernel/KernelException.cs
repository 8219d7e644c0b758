using System.Runtime.InteropServices;
using Syscalls = Syscage.Abi;

namespace Syscage.Kernel;

/// <summary>
/// A system call failed. The message reads like <c>seccomp(SECCOMP_SET_MODE_FILTER): EINVAL (Invalid argument)</c>:
/// the call, the errno's kernel name, and its description.
/// </summary>
public sealed class KernelException : SyscageException
{
    /// <summary>Creates the exception for <paramref name="call"/> failing with <paramref name="errno"/>.</summary>
    public KernelException(string call, int errno, string? detail = null)
        : base($"{call}: {Describe(errno)}{(detail is null ? "" : "; " + detail)}")
    {
        Call = call;
        Errno = errno;
    }

    /// <summary>The call that failed, as written in the message.</summary>
    public string Call { get; }

    /// <summary>The errno value.</summary>
    public int Errno { get; }

    /// <summary>The errno's kernel name (<c>EINVAL</c>), or its number when unknown.</summary>
    public string ErrnoName => Abi.Errno.Name(Errno) ?? Errno.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary><c>EINVAL (Invalid argument)</c>.</summary>
    public static string Describe(int errno) =>
        $"{Abi.Errno.Name(errno) ?? "errno " + errno} ({Marshal.GetPInvokeErrorMessage(errno)})";

    /// <summary>The exception for the errno the last P/Invoke left.</summary>
    internal static KernelException FromLastError(string call, string? detail = null) => new(call, Marshal.GetLastPInvokeError(), detail);
}
