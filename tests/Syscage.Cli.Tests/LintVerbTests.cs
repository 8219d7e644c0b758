using System.Text.Json;

namespace Syscage.Cli.Tests;

/// <summary><c>syscage lint</c>, and the same warnings from <c>compile</c> and <c>check</c>.</summary>
public sealed class LintVerbTests
{
    private const string Dead = """
        default ERRNO(EPERM)
        arch x86_64
        ALLOW execve, exit_group, @basic-io, @file-system
        ERRNO(EACCES) openat if (flags & O_ACCMODE) != O_RDONLY
        NOTIFY(log) mkdir
        """;

    [Fact]
    public void Lint_lists_each_finding_and_exits_1()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("p.policy"), Dead);
        var r = CliRunner.Run("lint", dir.File("p.policy"));
        Assert.True(r.ExitCode == 1, r.ToString());
        var lines = r.Stdout.TrimEnd('\n').Split('\n');
        Assert.Equal(3, lines.Length);
        Assert.StartsWith($"{dir.File("p.policy")}:4:1: warning: 'ERRNO(EACCES) openat if (flags & O_ACCMODE) != O_RDONLY' never decides openat", lines[0], StringComparison.Ordinal);
        Assert.EndsWith("[never-matches]", lines[0], StringComparison.Ordinal);
        Assert.StartsWith($"{dir.File("p.policy")}:5:1: warning: 'NOTIFY(log) mkdir' never decides mkdir", lines[1], StringComparison.Ordinal);
        Assert.Equal($"{dir.File("p.policy")}: 2 warnings", lines[2]);
    }

    [Fact]
    public void A_clean_policy_exits_0()
    {
        string sample = Path.Combine(Syscage.Testing.NativeProbe.RepositoryRoot, "samples", "policies", "static-web-server.policy");
        var r = CliRunner.Run("lint", sample);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal($"{sample}: no warnings\n", r.Stdout);
    }

    [Fact]
    public void Lint_json_is_one_object_with_every_finding()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("p.policy"), Dead);
        var r = CliRunner.Run("lint", dir.File("p.policy"), "--json");
        Assert.Equal(1, r.ExitCode);
        Assert.Single(r.Stdout.TrimEnd('\n').Split('\n'));
        using var doc = JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement;
        Assert.Equal(2, root.GetProperty("count").GetInt32());
        var first = root.GetProperty("findings")[0];
        Assert.Equal("never-matches", first.GetProperty("kind").GetString());
        Assert.Equal(4, first.GetProperty("line").GetInt32());
        Assert.Equal(1, first.GetProperty("column").GetInt32());
        Assert.Equal("openat", first.GetProperty("syscall").GetString());
        Assert.Equal("ERRNO(EACCES) openat if (flags & O_ACCMODE) != O_RDONLY", first.GetProperty("text").GetString());
        var by = Assert.Single(first.GetProperty("decidedBy").EnumerateArray());
        Assert.Equal(3, by.GetProperty("line").GetInt32());
        Assert.Equal("x86_64", first.GetProperty("architectures")[0].GetString());
    }

    [Fact]
    public void Compile_and_check_print_the_same_warnings_on_stderr()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("p.policy"), Dead);
        var lint = CliRunner.Run("lint", dir.File("p.policy"));
        string warnings = string.Join('\n', lint.Stdout.TrimEnd('\n').Split('\n')[..^1]) + "\n";
        var compile = CliRunner.Run("compile", dir.File("p.policy"), "-f", "asm");
        Assert.True(compile.ExitCode == 0, compile.ToString());
        Assert.Equal(warnings, compile.Stderr);
        var check = CliRunner.Run("check", dir.File("p.policy"));
        Assert.True(check.ExitCode == 0, check.ToString());
        Assert.Equal(warnings, check.Stderr);
    }

    [Fact]
    public void An_OCI_profile_s_loader_warnings_are_findings()
    {
        using var dir = new TempDir();
        string profile = dir.File("p.json");
        File.WriteAllText(profile, """{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["execve", "no_such_call"], "action": "SCMP_ACT_ALLOW"}]}""");
        var r = CliRunner.Run("lint", profile);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains($"{profile}:1:", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("no_such_call", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("[profile]", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void A_compiled_filter_has_nothing_to_lint()
    {
        using var dir = new TempDir();
        Assert.Equal(0, CliRunner.Run("compile", "default", "-o", dir.File("d.bpf")).ExitCode);
        var r = CliRunner.Run("lint", dir.File("d.bpf"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("lint reads policies", r.Stderr, StringComparison.Ordinal);
    }
}
