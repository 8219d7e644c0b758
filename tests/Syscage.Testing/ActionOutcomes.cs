using Syscage.Abi;

namespace Syscage.Testing;

/// <summary>What a call made by the native probe shows of the verdict its filter gave it (seccomp(2), "Filter return values").</summary>
public static class ActionOutcomes
{
    /// <summary>
    /// The outcome of a call the filter does not let run, or null for ALLOW and LOG, whose outcome is the call's own.
    /// ERRNO(n): the call returns -1 with errno n (n above 4095 taken as 4095), except ERRNO(0), which returns 0.
    /// KILL_PROCESS, KILL_THREAD (the probe's child has one thread), TRAP (SIGSYS's default action kills) and
    /// values that are no action (the kernel takes them as KILL_PROCESS): death by SIGSYS. TRACE without a tracer and
    /// USER_NOTIF without a listener: -1 with ENOSYS.
    /// </summary>
    public static CallOutcome? Refusal(SeccompAction action)
    {
        var effective = action.Effective;
        return effective.Kind switch
        {
            SeccompActionKind.Allow or SeccompActionKind.Log => null,
            SeccompActionKind.Errno => effective.Data == 0 ? CallOutcome.Returned(0, 0) : CallOutcome.Returned(-1, effective.Data),
            SeccompActionKind.Trace or SeccompActionKind.UserNotif => CallOutcome.Returned(-1, Errno.ENOSYS),
            _ => CallOutcome.Killed(CallOutcome.SIGSYS),
        };
    }
}
