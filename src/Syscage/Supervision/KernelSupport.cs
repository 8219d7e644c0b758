using Syscage.Abi;
using Syscage.Kernel;

namespace Syscage.Supervision;

/// <summary>What this kernel and machine support, as <c>syscage doctor</c> reports it.</summary>
/// <param name="Release">The kernel release (<c>/proc/sys/kernel/osrelease</c>).</param>
/// <param name="ProcessArchitecture">This process's architecture.</param>
/// <param name="SeccompError">Why seccomp filtering is unavailable, or null when it works.</param>
/// <param name="Mode">This process's seccomp mode: 0 none, 1 strict, 2 filter.</param>
/// <param name="Actions">Each action and whether the kernel has it (<c>SECCOMP_GET_ACTION_AVAIL</c>).</param>
/// <param name="FilterFlags">Each filter flag (kernel name without the prefix) and whether the kernel takes it.</param>
/// <param name="NotifSizes">The user-notification structure sizes, or null with <paramref name="NotifError"/>.</param>
/// <param name="NotifError">Why user notification is unavailable.</param>
/// <param name="ActionsLogged">The actions the kernel logs (<c>/proc/sys/kernel/seccomp/actions_logged</c>).</param>
/// <param name="LauncherPath">Where the launcher is expected.</param>
/// <param name="LauncherPresent">Whether it is there.</param>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed record KernelSupport(
    string Release, Architecture? ProcessArchitecture, string? SeccompError, int Mode,
    IReadOnlyList<(string Name, bool Available)> Actions, IReadOnlyList<(string Name, bool Supported)> FilterFlags,
    (int Notif, int NotifResp, int Data)? NotifSizes, string? NotifError, string ActionsLogged, string LauncherPath, bool LauncherPresent)
{
    /// <summary>Asks the kernel.</summary>
    public static KernelSupport Read()
    {
        string release = ReadText("/proc/sys/kernel/osrelease");
        string logged = ReadText("/proc/sys/kernel/seccomp/actions_logged");
        string launcher = SandboxedProcess.LauncherPath;
        try
        {
            Seccomp.IsActionAvailable(SeccompAction.SECCOMP_RET_ALLOW);
        }
        catch (KernelException e)
        {
            return new KernelSupport(release, Architecture.Native, e.Message, 0, [], [], null, null, logged, launcher, File.Exists(launcher));
        }
        var actions = new (string Name, uint Value)[]
        {
            ("KILL_PROCESS", SeccompAction.SECCOMP_RET_KILL_PROCESS), ("KILL_THREAD", SeccompAction.SECCOMP_RET_KILL_THREAD),
            ("TRAP", SeccompAction.SECCOMP_RET_TRAP), ("ERRNO", SeccompAction.SECCOMP_RET_ERRNO),
            ("USER_NOTIF", SeccompAction.SECCOMP_RET_USER_NOTIF), ("TRACE", SeccompAction.SECCOMP_RET_TRACE),
            ("LOG", SeccompAction.SECCOMP_RET_LOG), ("ALLOW", SeccompAction.SECCOMP_RET_ALLOW),
        };
        var flags = new (string Name, Kernel.FilterFlags Value)[]
        {
            ("TSYNC", Kernel.FilterFlags.Tsync), ("LOG", Kernel.FilterFlags.Log), ("SPEC_ALLOW", Kernel.FilterFlags.SpecAllow),
            ("NEW_LISTENER", Kernel.FilterFlags.NewListener), ("TSYNC_ESRCH", Kernel.FilterFlags.TsyncEsrch),
            ("WAIT_KILLABLE_RECV", Kernel.FilterFlags.WaitKillableRecv),
        };
        (int, int, int)? sizes = null;
        string? notifError = null;
        try
        {
            var s = Seccomp.GetNotifSizes();
            sizes = (s.Notif, s.NotifResp, s.Data);
        }
        catch (KernelException e)
        {
            notifError = e.Message;
        }
        return new KernelSupport(
            release, Architecture.Native, null, Seccomp.CurrentMode(),
            [.. actions.Select(a => (a.Name, Seccomp.IsActionAvailable(a.Value)))],
            // WAIT_KILLABLE_RECV is only valid together with NEW_LISTENER.
            [.. flags.Select(f => (f.Name, Seccomp.AreFlagsSupported(f.Value == Kernel.FilterFlags.WaitKillableRecv ? f.Value | Kernel.FilterFlags.NewListener : f.Value)))],
            sizes, notifError, logged, launcher, File.Exists(launcher));
    }

    private static string ReadText(string path) => File.Exists(path) ? File.ReadAllText(path).Trim() : "?";

    /// <summary>The machine's architecture as .NET names it.</summary>
    public static string MachineArchitecture => System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString();
}
