using System.Runtime.InteropServices;
using Syscage.Abi;

namespace Syscage.Ebpf.Maps;

/// <summary>
/// <c>BPF_MAP_TYPE_TASK_STORAGE</c>: one value per task, keyed by the task's identity
/// (<see cref="Helpers.IBpfTask.Identity"/>), created on demand by <c>bpf_task_storage_get(..., BPF_LOCAL_STORAGE_GET_F_CREATE)</c>.
/// A deleted task's value slot is kept and reused for the next task, so pointers a program still holds stay valid.
/// </summary>
public sealed unsafe class TaskStorageMap : EbpfMap
{
    private readonly object _lock = new();
    private readonly Dictionary<object, nint> _values = [];
    private readonly Stack<nint> _free = new();
    private readonly List<nint> _all = [];

    /// <summary>Creates the (empty) map.</summary>
    public TaskStorageMap(MapDefinition definition) : base(definition)
    {
        if (definition.ValueSize <= 0)
            throw new SyscageException($"map '{definition.Name}': task storage needs a value size above 0");
    }

    /// <summary>
    /// The value for <paramref name="task"/>; when absent and <paramref name="create"/>, a new one initialised from
    /// <paramref name="initial"/> (or zeros). 0 when absent and not created.
    /// </summary>
    public nint Get(object task, ReadOnlySpan<byte> initial, bool create)
    {
        ArgumentNullException.ThrowIfNull(task);
        lock (_lock)
        {
            if (_values.TryGetValue(task, out nint p))
                return p;
            if (!create)
                return 0;
            if (!_free.TryPop(out p))
            {
                p = (nint)AllocateZeroed(Definition.ValueSize);
                _all.Add(p);
            }
            var value = new Span<byte>((void*)p, Definition.ValueSize);
            value.Clear();
            if (!initial.IsEmpty)
                initial[..Definition.ValueSize].CopyTo(value);
            _values.Add(task, p);
            return p;
        }
    }

    /// <summary>Removes <paramref name="task"/>'s value: 0, or <c>-ENOENT</c> when it had none.</summary>
    public int Remove(object task)
    {
        ArgumentNullException.ThrowIfNull(task);
        lock (_lock)
        {
            if (!_values.Remove(task, out nint p))
                return -Errno.ENOENT;
            _free.Push(p);
            return 0;
        }
    }

    /// <summary>A copy of <paramref name="task"/>'s value, or null.</summary>
    public byte[]? LookupTask(object task)
    {
        nint p = Get(task, default, create: false);
        return p == 0 ? null : new ReadOnlySpan<byte>((void*)p, Definition.ValueSize).ToArray();
    }

    /// <summary>The tasks with a value now, and copies of their values.</summary>
    public IReadOnlyList<KeyValuePair<object, byte[]>> TaskEntries()
    {
        lock (_lock)
            return [.. _values.Select(e => new KeyValuePair<object, byte[]>(e.Key, new ReadOnlySpan<byte>((void*)e.Value, Definition.ValueSize).ToArray()))];
    }

    // From user space the kernel keys task storage by pidfd; Syscage's user API is TaskEntries/LookupTask instead.
    internal override nint LookupPointer(ReadOnlySpan<byte> key) => 0;
    internal override int UpdateCore(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, ulong flags) => -Errno.EOPNOTSUPP;
    internal override int DeleteCore(ReadOnlySpan<byte> key) => -Errno.EOPNOTSUPP;

    /// <inheritdoc/>
    public override IEnumerable<KeyValuePair<byte[], byte[]>> Entries() => [];

    /// <inheritdoc/>
    protected override void Free()
    {
        lock (_lock)
        {
            foreach (var p in _all)
                NativeMemory.AlignedFree((void*)p);
            _all.Clear();
            _values.Clear();
            _free.Clear();
        }
    }
}
