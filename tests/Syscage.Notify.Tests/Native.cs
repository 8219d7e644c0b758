using System.Net.Sockets;
using System.Runtime.InteropServices;
using Syscage.Kernel;

namespace Syscage.Notify.Tests;

/// <summary>libc calls the tests make as the agent's clients; the structures are the library's own (Kernel/Interop).</summary>
internal static partial class Native
{
    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initval, int flags);

    [LibraryImport("libc", EntryPoint = "mknod", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Mknod(string path, uint mode, ulong dev);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    private static unsafe partial nint SendMsg(int fd, Interop.Libc.MsgHdr* msg, int flags);

    /// <summary>Sends <paramref name="data"/> with <paramref name="fds"/> as SCM_RIGHTS in one message, as runc does.</summary>
    public static unsafe void SendWithDescriptors(Socket socket, ReadOnlySpan<byte> data, params int[] fds)
    {
        // struct cmsghdr { size_t cmsg_len; int cmsg_level = SOL_SOCKET (1); int cmsg_type = SCM_RIGHTS (1); int fds[]; }
        int controlLength = fds.Length == 0 ? 0 : 16 + ((fds.Length * 4 + 7) & ~7);
        byte* control = stackalloc byte[Math.Max(controlLength, 1)];
        if (fds.Length > 0)
        {
            new Span<byte>(control, controlLength).Clear();
            *(nuint*)control = (nuint)(16 + fds.Length * 4);
            *(int*)(control + 8) = 1;
            *(int*)(control + 12) = 1;
            for (int i = 0; i < fds.Length; i++)
                *(int*)(control + 16 + 4 * i) = fds[i];
        }
        fixed (byte* p = data)
        {
            var iov = new Interop.Libc.IoVec { Base = (nint)p, Length = (nuint)data.Length };
            var msg = new Interop.Libc.MsgHdr { Iov = (nint)(&iov), IovLen = 1, Control = controlLength == 0 ? 0 : (nint)control, ControlLen = (nuint)controlLength };
            if (SendMsg((int)socket.Handle, &msg, 0) != data.Length)
                throw new IOException($"sendmsg failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }
}
