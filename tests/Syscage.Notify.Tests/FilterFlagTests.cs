using System.Globalization;
using Syscage.Abi;
using Syscage.Kernel;
using Syscage.Kernel.Notify;
using Syscage.Supervision;
using Syscage.Testing;

namespace Syscage.Notify.Tests;

/// <summary>
/// Filter flags on a supervised run (<see cref="SessionOptions.FilterFlags"/>, what <c>syscage run</c> gives an OCI
/// profile's <c>flags</c>): SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV seen in the kernel, and the combinations the kernel
/// refuses said before the launch.
/// </summary>
public sealed class FilterFlagTests
{
    /// <summary>The scheduler state of a task, the letter after <c>(comm)</c> in <c>/proc/PID/stat</c>.</summary>
    private static char? State(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[stat.LastIndexOf(')') + 2];
        }
        catch (IOException)
        {
            return null;   // the task has gone
        }
    }

    /// <summary>
    /// The helper waits in a notified call; the handler, once it holds the notification, sends SIGUSR1 to the task. With
    /// WAIT_KILLABLE_RECV ("once received, a notified task waits killably") the task is woken, sees the notification was
    /// received, and goes back to sleep killably — state D — so the call still gets the supervisor's answer and the
    /// signal's handler runs after it. Without it the signal breaks the wait: the notification is withdrawn and the call
    /// fails with EINTR. The handler waits for one of the two to happen, so nothing depends on timing. Without the flag
    /// the task can answer, print and exit while the handler still looks: the state is read before the validity, so a
    /// task already gone counts as withdrawn, and the test reads what the handler saw only once the handler is done.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Wait_killable_recv_keeps_a_received_call_waiting_through_a_signal(bool killable)
    {
        var policy = Notified.NotifyPolicy(Notified.Unused);
        string? seen = null;
        using var handled = new ManualResetEventSlim();
        NotificationHandler handler = (n, ctx) =>
        {
            try
            {
                Assert.True(ctx.SignalThread(Signals.SIGUSR1));
                var until = DateTime.UtcNow.AddSeconds(60);
                while (seen is null && DateTime.UtcNow < until)
                {
                    char? state = State(n.Pid);
                    if (!ctx.IsValid())
                        seen = "withdrawn";
                    else if (state == 'D')
                        seen = "waiting killably";
                    else
                        Thread.Sleep(2);
                }
                return ValueTask.FromResult(NotificationResponse.Error(Errno.EACCES));
            }
            finally
            {
                handled.Set();
            }
        };
        var info = new SandboxedProcessStartInfo(Notified.Helper, "signal", Notified.Unused.ToString(CultureInfo.InvariantCulture)) { RedirectStandardOutput = true };
        using var session = SandboxSession.Start(policy, info, new SessionOptions
        {
            Handler = handler,
            FilterFlags = killable ? FilterFlags.WaitKillableRecv : FilterFlags.None,
        });
        string stdout = session.Process.StandardOutput.ReadToEnd().Trim();
        var exit = session.WaitForExit();
        Assert.Equal(0, exit.ExitCode);
        Assert.True(handled.Wait(TimeSpan.FromSeconds(90)), "the handler never finished");
        if (killable)
        {
            Assert.Equal("waiting killably", seen);
            Assert.Equal("sigusr1\nret -1 errno 13", stdout);
        }
        else
        {
            Assert.Equal("withdrawn", seen);
            Assert.Equal("sigusr1\nret -1 errno 4", stdout);   // EINTR
        }
    }

    [Fact]
    public void Wait_killable_recv_without_a_listener_is_refused_before_the_launch()
    {
        // Nothing goes to user space, so the filter has no listener, and the kernel would refuse the flag (EINVAL).
        var policy = new Policy.PolicyBuilder(SeccompAction.Allow, Architecture.Native).Build();
        var info = new SandboxedProcessStartInfo(Notified.Helper, "call", "1000");
        var e = Assert.Throws<SyscageException>(() => SandboxSession.Start(policy, info, new SessionOptions { FilterFlags = FilterFlags.WaitKillableRecv }));
        Assert.Contains("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a listener, and this filter has none", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_kernels_refusals_of_flag_combinations_are_said_in_words()
    {
        Assert.Null(Seccomp.FlagsProblem(FilterFlags.Log | FilterFlags.SpecAllow | FilterFlags.NewListener | FilterFlags.WaitKillableRecv));
        Assert.Contains("needs a listener", Seccomp.FlagsProblem(FilterFlags.WaitKillableRecv), StringComparison.Ordinal);
        Assert.Contains("needs SECCOMP_FILTER_FLAG_TSYNC_ESRCH", Seccomp.FlagsProblem(FilterFlags.Tsync | FilterFlags.NewListener), StringComparison.Ordinal);
        Assert.Null(Seccomp.FlagsProblem(FilterFlags.Tsync | FilterFlags.NewListener | FilterFlags.TsyncEsrch));
        Assert.Contains("0x80000000: not a seccomp filter flag", Seccomp.FlagsProblem((FilterFlags)0x8000_0000u), StringComparison.Ordinal);
        // The kernel agrees: what FlagsProblem refuses, it refuses (EINVAL before it reads the filter).
        foreach (var flags in new[] { FilterFlags.WaitKillableRecv, FilterFlags.Tsync | FilterFlags.NewListener, FilterFlags.Log | FilterFlags.SpecAllow | FilterFlags.NewListener | FilterFlags.WaitKillableRecv })
            Assert.Equal(Seccomp.FlagsProblem(flags) is null, Seccomp.AreFlagsSupported(flags));
        // A plain SandboxedProcess start says it too, before anything runs.
        var info = new SandboxedProcessStartInfo(Notified.Helper, "call", "1000") { Flags = FilterFlags.WaitKillableRecv };
        var e = Assert.Throws<SyscageException>(() => SandboxedProcess.Start(Policy.Compiler.PolicyCompiler.Compile(Notified.NotifyPolicy()), info));
        Assert.Contains("needs a listener", e.Message, StringComparison.Ordinal);
        Assert.Equal("SECCOMP_FILTER_FLAG_LOG|SECCOMP_FILTER_FLAG_SPEC_ALLOW", Seccomp.FlagNamesOf(FilterFlags.Log | FilterFlags.SpecAllow));
        Assert.True(Seccomp.TryParseFilterFlag("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", out var parsed) && parsed == FilterFlags.WaitKillableRecv);
        Assert.False(Seccomp.TryParseFilterFlag("SECCOMP_FILTER_FLAG_LOUD", out _));
    }
}
