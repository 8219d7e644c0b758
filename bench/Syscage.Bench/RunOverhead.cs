using System.Diagnostics;
using System.Globalization;
using Syscage.Policy;
using Syscage.Policy.Compiler;
using Syscage.Policy.Builtin;

namespace Syscage.Bench;

/// <summary>
/// End to end: how long <c>syscage run -- /bin/true</c> takes against <c>/bin/true</c> alone and against
/// <c>bwrap --seccomp</c> with the same filter (the built-in default policy), as medians over N runs, one
/// run of each in turn so machine noise spreads evenly.
/// </summary>
public static class RunOverhead
{
    /// <summary>Prints medians and ratios.</summary>
    public static int Run(string[] args)
    {
        int n = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 40;
        // The tool as installed: the ReadyToRun publish (bench/run-overhead.sh makes it).
        string cli = Path.Combine(Program.RepositoryRoot, "artifacts", "syscage", "Syscage.Cli");
        if (!File.Exists(cli))
        {
            Console.Error.WriteLine($"{cli} is missing: dotnet publish src/Syscage.Cli -c Release -r linux-x64 -p:PublishReadyToRun=true -o artifacts/syscage");
            return 2;
        }
        string filter = Path.Combine(Path.GetTempPath(), $"syscage-bench-{Environment.ProcessId}.bpf");
        File.WriteAllBytes(filter, PolicyCompiler.Compile(PolicyLoader.Load("default")).ToBytes());
        var launcher = Path.Combine(Path.GetDirectoryName(cli)!, "syscage-exec");
        var cases = new List<(string Name, string File, string[] Args)>
        {
            ("/bin/true", "/bin/true", []),
            ("syscage-exec (launcher only)", launcher, [filter, "0", "/dev/null", "/bin/true", "true"]),
            ("syscage run -- /bin/true", cli, ["run", "--", "/bin/true"]),
            ("bwrap --seccomp (same filter)", "/bin/sh", ["-c", $"exec bwrap --ro-bind / / --dev /dev --seccomp 3 /bin/true 3<{filter}"]),
        };
        var times = cases.Select(_ => new List<double>()).ToArray();
        try
        {
            for (int i = 0; i < n + 2; i++)
            {
                for (int c = 0; c < cases.Count; c++)
                {
                    var psi = new ProcessStartInfo(cases[c].File) { UseShellExecute = false };
                    foreach (var a in cases[c].Args)
                        psi.ArgumentList.Add(a);
                    var sw = Stopwatch.StartNew();
                    using var p = Process.Start(psi)!;
                    p.WaitForExit();
                    if (p.ExitCode != 0)
                        throw new InvalidOperationException($"{cases[c].Name} exited {p.ExitCode}");
                    if (i >= 2)
                        times[c].Add(sw.Elapsed.TotalMilliseconds);
                }
            }
        }
        finally
        {
            File.Delete(filter);
        }
        double Median(List<double> t) => t.Order().ElementAt(t.Count / 2);
        double plain = Median(times[0]), bwrap = Median(times[3]);
        Console.WriteLine($"median of {n} runs each, interleaved (ms)");
        for (int c = 0; c < cases.Count; c++)
        {
            double m = Median(times[c]);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{cases[c].Name,-32} {m,8:F2} ms   {m / plain,6:F1}x /bin/true   {m / bwrap,5:F2}x bwrap"));
        }
        return 0;
    }
}
