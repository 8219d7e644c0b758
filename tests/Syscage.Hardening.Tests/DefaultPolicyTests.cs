namespace Syscage.Hardening.Tests;

/// <summary>
/// The built-in default policy against the interfaces container escapes use, on the real kernel. The same probes run
/// without a filter too (as root, where that is possible): each of them reaches the kernel there and fails, if at all,
/// with another error — so every refusal under the default policy is the filter's.
/// </summary>
public class DefaultPolicyTests
{
    private static readonly Dictionary<string, string> Refusal = new(StringComparer.Ordinal)
    {
        ["clone3"] = "ENOSYS",                   // its flags are in memory: ENOSYS makes the C library fall back to clone
        ["socket-vsock"] = "EAFNOSUPPORT",
        ["socket-vsock-high-bits"] = "EAFNOSUPPORT", // int domain: compared on the 32 bits the kernel reads
    };

    [Fact]
    public void Default_policy_refuses_every_container_escape_interface()
    {
        var r = Attack.Run(null, "run", "--", Attack.Attacker, "interfaces");
        var lines = Attack.Lines(r.Stdout);
        Assert.True(lines.Count >= 39, r.ToString());
        var wrong = lines.Where(kv => kv.Value != Refusal.GetValueOrDefault(kv.Key, "EPERM")).Select(kv => $"{kv.Key} {kv.Value}").ToList();
        Assert.True(wrong.Count == 0, $"not refused as the default policy says: {string.Join(", ", wrong)}\n{r}");

        if (Environment.UserName != "root")
            return;
        var open = Attack.Lines(Attack.Run(null, "run", "--policy", Attack.Share("allow.policy", "default ALLOW\n"), "--", Attack.Attacker, "interfaces").Stdout);
        var same = lines.Where(kv => open.GetValueOrDefault(kv.Key) == kv.Value).Select(kv => kv.Key).ToList();
        Assert.True(same.Count == 0, $"these fail the same way without the filter, so the test can't tell who refused: {string.Join(", ", same)}");
    }
}
