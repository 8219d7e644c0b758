using Syscage.Testing;

namespace Syscage.Cli.Tests;

/// <summary>compile, emu, check, explain and run on policies, through the same parser as the tool.</summary>
public sealed class PolicyVerbTests
{
    private static string Docker => Path.Combine(NativeProbe.RepositoryRoot, "..", "shared", "profiles", "docker-default.json");

    private const string Small = """
        default ERRNO(EPERM)
        ALLOW read, write, close
        ERRNO(EACCES) openat if (flags & O_ACCMODE) != O_RDONLY
        ALLOW openat
        KILL_PROCESS ptrace
        """;

    [Fact]
    public void CompileWritesRawBytesThatEmuRuns()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("p.policy"), Small);
        var r = CliRunner.Run("compile", dir.File("p.policy"), "-o", dir.File("p.bpf"));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(0, File.ReadAllBytes(dir.File("p.bpf")).Length % 8);
        Assert.Equal("ALLOW", CliRunner.Run("emu", dir.File("p.bpf"), "read").LastLine);
        Assert.Equal("ERRNO(13)", CliRunner.Run("emu", dir.File("p.bpf"), "openat", "0", "0", "2").LastLine);
        Assert.Equal("ALLOW", CliRunner.Run("emu", dir.File("p.bpf"), "openat", "0", "0", "0").LastLine);
        Assert.Equal("KILL_PROCESS", CliRunner.Run("emu", dir.File("p.bpf"), "ptrace").LastLine);
        Assert.Equal("ERRNO(1)", CliRunner.Run("emu", dir.File("p.bpf"), "mount").LastLine);
        // emu takes the policy itself too.
        Assert.Equal("ERRNO(13)", CliRunner.Run("emu", dir.File("p.policy"), "openat", "0", "0", "1").LastLine);
        Assert.Equal("KILL_PROCESS", CliRunner.Run("emu", dir.File("p.policy"), "read", "--arch", "aarch64").LastLine);
    }

    [Theory]
    [InlineData("asm", "A = arch")]
    [InlineData("c", "BPF_STMT(BPF_LD|BPF_W|BPF_ABS, 4)")]
    [InlineData("pfc", "# filter for arch x86_64")]
    public void CompileFormats(string format, string expected)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("p.policy"), Small);
        var r = CliRunner.Run("compile", dir.File("p.policy"), "--format", format);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains(expected, r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void CompileAsmReassemblesToTheSameProgram()
    {
        using var dir = new TempDir();
        var asm = CliRunner.Run("compile", "default", "--format", "asm", "-o", dir.File("d.asm"));
        Assert.Equal(0, asm.ExitCode);
        Assert.Equal(0, CliRunner.Run("compile", "default", "-o", dir.File("d.bpf")).ExitCode);
        Assert.Equal(0, CliRunner.Run("asm", dir.File("d.asm"), "-o", dir.File("again.bpf")).ExitCode);
        Assert.Equal(File.ReadAllBytes(dir.File("d.bpf")), File.ReadAllBytes(dir.File("again.bpf")));
    }

    [Fact]
    public void CheckComparesTheCompiledFiltersWithThePolicy()
    {
        var r = CliRunner.Run("check", Docker);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("optimised filter of", r.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"matches the policy on all \d+ input combinations\n", r.Stdout);
        r = CliRunner.Run("check", "default");
        Assert.True(r.ExitCode == 0, r.ToString());
    }

    [Fact]
    public void CheckSaysWhenItOnlySampledTheArgumentCombinations()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("wide.policy"), """
            default ERRNO(EPERM)
            arch x86_64
            ALLOW read if fd >= 3 && fd != 0x4242 && fd != 77 && buf < 0x7000 && buf != 0x123400000000 && buf != 0x7fff0000 && count <= 0x800000000000 && count != 0xdeadbeef0000 && count != 0x100
            """);
        var r = CliRunner.Run("check", dir.File("wide.policy"));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Matches(@"optimised filter of \d+ instructions matches the policy on \d+ sampled input combinations of \d+ \(one syscall has more than 20000 argument combinations, tried in part\)\n", r.Stdout);
    }

    [Fact]
    public void ExplainNamesTheDecidingRule()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("p.policy"), Small);
        var r = CliRunner.Run("explain", dir.File("p.policy"), "openat", "0", "0", "2");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("p.policy:3", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("ERRNO(13)", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void PolicyErrorsAreOneLineWithThePosition()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("bad.policy"), "default ERRNO(EPERM)\nALLOW reed\n");
        var r = CliRunner.Run("compile", dir.File("bad.policy"), "--format", "asm");
        Assert.Equal(3, r.ExitCode);
        Assert.Contains("bad.policy:2:7:", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("'read'", r.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", r.Stderr, StringComparison.Ordinal);
        r = CliRunner.Run("compile", "defualt", "--format", "asm");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("did you mean 'default'", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void RunReturnsTheCommandsStatus()
    {
        var r = CliRunner.RunProcess("run", "--", "/bin/sh", "-c", "echo inside; exit 7");
        Assert.Equal(7, r.ExitCode);
        Assert.Equal("inside\n", r.Stdout);
    }

    [Fact]
    public void RunSaysWhenTheFilterKills()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("k.policy"), "default ALLOW\nKILL_PROCESS uname\n");
        var r = CliRunner.RunProcess("run", "--policy", dir.File("k.policy"), "--", "/bin/uname");
        Assert.Equal(128 + 31, r.ExitCode);
        Assert.Contains("killed by seccomp (SIGSYS)", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void RunUnderTheDefaultPolicyRefusesWhatItShould()
    {
        var r = CliRunner.RunProcess("run", "--", "/bin/sh", "-c", "echo ok; unshare -U true 2>/dev/null; echo unshare=$?");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("ok", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("unshare=1", r.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/bin/sh", "-c", "ls / >/dev/null && cat /etc/hostname >/dev/null && echo done")]
    [InlineData("python3", "-c", "import os, json, subprocess; print(json.dumps(os.listdir('/')) != ''); subprocess.run(['true'])")]
    [InlineData("dotnet", "--info", "")]
    public void OrdinaryProgramsRunUnderTheDefaultPolicy(string program, string a1, string a2)
    {
        string[] args = a2.Length > 0 ? ["run", "--", program, a1, a2] : ["run", "--", program, a1];
        var r = CliRunner.RunProcess(args);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.DoesNotContain("seccomp", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void RunReportsAMissingCommand()
    {
        var r = CliRunner.RunProcess("run", "--", "no-such-command-anywhere");
        Assert.Equal(127, r.ExitCode);
        Assert.Contains("no-such-command-anywhere: command not found", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void DoctorReportsTheKernel()
    {
        var r = CliRunner.Run("doctor");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("USER_NOTIF", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("TSYNC", r.Stdout, StringComparison.Ordinal);
    }
}

/// <summary>The compiled output works in a real client: bwrap --seccomp 3 ... 3&lt;f.bpf.</summary>
public sealed class BwrapInteropTests
{
    [Fact]
    public void CompiledOutputWorksWithBwrap()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("p.policy"), "default ALLOW\nERRNO(EACCES) mkdir, mkdirat\n");
        var c = CliRunner.Run("compile", dir.File("p.policy"), "-o", dir.File("f.bpf"));
        Assert.True(c.ExitCode == 0, c.ToString());
        var psi = new System.Diagnostics.ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add($"exec bwrap --ro-bind / / --tmpfs /tmp --dev /dev --seccomp 3 /bin/sh -c 'mkdir /tmp/d; echo status=$?' 3<{dir.File("f.bpf")}");
        using var p = System.Diagnostics.Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, stderr);
        Assert.Contains("status=1", stdout, StringComparison.Ordinal);
        Assert.Contains("Permission denied", stderr, StringComparison.Ordinal);
    }
}

/// <summary>syscage run passes SIGTERM on to the command and leaves nothing behind.</summary>
public sealed class RunSignalTests
{
    [Fact]
    public async Task SigtermReachesTheCommand()
    {
        using var dir = new TempDir();
        string marker = dir.File("started");
        var psi = new System.Diagnostics.ProcessStartInfo(CliRunner.Tool) { RedirectStandardError = true };
        foreach (var a in new[] { "run", "--", "/bin/sh", "-c", $"touch {marker}; exec sleep 60" })
            psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!File.Exists(marker) && DateTime.UtcNow < deadline)
            Thread.Sleep(50);
        Assert.True(File.Exists(marker), "the command never started");
        using (var kill = System.Diagnostics.Process.Start("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            kill.WaitForExit();
        Assert.True(p.WaitForExit(30_000), "syscage run did not end after SIGTERM");
        Assert.Equal(128 + 15, p.ExitCode);
        Assert.Contains("was killed by SIGTERM", await stderr, StringComparison.Ordinal);
    }
}
