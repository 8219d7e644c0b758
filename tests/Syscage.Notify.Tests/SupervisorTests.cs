using System.Diagnostics;
using Syscage.Kernel;
using Syscage.Kernel.Notify;

namespace Syscage.Notify.Tests;

public class SupervisorTests
{
    private const int EACCES = 13, EEXIST = 17, ENOSYS = 38;

    [Fact]
    public void Listener_arrives_before_the_command_runs_and_the_command_never_holds_it()
    {
        // execve is notified: the command can only start once the supervisor answers.
        int execve = Notified.Nr("execve");
        var seen = new List<string>();
        var outcome = Notified.Run(Notified.NotifyPolicy(execve), (n, ctx) =>
        {
            lock (seen)
                seen.Add(ctx.ReadString(n.Data.Arg(0)) ?? "?");
            return ValueTask.FromResult(NotificationResponse.Continue);
        }, null, "call", "1000");
        Assert.Equal("ret -1 errno 38", outcome.Stdout);
        Assert.Equal([Notified.Helper], seen);
    }

    [Fact]
    public void The_command_holds_no_listener_descriptor()
    {
        var info = new SandboxedProcessStartInfo("/bin/ls", "-l", "/proc/self/fd/") { RedirectStandardOutput = true, Flags = FilterFlags.NewListener };
        using var p = SandboxedProcess.Start(Syscage.Policy.Compiler.PolicyCompiler.Compile(Notified.NotifyPolicy(Notified.Unused)), info);
        Assert.NotNull(p.Listener);
        using var supervisor = new NotificationSupervisor(p.Listener!, (_, _) => ValueTask.FromResult(NotificationResponse.Continue)).Start();
        string listing = p.StandardOutput.ReadToEnd();
        Assert.Equal(0, p.WaitForExit().ExitCode);
        Assert.Contains("/proc/", listing, StringComparison.Ordinal);          // ls's own directory fd
        Assert.DoesNotContain("seccomp", listing, StringComparison.Ordinal);   // anon_inode:seccomp notify
    }

    [Theory]
    [InlineData(1, "ret -1 errno 13")]   // Error(EACCES)
    [InlineData(2, "ret 42 errno 0")]    // Return(42)
    [InlineData(3, "ret -1 errno 38")]   // Continue: the kernel runs syscall 1000, which does not exist
    public void Handlers_answer_with_errno_value_or_continue(int mode, string expected)
    {
        var outcome = Notified.Run(Notified.NotifyPolicy(Notified.Unused), (n, _) => ValueTask.FromResult(n.Data.Arg(0) switch
        {
            1 => NotificationResponse.Error(EACCES),
            2 => NotificationResponse.Return(42),
            _ => NotificationResponse.Continue,
        }), null, "call", "1000", mode.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(expected == outcome.Stdout, outcome.ToString());
        Assert.Equal(1, outcome.Supervisor.Received);
        Assert.Equal(1, outcome.Supervisor.Answered);
    }

    [Fact]
    public void Async_handlers_answer_later()
    {
        var outcome = Notified.Run(Notified.NotifyPolicy(Notified.Unused), async (n, _) =>
        {
            await Task.Delay(50);
            return NotificationResponse.Return(7);
        }, null, "call", "1000");
        Assert.True(outcome.Stdout == "ret 7 errno 0", outcome.ToString());
    }

    [Fact]
    public void A_handler_reads_the_path_from_the_target()
    {
        string path = "/tmp/syscage-notify-" + Guid.NewGuid().ToString("N") + "/a path with spaces";
        string? read = null;
        var outcome = Notified.Run(Notified.NotifyPolicy(Notified.Nr("mkdir")), (n, ctx) =>
        {
            read = ctx.ReadString(n.Data.Arg(0));
            return ValueTask.FromResult(NotificationResponse.Error(EEXIST));
        }, null, "mkdir", path);
        Assert.Equal(path, read);
        Assert.Equal("ret -1 errno 17", outcome.Stdout);
        Assert.False(Directory.Exists(path));
    }

    [Fact]
    public void A_handler_that_throws_fails_the_call_closed()
    {
        var errors = new List<Exception>();
        var outcome = Notified.Run(Notified.NotifyPolicy(Notified.Unused), (_, _) => throw new InvalidOperationException("boom"),
            new SupervisorOptions { OnError = (_, e) => { lock (errors) errors.Add(e); } }, "call", "1000");
        Assert.Equal("ret -1 errno 1", outcome.Stdout);
        Assert.Single(errors);
        Assert.Equal(1, outcome.Supervisor.Failed);
    }

    [Fact]
    public void AddFd_with_send_installs_a_descriptor_and_returns_it()
    {
        string file = Path.GetTempFileName();
        try
        {
            var outcome = Notified.Run(Notified.NotifyPolicy(Notified.Unused), (_, ctx) =>
            {
                using var handle = File.OpenHandle(file, FileMode.Open, FileAccess.Write);
                return ValueTask.FromResult(ctx.AddFdAndReturn(handle));
            }, null, "write-fd", "1000");
            Assert.Matches("^ret [0-9]+ errno 0$", outcome.Stdout);
            Assert.Equal("via addfd\n", File.ReadAllText(file));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void AddFd_with_setfd_places_the_descriptor_at_a_chosen_number()
    {
        string file = Path.GetTempFileName();
        try
        {
            var outcome = Notified.Run(Notified.NotifyPolicy(Notified.Unused), (_, ctx) =>
            {
                using var handle = File.OpenHandle(file, FileMode.Open, FileAccess.Write);
                int remote = ctx.AddFd(handle, targetFd: 77);
                return ValueTask.FromResult(NotificationResponse.Return(remote));
            }, null, "write-fd", "1000");
            Assert.Equal("ret 77 errno 0", outcome.Stdout);
            Assert.Equal("via addfd\n", File.ReadAllText(file));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void The_target_dying_mid_notification_is_handled_without_leaks()
    {
        using var p = Notified.Start(Notified.NotifyPolicy(Notified.Unused), "call", "1000");
        var received = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        using var supervisor = new NotificationSupervisor(p.Listener!, async (n, ctx) =>
        {
            received.TrySetResult();
            await release.Task;
            return NotificationResponse.Return(1);
        }).Start();
        Assert.True(received.Task.Wait(30_000), "no notification arrived");
        Assert.Equal(0, Native.Kill(p.CommandPid, 9));
        var exit = p.WaitForExit();
        Assert.Equal(9, exit.Signal);
        release.SetResult();
        Assert.True(supervisor.Completion.Wait(60_000), "the supervisor did not see the listener hang up");
        // The handler's answer is sent on the thread that completed release (or the pool's): wait for it to be counted
        // (60 s bound, liveness only).
        var deadline = Stopwatch.StartNew();
        while (supervisor.InFlight != 0 && deadline.ElapsedMilliseconds < 60_000)
            Thread.Sleep(10);
        Assert.Equal(0, supervisor.InFlight);
        Assert.Equal(1, supervisor.Gone);      // SEND: ENOENT
        Assert.Equal(0, supervisor.Failed);
    }

    [Fact]
    public void When_the_supervisor_exits_targets_get_ENOSYS_and_never_hang()
    {
        using var p = Notified.Start(Notified.NotifyPolicy(Notified.Unused), "twice", "1000");
        var stdout = p.StandardOutput.ReadToEndAsync();
        NotificationSupervisor? supervisor = null;
        supervisor = new NotificationSupervisor(p.Listener!, (n, ctx) =>
        {
            // Go away without answering: the pending call and the next one both get ENOSYS from the kernel. A thread
            // of its own, not the pool: other tests block pool threads, and a starved pool once delayed this past 30 s.
            new Thread(() => supervisor!.Dispose()) { IsBackground = true }.Start();
            return new ValueTask<NotificationResponse>(new TaskCompletionSource<NotificationResponse>().Task);
        });
        supervisor.Start();
        Assert.True(p.WaitForExit(30_000), "the target hung after the supervisor exited");
        Assert.Equal("ret -1 errno 38\nret -1 errno 38", stdout.Result.Trim());
        Assert.Equal(0, p.WaitForExit().ExitCode);
        Assert.Equal(1, supervisor.Received);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]   // the single worker waits in RECV (SupervisorOptions.ReceiveBlocking)
    public void Stop_while_the_only_worker_handles_a_call_ends_Completion(bool receiveBlocking)
    {
        // A session disposes its supervisor as soon as the command has ended, and the worker may still be between its
        // answer and its next wait then (the target it woke runs first). The worker must end Completion when it finds
        // the stop, or Completion never ends: a CI run waited 60 s for it.
        using var p = Notified.Start(Notified.NotifyPolicy(Notified.Unused), "call", "1000", "0");
        var stdout = p.StandardOutput.ReadToEndAsync();
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        using var supervisor = new NotificationSupervisor(p.Listener!, (_, _) =>
        {
            entered.Set();
            release.Wait();
            return ValueTask.FromResult(NotificationResponse.Error(EACCES));
        }, new SupervisorOptions { Workers = 1, SyncWakeUp = true, ReceiveBlocking = receiveBlocking }).Start();
        Assert.Equal(receiveBlocking, supervisor.ReceivesInRecv);
        Assert.True(entered.Wait(30_000), "the call never reached the handler");
        supervisor.Stop();
        release.Set();
        Assert.True(p.WaitForExit(30_000), "the target did not end");
        Assert.Equal("ret -1 errno 13", stdout.Result.Trim());
        Assert.True(supervisor.Completion.Wait(30_000), "Completion did not end after Stop");
        Assert.Equal(1, supervisor.Answered);
    }

    [Fact]
    public void The_receive_answer_loop_does_not_allocate()
    {
        // One worker, a synchronous handler: between two consecutive calls the worker thread runs exactly one
        // receive, dispatch and answer. Its allocation counter must not move (the first calls warm up the JIT).
        const int calls = 2000;
        var deltas = new long[calls];
        int seen = 0;
        long last = 0;
        var outcome = Notified.Run(Notified.NotifyPolicy(Notified.Unused), (n, _) =>
        {
            long now = GC.GetAllocatedBytesForCurrentThread();
            if (seen > 0)
                deltas[seen] = now - last;
            last = now;
            seen++;
            return ValueTask.FromResult(NotificationResponse.Return((long)n.Data.Arg(0)));
        }, new SupervisorOptions { Workers = 1 }, "hammer", "1", $"{calls}", "1000");
        Assert.True(outcome.Stdout == $"hammer ok {calls}", outcome.ToString());
        Assert.Equal(calls, seen);
        long allocated = deltas.Skip(calls / 2).Sum();
        Assert.True(allocated == 0, $"{allocated} bytes allocated over the last {calls / 2} round trips");
    }

    [Fact]
    public void Sixty_four_threads_hammering_lose_no_notification()
    {
        const int threads = 64, calls = 200;
        var sw = Stopwatch.StartNew();
        var outcome = Notified.Run(Notified.NotifyPolicy(Notified.Unused),
            (n, _) => ValueTask.FromResult(NotificationResponse.Return((long)n.Data.Arg(0))),
            new SupervisorOptions { Workers = 4 }, "hammer", $"{threads}", $"{calls}", "1000");
        Assert.True(outcome.Stdout == $"hammer ok {threads * calls}", outcome.ToString());
        Assert.Equal(threads * calls, outcome.Supervisor.Received);
        Assert.Equal(threads * calls, outcome.Supervisor.Answered);
        Assert.Equal(0, outcome.Supervisor.Gone);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), $"took {sw.Elapsed}");
    }
}
