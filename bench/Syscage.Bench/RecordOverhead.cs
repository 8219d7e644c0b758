using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Syscage.Bench;

/// <summary>
/// Issue #15: what <c>syscage record</c> costs against <c>strace -f -c</c>, the tool people count syscalls with, on the
/// same workload: each against the workload alone, one run each after one unmeasured warm-up run of each. Both see
/// every call (syscage through user notification, strace through ptrace) and both count them; the counts are checked
/// against the workload's own. Workloads: <c>bench/native/workload.c</c> (N getppid and N/100 openat + close, each a
/// syscall) and <c>ls -lR /usr/share</c> (a real program: getdents64, statx, getxattr, write ...).
/// </summary>
public static partial class RecordOverhead
{
    [GeneratedRegex(@"ALLOW getppid\s+# ([\d,]+) calls")]
    private static partial Regex RecordedGetppid();

    [GeneratedRegex(@"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?getppid$", RegexOptions.Multiline)]
    private static partial Regex StracedGetppid();

    [GeneratedRegex(@"recorded ([\d,]+) calls")]
    private static partial Regex RecordedCalls();

    [GeneratedRegex(@"^\s*100\.00\s+[\d.]+\s+\d+\s+(\d+)", RegexOptions.Multiline)]
    private static partial Regex StracedCalls();

    [GeneratedRegex(@"^getppid_ns \S+ median (\S+)$", RegexOptions.Multiline)]
    private static partial Regex InLoop();

    private sealed record Timed(double Ms, string Stdout, string Stderr);

    private static Timed Time(string file, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        double ms = sw.Elapsed.TotalMilliseconds;
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {p.ExitCode}: {stderr.Result}");
        return new Timed(ms, stdout.Result, stderr.Result);
    }

    /// <summary>Prints the wall times, overheads and their ratio, per workload.</summary>
    public static int Run(string[] args)
    {
        long getppids = args.Length > 0 ? long.Parse(args[0], CultureInfo.InvariantCulture) : 1_000_000;
        // The tool as installed (bench/record-overhead.sh publishes it: scripts/publish-syscage.sh).
        string cli = Path.Combine(Program.RepositoryRoot, "artifacts", "bin", "syscage");
        if (!File.Exists(cli))
        {
            Console.Error.WriteLine($"{cli} is missing: bench/record-overhead.sh publishes it (scripts/publish-syscage.sh)");
            return 2;
        }
        string strace = Testing.NativeBuild.FindOnPath("strace") ?? throw new InvalidOperationException("strace is not installed (apt-get install strace)");
        string dir = Directory.CreateTempSubdirectory("syscage-record-bench-").FullName;
        try
        {
            string workload = BenchNative.Compile("workload.c", Path.Combine(dir, "workload"));
            string policy = Path.Combine(dir, "recorded.policy"), counts = Path.Combine(dir, "strace.txt");
            var workloads = new (string Name, string File, string[] Args)[]
            {
                ($"workload {getppids:N0} getppid + {getppids / 100:N0} openat/close", workload, [getppids.ToString(CultureInfo.InvariantCulture), "100"]),
                ("ls -lR /usr/share", "/bin/ls", ["-lR", "/usr/share"]),
            };
            Console.WriteLine($"syscage record against strace -f -c, one run each after a warm-up ({Environment.ProcessorCount} CPUs)");
            foreach (var (name, file, wargs) in workloads)
            {
                string[] recordArgs = ["record", "-o", policy, "--", file, .. wargs];
                string[] straceArgs = ["-f", "-c", "-o", counts, file, .. wargs];
                // Warm-up: page cache, the runtime's ReadyToRun images, the directory tree.
                Time(file, wargs);
                Time(cli, recordArgs);
                Time(strace, straceArgs);
                var alone = Time(file, wargs);
                var recorded = Time(cli, recordArgs);
                var straced = Time(strace, straceArgs);
                var startup = Time(cli, ["record", "-o", Path.Combine(dir, "true.policy"), "--", "/bin/true"]);
                double recordOverhead = recorded.Ms - alone.Ms, straceOverhead = straced.Ms - alone.Ms;
                string policyText = File.ReadAllText(policy), straceText = File.ReadAllText(counts);
                long recordedCalls = long.Parse(RecordedCalls().Match(recorded.Stderr).Groups[1].Value.Replace(",", "", StringComparison.Ordinal), CultureInfo.InvariantCulture);
                string stracedCalls = StracedCalls().Match(straceText) is { Success: true } t ? t.Groups[1].Value : "?";
                Console.WriteLine();
                Console.WriteLine(name);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {"alone",-22} {alone.Ms,9:F0} ms"));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {"syscage record",-22} {recorded.Ms,9:F0} ms   overhead {recordOverhead,8:F0} ms   ({recordedCalls:N0} calls recorded; start-up with /bin/true {startup.Ms:F0} ms)"));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {"strace -f -c",-22} {straced.Ms,9:F0} ms   overhead {straceOverhead,8:F0} ms   ({stracedCalls} calls counted)"));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  record overhead / strace overhead: {recordOverhead / straceOverhead:F2} (target: at most 0.50)"));
                if (file == workload)
                {
                    // Both saw every getppid, and the workload's own in-loop timing (CLOCK_MONOTONIC, no start-up).
                    string r = RecordedGetppid().Match(policyText).Groups[1].Value, s = StracedGetppid().Match(straceText).Groups[1].Value;
                    Console.WriteLine($"  getppid counted: recording {r}, strace {s}; in-loop median ns per getppid: alone {InLoop().Match(alone.Stdout).Groups[1].Value}, " +
                                      $"record {InLoop().Match(recorded.Stdout).Groups[1].Value}, strace {InLoop().Match(straced.Stdout).Groups[1].Value}");
                    if (long.Parse(r.Replace(",", "", StringComparison.Ordinal), CultureInfo.InvariantCulture) != getppids || long.Parse(s, CultureInfo.InvariantCulture) != getppids)
                        throw new InvalidOperationException($"a tool missed calls: recorded {r}, strace {s}, made {getppids}");
                }
            }
            return 0;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
