using System.Runtime.InteropServices;
using Syscage.Abi;

namespace Syscage.Ebpf.Maps;

/// <summary>
/// <c>BPF_MAP_TYPE_HASH</c> and <c>BPF_MAP_TYPE_LRU_HASH</c>. Like the kernel's default (preallocated) hash maps,
/// all <c>max_entries</c> value slots are allocated up front, so a value's address never changes and a deleted
/// element's slot is reused by a later insertion. A full hash map refuses new keys with E2BIG; a full LRU map evicts
/// the least recently used key (lookups and updates count as uses).
/// </summary>
public sealed unsafe class HashMap : EbpfMap
{
    private readonly object _lock = new();
    private readonly Dictionary<byte[], int> _index;
    private readonly Dictionary<byte[], int>.AlternateLookup<ReadOnlySpan<byte>> _bySpan;
    private readonly byte[]?[] _keys;
    private readonly Stack<int> _free;
    private readonly int _stride;
    private readonly bool _lru;
    // LRU order: a doubly linked list of slots, most recent at the head.
    private readonly int[] _prev, _next;
    private int _head = -1, _tail = -1;
    private byte* _values;

    /// <summary>Creates the map; <paramref name="lru"/> selects LRU eviction when full.</summary>
    public HashMap(MapDefinition definition, bool lru) : base(definition)
    {
        if (definition.KeySize <= 0 || definition.ValueSize <= 0 || definition.MaxEntries <= 0)
            throw new SyscageException($"map '{definition.Name}': hash maps need key size, value size and max_entries above 0");
        _lru = lru;
        _stride = Align8(definition.ValueSize);
        _values = AllocateZeroed((long)_stride * definition.MaxEntries);
        _index = new Dictionary<byte[], int>(KeyComparer.Instance);
        _bySpan = _index.GetAlternateLookup<ReadOnlySpan<byte>>();
        _keys = new byte[definition.MaxEntries][];
        _free = new Stack<int>(Enumerable.Range(0, definition.MaxEntries).Reverse());
        _prev = new int[definition.MaxEntries];
        _next = new int[definition.MaxEntries];
        Array.Fill(_prev, -1);
        Array.Fill(_next, -1);
    }

    /// <summary>Number of keys present.</summary>
    public int Count { get { lock (_lock) return _index.Count; } }

    private byte* Slot(int slot) => _values + (long)slot * _stride;

    internal override nint LookupPointer(ReadOnlySpan<byte> key)
    {
        lock (_lock)
        {
            if (!_bySpan.TryGetValue(key, out int slot))
                return 0;
            if (_lru) Touch(slot);
            return (nint)Slot(slot);
        }
    }

    internal override int UpdateCore(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, ulong flags)
    {
        if (flags > (ulong)MapUpdateFlags.Exist) return -Errno.EINVAL;
        lock (_lock)
        {
            if (_bySpan.TryGetValue(key, out int slot))
            {
                if (flags == (ulong)MapUpdateFlags.NoExist) return -Errno.EEXIST;
            }
            else
            {
                if (flags == (ulong)MapUpdateFlags.Exist) return -Errno.ENOENT;
                if (_free.Count > 0)
                    slot = _free.Pop();
                else if (_lru && _tail >= 0)
                {
                    slot = _tail;
                    Unlink(slot);
                    _index.Remove(_keys[slot]!);
                }
                else
                    return -Errno.E2BIG;
                var copy = key.ToArray();
                _keys[slot] = copy;
                _index.Add(copy, slot);
                if (_lru) LinkAtHead(slot);
            }
            if (_lru) Touch(slot);
            value[..Definition.ValueSize].CopyTo(new Span<byte>(Slot(slot), Definition.ValueSize));
            return 0;
        }
    }

    internal override int DeleteCore(ReadOnlySpan<byte> key)
    {
        lock (_lock)
        {
            if (!_bySpan.TryGetValue(key, out int slot))
                return -Errno.ENOENT;
            _index.Remove(_keys[slot]!);
            _keys[slot] = null;
            if (_lru) Unlink(slot);
            _free.Push(slot);
            return 0;
        }
    }

    /// <inheritdoc/>
    public override IEnumerable<KeyValuePair<byte[], byte[]>> Entries()
    {
        List<KeyValuePair<byte[], byte[]>> snapshot;
        lock (_lock)
            snapshot = [.. _index.Select(e => new KeyValuePair<byte[], byte[]>((byte[])e.Key.Clone(), CopyValue(e.Value)))];
        return snapshot;
    }

    private byte[] CopyValue(int slot) => new ReadOnlySpan<byte>(Slot(slot), Definition.ValueSize).ToArray();

    private void Touch(int slot)
    {
        if (_head == slot) return;
        Unlink(slot);
        LinkAtHead(slot);
    }

    private void LinkAtHead(int slot)
    {
        _prev[slot] = -1;
        _next[slot] = _head;
        if (_head >= 0) _prev[_head] = slot;
        _head = slot;
        if (_tail < 0) _tail = slot;
    }

    private void Unlink(int slot)
    {
        int p = _prev[slot], n = _next[slot];
        if (p >= 0) _next[p] = n; else if (_head == slot) _head = n;
        if (n >= 0) _prev[n] = p; else if (_tail == slot) _tail = p;
        _prev[slot] = _next[slot] = -1;
    }

    /// <inheritdoc/>
    protected override void Free()
    {
        if (_values != null)
        {
            NativeMemory.AlignedFree(_values);
            _values = null;
        }
    }

    /// <summary>Compares keys by content, and lets lookups use a span of the program's key without copying it.</summary>
    private sealed class KeyComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
    {
        public static KeyComparer Instance { get; } = new();

        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);
        public int GetHashCode(byte[] obj) => GetHashCode((ReadOnlySpan<byte>)obj);
        public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);
        public int GetHashCode(ReadOnlySpan<byte> alternate)
        {
            var h = new HashCode();
            h.AddBytes(alternate);
            return h.ToHashCode();
        }
        public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();
    }
}
