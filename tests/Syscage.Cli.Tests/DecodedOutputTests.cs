using System.Text.Json;

namespace Syscage.Cli.Tests;

/// <summary>Arguments in the kernel's names in explain and emu, and <c>--json</c> on explain, emu, check and doctor.</summary>
public sealed class DecodedOutputTests
{
    private static JsonElement Json(CliRunner.Result r)
    {
        Assert.Single(r.Stdout.TrimEnd('\n').Split('\n'));
        return JsonDocument.Parse(r.Stdout).RootElement.Clone();
    }

    [Fact]
    public void Explain_names_flags_and_the_working_directory()
    {
        var r = CliRunner.Run("explain", "default", "clone", "0x10000000");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.StartsWith("clone(flags=CLONE_NEWUSER, stack=0x0,", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("flags = 0x10000000 (CLONE_NEWUSER)", r.Stdout, StringComparison.Ordinal);
        Assert.StartsWith("openat(dirfd=AT_FDCWD, pathname=0x1000, flags=O_RDWR,", CliRunner.Run("explain", "default", "openat", "-100", "0x1000", "2").Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Emu_says_the_call_decoded_and_the_trace_names_each_argument_loaded()
    {
        var r = CliRunner.Run("emu", "default", "clone", "0x10000011", "--trace");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("A = args[0]  (flags = CLONE_NEWUSER|SIGCHLD)", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("# x86_64 clone(CLONE_NEWUSER|SIGCHLD, NULL, NULL, NULL, 0) (nr 56):", r.Stdout, StringComparison.Ordinal);
        Assert.Equal("ERRNO(1)", r.LastLine);
    }

    [Fact]
    public void Emu_json_has_the_call_the_arguments_and_the_verdict()
    {
        var o = Json(CliRunner.Run("emu", "default", "ioctl", "0", "0x5412", "--json"));
        Assert.Equal("ioctl", o.GetProperty("syscall").GetString());
        Assert.Equal("ioctl(0, TIOCSTI, 0)", o.GetProperty("call").GetString());
        Assert.Equal("ERRNO(1)", o.GetProperty("action").GetString());
        Assert.Equal("EPERM", o.GetProperty("errno").GetString());
        var request = o.GetProperty("args")[1];
        Assert.Equal("request", request.GetProperty("name").GetString());
        Assert.Equal("0x5412", request.GetProperty("value").GetString());
        Assert.Equal("TIOCSTI", request.GetProperty("text").GetString());
        Assert.False(o.TryGetProperty("trace", out _));
        var traced = Json(CliRunner.Run("emu", "default", "ioctl", "0", "0x5412", "--json", "--trace"));
        var steps = traced.GetProperty("trace").EnumerateArray().ToList();
        Assert.Equal(traced.GetProperty("instructions").GetInt32(), steps.Count);
        Assert.Contains(steps, s => s.TryGetProperty("argument", out var a) && a.GetString() == "request" && s.GetProperty("value").GetString() == "TIOCSTI");
    }

    [Fact]
    public void Explain_json_lists_the_rules_tried_and_the_decision()
    {
        var o = Json(CliRunner.Run("explain", "default", "socket", "40", "1", "0", "--json"));
        Assert.Equal("socket(AF_VSOCK, SOCK_STREAM, 0)", o.GetProperty("call").GetString());
        var rules = o.GetProperty("rules").EnumerateArray().ToList();
        Assert.Equal(2, rules.Count);
        Assert.True(rules[0].GetProperty("matches").GetBoolean());
        Assert.False(rules[1].GetProperty("tried").GetBoolean());
        var decision = o.GetProperty("decision");
        Assert.Equal("ERRNO(97)", decision.GetProperty("action").GetString());
        Assert.Equal("EAFNOSUPPORT", decision.GetProperty("errno").GetString());
        Assert.Equal("rule", decision.GetProperty("reason").GetString());
        Assert.Equal("default.policy", decision.GetProperty("file").GetString());
        Assert.Equal("default", Json(CliRunner.Run("explain", "default", "reboot", "--json")).GetProperty("decision").GetProperty("reason").GetString());
    }

    [Fact]
    public void Check_json_for_a_program_and_for_a_policy()
    {
        using var dir = new TempDir();
        Assert.Equal(0, CliRunner.Run("compile", "default", "-o", dir.File("d.bpf")).ExitCode);
        var program = Json(CliRunner.Run("check", dir.File("d.bpf"), "--json"));
        Assert.True(program.GetProperty("valid").GetBoolean());
        Assert.Equal("program", program.GetProperty("kind").GetString());
        File.WriteAllBytes(dir.File("bad.bpf"), new byte[8]);   // one instruction: 'A = 0 (ld imm)', no return
        var bad = CliRunner.Run("check", dir.File("bad.bpf"), "--json");
        Assert.Equal(1, bad.ExitCode);
        Assert.False(Json(bad).GetProperty("valid").GetBoolean());

        File.WriteAllText(dir.File("p.policy"), "default ERRNO(EPERM)\nALLOW read, write\n");
        var policy = Json(CliRunner.Run("check", dir.File("p.policy"), "--json"));
        Assert.True(policy.GetProperty("equivalent").GetBoolean());
        Assert.Equal(2, policy.GetProperty("filters").GetArrayLength());
        // The lint's warnings are in the object, not on stderr.
        Assert.Contains(policy.GetProperty("warnings").EnumerateArray(), w => w.GetProperty("kind").GetString() == "refuses-execve");
        Assert.Equal("", CliRunner.Run("check", dir.File("p.policy"), "--json").Stderr);
    }

    [Fact]
    public void Doctor_json_says_what_this_kernel_has()
    {
        var o = Json(CliRunner.Run("doctor", "--json"));
        Assert.True(o.GetProperty("seccomp").GetBoolean());
        Assert.True(o.GetProperty("actions").GetProperty("KILL_PROCESS").GetBoolean());
        Assert.Equal(64, o.GetProperty("userNotif").GetProperty("seccomp_data").GetInt32());
        Assert.Equal(File.ReadAllText("/proc/sys/kernel/osrelease").Trim(), o.GetProperty("kernel").GetString());
    }
}
