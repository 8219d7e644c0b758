using System.Globalization;
using Syscage.Bpf;
using static Syscage.EbpfSeccomp.Tests.Harness;
using Syscage.Abi;
using Syscage.Supervision;

namespace Syscage.EbpfSeccomp.Tests;

/// <summary>
/// How the supervisor applies each verdict, checked on real child processes: a program returns the knob
/// <c>verdict</c> for the call <c>target_nr</c> and ALLOW for every other. <c>Split = false</c> keeps the calls in
/// the supervisor (with the split, a knob-only program may be decided by the kernel itself).
/// </summary>
public sealed class VerdictTests
{
    private const string Source = """
        #include "common.h"
        const volatile __u32 target_nr = 0;
        const volatile __u32 verdict = SECCOMP_RET_ALLOW;

        SEC("seccomp")
        int verdict_prog(struct seccomp_data *ctx)
        {
            return ctx->nr == (int)target_nr ? verdict : SECCOMP_RET_ALLOW;
        }
        char LICENSE[] SEC("license") = "GPL";
        """;

    private static readonly HybridOptions NoSplit = new() { Split = false };

    private static Outcome RunVerdict(uint verdict, params string[] args)
    {
        using var set = Set(Compile("verdict", Source), ("target_nr", (ulong)Nr("getppid")), ("verdict", verdict));
        return Run(set, NoSplit, args);
    }

    private static string Getppid => Nr("getppid").ToString(CultureInfo.InvariantCulture);

    [Fact]
    public void Allow_RunsTheCall()
    {
        var o = RunVerdict(SeccompAction.SECCOMP_RET_ALLOW, "call", Getppid);
        Assert.True(o.Exit.ExitCode == 0, o.ToString());
        Assert.Matches(@"^ret [1-9]\d* errno 0$", o.Lines.Single());
        Assert.True(o.Handler.Notifications > 0, o.ToString());
    }

    [Fact]
    public void Errno_FailsTheCall()
    {
        var o = RunVerdict(SeccompAction.SECCOMP_RET_ERRNO | 13, "call", Getppid);
        Assert.Equal("ret -1 errno 13", o.Lines.Single());
    }

    [Fact]
    public void ErrnoZero_ReturnsZeroWithoutRunningTheCall()
    {
        var o = RunVerdict(SeccompAction.SECCOMP_RET_ERRNO | 0, "call", Getppid);
        Assert.Equal("ret 0 errno 0", o.Lines.Single());   // getppid itself would return the parent's pid
    }

    [Fact]
    public void ErrnoAboveMaxErrno_IsClampedTo4095()
    {
        var o = RunVerdict(SeccompAction.SECCOMP_RET_ERRNO | 5000, "call", Getppid);
        Assert.Equal("ret -1 errno 4095", o.Lines.Single());
    }

    [Fact]
    public void Log_RunsTheCallAndLogsIt()
    {
        var o = RunVerdict(SeccompAction.SECCOMP_RET_LOG, "call", Getppid);
        Assert.Matches(@"^ret [1-9]\d* errno 0$", o.Lines.Single());
        Assert.Contains("syscage: getppid() -> LOG (pid ", o.Log, StringComparison.Ordinal);
    }

    [Fact]
    public void Trace_FailsWithEnosysAsWithoutATracer()
    {
        var o = RunVerdict(SeccompAction.SECCOMP_RET_TRACE | 7, "call", Getppid);
        Assert.Equal("ret -1 errno 38", o.Lines.Single());
    }

    [Fact]
    public void KillProcess_EndsTheProcessWithSigkill()
    {
        // SIGKILL: the one signal a process can't catch, ignore or block while its call waits (KillFinalityTests).
        var o = RunVerdict(SeccompAction.SECCOMP_RET_KILL_PROCESS, "call", Getppid);
        Assert.True(o.Exit.Signal == 9, o.ToString());
        Assert.Equal(128 + 9, o.Exit.ShellStatus);
        Assert.Equal(o.CommandPid, Assert.Single(o.Handler.Applier.Kills).ProcessId);
        Assert.Equal("", o.Stdout);                            // the call never returned
        Assert.Contains("-> KILL_PROCESS: killing pid", o.Log, StringComparison.Ordinal);
    }

    [Fact]
    public void KillThread_EndsTheWholeProcess()
    {
        var o = RunVerdict(SeccompAction.SECCOMP_RET_KILL_THREAD, "call", Getppid);
        Assert.True(o.Exit.Signal == 9, o.ToString());
        Assert.Contains("-> KILL_THREAD", o.Log, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownAction_KillsAsTheKernelDoes()
    {
        var o = RunVerdict(0x0001_0000, "call", Getppid);
        Assert.True(o.Exit.Signal == 9, o.ToString());
        Assert.Contains("unknown action 0x00010000", o.Log, StringComparison.Ordinal);
    }

    [Fact]
    public void Kill_WhenSigsysIsBlockedStillKills()
    {
        var o = RunVerdict(SeccompAction.SECCOMP_RET_KILL_PROCESS, "blocked", Getppid);
        Assert.True(o.Exit.Signal == 9, o.ToString());
        Assert.Equal("", o.Stdout);
    }

    [Fact]
    public void Trap_FailsWithEnosysThenSignalsTheThread()
    {
        var o = RunVerdict(SeccompAction.SECCOMP_RET_TRAP | 3, "trap", Getppid);
        Assert.True(o.Exit.ExitCode == 38, o.ToString());
        // An ordinary tgkill siginfo (SI_TKILL = -6), not the kernel's SYS_SECCOMP (1): see the handler's remarks. The
        // signal is sent after the answer, so the handler may run before or after the target prints the call's result.
        Assert.Equal(["ret -1 errno 38", "sigsys code -6"], o.Lines.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void OnlyTheTargetCallIsAffected()
    {
        var o = RunVerdict(SeccompAction.SECCOMP_RET_ERRNO | 1, "call", Nr("getpid").ToString(CultureInfo.InvariantCulture));
        Assert.Matches(@"^ret [1-9]\d* errno 0$", o.Lines.Single());
        Assert.True(o.Handler.Verdicts.GetValueOrDefault(SeccompActionKind.Errno) == 0, o.ToString());
    }

    [Fact]
    public void Counters_CountNotificationsPerSyscall()
    {
        var o = RunVerdict(SeccompAction.SECCOMP_RET_ALLOW, "repeat", "5", Getppid);
        Assert.Equal(5, o.Lines.Length);
        Assert.Equal(5, o.Handler.NotificationsBySyscall.Single(kv => kv.Key == "getppid").Value);
        Assert.Equal(o.Handler.Notifications, o.Handler.NotificationsBySyscall.Sum(kv => kv.Value));
    }
}
