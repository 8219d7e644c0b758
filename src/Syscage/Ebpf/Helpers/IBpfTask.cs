namespace Syscage.Ebpf.Helpers;

/// <summary>
/// The task a program runs on behalf of ("current" in the kernel's helpers). The seccomp supervisor binds the task
/// that made the notified system call (pidfd + <c>process_vm_readv</c>); tests bind a fake.
/// </summary>
public interface IBpfTask
{
    /// <summary>Thread id (the kernel's <c>pid</c>): the low half of <c>bpf_get_current_pid_tgid()</c>.</summary>
    int Pid { get; }

    /// <summary>Thread-group id (the user-visible process id): the high half of <c>bpf_get_current_pid_tgid()</c>.</summary>
    int Tgid { get; }

    /// <summary>Real user id: the low half of <c>bpf_get_current_uid_gid()</c>.</summary>
    uint Uid { get; }

    /// <summary>Real group id: the high half of <c>bpf_get_current_uid_gid()</c>.</summary>
    uint Gid { get; }

    /// <summary>The task's command name (at most 15 bytes are used, as in <c>TASK_COMM_LEN</c>).</summary>
    string Comm { get; }

    /// <summary>
    /// Whether <c>bpf_probe_read_user[_str]</c> may read the task's memory. The eBPF-seccomp patch set allows it only
    /// when the filter's installer could ptrace the task; when false those helpers return <c>-EPERM</c>.
    /// </summary>
    bool MayReadMemory { get; }

    /// <summary>
    /// Reads <paramref name="destination"/>.Length bytes of the task's memory at <paramref name="address"/>.
    /// Returns 0 when every byte was read, otherwise a negative errno (<c>-EFAULT</c> for unmapped memory).
    /// </summary>
    int ReadMemory(ulong address, Span<byte> destination);

    /// <summary>
    /// Identifies the task for task-local storage: two <see cref="IBpfTask"/> objects for the same task must return
    /// equal identities (for instance the thread id wrapped in a record, or the pidfd's inode).
    /// </summary>
    object Identity { get; }
}

/// <summary>What the helpers of one program run are bound to: the current task and where <c>bpf_trace_printk</c> writes.</summary>
/// <param name="Task">The current task; null when the program runs with no task (conformance tests, <c>syscage ebpf run</c>),
/// in which case task helpers return zeros or <c>-ESRCH</c>.</param>
/// <param name="TraceSink">Receives each <c>bpf_trace_printk</c> line; null discards them.</param>
public sealed record HelperContext(IBpfTask? Task = null, Action<string>? TraceSink = null)
{
    /// <summary>No task, no trace output.</summary>
    public static HelperContext None { get; } = new();
}
