using System.Globalization;
using Syscage.Abi;
using static Syscage.EbpfSeccomp.Tests.Harness;

namespace Syscage.EbpfSeccomp.Tests;

/// <summary><c>syscage run --ebpf</c>: policies with <c>EBPF(name)</c>, stacking, and one-line errors for bad input.</summary>
public sealed class CliTests
{
    private static string Getppid => Nr("getppid").ToString(CultureInfo.InvariantCulture);

    [Fact]
    public void APolicyRuleHandsOnlyItsCallsToTheProgram()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("p.policy"), "default ALLOW\nEBPF(counter) getppid\n");
        var r = RunCli("run", "--policy", dir.File("p.policy"), "--ebpf", "counter=" + Sample("syscall_count"), "--maps", "--", Target, "repeat", "4", Getppid);
        Assert.True(r.ExitCode == 0, r.ToString());
        // The routed program sees getppid only: one key.
        Assert.Contains("map counts of counter (hash, 1 entry; key syscall_nr_t, value __u64)\n  getppid (110)  4\n", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void APolicyDenialWinsOverAStackedProgram()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("p.policy"), "default ALLOW\nERRNO(EACCES) getppid\n");
        var r = RunCli("run", "--policy", dir.File("p.policy"), "--ebpf", Sample("syscall_count"), "--", Target, "call", Getppid);
        Assert.True(r.ExitCode == 13, r.ToString());
    }

    [Fact]
    public void StackedProgramsCombineByKernelPrecedence()
    {
        // exec_once allows the first exec; fault_inject (stacked after it) fails the 2nd getppid with EIO.
        var r = RunCli("run", "--ebpf", Sample("exec_once"), "--ebpf", Sample("fault_inject"), "--set", "target_nr=getppid", "--set", "nth=2",
            "--set", "error=5", "--", Target, "repeat", "2", Getppid);
        Assert.True(r.ExitCode == 5, r.ToString());
    }

    [Fact]
    public void APolicyNamingAMissingProgramIsAnError()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("p.policy"), "default ALLOW\nEBPF(nosuch) getppid\n");
        var r = RunCli("run", "--policy", dir.File("p.policy"), "--ebpf", Sample("syscall_count"), "--", Target, "call", Getppid);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("EBPF(nosuch): no eBPF program named 'nosuch' was given (given: count_syscalls)", r.Stderr, StringComparison.Ordinal);
        OneLine(r);
    }

    [Theory]
    [InlineData("--set", "nosuch=1", "no --ebpf program has a global named 'nosuch'")]
    [InlineData("--set", "nth", "--set expects NAME=VALUE, not 'nth'")]
    [InlineData("--set", "nth=frobnicate", "'frobnicate' is neither a number nor a syscall name")]
    [InlineData("--log-denials", null, "--log-denials does not go with --ebpf")]
    public void UsageErrorsAreOneLine(string option, string? value, string message)
    {
        string[] args = value is null
            ? ["run", "--ebpf", Sample("fault_inject"), option, "--", Target, "call", Getppid]
            : ["run", "--ebpf", Sample("fault_inject"), option, value, "--", Target, "call", Getppid];
        var r = RunCli(args);
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains(message, r.Stderr, StringComparison.Ordinal);
        OneLine(r);
    }

    [Fact]
    public void EbpfOptionsWithoutEbpfAreAUsageError()
    {
        var r = RunCli("run", "--maps", "--", Target, "call", Getppid);
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains("go with --ebpf OBJ", r.Stderr, StringComparison.Ordinal);
        OneLine(r);
    }

    [Fact]
    public void AMissingOrBrokenObjectIsOneLine()
    {
        using var dir = new TempDir();
        var missing = RunCli("run", "--ebpf", dir.File("nosuch.o"), "--", Target, "call", Getppid);
        Assert.True(missing.ExitCode == 3, missing.ToString());
        Assert.Contains("nosuch.o: no such file", missing.Stderr, StringComparison.Ordinal);
        OneLine(missing);
        File.WriteAllText(dir.File("junk.o"), "not an ELF file at all");
        var junk = RunCli("run", "--ebpf", dir.File("junk.o"), "--", Target, "call", Getppid);
        Assert.True(junk.ExitCode == 3, junk.ToString());
        OneLine(junk);
    }

    [Fact]
    public void ARejectedProgramIsOneLineWithThePc()
    {
        string obj = Compile("bad", """
            #include "common.h"
            SEC("seccomp") int bad(struct seccomp_data *ctx) { return ((int *)ctx)[100]; }
            char LICENSE[] SEC("license") = "GPL";
            """);
        var r = RunCli("run", "--ebpf", obj, "--", Target, "call", Getppid);
        Assert.True(r.ExitCode == 3, r.ToString());
        Assert.Contains("rejected by the verifier", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("at pc", r.Stderr, StringComparison.Ordinal);
        OneLine(r);
    }

    /// <summary>
    /// A run gives sections to this machine's ABIs only, x32 with x86_64: the command calls getppid by its x32 number
    /// (x32 is disabled here, so the filter is all that stands before ENOSYS) and by its x86_64 number. The program
    /// refuses the first; the kernel decides both, with no supervisor.
    /// </summary>
    [Fact]
    public void X32NumbersAreDecidedInTheKernelWithThisMachinesSections()
    {
        Assert.True(Architecture.X32.Syscalls.TryGetNumber("getppid", out int x32Getppid));
        string obj = Compile("x32_refuse", $$"""
            #include "common.h"
            SEC("seccomp") int x32_refuse(struct seccomp_data *ctx) {
                if (ctx->arch == {{Architecture.X86_64.AuditArch}}u && ctx->nr == {{x32Getppid}}) return SECCOMP_RET_ERRNO | 13;
                return SECCOMP_RET_ALLOW;
            }
            char LICENSE[] SEC("license") = "GPL";
            """);
        var x32 = RunCli("run", "--ebpf", obj, "--stats", "--", Target, "call", x32Getppid.ToString(CultureInfo.InvariantCulture));
        Assert.True(x32.ExitCode == 13, x32.ToString()); // ebpf_target exits with the call's errno: EACCES, not ENOSYS (38)
        Assert.Contains("syscage: 0 notified calls (the kernel decided every call: no supervisor)", x32.Stderr, StringComparison.Ordinal);
        var native = RunCli("run", "--ebpf", obj, "--", Target, "call", Getppid);
        Assert.True(native.ExitCode == 0, native.ToString());
    }

    [Fact]
    public void EventsCanGoToStdout()
    {
        var r = RunCli("run", "--ebpf", Sample("open_logger"), "--events", "-", "--", "/bin/cat", "/etc/hostname");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("\"path\":\"/etc/hostname\"", r.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("\"path\"", r.Stderr, StringComparison.Ordinal);
    }

    private static void OneLine(CliResult r)
    {
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1 && lines[0].StartsWith("syscage: ", StringComparison.Ordinal), r.ToString());
    }
}

/// <summary>A policy with EBPF rules run without any program.</summary>
public sealed class EbpfRuleWithoutProgramTests
{
    [Fact]
    public void APolicyWithEbpfRulesNeedsTheProgram()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("p.policy"), "default ALLOW\nEBPF(counter) getppid\n");
        var r = RunCli("run", "--policy", dir.File("p.policy"), "--", Target, "call", "110");
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Equal($"syscage: {dir.File("p.policy")}:2: EBPF(counter) needs the program: add --ebpf counter=FILE.o\n", r.Stderr);
    }
}
