using System.Diagnostics;
using Syscage.Testing;

namespace Syscage.Cli.Tests;

/// <summary>The eBPF samples, and programs the tests write, compiled at test time as users compile them.</summary>
internal static class Samples
{
    private static string SamplesDir => Path.Combine(NativeProbe.RepositoryRoot, "samples", "ebpf");

    /// <summary>Compiles samples/ebpf/SAMPLE.c with the real clang into <paramref name="dir"/>; returns the object path.</summary>
    public static string Compile(TempDir dir, string sample) => CompileFile(dir, Path.Combine(SamplesDir, sample + ".c"), sample);

    /// <summary>Compiles C <paramref name="source"/> (which may include the samples' "common.h") into <paramref name="dir"/>/NAME.o.</summary>
    public static string CompileSource(TempDir dir, string name, string source)
    {
        string file = dir.File(name + ".c");
        File.WriteAllText(file, source);
        return CompileFile(dir, file, name);
    }

    private static string CompileFile(TempDir dir, string source, string name)
    {
        string clang = NativeBuild.FindOnPath("clang") ?? throw new InvalidOperationException("clang is not installed: apt-get install clang (scripts/ensure-deps.sh does)");
        string output = dir.File(name + ".o");
        var psi = new ProcessStartInfo(clang) { RedirectStandardError = true };
        foreach (var a in new[] { "-O2", "-g", "-target", "bpf", "-I/usr/include/x86_64-linux-gnu", "-I" + SamplesDir, "-c", source, "-o", output })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"clang failed: {err}");
        return output;
    }
}
