using Syscage.Bpf;

namespace Syscage.Kernel;

/// <summary>
/// Sandboxes the current .NET process: every thread, now and later, runs under the filter for the rest of the
/// process's life. Make sure the policy allows what the runtime itself needs (memory management, futexes,
/// signals, thread creation) or the process will be stopped by its own filter.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public static class Sandbox
{
    /// <summary>
    /// Sets no_new_privs and installs <paramref name="filter"/> on every thread of the process with
    /// <c>SECCOMP_FILTER_FLAG_TSYNC</c>. If a thread can't be synchronised (it has a filter of its own that is not
    /// an ancestor of this thread's), nothing is installed and a <see cref="KernelException"/> names the thread.
    /// </summary>
    public static void Apply(BpfProgram filter, FilterFlags extraFlags = FilterFlags.None)
    {
        ArgumentNullException.ThrowIfNull(filter);
        if ((extraFlags & FilterFlags.NewListener) != 0)
            throw new ArgumentException("a listener is for a supervisor process, not for sandboxing oneself", nameof(extraFlags));
        Seccomp.SetNoNewPrivileges();
        Seccomp.InstallFilter(filter, FilterFlags.Tsync | extraFlags);
    }
}
