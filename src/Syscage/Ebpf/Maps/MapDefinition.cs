using Syscage.Abi;
namespace Syscage.Ebpf.Maps;

/// <summary>Map types Syscage supports, with the kernel's <c>enum bpf_map_type</c> values.</summary>
public enum MapType
{
    /// <summary><c>BPF_MAP_TYPE_HASH</c>.</summary>
    Hash = Uapi.BPF_MAP_TYPE_HASH,
    /// <summary><c>BPF_MAP_TYPE_ARRAY</c> (also the global-data maps <c>.data</c>, <c>.bss</c>, <c>.rodata</c>).</summary>
    Array = Uapi.BPF_MAP_TYPE_ARRAY,
    /// <summary><c>BPF_MAP_TYPE_LRU_HASH</c>.</summary>
    LruHash = Uapi.BPF_MAP_TYPE_LRU_HASH,
    /// <summary><c>BPF_MAP_TYPE_RINGBUF</c>.</summary>
    RingBuf = Uapi.BPF_MAP_TYPE_RINGBUF,
    /// <summary><c>BPF_MAP_TYPE_TASK_STORAGE</c>.</summary>
    TaskStorage = Uapi.BPF_MAP_TYPE_TASK_STORAGE,
}

/// <summary>
/// What a program declares about one map: everything needed to create it and to verify accesses to it.
/// Made by the ELF loader (BTF-defined <c>.maps</c>, legacy <c>maps</c>, global-data sections) or by hand.
/// </summary>
/// <param name="Name">The map's name in the object (<c>counts</c>, <c>.rodata</c>, ...).</param>
/// <param name="Type">The map type.</param>
/// <param name="KeySize">Key size in bytes (4 for arrays; 4 for task storage, whose key is a task handle).</param>
/// <param name="ValueSize">Value size in bytes (0 for a ring buffer).</param>
/// <param name="MaxEntries">Entries; for a ring buffer, its size in bytes (a power of two, multiple of the page size).</param>
/// <param name="Flags">The kernel's <c>map_flags</c> (e.g. <c>BPF_F_RDONLY_PROG</c> = 0x80 for <c>.rodata</c>).</param>
/// <param name="InitialValue">For global-data maps: the section's bytes, the value of element 0; null otherwise.</param>
public sealed record MapDefinition(string Name, MapType Type, int KeySize, int ValueSize, int MaxEntries, uint Flags = 0, byte[]? InitialValue = null)
{
    /// <summary><c>BPF_F_RDONLY_PROG</c>: the program may not write the map (<c>.rodata</c>).</summary>
    public const uint BPF_F_RDONLY_PROG = (uint)Uapi.BPF_F_RDONLY_PROG;

    /// <summary>True when programs may only read the map's values.</summary>
    public bool ReadOnlyForProgram => (Flags & BPF_F_RDONLY_PROG) != 0;

    /// <summary>
    /// The memory the map takes once created, at most: every value slot (8-byte aligned) of an array or hash map,
    /// which are preallocated, plus <see cref="HashEntryBytes"/> and the key per hash entry; a ring buffer's size; one
    /// value for task storage (which grows by one value per task that gets one). Counted against
    /// <see cref="InputLimits.MaxMapMemoryBytes"/>.
    /// </summary>
    public long MemoryBytes => MemoryOf(Type, KeySize, ValueSize, MaxEntries);

    /// <summary>The bookkeeping of one hash entry besides its key and value: index, LRU links, free list, the key's array.</summary>
    public const int HashEntryBytes = 64;

    /// <summary><see cref="MemoryBytes"/> of a map not made yet, from its declared sizes (the loader checks before it reads more).</summary>
    internal static long MemoryOf(MapType type, long keySize, long valueSize, long maxEntries)
    {
        // In 128 bits: the loader asks before it has checked the sizes against anything but their field widths.
        Int128 slot = ((Int128)Math.Max(valueSize, 0) + 7) & ~(Int128)7;
        Int128 entries = Math.Max(maxEntries, 0);
        Int128 bytes = type switch
        {
            MapType.Array => slot * entries,
            MapType.Hash or MapType.LruHash => (slot + Math.Max(keySize, 0) + HashEntryBytes) * entries,
            MapType.RingBuf => entries,
            _ => slot,
        };
        return bytes > long.MaxValue ? long.MaxValue : (long)bytes;
    }

    /// <summary>
    /// The error when map <paramref name="name"/>, taking <paramref name="bytes"/>, brings the maps of one object
    /// (<paramref name="before"/> bytes so far) over <see cref="InputLimits.MaxMapMemoryBytes"/>; null when it fits.
    /// </summary>
    internal static string? MemoryLimitError(string name, long bytes, long before)
    {
        if (bytes <= InputLimits.MaxMapMemoryBytes - before)
            return null;
        string others = before > 0 ? $", and {InputLimits.Describe(before)} for the maps before it" : "";
        return $"map '{name}' needs {InputLimits.Describe(bytes)}{others}: more than the {InputLimits.Describe(InputLimits.MaxMapMemoryBytes)} " +
               "Syscage gives the maps of one object (maps are allocated whole when the program is loaded)";
    }
}
