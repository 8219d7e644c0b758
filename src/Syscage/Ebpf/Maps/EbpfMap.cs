using Syscage.Abi;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Syscage.Ebpf.Maps;

/// <summary>Flags of <c>bpf_map_update_elem</c>, with the kernel's values.</summary>
public enum MapUpdateFlags : ulong
{
    /// <summary><c>BPF_ANY</c>: create or update.</summary>
    Any = Uapi.BPF_ANY,
    /// <summary><c>BPF_NOEXIST</c>: create only.</summary>
    NoExist = Uapi.BPF_NOEXIST,
    /// <summary><c>BPF_EXIST</c>: update only.</summary>
    Exist = Uapi.BPF_EXIST,
}

/// <summary>
/// A map instance: values live at stable unmanaged addresses, because programs hold pointers to them (as in the
/// kernel). Every map is safe to use from several threads at once: its structure (which keys exist, which slot holds
/// them) is guarded by a lock, while updates of one value are plain copies that a concurrent reader of the same value
/// may see half done — the kernel's semantics; programs use atomic instructions on values when that matters.
/// </summary>
/// <remarks>Dispose a map only when no program that uses it is running: disposing frees the values' memory.</remarks>
public abstract unsafe class EbpfMap : IDisposable
{
    private bool _frozen;

    /// <summary>Creates the map for <paramref name="definition"/>.</summary>
    protected EbpfMap(MapDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        Definition = definition;
    }

    /// <summary>What the map was created from.</summary>
    public MapDefinition Definition { get; }

    /// <summary>The map's name.</summary>
    public string Name => Definition.Name;

    /// <summary>
    /// Creates a map of the definition's type (global-data definitions give one-element arrays holding their initial
    /// value); a map that needs more than <see cref="InputLimits.MaxMapMemoryBytes"/> is refused, naming it.
    /// </summary>
    public static EbpfMap Create(MapDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        if (MapDefinition.MemoryLimitError(definition.Name, definition.MemoryBytes, 0) is { } error)
            throw new SyscageException(error);
        return definition.Type switch
        {
            MapType.Array => new ArrayMap(definition),
            MapType.Hash => new HashMap(definition, lru: false),
            MapType.LruHash => new HashMap(definition, lru: true),
            MapType.RingBuf => new RingBufMap(definition),
            MapType.TaskStorage => new TaskStorageMap(definition),
            _ => throw new SyscageException($"map '{definition.Name}': unsupported map type {(int)definition.Type}"),
        };
    }

    // ---- Program side (helpers): pointers in, pointer or -errno out. ----

    /// <summary><c>bpf_map_lookup_elem</c>: the address of the value for <paramref name="key"/>, or 0.</summary>
    internal abstract nint LookupPointer(ReadOnlySpan<byte> key);

    /// <summary><c>bpf_map_update_elem</c>: 0 or a negative errno.</summary>
    internal abstract int UpdateCore(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, ulong flags);

    /// <summary><c>bpf_map_delete_elem</c>: 0 or a negative errno.</summary>
    internal abstract int DeleteCore(ReadOnlySpan<byte> key);

    /// <summary>The (key, value) pairs present now, copied.</summary>
    public abstract IEnumerable<KeyValuePair<byte[], byte[]>> Entries();

    // ---- User-space API (what BPF_MAP_LOOKUP_ELEM and friends do from user space). ----

    /// <summary>Copies the value for <paramref name="key"/>; null when absent.</summary>
    public byte[]? Lookup(ReadOnlySpan<byte> key)
    {
        CheckKey(key);
        nint p = LookupPointer(key);
        return p == 0 ? null : new ReadOnlySpan<byte>((void*)p, Definition.ValueSize).ToArray();
    }

    /// <summary>Sets the value for <paramref name="key"/>; throws with the errno name when the map refuses.</summary>
    public void Update(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, MapUpdateFlags flags = MapUpdateFlags.Any)
    {
        CheckKey(key);
        if (value.Length != Definition.ValueSize)
            throw new SyscageException($"map '{Name}': value is {value.Length} bytes, the map's values are {Definition.ValueSize}");
        if (_frozen)
            throw new SyscageException($"map '{Name}' is frozen: user space can no longer write it");
        int rc = UpdateCore(key, value, (ulong)flags);
        if (rc < 0)
            throw new SyscageException($"map '{Name}': update failed: {Errno.Name(-rc) ?? (-rc).ToString(CultureInfo.InvariantCulture)}");
    }

    /// <summary>Removes <paramref name="key"/>; false when it was absent.</summary>
    public bool Delete(ReadOnlySpan<byte> key)
    {
        CheckKey(key);
        int rc = DeleteCore(key);
        if (rc == -Errno.ENOENT) return false;
        if (rc < 0) throw new SyscageException($"map '{Name}': delete failed: {Errno.Name(-rc) ?? (-rc).ToString(CultureInfo.InvariantCulture)}");
        return true;
    }

    /// <summary>
    /// <c>BPF_MAP_FREEZE</c>: user space can no longer write the map (programs still can, unless it is read-only to them).
    /// The loader freezes <c>.rodata</c> after the user has set its <c>const volatile</c> knobs.
    /// </summary>
    public void Freeze() => _frozen = true;

    /// <summary>Whether <see cref="Freeze"/> was called.</summary>
    public bool IsFrozen => _frozen;

    private void CheckKey(ReadOnlySpan<byte> key)
    {
        if (key.Length != Definition.KeySize)
            throw new SyscageException($"map '{Name}': key is {key.Length} bytes, the map's keys are {Definition.KeySize}");
    }

    /// <summary>Allocates zeroed, 8-byte aligned unmanaged memory that stays put until <see cref="Dispose()"/>.</summary>
    internal static byte* AllocateZeroed(long bytes)
    {
        var p = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, 8), 8);
        NativeMemory.Clear(p, (nuint)Math.Max(bytes, 8));
        return p;
    }

    /// <summary>Rounds up to a multiple of 8, as the kernel does for value slots.</summary>
    internal static int Align8(int n) => (n + 7) & ~7;

    /// <summary>Frees unmanaged memory.</summary>
    protected abstract void Free();

    /// <inheritdoc/>
    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees the memory if the map was never disposed.</summary>
    ~EbpfMap() => Free();
}
