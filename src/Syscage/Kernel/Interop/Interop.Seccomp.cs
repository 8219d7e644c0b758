using System.Runtime.InteropServices;
using Syscage.Bpf;
using Syscage.Abi;

namespace Syscage.Kernel;

internal static partial class Interop
{
    /// <summary>The kernel's user-notification structures, laid out as in <c>include/uapi/linux/seccomp.h</c>.</summary>
    internal static class NotifStructs
    {
        /// <summary><c>struct seccomp_notif</c> (80 bytes).</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct seccomp_notif
        {
            public ulong id;
            public uint pid;
            public uint flags;
            public int nr;
            public uint arch;
            public ulong instruction_pointer;
            public ulong arg0, arg1, arg2, arg3, arg4, arg5;
        }

        /// <summary><c>struct seccomp_notif_resp</c> (24 bytes).</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct seccomp_notif_resp
        {
            public ulong id;
            public long val;
            public int error;
            public uint flags;
        }

        /// <summary><c>struct seccomp_notif_addfd</c> (24 bytes).</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct seccomp_notif_addfd
        {
            public ulong id;
            public uint flags;
            public uint srcfd;
            public uint newfd;
            public uint newfd_flags;
        }

        internal const uint SECCOMP_USER_NOTIF_FLAG_CONTINUE = (uint)Uapi.SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        internal const uint SECCOMP_ADDFD_FLAG_SETFD = (uint)Uapi.SECCOMP_ADDFD_FLAG_SETFD;
        internal const uint SECCOMP_ADDFD_FLAG_SEND = (uint)Uapi.SECCOMP_ADDFD_FLAG_SEND;
        internal const ulong SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP = Uapi.SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP;
    }
}
