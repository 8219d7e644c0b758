using System.Diagnostics;
using Syscage.Kernel;
using Xunit.Abstractions;

namespace Syscage.Kernel.Tests;

/// <summary>A multi-threaded .NET process sandboxes itself with TSYNC (in a child process, never the test runner).</summary>
public sealed class SelfSandboxTests(ITestOutputHelper output)
{
    [Fact]
    public void EveryThreadOfTheProcessIsFiltered()
    {
        string host = Path.Combine(AppContext.BaseDirectory, "Syscage.SandboxHost.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { host, "16", "110" /* getppid */, "77" })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        string stderr = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(60_000));
        output.WriteLine(stdout);
        Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}\n{stdout}\n{stderr}");
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("mode 2", lines);
        Assert.Equal(16, lines.Count(l => l.StartsWith("thread ", StringComparison.Ordinal) && l.EndsWith(" errno 77", StringComparison.Ordinal) && !l.Contains("late", StringComparison.Ordinal)));
        Assert.Contains("thread late errno 77", lines);
        Assert.Contains("main errno 77", lines);
    }

    [Fact]
    public void FeatureQueriesAnswer()
    {
        // Queries only: nothing is installed.
        Assert.True(Seccomp.IsActionAvailable(0x7fc0_0000));
        Assert.True(Seccomp.AreFlagsSupported(FilterFlags.Tsync | FilterFlags.Log));
        Assert.False(Seccomp.AreFlagsSupported((FilterFlags)(1u << 20)));
        var sizes = Seccomp.GetNotifSizes();
        Assert.Equal(64, sizes.Data);
        Assert.Equal(0, Seccomp.CurrentMode());
    }
}
