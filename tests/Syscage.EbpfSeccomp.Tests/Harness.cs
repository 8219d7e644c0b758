using System.Collections.Concurrent;
using System.Diagnostics;
using Syscage.Cli;
using Syscage.Kernel;
using Syscage.Kernel.Notify;
using Syscage.Abi;
using Syscage.Testing;
using Syscage.Supervision;
using Syscage.Ebpf;
using Syscage.Ebpf.Seccomp;

namespace Syscage.EbpfSeccomp.Tests;

/// <summary>
/// Compiles eBPF C with the real clang, builds tests/native/ebpf_target, and runs commands under eBPF seccomp programs
/// — through <c>syscage run --ebpf</c> in-process, or through the library with the command's stdout captured.
/// Filters are installed only in the child processes.
/// </summary>
internal static class Harness
{
    private static readonly ConcurrentDictionary<string, Lazy<string>> Objects = new(StringComparer.Ordinal);
    private static readonly Lazy<string> WorkDir = new(() =>
    {
        var dir = Directory.CreateTempSubdirectory("syscage-ebpf-seccomp-");
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { dir.Delete(recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        };
        return dir.FullName;
    });

    public static string SamplesDir => Path.Combine(NativeProbe.RepositoryRoot, "samples", "ebpf");

    /// <summary>tests/native/ebpf_target, built static (no dynamic loader calls to count).</summary>
    public static string Target => NativeBuild.Compile("ebpf_target.c", "the eBPF seccomp tests", "-static", "-pthread");

    public static int Nr(string name) => Architecture.Native.Syscalls.TryGetNumber(name, out int nr) ? nr : throw new ArgumentException(name);

    /// <summary>The object for samples/ebpf/NAME.c.</summary>
    public static string Sample(string name) => Objects.GetOrAdd("sample:" + name,
        _ => new Lazy<string>(() => CompileFile(Path.Combine(SamplesDir, name + ".c")))).Value;

    /// <summary>The object for C source (which may include the samples' "common.h").</summary>
    public static string Compile(string name, string source) => Objects.GetOrAdd("src:" + source, _ => new Lazy<string>(() =>
    {
        string file = Path.Combine(WorkDir.Value, $"{name}-{Guid.NewGuid():N}.c");
        File.WriteAllText(file, source);
        return CompileFile(file);
    })).Value;

    private static string CompileFile(string cFile)
    {
        string clang = NativeBuild.FindOnPath("clang") ?? throw new InvalidOperationException("clang is not installed: apt-get install clang (scripts/ensure-deps.sh does)");
        string obj = Path.Combine(WorkDir.Value, Path.GetFileNameWithoutExtension(cFile) + "-" + Guid.NewGuid().ToString("N")[..8] + ".o");
        var psi = new ProcessStartInfo(clang) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "-O2", "-g", "-target", "bpf", "-I/usr/include/x86_64-linux-gnu", "-I" + SamplesDir, "-c", cFile, "-o", obj })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        _ = p.StandardOutput.ReadToEndAsync();
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"clang failed on {cFile}:\n{err}");
        return obj;
    }

    public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
    {
        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}--- stderr\n{Stderr}";
    }

    private static readonly Lock RunGate = new();

    /// <summary>
    /// <c>syscage ARGS</c> in-process, as the tool parses them. The command's own stdio is this process's. A
    /// <c>run</c> goes one at a time: the tool makes one run per process, and its default maps socket is named by the
    /// process's pid, so two runs of test classes running in parallel met there (the second's probe of the first's live
    /// socket came out in the first's stderr as "maps socket ...: A task was canceled.").
    /// </summary>
    public static CliResult RunCli(params string[] args)
    {
        if (args.Length > 0 && args[0] == "run")
        {
            lock (RunGate)
                return RunCliNow(args);
        }
        return RunCliNow(args);
    }

    private static CliResult RunCliNow(string[] args)
    {
        var o = new StringWriter { NewLine = "\n" };
        var e = new StringWriter { NewLine = "\n" };
        int code = CliApp.Run(args, o, e);
        return new CliResult(code, o.ToString(), e.ToString());
    }

    public sealed record Outcome(string Stdout, SandboxExit Exit, EbpfNotificationHandler Handler, string Log, int CommandPid)
    {
        public string[] Lines => Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        public override string ToString() => $"{Exit}; stdout: {Stdout}; log: {Log}; notifications {Handler.Notifications}";
    }

    /// <summary>Runs ebpf_target ARGS under <paramref name="set"/> with the library (<see cref="EbpfSandboxedProcess"/>).</summary>
    public static Outcome Run(EbpfFilterSet set, HybridOptions? options, params string[] args) => Run(set, options, null, args);

    /// <summary>The same with <paramref name="workers"/> supervisor threads (null: the library's choice).</summary>
    public static Outcome Run(EbpfFilterSet set, HybridOptions? options, int? workers, params string[] args)
    {
        var log = new StringWriter { NewLine = "\n" };
        var info = new SandboxedProcessStartInfo(Target, args) { RedirectStandardOutput = true };
        using var sandbox = EbpfSandboxedProcess.Start(set, info, new EbpfSandboxOptions
        {
            Hybrid = options ?? new HybridOptions(),
            Handler = new EbpfHandlerOptions { Log = log },
            Workers = workers,
        });
        if (workers is int n)
            Assert.True(sandbox.Supervisor is null || sandbox.Supervisor.SyncWakeUp == (n == 1));
        Assert.Equal(sandbox.Filter.NeedsSupervisor, sandbox.Supervisor is not null);
        var p = sandbox.Process;
        var stdout = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(60_000))
        {
            p.Kill();
            Assert.Fail("the target did not end in 60 s");
        }
        var exit = sandbox.WaitForExit();
        return new Outcome(stdout.Result, exit, sandbox.Handler, log.ToString(), p.CommandPid);
    }

    /// <summary>Loads programs with knobs into a set (no policy).</summary>
    public static EbpfFilterSet Set(string obj, params (string Name, ulong Value)[] knobs) =>
        new([SeccompEbpfProgram.Load(obj, knobs.Select(k => new KeyValuePair<string, ulong>(k.Name, k.Value)))]);
}

/// <summary>A temporary directory removed at dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("syscage-ebpf-test-").FullName;
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose() => Directory.Delete(Path, true);
}
