using BenchmarkDotNet.Running;

namespace Syscage.Bench;

/// <summary>
/// Entry point: <c>dotnet run -c Release --project bench/Syscage.Bench -- --filter '*'</c> runs the
/// BenchmarkDotNet suites; each suite's summary table prints its comparisons.
/// </summary>
public static class Program
{
    /// <summary>Runs the benchmarks selected on the command line.</summary>
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
