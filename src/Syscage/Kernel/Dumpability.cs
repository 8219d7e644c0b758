using static Syscage.Kernel.Interop.Libc;

namespace Syscage.Kernel;

/// <summary>
/// This process's "dumpable" attribute (<c>PR_SET_DUMPABLE</c>). A process that is not dumpable can't be reached by
/// other processes of the same user through the ptrace access check: "Processes that are not dumpable can not be
/// attached via ptrace(2) PTRACE_ATTACH" (prctl(2)), and the same check guards <c>/proc/PID/mem</c>, <c>environ</c>,
/// <c>fd/</c>, <c>process_vm_readv</c>/<c>writev</c> and <c>pidfd_getfd</c>. It also turns core dumps off.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class Dumpability
{
    /// <summary>True while this process is dumpable.</summary>
    public static bool IsDumpable => prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 1;

    /// <summary>Makes this process not dumpable, for the rest of its life (an execve would reset it; a supervisor makes none).</summary>
    public static void Disable()
    {
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
            throw KernelException.FromLastError("prctl(PR_SET_DUMPABLE, 0)");
    }
}
