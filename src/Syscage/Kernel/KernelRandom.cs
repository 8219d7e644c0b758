using System.Runtime.InteropServices;
using Syscage.Abi;
using static Syscage.Kernel.Interop.Libc;

namespace Syscage.Kernel;

/// <summary>
/// Unpredictable numbers straight from the kernel (<c>getrandom(2)</c>, the urandom source). .NET's
/// <c>RandomNumberGenerator</c> would do as well, but on Linux it first loads and initialises OpenSSL, which cost a
/// <c>syscage run</c> about 2.5 ms of its start.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class KernelRandom
{
    /// <summary>A random 64-bit value.</summary>
    public static unsafe ulong NextUInt64()
    {
        ulong value;
        for (;;)
        {
            nint n = getrandom(&value, sizeof(ulong), 0);
            if (n == sizeof(ulong))
                return value;
            // Requests of up to 256 bytes are never short once the pool is initialised; EINTR can still end the wait.
            if (n < 0 && Marshal.GetLastPInvokeError() != Errno.EINTR)
                throw KernelException.FromLastError("getrandom");
        }
    }
}
