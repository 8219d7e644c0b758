using Syscage.Bpf;
using Syscage.Kernel;
using Syscage.Policy;
using Syscage.Abi;
using static Syscage.Kernel.Tests.Sandboxed;

namespace Syscage.Kernel.Tests;

/// <summary>Every seccomp action observed live, in a child process under a compiled policy.</summary>
public sealed class ActionTests
{
    [Fact]
    public void Allow()
    {
        var o = Run(PolicyFor(Unused, SeccompAction.Allow), "call", $"{Unused}");
        Assert.Equal($"ret -1 errno {ENOSYS}", o.Stdout);   // the kernel ran it: no such syscall
        Assert.Equal(0, o.Exit.ExitCode);
    }

    [Fact]
    public void ErrnoReturnsMinusN()
    {
        var o = Run(PolicyFor(Unused, SeccompAction.Errno(42)), "call", $"{Unused}");
        Assert.Equal("ret -1 errno 42", o.Stdout);
        // ERRNO(0): the call "succeeds" with 0 without running.
        o = Run(PolicyFor(Unused, SeccompAction.Errno(0)), "call", $"{Unused}");
        Assert.Equal("ret 0 errno 0", o.Stdout);
    }

    [Fact]
    public void KillProcessIsSigsys()
    {
        var o = Run(PolicyFor(Unused, SeccompAction.KillProcess), "call", $"{Unused}");
        Assert.Equal("", o.Stdout);
        Assert.True(o.Exit.KilledBySigsys, o.ToString());
        Assert.Equal(128 + 31, o.Exit.ShellStatus);
    }

    [Fact]
    public void KillThreadEndsOnlyTheCallingThread()
    {
        var o = Run(PolicyFor(Unused, SeccompAction.KillThread), "thread", $"{Unused}");
        Assert.Equal("thread gone", o.Stdout);
        Assert.Equal(0, o.Exit.ExitCode);
        // The last thread: the process goes.
        o = Run(PolicyFor(Unused, SeccompAction.KillThread), "call", $"{Unused}");
        Assert.True(o.Exit.KilledBySigsys, o.ToString());
    }

    [Fact]
    public void TrapDeliversSigsysWithTheSyscallAndData()
    {
        var o = Run(PolicyFor(Unused, SeccompAction.Trap(7)), "trap", $"{Unused}");
        // si_code SYS_SECCOMP (1), si_syscall the number, si_errno the action's data.
        Assert.Equal($"sigsys syscall {Unused} errno 7 code 1", o.Stdout);
    }

    [Fact]
    public void LogAllowsTheCall()
    {
        var o = Run(PolicyFor(Unused, SeccompAction.Log), "call", $"{Unused}");
        Assert.Equal($"ret -1 errno {ENOSYS}", o.Stdout);
    }

    [Fact]
    public void TraceWithoutATracerFailsWithEnosys()
    {
        var o = Run(PolicyFor(39 /* getpid */, SeccompAction.Trace(1)), "call", "39");
        Assert.Equal($"ret -1 errno {ENOSYS}", o.Stdout);   // getpid itself would have succeeded
    }

    [Fact]
    public void UserNotifWithoutAListenerFailsWithEnosys()
    {
        var o = Run(PolicyFor(39, SeccompAction.UserNotif), "call", "39");
        Assert.Equal($"ret -1 errno {ENOSYS}", o.Stdout);
    }

    [Fact]
    public void ArgumentConditionsSeeAll64Bits()
    {
        var policy = PolicyFor(Unused, SeccompAction.Errno(5), Condition.Of(new ArgPredicate(2, ComparisonOp.Eq, 0x1_0000_0005)));
        Assert.Equal("ret -1 errno 5", Run(policy, "call", $"{Unused}", "0", "0", "0x100000005").Stdout);
        Assert.Equal($"ret -1 errno {ENOSYS}", Run(policy, "call", $"{Unused}", "0", "0", "5").Stdout);
        Assert.Equal($"ret -1 errno {ENOSYS}", Run(policy, "call", $"{Unused}", "0", "0", "0x200000005").Stdout);
        var masked = PolicyFor(Unused, SeccompAction.Errno(6), Condition.Of(new ArgPredicate(0, ComparisonOp.MaskedEq, 0x8000_0000_0000_0000, 0x8000_0000_0000_0000)));
        Assert.Equal("ret -1 errno 6", Run(masked, "call", $"{Unused}", "0x8000000000000001").Stdout);
        Assert.Equal($"ret -1 errno {ENOSYS}", Run(masked, "call", $"{Unused}", "0x80000001").Stdout);
    }

    [Fact]
    public void TheSandboxExitDescribesALaunchFailure()
    {
        var policy = PolicyFor(59 /* execve */, SeccompAction.Errno(13));
        var info = new SandboxedProcessStartInfo("/bin/true") { RedirectStandardOutput = true };
        using var p = SandboxedProcess.Start(Syscage.Policy.Compiler.PolicyCompiler.Compile(policy), info);
        var exit = p.WaitForExit();
        Assert.Equal("execve: EACCES (Permission denied)", exit.Failure);
    }
}
