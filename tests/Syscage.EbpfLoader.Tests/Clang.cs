using System.Collections.Concurrent;
using System.Diagnostics;

namespace Syscage.EbpfLoader.Tests;

/// <summary>Compiles C to BPF objects with the real clang, as users do: <c>clang -O2 -g -target bpf -c</c>.</summary>
internal static class Clang
{
    private static readonly ConcurrentDictionary<string, byte[]> Cache = new();
    private static readonly string WorkDir = Directory.CreateTempSubdirectory("syscage-ebpf-").FullName;

    /// <summary>The repository's samples/ebpf directory.</summary>
    public static string SamplesDir
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            {
                var candidate = Path.Combine(d.FullName, "samples", "ebpf");
                if (Directory.Exists(candidate))
                    return candidate;
            }
            throw new InvalidOperationException("samples/ebpf not found above " + AppContext.BaseDirectory);
        }
    }

    public static IEnumerable<string> SampleNames =>
        Directory.GetFiles(SamplesDir, "*.c").Select(Path.GetFileNameWithoutExtension).Order()!;

    /// <summary>The object for samples/ebpf/NAME.c.</summary>
    public static byte[] Sample(string name) => Cache.GetOrAdd("sample:" + name, _ => CompileFile(Path.Combine(SamplesDir, name + ".c")));

    /// <summary>The object for samples/ebpf/NAME.c built with other flags (-O1, -mcpu=v3, ...) instead of -O2.</summary>
    public static byte[] Sample(string name, params string[] flags) =>
        Cache.GetOrAdd($"sample:{name}:{string.Join(' ', flags)}", _ => CompileFile(Path.Combine(SamplesDir, name + ".c"), flags));

    /// <summary>Compiles C source text (which may include "common.h" from the samples).</summary>
    public static byte[] Compile(string source) => Cache.GetOrAdd("src:" + source, _ =>
    {
        var file = Path.Combine(WorkDir, $"prog{Guid.NewGuid():N}.c");
        File.WriteAllText(file, source);
        return CompileFile(file);
    });

    private static byte[] CompileFile(string cFile, string[]? flags = null)
    {
        var obj = Path.Combine(WorkDir, Path.GetFileNameWithoutExtension(cFile) + Guid.NewGuid().ToString("N")[..8] + ".o");
        var psi = new ProcessStartInfo("clang") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in (flags ?? ["-O2"]).Concat(["-g", "-target", "bpf", "-I/usr/include/x86_64-linux-gnu", "-I" + SamplesDir, "-c", cFile, "-o", obj]))
            psi.ArgumentList.Add(a);
        Process p;
        try
        {
            p = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("clang is not installed: the eBPF tests compile C with 'clang -target bpf' (run scripts/ensure-deps.sh)", e);
        }
        using (p)
        {
            string err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0)
                throw new InvalidOperationException($"clang failed on {cFile}:\n{err}");
        }
        return File.ReadAllBytes(obj);
    }
}
