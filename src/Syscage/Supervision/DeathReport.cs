using System.Globalization;
using Syscage.Bpf;
using Syscage.Kernel;
using Syscage.Kernel.Notify;
using Syscage.Abi;

namespace Syscage.Supervision;

/// <summary>
/// Says how a sandboxed command died, honestly: a SIGSYS can come from a seccomp KILL, from a TRAP nobody handled, or
/// from any process's <c>kill -SYS</c>, and the exit status can't tell them apart; what the filter can return and what
/// the supervisor did can.
/// </summary>
/// <param name="source">What decided the calls, for the message (<c>policy 'default'</c>).</param>
/// <param name="filter">The filter installed in the kernel, when known (its RET instructions say which actions it can take).</param>
/// <param name="applier">The supervisor's verdict applier (its kills and traps), shared with the handlers.</param>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class DeathReport(string source, BpfProgram? filter, VerdictApplier applier)
{
    /// <summary>The filter installed in the kernel, once known.</summary>
    public BpfProgram? Filter { get; set; } = filter;

    /// <summary>The line to print after the command's name, or null when its end needs no comment.</summary>
    public string? Describe(SandboxExit exit, int commandPid)
    {
        if (exit.Signal is not int signal)
            return null;
        if (signal == Signals.SIGKILL && applier.KillOf(commandPid) is { } kill)
            return $"was killed by the supervisor for a {kill.Action} verdict of {source} on {kill.Call} " +
                   "(with SIGKILL: from user space only SIGKILL is certain to kill; the kernel's own KILL uses SIGSYS)";
        if (!exit.KilledBySigsys)
            return string.Create(CultureInfo.InvariantCulture, $"was killed by {SignalName(signal)}{(exit.CoreDumped ? " (core dumped)" : "")}");
        if (applier.TrappedThreads.Count > 0)
            return $"was killed by SIGSYS: a TRAP verdict of {source} that the command did not handle";
        var kinds = Filter?.ReturnedActions();
        bool kills = kinds is null || kinds.Contains(SeccompActionKind.KillProcess) || kinds.Contains(SeccompActionKind.KillThread) || kinds.Contains(SeccompActionKind.Unknown);
        bool traps = kinds is null || kinds.Contains(SeccompActionKind.Trap);
        const string hint = "; 'syscage explain' shows which rule decides a call";
        return (kills, traps) switch
        {
            (true, false) => $"was killed by seccomp (SIGSYS): a system call hit a KILL action of {source} (or a process sent it SIGSYS){hint}",
            (false, true) => $"was killed by SIGSYS: a TRAP action of {source} that the command did not handle (or a process sent it SIGSYS){hint}",
            (true, true) => $"was killed by SIGSYS: a KILL action of {source}, or one of its TRAP actions unhandled (or a process sent it SIGSYS){hint}",
            _ => $"was killed by SIGSYS, which the filter did not send ({source} has no KILL or TRAP action): a process sent it",
        };
    }

    private static string SignalName(int signal) =>
        Signals.Name(signal) ?? string.Create(CultureInfo.InvariantCulture, $"signal {signal}");
}
