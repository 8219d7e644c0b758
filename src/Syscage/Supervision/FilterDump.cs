using Syscage.Abi;
using Syscage.Bpf;
using Syscage.Kernel;

namespace Syscage.Supervision;

/// <summary>One seccomp filter of a running process, as the kernel holds it.</summary>
/// <param name="Index">Its place: 0 is the first installed (it runs after the later ones, whose verdicts take precedence by action, not order).</param>
/// <param name="Instructions">The classic program, as it was installed (not validated here: the kernel accepted it).</param>
/// <param name="Log">True when it was installed with <c>SECCOMP_FILTER_FLAG_LOG</c> (the only flag the kernel keeps to report).</param>
public sealed record InstalledFilter(int Index, IReadOnlyList<Instruction> Instructions, bool Log);

/// <summary>What <c>syscage dump PID</c> reads of a process.</summary>
/// <param name="Pid">The process (a task: filters belong to threads; this is the one named).</param>
/// <param name="Mode">The <c>Seccomp</c> line of <c>/proc/PID/status</c>: 0 none, 1 strict, 2 filter (null when absent).</param>
/// <param name="FilterCount">The <c>Seccomp_filters</c> line (null when absent).</param>
/// <param name="Filters">Every filter, the first installed first.</param>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed record ProcessFilters(int Pid, int? Mode, int? FilterCount, IReadOnlyList<InstalledFilter> Filters)
{
    /// <summary>Reads them (<c>PTRACE_SECCOMP_GET_FILTER</c>; needs CAP_SYS_ADMIN, and says so when refused).</summary>
    /// <exception cref="SyscageException">The kernel refused, or the process is gone.</exception>
    public static ProcessFilters Read(int pid)
    {
        if (pid <= 0)
            throw new ArgumentOutOfRangeException(nameof(pid), pid, "a process id is positive");
        var (mode, count) = SeccompInspection.Status(pid);
        var filters = mode == 0 ? [] : SeccompInspection.Read(pid);
        ulong log = (ulong)Uapi.SECCOMP_FILTER_FLAG_LOG;
        return new ProcessFilters(pid, mode, count, [.. filters.Select((f, i) => new InstalledFilter(i, f.Instructions, (f.Flags & log) != 0))]);
    }

    /// <summary>The mode as <c>/proc</c> names it: <c>none</c>, <c>strict</c>, <c>filter</c>.</summary>
    public string ModeName => Mode switch { 0 => "none", 1 => "strict", 2 => "filter", null => "unknown", _ => Mode.Value.ToString(System.Globalization.CultureInfo.InvariantCulture) };
}
