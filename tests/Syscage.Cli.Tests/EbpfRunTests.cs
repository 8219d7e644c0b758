using System.Diagnostics;
using Syscage.Testing;

namespace Syscage.Cli.Tests;

/// <summary><c>syscage ebpf run</c> on the samples, compiled with the real clang at test time.</summary>
public sealed class EbpfRunTests
{
    [Fact]
    public void ExecOnceAllowsTheFirstExecveOnly()
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("ebpf", "run", Samples.Compile(dir, "exec_once"), "--ctx", "execve", "--repeat", "3");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("run 1: r0 = 0x7fff0000 -> ALLOW", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("run 2: r0 = 0x50001 -> ERRNO(1)", r.Stdout, StringComparison.Ordinal);
        Assert.Equal("ERRNO(1)", r.LastLine);
    }

    [Fact]
    public void FaultInjectionKnobsAreSetBeforeVerifying()
    {
        using var dir = new TempDir();
        string obj = Samples.Compile(dir, "fault_inject");
        // The 2nd openat fails with EACCES (13); the others pass.
        var r = CliRunner.Run("ebpf", "run", obj, "--ctx", "openat", "--set", "nth=2", "--set", "error=13", "-n", "4", "--interpret");
        Assert.True(r.ExitCode == 0, r.ToString());
        var verdicts = r.Stdout.Split('\n').Where(l => l.Contains(" run ", StringComparison.Ordinal)).Select(l => l[(l.LastIndexOf("-> ", StringComparison.Ordinal) + 3)..]).ToArray();
        Assert.Equal(["ALLOW", "ERRNO(13)", "ALLOW", "ALLOW"], verdicts);
    }

    [Fact]
    public void CountingShowsTheMap()
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("ebpf", "run", Samples.Compile(dir, "syscall_count"), "--ctx", "getppid", "-n", "3", "--maps");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("6E000000 = 0300000000000000", r.Stdout, StringComparison.Ordinal);   // nr 110: 3 calls
    }

    [Fact]
    public void ARejectedProgramIsReportedWithItsPc()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("bad.c"), """
            #include <linux/bpf.h>
            #include <linux/seccomp.h>
            __attribute__((section("seccomp"), used)) int bad(struct seccomp_data *ctx) { return ((int *)ctx)[100]; }
            char _license[] __attribute__((section("license"), used)) = "GPL";
            """);
        string clang = NativeBuild.FindOnPath("clang")!;
        using (var p = Process.Start(clang, ["-O2", "-target", "bpf", "-I/usr/include/x86_64-linux-gnu", "-c", dir.File("bad.c"), "-o", dir.File("bad.o")]))
            p.WaitForExit();
        var r = CliRunner.Run("ebpf", "run", dir.File("bad.o"), "--ctx", "read");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("rejected by the verifier", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("at pc", r.Stderr, StringComparison.Ordinal);
    }
}
