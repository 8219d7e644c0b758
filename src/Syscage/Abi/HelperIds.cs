namespace Syscage.Abi;

/// <summary>
/// The kernel ids of the helpers Syscage supports (<c>__BPF_FUNC_MAPPER</c> in <c>include/uapi/linux/bpf.h</c>; a test
/// checks them against the header). <c>Syscage.Ebpf.Helpers.HelperPrototypes</c> gives their signatures for the verifier,
/// <c>HelperImplementations</c> their code for the VM.
/// </summary>
public static class HelperIds
{
#pragma warning disable CS1591 // Kernel names: BPF_FUNC_* in include/uapi/linux/bpf.h.
    public const int BPF_FUNC_map_lookup_elem = 1;
    public const int BPF_FUNC_map_update_elem = 2;
    public const int BPF_FUNC_map_delete_elem = 3;
    public const int BPF_FUNC_ktime_get_ns = 5;
    public const int BPF_FUNC_trace_printk = 6;
    public const int BPF_FUNC_get_prandom_u32 = 7;
    public const int BPF_FUNC_get_current_pid_tgid = 14;
    public const int BPF_FUNC_get_current_uid_gid = 15;
    public const int BPF_FUNC_get_current_comm = 16;
    public const int BPF_FUNC_probe_read_user = 112;
    public const int BPF_FUNC_probe_read_user_str = 114;
    public const int BPF_FUNC_ringbuf_output = 130;
    public const int BPF_FUNC_ringbuf_reserve = 131;
    public const int BPF_FUNC_ringbuf_submit = 132;
    public const int BPF_FUNC_ringbuf_discard = 133;
    public const int BPF_FUNC_task_storage_get = 156;
    public const int BPF_FUNC_task_storage_delete = 157;
    public const int BPF_FUNC_get_current_task_btf = 158;
#pragma warning restore CS1591
}
