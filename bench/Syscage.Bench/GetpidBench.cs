using System.Diagnostics;
using System.Globalization;
using Syscage.Abi;
using Syscage.Kernel;
using Syscage.Kernel.Notify;
using Syscage.Policy;
using Syscage.Policy.Compiler;

namespace Syscage.Bench;

/// <summary>
/// Issue 16: the eBPF-seccomp patch set's own benchmark shape — a <c>.bss</c> counter allows the first half of the
/// getpid calls and refuses the rest, so that every getpid needs the program (in Syscage: every getpid is notified) —
/// under <c>syscage run --ebpf samples/ebpf/getpid_bench.o</c>, against a minimal C notification loop with
/// <c>SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP</c> that decides the same way (<c>bench/native/notify_bench.c c-getpid</c>), in
/// its two shapes — waiting in poll then receiving, and waiting in RECV itself (seccomp_unotify(2)'s example; one system
/// call fewer, what Syscage's single session worker does) — and,
/// for reference, Syscage's plain <see cref="NotificationSupervisor"/> with a C# handler doing the same, waiting in each
/// of those two ways. The target is
/// the same program in every case (<c>notify_bench target</c>: N calls after N/10 warm-up calls, timed with the vDSO
/// clock). Rounds are interleaved; the figures are medians of the target's ns per call, and the ratios the ones to meet
/// are syscage over each C loop (target ≤ 1.10); the RECV loop is the stricter.
/// </summary>
public static class GetpidBench
{
    /// <summary>Runs the rounds and prints the table and the ratio; 1 when a run did not decide as it should.</summary>
    public static int Run(string[] args)
    {
        int calls = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1_000_000;
        int rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 7;
        // The first half of all the calls the target makes (its warm-up included) is allowed.
        long total = calls + calls / 10, allowed = total / 2, denied = total - allowed;
        string? other = Environment.GetEnvironmentVariable("SYSCAGE_CLI");
        // The tool as installed (bench/getpid-bench.sh publishes it: the NativeAOT executable), or another build named by SYSCAGE_CLI.
        string cli = string.IsNullOrEmpty(other) ? Path.Combine(Program.RepositoryRoot, "artifacts", "bin", "syscage") : other;
        if (!File.Exists(cli))
        {
            Console.Error.WriteLine(string.IsNullOrEmpty(other)
                ? $"{cli} is missing: bench/getpid-bench.sh publishes it (scripts/publish-syscage.sh)"
                : $"SYSCAGE_CLI={cli}: no such file");
            return 1;
        }
        var dir = Directory.CreateTempSubdirectory("syscage-getpid-bench-");
        try
        {
            string bench = BenchNative.Compile("notify_bench.c", Path.Combine(dir.FullName, "notify_bench"));
            string obj = BenchNative.CompileEbpf("getpid_bench", dir.FullName);
            string getpid = Architecture.Native.Syscalls.TryGetNumber("getpid", out int nr) ? nr.ToString(CultureInfo.InvariantCulture) : throw new InvalidOperationException("no getpid");
            string n = calls.ToString(CultureInfo.InvariantCulture), a = allowed.ToString(CultureInfo.InvariantCulture);
            var cases = new (string Name, Func<(double Ns, string Check)> Measure)[]
            {
                ("minimal C loop, SYNC_WAKE_UP, poll + RECV (notify_bench c-getpid)", () => Process(bench, ["c-getpid", n, a], denied)),
                ("minimal C loop, SYNC_WAKE_UP, waiting in RECV (c-getpid ... recv)", () => Process(bench, ["c-getpid", n, a, "recv"], denied)),
                ("`syscage run --ebpf getpid_bench.o`", () => Process(cli, ["run", "--ebpf", obj, "--set", $"allowed={a}", "--maps-socket", "none", "--", bench, "target", n, getpid], denied)),
                ("NotificationSupervisor, C# handler (1 worker, SYNC_WAKE_UP)", () => Supervisor(bench, nr, calls, allowed, denied, receiveBlocking: false)),
                ("NotificationSupervisor, C# handler, waiting in RECV", () => Supervisor(bench, nr, calls, allowed, denied, receiveBlocking: true)),
            };
            var times = cases.Select(_ => new List<double>()).ToArray();
            int failures = 0;
            for (int r = 0; r < rounds; r++)
                for (int c = 0; c < cases.Length; c++)
                {
                    var (ns, check) = cases[c].Measure();
                    if (check.Length > 0)
                    {
                        Console.Error.WriteLine($"{cases[c].Name}, round {r + 1}: {check}");
                        failures++;
                        continue;
                    }
                    times[c].Add(ns);
                }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"getpid, the patch set's benchmark shape: {calls:N0} timed calls (+{calls / 10:N0} warm-up), all notified, the first {allowed:N0} allowed; {rounds} interleaved rounds; {Environment.ProcessorCount} CPUs"));
            Console.WriteLine("| configuration | µs per call, median | min | max |");
            Console.WriteLine("|---|---:|---:|---:|");
            for (int c = 0; c < cases.Length; c++)
                if (times[c].Count > 0)
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"| {cases[c].Name} | {Median(times[c]) / 1000:F2} | {times[c].Min() / 1000:F2} | {times[c].Max() / 1000:F2} |"));
            const int SyscageRun = 2;
            // Each plain-supervisor row against the C loop that waits as it does.
            foreach (var (c, loop, plain) in new[] { (0, "C poll loop", 3), (1, "C RECV loop", 4) })
            {
                if (times[c].Count == 0)
                    continue;
                if (times[SyscageRun].Count > 0)
                {
                    double ratio = Median(times[SyscageRun]) / Median(times[c]);
                    var perRound = times[SyscageRun].Zip(times[c], (s, b) => s / b).ToList();
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"ratio syscage run --ebpf / {loop}: {ratio:F2} (per round {perRound.Min():F2}–{perRound.Max():F2}; target ≤ 1.10)"));
                }
                if (times[plain].Count > 0)
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ratio {cases[plain].Name} / {loop}: {Median(times[plain]) / Median(times[c]):F2}"));
            }
            return failures == 0 ? 0 : 1;
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    /// <summary>The target's ns per call, and what is wrong with the run ("" when it refused exactly the calls past the counter).</summary>
    private static (double Ns, string Check) Parse(string stdout, long denied)
    {
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string? ns = lines.FirstOrDefault(l => l.StartsWith("ns_per_call ", StringComparison.Ordinal));
        string? failed = lines.FirstOrDefault(l => l.StartsWith("failed ", StringComparison.Ordinal));
        if (ns is null || failed is null)
            return (0, $"no figures in its output: {stdout.Trim()}");
        long refused = long.Parse(failed[7..], CultureInfo.InvariantCulture);
        return (double.Parse(ns[12..], CultureInfo.InvariantCulture),
            refused == denied ? "" : string.Create(CultureInfo.InvariantCulture, $"{refused} calls failed, {denied} should have"));
    }

    private static (double, string) Process(string file, string[] args, long denied)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        var result = Parse(output, denied);
        return p.ExitCode == 0 ? result : (0, $"exit {p.ExitCode}: {err.Result.Trim()}");
    }

    /// <summary>
    /// The target under a one-rule filter served by a <see cref="NotificationSupervisor"/> in this process, deciding as the
    /// program does: the supervisor's own cost with a handler of a few instructions (this process runs on the JIT runtime,
    /// not NativeAOT), waiting in poll or, as a session's single worker does, in RECV.
    /// </summary>
    private static (double, string) Supervisor(string bench, int getpid, int calls, long allowed, long denied, bool receiveBlocking)
    {
        var arch = Architecture.Native;
        var b = new PolicyBuilder(SeccompAction.Allow, arch);
        b.Add(arch, getpid, new Rule(Condition.True, SeccompAction.UserNotif));
        var info = new SandboxedProcessStartInfo(bench, "target", calls.ToString(CultureInfo.InvariantCulture), getpid.ToString(CultureInfo.InvariantCulture))
        {
            RedirectStandardOutput = true,
            Flags = FilterFlags.NewListener,
        };
        long count = 0;
        using var p = SandboxedProcess.Start(PolicyCompiler.Compile(b.Build()), info);
        using var supervisor = new NotificationSupervisor(p.Listener!, (_, _) => ValueTask.FromResult(
                count++ < allowed ? NotificationResponse.Continue : NotificationResponse.Error(Errno.EPERM)),
            new SupervisorOptions { Workers = 1, SyncWakeUp = true, ReceiveBlocking = receiveBlocking }).Start();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return Parse(output, denied);
    }
}
