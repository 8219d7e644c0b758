using System.Globalization;

namespace Syscage.Hardening.Tests;

/// <summary>
/// A KILL verdict applied by the supervisor is as final as the kernel's: 200 children each race a second thread that
/// flips SIGSYS between a handler, SIG_IGN and SIG_DFL (and blocks it) against their notified call; none may return.
/// </summary>
public class KillFinalityTests
{
    private const int Children = 200;

    private static string Survivors(params string[] run)
    {
        var r = Attack.Run(Attack.Nobody, ["run", .. run, "--", Attack.Attacker, "survive-kill",
            Attack.Nr("getppid").ToString(CultureInfo.InvariantCulture), Children.ToString(CultureInfo.InvariantCulture)]);
        var line = r.Stdout.Split('\n').FirstOrDefault(l => l.StartsWith("survived ", StringComparison.Ordinal));
        Assert.True(line is not null, r.ToString());
        return line!;
    }

    private static string KillGetppid => Attack.Share("kill-getppid.policy", "default ALLOW\nKILL_PROCESS getppid\n");

    [Fact]
    public void Kernel_kill_is_final() => Assert.Equal($"survived 0 of {Children}", Survivors("--policy", KillGetppid));

    [Fact]
    public void Supervisor_kill_under_log_denials_is_final() =>
        Assert.Equal($"survived 0 of {Children}", Survivors("--log-denials", "--policy", KillGetppid));

    [Fact]
    public void Dynamic_ebpf_kill_is_final()
    {
        // A helper call makes the verdict dynamic: the supervisor, not the kernel, applies it.
        string obj = Attack.Ebpf("kill_getppid_dynamic", """
            #include "common.h"
            SEC("seccomp")
            int kill_getppid(struct seccomp_data *ctx)
            {
            	if (ctx->nr == NR_getppid && (bpf_get_current_pid_tgid() >> 32) != 0)
            		return SECCOMP_RET_KILL_PROCESS;
            	return SECCOMP_RET_ALLOW;
            }
            char LICENSE[] SEC("license") = "GPL";
            """);
        Assert.Equal($"survived 0 of {Children}", Survivors("--ebpf", obj));
    }
}
