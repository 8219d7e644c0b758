using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Syscage.Kernel;
using Syscage.Testing;
using Syscage.Supervision;

namespace Syscage.Notify.Tests;

public class AgentTests
{
    private sealed class SyncWriter : StringWriter
    {
        public string Text { get { lock (this) return ToString(); } }
        public override void Write(char value) { lock (this) base.Write(value); }
        public override void Write(string? value) { lock (this) base.Write(value); }
        public override void WriteLine(string? value) { lock (this) base.WriteLine(value); }
    }

    /// <summary>A temporary directory for sockets and bundles, removed at dispose.</summary>
    private sealed class TempDir : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("syscage-agent-").FullName;
        public void Dispose() => Directory.Delete(Path, true);
    }

    /// <summary>Waits for <paramref name="condition"/>; the 60 s bound is liveness only (a loaded machine may take seconds).</summary>
    private static void WaitFor(Func<bool> condition, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.ElapsedMilliseconds > 60_000)
                Assert.Fail($"timed out waiting for {what}");
            Thread.Sleep(20);
        }
    }

    /// <summary>True once the agent has closed its end of <paramref name="s"/>: readable, and nothing to read (end of stream).</summary>
    private static bool Closed(Socket s) => s.Poll(0, SelectMode.SelectRead) && s.Available == 0;

    [Fact]
    public void Malformed_messages_get_a_clear_line_and_the_agent_keeps_serving()
    {
        using var temp = new TempDir();
        string dir = temp.Path;
        var decisions = new SyncWriter();
        var diagnostics = new SyncWriter();
        using var agent = new SeccompAgent(Path.Combine(dir, "agent.sock"), decisions, diagnostics).Start();
        foreach (var message in (string[])["this is not json", "{\"ociVersion\":\"1.0.2\",\"state\":{\"id\":\"x\"}}", "{\"fds\":[\"seccompFd\"],\"state\":{\"id\":\"y\"}}", ""])
        {
            using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            s.Connect(new UnixDomainSocketEndPoint(agent.SocketPath));
            s.Send(Encoding.UTF8.GetBytes(message));
            s.Shutdown(SocketShutdown.Send);
        }
        WaitFor(() => diagnostics.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length >= 4, "four diagnostics");
        string text = diagnostics.Text;
        Assert.Contains("still serving", text, StringComparison.Ordinal);
        Assert.Contains("no 'fds' array", text, StringComparison.Ordinal);
        Assert.Contains("1 descriptor(s) but 0 came with SCM_RIGHTS", text, StringComparison.Ordinal);
        Assert.Contains("empty message", text, StringComparison.Ordinal);
        Assert.Equal(4, agent.Containers);
        Assert.Equal("", decisions.Text);
    }

    [Fact]
    public void Syscage_agent_serves_until_cancelled_and_reports_malformed_messages()
    {
        using var temp = new TempDir();
        string dir = temp.Path;
        string socket = Path.Combine(dir, "cli.sock");
        var stdout = new SyncWriter();
        var stderr = new SyncWriter();
        using var cancel = new CancellationTokenSource();
        var run = Task.Run(() => Syscage.Cli.Commands.AgentCommand.Run(stdout, stderr, socket, null, "deny", cancel.Token));
        WaitFor(() => stderr.Text.Contains("listening on", StringComparison.Ordinal), "the agent to listen");
        using (var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            s.Connect(new UnixDomainSocketEndPoint(socket));
            s.Send("[1, 2]"u8.ToArray());
        }
        WaitFor(() => stderr.Text.Contains("not a JSON object", StringComparison.Ordinal), "the malformed-message line");
        cancel.Cancel();
        Assert.True(run.Wait(60_000), "the agent did not stop");
        Assert.Equal(0, run.Result);
        Assert.False(File.Exists(socket));
    }

    // ---- Hostile clients: the agent's clients are not trusted (a process that can reach the socket is one). ----

    private static string ProcessState(string id, int pid = 0) =>
        $$$"""{"ociVersion":"1.0.2","fds":["seccompFd"],"pid":{{{pid}}},"metadata":"m","state":{"ociVersion":"1.0.2","id":"{{{id}}}","status":"creating","bundle":"/b"}}""";

    /// <summary>An agent in <paramref name="dir"/> whose default answer is EROFS.</summary>
    private static SeccompAgent StartAgent(string dir, SyncWriter diagnostics, TimeSpan? deadline = null, int maxHandshakes = SeccompAgentOptions.DefaultMaxHandshakes) =>
        new SeccompAgent(Path.Combine(dir, "agent.sock"), new SyncWriter(), diagnostics, new SeccompAgentOptions
        {
            DefaultHandler = "deny_EROFS",
            HandshakeTimeout = deadline ?? SeccompAgentOptions.DefaultHandshakeTimeout,
            MaxHandshakes = maxHandshakes,
        }).Start();

    /// <summary>A client connected to <paramref name="socket"/> that has sent nothing yet.</summary>
    private static Socket Connect(string socket)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Connect(new UnixDomainSocketEndPoint(socket));
        return s;
    }

    /// <summary>Connects to <paramref name="socket"/> and sends the process state with <paramref name="fds"/>, as runc does.</summary>
    private static Socket SendState(string socket, string state, params int[] fds)
    {
        var s = Connect(socket);
        Native.SendWithDescriptors(s, Encoding.UTF8.GetBytes(state), fds);
        return s;
    }

    /// <summary>Sends <paramref name="count"/> clients whose <c>seccompFd</c> is an eventfd.</summary>
    private static void SendEventFds(string socket, int count)
    {
        for (int i = 0; i < count; i++)
        {
            int efd = Native.EventFd(0, 0x80000 /* EFD_CLOEXEC */);
            Assert.True(efd >= 0);
            try
            {
                using var s = SendState(socket, ProcessState($"eventfd-{i}"), efd);
            }
            finally
            {
                Native.Close(efd);
            }
        }
    }

    /// <summary>A helper stopped in a notified mkdir(<paramref name="path"/>) until a supervisor answers; its listener is ours to pass on.</summary>
    private static SandboxedProcess StoppedInMkdir(string path)
    {
        var p = Notified.Start(Notified.NotifyPolicy(Notified.Nr("mkdir")), "mkdir", path);
        Assert.NotNull(p.Listener);
        return p;
    }

    /// <summary>Hands <paramref name="p"/>'s listener to the agent at <paramref name="socket"/> and returns what its mkdir got.</summary>
    private static string ServeThroughAgent(string socket, SandboxedProcess p, string id)
    {
        using (SendState(socket, ProcessState(id, p.CommandPid), p.Listener!.Fd))
        {
        }
        p.Listener.Dispose(); // the agent has its own copy now
        var stdout = p.StandardOutput.ReadToEndAsync();
        Assert.True(p.WaitForExit(30_000), "the helper was not answered");
        p.WaitForExit();
        return stdout.Result.Trim();
    }

    private static int Count(string dir) => Directory.GetFileSystemEntries(dir).Length;

    /// <summary><c>syscage agent</c> as a child process, so that its threads and descriptors are its own.</summary>
    private sealed class AgentProcess : IDisposable
    {
        private readonly Process _process;
        public SyncWriter Stdout { get; } = new();
        public SyncWriter Stderr { get; } = new();

        public AgentProcess(params string[] args)
        {
            var psi = new ProcessStartInfo(SyscageTool.Path) { RedirectStandardOutput = true, RedirectStandardError = true };
            psi.ArgumentList.Add("agent");
            foreach (var a in args)
                psi.ArgumentList.Add(a);
            _process = Process.Start(psi)!;
            _process.OutputDataReceived += (_, e) => { if (e.Data is not null) Stdout.WriteLine(e.Data); };
            _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Stderr.WriteLine(e.Data); };
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
            WaitFor(() => Stderr.Text.Contains("listening on", StringComparison.Ordinal) || _process.HasExited, "the agent to listen");
            Assert.False(_process.HasExited, Stderr.Text);
        }

        public int Threads => Count($"/proc/{_process.Id}/task");
        public int Descriptors => Count($"/proc/{_process.Id}/fd");
        public int SupervisorThreads => Directory.GetDirectories($"/proc/{_process.Id}/task").Count(t => Comm(t).StartsWith("syscage-notify", StringComparison.Ordinal));

        /// <summary>A thread's name; "" for one that ended since the directory was listed (the runtime's come and go).</summary>
        private static string Comm(string task)
        {
            try
            {
                return File.ReadAllText(Path.Combine(task, "comm"));
            }
            catch (IOException)
            {
                return "";
            }
        }

        public int Lines(string fragment) => Stderr.Text.Split('\n').Count(l => l.Contains(fragment, StringComparison.Ordinal));

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                Native.Kill(_process.Id, 15 /* SIGTERM */);
                if (!_process.WaitForExit(10_000))
                    _process.Kill();
            }
            _process.Dispose();
        }
    }

    [Fact]
    public void An_eventfd_as_seccompFd_is_refused_and_100_of_them_leave_no_thread_or_descriptor_behind()
    {
        using var temp = new TempDir();
        string dir = temp.Path;
        string socket = Path.Combine(dir, "agent.sock");
        using var agent = new AgentProcess("--socket", socket, "--default-handler", "deny_EROFS", "--handshake-timeout", "1.5");
        const string refused = "'seccompFd' is not a seccomp listener";
        // The runtime starts its socket engine and thread-pool workers with the first clients: measure after them.
        SendEventFds(socket, 20);
        WaitFor(() => agent.Lines(refused) == 20, "20 refusals");
        Thread.Sleep(500);
        int threads = agent.Threads, fds = agent.Descriptors;

        SendEventFds(socket, 100);
        WaitFor(() => agent.Lines(refused) == 120, "120 refusals");
        // Each refused client's descriptors are closed once its line is written: wait for the count to settle. The old
        // agent started a supervisor per client (a thread polling the eventfd forever, two descriptors kept). A thread
        // the runtime's pool added under load retires after 20 s idle: the bound (liveness only) is past that.
        var sw = Stopwatch.StartNew();
        while ((agent.Descriptors > fds || agent.Threads > threads + 2) && sw.ElapsedMilliseconds < 60_000)
            Thread.Sleep(50);
        Assert.True(agent.Descriptors <= fds, $"descriptors grew from {fds} to {agent.Descriptors}");
        // A thread or two may come and go with the runtime's housekeeping (thread pool, tiered compilation); 100 clients
        // held 100 threads before.
        Assert.True(agent.Threads <= threads + 2, $"threads grew from {threads} to {agent.Threads}");
        Assert.Equal(0, agent.SupervisorThreads);
        Assert.Contains("connection 120: 'seccompFd' is not a seccomp listener (its /proc/self/fd link does not read 'anon_inode:seccomp notify'); ignored, still serving",
            agent.Stderr.Text, StringComparison.Ordinal);

        // And it serves on: a real listener gets the agent's answer, while a client that sends nothing is pending and
        // then dropped at the deadline given on the command line.
        using var silent = Connect(socket);
        using var p = StoppedInMkdir(Path.Combine(dir, "never-made"));
        Assert.Equal("ret -1 errno 30", ServeThroughAgent(socket, p, "real-1"));
        silent.ReceiveTimeout = 60_000;
        Assert.Equal(0, silent.Receive(new byte[16]));
        WaitFor(() => agent.Lines("connection 121: no complete message within 1.5 s; dropped, still serving") == 1, "the silent client dropped");
        WaitFor(() => agent.Stdout.Text.Contains("\"container\":\"real-1\"", StringComparison.Ordinal), "the decision line");
        Assert.Contains("\"verdict\":\"error EROFS\"", agent.Stdout.Text, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(dir, "never-made")));
    }

    [Fact]
    public void A_client_that_sends_nothing_is_dropped_at_the_deadline_and_holds_up_no_one()
    {
        using var temp = new TempDir();
        string dir = temp.Path;
        var diagnostics = new SyncWriter();
        var deadline = TimeSpan.FromSeconds(5);
        using var agent = StartAgent(dir, diagnostics, deadline);
        // The real client's helper is started first: what it must not wait for is the silent ones, not its own start.
        using var p = StoppedInMkdir(Path.Combine(dir, "never-made"));
        // Started before they connect, so that no delay of this thread can make the agent's deadline look early.
        var started = Stopwatch.StartNew();
        using var silent = Connect(agent.SocketPath);
        // One that starts a message and never finishes it, a byte every 300 ms until it is dropped: the deadline is
        // for the whole message, not each read (a deadline per read would never drop it, and the test would fail).
        using var trickle = Connect(agent.SocketPath);
        var trickling = Task.Run(async () =>
        {
            try
            {
                for (int i = 0; i < 1000; i++)
                {
                    trickle.Send([(byte)(i == 0 ? '{' : ' ')]);
                    await Task.Delay(300);
                }
            }
            catch (SocketException)
            {
                // Dropped while still sending.
            }
        });

        // Meanwhile a real client is served: before the silent ones are dropped, so not behind them.
        Assert.Equal("ret -1 errno 30", ServeThroughAgent(agent.SocketPath, p, "while-others-wait"));
        Assert.False(Closed(silent), $"the real client was served only once the silent ones were dropped ({started.Elapsed})");
        Assert.DoesNotContain("dropped", diagnostics.Text, StringComparison.Ordinal);

        // Then both are dropped: the agent closes their connections (they read end of stream) and says why.
        silent.ReceiveTimeout = 60_000;
        Assert.Equal(0, silent.Receive(new byte[16]));
        Assert.True(started.Elapsed >= deadline - TimeSpan.FromMilliseconds(100), $"dropped after {started.Elapsed}, before the deadline");
        trickle.ReceiveTimeout = 60_000;
        Assert.Equal(0, trickle.Receive(new byte[16]));
        Assert.True(trickling.Wait(60_000), "the trickling client was never dropped");
        WaitFor(() => diagnostics.Text.Split('\n').Count(l => l.Contains("no complete message within 5 s; dropped, still serving", StringComparison.Ordinal)) == 2,
            "two dropped connections");
        Assert.Equal(3, agent.Containers);
    }

    [Fact]
    public void Clients_past_the_handshake_cap_wait_for_a_slot()
    {
        using var temp = new TempDir();
        string dir = temp.Path;
        var deadline = TimeSpan.FromSeconds(2);
        using var agent = StartAgent(dir, new SyncWriter(), deadline, maxHandshakes: 2);
        // Started before they connect: the agent's deadline for each starts after this, so no delay of this thread can
        // make it look early.
        var started = Stopwatch.StartNew();
        using var a = Connect(agent.SocketPath);
        using var b = Connect(agent.SocketPath);
        WaitFor(() => agent.Containers == 2, "two accepted clients");
        // Both slots are taken by clients that send nothing: the third is accepted only when one of them is dropped.
        using var p = StoppedInMkdir(Path.Combine(dir, "never-made"));
        Assert.Equal("ret -1 errno 30", ServeThroughAgent(agent.SocketPath, p, "third"));
        Assert.True(Closed(a) || Closed(b), $"served after {started.Elapsed}, while both slots were held");
        Assert.True(started.Elapsed >= deadline - TimeSpan.FromMilliseconds(500), $"served after {started.Elapsed}, while both slots were held");
        Assert.Equal(3, agent.Containers);
    }

    [Fact]
    public void More_descriptors_than_the_agent_takes_fail_the_message_and_are_all_closed()
    {
        using var temp = new TempDir();
        string dir = temp.Path;
        var diagnostics = new SyncWriter();
        using var agent = StartAgent(dir, diagnostics);
        // Twenty copies of a pipe's write end: when every copy the agent got is closed, the read end sees end of file.
        using var pipe = new System.IO.Pipes.AnonymousPipeServerStream(System.IO.Pipes.PipeDirection.In);
        int writeEnd = (int)pipe.ClientSafePipeHandle.DangerousGetHandle();
        using (SendState(agent.SocketPath, ProcessState("many"), [.. Enumerable.Repeat(writeEnd, SeccompAgent.MaxDescriptors + 4)]))
        {
        }
        pipe.DisposeLocalCopyOfClientHandle();
        WaitFor(() => diagnostics.Text.Contains("more than 16 descriptors passed: runc passes one, 'seccompFd'; ignored, still serving", StringComparison.Ordinal),
            "the refusal");
        var read = pipe.ReadAsync(new byte[1]).AsTask();
        Assert.True(read.Wait(60_000), "a copy of the descriptors passed is still open in the agent");
        Assert.Equal(0, read.Result);
    }

    [Fact]
    public void A_socket_path_that_is_not_a_socket_is_refused_and_left_as_it_was()
    {
        using var temp = new TempDir();
        string dir = temp.Path;
        string file = Path.Combine(dir, "precious.txt");
        File.WriteAllText(file, "keep me");
        var e = Assert.Throws<IOException>(() => new SeccompAgent(file, new SyncWriter(), new SyncWriter()));
        Assert.Equal($"{file} exists and is not a socket: refusing to replace it (remove it, or choose another --socket path)", e.Message);
        Assert.Equal("keep me", File.ReadAllText(file));

        // The real tool: exit 4 (a file it can't write), one line, the file untouched.
        var psi = new ProcessStartInfo(SyscageTool.Path) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in (string[])["agent", "--socket", file])
            psi.ArgumentList.Add(a);
        using (var tool = Process.Start(psi)!)
        {
            string err = tool.StandardError.ReadToEnd();
            Assert.True(tool.WaitForExit(30_000));
            Assert.Equal(4, tool.ExitCode);
            Assert.Equal($"syscage: {file} exists and is not a socket: refusing to replace it (remove it, or choose another --socket path)\n", err);
        }
        Assert.Equal("keep me", File.ReadAllText(file));

        // A socket someone listens on is not taken over; a stale one (no listener) is replaced.
        string socket = Path.Combine(dir, "agent.sock");
        using (var first = new SeccompAgent(socket, new SyncWriter(), new SyncWriter()).Start())
        {
            e = Assert.Throws<IOException>(() => new SeccompAgent(socket, new SyncWriter(), new SyncWriter()));
            Assert.Contains("another process is listening on this socket", e.Message, StringComparison.Ordinal);
        }
        Assert.False(File.Exists(socket));
        // (A .NET socket deletes its file when disposed, so the stale one is made with mknod, as a crashed agent leaves it.)
        Assert.Equal(0, Native.Mknod(socket, 0xc000 /* S_IFSOCK */ | 0x180, 0));
        using (new SeccompAgent(socket, new SyncWriter(), new SyncWriter()).Start())
            Assert.True(File.Exists(socket));

        // At exit the agent removes its own socket only: a file put in its place meanwhile stays.
        var agent = new SeccompAgent(socket, new SyncWriter(), new SyncWriter()).Start();
        File.Delete(socket);
        File.WriteAllText(socket, "not the agent's");
        agent.Dispose();
        Assert.Equal("not the agent's", File.ReadAllText(socket));
    }

    [Fact]
    public void Runc_containers_whose_profile_notifies_mkdir_get_the_agents_answer()
    {
        Assert.True(File.Exists(RuncContainer.Runc), "runc is needed (scripts/ensure-deps.sh installs it)");
        using var temp = new TempDir();
        string dir = temp.Path;
        var decisions = new SyncWriter();
        var diagnostics = new SyncWriter();
        using var agent = new SeccompAgent(Path.Combine(dir, "agent.sock"), decisions, diagnostics,
            new SeccompAgentOptions { DefaultHandler = "deny_EROFS" }).Start();
        string ids = Guid.NewGuid().ToString("N")[..8];
        var runs = Enumerable.Range(0, 2).Select(i => Task.Run(() => RunContainer(dir, $"syscage-{ids}-{i}", agent.SocketPath))).ToArray();
        Task.WaitAll(runs, 120_000);
        for (int i = 0; i < runs.Length; i++)
        {
            var (code, stdout, stderr) = runs[i].Result;
            Assert.True(code == 0, $"runc exit {code}\nstdout: {stdout}\nstderr: {stderr}\nagent: {diagnostics.Text}");
            Assert.Contains("Read-only file system", stdout + stderr, StringComparison.Ordinal);
            Assert.Contains("rc=1", stdout, StringComparison.Ordinal);
        }
        WaitFor(() => decisions.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length >= 2, "two decisions");
        var lines = decisions.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(2, agent.Containers);
        for (int i = 0; i < 2; i++)
        {
            var line = Assert.Single(lines, l => (string?)l["container"] == $"syscage-{ids}-{i}");
            Assert.Matches("^mkdir(at)?$", (string?)line["syscall"]);
            Assert.Contains("\"/tmp/made-by-" + i + "\"", (string?)line["call"], StringComparison.Ordinal);
            Assert.Equal("error EROFS", (string?)line["verdict"]);
            Assert.True((int)line["pid"]! > 0);
        }
    }

    private static (int Code, string Stdout, string Stderr) RunContainer(string dir, string id, string socket)
    {
        int index = id[^1] - '0';
        var seccomp = new JsonObject
        {
            ["defaultAction"] = "SCMP_ACT_ALLOW",
            ["listenerPath"] = socket,
            ["listenerMetadata"] = "syscage-test",
            ["architectures"] = new JsonArray("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"),
            ["syscalls"] = new JsonArray(new JsonObject
            {
                ["names"] = new JsonArray("mkdir", "mkdirat"),
                ["action"] = "SCMP_ACT_NOTIFY",
            }),
        };
        string bundle = RuncContainer.Bundle(dir, id, seccomp, ["/bin/sh", "-c", $"mkdir /tmp/made-by-{index}; echo rc=$?"], ["sh", "mkdir", "echo"]);
        var (code, stdout, stderr) = RuncContainer.Run(dir, bundle, id, TimeSpan.FromSeconds(60));
        return (code, stdout, stderr);
    }
}
