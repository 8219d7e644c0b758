using System.Globalization;
using System.Runtime.InteropServices;
using Syscage.Abi;
using Syscage.Bpf;
using static Syscage.Kernel.Interop.Libc;

namespace Syscage.Kernel;

/// <summary>
/// Reads the seccomp filters of a running process from the kernel: <c>PTRACE_SECCOMP_GET_FILTER</c> gives each
/// classic program as it was installed, <c>PTRACE_SECCOMP_GET_METADATA</c> its kept flags (<c>SECCOMP_FILTER_FLAG_LOG</c>),
/// and <c>/proc/PID/status</c> the <c>Seccomp</c> and <c>Seccomp_filters</c> lines.
/// </summary>
/// <remarks>
/// The kernel (<c>seccomp_get_filter</c>) answers only a tracer that holds CAP_SYS_ADMIN and runs under no filter of its
/// own, and only while the task is in a ptrace-stop: the process is seized, interrupted, read and released, on one
/// thread (ptrace requests must come from the thread that attached). Index 0 is the first filter installed: the
/// kernel's <c>get_nth_filter</c> walks back from the newest.
/// </remarks>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class SeccompInspection
{
    /// <summary>One filter as the kernel holds it.</summary>
    internal sealed record Filter(Instruction[] Instructions, ulong Flags);

    /// <summary>The <c>Seccomp</c> and <c>Seccomp_filters</c> lines of <c>/proc/PID/status</c> (null when absent).</summary>
    public static (int? Mode, int? Filters) Status(int pid)
    {
        Span<byte> buffer = stackalloc byte[ProcFs.StatusBytes];
        int n = ProcFs.Read(pid, "status"u8, buffer);
        if (n < 0)
            throw new KernelException(string.Create(CultureInfo.InvariantCulture, $"read /proc/{pid}/status"), Marshal.GetLastPInvokeError() is int e and > 0 ? e : Errno.ESRCH,
                "no such process, or it is not visible here");
        var text = buffer[..n];
        long mode = ProcFs.Field(text, "Seccomp:"u8);
        long filters = ProcFs.Field(text, "Seccomp_filters:"u8);
        return (mode < 0 ? null : (int)mode, filters < 0 ? null : (int)filters);
    }

    /// <summary>Every filter of task <paramref name="pid"/>, the first installed first.</summary>
    /// <exception cref="KernelException">The kernel refused (with what is needed), or the process is gone.</exception>
    public static unsafe List<Filter> Read(int pid)
    {
        const string Needs = "reading a process's seccomp filters needs CAP_SYS_ADMIN, ptrace access to the process, and no seccomp filter on syscage itself";
        if (syscall4(SYS_ptrace, PTRACE_SEIZE, pid, 0, 0) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new KernelException(string.Create(CultureInfo.InvariantCulture, $"ptrace(PTRACE_SEIZE, {pid})"), errno,
                errno == Errno.ESRCH ? "no such process" : Needs);
        }
        int stopSignal = 0;
        try
        {
            if (syscall4(SYS_ptrace, PTRACE_INTERRUPT, pid, 0, 0) < 0)
                throw KernelException.FromLastError(string.Create(CultureInfo.InvariantCulture, $"ptrace(PTRACE_INTERRUPT, {pid})"));
            int status;
            int waited;
            do
                waited = waitpid(pid, &status, __WALL);
            while (waited < 0 && Marshal.GetLastPInvokeError() == Errno.EINTR);
            if (waited < 0)
                throw KernelException.FromLastError(string.Create(CultureInfo.InvariantCulture, $"waitpid({pid}, __WALL)"));
            // wait(2)'s status: a stop is 0x7f in the low byte, the signal in the next, a ptrace event above them.
            bool stopped = (status & 0xff) == 0x7f;
            if (!stopped)
                throw new KernelException(string.Create(CultureInfo.InvariantCulture, $"waitpid({pid}, __WALL)"), Errno.ESRCH, "the process ended while being read");
            // A signal-delivery-stop (no event) holds a signal the process must still get: passed on at the detach.
            if (status >> 16 != PTRACE_EVENT_STOP)
                stopSignal = (status >> 8) & 0xff;

            var filters = new List<Filter>();
            for (int index = 0; ; index++)
            {
                nint length = syscall4(SYS_ptrace, PTRACE_SECCOMP_GET_FILTER, pid, index, 0);
                if (length < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    // ENOENT: past the last filter; EINVAL at 0: the process is not in filter mode.
                    if (errno == Errno.ENOENT || (errno == Errno.EINVAL && index == 0))
                        return filters;
                    throw new KernelException(string.Create(CultureInfo.InvariantCulture, $"ptrace(PTRACE_SECCOMP_GET_FILTER, {pid}, {index})"), errno,
                        errno == Errno.EACCES ? Needs : errno == Errno.EMEDIUMTYPE ? "the filter is not a classic BPF program" : null);
                }
                var bytes = new byte[length * 8];
                fixed (byte* b = bytes)
                {
                    nint again = syscall4(SYS_ptrace, PTRACE_SECCOMP_GET_FILTER, pid, index, (nint)b);
                    if (again < 0)
                        throw KernelException.FromLastError(string.Create(CultureInfo.InvariantCulture, $"ptrace(PTRACE_SECCOMP_GET_FILTER, {pid}, {index})"));
                    if (again != length)
                        throw new KernelException(string.Create(CultureInfo.InvariantCulture, $"ptrace(PTRACE_SECCOMP_GET_FILTER, {pid}, {index})"), Errno.EIO,
                            $"the filter's length changed between two reads ({length}, then {again} instructions)");
                }
                var md = new SeccompMetadata { FilterOff = (ulong)index };
                ulong flags = syscall4(SYS_ptrace, PTRACE_SECCOMP_GET_METADATA, pid, sizeof(SeccompMetadata), (nint)(&md)) < 0 ? 0 : md.Flags;
                filters.Add(new Filter(SockFilter.Read(bytes), flags));
            }
        }
        finally
        {
            syscall4(SYS_ptrace, PTRACE_DETACH, pid, 0, stopSignal);
        }
    }
}
