using Syscage.Bpf;
using Syscage.Policy.Language;
using Syscage.Abi;
using static Syscage.Policy.Tests.PolicyAssert;

namespace Syscage.Policy.Tests;

public class LanguageTests
{
    private static readonly SeccompAction Eperm = SeccompAction.Errno(1);

    [Fact]
    public void TheIssueExampleParsesAndMeansWhatItSays()
    {
        var p = Parse("""
            # comments
            default ERRNO(EPERM)
            bad-arch KILL_PROCESS
            arch x86_64, x86, x32
            group @mine = read, write, @basic-io
            ALLOW @mine, @file-system
            ERRNO(EACCES) openat if (flags & O_ACCMODE) != O_RDONLY
            KILL_PROCESS ptrace
            ALLOW socket if domain == AF_UNIX || domain == AF_INET
            ALLOW ioctl if arg1 == TCGETS && arg0 <= 2
            ALLOW clone if !(flags & CLONE_NEWUSER)
            NOTIFY(log) mkdir
            TRAP(3) reboot
            allow {
                getpid, gettid
                close
            }
            arch x86 { ALLOW socketcall }
            """);
        Assert.Equal(Eperm, p.DefaultAction);
        Assert.Equal(SeccompAction.KillProcess, p.BadArchAction);
        Assert.Equal(["x86_64", "x86", "x32"], p.Sections.Select(s => s.Architecture.Name));
        Assert.Equal(SeccompAction.Allow, Eval(p, "read"));
        Assert.Equal(SeccompAction.Allow, Eval(p, Architecture.X32, "write"));
        Assert.Equal(SeccompAction.KillProcess, Eval(p, "ptrace"));
        Assert.Equal(SeccompAction.Allow, Eval(p, "socket", 1));
        Assert.Equal(SeccompAction.Allow, Eval(p, "socket", 2));
        Assert.Equal(Eperm, Eval(p, "socket", 10));
        Assert.Equal(SeccompAction.Allow, Eval(p, "ioctl", 2, 0x5401));
        Assert.Equal(Eperm, Eval(p, "ioctl", 3, 0x5401));
        Assert.Equal(SeccompAction.Allow, Eval(p, "clone", 0x11));
        Assert.Equal(Eperm, Eval(p, "clone", 0x10000011));
        // First match wins: @file-system, allowed above, has mkdir.
        Assert.Equal(SeccompAction.Allow, Eval(p, "mkdir"));
        Assert.Equal(2, p.Sections[0].RulesFor(83).Count);
        Assert.Equal("log", p.Sections[0].RulesFor(83)[1].Handler);
        Assert.Equal(SeccompAction.Trap(3), Eval(p, "reboot"));
        Assert.Equal(SeccompAction.Allow, Eval(p, "gettid"));
        Assert.Equal(SeccompAction.Allow, Eval(p, Architecture.X86, "socketcall"));
        Assert.Equal(SeccompAction.Allow, Eval(p, Architecture.X86, "close"));
        Assert.Equal(SeccompAction.KillProcess, p.Evaluate(new SeccompData(0, Architecture.Aarch64.AuditArch)).Action);
    }

    [Fact]
    public void FirstMatchingRuleWinsInFileOrderAndOpenatFollowsTheMask()
    {
        // @file-system allows openat, but the ERRNO rule for openat comes first.
        var p = Parse("""
            default KILL
            ERRNO(EACCES) openat if (flags & O_ACCMODE) != O_RDONLY
            ALLOW @file-system
            """);
        Assert.Equal(SeccompAction.Allow, Eval(p, "openat", 0, 0, 0 /*O_RDONLY*/ | 0x80000 /*O_CLOEXEC*/));
        Assert.Equal(SeccompAction.Errno(13), Eval(p, "openat", 0, 0, 1 /*O_WRONLY*/));
        Assert.Equal(SeccompAction.Errno(13), Eval(p, "openat", 0, 0, 2 /*O_RDWR*/ | 0x40));
        var rules = p.Sections[0].RulesFor(257);
        Assert.Equal(2, rules.Count);
        Assert.Equal(Condition.Not(Condition.Of(new ArgPredicate(2, ComparisonOp.MaskedEq, 0, 3, Width: 32))), rules[0].Condition);   // flags is an int
        Assert.Equal(new PolicySource("t.policy", 2, 1, "ERRNO(EACCES) openat if (flags & O_ACCMODE) != O_RDONLY"), rules[0].Source);
        Assert.True(rules[1].Condition.IsTrue);
    }

    [Fact]
    public void ArgumentNamesAreResolvedPerArchitecture()
    {
        // clone's tls and child_tid swap places between x86_64 (3: child_tid, 4: tls) and x86 (3: tls, 4: child_tid).
        var p = Parse("""
            default ERRNO(EPERM)
            ALLOW clone if tls == 0
            """);
        var x64 = p.Sections.Single(s => s.Architecture == Architecture.X86_64);
        var x86 = p.Sections.Single(s => s.Architecture == Architecture.X86);
        Assert.Equal(4, x64.RulesFor(56)[0].Condition.Predicates().Single().Arg);
        Assert.Equal(3, x86.RulesFor(120)[0].Condition.Predicates().Single().Arg);
        Assert.Equal(SeccompAction.Allow, Eval(p, "clone", 0x11, 0, 0, 5, 0));
        Assert.Equal(Eperm, Eval(p, "clone", 0x11, 0, 0, 0, 5));
        Assert.Equal(SeccompAction.Allow, Eval(p, Architecture.X86, "clone", 0x11, 0, 0, 0, 5));
        Assert.Equal(Eperm, Eval(p, Architecture.X86, "clone", 0x11, 0, 0, 5, 0));
    }

    [Fact]
    public void NamesMissingOnSomeArchitecturesAreSkippedThere()
    {
        var p = Parse("default ERRNO(EPERM)\nALLOW socketcall, open, arch_prctl");
        Assert.Equal(SeccompAction.Allow, Eval(p, Architecture.X86, "socketcall"));
        Assert.Equal(SeccompAction.Allow, Eval(p, "open"));
        Assert.Equal(SeccompAction.Allow, Eval(p, "arch_prctl"));
        Assert.False(Architecture.X86.Syscalls.TryGetNumber("arch_prctl", out _) && false);
        var aarch = Parse("default ERRNO(EPERM)\narch aarch64\nALLOW socketcall, open, openat");
        Assert.Single(aarch.Sections);
        Assert.Single(aarch.Sections[0].Syscalls);
    }

    [Fact]
    public void ComparisonsLowerToTheirPredicates()
    {
        var p = Parse("""
            default ERRNO(EPERM)
            arch x86_64
            ALLOW read if fd == 0
            ALLOW read if fd != 1 && fd < 10
            ALLOW write if fd <= 2 || fd > 100 && fd >= 200
            ALLOW close if fd
            ALLOW dup if !oldfd
            ALLOW mmap if !(prot & PROT_EXEC) && flags & (MAP_PRIVATE | MAP_SHARED)
            ALLOW lseek if !(fd == 3)
            """);
        var rules = p.Sections[0];
        // fd and oldfd are unsigned int (fs/read_write.c, fs/fcntl.c): compared on their low 32 bits.
        Assert.Equal(Condition.Of(new ArgPredicate(0, ComparisonOp.Eq, 0, Width: 32)), rules.RulesFor(0)[0].Condition);
        Assert.Equal(Condition.All(Condition.Of(new ArgPredicate(0, ComparisonOp.Ne, 1, Width: 32)), Condition.Of(new ArgPredicate(0, ComparisonOp.Lt, 10, Width: 32))),
            rules.RulesFor(0)[1].Condition);
        Assert.Equal(Condition.Any(Condition.Of(new ArgPredicate(0, ComparisonOp.Le, 2, Width: 32)),
            Condition.All(Condition.Of(new ArgPredicate(0, ComparisonOp.Gt, 100, Width: 32)), Condition.Of(new ArgPredicate(0, ComparisonOp.Ge, 200, Width: 32)))),
            rules.RulesFor(1)[0].Condition);
        Assert.Equal(Condition.Of(new ArgPredicate(0, ComparisonOp.Ne, 0, Width: 32)), rules.RulesFor(3)[0].Condition);
        Assert.Equal(Condition.Of(new ArgPredicate(0, ComparisonOp.Eq, 0, Width: 32)), rules.RulesFor(32)[0].Condition);
        Assert.Equal(Condition.Of(new ArgPredicate(0, ComparisonOp.Ne, 3, Width: 32)), rules.RulesFor(8)[0].Condition);
        Assert.Equal(SeccompAction.Allow, Eval(p, "mmap", 0, 4096, 3, 2));
        Assert.Equal(Eperm, Eval(p, "mmap", 0, 4096, 7, 2));
        Assert.Equal(Eperm, Eval(p, "mmap", 0, 4096, 3, 0x20));
        Assert.Equal(SeccompAction.Allow, Eval(p, "close", 5));
        Assert.Equal(Eperm, Eval(p, "close", 0));
    }

    [Fact]
    public void ConstantExpressionsAndNumbers()
    {
        var p = Parse("""
            default ERRNO(EPERM)
            ALLOW read if fd == (1 << 4 | 0x3) + 1
            ALLOW write if fd == ~0
            ALLOW close if fd == 010
            ALLOW dup if oldfd == 0b101
            ALLOW openat if dirfd == AT_FDCWD
            ALLOW fchdir if fd == -1
            """);
        Assert.Equal(SeccompAction.Allow, Eval(p, "read", 20));
        Assert.Equal(SeccompAction.Allow, Eval(p, "write", ulong.MaxValue));
        Assert.Equal(SeccompAction.Allow, Eval(p, "close", 8));
        Assert.Equal(SeccompAction.Allow, Eval(p, "dup", 5));
        Assert.Equal(SeccompAction.Allow, Eval(p, "openat", unchecked((ulong)-100L)));
        Assert.Equal(SeccompAction.Allow, Eval(p, "fchdir", ulong.MaxValue));
    }

    [Fact]
    public void SyscallNumbersGetTheX32BitOnX32()
    {
        var p = Parse("default ERRNO(EPERM)\nALLOW 0\nALLOW 1000 if arg0 == 1");
        Assert.Equal(SeccompAction.Allow, p.Evaluate(new SeccompData(0, Architecture.X86_64.AuditArch)).Action);
        Assert.Equal(SeccompAction.Allow, p.Evaluate(new SeccompData(0x40000000, Architecture.X86_64.AuditArch)).Action);
        Assert.Equal(SeccompAction.Allow, p.Evaluate(new SeccompData(1000, Architecture.X86.AuditArch, 0, 1)).Action);
        Assert.Equal(Eperm, p.Evaluate(new SeccompData(1000, Architecture.X86.AuditArch, 0, 2)).Action);
    }

    [Fact]
    public void ActionsInEverySpelling()
    {
        var p = Parse("""
            default kill_thread
            badarch errno(ENOSYS)
            allow read
            KILL write
            KILL_PROCESS close
            TRAP openat
            TRACE(7) stat
            LOG fstat
            NOTIFY lstat
            USER_NOTIF(audit) poll
            ERRNO(4095) lseek
            ERRNO(EACCES) mmap
            notify("with space") mprotect
            """);
        Assert.Equal(SeccompAction.KillThread, p.DefaultAction);
        Assert.Equal(SeccompAction.Errno(38), p.BadArchAction);
        Assert.Equal(SeccompAction.Allow, Eval(p, "read"));
        Assert.Equal(SeccompAction.KillThread, Eval(p, "write"));
        Assert.Equal(SeccompAction.KillProcess, Eval(p, "close"));
        Assert.Equal(SeccompAction.Trap(0), Eval(p, "openat"));
        Assert.Equal(SeccompAction.Trace(7), Eval(p, "stat"));
        Assert.Equal(SeccompAction.Log, Eval(p, "fstat"));
        Assert.Equal(SeccompAction.UserNotif, Eval(p, "lstat"));
        Assert.Null(p.Evaluate(Call(Architecture.X86_64, "lstat")).Rule!.Handler);
        Assert.Equal("audit", p.Evaluate(Call(Architecture.X86_64, "poll")).Rule!.Handler);
        Assert.Equal("with space", p.Evaluate(Call(Architecture.X86_64, "mprotect")).Rule!.Handler);
        Assert.Equal(SeccompAction.Errno(4095), Eval(p, "lseek"));
        Assert.Equal(SeccompAction.Errno(13), Eval(p, "mmap"));
    }

    [Fact]
    public void ListsAndConditionsContinueOnTheNextLine()
    {
        var p = Parse("""
            default ERRNO(EPERM)
            ALLOW read,
                  write if fd == 1 ||
                           fd == 2
            ALLOW close if (fd == 3
                            || fd == 4); ALLOW dup
            """);
        Assert.Equal(SeccompAction.Allow, Eval(p, "read", 2));
        Assert.Equal(Eperm, Eval(p, "read", 3));
        Assert.Equal(SeccompAction.Allow, Eval(p, "close", 4));
        Assert.Equal(SeccompAction.Allow, Eval(p, "dup", 9));
        var source = p.Evaluate(Call(Architecture.X86_64, "write", 1)).Rule!.Source!;
        Assert.Equal((2, 1), (source.Line, source.Column));
        Assert.Equal("ALLOW read, write if fd == 1 || fd == 2", source.Text);
    }

    [Fact]
    public void BlockFormRulesKeepTheirOwnLines()
    {
        var p = Parse("""
            default ERRNO(EPERM)
            ERRNO(EACCES) {
                read, write
                close if fd > 2
            }
            """);
        var close = p.Evaluate(Call(Architecture.X86_64, "close", 3)).Rule!;
        Assert.Equal(SeccompAction.Errno(13), close.Action);
        Assert.Equal(new PolicySource("t.policy", 4, 5, "ERRNO(EACCES) close if fd > 2"), close.Source);
        Assert.Equal(Eperm, Eval(p, "close", 1));
        Assert.Equal(SeccompAction.Errno(13), Eval(p, "write"));
    }

    [Fact]
    public void ArchitecturesCanBeForcedByOptions()
    {
        var p = Parse("default ERRNO(EPERM)\narch x86\nALLOW read", options: new PolicyParseOptions { Architectures = [Architecture.Aarch64] });
        Assert.Equal(Architecture.Aarch64, p.Sections.Single().Architecture);
        Assert.Equal(SeccompAction.Allow, Eval(p, Architecture.Aarch64, "read"));
    }

    [Fact]
    public void DefaultArchitecturesAreTheBuildersDefault()
    {
        var p = Parse("default ALLOW");
        Assert.Equal(PolicyBuilder.DefaultArchitectures, p.Sections.Select(s => s.Architecture));
        Assert.Equal("t.policy", p.Name);
    }
}
