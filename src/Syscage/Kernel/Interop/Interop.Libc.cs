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
        internal static readonly nint SYS_pidfd_send_signal = 424;
        internal static readonly nint SYS_tgkill = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 131 : 234;

        // include/uapi/linux/seccomp.h: SECCOMP_IOC_MAGIC '!', values as the C compiler computes them.
        internal const ulong SECCOMP_IOCTL_NOTIF_RECV = 0xc0502100;      // SECCOMP_IOWR(0, struct seccomp_notif)
        internal const ulong SECCOMP_IOCTL_NOTIF_SEND = 0xc0182101;      // SECCOMP_IOWR(1, struct seccomp_notif_resp)
        internal const ulong SECCOMP_IOCTL_NOTIF_ID_VALID = 0x40082102;  // SECCOMP_IOW(2, __u64)
        internal const ulong SECCOMP_IOCTL_NOTIF_ADDFD = 0x40182103;     // SECCOMP_IOW(3, struct seccomp_notif_addfd)
        // SECCOMP_IOW(4, __u64): Linux 6.6, newer than some installed headers.
        internal const ulong SECCOMP_IOCTL_NOTIF_SET_FLAGS = 0x40082104;

        internal const short POLLIN = 0x1;
        internal const short POLLERR = 0x8;
        internal const short POLLHUP = 0x10;
        internal const int EFD_CLOEXEC = 0x80000;

        /// <summary><c>struct pollfd</c>.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct PollFd
        {
            public int Fd;
            public short Events;
            public short REvents;
        }

        /// <summary><c>struct iovec</c>.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct IoVec
        {
            public nint Base;
            public nuint Length;
        }

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

        [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true)]
        internal static partial nint syscall4(nint number, nint a1, nint a2, nint a3, nint a4);

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

        // int ioctl(int fd, unsigned long request, ...): one pointer argument, passed in a register like a fixed one.
        [LibraryImport(Lib, SetLastError = true)]
        internal static unsafe partial int ioctl(int fd, ulong request, void* arg);

        [LibraryImport(Lib, SetLastError = true)]
        internal static unsafe partial int poll(PollFd* fds, nuint count, int timeout);

        [LibraryImport(Lib, SetLastError = true)]
        internal static partial int eventfd(uint initval, int flags);

        [LibraryImport(Lib, SetLastError = true)]
        internal static unsafe partial nint process_vm_readv(int pid, IoVec* localIov, nuint localCount, IoVec* remoteIov, nuint remoteCount, nuint flags);

        [LibraryImport(Lib, SetLastError = true)]
        internal static partial nint pwrite(int fd, ReadOnlySpan<byte> buffer, nint count, long offset);

        [LibraryImport(Lib, SetLastError = true)]
        internal static partial int ftruncate(int fd, long length);

        internal const int O_RDONLY_CLOEXEC = 0x80000;

        // open(2) with a NUL-terminated path in a caller's buffer: no marshalling allocation on hot paths.
        [LibraryImport(Lib, EntryPoint = "open", SetLastError = true)]
        internal static unsafe partial int open(byte* path, int flags);

        [LibraryImport(Lib, EntryPoint = "access", SetLastError = true)]
        internal static unsafe partial int access(byte* path, int mode);

        internal const int SOL_SOCKET = 1;
        internal const int SCM_RIGHTS = 1;
        internal const int MSG_CMSG_CLOEXEC = 0x40000000;

        /// <summary><c>struct msghdr</c> (64-bit Linux).</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct MsgHdr
        {
            public nint Name;
            public uint NameLen;
            public nint Iov;
            public nuint IovLen;
            public nint Control;
            public nuint ControlLen;
            public int Flags;
        }

        [LibraryImport(Lib, SetLastError = true)]
        internal static unsafe partial nint recvmsg(int fd, MsgHdr* msg, int flags);

        internal const int PR_SET_PDEATHSIG = 1;
        internal const int PR_GET_DUMPABLE = 3;
        internal const int PR_SET_DUMPABLE = 4;
        internal const int F_DUPFD_CLOEXEC = 1030;
        internal const int P_PIDFD = 3;
        internal const int WEXITED = 4;
        internal const int WNOHANG = 1;

        // posix_spawn(3): the file actions and attributes are opaque glibc structures (80 and 336 bytes on 64-bit
        // Linux); callers give them this much zeroed memory.
        internal const int PosixSpawnOpaqueSize = 512;

        [LibraryImport(Lib)]
        internal static unsafe partial int posix_spawn_file_actions_init(void* actions);

        [LibraryImport(Lib)]
        internal static unsafe partial int posix_spawn_file_actions_adddup2(void* actions, int fd, int newfd);

        [LibraryImport(Lib)]
        internal static unsafe partial int posix_spawn_file_actions_destroy(void* actions);

        // Returns an error number (not -1 with errno).
        [LibraryImport(Lib)]
        internal static unsafe partial int posix_spawn(int* pid, byte* path, void* fileActions, void* attributes, byte** argv, byte** envp);

        // int waitid(idtype_t, id_t, siginfo_t *, int): with P_PIDFD the id is a pidfd. siginfo_t is 128 bytes.
        [LibraryImport(Lib, SetLastError = true)]
        internal static unsafe partial int waitid(int idType, int id, byte* info, int options);

        [LibraryImport(Lib, SetLastError = true)]
        internal static partial int getpgrp();

        // include/uapi/linux/pidfd.h (Linux 6.9, newer than some installed headers): pidfd_send_signal's scope flags.
        internal const uint PIDFD_SIGNAL_PROCESS_GROUP = 1u << 2;

        [LibraryImport(Lib, EntryPoint = "readlink", SetLastError = true)]
        internal static unsafe partial nint readlink(byte* path, byte* buffer, nuint size);

        internal const int MSG_DONTWAIT = 0x40;
        internal const int MSG_CTRUNC = 0x8;

        internal const int AF_UNIX = 1;
        internal const int SOCK_STREAM = 1;
        internal const int SOCK_CLOEXEC = 0x80000;

        /// <summary><c>struct sockaddr_un</c>: the family, then a path of at most 107 bytes and its NUL.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct SockaddrUn
        {
            public ushort Family;
            public fixed byte Path[108];
        }

        [LibraryImport(Lib, SetLastError = true)]
        internal static partial int socket(int domain, int type, int protocol);

        [LibraryImport(Lib, SetLastError = true)]
        internal static unsafe partial int bind(int fd, SockaddrUn* address, uint length);

        [LibraryImport(Lib, SetLastError = true)]
        internal static partial int listen(int fd, int backlog);

        internal const int AT_FDCWD = -100;
        internal const int AT_SYMLINK_NOFOLLOW = 0x100;
        internal const uint STATX_TYPE = 0x1;
        internal const uint STATX_INO = 0x100;
        internal const ushort S_IFMT = 0xf000;     // 0170000
        internal const ushort S_IFSOCK = 0xc000;   // 0140000

        /// <summary>
        /// <c>struct statx</c> (include/uapi/linux/stat.h): the same layout on every architecture, unlike
        /// <c>struct stat</c>; 256 bytes, of which the fields up to the device numbers are named here.
        /// </summary>
        [StructLayout(LayoutKind.Explicit, Size = 256)]
        internal struct Statx
        {
            [FieldOffset(0)] public uint Mask;
            [FieldOffset(28)] public ushort Mode;
            [FieldOffset(32)] public ulong Ino;
            [FieldOffset(136)] public uint DevMajor;
            [FieldOffset(140)] public uint DevMinor;
        }

        [LibraryImport(Lib, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int statx(int dirfd, string path, int flags, uint mask, out Statx statxbuf);
    }
}
