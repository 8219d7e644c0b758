using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Syscage.Abi;
using static Syscage.Kernel.Interop.Libc;

namespace Syscage.Kernel;

/// <summary>What is at a socket path.</summary>
internal enum SocketPathState
{
    /// <summary>Nothing.</summary>
    Missing,
    /// <summary>A socket file.</summary>
    Socket,
    /// <summary>Something else: a regular file, a directory, a link ...</summary>
    Other,
}

/// <summary>
/// The parts of a Unix-domain socket server .NET does not offer: listening at a path without .NET's delete-at-dispose,
/// telling what is at a path and which socket file it is, and receiving descriptors passed with <c>SCM_RIGHTS</c>.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class UnixSocket
{
    /// <summary>The longest socket path: <c>sun_path</c> holds 108 bytes, the last a NUL.</summary>
    public const int MaxPathBytes = 107;

    /// <summary>
    /// A socket listening at <paramref name="path"/>, bound with <c>bind(2)</c> directly: a .NET socket bound to a path
    /// deletes whatever file is at that path when it is disposed, even one put there after it. bind(2) itself never
    /// replaces a file: one made at the path since the caller looked fails it with EADDRINUSE.
    /// </summary>
    /// <exception cref="IOException">The path is too long or can't be bound.</exception>
    public static unsafe Socket Listen(string path, int backlog = 64)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] name = Encoding.UTF8.GetBytes(path);
        if (name.Length > MaxPathBytes || name.Contains((byte)0))
            throw new IOException($"{path}: a socket path is at most {MaxPathBytes} bytes, without NUL");
        var fd = new SafeSocketHandle(socket(Uapi.AF_UNIX, Uapi.SOCK_STREAM | Uapi.SOCK_CLOEXEC, 0), ownsHandle: true);
        if (fd.IsInvalid)
            throw KernelException.FromLastError("socket(AF_UNIX)");
        var address = new SockaddrUn { Family = Uapi.AF_UNIX };
        name.CopyTo(new Span<byte>(address.Path, MaxPathBytes + 1));
        if (bind((int)fd.DangerousGetHandle(), &address, (uint)(sizeof(ushort) + name.Length + 1)) != 0 || listen((int)fd.DangerousGetHandle(), backlog) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            fd.Dispose();
            throw new IOException($"{path}: cannot listen there: {KernelException.Describe(errno)}");
        }
        return new Socket(fd);
    }

    /// <summary>What is at <paramref name="path"/> (the link itself, not what it points to).</summary>
    /// <exception cref="IOException">The path can't be examined (other than by not existing).</exception>
    public static SocketPathState StateOf(string path)
    {
        if (statx(Uapi.AT_FDCWD, path, Uapi.AT_SYMLINK_NOFOLLOW, Uapi.STATX_TYPE, out var st) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            return errno == Errno.ENOENT ? SocketPathState.Missing : throw new IOException($"{path}: {KernelException.Describe(errno)}");
        }
        return (st.Mode & Uapi.S_IFMT) == Uapi.S_IFSOCK ? SocketPathState.Socket : SocketPathState.Other;
    }

    /// <summary>
    /// Makes sure <paramref name="path"/> is a directory that only this user can enter: created with mode 0700 when
    /// missing; an existing one must be a real directory (not a link), owned by this process's effective uid, with no
    /// permission for group or others — what a shared place like <c>/tmp</c> needs before sockets go in it.
    /// </summary>
    /// <exception cref="IOException">It is not such a directory, or can't be made.</exception>
    public static void EnsurePrivateDirectory(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (statx(Uapi.AT_FDCWD, path, Uapi.AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_MODE | STATX_UID, out _) != 0)
        {
            try
            {
                Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new IOException($"{path}: cannot make the directory: {e.Message}", e);
            }
        }
        if (statx(Uapi.AT_FDCWD, path, Uapi.AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_MODE | STATX_UID, out var st) != 0)
            throw new IOException($"{path}: {KernelException.Describe(Marshal.GetLastPInvokeError())}");
        if ((st.Mode & Uapi.S_IFMT) != S_IFDIR)
            throw new IOException($"{path} is not a directory (a link or a file is there): refusing to put sockets in it");
        uint uid = ProcessTree.EffectiveUid;
        if (st.Uid != uid)
            throw new IOException($"{path} belongs to uid {st.Uid}, not {uid}: refusing to put sockets in it");
        if ((st.Mode & (Uapi.S_IRWXG | Uapi.S_IRWXO)) != 0)
            throw new IOException($"{path} is open to other users (mode {Convert.ToString(st.Mode & (Uapi.S_IRWXU | Uapi.S_IRWXG | Uapi.S_IRWXO), 8)}): refusing to put sockets in it (chmod 700 it)");
    }

    /// <summary>The device and inode of the socket file at <paramref name="path"/>; null when there is none (or not a socket).</summary>
    public static (ulong Device, ulong Inode)? Identity(string path) =>
        statx(Uapi.AT_FDCWD, path, Uapi.AT_SYMLINK_NOFOLLOW, Uapi.STATX_TYPE | Uapi.STATX_INO, out var st) == 0 && (st.Mode & Uapi.S_IFMT) == Uapi.S_IFSOCK
            ? (((ulong)st.DevMajor << 32) | st.DevMinor, st.Ino)
            : null;

    /// <summary>
    /// One <c>recvmsg</c> that does not wait: the bytes read into <paramref name="buffer"/> (0 at the end of the stream),
    /// or -1 when there were none yet. Descriptors passed with <c>SCM_RIGHTS</c> (received close-on-exec) are added to
    /// <paramref name="descriptors"/>, which then owns them.
    /// </summary>
    /// <exception cref="SyscageException">More than <paramref name="maxDescriptors"/> descriptors came.</exception>
    /// <exception cref="KernelException">recvmsg failed.</exception>
    public static unsafe int ReceiveAvailable(Socket socket, Span<byte> buffer, List<SafeFileHandle> descriptors, int maxDescriptors)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ArgumentNullException.ThrowIfNull(descriptors);
        // struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; unsigned char data[]; }, 8-aligned: room for
        // maxDescriptors; the kernel closes the descriptors that don't fit and sets MSG_CTRUNC.
        int header = 2 * sizeof(int) + sizeof(nuint), controlLength = header + maxDescriptors * sizeof(int);
        byte* control = stackalloc byte[controlLength];
        fixed (byte* p = buffer)
        {
            IoVec iov = new() { Base = (nint)p, Length = (nuint)buffer.Length };
            MsgHdr msg = new() { Iov = (nint)(&iov), IovLen = 1, Control = (nint)control, ControlLen = (nuint)controlLength };
            nint n;
            do
                n = recvmsg((int)socket.Handle, &msg, Uapi.MSG_CMSG_CLOEXEC | Uapi.MSG_DONTWAIT);
            while (n < 0 && Marshal.GetLastPInvokeError() == Errno.EINTR);
            if (n < 0)
            {
                int e = Marshal.GetLastPInvokeError();
                return e == Errno.EAGAIN ? -1 : throw new KernelException("recvmsg", e);
            }
            nuint offset = 0;
            while (offset + (nuint)header <= msg.ControlLen)
            {
                byte* h = control + offset;
                nuint len = *(nuint*)h;
                if (len < (nuint)header || offset + len > msg.ControlLen)
                    break;
                if (*(int*)(h + sizeof(nuint)) == Uapi.SOL_SOCKET && *(int*)(h + sizeof(nuint) + sizeof(int)) == Uapi.SCM_RIGHTS)
                    for (nuint i = (nuint)header; i + sizeof(int) <= len; i += sizeof(int))
                        descriptors.Add(new SafeFileHandle(*(int*)(h + i), ownsHandle: true));
                offset += (len + 7) & ~(nuint)7;
            }
            if ((msg.Flags & Uapi.MSG_CTRUNC) != 0 || descriptors.Count > maxDescriptors)
                throw new SyscageException($"more than {maxDescriptors} descriptors passed");
            return (int)n;
        }
    }
}
