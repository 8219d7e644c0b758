using System.Globalization;
using Syscage.Kernel;
using Syscage.Kernel.Notify;
using Syscage.Supervision;

namespace Syscage.Notify.Tests;

/// <summary>
/// A session's single worker waits for calls in SECCOMP_IOCTL_NOTIF_RECV itself, not in poll
/// (<see cref="SupervisorOptions.ReceiveBlocking"/>). Nothing but a call or the end of every task using the filter wakes
/// it, so what is checked is that the session's ways of ending — the command ending, leaving a child behind, or the
/// session disposed while the command runs — end the worker: its <see cref="NotificationSupervisor.Completion"/> comes
/// from the kernel's hang-up, not from the grace after which Dispose stops waiting for it (the worker would then still
/// be waiting, and Completion not done).
/// </summary>
public sealed class BlockingReceiveTests
{
    private static readonly TimeSpan Liveness = TimeSpan.FromSeconds(60);

    private static SessionOptions SingleWorker(NotificationHandler handler) => new()
    {
        Handler = handler,
        Supervisor = new SupervisorOptions { Workers = 1, SyncWakeUp = true },
    };

    [Fact]
    public void A_single_worker_waits_in_recv_answers_calls_and_ends_with_the_command()
    {
        var policy = Notified.NotifyPolicy(Notified.Unused);
        var info = new SandboxedProcessStartInfo(Notified.Helper, "twice", Notified.Unused.ToString(CultureInfo.InvariantCulture)) { RedirectStandardOutput = true };
        using var session = SandboxSession.Start(policy, info, SingleWorker((n, _) => ValueTask.FromResult(NotificationResponse.Return(40 + (long)n.Data.Arg(0)))));
        var supervisor = session.Supervisor!;
        Assert.True(supervisor.SyncWakeUp, "this kernel has SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (Linux 6.6)");
        Assert.True(supervisor.ReceivesInRecv);
        string stdout = session.Process.StandardOutput.ReadToEnd().Trim();
        Assert.Equal(0, session.WaitForExit().ExitCode);
        Assert.Equal("ret 41 errno 0\nret 42 errno 0", stdout);
        Assert.True(supervisor.Completion.Wait(Liveness), "the worker never saw the listener hang up");
        Assert.Equal(2, supervisor.Received);
        Assert.Equal(2, supervisor.Answered);
    }

    [Fact]
    public void A_child_the_command_leaves_behind_is_swept_and_the_worker_ends()
    {
        // The background sleep keeps the filter in use after the command's exit until the launcher's sweep kills it.
        var policy = Notified.NotifyPolicy(Notified.Unused);
        var info = new SandboxedProcessStartInfo("/bin/sh", "-c", "sleep 600 & echo started") { RedirectStandardOutput = true };
        using var session = SandboxSession.Start(policy, info, SingleWorker((_, _) => ValueTask.FromResult(NotificationResponse.Error(1))));
        Assert.True(session.Supervisor!.ReceivesInRecv);
        Assert.Equal("started", session.Process.StandardOutput.ReadToEnd().Trim());
        Assert.Equal(0, session.WaitForExit().ExitCode);
        Assert.True(session.Supervisor.Completion.Wait(Liveness), "the worker never saw the listener hang up");
    }

    [Fact]
    public void Disposing_the_session_while_the_command_runs_ends_the_worker()
    {
        var policy = Notified.NotifyPolicy(Notified.Unused);
        var info = new SandboxedProcessStartInfo("/bin/sleep", "600");
        var session = SandboxSession.Start(policy, info, SingleWorker((_, _) => ValueTask.FromResult(NotificationResponse.Error(1))));
        var supervisor = session.Supervisor!;
        Assert.True(supervisor.ReceivesInRecv);
        Assert.False(supervisor.Completion.IsCompleted);
        session.Dispose();
        // Dispose waited for the worker (the tree was killed first): the kernel's hang-up ended it, not the grace.
        Assert.True(supervisor.Completion.Wait(Liveness), "the worker never saw the listener hang up");
        Assert.True(supervisor.Completion.IsCompletedSuccessfully);
    }

    [Fact]
    public void Two_workers_and_a_plain_supervisor_keep_polling()
    {
        var policy = Notified.NotifyPolicy(Notified.Unused);
        var info = new SandboxedProcessStartInfo("/bin/true");
        using var session = SandboxSession.Start(policy, info, new SessionOptions
        {
            Handler = (_, _) => ValueTask.FromResult(NotificationResponse.Error(1)),
            Supervisor = new SupervisorOptions { Workers = 2, SyncWakeUp = true },
        });
        Assert.False(session.Supervisor!.ReceivesInRecv);
        Assert.Equal(0, session.WaitForExit().ExitCode);
        // Outside a session nobody has promised to end the tasks first: the stop eventfd stays in the poll.
        using var process = Notified.Start(policy, "call", "39");
        using var plain = new NotificationSupervisor(process.Listener!, (_, _) => ValueTask.FromResult(NotificationResponse.Continue),
            new SupervisorOptions { Workers = 1, SyncWakeUp = true });
        Assert.False(plain.ReceivesInRecv);
        plain.Start();
        Assert.Equal(0, process.WaitForExit().ExitCode);
    }
}
