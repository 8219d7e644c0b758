using Syscage.Bpf;
using static Syscage.Policy.Tests.PolicyAssert;
using Syscage.Abi;

namespace Syscage.Policy.Tests;

/// <summary>The <c>EBPF(name)</c> action: USER_NOTIF routed to the eBPF program called name.</summary>
public class EbpfActionTests
{
    [Fact]
    public void EbpfActionIsUserNotifWithTheProgramAsHandler()
    {
        var p = Parse("""
            default ALLOW
            EBPF(exec_once) execve, execveat
            ebpf("count") openat if flags & O_CREAT
            """);
        var execve = p.Evaluate(Call(Abi.Architecture.X86_64, "execve"));
        Assert.Equal(SeccompAction.UserNotif, execve.Action);
        Assert.Equal(RuleRoute.Program("exec_once"), execve.Rule!.Route);
        Assert.Equal(RuleRoute.Program("exec_once"), p.Evaluate(Call(Abi.Architecture.X86_64, "execveat")).Rule!.Route);
        var creat = p.Evaluate(Call(Abi.Architecture.X86_64, "openat", 0, 0, 0x40));
        Assert.Equal(RuleRoute.Program("count"), creat.Rule!.Route);
        Assert.Equal(SeccompAction.Allow, Eval(p, "openat", 0, 0, 0));
    }

    [Fact]
    public void EbpfWithoutAProgramNameIsAnError()
    {
        var e = Error("EBPF execve");
        Assert.Equal(1, e.Line);
        Assert.Contains("EBPF needs a program name: EBPF(name)", e.Message, StringComparison.Ordinal);
        Assert.Contains("expected a program name in EBPF(...)", Error("EBPF(12) execve").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EbpfIsNotADefaultAction()
    {
        Assert.Contains("only makes sense on a rule", Error("default EBPF(x)").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ExplainNamesTheProgram()
    {
        var p = Parse("default ALLOW\nEBPF(exec_once) execve\n");
        string text = PolicyExplainer.Explain(p, Call(Abi.Architecture.X86_64, "execve"));
        Assert.Contains("the eBPF program 'exec_once' decides", text, StringComparison.Ordinal);
    }
}
