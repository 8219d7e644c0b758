using Syscage.Abi;
using System.Runtime.InteropServices;

namespace Syscage.Kernel;

/// <summary>
/// Every native call Syscage makes, and nothing else (dotnet/runtime's <c>Interop.*</c> layout). Callers read
/// errno right after the call through <see cref="KernelException.FromLastError"/>.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static partial class Interop
{
    internal static partial class Libc
    {
        private const string Lib = "libc";

        /// <summary>The raw syscalls glibc has no wrapper for, numbered for this process's architecture by the generated tables.</summary>
        internal static readonly nint SYS_seccomp = Number("seccomp");
        internal static readonly nint SYS_pidfd_open = Number("pidfd_open");
        internal static readonly nint SYS_pidfd_getfd = Number("pidfd_getfd");
        internal static readonly nint SYS_pidfd_send_signal = Number("pidfd_send_signal");
        internal static readonly nint SYS_tgkill = Number("tgkill");
        // ptrace(2) raw: glibc's wrapper is variadic and reads PEEK results through data; the requests used here return plain values.
        internal static readonly nint SYS_ptrace = Number("ptrace");
        internal static readonly nint SYS_ppoll = Number("ppoll");

        internal const int PTRACE_SEIZE = Uapi.PTRACE_SEIZE;
        internal const int PTRACE_INTERRUPT = Uapi.PTRACE_INTERRUPT;
        internal const int PTRACE_DETACH = Uapi.PTRACE_DETACH;
        internal const int PTRACE_SECCOMP_GET_FILTER = Uapi.PTRACE_SECCOMP_GET_FILTER;
        internal const int PTRACE_SECCOMP_GET_METADATA = Uapi.PTRACE_SECCOMP_GET_METADATA;
        internal const int PTRACE_EVENT_STOP = Uapi.PTRACE_EVENT_STOP;
        internal const int __WALL = Uapi.__WALL;

        /// <summary><c>struct seccomp_metadata</c> (include/uapi/linux/ptrace.h): which filter, and the flags the kernel keeps for it.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct SeccompMetadata
        {
            public ulong FilterOff;
            public ulong Flags;
        }

        // pid_t waitpid(pid_t, int *wstatus, int options): with __WALL, a ptrace-stop of a tracee that is not a child.
        [LibraryImport(Lib, SetLastError = true)]
        internal static unsafe partial int waitpid(int pid, int* status, int options);

        private static nint Number(string syscall) => Abi.Architecture.Native.TryGetSyscallNumber(syscall, out int nr) ? nr
            : throw new PlatformNotSupportedException($"{syscall} has no number on {Abi.Architecture.Native.Name} in Syscage's tables");

        // include/uapi/linux/seccomp.h: SECCOMP_IOWR('!', nr, struct ...), as the generator computes them.
        internal const ulong SECCOMP_IOCTL_NOTIF_RECV = (ulong)Uapi.SECCOMP_IOCTL_NOTIF_RECV;      // SECCOMP_IOWR(0, struct seccomp_notif)
        internal const ulong SECCOMP_IOCTL_NOTIF_SEND = (ulong)Uapi.SECCOMP_IOCTL_NOTIF_SEND;      // SECCOMP_IOWR(1, struct seccomp_notif_resp)
        internal const ulong SECCOMP_IOCTL_NOTIF_ID_VALID = Uapi.SECCOMP_IOCTL_NOTIF_ID_VALID;  // SECCOMP_IOW(2, __u64)
        internal const ulong SECCOMP_IOCTL_NOTIF_ADDFD = Uapi.SECCOMP_IOCTL_NOTIF_ADDFD;     // SECCOMP_IOW(3, struct seccomp_notif_addfd)
        internal const ulong SECCOMP_IOCTL_NOTIF_SET_FLAGS = Uapi.SECCOMP_IOCTL_NOTIF_SET_FLAGS;

        internal const short POLLIN = (short)Uapi.POLLIN;
        internal const short POLLERR = (short)Uapi.POLLERR;
        internal const short POLLHUP = (short)Uapi.POLLHUP;
        internal const int EFD_CLOEXEC = Uapi.EFD_CLOEXEC;

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

        internal const int PR_SET_NO_NEW_PRIVS = Uapi.PR_SET_NO_NEW_PRIVS;
        internal const int PR_GET_NO_NEW_PRIVS = Uapi.PR_GET_NO_NEW_PRIVS;
        internal const int PR_GET_SECCOMP = Uapi.PR_GET_SECCOMP;
        internal const uint MFD_CLOEXEC = (uint)Uapi.MFD_CLOEXEC;
        internal const uint MFD_ALLOW_SEALING = (uint)Uapi.MFD_ALLOW_SEALING;
        internal const uint MFD_EXEC = (uint)Uapi.MFD_EXEC;
        internal const int F_ADD_SEALS = Uapi.F_ADD_SEALS;
        internal const int F_SEAL_SEAL = Uapi.F_SEAL_SEAL;
        internal const int F_SEAL_SHRINK = Uapi.F_SEAL_SHRINK;
        internal const int F_SEAL_GROW = Uapi.F_SEAL_GROW;
        internal const int F_SEAL_WRITE = Uapi.F_SEAL_WRITE;
        internal const int F_SETFD = Uapi.F_SETFD;
        internal const int FD_CLOEXEC = Uapi.FD_CLOEXEC;

        [LibraryImport(Lib, SetLastError = true)]
        internal static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

        // long syscall(long number, ...): the integer arguments travel in registers as for a plain call on
        // x86_64 and aarch64 Linux, so a fixed-arity import is sound.
        [LibraryImport(Lib, SetLastError = true)]
        internal static partial nint syscall(nint number, nint a1, nint a2, nint a3);

        [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true)]
        internal static partial nint syscall4(nint number, nint a1, nint a2, nint a3, nint a4);

        [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true)]
        internal static partial nint syscall5(nint number, nint a1, nint a2, nint a3, nint a4, nint a5);

        /// <summary>
        /// <c>ppoll(fds, count, NULL, NULL, 0)</c> as a raw system call: poll without a timeout, as <see cref="poll"/> with
        /// -1, but without glibc's cancellation-point wrapper, whose enable and disable are two atomic instructions on every
        /// call (the notification supervisor polls once per notified call). aarch64 has no <c>poll</c> syscall; every ABI has
        /// <c>ppoll</c>.
        /// </summary>
        internal static unsafe int PollForever(PollFd* fds, int count) => (int)syscall5(SYS_ppoll, (nint)fds, count, 0, 0, 0);

        [LibraryImport(Lib, EntryPoint = "memfd_create", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int memfd_create(string name, uint flags);

        [LibraryImport(Lib, SetLastError = true)]
        internal static partial nint write(int fd, ReadOnlySpan<byte> buffer, nint count);

        [LibraryImport(Lib, SetLastError = true)]
        internal static partial int close(int fd);

        // ssize_t getrandom(void *buf, size_t buflen, unsigned int flags): with flags 0, "blocks if the entropy pool has
        // not yet been initialized", then returns up to 256 bytes at once (getrandom(2)).
        [LibraryImport(Lib, SetLastError = true)]
        internal static unsafe partial nint getrandom(void* buffer, nuint length, uint flags);

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

        // ioctl for a call that never waits for anything but the kernel's own short locks (SECCOMP_IOCTL_NOTIF_SEND): no
        // GC transition, and no errno bookkeeping around it; a caller reads errno (Marshal.GetLastSystemError) right
        // after a failure, with nothing run in between.
        [LibraryImport(Lib, EntryPoint = "ioctl")]
        [SuppressGCTransition]
        internal static unsafe partial int ioctl_nowait(int fd, ulong request, void* arg);

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

        internal const int O_RDONLY_CLOEXEC = Uapi.O_RDONLY | Uapi.O_CLOEXEC;

        // open(2) with a NUL-terminated path in a caller's buffer: no marshalling allocation on hot paths.
        [LibraryImport(Lib, EntryPoint = "open", SetLastError = true)]
        internal static unsafe partial int open(byte* path, int flags);

        [LibraryImport(Lib, EntryPoint = "access", SetLastError = true)]
        internal static unsafe partial int access(byte* path, int mode);

        internal const int SOL_SOCKET = Uapi.SOL_SOCKET;
        internal const int SCM_RIGHTS = Uapi.SCM_RIGHTS;
        internal const int MSG_CMSG_CLOEXEC = Uapi.MSG_CMSG_CLOEXEC;

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

        internal const int PR_SET_PDEATHSIG = Uapi.PR_SET_PDEATHSIG;
        internal const int PR_GET_DUMPABLE = Uapi.PR_GET_DUMPABLE;
        internal const int PR_SET_DUMPABLE = Uapi.PR_SET_DUMPABLE;
        internal const int F_DUPFD_CLOEXEC = Uapi.F_DUPFD_CLOEXEC;
        internal const int P_PIDFD = Uapi.P_PIDFD;
        internal const int WEXITED = Uapi.WEXITED;
        internal const int WNOHANG = Uapi.WNOHANG;

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
        internal const uint PIDFD_SIGNAL_PROCESS_GROUP = (uint)Uapi.PIDFD_SIGNAL_PROCESS_GROUP;

        [LibraryImport(Lib, EntryPoint = "readlink", SetLastError = true)]
        internal static unsafe partial nint readlink(byte* path, byte* buffer, nuint size);

        internal const int MSG_DONTWAIT = Uapi.MSG_DONTWAIT;
        internal const int MSG_CTRUNC = Uapi.MSG_CTRUNC;

        internal const int AF_UNIX = Uapi.AF_UNIX;
        internal const int SOCK_STREAM = Uapi.SOCK_STREAM;
        internal const int SOCK_CLOEXEC = Uapi.SOCK_CLOEXEC;

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

        internal const int SO_PEERCRED = Uapi.SO_PEERCRED;
        internal const int SO_PEERPIDFD = Uapi.SO_PEERPIDFD;

        /// <summary><c>struct ucred</c> (<c>SO_PEERCRED</c>): the peer's pid, uid and gid when it connected.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct UCred
        {
            public int Pid;
            public uint Uid;
            public uint Gid;
        }

        [LibraryImport(Lib, SetLastError = true)]
        internal static unsafe partial int getsockopt(int fd, int level, int name, void* value, uint* length);

        [LibraryImport(Lib, SetLastError = true)]
        internal static partial uint geteuid();

        internal const int AT_FDCWD = Uapi.AT_FDCWD;
        internal const int AT_SYMLINK_NOFOLLOW = Uapi.AT_SYMLINK_NOFOLLOW;
        internal const uint STATX_TYPE = (uint)Uapi.STATX_TYPE;
        internal const uint STATX_INO = (uint)Uapi.STATX_INO;
        internal const uint STATX_UID = (uint)Uapi.STATX_UID;
        internal const uint STATX_MODE = (uint)Uapi.STATX_MODE;
        internal const ushort S_IFDIR = (ushort)Uapi.S_IFDIR;
        internal const ushort S_IFMT = (ushort)Uapi.S_IFMT;     // 0170000
        internal const ushort S_IFSOCK = (ushort)Uapi.S_IFSOCK;   // 0140000

        /// <summary>
        /// <c>struct statx</c> (include/uapi/linux/stat.h): the same layout on every architecture, unlike
        /// <c>struct stat</c>; 256 bytes, of which the fields up to the device numbers are named here.
        /// </summary>
        [StructLayout(LayoutKind.Explicit, Size = 256)]
        internal struct Statx
        {
            [FieldOffset(0)] public uint Mask;
            [FieldOffset(20)] public uint Uid;
            [FieldOffset(28)] public ushort Mode;
            [FieldOffset(32)] public ulong Ino;
            [FieldOffset(136)] public uint DevMajor;
            [FieldOffset(140)] public uint DevMinor;
        }

        [LibraryImport(Lib, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int statx(int dirfd, string path, int flags, uint mask, out Statx statxbuf);
    }
}
