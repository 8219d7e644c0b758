using System.Diagnostics;
using System.Globalization;
using Syscage.Testing;

namespace Syscage.Record.Tests;

/// <summary>
/// <c>syscage</c> as users run it — the published NativeAOT executable (<see cref="SyscageTool"/>) — as a real process:
/// its own stdio, a signal sent to it as a terminal would send one. Waits are liveness bounds, not timing assertions.
/// </summary>
internal sealed class SyscageProcess : IDisposable
{
    private readonly Process _process;
    private readonly Task<string> _stdout, _stderr;

    private SyscageProcess(IEnumerable<string> args, string? workingDirectory)
    {
        // As a terminal's foreground job: no signal ignored, whatever the test runner inherited. A signal syscage's
        // parent ignores stays ignored by the command (nohup), so a runner started as a background job of a
        // non-interactive shell (SIGINT and SIGQUIT ignored) left Ctrl-C without effect on the command.
        var psi = new ProcessStartInfo("env") { UseShellExecute = false };
        foreach (var a in (string[])["--default-signal", SyscageTool.Path, .. args])
            psi.ArgumentList.Add(a);
        psi.RedirectStandardOutput = psi.RedirectStandardError = psi.RedirectStandardInput = true;
        if (workingDirectory is not null)
            psi.WorkingDirectory = workingDirectory;
        _process = Process.Start(psi)!;
        _process.StandardInput.Close();
        _stdout = _process.StandardOutput.ReadToEndAsync();
        _stderr = _process.StandardError.ReadToEndAsync();
    }

    /// <summary>Starts <c>syscage ARGS</c>.</summary>
    public static SyscageProcess Start(IEnumerable<string> args, string? workingDirectory = null) => new(args, workingDirectory);

    /// <summary>Runs <c>syscage ARGS</c> to its end.</summary>
    public static Result Run(IEnumerable<string> args, string? workingDirectory = null)
    {
        using var p = Start(args, workingDirectory);
        return p.Wait();
    }

    /// <summary>syscage's pid (env executes it: the same process).</summary>
    public int Pid => _process.Id;

    /// <summary>Sends <paramref name="signal"/> (a name such as INT) to syscage, as kill(1) does.</summary>
    public void Signal(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, _process.Id.ToString(CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
    }

    /// <summary>Waits for the end (liveness bound: 180 s, then the tree is killed and the test fails).</summary>
    public Result Wait()
    {
        if (!_process.WaitForExit(180_000))
        {
            _process.Kill(entireProcessTree: true);
            throw new TimeoutException("syscage did not end in 180 s");
        }
        return new Result(_process.ExitCode, _stdout.Result, _stderr.Result);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }

    /// <summary>How syscage ended.</summary>
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        /// <inheritdoc/>
        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}--- stderr\n{Stderr}";
    }
}

/// <summary>A temporary directory removed at dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("syscage-record-").FullName;
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose() => Directory.Delete(Path, true);
}
