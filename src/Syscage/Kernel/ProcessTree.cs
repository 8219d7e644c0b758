using System.Net.Sockets;
using Syscage.Abi;
using static Syscage.Kernel.Interop.Libc;

namespace Syscage.Kernel;

/// <summary>The process at the other end of a connected Unix socket, as the kernel recorded it when it connected.</summary>
/// <param name="Pid">Its pid in this process's pid namespace (0 when it has none here).</param>
/// <param name="Uid">Its effective uid.</param>
/// <param name="Gid">Its effective gid.</param>
internal readonly record struct SocketPeer(int Pid, uint Uid, uint Gid);

/// <summary>
/// Who may use a control socket, and whether a process is inside a sandboxed tree: the peer's credentials
/// (<c>SO_PEERCRED</c>), a pidfd naming it (<c>SO_PEERPIDFD</c>, Linux 6.5), and a walk up its parents that cannot be
/// fooled by a pid that is reused while it walks.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class ProcessTree
{
    /// <summary>Parents followed at most (a deeper chain is answered "can't tell").</summary>
    private const int MaxDepth = 4096;

    /// <summary>Walks restarted at most when an ancestor exits meanwhile.</summary>
    private const int MaxRestarts = 16;

    /// <summary>This process's effective uid.</summary>
    public static uint EffectiveUid => geteuid();

    /// <summary>The peer's credentials (<c>SO_PEERCRED</c>: "the credentials that were in effect at the time of the call to connect(2)", unix(7)).</summary>
    /// <exception cref="KernelException">getsockopt failed.</exception>
    public static unsafe SocketPeer Peer(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        UCred cred;
        uint length = (uint)sizeof(UCred);
        if (getsockopt((int)socket.Handle, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0)
            throw KernelException.FromLastError("getsockopt(SO_PEERCRED)");
        return new SocketPeer(cred.Pid, cred.Uid, cred.Gid);
    }

    /// <summary>
    /// A pidfd for the process that connected (<c>SO_PEERPIDFD</c>), and its pid here; on kernels before 6.5,
    /// <c>pidfd_open</c> of <paramref name="peer"/>'s pid, which is that process only while it has not exited — the caller
    /// checks it is still alive after it has used the pid. Null when there is no such process any more.
    /// </summary>
    public static unsafe ProcessHandle? OpenPeer(Socket socket, SocketPeer peer, out int pid)
    {
        ArgumentNullException.ThrowIfNull(socket);
        pid = peer.Pid;
        int fd;
        uint length = sizeof(int);
        if (getsockopt((int)socket.Handle, SOL_SOCKET, SO_PEERPIDFD, &fd, &length) == 0 && fd >= 0)
        {
            var handle = ProcessHandle.Adopt(fd);
            pid = ProcFs.ProcessOfDescriptor(fd);
            if (pid > 0)
                return handle;
            handle.Dispose(); // a peer in no pid namespace of ours (its fdinfo says Pid: 0), or gone (-1)
            return null;
        }
        // Only a kernel without SO_PEERPIDFD falls back to the pid; one that has it and fails (ESRCH: the peer is gone)
        // must not, or a reused pid would be taken for the peer.
        if (System.Runtime.InteropServices.Marshal.GetLastPInvokeError() != Errno.ENOPROTOOPT)
            return null;
        return peer.Pid > 0 ? ProcessHandle.Open(peer.Pid, out _) : null;
    }

    /// <summary>The parent of <paramref name="pid"/> (<c>PPid:</c> of <c>/proc/PID/status</c>; 0 for a process whose parent is in no namespace of ours), or -1 when unreadable.</summary>
    public static int ParentOf(int pid)
    {
        Span<byte> buffer = stackalloc byte[ProcFs.StatusBytes];
        int n = ProcFs.Read(pid, "status"u8, buffer);
        return n > 0 && ProcFs.Field(buffer[..n], "PPid:"u8) is long ppid and >= 0 and <= int.MaxValue ? (int)ppid : -1;
    }

    /// <summary>
    /// True when the process of <paramref name="process"/> (pid <paramref name="pid"/>) is the process of
    /// <paramref name="root"/> (pid <paramref name="rootPid"/>) or descends from it; false when it does not; null when it
    /// can't be told (the process exited, /proc is unreadable, the chain is too deep). A process keeps its place in a tree
    /// whose root is a child subreaper, as the launcher is: an orphan is given to the nearest subreaper above it.
    /// </summary>
    /// <remarks>
    /// A pid read from <c>/proc</c> may name another process by the time it is used. Each step holds a pidfd of the
    /// process it is at, reads its parent's pid, opens a pidfd for that pid, and then reads the parent's pid again and
    /// checks both processes are alive: two live processes can't share a pid, and a process whose parent exits is
    /// reparented at once, so the pidfd names the parent. When a check fails the walk starts again.
    /// </remarks>
    public static bool? IsWithin(ProcessHandle process, int pid, ProcessHandle root, int rootPid)
    {
        ArgumentNullException.ThrowIfNull(process);
        ArgumentNullException.ThrowIfNull(root);
        for (int attempt = 0; attempt < MaxRestarts; attempt++)
        {
            if (process.HasExited || root.HasExited)
                return null;
            var answer = Walk(process, pid, rootPid);
            if (answer is not null && !process.HasExited && !root.HasExited)
                return answer;
        }
        return null;
    }

    /// <summary>One walk up from <paramref name="pid"/>; null when something changed under it (the caller starts again).</summary>
    private static bool? Walk(ProcessHandle process, int pid, int rootPid)
    {
        var current = process;
        int currentPid = pid;
        var opened = new List<ProcessHandle>();
        try
        {
            for (int depth = 0; depth < MaxDepth; depth++)
            {
                if (currentPid == rootPid)
                    return true;
                int parent = ParentOf(currentPid);
                if (parent < 0 || current.HasExited)
                    return null;
                if (parent == 0)
                    return false; // init, or a parent outside this pid namespace: the root (ours) is not above
                if (parent == rootPid)
                    return ParentOf(currentPid) == parent && !current.HasExited ? true : null;
                var next = ProcessHandle.Open(parent, out _);
                if (next is null)
                    return null;
                opened.Add(next);
                // The pidfd names the parent only if the child still has that parent now, and both are alive.
                if (ParentOf(currentPid) != parent || current.HasExited || next.HasExited)
                    return null;
                current = next;
                currentPid = parent;
            }
            return null;
        }
        finally
        {
            foreach (var h in opened)
                h.Dispose();
        }
    }

    /// <summary>
    /// The pid namespace of <paramref name="pid"/>: the inode of <c>/proc/PID/ns/pid</c> (namespaces(7): "the same
    /// inode number ... if the processes are in the same namespace"), or null when unreadable.
    /// </summary>
    public static (ulong Device, ulong Inode)? PidNamespace(int pid)
    {
        string path = $"/proc/{pid}/ns/pid";
        return statx(AT_FDCWD, path, 0, STATX_INO, out var st) == 0 ? (((ulong)st.DevMajor << 32) | st.DevMinor, st.Ino) : null;
    }
}
