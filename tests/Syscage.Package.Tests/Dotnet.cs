using System.Diagnostics;
using Syscage.Testing;

namespace Syscage.Package.Tests;

/// <summary>Runs <c>dotnet</c> and other programs as a user would, outside the test run's own MSBuild.</summary>
internal static class Dotnet
{
    public sealed record Result(int ExitCode, string Output)
    {
        public override string ToString() => $"exit {ExitCode}\n{Output}";
    }

    /// <summary>
    /// Runs <paramref name="file"/> in <paramref name="directory"/> (stdout and stderr together), at most 10 minutes.
    /// The test host's MSBuild variables are not passed on (they would point a new build at the test run's MSBuild);
    /// NuGet's packages go to <paramref name="packages"/> when given, so a package of the same version restored earlier
    /// is never taken from the machine's cache.
    /// </summary>
    public static Result Run(string directory, string file, IEnumerable<string> args, string? packages = null, int? uid = null)
    {
        ProcessStartInfo psi;
        if (uid is int u)
        {
            psi = new ProcessStartInfo(NativeBuild.FindOnPath("setpriv") ?? throw new InvalidOperationException("setpriv (util-linux) is missing"));
            foreach (var a in new[] { $"--reuid={u}", $"--regid={u}", "--clear-groups", "--", file })
                psi.ArgumentList.Add(a);
            psi.Environment["HOME"] = Path.GetTempPath();
        }
        else
            psi = new ProcessStartInfo(file);
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        psi.WorkingDirectory = directory;
        psi.RedirectStandardOutput = psi.RedirectStandardError = true;
        foreach (string key in psi.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
            psi.Environment.Remove(key);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        psi.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        if (packages is not null)
            psi.Environment["NUGET_PACKAGES"] = packages;
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        var output = new System.Text.StringBuilder();
        var gate = new Lock();
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (gate) output.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (gate) output.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (!p.WaitForExit(600_000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not end in 10 minutes");
        }
        p.WaitForExit();
        lock (gate)
            return new Result(p.ExitCode, output.ToString());
    }

    /// <summary><c>dotnet ARGS</c> in <paramref name="directory"/>, with build servers off (nothing outlives the test).</summary>
    public static Result Cli(string directory, string? packages, params string[] args) => Run(directory, "dotnet", args, packages);

    /// <summary>Makes <paramref name="path"/> and everything under it readable (and directories enterable) by every user.</summary>
    public static void OpenToEveryone(string path)
    {
        var dir = (UnixFileMode)0x1ed; // rwxr-xr-x
        File.SetUnixFileMode(path, dir);
        foreach (var d in Directory.EnumerateDirectories(path, "*", SearchOption.AllDirectories))
            File.SetUnixFileMode(d, dir);
        foreach (var f in Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories))
            File.SetUnixFileMode(f, File.GetUnixFileMode(f) | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
    }
}
