using System.Diagnostics;
using Syscage.Testing;

namespace Syscage.Bench;

/// <summary>
/// Builds what the end-to-end benchmarks run: the C programs in <c>bench/native/</c> with the machine's <c>cc</c>,
/// and the eBPF samples in <c>samples/ebpf/</c> with <c>clang -target bpf</c>, the way samples/ebpf/README.md says.
/// </summary>
public static class BenchNative
{
    /// <summary>Compiles <c>bench/native/<paramref name="source"/></c> to <paramref name="output"/> and returns it.</summary>
    public static string Compile(string source, string output)
    {
        string cc = NativeBuild.FindOnPath("cc") ?? throw new InvalidOperationException("`cc` is not on PATH: the benchmark compiles bench/native at run time (apt-get install gcc)");
        Run(cc, ["-O2", "-Wall", "-o", output, Path.Combine(Program.RepositoryRoot, "bench", "native", source)]);
        return output;
    }

    /// <summary>Compiles <c>samples/ebpf/<paramref name="sample"/>.c</c> into <paramref name="directory"/> and returns the object's path.</summary>
    public static string CompileEbpf(string sample, string directory)
    {
        string clang = NativeBuild.FindOnPath("clang") ?? throw new InvalidOperationException("clang is not installed: apt-get install clang (scripts/ensure-deps.sh does)");
        string output = Path.Combine(directory, sample + ".o");
        Run(clang, ["-O2", "-g", "-target", "bpf", "-I/usr/include/x86_64-linux-gnu", "-c",
            Path.Combine(Program.RepositoryRoot, "samples", "ebpf", sample + ".c"), "-o", output]);
        return output;
    }

    private static void Run(string compiler, string[] args)
    {
        var psi = new ProcessStartInfo(compiler) { RedirectStandardError = true };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{Path.GetFileName(compiler)} {string.Join(' ', args)} failed: {err.Trim()}");
    }
}
