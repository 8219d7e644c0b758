using Syscage.Policy.Language;

namespace Syscage.Cli.Tests;

/// <summary><c>syscage groups</c>, and <c>@</c> read as a group name everywhere (never as a response file).</summary>
public sealed class GroupsVerbTests
{
    [Fact]
    public void Groups_lists_every_built_in_group_with_its_members()
    {
        var r = CliRunner.Run("groups");
        Assert.True(r.ExitCode == 0, r.ToString());
        var headings = r.Stdout.Split('\n').Where(l => l.StartsWith('@')).ToList();
        Assert.Equal(SyscallGroups.Names, headings);
        foreach (string group in SyscallGroups.Names)
            foreach (string member in SyscallGroups.Members(group))
                Assert.Contains($"    {member}\n", r.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("@network")]
    [InlineData("network")]
    public void Groups_NAME_lists_one_group_in_the_order_written(string name)
    {
        var r = CliRunner.Run("groups", name);
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.TrimEnd('\n').Split('\n');
        Assert.Equal("@network", lines[0]);
        Assert.StartsWith("    # sockets", lines[1], StringComparison.Ordinal);
        var members = lines.Skip(2).Where(l => !l.TrimStart().StartsWith('#')).Select(l => l.Trim()).ToList();
        Assert.Equal(SyscallGroups.Members("@network"), members);
        // socketcall is x86's way to sockets: x86_64 lacks it and says so.
        Assert.Equal("    # not on x86_64 (skipped there): recvmmsg_time64, socketcall", lines[^1]);
        Assert.Equal("    # not on x86 (skipped there): accept", CliRunner.Run("groups", name, "--arch", "x86").Stdout.TrimEnd('\n').Split('\n')[^1]);
    }

    [Fact]
    public void An_unknown_group_is_bad_input_with_a_hint()
    {
        var r = CliRunner.Run("groups", "@netwrk");
        Assert.Equal(3, r.ExitCode);
        Assert.Contains("unknown group '@netwrk'; did you mean '@network'?", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void An_at_sign_is_never_a_response_file()
    {
        using var dir = new TempDir();
        var syscalls = CliRunner.Run("syscalls", "@network");
        Assert.True(syscalls.ExitCode == 0, syscalls.ToString());
        Assert.Contains("socket(domain, type, protocol)", syscalls.Stdout, StringComparison.Ordinal);
        Assert.Contains("# not on x86_64: recvmmsg_time64, socketcall", syscalls.Stdout, StringComparison.Ordinal);
        Assert.Contains("socketcall", CliRunner.Run("syscalls", "@network", "--arch", "x86").Stdout, StringComparison.Ordinal);

        // '@FILE' is the argument as written, not the file's contents read as more arguments.
        File.WriteAllText(dir.File("args"), "doctor\n");
        var r = CliRunner.Run("explain", "@" + dir.File("args"), "read");
        Assert.NotEqual(0, r.ExitCode);
        Assert.DoesNotContain("Response file", r.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("kernel ", r.Stdout, StringComparison.Ordinal);   // doctor did not run
    }
}
