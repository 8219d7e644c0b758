using Syscage.Bpf;
using Syscage.Policy;
using Syscage.Policy.Compiler;
using Syscage.Policy.Syscalls;

namespace Syscage.Ebpf.Seccomp;

/// <summary>How <see cref="HybridCompiler"/> splits programs between the kernel and the supervisor.</summary>
public sealed record HybridOptions
{
    /// <summary>
    /// True (default): decide in the kernel every call whose verdict follows from <c>struct seccomp_data</c> alone.
    /// False: every call goes to the supervisor (a baseline for measurements and differential tests).
    /// </summary>
    public bool Split { get; init; } = true;

    /// <summary>Optimise the classic BPF (as <see cref="CompileOptions.Optimize"/>).</summary>
    public bool Optimize { get; init; } = true;
}

/// <summary>
/// The kernel half of one or more stacked eBPF seccomp programs: a policy (and its classic BPF) that gives every call
/// either the programs' combined verdict, where it depends on <c>struct seccomp_data</c> only, or
/// <c>SECCOMP_RET_USER_NOTIF</c>, where a supervisor must run the programs.
/// </summary>
/// <param name="Policy">The policy in the IR; <c>USER_NOTIF</c> marks the calls that reach the supervisor.</param>
/// <param name="Filter">The compiled classic BPF.</param>
public sealed record HybridFilter(SeccompPolicy Policy, BpfProgram Filter)
{
    /// <summary>True when some call can return <c>USER_NOTIF</c>: the filter needs a listener and a supervisor.</summary>
    public bool NeedsSupervisor { get; } = UsesNotify(Policy);

    private static bool UsesNotify(SeccompPolicy policy) =>
        policy.DefaultAction.Kind == SeccompActionKind.UserNotif || policy.BadArchAction.Kind == SeccompActionKind.UserNotif ||
        policy.Sections.Any(s => s.Syscalls.Values.Any(rules => rules.Any(r => r.Action.Kind == SeccompActionKind.UserNotif)));
}

/// <summary>Compiles verified eBPF seccomp programs into their kernel half (see <see cref="HybridFilter"/>).</summary>
public static class HybridCompiler
{
    /// <summary>Compiles the kernel half of <paramref name="set"/>.</summary>
    public static HybridFilter Compile(EbpfFilterSet set, HybridOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(set);
        options ??= new HybridOptions();
        var policy = new SeccompPolicy(SeccompAction.UserNotif, SeccompAction.UserNotif, [], "ebpf");
        return new HybridFilter(policy, PolicyCompiler.Compile(policy, new CompileOptions { Optimize = options.Optimize }));
    }
}
