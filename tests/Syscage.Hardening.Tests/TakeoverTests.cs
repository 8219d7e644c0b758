namespace Syscage.Hardening.Tests;

/// <summary>
/// Listener takeover: the command kills syscage by any means it finds, installs a listener of its own that answers
/// CONTINUE, and makes the call its supervisor refuses. It must fail in every supervised mode: the guard refuses the
/// kills it can see and the listener, and when the command does kill syscage (tkill of a non-main thread, which no
/// filter can tell from a thread of its own), the launcher kills the whole tree before the command gets anywhere.
/// </summary>
public class TakeoverTests
{
    public static TheoryData<string, string> Attacks => new()
    {
        { "notify", "mkdir" },          // NOTIFY(deny_EPERM) mkdir
        { "log-denials", "unshare" },   // default policy: unshare(CLONE_NEWUSER) is EPERM, through the supervisor
        { "ebpf", "exec" },             // exec_once: the second execve is refused by the program in the supervisor
    };

    [Theory]
    [MemberData(nameof(Attacks))]
    public void Takeover_fails_and_the_refused_call_stays_refused(string mode, string call)
    {
        string scratch = Attack.Scratch();
        string target = Path.Combine(scratch, "escaped");
        var r = Attack.Run(Attack.Nobody, ["run", .. ReachTests.Mode(mode), "--", Attack.Attacker, "takeover", call, target]);
        Assert.DoesNotContain("ESCAPED", r.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("listener-installed", r.Stdout, StringComparison.Ordinal);
        Assert.False(Directory.Exists(target), r.ToString());
        // The only kill left is tkill of another syscage thread: syscage dies (SIGKILL: 137), and the attacker with it,
        // long before its 30 s of attempts end ("held"): the launcher sweeps the tree as soon as syscage is gone, and the
        // window is long enough that a loaded machine's delay in running the sweep can't end it.
        Assert.Contains("trying tkill-thread", r.Stdout, StringComparison.Ordinal);
        Assert.Equal(137, r.ExitCode);
        Assert.DoesNotContain("held", r.Stdout, StringComparison.Ordinal);
    }
}
