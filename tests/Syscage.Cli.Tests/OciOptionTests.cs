using Syscage.Testing;

namespace Syscage.Cli.Tests;

/// <summary>
/// The verbs that read OCI/Docker profiles with Docker's facts on the command line — <c>--cap-add</c>, <c>--cap-drop</c>,
/// <c>--kernel-version</c> — switching the capability- and kernel-gated entries of Docker's default profile; every
/// warning with <c>--verbose</c>; and what the verbs say about syscalls newer than a profile.
/// </summary>
public sealed class OciOptionTests
{
    private static string Docker => Path.Combine(NativeProbe.RepositoryRoot, "..", "shared", "profiles", "docker-default.json");

    [Fact]
    public void CapAddSwitchesOnACapabilityGatedEntryInEveryVerb()
    {
        // reboot is allowed only with CAP_SYS_BOOT (not in Docker's default set).
        Assert.Equal("ERRNO(1)", CliRunner.Run("emu", Docker, "reboot").LastLine);
        Assert.Equal("ALLOW", CliRunner.Run("emu", Docker, "reboot", "--cap-add", "SYS_BOOT").LastLine);
        Assert.Equal("ALLOW", CliRunner.Run("emu", Docker, "reboot", "--cap-add", "cap_sys_boot").LastLine);
        Assert.Equal("ALLOW", CliRunner.Run("emu", Docker, "reboot", "--cap-add", "ALL").LastLine);
        var explained = CliRunner.Run("explain", Docker, "reboot", "--cap-add", "CAP_SYS_BOOT");
        Assert.Matches(@"decision: ALLOW by rule 1 at .*docker-default\.json:\d+", explained.LastLine);
        Assert.EndsWith("(the default action: no rule names this syscall)", CliRunner.Run("explain", Docker, "reboot").LastLine, StringComparison.Ordinal);
        // compile: the filter changes with the capability set.
        var plain = CliRunner.Run("compile", Docker, "-f", "pfc");
        var booting = CliRunner.Run("compile", Docker, "-f", "pfc", "--cap-add", "SYS_BOOT");
        Assert.DoesNotContain("# reboot", plain.Stdout, StringComparison.Ordinal);
        Assert.Contains("# reboot", booting.Stdout, StringComparison.Ordinal);
        // check: the filter for the tweaked set is checked against the policy for that set.
        var check = CliRunner.Run("check", Docker, "--cap-add", "SYS_ADMIN", "--cap-add", "SYS_PTRACE");
        Assert.True(check.ExitCode == 0, check.ToString());
        Assert.Contains("matches the policy", check.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void CapDropTakesAnEntryAwayAndAllLeavesOnlyTheAddedOnes()
    {
        // chroot: CAP_SYS_CHROOT is in Docker's default set.
        Assert.Equal("ALLOW", CliRunner.Run("emu", Docker, "chroot").LastLine);
        Assert.Equal("ERRNO(1)", CliRunner.Run("emu", Docker, "chroot", "--cap-drop", "SYS_CHROOT").LastLine);
        Assert.Equal("ERRNO(1)", CliRunner.Run("emu", Docker, "chroot", "--cap-drop", "ALL").LastLine);
        Assert.Equal("ALLOW", CliRunner.Run("emu", Docker, "chroot", "--cap-drop", "ALL", "--cap-add", "SYS_CHROOT").LastLine);
        // --cap-add ALL with a drop: every capability but the dropped one.
        Assert.Equal("ERRNO(1)", CliRunner.Run("emu", Docker, "chroot", "--cap-add", "ALL", "--cap-drop", "SYS_CHROOT").LastLine);
    }

    [Fact]
    public void KernelVersionDecidesMinKernel()
    {
        // ptrace is allowed without CAP_SYS_PTRACE from kernel 4.8 on.
        Assert.Equal("ALLOW", CliRunner.Run("emu", Docker, "ptrace", "--kernel-version", "4.8").LastLine);
        Assert.Equal("ALLOW", CliRunner.Run("emu", Docker, "ptrace", "--kernel-version", "6.1.0-13-amd64").LastLine);
        Assert.Equal("ERRNO(1)", CliRunner.Run("emu", Docker, "ptrace", "--kernel-version", "4.4").LastLine);
        Assert.Equal("ALLOW", CliRunner.Run("emu", Docker, "ptrace", "--kernel-version", "4.4", "--cap-add", "SYS_PTRACE").LastLine);
    }

    [Fact]
    public void RunUsesTheCapabilitySetToo()
    {
        // chroot("/") in a shell under Docker's profile: allowed by the profile (the kernel then says EPERM or not, as root
        // may); with the capability dropped, the filter refuses it with EPERM before the kernel looks.
        var allowed = CliRunner.RunProcess("run", "--policy", Docker, "--", "/usr/sbin/chroot", "/", "/bin/true");
        Assert.True(allowed.ExitCode == 0, allowed.ToString());
        var refused = CliRunner.RunProcess("run", "--policy", Docker, "--cap-drop", "SYS_CHROOT", "--", "/usr/sbin/chroot", "/", "/bin/true");
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("Operation not permitted", refused.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void BadOptionsAreUsageErrors()
    {
        var r = CliRunner.Run("emu", Docker, "read", "--cap-add", "SYS_BOTO");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("unknown capability 'SYS_BOTO' (did you mean CAP_SYS_BOOT?)", r.Stderr, StringComparison.Ordinal);
        r = CliRunner.Run("explain", Docker, "read", "--kernel-version", "latest");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--kernel-version 'latest' is not a kernel release", r.Stderr, StringComparison.Ordinal);
        foreach (string[] args in (string[][])[["compile", "default", "--cap-add", "SYS_ADMIN", "-f", "asm"], ["explain", "default", "read", "--kernel-version", "5.10"], ["check", "default", "--cap-drop", "ALL"]])
        {
            r = CliRunner.Run(args);
            Assert.Equal(2, r.ExitCode);
            Assert.Contains("are for OCI/Docker profiles (.json)", r.Stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void VerboseListsEveryUnknownSyscallName()
    {
        // Docker's profile has no unknown name any more (the tables are at Linux 7.1): one with seven made-up names.
        using var dir = new TempDir();
        string profile = System.IO.Path.Combine(dir.Path, "unknown.json");
        var names = string.Join(", ", Enumerable.Range(1, 7).Select(i => $"\"no_such_call_{i}\""));
        // (execve allowed: a profile that refuses it gets a lint warning of its own.)
        File.WriteAllText(profile, $$"""{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "execve", {{names}}], "action": "SCMP_ACT_ALLOW"}]}""");
        var brief = CliRunner.Run("compile", profile, "-f", "pfc");
        var all = CliRunner.Run("compile", profile, "-f", "pfc", "--verbose");
        var briefLines = brief.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var allLines = all.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // Without --verbose the first three and a count; with it, one line per warning and no count.
        Assert.Equal(4, briefLines.Length);
        Assert.Matches(@"\.\.\. and (\d+) more warnings like these \(--verbose lists them all\)", briefLines[^1]);
        int more = int.Parse(System.Text.RegularExpressions.Regex.Match(briefLines[^1], @"and (\d+) more").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(3 + more, allLines.Length);
        Assert.All(allLines, l => Assert.Contains(": warning: ", l, StringComparison.Ordinal));
        Assert.Equal(7, allLines.Length);
        Assert.Equal(allLines.Length, CliRunner.Run("check", profile, "-v").Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public void VerbsSayWhenASyscallIsNewerThanTheProfile()
    {
        // Docker's default answers ENOSYS past the newest syscall it names (runc's stub); emu runs the compiled filter.
        Assert.Equal("ERRNO(38)", CliRunner.Run("emu", Docker, "1000").LastLine);
        Assert.Equal("ERRNO(38)", CliRunner.Run("emu", Docker, "0x400003e8", "--arch", "x32").LastLine);
        var r = CliRunner.Run("explain", Docker, "1000");
        Assert.Contains("nr 1000 is past the newest syscall the profile names on x86_64", r.Stdout, StringComparison.Ordinal);
        Assert.Equal("decision: ERRNO(38) (ENOSYS), as runc does (its ENOSYS stub, libcontainer/seccomp/patchbpf)", r.LastLine);
        // The built-in default does the same past the newest syscall the tables know.
        r = CliRunner.Run("explain", "default", "1000");
        Assert.Matches(@"^decision: ERRNO\(38\) \(ENOSYS\) by newer-syscalls ERRNO\(ENOSYS\) at default\.policy:\d+$", r.LastLine);
        Assert.Contains("if ($syscall > ", CliRunner.Run("compile", "default", "-f", "pfc").Stdout, StringComparison.Ordinal);
        Assert.Equal(0, CliRunner.Run("check", "default").ExitCode);
    }
}
