using System.Diagnostics;
using Syscage.Testing;

namespace Syscage.Cli.Tests;

/// <summary>The eBPF samples, compiled at test time as users compile them.</summary>
internal static class Samples
{
    /// <summary>Compiles samples/ebpf/SAMPLE.c with the real clang into <paramref name="dir"/>; returns the object path.</summary>
    public static string Compile(TempDir dir, string sample)
    {
        string clang = NativeBuild.FindOnPath("clang") ?? throw new InvalidOperationException("clang is not installed: apt-get install clang (scripts/ensure-deps.sh does)");
        string source = Path.Combine(NativeProbe.RepositoryRoot, "samples", "ebpf", sample + ".c");
        string output = dir.File(sample + ".o");
        var psi = new ProcessStartInfo(clang) { RedirectStandardError = true };
        foreach (var a in new[] { "-O2", "-g", "-target", "bpf", "-I/usr/include/x86_64-linux-gnu", "-c", source, "-o", output })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"clang failed: {err}");
        return output;
    }
}
