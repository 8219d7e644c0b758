using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Syscage.Kernel.Agent;
using Syscage.Testing;

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

    private static string TempDirectory() => Directory.CreateTempSubdirectory("syscage-agent-").FullName;

    private static void WaitFor(Func<bool> condition, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.ElapsedMilliseconds > 10_000)
                Assert.Fail($"timed out waiting for {what}");
            Thread.Sleep(20);
        }
    }

    [Fact]
    public void Malformed_messages_get_a_clear_line_and_the_agent_keeps_serving()
    {
        string dir = TempDirectory();
        try
        {
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
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Syscage_agent_serves_until_cancelled_and_reports_malformed_messages()
    {
        string dir = TempDirectory();
        try
        {
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
            Assert.True(run.Wait(10_000), "the agent did not stop");
            Assert.Equal(0, run.Result);
            Assert.False(File.Exists(socket));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Runc_containers_whose_profile_notifies_mkdir_get_the_agents_answer()
    {
        string runc = NativeBuild.FindOnPath("runc") ?? "/usr/sbin/runc";
        string busybox = File.Exists("/bin/busybox") ? "/bin/busybox" : throw new InvalidOperationException("busybox-static is needed (scripts/ensure-deps.sh installs it)");
        Assert.True(File.Exists(runc), "runc is needed (scripts/ensure-deps.sh installs it)");
        string dir = TempDirectory();
        try
        {
            var decisions = new SyncWriter();
            var diagnostics = new SyncWriter();
            using var agent = new SeccompAgent(Path.Combine(dir, "agent.sock"), decisions, diagnostics,
                new SeccompAgentOptions { DefaultHandler = "deny_EROFS" }).Start();
            string ids = Guid.NewGuid().ToString("N")[..8];
            var runs = Enumerable.Range(0, 2).Select(i => Task.Run(() => RunContainer(runc, busybox, dir, $"syscage-{ids}-{i}", agent.SocketPath))).ToArray();
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
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static (int Code, string Stdout, string Stderr) RunContainer(string runc, string busybox, string dir, string id, string socket)
    {
        int index = id[^1] - '0';
        string bundle = Path.Combine(dir, id);
        string rootfs = Path.Combine(bundle, "rootfs");
        Directory.CreateDirectory(Path.Combine(rootfs, "bin"));
        Directory.CreateDirectory(Path.Combine(rootfs, "tmp"));
        File.Copy(busybox, Path.Combine(rootfs, "bin", "busybox"));
        foreach (var tool in (string[])["sh", "mkdir", "echo"])
            File.CreateSymbolicLink(Path.Combine(rootfs, "bin", tool), "busybox");
        var spec = Process.Start(new ProcessStartInfo(runc, ["spec", "--bundle", bundle]) { RedirectStandardError = true })!;
        spec.WaitForExit();
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(bundle, "config.json")))!;
        config["process"]!["terminal"] = false;
        config["process"]!["args"] = new JsonArray("/bin/sh", "-c", $"mkdir /tmp/made-by-{index}; echo rc=$?");
        config["root"]!["readonly"] = false;
        config["linux"]!["seccomp"] = new JsonObject
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
        File.WriteAllText(Path.Combine(bundle, "config.json"), config.ToJsonString());
        var psi = new ProcessStartInfo(runc) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in (string[])["--root", Path.Combine(dir, "runc-state"), "run", "--bundle", bundle, id])
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000))
        {
            p.Kill(true);
            return (-1, stdout.Result, "timed out");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
