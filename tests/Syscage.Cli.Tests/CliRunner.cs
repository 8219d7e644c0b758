using System.Diagnostics;
using Syscage.Cli;
using Syscage.Testing;

namespace Syscage.Cli.Tests;

/// <summary>Runs the CLI in-process (through the same parser as the tool) or as a real process.</summary>
internal static class CliRunner
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public string LastLine => Stdout.TrimEnd('\n').Split('\n')[^1];
        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}--- stderr\n{Stderr}";
    }

    public static Result Run(params string[] args)
    {
        var o = new StringWriter { NewLine = "\n" };
        var e = new StringWriter { NewLine = "\n" };
        int code = CliApp.Run(args, o, e);
        return new Result(code, o.ToString(), e.ToString());
    }

    /// <summary>The published NativeAOT <c>syscage</c> (<see cref="SyscageTool"/>).</summary>
    public static string Tool => SyscageTool.Path;

    /// <summary>Runs the published native <c>syscage</c> as a process.</summary>
    public static Result RunProcess(params string[] args)
    {
        var psi = SyscageTool.StartInfo(args);
        psi.RedirectStandardOutput = psi.RedirectStandardError = true;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000))
        {
            p.Kill(true);
            throw new TimeoutException("syscage did not exit in 60 s");
        }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }
}

/// <summary>A temporary directory removed at dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("syscage-test-").FullName;
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose() => Directory.Delete(Path, true);
}
