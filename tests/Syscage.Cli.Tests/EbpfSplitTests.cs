using System.Diagnostics;
using Syscage.Testing;

namespace Syscage.Cli.Tests;

/// <summary><c>syscage compile OBJ.o</c> and <c>syscage ebpf split</c> on the samples, and a compiled pure filter in the real kernel.</summary>
public sealed class EbpfSplitTests
{
    private static string Compile(TempDir dir, string sample)
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

    [Fact]
    public void APureProgramCompilesToAClassicFilterTheKernelEnforces()
    {
        using var dir = new TempDir();
        string obj = Compile(dir, "pure_filter"), bpf = dir.File("pure.bpf");
        var c = CliRunner.Run("compile", obj, "-o", bpf);
        Assert.True(c.ExitCode == 0, c.ToString());
        Assert.True(new FileInfo(bpf).Length is > 0 and < 40 * 8, "a 4-rule program should be a few dozen instructions");
        // In the kernel: kill(pid, SIGTERM) fails with EPERM, kill(pid, 0) works, the rest runs.
        var r = CliRunner.RunProcess("run", "--policy", bpf, "--", "/bin/sh", "-c", "kill -0 $$ && echo probe-ok; kill -TERM $$; echo rc=$?");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("probe-ok", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("rc=1", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("Operation not permitted", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void CompileAsmShowsTheProgramsDecisions()
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("compile", Compile(dir, "pure_filter"), "--format", "asm");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("return KILL_PROCESS", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("return ERRNO(1)", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void AProgramWithStateCannotBeAClassicFilter()
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("compile", Compile(dir, "exec_once"), "-o", dir.File("x.bpf"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("needs a user-space supervisor", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("execve", r.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", r.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(dir.File("x.bpf")));
    }

    [Fact]
    public void SplitShowsWhatReachesTheSupervisor()
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("ebpf", "split", Compile(dir, "fault_inject"), "--set", "target_nr=openat", "--set", "nth=3");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("x86_64: 361 of 362 syscalls decided in the kernel", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("  supervisor: openat", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void AnUnknownKnobIsAUsageError()
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("ebpf", "split", Compile(dir, "fault_inject"), "--set", "no_such_knob=3");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("no_such_knob", r.Stderr, StringComparison.Ordinal);
    }
}
