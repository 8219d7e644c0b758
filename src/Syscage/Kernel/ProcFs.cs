using System.Buffers.Text;
using static Syscage.Kernel.Interop.Libc;

namespace Syscage.Kernel;

/// <summary>
/// Small reads of <c>/proc</c> without allocating: a supervisor reads a task's status on the path of a waiting system
/// call, where <see cref="File"/>'s streams and strings cost more than the call itself.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class ProcFs
{
    /// <summary>Writes <c>/proc/{a}/{name}</c> (or <c>/proc/{a}/task/{b}</c>) NUL-terminated into <paramref name="path"/>; returns false when it doesn't fit.</summary>
    private static bool Path(Span<byte> path, int a, ReadOnlySpan<byte> name, int b = -1)
    {
        int n = 0;
        if (!Append(path, ref n, "/proc/"u8) || !Utf8Formatter.TryFormat(a, path[n..], out int w))
            return false;
        n += w;
        if (!Append(path, ref n, "/"u8) || !Append(path, ref n, name))
            return false;
        if (b >= 0)
        {
            if (!Append(path, ref n, "/"u8) || !Utf8Formatter.TryFormat(b, path[n..], out w))
                return false;
            n += w;
        }
        if (n >= path.Length)
            return false;
        path[n] = 0;
        return true;
    }

    private static bool Append(Span<byte> path, ref int n, ReadOnlySpan<byte> text)
    {
        if (n + text.Length > path.Length)
            return false;
        text.CopyTo(path[n..]);
        n += text.Length;
        return true;
    }

    /// <summary>Size enough for <c>/proc/PID/status</c> (about 1.5 KB).</summary>
    public const int StatusBytes = 4096;

    /// <summary>
    /// Reads <c>/proc/{pid}/{name}</c> (or <c>/proc/{pid}/{name}/{entry}</c>) into <paramref name="buffer"/>; returns the
    /// bytes read, or -1.
    /// </summary>
    public static unsafe int Read(int pid, ReadOnlySpan<byte> name, Span<byte> buffer, int entry = -1)
    {
        Span<byte> path = stackalloc byte[64];
        if (!Path(path, pid, name, entry))
            return -1;
        int fd;
        fixed (byte* p = path)
            fd = open(p, O_RDONLY_CLOEXEC);
        if (fd < 0)
            return -1;
        try
        {
            int total = 0;
            while (total < buffer.Length)
            {
                nint n = read(fd, buffer[total..], buffer.Length - total);
                if (n <= 0)
                    break;
                total += (int)n;
            }
            return total;
        }
        finally
        {
            close(fd);
        }
    }

    /// <summary>True when thread <paramref name="tid"/> belongs to thread group <paramref name="tgid"/> now (<c>/proc/TGID/task/TID</c> exists).</summary>
    public static unsafe bool IsThreadOf(int tid, int tgid)
    {
        Span<byte> path = stackalloc byte[64];
        if (!Path(path, tgid, "task"u8, tid))
            return false;
        fixed (byte* p = path)
            return access(p, 0 /* F_OK */) == 0;
    }

    /// <summary>
    /// The process a descriptor of this process refers to, when it is a pidfd (its <c>fdinfo</c> has a <c>Pid:</c>
    /// line) or a <c>/proc/PID</c> directory (its link reads <c>/proc/PID</c>); -1 otherwise.
    /// </summary>
    public static unsafe int ProcessOfDescriptor(int fd)
    {
        Span<byte> text = stackalloc byte[512];
        int n = Read(System.Environment.ProcessId, "fdinfo"u8, text, fd);
        if (n > 0 && Field(text[..n], "Pid:"u8) is long pid and > 0)
            return (int)pid;
        Span<byte> path = stackalloc byte[64];
        if (!Path(path, System.Environment.ProcessId, "fd"u8, fd))
            return -1;
        fixed (byte* p = path)
        fixed (byte* t = text)
            n = (int)readlink(p, t, (nuint)text.Length);
        var link = n > 0 ? text[..n] : default;
        return link.StartsWith("/proc/"u8) && Utf8Parser.TryParse(link[6..], out int target, out int used) && used == link.Length - 6 ? target : -1;
    }

    /// <summary>The process group of <paramref name="pid"/> (the fifth field of <c>/proc/PID/stat</c>), or -1.</summary>
    public static int ProcessGroup(int pid)
    {
        Span<byte> text = stackalloc byte[512];
        int n = Read(pid, "stat"u8, text);
        if (n <= 0)
            return -1;
        // After the command name, which may hold spaces and ')': " state ppid pgrp ...".
        ReadOnlySpan<byte> rest = text[..n];
        rest = rest[(rest.LastIndexOf((byte)')') + 1)..];
        for (int skip = 0; skip < 3; skip++)
        {
            rest = rest.TrimStart(" "u8);
            int space = rest.IndexOf((byte)' ');
            if (space < 0)
                return -1;
            rest = rest[space..];
        }
        return Utf8Parser.TryParse(rest.TrimStart(" "u8), out int group, out _) ? group : -1;
    }

    /// <summary>The first decimal number after <paramref name="field"/> (e.g. <c>Tgid:</c>) at the start of a line of <paramref name="text"/>; -1 when absent or unreadable.</summary>
    public static long Field(ReadOnlySpan<byte> text, ReadOnlySpan<byte> field) =>
        TryField(text, field, hex: false, out ulong v) && v <= long.MaxValue ? (long)v : -1;

    /// <summary>
    /// The first number after <paramref name="field"/> at the start of a line of <paramref name="text"/>: decimal, or
    /// with <paramref name="hex"/> hexadecimal (the signal masks). False when the line is absent or the number unreadable.
    /// </summary>
    public static bool TryField(ReadOnlySpan<byte> text, ReadOnlySpan<byte> field, bool hex, out ulong value)
    {
        value = 0;
        int at = 0;
        while (at < text.Length)
        {
            var line = text[at..];
            int end = line.IndexOf((byte)'\n');
            if (end >= 0)
                line = line[..end];
            if (line.StartsWith(field))
                return Utf8Parser.TryParse(line[field.Length..].TrimStart(" \t"u8), out value, out _, hex ? 'X' : default);
            if (end < 0)
                break;
            at += end + 1;
        }
        return false;
    }
}
