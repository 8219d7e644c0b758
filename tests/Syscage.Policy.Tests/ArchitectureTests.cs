using Syscage.Abi;
using Syscage.Bpf;
using Syscage.Policy.Compiler;
using Syscage.Policy.Fluent;
using static Syscage.Policy.Tests.PolicyAssert;

namespace Syscage.Policy.Tests;

/// <summary>
/// Every architecture libseccomp knows can be named in a policy, and an argument name means that architecture's
/// register: where the kernel's argument order differs, so does the rule's test. Where the tables know no name for a
/// call on an architecture, the policy must use positions (and compares them whole).
/// </summary>
public class ArchitectureTests
{
    private static readonly SeccompAction Eperm = SeccompAction.Errno(1);

    [Fact]
    public void EveryArchitectureCanBeNamed()
    {
        string names = string.Join(", ", Architecture.All.Select(a => a.Name));
        var p = Parse($"default ERRNO(EPERM)\narch {names}\nALLOW read\n");
        Assert.Equal(Architecture.All, p.Sections.Select(s => s.Architecture));
        foreach (var arch in Architecture.All)
            Assert.Equal(SeccompAction.Allow, Eval(p, arch, "read"));
        // libseccomp's/OCI's and the kernel's spellings too.
        var q = Parse("default ERRNO(EPERM)\narch SCMP_ARCH_PPC64LE, AUDIT_ARCH_S390X, mips64el\nALLOW read\n");
        Assert.Equal([Architecture.Ppc64le, Architecture.S390x, Architecture.Mipsel64], q.Sections.Select(s => s.Architecture));
    }

    /// <summary>
    /// s390 builds clone with CONFIG_CLONE_BACKWARDS2: the flags are its second argument. A rule on <c>flags</c> must
    /// test arg1 there, or CLONE_NEWUSER gets through.
    /// </summary>
    [Fact]
    public void CloneFlagsAreTheSecondArgumentOnS390()
    {
        var p = Parse("""
            default ALLOW
            arch x86_64, s390x, s390, ppc64
            ERRNO(EPERM) clone if flags & CLONE_NEWUSER
            """);
        const ulong NewUser = 0x1000_0000;
        Assert.Equal(0, p.Sections.Single(s => s.Architecture == Architecture.X86_64).RulesFor(56)[0].Condition.Predicates().Single().Arg);
        Assert.Equal(0, p.Sections.Single(s => s.Architecture == Architecture.Ppc64).RulesFor(120)[0].Condition.Predicates().Single().Arg);
        foreach (var s390 in new[] { Architecture.S390x, Architecture.S390 })
        {
            Assert.Equal(1, p.Sections.Single(s => s.Architecture == s390).RulesFor(120)[0].Condition.Predicates().Single().Arg);
            var program = PolicyCompiler.Compile(p);
            foreach (var (args, expected) in new[] { (new ulong[] { 0, NewUser }, Eperm), (new ulong[] { NewUser, 0 }, SeccompAction.Allow) })
            {
                var data = Call(s390, "clone", args);
                Assert.Equal(expected, p.Evaluate(data).Action);
                Assert.Equal(expected, Interpreter.Run(program, data).Action);
            }
        }
    }

    /// <summary>arm, m68k, s390 and sh have the 16-bit uid calls under the old names (their *32 calls are the wide ones).</summary>
    [Fact]
    public void SixteenBitUidsOnTheArchitecturesThatHaveThem()
    {
        var p = Parse("""
            default ALLOW
            arch x86_64, arm, m68k, sh, s390, s390x
            ERRNO(EPERM) setuid if uid == 0
            """);
        // setuid(0x10000) is setuid(0) to a 16-bit call.
        foreach (var arch in new[] { Architecture.Arm, Architecture.M68k, Architecture.Sh, Architecture.S390 })
        {
            Assert.True(arch.Syscalls.TryGet("setuid", out var setuid));
            Assert.Equal(16, setuid.ArgWidth(0));
            Assert.Equal(Eperm, Eval(p, arch, "setuid", 0x1_0000));
            Assert.Equal(SeccompAction.Allow, Eval(p, arch, "setuid32", 0x1_0000));
        }
        Assert.Equal(32, Architecture.S390x.Syscalls.TryGet("setuid", out var wide) ? wide.ArgWidth(0) : 0);
        Assert.Equal(SeccompAction.Allow, Eval(p, Architecture.S390x, "setuid", 0x1_0000));
    }

    /// <summary>Where no row gives a call's arguments on an architecture, names are refused there and positions compare whole registers.</summary>
    [Fact]
    public void UnknownArgumentsOnAnArchitectureAreNotGuessed()
    {
        Assert.True(Architecture.M68k.Syscalls.TryGet("mmap", out var mmap));
        Assert.Empty(mmap.ArgNames);
        var e = Error("default ALLOW\narch m68k\nERRNO(EPERM) mmap if prot & PROT_EXEC\n");
        Assert.Contains("mmap has no argument 'prot' on m68k (no argument names are known there)", e.ToString(), StringComparison.Ordinal);
        var p = Parse("default ALLOW\narch m68k\nERRNO(EPERM) mmap if arg2 & PROT_EXEC\n");
        Assert.Equal(64, p.Sections[0].Syscalls.Values.Single()[0].Condition.Predicates().Single().Width);
        // On a 32-bit ABI the names stop before a 64-bit argument: after it the registers depend on pair alignment.
        Assert.True(Architecture.Arm.Syscalls.TryGet("fallocate", out var fallocate));
        Assert.Equal(["fd", "mode"], fallocate.ArgNames);
    }

    [Fact]
    public void TheFluentApiTakesEveryArchitecture()
    {
        var policy = FluentPolicy.DefaultAction(SeccompAction.Errno(1))
            .ForArchitectures(Architecture.S390x, Architecture.Mipsel, Architecture.Sheb)
            .Allow("read")
            .Build();
        Assert.Equal([Architecture.S390x, Architecture.Mipsel, Architecture.Sheb], policy.Sections.Select(s => s.Architecture));
        Assert.Equal(SeccompAction.Allow, Eval(policy, Architecture.Mipsel, "read"));
    }
}
