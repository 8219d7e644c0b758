using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Syscage.Ebpf.Maps;
using static Syscage.Abi.HelperIds;
using Syscage.Abi;

namespace Syscage.Ebpf.Helpers;

/// <summary>
/// The helper functions programs call with <c>call N</c>, by their kernel ids (<c>__BPF_FUNC_MAPPER</c> in
/// <c>include/uapi/linux/bpf.h</c>), bound to the current task of a <see cref="HelperContext"/>. Argument types are the
/// verifier's business (<c>HelperPrototypes</c>); these implementations trust that pointers are valid for the sizes given,
/// as kernel helpers do, except for user-memory reads, which go through <see cref="IBpfTask.ReadMemory"/>.
/// </summary>
internal static unsafe class HelperImplementations
{
#pragma warning disable CS1591 // Kernel names: BPF_FUNC_* in include/uapi/linux/bpf.h.

    /// <summary><c>BPF_LOCAL_STORAGE_GET_F_CREATE</c>.</summary>
    public const ulong BPF_LOCAL_STORAGE_GET_F_CREATE = Uapi.BPF_LOCAL_STORAGE_GET_F_CREATE;
    /// <summary><c>BPF_RB_NO_WAKEUP</c>.</summary>
    public const ulong BPF_RB_NO_WAKEUP = Uapi.BPF_RB_NO_WAKEUP;
    /// <summary><c>BPF_RB_FORCE_WAKEUP</c>.</summary>
    public const ulong BPF_RB_FORCE_WAKEUP = Uapi.BPF_RB_FORCE_WAKEUP;
#pragma warning restore CS1591

    /// <summary>The helper ids implemented here.</summary>
    public static IReadOnlySet<int> Implemented { get; } = new HashSet<int>
    {
        BPF_FUNC_map_lookup_elem, BPF_FUNC_map_update_elem, BPF_FUNC_map_delete_elem, BPF_FUNC_ktime_get_ns,
        BPF_FUNC_trace_printk, BPF_FUNC_get_prandom_u32, BPF_FUNC_get_current_pid_tgid, BPF_FUNC_get_current_uid_gid,
        BPF_FUNC_get_current_comm, BPF_FUNC_probe_read_user, BPF_FUNC_probe_read_user_str, BPF_FUNC_ringbuf_output,
        BPF_FUNC_ringbuf_reserve, BPF_FUNC_ringbuf_submit, BPF_FUNC_ringbuf_discard, BPF_FUNC_task_storage_get,
        BPF_FUNC_task_storage_delete, BPF_FUNC_get_current_task_btf,
    };

    /// <summary>
    /// The value <c>lddw rX, map[i]</c> loads: an opaque handle (the kernel loads a <c>struct bpf_map *</c>), tag in the
    /// upper half, map index in the lower. Helpers turn it back into the map; programs can only pass it on.
    /// </summary>
    internal static ulong MapHandle(int index) => MapHandleTag | (uint)index;

    private const ulong MapHandleTag = 0xEB9F_0A11_0000_0000;

    /// <summary>What <c>bpf_get_current_task_btf()</c> returns: an opaque non-null handle meaning "the current task".</summary>
    internal const ulong CurrentTaskHandle = 0xEB9F_7A5C_0000_0001;

    private static EbpfMap? MapFrom(ulong handle, EbpfMap[] maps)
    {
        if ((handle & 0xFFFF_FFFF_0000_0000) != MapHandleTag) return null;
        ulong index = handle & 0xFFFF_FFFF;
        return index < (ulong)maps.Length ? maps[index] : null;
    }

    private static ulong Fail(int errno) => (ulong)(long)-errno;

    private static readonly double TicksToNs = 1e9 / Stopwatch.Frequency;

    /// <summary>Calls helper <paramref name="id"/> with arguments r1..r5; the result is the new r0.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    internal static ulong Invoke(int id, ulong r1, ulong r2, ulong r3, ulong r4, ulong r5, EbpfMap[] maps, HelperContext hc)
    {
        switch (id)
        {
            case BPF_FUNC_map_lookup_elem:
            {
                var map = MapFrom(r1, maps);
                return map is null ? 0 : (ulong)map.LookupPointer(new ReadOnlySpan<byte>((void*)r2, map.Definition.KeySize));
            }
            case BPF_FUNC_map_update_elem:
            {
                var map = MapFrom(r1, maps);
                if (map is null) return Fail(Errno.EINVAL);
                if (map.Definition.ReadOnlyForProgram) return Fail(Errno.EPERM);
                return (ulong)(long)map.UpdateCore(new ReadOnlySpan<byte>((void*)r2, map.Definition.KeySize),
                    new ReadOnlySpan<byte>((void*)r3, map.Definition.ValueSize), r4);
            }
            case BPF_FUNC_map_delete_elem:
            {
                var map = MapFrom(r1, maps);
                if (map is null) return Fail(Errno.EINVAL);
                if (map.Definition.ReadOnlyForProgram) return Fail(Errno.EPERM);
                return (ulong)(long)map.DeleteCore(new ReadOnlySpan<byte>((void*)r2, map.Definition.KeySize));
            }
            case BPF_FUNC_ktime_get_ns:
                return (ulong)(Stopwatch.GetTimestamp() * TicksToNs);
            case BPF_FUNC_trace_printk:
                return TracePrintk(r1, (int)r2, r3, r4, r5, hc);
            case BPF_FUNC_get_prandom_u32:
                return (uint)Random.Shared.Next() ^ ((uint)Random.Shared.Next() << 1);
            case BPF_FUNC_get_current_pid_tgid:
                return hc.Task is { } t1 ? ((ulong)(uint)t1.Tgid << 32) | (uint)t1.Pid : Fail(Errno.EINVAL);
            case BPF_FUNC_get_current_uid_gid:
                return hc.Task is { } t2 ? ((ulong)t2.Gid << 32) | t2.Uid : Fail(Errno.EINVAL);
            case BPF_FUNC_get_current_comm:
                return GetCurrentComm((byte*)r1, (int)(uint)r2, hc);
            case BPF_FUNC_probe_read_user:
                return ProbeReadUser((byte*)r1, (int)(uint)r2, r3, hc);
            case BPF_FUNC_probe_read_user_str:
                return ProbeReadUserStr((byte*)r1, (int)(uint)r2, r3, hc);
            case BPF_FUNC_ringbuf_output:
            {
                if (MapFrom(r1, maps) is not RingBufMap ring || r4 > BPF_RB_FORCE_WAKEUP) return Fail(Errno.EINVAL);
                return (ulong)(long)ring.Output(new ReadOnlySpan<byte>((void*)r2, (int)(uint)r3));
            }
            case BPF_FUNC_ringbuf_reserve:
            {
                if (MapFrom(r1, maps) is not RingBufMap ring || r3 != 0 || r2 > int.MaxValue) return 0;
                return (ulong)ring.Reserve((int)r2);
            }
            case BPF_FUNC_ringbuf_submit:
            case BPF_FUNC_ringbuf_discard:
                if (r1 != 0)
                {
                    RingBufMap.Commit((nint)r1, discard: id == BPF_FUNC_ringbuf_discard);
                    if ((r2 & BPF_RB_NO_WAKEUP) == 0)
                        foreach (var m in maps)
                            if (m is RingBufMap ring && ring.Contains((nint)r1)) { ring.Notify(); break; }
                }
                return 0;
            case BPF_FUNC_task_storage_get:
            {
                if (MapFrom(r1, maps) is not TaskStorageMap storage || hc.Task is null || r2 == 0 || r4 > BPF_LOCAL_STORAGE_GET_F_CREATE)
                    return 0;
                var initial = r3 == 0 ? default : new ReadOnlySpan<byte>((void*)r3, storage.Definition.ValueSize);
                return (ulong)storage.Get(hc.Task.Identity, initial, create: r4 == BPF_LOCAL_STORAGE_GET_F_CREATE);
            }
            case BPF_FUNC_task_storage_delete:
            {
                if (MapFrom(r1, maps) is not TaskStorageMap storage || r2 == 0) return Fail(Errno.EINVAL);
                if (hc.Task is null) return Fail(Errno.ESRCH);
                return (ulong)(long)storage.Remove(hc.Task.Identity);
            }
            case BPF_FUNC_get_current_task_btf:
                return hc.Task is null ? 0 : CurrentTaskHandle;
            default:
                throw new EbpfRuntimeException($"call to helper {id}, which Syscage does not implement");
        }
    }

    /// <summary><c>bpf_get_current_comm</c>: the name, NUL-terminated and zero-padded to <paramref name="size"/>.</summary>
    private static ulong GetCurrentComm(byte* buf, int size, HelperContext hc)
    {
        var dest = new Span<byte>(buf, size);
        dest.Clear();
        if (hc.Task is null || size == 0) return Fail(Errno.EINVAL);
        var name = Encoding.UTF8.GetBytes(hc.Task.Comm);
        int n = Math.Min(Math.Min(name.Length, 15), size - 1);
        name.AsSpan(0, n).CopyTo(dest);
        return 0;
    }

    /// <summary><c>bpf_probe_read_user</c>: copies user memory; on failure the destination is zeroed and -errno returned.</summary>
    private static ulong ProbeReadUser(byte* dst, int size, ulong src, HelperContext hc)
    {
        var dest = new Span<byte>(dst, size);
        int rc = hc.Task is null ? -Errno.ESRCH : !hc.Task.MayReadMemory ? -Errno.EPERM : hc.Task.ReadMemory(src, dest);
        if (rc < 0) dest.Clear();
        return (ulong)(long)rc;
    }

    /// <summary>
    /// <c>bpf_probe_read_user_str</c>: copies a NUL-terminated string of at most <paramref name="size"/> bytes (the last
    /// always NUL) and returns its length including the NUL. Reads page by page so a string that ends just before an
    /// unmapped page is still read, as <c>strncpy_from_user</c> does.
    /// </summary>
    private static ulong ProbeReadUserStr(byte* dst, int size, ulong src, HelperContext hc)
    {
        var dest = new Span<byte>(dst, size);
        if (size == 0) return 0;
        if (hc.Task is null) { dest.Clear(); return Fail(Errno.ESRCH); }
        if (!hc.Task.MayReadMemory) { dest.Clear(); return Fail(Errno.EPERM); }
        const int Page = 4096;
        // Bytes after the NUL must not reach the destination, so each piece goes through a scratch buffer.
        Span<byte> scratch = stackalloc byte[Page];
        int done = 0;
        while (done < size)
        {
            ulong at = src + (ulong)done;
            int chunk = (int)Math.Min((ulong)(size - done), Page - (at % Page));
            var part = scratch[..chunk];
            int rc = hc.Task.ReadMemory(at, part);
            if (rc < 0) { dest.Clear(); return (ulong)(long)rc; }
            int nul = part.IndexOf((byte)0);
            if (nul >= 0)
            {
                part[..(nul + 1)].CopyTo(dest[done..]);
                return (ulong)(done + nul + 1);
            }
            part.CopyTo(dest[done..]);
            done += chunk;
        }
        dest[size - 1] = 0;
        return (ulong)size;
    }

    /// <summary>
    /// <c>bpf_trace_printk(fmt, fmt_size, a, b, c)</c>: the kernel's small printf (<c>%d %i %u %x %X %c %p %%</c> with
    /// <c>l</c>/<c>ll</c> modifiers, at most three arguments). <c>%s</c> is refused with -EINVAL: the kernel reads the
    /// string with a fault-tolerant copy Syscage cannot do on its own memory.
    /// </summary>
    private static ulong TracePrintk(ulong fmtPtr, int fmtSize, ulong a1, ulong a2, ulong a3, HelperContext hc)
    {
        if (fmtSize <= 0) return Fail(Errno.EINVAL);
        var fmt = new ReadOnlySpan<byte>((void*)fmtPtr, fmtSize);
        int end = fmt.IndexOf((byte)0);
        if (end < 0) return Fail(Errno.EINVAL);
        fmt = fmt[..end];
        ulong[] args = [a1, a2, a3];
        int next = 0;
        var sb = new StringBuilder();
        for (int i = 0; i < fmt.Length; i++)
        {
            char c = (char)fmt[i];
            if (c != '%') { sb.Append(c); continue; }
            if (++i >= fmt.Length) return Fail(Errno.EINVAL);
            if (fmt[i] == '%') { sb.Append('%'); continue; }
            int longs = 0;
            while (i < fmt.Length && fmt[i] == 'l') { longs++; i++; }
            if (i >= fmt.Length || longs > 2 || next >= 3) return Fail(Errno.EINVAL);
            ulong v = args[next++];
            if (longs == 0) v = fmt[i] is (byte)'d' or (byte)'i' ? (ulong)(long)(int)v : (uint)v;
            switch ((char)fmt[i])
            {
                case 'd': case 'i': sb.Append(((long)v).ToString(CultureInfo.InvariantCulture)); break;
                case 'u': sb.Append(v.ToString(CultureInfo.InvariantCulture)); break;
                case 'x': sb.Append(v.ToString("x", CultureInfo.InvariantCulture)); break;
                case 'X': sb.Append(v.ToString("X", CultureInfo.InvariantCulture)); break;
                case 'c': sb.Append((char)(byte)v); break;
                case 'p': sb.Append("0x").Append(args[next - 1].ToString("x", CultureInfo.InvariantCulture)); break;
                default: return Fail(Errno.EINVAL);
            }
        }
        string line = sb.ToString();
        hc.TraceSink?.Invoke(line.TrimEnd('\n'));
        return (ulong)Encoding.UTF8.GetByteCount(line);
    }
}
