namespace Syscage.Hardening.Tests;

/// <summary>
/// The command, as the same unprivileged user as syscage, tries every way to reach syscage and its launcher: signals
/// of every kind, pidfds (also through /proc/PID), rlimits, SIGIO owners, ptrace, /proc/PID/mem and fd/, a listener of
/// its own. All are harmless probes (signal 0, reads); takeover attempts with real kills are in TakeoverTests.
/// </summary>
public class ReachTests
{
    private const string Control = "proc-pidfd-own-child";

    public static TheoryData<string> SupervisedModes => ["notify", "log-denials", "ebpf"];

    internal static string[] Mode(string mode) => mode switch
    {
        "notify" => ["--policy", Attack.Share("notify-mkdir.policy", "default ALLOW\nNOTIFY(deny_EPERM) mkdir\n")],
        "log-denials" => ["--log-denials"],
        "ebpf" => ["--ebpf", Attack.Ebpf("exec_once")],
        _ => [],
    };

    [Theory]
    [MemberData(nameof(SupervisedModes))]
    public void Supervised_command_reaches_neither_syscage_nor_the_launcher(string mode)
    {
        var r = Attack.Run(Attack.Nobody, ["run", .. Mode(mode), "--", Attack.Attacker, "reach"]);
        var lines = Attack.Lines(r.Stdout);
        Assert.True(lines.Count >= 25, r.ToString());
        Assert.Equal("ok", lines[Control]); // signals through a /proc pidfd still work for the command's own processes
        var reached = lines.Where(kv => kv.Key != Control && kv.Value == "ok").Select(kv => kv.Key).ToList();
        Assert.True(reached.Count == 0, $"reached: {string.Join(", ", reached)}\n{r}");
        Assert.Equal("EBUSY", lines["listener"]);
        Assert.Equal("EACCES", lines["mem-write-supervisor"]);
        Assert.Equal("EACCES", lines["mem-write-launcher"]);
    }

    [Fact]
    public void Unsupervised_command_reaches_only_what_the_guard_cannot_see()
    {
        var r = Attack.Run(Attack.Nobody, "run", "--policy", Attack.Share("allow.policy", "default ALLOW\n"), "--", Attack.Attacker, "reach");
        var lines = Attack.Lines(r.Stdout);
        Assert.True(lines.Count >= 25, r.ToString());
        // Without a supervisor a listener of its own harms nobody, and a /proc/PID pidfd can't be looked at by the kernel
        // half (docs/security.md): both are allowed, the rest is refused.
        string[] open = [Control, "listener", "proc-pidfd-supervisor", "proc-pidfd-launcher", "pidfd-group-of-self"];
        var reached = lines.Where(kv => !open.Contains(kv.Key) && kv.Value == "ok").Select(kv => kv.Key).ToList();
        Assert.True(reached.Count == 0, $"reached: {string.Join(", ", reached)}\n{r}");
        Assert.Equal("ok", lines["listener"]);
    }
}
