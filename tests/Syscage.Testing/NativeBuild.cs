using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;

namespace Syscage.Testing;

/// <summary>
/// Builds the C programs in <c>tests/native/</c> with the machine's <c>cc</c>, once per test process, into a
/// temporary directory of that process (several engineers' test runs may share the tree).
/// </summary>
public static class NativeBuild
{
    private static readonly ConcurrentDictionary<string, Lazy<string>> Built = new(StringComparer.Ordinal);
    private static readonly Lazy<DirectoryInfo> Output = new(() =>
    {
        var dir = Directory.CreateTempSubdirectory("syscage-native-");
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { dir.Delete(recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        };
        return dir;
    });

    /// <summary>Compiles <c>tests/native/<paramref name="source"/></c> (once) and returns the executable's path.</summary>
    /// <param name="source">File name under tests/native.</param>
    /// <param name="who">Who needs it, for the error message when there is no compiler.</param>
    /// <param name="extraFlags">More compiler flags (e.g. <c>-pthread</c>).</param>
    public static string Compile(string source, string who, params string[] extraFlags) =>
        Built.GetOrAdd(source, s => new Lazy<string>(() => DoCompile(s, who, extraFlags), LazyThreadSafetyMode.ExecutionAndPublication)).Value;

    private static string DoCompile(string sourceName, string who, string[] extraFlags)
    {
        string source = Path.Combine(NativeProbe.RepositoryRoot, "tests", "native", sourceName);
        if (!File.Exists(source))
            throw new NativeProbeException($"native test source missing: {source}");
        string cc = FindOnPath("cc") ?? throw new NativeProbeException(
            $"{who} compile tests/native/{sourceName} at run time and need a C compiler: " +
            "`cc` is not on PATH (install one, e.g. `apt-get install gcc`)");
        string output = Path.Combine(Output.Value.FullName, Path.GetFileNameWithoutExtension(sourceName));
        var psi = new ProcessStartInfo(cc)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in (string[])["-O2", "-Wall", .. extraFlags, "-o", output, source])
            psi.ArgumentList.Add(arg);
        using var process = Process.Start(psi) ?? throw new NativeProbeException($"could not start {cc}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        var text = new StringBuilder().Append(stdout.GetAwaiter().GetResult()).Append(stderr).ToString().Trim();
        if (process.ExitCode != 0 || !File.Exists(output))
            throw new NativeProbeException($"cc -O2 -o {output} {source} failed ({process.ExitCode}): {text}");
        return output;
    }

    /// <summary>The first <paramref name="program"/> on PATH, or null.</summary>
    public static string? FindOnPath(string program)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, program);
            if (File.Exists(candidate))
                return candidate;
        }
        return null;
    }
}
