using System.Diagnostics;
using System.Globalization;
using Syscage.Bpf;
using Syscage.Kernel;
using Syscage.Kernel.Notify;
using Syscage.Policy;
using Syscage.Policy.Compiler;
using Syscage.Abi;

namespace Syscage.Bench;

/// <summary>
/// User-notification round trip: a target makes N calls that its filter sends to user space; the answer comes from
/// Syscage's C# supervisor or from a minimal C supervisor loop (poll, RECV, SEND) compiled here, each with and
/// without <c>SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP</c>. Rounds are interleaved so machine noise spreads evenly;
/// medians of the target's ns per call.
/// </summary>
public static class NotifyLatency
{
    /// <summary>Prints medians and the C#/C ratios.</summary>
    public static int Run(string[] args)
    {
        int calls = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 20000;
        int rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 7;
        string bench = Compile();
        var arch = Architecture.Native;
        var b = new PolicyBuilder(SeccompAction.Allow, arch);
        b.Add(arch, 1000, new Rule(Condition.True, SeccompAction.UserNotif));
        var program = PolicyCompiler.Compile(b.Build());
        var cases = new (string Name, Func<double> Measure)[]
        {
            ("C supervisor loop", () => CSupervisor(bench, calls, sync: false)),
            ("C supervisor loop, SYNC_WAKE_UP", () => CSupervisor(bench, calls, sync: true)),
            ("C# NotificationSupervisor (1 worker)", () => CSharp(bench, program, calls, sync: false)),
            ("C# NotificationSupervisor (1 worker), SYNC_WAKE_UP", () => CSharp(bench, program, calls, sync: true)),
        };
        var times = cases.Select(_ => new List<double>()).ToArray();
        for (int r = 0; r < rounds; r++)
            for (int c = 0; c < cases.Length; c++)
                times[c].Add(cases[c].Measure());
        var medians = times.Select(Median).ToArray();
        Console.WriteLine($"notify round trip, {calls} calls x {rounds} rounds, median ns per call ({Environment.ProcessorCount} CPUs)");
        for (int c = 0; c < cases.Length; c++)
            Console.WriteLine($"  {cases[c].Name,-52} {medians[c],8:F0}");
        Console.WriteLine($"  ratio C#/C without SYNC_WAKE_UP: {medians[2] / medians[0]:F2}");
        Console.WriteLine($"  ratio C#/C with SYNC_WAKE_UP:    {medians[3] / medians[1]:F2}");
        return 0;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static double Parse(string stdout) =>
        double.Parse(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Single(l => l.StartsWith("ns_per_call ", StringComparison.Ordinal))[12..], CultureInfo.InvariantCulture);

    private static double CSupervisor(string bench, int calls, bool sync)
    {
        var psi = new ProcessStartInfo(bench) { RedirectStandardOutput = true };
        foreach (var a in (string[])["c-supervisor", calls.ToString(CultureInfo.InvariantCulture), sync ? "sync" : "nosync"])
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return Parse(output);
    }

    private static double CSharp(string bench, BpfProgram program, int calls, bool sync)
    {
        var info = new SandboxedProcessStartInfo(bench, "target", calls.ToString(CultureInfo.InvariantCulture), "1000")
        {
            RedirectStandardOutput = true,
            Flags = FilterFlags.NewListener,
        };
        using var p = SandboxedProcess.Start(program, info);
        using var supervisor = new NotificationSupervisor(p.Listener!, static (_, _) => ValueTask.FromResult(NotificationResponse.Return(0)),
            new SupervisorOptions { Workers = 1, SyncWakeUp = sync }).Start();
        if (sync && !supervisor.SyncWakeUp)
            Console.Error.WriteLine("note: SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP is not supported by this kernel");
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return Parse(output);
    }

    private static string Compile() =>
        BenchNative.Compile("notify_bench.c", Path.Combine(Path.GetTempPath(), $"syscage-notify-bench-{Environment.ProcessId}"));
}
