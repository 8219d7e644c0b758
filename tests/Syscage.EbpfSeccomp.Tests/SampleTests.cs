using System.Globalization;
using System.Text.Json;
using static Syscage.EbpfSeccomp.Tests.Harness;

namespace Syscage.EbpfSeccomp.Tests;

/// <summary>
/// Each sample of samples/ebpf, compiled with the real clang, run against real programs with <c>syscage run --ebpf</c>
/// (in-process CLI; the command runs in a child process under the filter).
/// </summary>
public sealed class SampleTests
{
    private const int EPERM = 1, ENOENT = 2;

    [Fact]
    public void ExecOnce_TheLaunchersExecIsTheOnlyOneAllowed()
    {
        // sh is the first execve (the launcher's exec of the command); its exec of /bin/true is refused: sh
        // reports 126 ("Operation not permitted") and exits with it.
        var r = RunCli("run", "--ebpf", Sample("exec_once"), "--maps", "--", "/bin/sh", "-c", "/bin/true; exit $?");
        Assert.True(r.ExitCode == 126, r.ToString());
        Assert.Contains("map .bss of exec_once (global variables)\n  refused = 1\n", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("map exec_seen of exec_once (array, 1 entry; key __u32, value __u32)\n  0  1\n", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void ExecOnce_AFirstExecThatSucceedsRunsTheCommand()
    {
        var r = RunCli("run", "--ebpf", Sample("exec_once"), "--", Target, "call", Nr("getppid").ToString(CultureInfo.InvariantCulture));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("", r.Stderr);
    }

    [Fact]
    public void Counting_TheMapTableShowsTheCallsBySyscallName()
    {
        var r = RunCli("run", "--ebpf", Sample("syscall_count"), "--maps", "--", Target, "repeat", "7", Nr("getppid").ToString(CultureInfo.InvariantCulture));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("map counts of count_syscalls (hash, ", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("key syscall_nr_t, value __u64)", r.Stderr, StringComparison.Ordinal);
        var line = r.Stderr.Split('\n').Single(l => l.StartsWith("  getppid (110)", StringComparison.Ordinal));
        Assert.Equal("7", line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1]);
        // The command's exec is counted (it is the first call the filter sees that the kernel lets through).
        Assert.Contains(r.Stderr.Split('\n'), l => l.StartsWith("  execve (59)", StringComparison.Ordinal));
    }

    [Fact]
    public void FaultInjection_TheThirdOpenatFailsWithEnoent()
    {
        // Knobs by syscall name and by number; ebpf_target's status is the mask of failed opens: 0b00100.
        var r = RunCli("run", "--ebpf", Sample("fault_inject"), "--set", "target_nr=openat", "--set", "nth=3", "--set", "error=" + ENOENT,
            "--maps", "--", Target, "openat", "5", "/etc/hostname");
        Assert.True(r.ExitCode == 0b00100, r.ToString());
        Assert.Contains("  target_nr = 257\n  nth = 3\n  one_in = 0\n  error = 2\n", r.Stderr, StringComparison.Ordinal);
        Assert.Matches(@"map calls of fault_inject \(hash, 1 entry; key __u32, value __u64\)\n  \d+  5\n", r.Stderr);
    }

    [Fact]
    public void FaultInjection_CountsPerProcess_AcrossManyShortLivedProcesses()
    {
        // 300 processes (more than the supervisor keeps pidfds for): each one's first openat fails, its second works,
        // so the thread group of every caller must be right, cached or not.
        using var set = Set(Sample("fault_inject"), ("target_nr", 257), ("nth", 1), ("error", ENOENT));
        var o = Run(set, null, "forks", "300", "/etc/hostname");
        Assert.True(o.Stdout.Trim() == "forks 300 pattern 300", o.ToString());
        Assert.Equal(600, o.Handler.Notifications);
    }

    [Fact]
    public void FaultInjection_OneInOneFailsEveryCall()
    {
        // one_in = K fails a random 1-in-K call (bpf_get_prandom_u32() % K == 0): K = 1 fails every one.
        var r = RunCli("run", "--ebpf", Sample("fault_inject"), "--set", "one_in=1", "--set", "error=13", "--", Target, "openat", "4", "/etc/hostname");
        Assert.True(r.ExitCode == 0b1111, r.ToString());
    }

    [Fact]
    public void FaultInjection_OneInKFailsSomeCallsOnly()
    {
        var set = Set(Sample("fault_inject"), ("one_in", 2), ("error", 13));
        using (set)
        {
            var o = Run(set, null, "openat", "64", "/etc/hostname");
            var errnos = o.Lines.Select(l => l.Split(' ')[^1]).ToArray();
            Assert.Equal(64, errnos.Length);
            Assert.All(errnos, e => Assert.True(e is "0" or "13", o.ToString()));
            // 64 fair coin flips all the same: 1 in 2^63.
            Assert.True(errnos.Distinct().Count() == 2, o.ToString());
        }
    }

    [Fact]
    public void OpenLogging_EventsAreJsonLinesWithThePath()
    {
        using var dir = new TempDir();
        string events = dir.File("events.jsonl");
        var r = RunCli("run", "--ebpf", Sample("open_logger"), "--events", events, "--", "/bin/cat", "/etc/hostname");
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = File.ReadAllLines(events);
        Assert.NotEmpty(lines);
        var docs = lines.Select(l => JsonDocument.Parse(l)).ToList();
        Assert.All(docs, d =>
        {
            Assert.Equal("log_open", d.RootElement.GetProperty("program").GetString());
            Assert.Equal("events", d.RootElement.GetProperty("map").GetString());
            Assert.Equal("struct open_event", d.RootElement.GetProperty("type").GetString());
        });
        var hostname = docs.Select(d => d.RootElement.GetProperty("event")).Single(e => e.GetProperty("path").GetString() == "/etc/hostname");
        Assert.Equal("cat", hostname.GetProperty("comm").GetString());
        Assert.Equal(Nr("openat"), hostname.GetProperty("nr").GetInt32());
        ulong pidTgid = hostname.GetProperty("pid_tgid").GetUInt64();
        Assert.Equal(pidTgid >> 32, pidTgid & 0xffff_ffff); // single-threaded cat: pid == tgid
    }

    [Fact]
    public void OpenLogging_WithoutEventsFileTheLinesGoToStderr()
    {
        var r = RunCli("run", "--ebpf", Sample("open_logger"), "--", "/bin/cat", "/etc/hostname");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("\"path\":\"/etc/hostname\"", r.Stderr, StringComparison.Ordinal);
        Assert.All(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => JsonDocument.Parse(l).Dispose());
    }

    [Fact]
    public void UidRule_SignallingPid1IsRefusedAndCountedByUid()
    {
        // kill(1, 0) by a task that is not the supervisor: EPERM, counted under the caller's real uid (0 here).
        var r = RunCli("run", "--ebpf", Sample("uid_rule"), "--maps", "--", Target, "call", Nr("kill").ToString(CultureInfo.InvariantCulture), "1", "0");
        Assert.True(r.ExitCode == EPERM, r.ToString());
        Assert.Contains("map denials of uid_rule (LRU hash, 1 entry)\n  0  1\n", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void UidRule_SetuidIsForRootOnly()
    {
        Assert.True(GetUid() == 0, "this test changes uid, so it needs root (the test machine runs tests as root)");
        string setuid = Nr("setuid").ToString(CultureInfo.InvariantCulture);
        // uid 0 may call setuid.
        var root = RunCli("run", "--ebpf", Sample("uid_rule"), "--", Target, "call", setuid, "0");
        Assert.True(root.ExitCode == 0, root.ToString());
        // uid 65534 may not, not even to its own uid (which the kernel would allow): the program's EPERM.
        var nobody = RunCli("run", "--ebpf", Sample("uid_rule"), "--maps", "--", Target, "as-uid", "65534", setuid, "65534");
        Assert.True(nobody.ExitCode == EPERM, nobody.ToString());
        Assert.Contains("map denials of uid_rule (LRU hash, 1 entry)\n  65534  1\n", nobody.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void PureFilter_KillWithASignalAndPtraceAreRefused()
    {
        string kill = Nr("kill").ToString(CultureInfo.InvariantCulture);
        var probe = RunCli("run", "--ebpf", Sample("pure_filter"), "--", Target, "call", kill, "1", "0");
        Assert.True(probe.ExitCode == 0, probe.ToString());          // signal 0: allowed (root may probe pid 1)
        var term = RunCli("run", "--ebpf", Sample("pure_filter"), "--", Target, "call", kill, "1", "15");
        Assert.True(term.ExitCode == EPERM, term.ToString());
        var ptrace = RunCli("run", "--ebpf", Sample("pure_filter"), "--", Target, "call", Nr("ptrace").ToString(CultureInfo.InvariantCulture), "0");
        Assert.True(ptrace.ExitCode == EPERM, ptrace.ToString());
    }

    /// <summary>
    /// A pure filter needs no supervisor at all (HybridCompiler's static/dynamic split), and <c>--stats</c> then reports
    /// no notified call.
    /// </summary>
    [Fact]
    public void PureFilter_RunsEntirelyInTheKernel()
    {
        using (var set = Set(Sample("pure_filter")))
            Assert.False(set.Compile().NeedsSupervisor, "the pure filter's hybrid filter still notifies calls: has the split landed in HybridCompiler?");
        var r = RunCli("run", "--ebpf", Sample("pure_filter"), "--stats", "--", Target, "call", Nr("ptrace").ToString(CultureInfo.InvariantCulture), "0");
        Assert.True(r.ExitCode == EPERM, r.ToString());
        Assert.Contains("syscage: 0 notified calls (the kernel decided every call: no supervisor)", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void NoSplit_SendsEveryCallToTheSupervisor()
    {
        var r = RunCli("run", "--ebpf", Sample("pure_filter"), "--no-split", "--stats", "--", Target, "repeat", "3", Nr("getppid").ToString(CultureInfo.InvariantCulture));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Matches(@"syscage:   getppid 3\n", r.Stderr);
    }

    private static uint GetUid()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("Uid:", StringComparison.Ordinal))
                return uint.Parse(line[4..].Trim().Split('\t')[0], CultureInfo.InvariantCulture);
        return uint.MaxValue;
    }
}
