using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Syscage.Policy;
using Syscage.Policy.Compiler;
using Syscage.Testing;
using Syscage.Policy.Builtin;

namespace Syscage.Bench;

/// <summary>
/// Issue #7 end to end: what eBPF seccomp programs cost when <c>syscage run --ebpf</c> splits them into a classic-BPF
/// kernel half and a supervisor half. One workload (<c>bench/native/workload.c</c>: 200,000 <c>getppid</c>, 2,000
/// <c>openat</c> of /dev/null) runs alone, under a plain classic-BPF filter, under the eBPF samples and under the
/// anchors — <c>strace --seccomp-bpf</c> fault injection and <c>strace -c</c> — as medians of N interleaved rounds
/// (one warm-up round first) of the wall time and of the call latencies the workload measures itself (getppid and
/// openat, mean and median). Each tool also runs <c>/bin/true</c> the same way, so its start-up can be subtracted.
/// Rows that need <c>--ebpf</c> (or a tool that is missing) say why they are skipped; a run that fails is reported,
/// and the others go on.
/// </summary>
public static class EbpfOverhead
{
    private const int Getppids = 200_000, Openats = 2_000;

    /// <summary>Every call the workload makes: getppid, openat and close, and about 30 of start-up (strace -c counts 204,034).</summary>
    private const int AllCalls = Getppids + 2 * Openats + 30;

    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);

    /// <summary>Which of the workload's calls leave the kernel (go to strace or to the supervisor).</summary>
    private enum Intercepts
    {
        None,
        Execve,
        Openat,
        All,
    }

    private enum Compare
    {
        None,

        /// <summary>Interception: the anchor's µs per intercepted call over this row's (how many times cheaper this is).</summary>
        PerCall,

        /// <summary>Kernel only: this row's median getppid over the anchor's (≈1 is the goal).</summary>
        Getppid,

        /// <summary>This row's wall time over the anchor's.</summary>
        Wall,
    }

    /// <summary>A configuration: <paramref name="command"/> runs the program named after it (nothing: the program alone).</summary>
    private sealed class Case(string key, string name, string[] command)
    {
        public string Key { get; } = key;
        public string Name { get; } = name;
        public string[] Command { get; } = command;
        public Intercepts Intercepts { get; init; }

        /// <summary>How many calls a run intercepts (0 when per-call costs mean nothing).</summary>
        public int Calls => Intercepts switch { Intercepts.Openat => Openats, Intercepts.All => AllCalls, _ => 0 };

        public string CallsText => Intercepts switch
        {
            Intercepts.Openat => "openat (2,000)",
            Intercepts.All => "all (≈204,000)",
            Intercepts.Execve => "execve (1)",
            _ => "none",
        };

        /// <summary>The row this one is compared with, by <see cref="Key"/>.</summary>
        public string? Anchor { get; init; }
        public Compare Compare { get; init; }

        /// <summary>The workload's failed-open report this row must produce, e.g. <c>failed 1 ENOENT 1</c>.</summary>
        public string Expect { get; init; } = "failed 0";

        /// <summary>A file strace -c writes its table to.</summary>
        public string? StraceSummary { get; init; }

        /// <summary>What strace -c counted in the last workload run.</summary>
        public string Counted { get; set; } = "";

        public string? Skip { get; set; }
        public string? Error { get; set; }
        public List<double> Wall { get; } = [];
        public List<double> Getppid { get; } = [];
        public List<double> GetppidMedian { get; } = [];
        public List<double> Openat { get; } = [];
        public List<double> OpenatMedian { get; } = [];
        public List<double> StartUp { get; } = [];
        public string Stdout { get; set; } = "";
        public string Stderr { get; set; } = "";
        public bool Runs => Skip is null && Error is null;
    }

    /// <summary>Prints the two tables; 1 when a run failed. <c>SYSCAGE_CLI</c> in the environment names another <c>syscage</c> to time.</summary>
    public static int Run(string[] args)
    {
        int n = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 5;
        // The tool as installed (bench/ebpf-overhead.sh publishes it), or another build of it named by SYSCAGE_CLI.
        string? other = Environment.GetEnvironmentVariable("SYSCAGE_CLI");
        string cli = string.IsNullOrEmpty(other) ? Path.Combine(Program.RepositoryRoot, "artifacts", "bin", "syscage") : other;
        if (!File.Exists(cli))
        {
            Console.Error.WriteLine(string.IsNullOrEmpty(other)
                ? $"{cli} is missing: bench/ebpf-overhead.sh publishes it (scripts/publish-syscage.sh)"
                : $"SYSCAGE_CLI={cli}: no such file");
            return 2;
        }
        var dir = Directory.CreateTempSubdirectory("syscage-ebpf-bench-");
        try
        {
            string workload = BenchNative.Compile("workload.c", Path.Combine(dir.FullName, "workload"));
            var cases = Cases(cli, dir.FullName);
            Measure(cases, workload, n);
            Print(cases, n);
            return cases.Any(c => c.Error is not null) ? 1 : 0;
        }
        catch (InvalidOperationException e)
        {
            Console.Error.WriteLine($"ebpf-overhead: {e.Message}");
            return 1;
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static List<Case> Cases(string cli, string dir)
    {
        // The classic-BPF baseline mirrors samples/ebpf/pure_filter.c, precompiled so that `syscage run` does no policy work.
        const string pure = "default ALLOW\narch x86_64\nERRNO(EPERM) ptrace\nERRNO(EPERM) kill if sig != 0\n";
        string pureBpf = Path.Combine(dir, "pure.bpf");
        string purePolicy = Path.Combine(dir, "pure.policy");
        File.WriteAllText(purePolicy, pure);
        File.WriteAllBytes(pureBpf, PolicyCompiler.Compile(PolicyLoader.Load(purePolicy)).ToBytes());
        // What the hybrid's kernel half does for fault_inject (openat goes to user space), served by today's supervisor.
        string notifyPolicy = Path.Combine(dir, "notify-openat.policy");
        File.WriteAllText(notifyPolicy, pure + "NOTIFY(log) openat\n");

        var help = Exec([cli, "run", "--help"]);
        bool ebpf = help.Stdout.Contains("--ebpf", StringComparison.Ordinal);
        bool stats = help.Stdout.Contains("--stats", StringComparison.Ordinal);
        bool noSplit = help.Stdout.Contains("--no-split", StringComparison.Ordinal);
        bool maps = help.Stdout.Contains("--maps", StringComparison.Ordinal);
        string? strace = NativeBuild.FindOnPath("strace");
        string? straceSkip = strace is null ? "skipped: strace is not installed" : null;
        if (strace is not null && Exec([strace, "-qq", "-f", "--seccomp-bpf", "-e", "trace=openat", "-o", "/dev/null", "/bin/true"]).Exit != 0)
            straceSkip = "skipped: this strace has no --seccomp-bpf (strace 5.3 or later has)";

        var objects = new Dictionary<string, string>(StringComparer.Ordinal);
        string? EbpfSkip(string sample)
        {
            if (!ebpf)
                return "pending: `syscage run` has no --ebpf yet";
            try
            {
                objects[sample] = BenchNative.CompileEbpf(sample, dir);
                return null;
            }
            catch (InvalidOperationException e)
            {
                return $"skipped: {e.Message}";
            }
        }
        string Object(string sample) => objects.TryGetValue(sample, out var o) ? o : sample + ".o";
        string[] Syscage(string sample, params string[] more) =>
            [cli, "run", "--ebpf", Object(sample), .. more, .. stats ? (string[])["--stats"] : [], "--"];

        string? faultSkip = EbpfSkip("fault_inject"), countSkip = EbpfSkip("syscall_count");
        string? execSkip = EbpfSkip("exec_once"), pureSkip = EbpfSkip("pure_filter");
        string[] knobs = ["--set", "target_nr=257", "--set", "nth=3", "--set", "error=2"];
        string straceC = Path.Combine(dir, "strace-c.txt");
        return
        [
            new("alone", "workload alone", []),
            new("classic", "classic BPF: `syscage run --policy pure.bpf`", [cli, "run", "--policy", pureBpf, "--"]),
            new("notify-log", "classic BPF, `NOTIFY(log) openat` (today's supervisor)", [cli, "run", "--policy", notifyPolicy, "--"])
            {
                Intercepts = Intercepts.Openat, Anchor = "strace-inject", Compare = Compare.PerCall,
            },
            new("strace-inject", "`strace --seccomp-bpf -e trace=openat -e inject=openat:error=ENOENT:when=3`",
                [strace ?? "strace", "-qq", "-f", "-o", "/dev/null", "--seccomp-bpf", "-e", "trace=openat", "-e", "inject=openat:error=ENOENT:when=3"])
            {
                Intercepts = Intercepts.Openat, Expect = "failed 1 ENOENT 1", Skip = straceSkip,
            },
            new("fault", "`syscage run --ebpf fault_inject.o` (nth=3, ENOENT)", Syscage("fault_inject", knobs))
            {
                Intercepts = Intercepts.Openat, Anchor = "strace-inject", Compare = Compare.PerCall,
                Expect = "failed 1 ENOENT 1", Skip = faultSkip,
            },
            new("fault-all", "`syscage run --ebpf fault_inject.o --no-split`", Syscage("fault_inject", [.. knobs, "--no-split"]))
            {
                Intercepts = Intercepts.All, Anchor = "fault", Compare = Compare.Wall,
                Expect = "failed 1 ENOENT 1", Skip = faultSkip ?? (noSplit ? null : "pending: `syscage run` has no --no-split yet"),
            },
            new("strace-c", "`strace -c -f`", [strace ?? "strace", "-f", "-c", "-o", straceC])
            {
                Intercepts = Intercepts.All, StraceSummary = straceC,
                Skip = strace is null ? "skipped: strace is not installed" : null,
            },
            new("count", "`syscage run --ebpf syscall_count.o --maps`", Syscage("syscall_count", maps ? ["--maps"] : []))
            {
                Intercepts = Intercepts.All, Anchor = "strace-c", Compare = Compare.PerCall, Skip = countSkip,
            },
            new("exec-once", "`syscage run --ebpf exec_once.o`", Syscage("exec_once"))
            {
                Intercepts = Intercepts.Execve, Anchor = "classic", Compare = Compare.Getppid, Skip = execSkip,
            },
            new("pure", "`syscage run --ebpf pure_filter.o`", Syscage("pure_filter"))
            {
                Anchor = "classic", Compare = Compare.Getppid, Skip = pureSkip,
            },
        ];
    }

    private static void Measure(List<Case> cases, string workload, int n)
    {
        for (int round = 0; round <= n; round++)
        {
            Console.Error.WriteLine(round == 0 ? "warm-up round" : $"round {round}/{n}");
            foreach (var c in cases.Where(c => c.Runs))
            {
                var run = Exec([.. c.Command, workload]);
                if (c.StraceSummary is not null)
                    c.Counted = StraceCount(c.StraceSummary);
                // The same command with /bin/true instead of the workload: its start-up.
                var start = Exec([.. c.Command, "/bin/true"]);
                c.Stdout = run.Stdout;
                c.Stderr = run.Stderr;
                c.Error = run.Exit != 0 ? Failure(c, run) : start.Exit != 0 ? Failure(c, start) + " (running /bin/true)" : null;
                var getppid = Regex.Match(run.Stdout, @"^getppid_ns ([0-9.]+) median ([0-9.]+)$", RegexOptions.Multiline);
                var openat = Regex.Match(run.Stdout, @"^openat_us ([0-9.]+) median ([0-9.]+)$", RegexOptions.Multiline);
                if (c.Error is null && !(getppid.Success && openat.Success))
                    c.Error = $"the workload printed no timings: {Clip(run.Stdout + run.Stderr)}";
                if (c.Error is not null)
                {
                    Console.Error.WriteLine($"{c.Name}: {c.Error}");
                    continue;
                }
                if (round == 0)
                    continue;
                c.Wall.Add(run.Ms);
                c.StartUp.Add(start.Ms);
                c.Getppid.Add(double.Parse(getppid.Groups[1].Value, CultureInfo.InvariantCulture));
                c.GetppidMedian.Add(double.Parse(getppid.Groups[2].Value, CultureInfo.InvariantCulture));
                c.Openat.Add(double.Parse(openat.Groups[1].Value, CultureInfo.InvariantCulture));
                c.OpenatMedian.Add(double.Parse(openat.Groups[2].Value, CultureInfo.InvariantCulture));
            }
        }
    }

    private static void Print(List<Case> cases, int n)
    {
        var byKey = cases.ToDictionary(c => c.Key);
        var alone = byKey["alone"];
        if (!alone.Runs)
        {
            Console.WriteLine($"the workload alone did not run: {alone.Error}");
            return;
        }
        double wall0 = Median(alone.Wall), true0 = Median(alone.StartUp);
        double StartUp(Case c) => Median(c.StartUp) - true0;
        double Raw(Case c) => (Median(c.Wall) - wall0) / c.Calls * 1000;
        double Corrected(Case c) => (Median(c.Wall) - wall0 - StartUp(c)) / c.Calls * 1000;
        // In the loop: what one intercepted call costs more than alone, from the workload's own timing of such calls. The
        // medians, because on a loaded machine preemption stretches the means by more than the costs measured here.
        double InLoop(Case c) => c.Intercepts == Intercepts.Openat
            ? Median(c.OpenatMedian) - Median(alone.OpenatMedian)
            : (Median(c.GetppidMedian) - Median(alone.GetppidMedian)) / 1000;

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"workload: {Getppids:N0} getppid + {Openats:N0} openat of /dev/null (and their close), " +
                          $"syscall(2) each; medians of {n} interleaved runs after one warm-up; {Environment.ProcessorCount} CPUs"));
        Console.WriteLine();
        Console.WriteLine("| configuration | wall ms | start-up ms | wall vs alone | intercepted | µs/call raw | µs/call start-up corrected | µs/call in-loop (median) | vs anchor |");
        Console.WriteLine("|---|---:|---:|---:|---|---:|---:|---:|---|");
        foreach (var c in cases)
        {
            if (!c.Runs)
            {
                Console.WriteLine($"| {c.Name} | {Cell(c.Skip ?? "failed: " + c.Error)} | | | {c.CallsText} | | | | |");
                continue;
            }
            string perCall = c.Calls == 0 ? "— | — | —" : $"{F(Raw(c), "F2")} | {F(Corrected(c), "F2")} | {F(InLoop(c), "F2")}";
            string vs = "";
            if (c.Anchor is not null && byKey[c.Anchor] is { Runs: true } a)
                vs = c.Compare switch
                {
                    Compare.PerCall => $"{a.Key} ÷ this, per call: {Ratio(Raw(a), Raw(c))} raw, {Ratio(Corrected(a), Corrected(c))} start-up corrected, {Ratio(InLoop(a), InLoop(c))} in-loop",
                    Compare.Getppid => $"{F(Median(c.GetppidMedian) / Median(a.GetppidMedian), "F3")}× {a.Key} getppid (median), {F(Median(c.Wall) / Median(a.Wall), "F3")}× wall",
                    _ => $"{F(Median(c.Wall) / Median(a.Wall), "F2")}× {a.Key} wall",
                };
            else if (c.Anchor is not null)
                vs = $"({c.Anchor} did not run)";
            Console.WriteLine($"| {c.Name} | {F(Median(c.Wall), "F1")} | {(c.Key == "alone" ? "0 (/bin/true " + F(true0, "F1") + ")" : F(StartUp(c), "F1"))} | " +
                              $"{F(Median(c.Wall) / wall0, "F2")}× | {c.CallsText} | {perCall} | {Cell(vs)} |");
        }
        Console.WriteLine();
        Console.WriteLine("wall: the command with the workload; start-up: the same command with /bin/true, minus /bin/true alone. µs per intercepted");
        Console.WriteLine("call: raw = (wall − wall alone)/calls; start-up corrected = the same minus the start-up; in-loop = the workload's own median");
        Console.WriteLine("openat (openat rows) or getppid (all-call rows) minus alone's. \"÷ this\": the anchor's µs/call over this row's (above 1:");
        Console.WriteLine("this row is cheaper); getppid/wall ratios: this row's over the anchor's. Below, the workload's own timings (medians over runs");
        Console.WriteLine("of each run's mean and median; getppid is timed in runs of 100).");
        Console.WriteLine();
        Console.WriteLine("| configuration | getppid ns mean / median | openat µs mean / median | workload reported (last run) | notified (`--stats`) | counted getppid |");
        Console.WriteLine("|---|---:|---:|---|---|---|");
        foreach (var c in cases)
        {
            if (!c.Runs)
            {
                Console.WriteLine($"| {c.Name} | | | {Cell(c.Skip ?? "failed (above)")} | | |");
                continue;
            }
            string summary = Regex.Match(c.Stdout, @"^getppid .*$", RegexOptions.Multiline).Value;
            string failed = Regex.Match(summary, @"failed .*$").Value;
            string check = Regex.Replace(failed, @" first_failed \d+$", "") == c.Expect ? failed : $"UNEXPECTED (wanted {c.Expect}): {failed}";
            string notified = c.Command.Contains("--ebpf") ? Notifications(c.Stderr, c.Command.Contains("--stats"))
                : c.Key == "notify-log" ? string.Create(CultureInfo.InvariantCulture, $"openat {c.Stderr.Split('\n').Count(l => l.StartsWith("syscage: openat(", StringComparison.Ordinal))} (log lines)")
                : "";
            string counted = c.Key == "count" ? MapCount(c.Stdout + c.Stderr, c.Command.Contains("--maps")) : c.Counted;
            Console.WriteLine($"| {c.Name} | {F(Median(c.Getppid), "F0")} / {F(Median(c.GetppidMedian), "F0")} | {F(Median(c.Openat), "F2")} / {F(Median(c.OpenatMedian), "F2")} | " +
                              $"{Cell(check)} | {Cell(notified)} | {Cell(counted)} |");
        }
    }

    /// <summary>
    /// Notification counts from <c>--stats</c> on stderr, read loosely: for each syscall of the workload, the first number
    /// after its name on a line (a number in parentheses right after the name, e.g. <c>openat(257)</c>, is taken for its nr).
    /// </summary>
    private static string Notifications(string stderr, bool asked)
    {
        if (!asked)
            return "n/a (no --stats yet)";
        var lines = stderr.Split('\n');
        if (!lines.Any(l => l.Contains("notif", StringComparison.OrdinalIgnoreCase) || Regex.IsMatch(l, @"\b(getppid|openat|execve)\b")))
            return "n/a (--stats printed nothing recognisable)";
        var parts = new List<string>();
        foreach (var name in (string[])["getppid", "openat", "close", "execve"])
        {
            var m = lines.Select(l => Regex.Match(l, $@"\b{name}\b(?:\s*\(\d+\))?\D*?(\d+(?:[,_]\d{{3}})*)")).FirstOrDefault(m => m.Success);
            parts.Add($"{name} {(m is null ? "0" : m.Groups[1].Value)}");
        }
        return string.Join(", ", parts);
    }

    /// <summary>The getppid (nr 110) count in <c>--maps</c>'s table: a line <c>getppid (110)   COUNT</c>.</summary>
    private static string MapCount(string output, bool asked)
    {
        if (!asked)
            return "n/a (no --maps)";
        var m = Regex.Match(output, @"^\s*getppid \(110\)\s+(\d+)\s*$", RegexOptions.Multiline);
        if (!m.Success)
            return "n/a (no getppid line in the --maps output)";
        ulong value = ulong.Parse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture);
        return string.Create(CultureInfo.InvariantCulture, $"{value:N0} (map)");
    }

    /// <summary>The getppid calls column of <c>strace -c</c>'s table (% time, seconds, usecs/call, calls, errors, syscall).</summary>
    private static string StraceCount(string file)
    {
        string? line = File.Exists(file) ? File.ReadLines(file).FirstOrDefault(l => l.TrimEnd().EndsWith(" getppid", StringComparison.Ordinal)) : null;
        var fields = line?.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return fields is { Length: >= 5 } && long.TryParse(fields[3], CultureInfo.InvariantCulture, out long calls) ? string.Create(CultureInfo.InvariantCulture, $"{calls:N0} (strace -c)") : "n/a (no getppid line)";
    }

    private static (int Exit, string Stdout, string Stderr, double Ms) Exec(string[] command)
    {
        var psi = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in command.Skip(1))
            psi.ArgumentList.Add(a);
        var sw = Stopwatch.StartNew();
        Process p;
        try
        {
            p = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, "", $"{psi.FileName}: {e.Message}", 0);
        }
        using (p)
        {
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(Timeout))
            {
                p.Kill(entireProcessTree: true);
                p.WaitForExit();
                return (-1, stdout.Result, $"timed out after {Timeout.TotalSeconds:F0} s; {stderr.Result}", sw.Elapsed.TotalMilliseconds);
            }
            double ms = sw.Elapsed.TotalMilliseconds;
            return (p.ExitCode, stdout.Result, stderr.Result, ms);
        }
    }

    private static string Failure(Case c, (int Exit, string Stdout, string Stderr, double Ms) run) =>
        $"`{string.Join(' ', c.Command.Select(a => a.StartsWith('/') ? Path.GetFileName(a) : a))} ...` exited {run.Exit}: {Clip(run.Stderr.Length > 0 ? run.Stderr : run.Stdout)}";

    /// <summary>The last lines of a tool's output, on one line.</summary>
    private static string Clip(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string tail = string.Join(" / ", lines.TakeLast(3));
        return tail.Length > 300 ? tail[..300] + "..." : tail.Length == 0 ? "(no output)" : tail;
    }

    /// <summary>A ratio of two costs, when both are above the noise (a difference of medians can come out negative).</summary>
    private static string Ratio(double anchor, double cost) => anchor > 0 && cost > 0 ? F(anchor / cost, "F2") : "n/a (within noise)";

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal);

    private static string F(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
