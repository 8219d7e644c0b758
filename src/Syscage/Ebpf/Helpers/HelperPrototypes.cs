using System.Collections.Immutable;
using Syscage.Ebpf.Maps;
using static Syscage.Abi.HelperIds;
using Syscage.Abi;

namespace Syscage.Ebpf.Helpers;

/// <summary>What a helper argument must be (the kernel's <c>enum bpf_arg_type</c>, the subset Syscage's helpers use).</summary>
public enum HelperArgType
{
    /// <summary>Not an argument: the register is not read.</summary>
    DontCare,
    /// <summary><c>ARG_ANYTHING</c>: any initialised value.</summary>
    Anything,
    /// <summary><c>ARG_CONST_MAP_PTR</c>: a map reference from <c>lddw</c>.</summary>
    ConstMapPtr,
    /// <summary><c>ARG_PTR_TO_MAP_KEY</c>: readable, initialised memory of the map's key size.</summary>
    PtrToMapKey,
    /// <summary><c>ARG_PTR_TO_MAP_VALUE</c>: readable, initialised memory of the map's value size.</summary>
    PtrToMapValue,
    /// <summary><c>ARG_PTR_TO_MAP_VALUE_OR_NULL</c>: a constant 0, or memory as for <see cref="PtrToMapValue"/>.</summary>
    PtrToMapValueOrNull,
    /// <summary><c>ARG_PTR_TO_MEM | MEM_RDONLY</c>: readable, initialised memory; the size is the next argument.</summary>
    PtrToMem,
    /// <summary><c>ARG_PTR_TO_UNINIT_MEM</c>: writable memory the helper fills; the size is the next argument.</summary>
    PtrToUninitMem,
    /// <summary><c>ARG_CONST_SIZE</c>: the size of the previous memory argument, bounded, greater than zero.</summary>
    ConstSize,
    /// <summary><c>ARG_CONST_SIZE_OR_ZERO</c>: the size of the previous memory argument, bounded.</summary>
    ConstSizeOrZero,
    /// <summary><c>ARG_CONST_ALLOC_SIZE_OR_ZERO</c>: a constant size for an allocation (<c>ringbuf_reserve</c>).</summary>
    ConstAllocSize,
    /// <summary><c>ARG_PTR_TO_ALLOC_MEM | OBJ_RELEASE</c>: the start of a ring-buffer reservation, released by the call.</summary>
    PtrToAllocMem,
    /// <summary><c>ARG_PTR_TO_CTX</c>: the context pointer.</summary>
    PtrToCtx,
}

/// <summary>What a helper returns in <c>r0</c> (<c>enum bpf_return_type</c>).</summary>
public enum HelperReturnType
{
    /// <summary><c>RET_INTEGER</c>: a scalar.</summary>
    Integer,
    /// <summary><c>RET_VOID</c>: <c>r0</c> is not readable after the call.</summary>
    Void,
    /// <summary><c>RET_PTR_TO_MAP_VALUE_OR_NULL</c>: must be null-checked before use.</summary>
    PtrToMapValueOrNull,
    /// <summary><c>RET_PTR_TO_ALLOC_MEM_OR_NULL</c>: a reservation (a reference to release) or null.</summary>
    PtrToAllocMemOrNull,
}

/// <summary>One helper's signature, as the verifier checks it.</summary>
/// <param name="Id">The kernel's helper id (<c>BPF_FUNC_*</c>).</param>
/// <param name="Name">The kernel's name without <c>bpf_</c> (<c>map_lookup_elem</c>).</param>
/// <param name="Return">What <c>r0</c> holds after the call.</param>
/// <param name="Args">Argument types for <c>r1</c>..<c>r5</c>; fewer than five means the rest are not read.</param>
/// <param name="MapTypes">For helpers taking a map: the map types allowed; null means any.</param>
public sealed record HelperPrototype(int Id, string Name, HelperReturnType Return, ImmutableArray<HelperArgType> Args, ImmutableArray<MapType>? MapTypes = null)
{
    /// <summary>The helper as the kernel's verifier log names it: <c>bpf_map_lookup_elem#1</c>.</summary>
    public override string ToString() => HelperPrototypes.Describe(Id);
}

/// <summary>
/// The helpers eBPF seccomp programs may call, keyed by their kernel ids (checked against <c>__BPF_FUNC_MAPPER</c>
/// in <c>/usr/include/linux/bpf.h</c>); argument types follow the kernel's <c>bpf_func_proto</c> definitions. The
/// VM implements the same ids. <c>task_storage_get/delete</c> take a task handle in <c>r2</c>: the kernel wants a
/// <c>struct task_struct *</c> (BTF id); here it is any value, and the VM binds the task being supervised.
/// </summary>
public static class HelperPrototypes
{
    /// <summary>
    /// Helper <paramref name="id"/> as the kernel's verifier log names it: <c>bpf_map_lookup_elem#1</c>, from the
    /// generated table of helper ids (<see cref="HelperIds.Name"/>); <c>#N</c> alone for an id the kernel headers don't know.
    /// </summary>
    public static string Describe(int id) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{HelperIds.Name(id)}#{id}");

    private static readonly ImmutableArray<MapType> KeyValueMaps = [MapType.Hash, MapType.Array, MapType.LruHash];
    private static readonly ImmutableArray<MapType> RingBuf = [MapType.RingBuf];
    private static readonly ImmutableArray<MapType> TaskStorage = [MapType.TaskStorage];

    /// <summary>
    /// True for the helpers that read the calling task — its ids (<c>get_current_pid_tgid</c>, <c>get_current_uid_gid</c>),
    /// name (<c>get_current_comm</c>), memory (<c>probe_read_user[_str]</c>) or storage (<c>task_storage_*</c>,
    /// <c>get_current_task_btf</c>): a supervisor binds the task (reads <c>/proc</c>, opens pidfds) only for programs that
    /// call one of them.
    /// </summary>
    public static bool ReadsTask(int id) => id is BPF_FUNC_get_current_pid_tgid or BPF_FUNC_get_current_uid_gid or BPF_FUNC_get_current_comm
        or BPF_FUNC_probe_read_user or BPF_FUNC_probe_read_user_str or BPF_FUNC_task_storage_get or BPF_FUNC_task_storage_delete
        or BPF_FUNC_get_current_task_btf;

    /// <summary>Every helper Syscage supports, by id.</summary>
    public static ImmutableDictionary<int, HelperPrototype> Default { get; } = new HelperPrototype[]
    {
        new(BPF_FUNC_map_lookup_elem, "map_lookup_elem", HelperReturnType.PtrToMapValueOrNull, [HelperArgType.ConstMapPtr, HelperArgType.PtrToMapKey], KeyValueMaps),
        new(BPF_FUNC_map_update_elem, "map_update_elem", HelperReturnType.Integer, [HelperArgType.ConstMapPtr, HelperArgType.PtrToMapKey, HelperArgType.PtrToMapValue, HelperArgType.Anything], KeyValueMaps),
        new(BPF_FUNC_map_delete_elem, "map_delete_elem", HelperReturnType.Integer, [HelperArgType.ConstMapPtr, HelperArgType.PtrToMapKey], KeyValueMaps),
        new(BPF_FUNC_ktime_get_ns, "ktime_get_ns", HelperReturnType.Integer, []),
        // bpf_trace_printk(fmt, fmt_size, ...): up to three more arguments, which the kernel does not check either.
        new(BPF_FUNC_trace_printk, "trace_printk", HelperReturnType.Integer, [HelperArgType.PtrToMem, HelperArgType.ConstSize]),
        new(BPF_FUNC_get_prandom_u32, "get_prandom_u32", HelperReturnType.Integer, []),
        new(BPF_FUNC_get_current_pid_tgid, "get_current_pid_tgid", HelperReturnType.Integer, []),
        new(BPF_FUNC_get_current_uid_gid, "get_current_uid_gid", HelperReturnType.Integer, []),
        new(BPF_FUNC_get_current_comm, "get_current_comm", HelperReturnType.Integer, [HelperArgType.PtrToUninitMem, HelperArgType.ConstSize]),
        new(BPF_FUNC_probe_read_user, "probe_read_user", HelperReturnType.Integer, [HelperArgType.PtrToUninitMem, HelperArgType.ConstSizeOrZero, HelperArgType.Anything]),
        new(BPF_FUNC_probe_read_user_str, "probe_read_user_str", HelperReturnType.Integer, [HelperArgType.PtrToUninitMem, HelperArgType.ConstSizeOrZero, HelperArgType.Anything]),
        new(BPF_FUNC_ringbuf_output, "ringbuf_output", HelperReturnType.Integer, [HelperArgType.ConstMapPtr, HelperArgType.PtrToMem, HelperArgType.ConstSizeOrZero, HelperArgType.Anything], RingBuf),
        new(BPF_FUNC_ringbuf_reserve, "ringbuf_reserve", HelperReturnType.PtrToAllocMemOrNull, [HelperArgType.ConstMapPtr, HelperArgType.ConstAllocSize, HelperArgType.Anything], RingBuf),
        new(BPF_FUNC_ringbuf_submit, "ringbuf_submit", HelperReturnType.Void, [HelperArgType.PtrToAllocMem, HelperArgType.Anything]),
        new(BPF_FUNC_ringbuf_discard, "ringbuf_discard", HelperReturnType.Void, [HelperArgType.PtrToAllocMem, HelperArgType.Anything]),
        new(BPF_FUNC_task_storage_get, "task_storage_get", HelperReturnType.PtrToMapValueOrNull, [HelperArgType.ConstMapPtr, HelperArgType.Anything, HelperArgType.PtrToMapValueOrNull, HelperArgType.Anything], TaskStorage),
        new(BPF_FUNC_task_storage_delete, "task_storage_delete", HelperReturnType.Integer, [HelperArgType.ConstMapPtr, HelperArgType.Anything], TaskStorage),
        // The task handle task_storage_get/delete take; the kernel returns a BTF task pointer, here an opaque scalar.
        new(BPF_FUNC_get_current_task_btf, "get_current_task_btf", HelperReturnType.Integer, []),
    }.ToImmutableDictionary(p => p.Id);
}
