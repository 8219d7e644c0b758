using System.CommandLine;
using Syscage.Bpf;
using Syscage.Kernel;
using Syscage.Abi;

namespace Syscage.Cli.Commands;

/// <summary><c>syscage doctor</c>: what this kernel and machine support.</summary>
public static class DoctorCommand
{
    /// <summary>The command definition; it only unpacks the parse result.</summary>
    public static Command Create()
    {
        var cmd = new Command("doctor", "Report what this kernel supports: seccomp actions, filter flags, user notification, helpers Syscage uses");
        cmd.SetAction(p => CliApp.Guard(p, (o, e) => Run(o, e)));
        return cmd;
    }

    /// <summary>Prints one line per feature; exit 1 if seccomp filtering itself is missing.</summary>
    public static int Run(TextWriter stdout, TextWriter stderr)
    {
        string release = File.Exists("/proc/sys/kernel/osrelease") ? File.ReadAllText("/proc/sys/kernel/osrelease").Trim() : "?";
        stdout.WriteLine($"kernel           {release} ({System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture})");
        bool filterOk;
        try
        {
            filterOk = Seccomp.IsActionAvailable(SeccompAction.SECCOMP_RET_ALLOW);
        }
        catch (KernelException e)
        {
            stdout.WriteLine($"seccomp          not available: {e.Message}");
            return (int)ExitCode.Rejected;
        }
        stdout.WriteLine($"seccomp          mode of this process: {Seccomp.CurrentMode() switch { 0 => "none", 1 => "strict", _ => "filter" }}");
        var actions = new (string Name, uint Value)[]
        {
            ("KILL_PROCESS", SeccompAction.SECCOMP_RET_KILL_PROCESS), ("KILL_THREAD", SeccompAction.SECCOMP_RET_KILL_THREAD),
            ("TRAP", SeccompAction.SECCOMP_RET_TRAP), ("ERRNO", SeccompAction.SECCOMP_RET_ERRNO),
            ("USER_NOTIF", SeccompAction.SECCOMP_RET_USER_NOTIF), ("TRACE", SeccompAction.SECCOMP_RET_TRACE),
            ("LOG", SeccompAction.SECCOMP_RET_LOG), ("ALLOW", SeccompAction.SECCOMP_RET_ALLOW),
        };
        stdout.WriteLine("actions          " + string.Join(" ", actions.Select(a => Seccomp.IsActionAvailable(a.Value) ? a.Name : $"no-{a.Name}")));
        var flags = new[] { FilterFlags.Tsync, FilterFlags.Log, FilterFlags.SpecAllow, FilterFlags.NewListener, FilterFlags.TsyncEsrch, FilterFlags.WaitKillableRecv };
        // WAIT_KILLABLE_RECV is only valid together with NEW_LISTENER.
        stdout.WriteLine("filter flags     " + string.Join(" ", flags.Select(f =>
            Seccomp.AreFlagsSupported(f == FilterFlags.WaitKillableRecv ? f | FilterFlags.NewListener : f) ? FlagName(f) : $"no-{FlagName(f)}")));
        try
        {
            var sizes = Seccomp.GetNotifSizes();
            stdout.WriteLine($"user notif       struct sizes: seccomp_notif {sizes.Notif}, seccomp_notif_resp {sizes.NotifResp}, seccomp_data {sizes.Data}");
        }
        catch (KernelException e)
        {
            stdout.WriteLine($"user notif       unavailable: {e.Message}");
        }
        string logged = File.Exists("/proc/sys/kernel/seccomp/actions_logged") ? File.ReadAllText("/proc/sys/kernel/seccomp/actions_logged").Trim() : "?";
        stdout.WriteLine($"actions logged   {logged}");
        stdout.WriteLine($"launcher         {(File.Exists(SandboxedProcess.LauncherPath) ? SandboxedProcess.LauncherPath : "MISSING: " + SandboxedProcess.LauncherPath)}");
        stdout.WriteLine($"privileges       {(Environment.UserName == "root" ? "root: CAP_SYS_ADMIN would allow filters without no_new_privs, but Syscage sets it anyway" : "unprivileged: Syscage sets no_new_privs before installing (setuid binaries inside won't gain privileges)")}");
        return filterOk ? (int)ExitCode.Ok : (int)ExitCode.Rejected;
    }

    private static string FlagName(FilterFlags f) => f switch
    {
        FilterFlags.Tsync => "TSYNC",
        FilterFlags.Log => "LOG",
        FilterFlags.SpecAllow => "SPEC_ALLOW",
        FilterFlags.NewListener => "NEW_LISTENER",
        FilterFlags.TsyncEsrch => "TSYNC_ESRCH",
        _ => "WAIT_KILLABLE_RECV",
    };
}
