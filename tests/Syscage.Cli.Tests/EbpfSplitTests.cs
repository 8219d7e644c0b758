using System.Diagnostics;
using Syscage.Testing;

namespace Syscage.Cli.Tests;

/// <summary><c>syscage compile OBJ.o</c> and <c>syscage ebpf split</c> on the samples, and a compiled pure filter in the real kernel.</summary>
public sealed class EbpfSplitTests
{
    [Fact]
    public void APureProgramCompilesToAClassicFilterTheKernelEnforces()
    {
        using var dir = new TempDir();
        string obj = Samples.Compile(dir, "pure_filter"), bpf = dir.File("pure.bpf");
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
        var r = CliRunner.Run("compile", Samples.Compile(dir, "pure_filter"), "--format", "asm");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("return KILL_PROCESS", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("return ERRNO(1)", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void AProgramWithStateCannotBeAClassicFilter()
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("compile", Samples.Compile(dir, "exec_once"), "-o", dir.File("x.bpf"));
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
        var r = CliRunner.Run("ebpf", "split", Samples.Compile(dir, "fault_inject"), "--set", "target_nr=openat", "--set", "nth=3");
        Assert.True(r.ExitCode == 0, r.ToString());
        int n = Syscage.Abi.Architecture.X86_64.Syscalls.Count;
        Assert.Contains($"x86_64: {n - 1} of {n} syscalls decided in the kernel", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("  supervisor: openat", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void AnUnknownKnobIsAUsageError()
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("ebpf", "split", Samples.Compile(dir, "fault_inject"), "--set", "no_such_knob=3");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("no_such_knob", r.Stderr, StringComparison.Ordinal);
    }
}
