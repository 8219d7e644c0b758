using System.Runtime.InteropServices;
using Syscage.Abi;

namespace Syscage.Ebpf.Maps;

/// <summary>Receives one ring-buffer record; the span is valid only during the call.</summary>
public delegate void RingBufRecordHandler(ReadOnlySpan<byte> record);

/// <summary>
/// <c>BPF_MAP_TYPE_RINGBUF</c>: a multi-producer, single-consumer byte ring of <c>max_entries</c> bytes (a power of
/// two, at least a page), records in the kernel's format: an 8-byte header (<c>len</c> with
/// <c>BPF_RINGBUF_BUSY_BIT</c> and <c>BPF_RINGBUF_DISCARD_BIT</c>, then a reserved word) followed by the data, padded
/// to 8 bytes. Programs reserve, fill and submit (or discard) records; user space consumes them in reservation order,
/// stopping at the first record still being written, as the kernel's consumer does.
/// </summary>
/// <remarks>
/// The kernel maps the data area twice so a record can straddle the end of the ring. Here, a record that would
/// straddle it is preceded by a discarded padding record that fills the ring up to its end, so every record is
/// contiguous; the consumer skips the padding like any discarded record.
/// </remarks>
public sealed unsafe class RingBufMap : EbpfMap
{
    /// <summary><c>BPF_RINGBUF_BUSY_BIT</c>.</summary>
    public const uint BPF_RINGBUF_BUSY_BIT = Uapi.BPF_RINGBUF_BUSY_BIT;
    /// <summary><c>BPF_RINGBUF_DISCARD_BIT</c>.</summary>
    public const uint BPF_RINGBUF_DISCARD_BIT = (uint)Uapi.BPF_RINGBUF_DISCARD_BIT;
    /// <summary><c>BPF_RINGBUF_HDR_SZ</c>.</summary>
    public const int BPF_RINGBUF_HDR_SZ = Uapi.BPF_RINGBUF_HDR_SZ;

    private readonly object _produceLock = new();
    private readonly object _consumeLock = new();
    private readonly long _mask;
    private readonly int _size;
    private long _producer, _consumer;
    private byte* _data;
    private readonly ManualResetEventSlim _submitted = new(false);

    /// <summary>Creates the ring; <see cref="MapDefinition.MaxEntries"/> is its size in bytes.</summary>
    public RingBufMap(MapDefinition definition) : base(definition)
    {
        int size = definition.MaxEntries;
        if (size < 4096 || (size & (size - 1)) != 0)
            throw new SyscageException($"map '{definition.Name}': a ring buffer's max_entries is its size in bytes, a power of two of at least 4096, not {size}");
        if (definition.KeySize != 0 || definition.ValueSize != 0)
            throw new SyscageException($"map '{definition.Name}': a ring buffer has no key or value size");
        _size = size;
        _mask = size - 1;
        _data = AllocateZeroed(size);
    }

    /// <summary>Bytes reserved and not yet consumed (including headers and padding).</summary>
    public long Pending => Volatile.Read(ref _producer) - Volatile.Read(ref _consumer);

    /// <summary>
    /// <c>bpf_ringbuf_reserve</c>: the address of <paramref name="size"/> writable bytes, or 0 when the ring has no room.
    /// The record stays invisible to the consumer (and blocks later ones) until submitted or discarded.
    /// </summary>
    public nint Reserve(int size)
    {
        if (size <= 0 || size > _size - 2 * BPF_RINGBUF_HDR_SZ)
            return 0;
        int total = Align8(size + BPF_RINGBUF_HDR_SZ);
        lock (_produceLock)
        {
            long prod = _producer;
            long offset = prod & _mask;
            long pad = offset + total > _size ? _size - offset : 0;
            if (prod + pad + total - Volatile.Read(ref _consumer) > _size)
                return 0;
            if (pad > 0)
            {
                // Discarded filler up to the end of the ring, so the record starts at offset 0 in one piece.
                var filler = (uint*)(_data + offset);
                filler[1] = 0;
                Volatile.Write(ref filler[0], (uint)(pad - BPF_RINGBUF_HDR_SZ) | BPF_RINGBUF_DISCARD_BIT);
            }
            var header = (uint*)(_data + ((prod + pad) & _mask));
            header[1] = 0;
            Volatile.Write(ref header[0], (uint)size | BPF_RINGBUF_BUSY_BIT);
            Volatile.Write(ref _producer, prod + pad + total);
            return (nint)(header + 2);
        }
    }

    /// <summary><c>bpf_ringbuf_submit</c> (<paramref name="discard"/> false) or <c>bpf_ringbuf_discard</c> of a reserved record.</summary>
    public static void Commit(nint record, bool discard)
    {
        var header = (uint*)record - 2;
        uint len = Volatile.Read(ref header[0]) & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
        Volatile.Write(ref header[0], discard ? len | BPF_RINGBUF_DISCARD_BIT : len);
    }

    /// <summary>Whether <paramref name="record"/> (an address <see cref="Reserve"/> returned) lies in this ring.</summary>
    public bool Contains(nint record) => _data != null && record > (nint)_data && record < (nint)(_data + _size);

    /// <summary>
    /// Wakes a consumer blocked in <see cref="WaitForRecords"/> (the kernel's wakeup after submit or discard; the
    /// helpers call it unless the program passed <c>BPF_RB_NO_WAKEUP</c>).
    /// </summary>
    public void Notify() => _submitted.Set();

    /// <summary>
    /// Blocks until a record may be ready to consume or <paramref name="timeout"/> passes; true when woken. Use with
    /// <see cref="Consume"/> in a loop: consume, then wait.
    /// </summary>
    public bool WaitForRecords(TimeSpan timeout)
    {
        if (_submitted.IsSet)
        {
            _submitted.Reset();
            return true;
        }
        bool woken = _submitted.Wait(timeout);
        _submitted.Reset();
        return woken;
    }

    /// <summary><c>bpf_ringbuf_output</c>: copies <paramref name="data"/> into a new record; 0 or <c>-EAGAIN</c>-like failure (-ENOSPC) when full.</summary>
    public int Output(ReadOnlySpan<byte> data)
    {
        nint p = Reserve(data.Length);
        if (p == 0) return -Errno.ENOSPC;
        data.CopyTo(new Span<byte>((void*)p, data.Length));
        Commit(p, discard: false);
        Notify();
        return 0;
    }

    /// <summary>
    /// Hands every submitted record, in order, to <paramref name="handler"/> and frees its space; stops at a record still
    /// being written. Returns the number of records handed over. One consumer at a time (calls are serialised).
    /// </summary>
    public int Consume(RingBufRecordHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        int count = 0;
        lock (_consumeLock)
        {
            long cons = _consumer;
            long prod = Volatile.Read(ref _producer);
            while (cons < prod)
            {
                var header = (uint*)(_data + (cons & _mask));
                uint word = Volatile.Read(ref header[0]);
                if ((word & BPF_RINGBUF_BUSY_BIT) != 0)
                    break;
                int len = (int)(word & ~BPF_RINGBUF_DISCARD_BIT);
                if ((word & BPF_RINGBUF_DISCARD_BIT) == 0)
                {
                    handler(new ReadOnlySpan<byte>(header + 2, len));
                    count++;
                }
                cons += Align8(len + BPF_RINGBUF_HDR_SZ);
                Volatile.Write(ref _consumer, cons);
            }
        }
        return count;
    }

    /// <summary>Consumes the submitted records and returns copies of them.</summary>
    public IReadOnlyList<byte[]> Drain()
    {
        var records = new List<byte[]>();
        Consume(r => records.Add(r.ToArray()));
        return records;
    }

    internal override nint LookupPointer(ReadOnlySpan<byte> key) => 0;
    internal override int UpdateCore(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, ulong flags) => -Errno.EOPNOTSUPP;
    internal override int DeleteCore(ReadOnlySpan<byte> key) => -Errno.EOPNOTSUPP;

    /// <inheritdoc/>
    public override IEnumerable<KeyValuePair<byte[], byte[]>> Entries() => [];

    /// <inheritdoc/>
    protected override void Free()
    {
        if (_data != null)
        {
            NativeMemory.AlignedFree(_data);
            _data = null;
        }
        _submitted.Dispose();
    }
}
