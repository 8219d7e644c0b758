using System.Diagnostics;

namespace Syscage.Testing;

/// <summary>
/// The <c>syscage</c> users run: the NativeAOT executable that <c>scripts/publish-syscage.sh</c> publishes into
/// <c>artifacts/bin/syscage</c> (run-tests.sh and run-main.sh call it first). Tests that run the tool as a process run
/// this one, not <c>dotnet Syscage.Cli.dll</c>: what ships is what is tested, trimming and ahead-of-time compilation
/// included.
/// </summary>
public static class SyscageTool
{
    private static readonly Lazy<string> s_path = new(() =>
    {
        string path = System.IO.Path.Combine(NativeProbe.RepositoryRoot, "artifacts", "bin", "syscage");
        if (!File.Exists(path))
            throw new FileNotFoundException(
                $"{path} is missing: publish the native tool first with scripts/publish-syscage.sh (./run-tests.sh does)", path);
        return path;
    });

    /// <summary>The published executable; throws with what to run when it is missing.</summary>
    public static string Path => s_path.Value;

    /// <summary>A start of <c>syscage ARGS</c>, nothing redirected.</summary>
    public static ProcessStartInfo StartInfo(params IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(Path) { UseShellExecute = false };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        return psi;
    }
}
