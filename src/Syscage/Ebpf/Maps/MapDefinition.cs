namespace Syscage.Ebpf.Maps;

/// <summary>Map types Syscage supports, with the kernel's <c>enum bpf_map_type</c> values.</summary>
public enum MapType
{
    /// <summary><c>BPF_MAP_TYPE_HASH</c>.</summary>
    Hash = 1,
    /// <summary><c>BPF_MAP_TYPE_ARRAY</c> (also the global-data maps <c>.data</c>, <c>.bss</c>, <c>.rodata</c>).</summary>
    Array = 2,
    /// <summary><c>BPF_MAP_TYPE_LRU_HASH</c>.</summary>
    LruHash = 9,
    /// <summary><c>BPF_MAP_TYPE_RINGBUF</c>.</summary>
    RingBuf = 27,
    /// <summary><c>BPF_MAP_TYPE_TASK_STORAGE</c>.</summary>
    TaskStorage = 29,
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
    public const uint BPF_F_RDONLY_PROG = 1u << 7;

    /// <summary>True when programs may only read the map's values.</summary>
    public bool ReadOnlyForProgram => (Flags & BPF_F_RDONLY_PROG) != 0;
}
