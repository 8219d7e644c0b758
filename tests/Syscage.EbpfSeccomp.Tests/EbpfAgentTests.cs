using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Syscage.Abi;
using Syscage.Supervision;
using Syscage.Testing;
using static Syscage.EbpfSeccomp.Tests.Harness;

namespace Syscage.EbpfSeccomp.Tests;

/// <summary>
/// eBPF seccomp programs for containers (issue 16), with the unmodified runc and real busybox containers: the kernel half
/// of a program as an OCI profile (<c>syscage compile OBJ --format oci --listener PATH</c>), the rest decided by
/// <c>syscage agent --ebpf</c>, with maps per container filled from JSON and a control socket per container.
/// </summary>
public sealed class EbpfAgentTests
{
    private sealed class SyncWriter : StringWriter
    {
        public string Text { get { lock (this) return ToString(); } }
        public override void Write(char value) { lock (this) base.Write(value); }
        public override void Write(string? value) { lock (this) base.Write(value); }
        public override void WriteLine(string? value) { lock (this) base.WriteLine(value); }
    }


    private static void WaitFor(Func<bool> condition, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), $"timed out waiting for {what}");
            Thread.Sleep(50);
        }
    }

    /// <summary>The OCI profile <c>syscage compile</c> writes for <paramref name="obj"/>.</summary>
    private static JsonNode Profile(string obj, string socket, params string[] options)
    {
        var r = RunCli(["compile", obj, "--format", "oci", "--listener", socket, .. options]);
        Assert.True(r.ExitCode == 0, r.ToString());
        return JsonNode.Parse(r.Stdout)!;
    }

    /// <summary>A busybox bundle (with ebpf_target at /ebpf_target) whose process is <paramref name="args"/> under <paramref name="seccomp"/>.</summary>
    private static string Bundle(string dir, string id, JsonNode seccomp, string[] args, JsonObject? mount = null) =>
        RuncContainer.Bundle(dir, id, seccomp, args, ["sh", "env", "true", "echo", "cat"],
            new Dictionary<string, string> { ["/ebpf_target"] = Target },
            mount is null ? null : config => config["mounts"]!.AsArray().Add(mount));

    /// <summary>Starts <c>runc run</c>; <see cref="Finish"/> waits for it.</summary>
    private static Process StartContainer(string dir, string bundle, string id) => RuncContainer.Start(dir, bundle, id);

    private static RuncContainer.Outcome Finish(Process p) => RuncContainer.Finish(p, TimeSpan.FromSeconds(120));

    /// <summary>Ends a container a failed test left running (its runc's tree is not the test's to outlive).</summary>
    private static void Kill(string dir, string id, Process runc) => RuncContainer.Kill(dir, id, runc);

    private static SeccompAgent Agent(string socket, SyncWriter decisions, SyncWriter diagnostics, AgentEbpfOptions ebpf) =>
        new SeccompAgent(socket, decisions, diagnostics, new SeccompAgentOptions { Ebpf = ebpf }).Start();

    [Fact]
    public void Exec_once_lets_the_containers_first_exec_run_and_fails_the_second()
    {
        using var temp = new TempDir();
        string socket = temp.File("agent.sock");
        var profile = Profile(Sample("exec_once"), socket);
        // The kernel half: execve and execveat (and, on x86, the calls with their x86_64 numbers) go to the agent.
        Assert.Equal("exec_once", (string?)profile["listenerMetadata"]);
        Assert.Equal("SCMP_ACT_ALLOW", (string?)profile["defaultAction"]);
        var notified = profile["syscalls"]!.AsArray().Single(e => (string?)e!["action"] == "SCMP_ACT_NOTIFY")!["names"]!.AsArray().Select(n => (string?)n).ToList();
        Assert.Contains("execve", notified);
        Assert.Contains("execveat", notified);

        var decisions = new SyncWriter();
        var diagnostics = new SyncWriter();
        using var agent = Agent(socket, decisions, diagnostics, new AgentEbpfOptions { Programs = [Sample("exec_once")], MapsSockets = false });
        string ids = Guid.NewGuid().ToString("N")[..8];
        // The first exec is runc's of the container's process (env); env's exec of busybox is the second.
        var twice = Finish(StartContainer(temp.Path, Bundle(temp.Path, $"once-{ids}-a", profile, ["/bin/env", "/bin/busybox", "true"]), $"once-{ids}-a"));
        Assert.True(twice.Code == 126, twice + "\nagent: " + diagnostics.Text);
        Assert.Contains("Operation not permitted", twice.Stderr + twice.Stdout, StringComparison.Ordinal);
        // Its maps are the container's own: the next container's first exec runs.
        var once = Finish(StartContainer(temp.Path, Bundle(temp.Path, $"once-{ids}-b", profile, ["/bin/busybox", "true"]), $"once-{ids}-b"));
        Assert.True(once.Code == 0, once + "\nagent: " + diagnostics.Text);
        WaitFor(() => decisions.Text.Contains($"once-{ids}-b", StringComparison.Ordinal), "the second container's decision");
        var lines = decisions.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();
        var first = lines.Where(l => (string?)l["container"] == $"once-{ids}-a" && (string?)l["syscall"] == "execve").ToList();
        Assert.Equal("continue", (string?)first.First()["verdict"]);
        Assert.Equal("error EPERM", (string?)first.Last()["verdict"]);
        Assert.Contains("/bin/busybox", (string?)first.Last()["call"], StringComparison.Ordinal);
        Assert.Equal(2, agent.Containers);
    }

    /// <summary>ALLOW for every syscall of the native table, ERRNO(EPERM) for getppid: the CRIU-style program's map.</summary>
    private static string PolicyFile(TempDir dir)
    {
        var json = new JsonObject();
        foreach (var s in Architecture.Native.Syscalls.All.Where(s => s.Number < 512 && s.Name != "getppid"))
            json[s.Name] = "0x" + SeccompAction.Allow.Value.ToString("x", CultureInfo.InvariantCulture);
        json["getppid"] = SeccompAction.Errno(Errno.EPERM).Value;
        File.WriteAllText(dir.File("policy.json"), json.ToJsonString());
        return dir.File("policy.json");
    }

    /// <summary>The profile of syscall_policy.c: every call goes to the agent, but write and the numbers without a name, which runc can't notify.</summary>
    private static JsonNode PolicyProfile(string socket)
    {
        var profile = Profile(Sample("syscall_policy"), socket, "--kernel-action", "default=SCMP_ACT_ERRNO", "--kernel-action", "write=SCMP_ACT_ALLOW");
        Assert.Equal("SCMP_ACT_ERRNO", (string?)profile["defaultAction"]);
        var write = profile["syscalls"]!.AsArray().Single(e => e!["names"]!.AsArray().Any(n => (string?)n == "write"))!;
        Assert.Equal("SCMP_ACT_ALLOW", (string?)write["action"]);
        return profile;
    }

    [Fact]
    public void A_criu_style_program_with_its_array_map_filled_from_JSON_runs_true_and_fails_getppid()
    {
        using var temp = new TempDir();
        string socket = temp.File("agent.sock");
        var profile = PolicyProfile(socket);
        var decisions = new SyncWriter();
        var diagnostics = new SyncWriter();
        using var agent = Agent(socket, decisions, diagnostics, new AgentEbpfOptions
        {
            Programs = [Sample("syscall_policy")],
            MapFiles = ["policy=" + PolicyFile(temp)],
            MapsSockets = false,
        });
        string id = "criu-" + Guid.NewGuid().ToString("N")[..8];
        var r = Finish(StartContainer(temp.Path, Bundle(temp.Path, id, profile, ["/bin/sh", "-c", "/bin/true && echo true-ran; /ebpf_target call " + Nr("getppid")]), id));
        Assert.True(r.Code == Errno.EPERM, r + "\nagent: " + diagnostics.Text);
        Assert.Contains("true-ran\n", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("ret -1 errno 1\n", r.Stdout, StringComparison.Ordinal);
        var lines = decisions.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Contains(lines, l => (string?)l["syscall"] == "getppid" && (string?)l["verdict"] == "error EPERM");
        Assert.Contains(lines, l => (string?)l["syscall"] == "execve" && (string?)l["verdict"] == "continue");
    }

    [Fact]
    public void Maps_dump_shows_the_counter_growing_while_the_container_runs()
    {
        using var temp = new TempDir();
        string socket = temp.File("agent.sock"), maps = temp.File("maps");
        Directory.CreateDirectory(maps);
        var profile = PolicyProfile(socket);
        var diagnostics = new SyncWriter();
        using var agent = Agent(socket, new SyncWriter(), diagnostics, new AgentEbpfOptions
        {
            Programs = [Sample("syscall_policy")],
            MapFiles = ["policy=" + PolicyFile(temp)],
            MapsDirectory = maps,
        });
        string id = "count-" + Guid.NewGuid().ToString("N")[..8];
        string bundle = Bundle(temp.Path, id, profile, ["/ebpf_target", "until", "/tmp/stop", Nr("getpid").ToString(CultureInfo.InvariantCulture)]);
        using var runc = StartContainer(temp.Path, bundle, id);
        try
        {
            WatchCounter(maps, bundle, runc, diagnostics);
        }
        finally
        {
            Kill(temp.Path, id, runc);
        }
    }

    private static void WatchCounter(string maps, string bundle, Process runc, SyncWriter diagnostics)
    {
        // The container's first process names its socket; `maps --pid` finds it from the container's own pid.
        WaitFor(() => Directory.GetFiles(maps, "*.sock").Length == 1, "the container's maps socket");
        string sock = Directory.GetFiles(maps, "*.sock").Single();
        string pid = Path.GetFileNameWithoutExtension(sock);
        Assert.Equal(sock, MapControlServer.Find(maps, int.Parse(pid, CultureInfo.InvariantCulture)));

        var list = RunCli("maps", "list", "--socket", sock);
        Assert.True(list.ExitCode == 0, list + "\nagent: " + diagnostics.Text);
        Assert.Matches(@"syscall_policy policy: array, key syscall_nr_t, value __u32, \d+ of 512 entries\n", list.Stdout);
        ulong Decided() => JsonNode.Parse(RunCli("maps", "dump", "--socket", sock, ".bss", "--json").Stdout)!["decided"]!.GetValue<ulong>();
        ulong first = 0;
        WaitFor(() => (first = Decided()) > 0, "a first count");
        WaitFor(() => Decided() > first, "the count to grow");
        var table = RunCli("maps", "dump", "--socket", sock, "policy");
        Assert.Matches(@"\n  getppid \(110\) +327681\n", table.Stdout);

        File.WriteAllText(Path.Combine(bundle, "rootfs", "tmp", "stop"), "");
        var r = Finish(runc);
        Assert.True(r.Code == 0, r + "\nagent: " + diagnostics.Text);
        Assert.Matches(@"calls \d+", r.Stdout);
        WaitFor(() => Directory.GetFiles(maps, "*.sock").Length == 0, "the socket to go with the container");
    }

    [Fact]
    public void A_containers_process_may_not_use_its_maps_socket()
    {
        using var temp = new TempDir();
        string socket = temp.File("agent.sock"), maps = temp.File("maps");
        Directory.CreateDirectory(maps);
        var profile = PolicyProfile(socket);
        var diagnostics = new SyncWriter();
        using var agent = Agent(socket, new SyncWriter(), diagnostics, new AgentEbpfOptions
        {
            Programs = [Sample("syscall_policy")],
            MapFiles = ["policy=" + PolicyFile(temp)],
            MapsDirectory = maps,
        });
        // The attacker is root in the container and its maps directory is mounted in: it asks to allow getppid.
        var mount = new JsonObject { ["destination"] = "/maps", ["type"] = "bind", ["source"] = maps, ["options"] = new JsonArray("rbind", "rw") };
        string id = "attack-" + Guid.NewGuid().ToString("N")[..8];
        string request = """{"op":"update","map":"policy","entries":{"getppid":"0x7fff0000"}}""";
        var r = Finish(StartContainer(temp.Path, Bundle(temp.Path, id, profile,
            ["/bin/sh", "-c", $"/ebpf_target connect /maps/*.sock '{request}'; /ebpf_target call {Nr("getppid")}"], mount), id));
        Assert.True(r.Code == Errno.EPERM, r + "\nagent: " + diagnostics.Text);
        Assert.Matches(@"\{""error"":""refused: process \d+ is inside the container""\}", r.Stdout);
        Assert.Contains("ret -1 errno 1\n", r.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"maps socket .*\.sock: process \d+ is inside the container; connection refused", diagnostics.Text);
    }
}
