using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Syscage.Kernel;
using Syscage.Testing;

namespace Syscage.Cli.Tests;

/// <summary>
/// An OCI profile's <c>flags</c> under <c>syscage run</c>, as the kernel sees them: SECCOMP_FILTER_FLAG_LOG in the
/// filter's metadata (PTRACE_SECCOMP_GET_METADATA, tests/native/seccomp_meta.c: no audit, no kernel log),
/// SECCOMP_FILTER_FLAG_SPEC_ALLOW in the task's <c>Speculation_Store_Bypass</c> where the kernel's mitigation is tied to
/// seccomp, and every flag in the <c>seccomp()</c> call the launcher makes (strace); the combinations the kernel refuses
/// are refused with words.
/// </summary>
public sealed partial class RunFlagTests
{
    private static string Profile(TempDir dir, string flags, string extraEntry = "")
    {
        string file = dir.File("p.json");
        File.WriteAllText(file, $$"""
            {"defaultAction":"SCMP_ACT_ALLOW","flags":[{{flags}}],
             "syscalls":[{"names":["kexec_load"],"action":"SCMP_ACT_ERRNO"}{{extraEntry}}]}
            """);
        return file;
    }

    /// <summary>
    /// Runs <c>syscage run --policy PROFILE -- sh -c 'echo $$; read line'</c>: the shell prints its pid and waits; then
    /// <paramref name="inspect"/> looks at it from outside, and the shell is let go.
    /// </summary>
    private static T WhileRunning<T>(string profile, Func<int, T> inspect)
    {
        var psi = new ProcessStartInfo(CliRunner.Tool) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in (string[])["run", "--policy", profile, "--", "/bin/sh", "-c", "echo $$; read line"])
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        try
        {
            string? line = p.StandardOutput.ReadLine();
            if (line is null)
                Assert.Fail("the shell did not start: " + p.StandardError.ReadToEnd());
            return inspect(int.Parse(line, CultureInfo.InvariantCulture));
        }
        finally
        {
            p.StandardInput.WriteLine();
            p.StandardInput.Close();
            if (!p.WaitForExit(60_000))
                p.Kill(true);
        }
    }

    private static string Meta(int pid)
    {
        string tool = NativeBuild.Compile("seccomp_meta.c", "the filter flag tests");
        var psi = new ProcessStartInfo(tool, pid.ToString(CultureInfo.InvariantCulture)) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"seccomp_meta: {p.StandardError.ReadToEnd()}");
        return output.Trim();
    }

    [Fact]
    public void TheLogFlagIsOnTheProfilesFilterAndOnlyThere()
    {
        using var dir = new TempDir();
        // Two filters: the supervisor's guard (installed first: index 0) and the profile's.
        string logged = WhileRunning(Profile(dir, "\"SECCOMP_FILTER_FLAG_LOG\""), Meta);
        Assert.Equal($"filter 0 flags 0x0\nfilter 1 flags 0x{(uint)FilterFlags.Log:x}", logged);
        string plain = WhileRunning(Profile(dir, ""), Meta);
        Assert.Equal("filter 0 flags 0x0\nfilter 1 flags 0x0", plain);
    }

    [Fact]
    public void SpecAllowKeepsTheSpeculationMitigationOffWhereSeccompWouldForceIt()
    {
        using var dir = new TempDir();
        static string Ssb(int pid) => File.ReadAllLines($"/proc/{pid}/status").Single(l => l.StartsWith("Speculation_Store_Bypass:", StringComparison.Ordinal)).Split(':')[1].Trim();
        string with = WhileRunning(Profile(dir, "\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\""), Ssb);
        string without = WhileRunning(Profile(dir, ""), Ssb);
        string mode = File.ReadAllText("/sys/devices/system/cpu/vulnerabilities/spec_store_bypass").Trim();
        if (mode.Contains("seccomp", StringComparison.Ordinal))
        {
            // spec_store_bypass_disable=seccomp: a filter forces the mitigation, unless SPEC_ALLOW.
            Assert.Equal("thread force mitigated", without);
            Assert.NotEqual(without, with);
        }
        else
        {
            // This kernel ties the mitigation to prctl alone ("Mitigation: ... via prctl"): a filter changes nothing
            // either way, and the flag's arrival is checked in the seccomp() call (AllFlagsReachTheKernel).
            Assert.Equal(without, with);
        }
    }

    /// <summary><c>PID seccomp(0x1, FLAGS, {len=N, filter=ADDR}) = RESULT</c>: SECCOMP_SET_MODE_FILTER as <c>strace -X raw</c> writes it.</summary>
    [GeneratedRegex(@"^\d+\s+seccomp\(0x1, (0x[0-9a-f]+|\d+), (?:\{[^}]*\}|NULL|0x[0-9a-f]+)\)\s+= (\d+|-1 \w+)", RegexOptions.Multiline)]
    private static partial Regex SeccompCall();

    [Fact]
    public void AllFlagsReachTheKernelWhichAcceptsThem()
    {
        string strace = NativeBuild.FindOnPath("strace") ?? throw new InvalidOperationException("strace is needed (scripts/ensure-deps.sh installs it)");
        using var dir = new TempDir();
        // WAIT_KILLABLE_RECV needs a listener: a NOTIFY entry (the default handler logs the call and lets it run).
        string profile = Profile(dir, "\"SECCOMP_FILTER_FLAG_LOG\",\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\",\"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV\",\"SECCOMP_FILTER_FLAG_TSYNC\"",
            """,{"names":["uname"],"action":"SCMP_ACT_NOTIFY"}""");
        string trace = dir.File("trace");
        var psi = new ProcessStartInfo(strace) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in (string[])["-f", "-qq", "-X", "raw", "-e", "trace=seccomp", "-e", "signal=none", "-o", trace, CliRunner.Tool, "run", "--policy", profile, "--", "/bin/uname"])
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}\n{stdout}\n{stderr}");
        Assert.Contains("Linux", stdout, StringComparison.Ordinal);
        var installs = SeccompCall().Matches(File.ReadAllText(trace))
            .Select(m => (Flags: Convert.ToUInt32(m.Groups[1].Value, m.Groups[1].Value.StartsWith("0x", StringComparison.Ordinal) ? 16 : 10), Result: m.Groups[2].Value))
            .Where(c => !c.Result.StartsWith('-'))
            .ToList();
        // The guard (no flags) and the profile's filter: its flags, with the listener, without TSYNC (runc ignores it too).
        var expected = FilterFlags.Log | FilterFlags.SpecAllow | FilterFlags.WaitKillableRecv | FilterFlags.NewListener;
        Assert.Contains(installs, c => c.Flags == (uint)expected && c.Result != "0");   // a listener's descriptor
        Assert.DoesNotContain(installs, c => (c.Flags & (uint)FilterFlags.Tsync) != 0);
    }

    [Fact]
    public void WaitKillableRecvWithoutANotifyEntryIsRefusedWithTheReason()
    {
        using var dir = new TempDir();
        var r = CliRunner.RunProcess("run", "--policy", Profile(dir, "\"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV\""), "--", "/bin/true");
        Assert.Equal(127, r.ExitCode);
        Assert.Contains("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a listener, and this filter has none", r.Stderr, StringComparison.Ordinal);
        // With --log-denials the filter has a listener, and the flag is fine.
        var logged = CliRunner.RunProcess("run", "--log-denials", "--policy", Profile(dir, "\"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV\""), "--", "/bin/true");
        Assert.True(logged.ExitCode == 0, logged.ToString());
    }
}
