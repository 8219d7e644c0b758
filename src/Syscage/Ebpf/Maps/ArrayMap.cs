using System.Buffers.Binary;
using Syscage.Abi;

namespace Syscage.Ebpf.Maps;

/// <summary>
/// <c>BPF_MAP_TYPE_ARRAY</c>: <c>max_entries</c> preallocated, zero-initialised values indexed by a 4-byte key.
/// Elements always exist (update with <see cref="MapUpdateFlags.NoExist"/> fails with EEXIST; delete with EINVAL).
/// Also the global-data maps <c>.data</c>, <c>.bss</c>, <c>.rodata</c>: one element holding the section's bytes.
/// </summary>
public sealed unsafe class ArrayMap : EbpfMap
{
    private byte* _values;
    private readonly int _stride;

    /// <summary>Creates the array, copying <see cref="MapDefinition.InitialValue"/> into element 0 when present.</summary>
    public ArrayMap(MapDefinition definition) : base(definition)
    {
        if (definition.KeySize != 4)
            throw new SyscageException($"map '{definition.Name}': array keys are 4 bytes, not {definition.KeySize}");
        if (definition.ValueSize <= 0 || definition.MaxEntries <= 0)
            throw new SyscageException($"map '{definition.Name}': array needs a value size and max_entries above 0");
        _stride = Align8(definition.ValueSize);
        _values = AllocateZeroed((long)_stride * definition.MaxEntries);
        if (definition.InitialValue is { } initial)
        {
            if (initial.Length > definition.ValueSize)
                throw new SyscageException($"map '{definition.Name}': initial value is {initial.Length} bytes, larger than the value size {definition.ValueSize}");
            initial.CopyTo(new Span<byte>(_values, initial.Length));
        }
    }

    /// <summary>The address of element <paramref name="index"/>'s value (used for <c>lddw map_value</c>).</summary>
    public nint ValueAddress(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Definition.MaxEntries);
        return (nint)(_values + (long)index * _stride);
    }

    /// <summary>Element <paramref name="index"/>'s value, live (not a copy): for the owner setting <c>.rodata</c> knobs before a run.</summary>
    public Span<byte> ValueSpan(int index) => new((void*)ValueAddress(index), Definition.ValueSize);

    internal override nint LookupPointer(ReadOnlySpan<byte> key)
    {
        uint index = BinaryPrimitives.ReadUInt32LittleEndian(key);
        return index < (uint)Definition.MaxEntries ? (nint)(_values + (long)index * _stride) : 0;
    }

    internal override int UpdateCore(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, ulong flags)
    {
        if (flags > (ulong)MapUpdateFlags.Exist) return -Errno.EINVAL;
        uint index = BinaryPrimitives.ReadUInt32LittleEndian(key);
        if (index >= (uint)Definition.MaxEntries) return -Errno.E2BIG;
        if (flags == (ulong)MapUpdateFlags.NoExist) return -Errno.EEXIST;
        value[..Definition.ValueSize].CopyTo(new Span<byte>(_values + (long)index * _stride, Definition.ValueSize));
        return 0;
    }

    internal override int DeleteCore(ReadOnlySpan<byte> key) => -Errno.EINVAL;

    /// <inheritdoc/>
    public override IEnumerable<KeyValuePair<byte[], byte[]>> Entries()
    {
        for (int i = 0; i < Definition.MaxEntries; i++)
        {
            var key = new byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(key, i);
            yield return new(key, ValueSpan(i).ToArray());
        }
    }

    /// <inheritdoc/>
    protected override void Free()
    {
        if (_values != null)
        {
            System.Runtime.InteropServices.NativeMemory.AlignedFree(_values);
            _values = null;
        }
    }
}
