using System.Runtime.InteropServices;

namespace Syscage.Kernel;

/// <summary>
/// Every native call Syscage makes, and nothing else (dotnet/runtime's <c>Interop.*</c> layout). Callers read
/// errno right after the call through <see cref="KernelException.FromLastError"/>.
/// </summary>
internal static partial class Interop
{
    internal static partial class Libc
    {
        private const string Lib = "libc";

        /// <summary>x86_64 and aarch64 numbers of the raw syscalls glibc has no wrapper for.</summary>
        internal static readonly nint SYS_seccomp = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 277 : 317;
        internal static readonly nint SYS_pidfd_open = 434;
        internal static readonly nint SYS_pidfd_getfd = 438;

        internal const int PR_SET_NO_NEW_PRIVS = 38;
        internal const int PR_GET_NO_NEW_PRIVS = 39;
        internal const int PR_GET_SECCOMP = 21;
        internal const uint MFD_CLOEXEC = 1;
        internal const int F_SETFD = 2;
        internal const int FD_CLOEXEC = 1;

        [LibraryImport(Lib, SetLastError = true)]
        internal static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

        // long syscall(long number, ...): the integer arguments travel in registers as for a plain call on
        // x86_64 and aarch64 Linux, so a fixed-arity import is sound.
        [LibraryImport(Lib, SetLastError = true)]
        internal static partial nint syscall(nint number, nint a1, nint a2, nint a3);

        [LibraryImport(Lib, EntryPoint = "memfd_create", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int memfd_create(string name, uint flags);

        [LibraryImport(Lib, SetLastError = true)]
        internal static partial nint write(int fd, ReadOnlySpan<byte> buffer, nint count);

        [LibraryImport(Lib, SetLastError = true)]
        internal static partial int close(int fd);

        [LibraryImport(Lib, SetLastError = true)]
        internal static partial int kill(int pid, int signal);

        [LibraryImport(Lib, SetLastError = true)]
        internal static partial int fcntl(int fd, int cmd, int arg);

        [LibraryImport(Lib, SetLastError = true)]
        internal static partial int pipe2(Span<int> fds, int flags);

        [LibraryImport(Lib, SetLastError = true)]
        internal static partial nint read(int fd, Span<byte> buffer, nint count);
    }
}
