using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Syscage.Abi;
using Syscage.Ebpf.Seccomp;
using Syscage.Supervision;
using Syscage.Testing;
using static Syscage.EbpfSeccomp.Tests.Harness;

namespace Syscage.EbpfSeccomp.Tests;

/// <summary>
/// Maps from outside (issue 16): <c>--map [PROGRAM:]MAP=FILE.json</c> fills a map before the first call, typed by BTF,
/// with errors that say where; the control socket of a run serves <c>syscage maps list|dump|update|delete</c> while the
/// program runs, to this user — and never to the sandboxed command, which is the attacker and runs as the same user.
/// </summary>
public sealed class MapControlTests
{
    private static string Getppid => Nr("getppid").ToString(CultureInfo.InvariantCulture);
    private static string Getpid => Nr("getpid").ToString(CultureInfo.InvariantCulture);

    /// <summary>A policy for samples/ebpf/syscall_policy.c: ALLOW for every syscall of the native table, getppid ERRNO(EPERM).</summary>
    private static string PolicyFile(TempDir dir)
    {
        var json = new JsonObject();
        foreach (var s in Architecture.Native.Syscalls.All.Where(s => s.Number < 512 && s.Name != "getppid"))
            json[s.Name] = "0x" + SeccompAction.Allow.Value.ToString("x", CultureInfo.InvariantCulture);
        json["getppid"] = SeccompAction.Errno(Errno.EPERM).Value;
        File.WriteAllText(dir.File("policy.json"), json.ToJsonString());
        return dir.File("policy.json");
    }

    [Fact]
    public void A_map_filled_from_JSON_decides_the_first_call()
    {
        using var dir = new TempDir();
        string policy = PolicyFile(dir);
        var denied = RunCli("run", "--ebpf", Sample("syscall_policy"), "--map", "policy=" + policy, "--maps-socket", "none", "--", Target, "call", Getppid);
        Assert.True(denied.ExitCode == Errno.EPERM, denied.ToString());
        var allowed = RunCli("run", "--ebpf", Sample("syscall_policy"), "--map", "syscall_policy:policy=" + policy, "--maps-socket", "none", "--", Target, "call", Getpid);
        Assert.True(allowed.ExitCode == 0, allowed.ToString());
        // Unfilled, the array holds 0 for every call: SECCOMP_RET_KILL_THREAD, as the program says.
        var unfilled = RunCli("run", "--ebpf", Sample("syscall_policy"), "--maps-socket", "none", "--", Target, "call", Getpid);
        Assert.True(unfilled.ExitCode != 0, unfilled.ToString());

        // ebpf run fills the same way.
        var run = RunCli("ebpf", "run", Sample("syscall_policy"), "--ctx", "getppid", "--map", "policy=" + policy);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.EndsWith("ERRNO(1)\n", run.Stdout, StringComparison.Ordinal);
    }

    public static TheoryData<string, string, string, string> BadFiles => new()
    {
        // sample, map, file contents, the error after "syscage: FILE"
        { "syscall_policy", "policy", "{\"getppid\": \"ALLOW\"}", ":1:13: map policy: getppid: 'ALLOW' is not a number (decimal, or hexadecimal after 0x)" },
        { "syscall_policy", "policy", "{\n  \"read\": 1,\n  \"write\": [1]\n}", ":3:12: map policy: write: expected a number for __u32, found a list" },
        { "syscall_policy", "policy", "{\"getppid\": 4294967296}", ":1:13: map policy: getppid: 4294967296 does not fit __u32 (0 to 4294967295)" },
        { "syscall_policy", "policy", "{\"600\": 1}", ":1:9: map policy: 600: key 600 is out of range: array 'policy' has 512 entries (0 to 511)" },
        { "syscall_policy", "policy", "{\"gteppid\": 1}", ":1:13: map policy: gteppid: key 'gteppid' is not a number; did you mean 'getppid'?" },
        { "syscall_policy", "policy", "{\"110\": 1, \"getppid\": 2}", ":1:23: map policy: getppid: this key is given twice" },
        { "syscall_policy", "policy", "{\"read\": }", ":1:10: map policy: not valid JSON: '}' is an invalid start of a value" },
        { "syscall_policy", "policy", "[1, 2]", ":1:1: map policy: expected an object whose members are the entries of map 'policy', found a list" },
        { "syscall_policy", ".bss", "{\"decidd\": 1}", ":1:12: map .bss: decidd: map '.bss' has no variable 'decidd'; did you mean 'decided'? (its variables: decided)" },
        { "getpid_bench", ".rodata", "{\"allowed\": 1}", ":1:1: map .rodata: map '.rodata' is read-only to the program, and the verifier and the split took its values as constants: set its const volatile knobs with --set" },
        { "exec_once", "exec_seen", "{\"getppid\": 1}", ":1:13: map exec_seen: getppid: key 'getppid' is not a number: map 'exec_seen' is not keyed by syscall numbers" },
        { "exec_once", "exec_seen", "{\"0\": -1}", ":1:7: map exec_seen: 0: -1 does not fit __u32 (0 to 4294967295)" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void A_wrong_map_file_is_one_line_with_its_position_and_the_members_path(string sample, string map, string contents, string expected)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("m.json"), contents);
        var r = RunCli("ebpf", "run", Sample(sample), "--ctx", "getpid", "--map", $"{map}={dir.File("m.json")}");
        Assert.True(r.ExitCode == 3, r.ToString());
        Assert.StartsWith($"syscage: {dir.File("m.json")}{expected}", r.Stderr, StringComparison.Ordinal);
        Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        // syscage run refuses before the command starts.
        var run = RunCli("run", "--ebpf", Sample(sample), "--map", $"{map}={dir.File("m.json")}", "--", Target, "call", Getpid);
        Assert.True(run.ExitCode == 3, run.ToString());
        Assert.DoesNotContain("ret ", run.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void A_map_no_program_has_or_a_missing_file_is_named()
    {
        using var dir = new TempDir();
        var r = RunCli("ebpf", "run", Sample("syscall_policy"), "--ctx", "getpid", "--map", "polcy=" + dir.File("none.json"));
        Assert.Contains("no map named 'polcy'; did you mean 'policy'? (maps: .bss, policy)", r.Stderr, StringComparison.Ordinal);
        r = RunCli("ebpf", "run", Sample("syscall_policy"), "--ctx", "getpid", "--map", "policy=" + dir.File("none.json"));
        Assert.Contains($"--map policy: {dir.File("none.json")}: no such file", r.Stderr, StringComparison.Ordinal);
        r = RunCli("ebpf", "run", Sample("syscall_policy"), "--ctx", "getpid", "--map", "policy");
        Assert.Contains("--map expects [PROGRAM:]MAP=FILE.json, not 'policy'", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Structs_and_char_arrays_are_written_and_dumped_as_JSON_objects_and_strings()
    {
        string obj = Compile("struct_map", """
            #include "common.h"
            struct rule { __u32 action; char why[12]; __s16 weight; __u8 flags[2]; };
            struct {
            	__uint(type, BPF_MAP_TYPE_HASH);
            	__uint(max_entries, 4);
            	__type(key, __u32);
            	__type(value, struct rule);
            } rules SEC(".maps");
            SEC("seccomp") int by_rule(struct seccomp_data *ctx)
            {
            	__u32 nr = ctx->nr;
            	struct rule *r = bpf_map_lookup_elem(&rules, &nr);
            	return r ? r->action : SECCOMP_RET_ALLOW;
            }
            char LICENSE[] SEC("license") = "GPL";
            """);
        using var program = SeccompEbpfProgram.Load(obj);
        using var dir = new TempDir();
        using var server = new MapControlServer(dir.File("c.sock"), [program]);
        var update = server.Handle(Encoding.UTF8.GetBytes("""{"op":"update","map":"rules","entries":{"39":{"action":"0x50001","why":"no pid","weight":-3,"flags":[1]}}}"""));
        Assert.True(update["ok"]?.GetValue<bool>() == true, update.ToJsonString());
        var dump = server.Handle(Encoding.UTF8.GetBytes("""{"op":"dump","map":"rules"}"""));
        Assert.Equal("""{"39":{"action":327681,"why":"no pid","weight":-3,"flags":[1,0]}}""", dump["entries"]!.ToJsonString());
        Assert.Contains("map rules of by_rule (hash, 1 entry; key __u32, value struct rule)", dump["text"]!.GetValue<string>(), StringComparison.Ordinal);
        // The dump reads back as an update that changes nothing, and the program sees the value.
        Assert.True(server.Handle(Encoding.UTF8.GetBytes($$"""{"op":"update","map":"rules","entries":{{dump["entries"]!.ToJsonString()}}}"""))["ok"] is not null);
        Assert.Equal(SeccompAction.Errno(Errno.EPERM).Value, program.Run(new SeccompData(Nr("getpid"), Architecture.Native.AuditArch), new Ebpf.Helpers.HelperContext(new NoTask())));

        // Wrong members are errors with their path; nothing is written.
        var wrong = server.Handle(Encoding.UTF8.GetBytes("""{"op":"update","map":"rules","entries":{"40":{"acton":1}}}"""));
        Assert.Equal("map rules: entries.40.acton: struct rule has no member 'acton'; did you mean 'action'?", wrong["error"]!.GetValue<string>());
        wrong = server.Handle(Encoding.UTF8.GetBytes("""{"op":"update","map":"rules","entries":{"40":{"why":"much too long a reason"}}}"""));
        Assert.Equal("map rules: entries.40.why: the string is 22 bytes; char[12] holds 12", wrong["error"]!.GetValue<string>());
        wrong = server.Handle(Encoding.UTF8.GetBytes("""{"op":"update","map":"rules","entries":{"1":{},"2":{},"3":{},"4":{}}}"""));
        Assert.Equal("map rules: entries: map 'rules' holds at most 4 entries: it has 1, and 4 would be added", wrong["error"]!.GetValue<string>());
        Assert.Single(program.Maps["rules"].Entries());

        // delete, list, and requests that make no sense.
        Assert.Equal(1, server.Handle(Encoding.UTF8.GetBytes("""{"op":"delete","map":"rules","keys":["39","41"]}"""))["deleted"]!.GetValue<int>());
        Assert.Empty(program.Maps["rules"].Entries());
        var list = server.Handle(Encoding.UTF8.GetBytes("""{"op":"list"}"""));
        Assert.Equal("""[{"program":"by_rule","map":"rules","kind":"hash","key_size":4,"value_size":20,"max_entries":4,"entries":0,"writable":true,"key":"__u32","value":"struct rule"}]""",
            list["maps"]!.ToJsonString());
        Assert.Equal("unknown op 'dumb' (list, dump, update, delete); did you mean 'dump'?", server.Handle(Encoding.UTF8.GetBytes("""{"op":"dumb"}"""))["error"]!.GetValue<string>());
        Assert.StartsWith("the request is not JSON", server.Handle(Encoding.UTF8.GetBytes("{"))["error"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    private sealed class NoTask : Ebpf.Helpers.IBpfTask
    {
        public int Pid => 1;
        public int Tgid => 1;
        public uint Uid => 0;
        public uint Gid => 0;
        public string Comm => "test";
        public bool MayReadMemory => false;
        public int ReadMemory(ulong address, Span<byte> destination) => -1;
        public object Identity => 1;
    }

    /// <summary><c>syscage ARGS</c> (the published native tool) as a process of its own (its pid names its maps socket), stdout and stderr captured.</summary>
    private sealed class SyscageProcess : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _out = new(), _err = new();

        public SyscageProcess(params string[] args)
        {
            // The tool as users run it: the published native executable.
            var psi = new ProcessStartInfo(SyscageTool.Path) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in args)
                psi.ArgumentList.Add(a);
            _process = Process.Start(psi)!;
            _process.OutputDataReceived += (_, e) => { lock (_out) _out.Append(e.Data).Append('\n'); };
            _process.ErrorDataReceived += (_, e) => { lock (_err) _err.Append(e.Data).Append('\n'); };
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public int Pid => _process.Id;
        public string Stdout { get { lock (_out) return _out.ToString(); } }
        public string Stderr { get { lock (_err) return _err.ToString(); } }

        public int Wait()
        {
            Assert.True(_process.WaitForExit(60_000), "syscage did not end");
            _process.WaitForExit();
            return _process.ExitCode;
        }

        public void Dispose()
        {
            if (!_process.HasExited)
                _process.Kill(entireProcessTree: true);
            _process.Dispose();
        }
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

    /// <summary>The one child of <paramref name="pid"/> (<c>/proc/PID/task/PID/children</c>), or 0.</summary>
    private static int ChildOf(int pid)
    {
        var children = Proc($"/proc/{pid}/task/{pid}/children").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return children.Length == 1 ? int.Parse(children[0], CultureInfo.InvariantCulture) : 0;
    }

    /// <summary>A /proc file's text, or "" when its process has gone (or not yet become what is looked for).</summary>
    private static string Proc(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return "";
        }
    }

    private static ulong Count(string json) => JsonNode.Parse(json)!["count"]!.GetValue<ulong>();

    [Fact]
    public void Maps_dump_shows_the_counter_growing_while_the_program_runs_and_update_changes_it()
    {
        using var dir = new TempDir();
        string stop = dir.File("stop");
        // The patch set's benchmark shape: every getpid is notified, the .bss counter counts them.
        using var run = new SyscageProcess("run", "--ebpf", Sample("getpid_bench"), "--set", "allowed=1000000000", "--", Target, "until", stop, Getpid);
        // syscage → its launcher → the command: each of their pids finds the run's socket.
        int launcher = 0, command = 0;
        WaitFor(() => (launcher = ChildOf(run.Pid)) > 0 && (command = ChildOf(launcher)) > 0 && Proc($"/proc/{command}/comm").Trim() == "ebpf_target", "the command");
        string socket = MapControlServer.Find(MapControlServer.DefaultDirectory(), command);
        Assert.Equal(MapControlServer.Find(MapControlServer.DefaultDirectory(), run.Pid), socket);
        Assert.Equal(Path.Combine(MapControlServer.DefaultDirectory(), $"{run.Pid}.sock"), socket);

        string pid = command.ToString(CultureInfo.InvariantCulture);
        var list = RunCli("maps", "list", "--pid", pid);
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Contains("getpid_bench .bss: global variables: count", list.Stdout, StringComparison.Ordinal);
        Assert.Contains("getpid_bench .rodata: global variables (read-only): allowed", list.Stdout, StringComparison.Ordinal);

        ulong first = 0, second = 0;
        WaitFor(() => (first = Count(RunCli("maps", "dump", "--pid", pid, ".bss", "--json").Stdout)) > 0, "a first count");
        WaitFor(() => (second = Count(RunCli("maps", "dump", "--pid", pid, ".bss", "--json").Stdout)) > first, "the count to grow");
        var table = RunCli("maps", "dump", "--pid", pid, ".bss");
        Assert.Matches(@"^map \.bss of getpid_bench \(global variables\)\n  count = \d+\n$", table.Stdout);

        // Setting the counter past the limit makes the program refuse: the next dump counts on from there.
        var update = RunCli("maps", "update", "--pid", pid, ".bss", "count", "2000000000");
        Assert.True(update.ExitCode == 0, update.ToString());
        Assert.Equal(".bss: 1 entry updated\n", update.Stdout);
        Assert.True(Count(RunCli("maps", "dump", "--pid", pid, ".bss", "--json").Stdout) >= 2_000_000_000);
        var readOnly = RunCli("maps", "update", "--pid", pid, ".rodata", "allowed", "1");
        Assert.True(readOnly.ExitCode == 3, readOnly.ToString());
        Assert.Contains("map .rodata: entries: map '.rodata' is read-only to the program", readOnly.Stderr, StringComparison.Ordinal);

        File.WriteAllText(stop, "");
        Assert.Equal(0, run.Wait());
        Assert.Matches(@"calls \d+", run.Stdout);
        Assert.False(File.Exists(socket), "the socket outlived the run");
        var gone = RunCli("maps", "list", "--pid", run.Pid.ToString(CultureInfo.InvariantCulture));
        Assert.NotEqual(0, gone.ExitCode);
    }

    [Theory]
    [InlineData("connect")]
    [InlineData("connect-orphan")]
    public void The_sandboxed_command_may_not_use_its_runs_maps_socket(string how)
    {
        // The attacker runs as the same user and knows the path: it asks to reset the counter that limits it.
        using var dir = new TempDir();
        string socket = dir.File("maps.sock");
        using var run = new SyscageProcess("run", "--ebpf", Sample("getpid_bench"), "--set", "allowed=0", "--maps-socket", socket, "--",
            Target, how, socket, """{"op":"update","map":".bss","entries":{"count":0}}""");
        Assert.Equal(0, run.Wait());
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(run.Stdout, @"^\{""error"":""refused: process \d+ is inside the sandbox, which may not change its own maps""\}\n"),
            $"stdout: {run.Stdout}\nstderr: {run.Stderr}");
        Assert.Matches(@"syscage: maps socket .*maps\.sock: process \d+ is inside the sandbox, which may not change its own maps; connection refused", run.Stderr);
    }

    [Fact]
    public void Another_user_may_not_use_a_maps_socket()
    {
        using var program = SeccompEbpfProgram.Load(Sample("getpid_bench"));
        using var dir = new TempDir();
        File.SetUnixFileMode(dir.Path, (UnixFileMode)0b111_111_111);
        using var server = new MapControlServer(dir.File("open.sock"), [program]).Start(null);
        // Opened to everyone on purpose: the credentials check is what stops uid 65534 here.
        File.SetUnixFileMode(server.SocketPath, (UnixFileMode)0b110_110_110);
        var psi = new ProcessStartInfo(Target, ["connect-as", "65534", server.SocketPath, """{"op":"list"}"""]) { RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        string answer = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.Equal($$"""{"error":"refused: uid 65534 is neither this user ({{ProcessUid()}}) nor root"}""" + "\n", answer);
        // The same user outside the sandbox is served.
        var ok = MapControlClient.Send(server.SocketPath, new JsonObject { ["op"] = "list" });
        Assert.True(ok["ok"]!.GetValue<bool>());
    }

    private static string ProcessUid() => File.ReadLines("/proc/self/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[2];

    [Fact]
    public void The_default_directory_is_refused_when_it_is_not_private()
    {
        using var dir = new TempDir();
        string open = dir.File("open");
        Directory.CreateDirectory(open);
        File.SetUnixFileMode(open, (UnixFileMode)0b111_111_111);
        var e = Assert.Throws<IOException>(() => Kernel.UnixSocket.EnsurePrivateDirectory(open));
        Assert.Contains("is open to other users (mode 777)", e.Message, StringComparison.Ordinal);
        File.CreateSymbolicLink(dir.File("link"), open);
        e = Assert.Throws<IOException>(() => Kernel.UnixSocket.EnsurePrivateDirectory(dir.File("link")));
        Assert.Contains("is not a directory (a link or a file is there)", e.Message, StringComparison.Ordinal);
        Kernel.UnixSocket.EnsurePrivateDirectory(dir.File("made"));
        Assert.Equal((UnixFileMode)0b111_000_000, File.GetUnixFileMode(dir.File("made")));
    }
}
