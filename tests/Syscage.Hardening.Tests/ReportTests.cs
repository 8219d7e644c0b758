namespace Syscage.Hardening.Tests;

/// <summary>How a command's end is reported: never a claim the facts can't back.</summary>
public class ReportTests
{
    [Fact]
    public void A_directory_as_the_command_is_126_as_in_a_shell()
    {
        var r = Attack.Run(null, "run", "--", "/tmp");
        Assert.Equal(126, r.ExitCode);
        Assert.Contains("/tmp: is a directory", r.Stderr, StringComparison.Ordinal);
        r = Attack.Run(null, "run", "--", "/no/such/program");
        Assert.Equal(127, r.ExitCode);
    }

    [Fact]
    public void A_self_sent_sigsys_is_not_reported_as_a_seccomp_kill()
    {
        var r = Attack.Run(null, "run", "--policy", Attack.Share("no-kill.policy", "default ALLOW\nbad-arch ERRNO(EPERM)\n"), "--",
            "/bin/sh", "-c", "kill -SYS $$");
        Assert.Equal(128 + 31, r.ExitCode);
        Assert.Contains("which the filter did not send", r.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("KILL action", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unhandled_trap_is_reported_as_a_trap()
    {
        var r = Attack.Run(null, "run", "--policy", Attack.Share("trap-uname.policy", "default ALLOW\nbad-arch ERRNO(EPERM)\nTRAP(7) uname\n"), "--", "uname");
        Assert.Equal(128 + 31, r.ExitCode);
        Assert.Contains("a TRAP action of policy", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void A_kernel_kill_is_reported_as_a_kill()
    {
        var r = Attack.Run(null, "run", "--policy", Attack.Share("kill-uname.policy", "default ALLOW\nKILL_PROCESS uname\n"), "--", "uname");
        Assert.Equal(128 + 31, r.ExitCode);
        Assert.Contains("hit a KILL action of policy", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void A_supervisor_kill_is_reported_as_the_verdict_it_was()
    {
        var r = Attack.Run(null, "run", "--log-denials", "--policy", Attack.Share("kill-uname.policy", "default ALLOW\nKILL_PROCESS uname\n"), "--", "uname");
        Assert.Equal(128 + 9, r.ExitCode);
        Assert.Contains("was killed by the supervisor for a KILL_PROCESS verdict", r.Stderr, StringComparison.Ordinal);
    }
}

/// <summary>Unprivileged use: the launcher sets no_new_privs, so a user without CAP_SYS_ADMIN can install filters.</summary>
public class UnprivilegedTests
{
    [Fact]
    public void An_unprivileged_user_runs_a_command_under_a_compiled_filter()
    {
        // ERRNO(42) for the unused syscall 1000, everything else allowed.
        var b = new Syscage.Policy.PolicyBuilder(Syscage.Abi.SeccompAction.Allow, Syscage.Policy.PolicyBuilder.DefaultArchitectures);
        b.Add(Syscage.Abi.Architecture.Native, 1000, new Syscage.Policy.Rule(Syscage.Policy.Condition.True, Syscage.Abi.SeccompAction.Errno(42)));
        string filter = Attack.Share("errno42.bpf", "");
        File.WriteAllBytes(filter, Syscage.Policy.Compiler.PolicyCompiler.Compile(b.Build()).ToBytes());
        var r = Attack.Run(Attack.Nobody, "run", "--policy", filter, "--", Attack.Helper("syscall_helper.c"), "call", "1000");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("ret -1 errno 42", r.Stdout.Trim());
    }
}
