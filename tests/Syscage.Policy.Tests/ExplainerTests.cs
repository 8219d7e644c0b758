using Syscage.Bpf;
using Syscage.Abi;
using static Syscage.Policy.Tests.PolicyAssert;
using Syscage.Policy.Builtin;

namespace Syscage.Policy.Tests;

public class ExplainerTests
{
    private static readonly SeccompPolicy P = Parse("""
        default ERRNO(EPERM)
        arch x86_64, x86
        ERRNO(EACCES) openat if (flags & O_ACCMODE) != O_RDONLY
        ALLOW openat if dirfd == AT_FDCWD || dirfd < 100
        LOG openat
        NOTIFY(audit) mkdir
        """);

    [Fact]
    public void TheDecidingRuleIsNamedWithEveryPredicate()
    {
        string text = PolicyExplainer.Explain(P, "openat", [5, 0, 0]);
        Assert.Equal("""
            openat(dirfd=0x5, pathname=0x0, flags=O_RDONLY, mode=0x0) on x86_64: nr 257
            section x86_64: 3 rules for openat
              rule 1 at t.policy:3: ERRNO(EACCES) openat if (flags & O_ACCMODE) != O_RDONLY
                false  not
                  true   (arg2.lo32 & 3) == 0     flags = 0x0 (O_RDONLY; flags is int: compared on its low 32 bits)
                => does not match
              rule 2 at t.policy:4: ALLOW openat if dirfd == AT_FDCWD || dirfd < 100
                true   any of
                  false  arg0.lo32 == 0xffffff9c     dirfd = 0x5 (dirfd is int: compared on its low 32 bits)
                  true   arg0.lo32 < 0x64     dirfd = 0x5 (dirfd is int: compared on its low 32 bits)
                => matches: ALLOW
              rule 3 at t.policy:5: not tried
            decision: ALLOW by rule 2 at t.policy:4

            """.ReplaceLineEndings("\n"), text);
    }

    [Fact]
    public void Arguments_are_shown_in_the_kernel_s_names()
    {
        var policy = BuiltinPolicies.Load("default");
        string clone = PolicyExplainer.Explain(policy, "clone", [0x1002_0011]);
        Assert.StartsWith("clone(flags=CLONE_NEWNS|CLONE_NEWUSER|SIGCHLD, stack=0x0,", clone, StringComparison.Ordinal);
        Assert.Contains("flags = 0x10020011 (CLONE_NEWNS|CLONE_NEWUSER|SIGCHLD)", clone, StringComparison.Ordinal);
        Assert.StartsWith("openat(dirfd=AT_FDCWD, pathname=0x1000, flags=O_RDWR|O_CREAT|O_CLOEXEC, mode=0x1a4)",
            PolicyExplainer.Explain(policy, "openat", [unchecked((ulong)-100), 0x1000, 0x80042, 0x1a4]), StringComparison.Ordinal);
        Assert.Contains("request = 0x5412 (TIOCSTI; request is unsigned int: compared on its low 32 bits)", PolicyExplainer.Explain(policy, "ioctl", [0, 0x5412]), StringComparison.Ordinal);
        Assert.StartsWith("mmap(addr=0x0, length=0x1000, prot=PROT_READ|PROT_WRITE, flags=MAP_PRIVATE|MAP_ANONYMOUS, fd=0xffffffffffffffff",
            PolicyExplainer.Explain(policy, "mmap", [0, 0x1000, 3, 0x22, ulong.MaxValue, 0]), StringComparison.Ordinal);
        // A value with bits above the argument's type is shown whole, with what the syscall reads.
        Assert.StartsWith("socket(domain=0x100000028 (AF_VSOCK in the bits the syscall reads), type=SOCK_STREAM", PolicyExplainer.Explain(policy, "socket", [0x1_0000_0028, 1]), StringComparison.Ordinal);
        // Other architectures' flags differ: numbers there.
        Assert.StartsWith("clone(flags=0x10000000,", PolicyExplainer.Explain(Parse("default ALLOW\narch aarch64\nALLOW clone"), "clone", [0x1000_0000], Architecture.Aarch64), StringComparison.Ordinal);
    }

    [Fact]
    public void DefaultBadArchAndHandlers()
    {
        Assert.EndsWith("decision: ERRNO(1) (EPERM) (the default action: no rule names this syscall)\n", PolicyExplainer.Explain(P, "read", []));
        Assert.Contains("decision: ERRNO(13) (EACCES) by rule 1 at t.policy:3", PolicyExplainer.Explain(P, "openat", [5, 0, 1]));
        Assert.Contains("decision: USER_NOTIF by rule 1 at t.policy:6 (handler 'audit')", PolicyExplainer.Explain(P, "mkdir", []));
        string bad = PolicyExplainer.Explain(P, new SeccompData(0, Architecture.Aarch64.AuditArch));
        Assert.Contains("is not covered by the policy (it covers x86_64, x86)", bad);
        Assert.EndsWith("decision: KILL_PROCESS (the bad-arch action)\n", bad);
        Assert.Contains("(x32)", PolicyExplainer.Explain(P, new SeccompData(0x40000000, Architecture.X86_64.AuditArch)));
        string x86 = PolicyExplainer.Explain(P, "openat", [0x1_0000_0005, 0, 0], Architecture.X86);
        Assert.Contains("(32-bit ABI: compared on the low 32 bits)", x86);
        Assert.Contains("on x86: nr 295", x86);
        Assert.Contains("did you mean 'openat'?", Assert.Throws<ArgumentException>(() => PolicyExplainer.Explain(P, "opneat", [])).Message);
        Assert.Contains("syscall 999", PolicyExplainer.Explain(P, "999", []));
    }

    [Fact]
    public void NewerSyscallsAreExplainedWithTheNewestAndTheLine()
    {
        var policy = BuiltinPolicies.Load("default");
        var newest = Architecture.X86_64.Syscalls.Newest!;
        string text = PolicyExplainer.Explain(policy, new SeccompData(newest.Number + 20, Architecture.X86_64.AuditArch));
        Assert.Contains($"section x86_64: nr {newest.Number + 20} is past the newest syscall Syscage's tables know or a rule names on x86_64 ({newest.Name}, nr {newest.Number})\n", text);
        Assert.Matches(@"decision: ERRNO\(38\) \(ENOSYS\) by newer-syscalls ERRNO\(ENOSYS\) at default\.policy:\d+\n$", text);
        Assert.Contains("nr -1 (0xffffffff) is past the newest syscall", PolicyExplainer.Explain(policy, new SeccompData(-1, Architecture.X86_64.AuditArch)));
        // A number a rule names moves the newest up to it.
        var own = Parse("default ERRNO(EPERM)\nnewer-syscalls KILL_PROCESS\narch x86_64\nALLOW 2000\n");
        Assert.Equal(2000u, own.Newer!.NewestOn(Architecture.X86_64));
        Assert.Contains("(nr 2000)", PolicyExplainer.Explain(own, "2001", []));
        Assert.EndsWith("decision: KILL_PROCESS by newer-syscalls KILL_PROCESS at t.policy:2\n", PolicyExplainer.Explain(own, "2001", []));
        Assert.Contains("no rules for syscall 1999", PolicyExplainer.Explain(own, "1999", []));
    }

    [Fact]
    public void TheBuiltinDefaultExplainsTiocsti()
    {
        string text = PolicyExplainer.Explain(BuiltinPolicies.Load("default"), "ioctl", [0, 0x5412], Architecture.X86_64);
        Assert.Contains("decision: ERRNO(1) (EPERM) by rule 1 at default.policy:", text);
        Assert.Contains("request = 0x5412", text);
    }
}

public class UnreachableRuleTests
{
    [Fact]
    public void RulesAfterABroadAllowAreReported()
    {
        var p = Parse("""
            default ERRNO(EPERM)
            arch x86_64
            ALLOW read if fd == 0
            ALLOW @basic-io
            ERRNO(EACCES) read
            ALLOW openat if flags == 0
            LOG openat if flags == 0
            """);
        var found = PolicyExplainer.UnreachableRules(p).Select(u => u.ToString()).ToList();
        Assert.Equal([
            "t.policy:5: the rule for read on x86_64 is never reached: t.policy:3, t.policy:4 decide first every call it matches",
            "t.policy:7: the rule for openat on x86_64 is never reached: t.policy:6 decides first every call it matches",
        ], found);
        // In the default policy only the deliberate override is reported: clone3 is refused before @process allows it.
        Assert.All(PolicyExplainer.UnreachableRules(BuiltinPolicies.Load("default")), u => Assert.Equal("clone3", u.Syscall));
    }
}
