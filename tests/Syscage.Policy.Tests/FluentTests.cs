using Syscage.Bpf;
using Syscage.Policy.Fluent;
using Syscage.Abi;
using static Syscage.Policy.Tests.PolicyAssert;

namespace Syscage.Policy.Tests;

public class FluentTests
{
    [Fact]
    public void TheDocExampleMeansWhatTheLanguageMeans()
    {
        SeccompPolicy fluent = FluentPolicy.DefaultAction(SeccompAction.Errno(1))
            .Allow("@basic-io", "exit_group")
            .Deny("openat", "EACCES").When(a => a.Arg(2).MaskedEq(mask: 3, value: 0).Not())
            .Allow("openat")
            .Allow("socket").When(a => a["domain"].Eq(1) | a["domain"].Eq(2))
            .Allow("clone").When(a => !a["flags"].AnySet(KernelConstants.Value("CLONE_NEWUSER")!.Value))
            .Notify("mkdir", handler: "log")
            .Build();
        SeccompPolicy text = Parse("""
            default ERRNO(EPERM)
            ALLOW @basic-io, exit_group
            ERRNO(EACCES) openat if (arg2 & 3) != 0
            ALLOW openat
            ALLOW socket if domain == 1 || domain == 2
            ALLOW clone if !(flags & CLONE_NEWUSER)
            NOTIFY(log) mkdir
            """);
        Assert.Equal(text.Sections.Select(s => s.Architecture), fluent.Sections.Select(s => s.Architecture));
        foreach (var (a, b) in text.Sections.Zip(fluent.Sections))
        {
            Assert.Equal(a.Syscalls.Keys.Order(), b.Syscalls.Keys.Order());
            foreach (int nr in a.Syscalls.Keys)
            {
                Assert.Equal(a.RulesFor(nr).Select(r => (r.Condition, r.Action, r.Handler)), b.RulesFor(nr).Select(r => (r.Condition, r.Action, r.Handler)));
            }
        }
        Assert.Equal(SeccompAction.Errno(13), Eval(fluent, "openat", 0, 0, 1));
        Assert.Equal(SeccompAction.Allow, Eval(fluent, "openat", 0, 0, 0));
        Assert.Equal(SeccompAction.Errno(1), Eval(fluent, "clone", 0x10000011));
        Assert.Equal("log", fluent.Evaluate(Call(Architecture.X86_64, "mkdir")).Rule!.Handler);
    }

    [Fact]
    public void NewerSyscallsMeansWhatTheDirectiveMeans()
    {
        var fluent = FluentPolicy.DefaultAction(SeccompAction.KillProcess).NewerSyscalls(SeccompAction.Errno(38)).Allow("read").Build();
        var text = Parse("default KILL_PROCESS\nnewer-syscalls ERRNO(ENOSYS)\nALLOW read\n");
        foreach (var arch in text.Sections.Select(s => s.Architecture))
            Assert.Equal(text.Newer!.NewestOn(arch), fluent.Newer!.NewestOn(arch));
        Assert.Equal(SeccompAction.Errno(38), fluent.Evaluate(new SeccompData(1000, Architecture.X86_64.AuditArch)).Action);
        Assert.Equal(SeccompAction.KillProcess, Eval(fluent, "write"));
        Assert.Null(FluentPolicy.DefaultAction(SeccompAction.KillProcess).Build().Newer);
    }

    [Fact]
    public void OptionsAndMistakes()
    {
        var p = FluentPolicy.DefaultAction(SeccompAction.KillProcess).ForArchitectures(Architecture.X86).BadArchAction(SeccompAction.Errno(38))
            .Named("mine").Kill("ptrace").Log("read").Rule(SeccompAction.Trap(2), "write").When(a => a.Arg(0).Ge(3) & a.Arg(0).Lt(10)).When(a => a["count"].Le(100))
            .Deny("close", 9).Build();
        Assert.Equal("mine", p.Name);
        Assert.Equal(Architecture.X86, p.Sections.Single().Architecture);
        Assert.Equal(SeccompAction.Errno(38), p.BadArchAction);
        Assert.Equal(SeccompAction.Trap(2), Eval(p, Architecture.X86, "write", 3, 0, 100));
        Assert.Equal(SeccompAction.KillProcess, Eval(p, Architecture.X86, "write", 3, 0, 101));
        Assert.Equal(SeccompAction.Errno(9), Eval(p, Architecture.X86, "close"));
        Assert.Equal(SeccompAction.Log, Eval(p, Architecture.X86, "read"));
        Assert.Contains("did you mean 'openat'?", Assert.Throws<ArgumentException>(() => FluentPolicy.DefaultAction(SeccompAction.Allow).Allow("opneat")).Message);
        Assert.Contains("did you mean 'EACCES'?", Assert.Throws<ArgumentException>(() => FluentPolicy.DefaultAction(SeccompAction.Allow).Deny("read", "EACCESS")).Message);
        Assert.Contains("did you mean 'flags'?", Assert.Throws<ArgumentException>(() =>
            FluentPolicy.DefaultAction(SeccompAction.Allow).Allow("openat").When(a => a["flgs"].Eq(0)).Build()).Message);
        Assert.Throws<InvalidOperationException>(() => FluentPolicy.DefaultAction(SeccompAction.Allow).When(a => a.Arg(0).Eq(0)));
    }
}
