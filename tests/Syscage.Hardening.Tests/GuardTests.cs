using Syscage.Bpf;
using Syscage.Kernel;
using Syscage.Policy;
using Syscage.Policy.Compiler;
using Syscage.Abi;
using Syscage.Supervision;

namespace Syscage.Hardening.Tests;

/// <summary>
/// The guard filter, compiled, against its policy's reference evaluator and against the verdicts it must give, on every
/// architecture it covers (i386 and x32 are reached here through the interpreter: this machine can't make such calls).
/// </summary>
public class GuardTests
{
    private const int Supervisor = 4242, Group = 4200, Launcher = 4250;
    private const ulong Marker = 0x1234_5678_9abc_def1;
    private static readonly LaunchContext Context = new(Supervisor, Group, Launcher);

    private static readonly ulong[] Values =
    [
        Supervisor, Launcher, 0, unchecked((ulong)-1L), unchecked((ulong)(long)-Group), 1, 4243, 4251,
        (1UL << 32) | Supervisor, (1UL << 32) | Launcher, 0xffff_ffff, unchecked((ulong)(uint)-Group), 0xffff_ffff_0000_0000,
    ];

    private static SeccompData Call(Architecture arch, string name, params ulong[] args) =>
        new(arch.Syscalls.TryGetNumber(name, out int nr) ? nr : throw new ArgumentException(name), arch.AuditArch, 0, args);

    private static SeccompAction Compiled(BpfProgram filter, SeccompData data) => Interpreter.Run(filter, data).Action;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Compiled_guard_equals_its_policy_on_every_guarded_call(bool supervised)
    {
        var policy = SupervisorGuard.Policy(Context, supervised, Marker);
        var filter = PolicyCompiler.Compile(policy);
        foreach (var arch in PolicyBuilder.DefaultArchitectures)
            foreach (string name in new[] { "kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_open", "prlimit64", "fcntl", "fcntl64", "seccomp", "getpid" })
            {
                if (!arch.Syscalls.TryGetNumber(name, out _))
                    continue;
                foreach (ulong a in Values)
                    foreach (ulong b in Values.Concat([8UL, 10UL, 9UL, 19UL, 1UL]))
                        foreach (ulong marker in new[] { Marker, 0UL })
                        {
                            var data = Call(arch, name, a, b, b, marker);
                            Assert.True(policy.Evaluate(data).Action == Compiled(filter, data), $"{arch.Name} {name}({a:x}, {b:x}, {b:x}, {marker:x})");
                        }
            }
    }

    [Fact]
    public void Guard_refuses_reaching_the_supervisor_and_launcher_at_pid_t_width()
    {
        var filter = SupervisorGuard.Create(Context, supervised: true).Filter;
        var eperm = SeccompAction.Errno(1);
        foreach (var arch in PolicyBuilder.DefaultArchitectures)
        {
            foreach (ulong target in new ulong[] { Supervisor, Launcher, (1UL << 32) | Supervisor, 0, unchecked((ulong)-1L), unchecked((ulong)(long)-Group) })
                Assert.Equal(eperm, Compiled(filter, Call(arch, "kill", target, 9)));
            Assert.Equal(SeccompAction.Allow, Compiled(filter, Call(arch, "kill", 4243, 9)));
            Assert.Equal(eperm, Compiled(filter, Call(arch, "tgkill", Launcher, Launcher, 9)));
            Assert.Equal(eperm, Compiled(filter, Call(arch, "pidfd_open", Supervisor, 0)));
            Assert.Equal(SeccompAction.Allow, Compiled(filter, Call(arch, "pidfd_open", 4243, 0)));
            Assert.Equal(eperm, Compiled(filter, Call(arch, "prlimit64", Supervisor, 7, 0, 0)));
            Assert.Equal(SeccompAction.Allow, Compiled(filter, Call(arch, "prlimit64", 0, 7, 0, 0)));
        }
        Assert.Equal(eperm, Compiled(filter, Call(Architecture.X86_64, "fcntl", 3, 8 /* F_SETOWN */, Supervisor)));
        Assert.Equal(eperm, Compiled(filter, Call(Architecture.X86_64, "fcntl", 3, 10 /* F_SETSIG */, 9)));
        Assert.Equal(SeccompAction.Allow, Compiled(filter, Call(Architecture.X86_64, "fcntl", 3, 10, 29)));
        Assert.Equal(SeccompAction.Allow, Compiled(filter, Call(Architecture.X86_64, "getpid")));
        // Another architecture is the policy's business (its bad-arch action), not the guard's.
        Assert.Equal(SeccompAction.Allow, Interpreter.Run(filter, new SeccompData(62, Architecture.Aarch64.AuditArch, 0, [Supervisor])).Action);
    }

    [Fact]
    public void Only_the_marked_native_installation_gets_a_listener()
    {
        var guard = SupervisorGuard.Create(Context, supervised: true);
        var ebusy = SeccompAction.Errno(16);
        ulong filterMode = 1, newListener = 8;
        Assert.Equal(SeccompAction.Allow, Compiled(guard.Filter, Call(Architecture.Native, "seccomp", filterMode, newListener, 0, guard.Marker)));
        Assert.Equal(ebusy, Compiled(guard.Filter, Call(Architecture.Native, "seccomp", filterMode, newListener | 2, 0, guard.Marker ^ 1)));
        Assert.Equal(ebusy, Compiled(guard.Filter, Call(Architecture.Native, "seccomp", filterMode, newListener, 0, 0)));
        Assert.Equal(SeccompAction.Allow, Compiled(guard.Filter, Call(Architecture.Native, "seccomp", filterMode, 0, 0, 0)));
        Assert.Equal(SeccompAction.Allow, Compiled(guard.Filter, Call(Architecture.Native, "seccomp", 0 /* strict */, newListener, 0, 0)));
        foreach (var compat in PolicyBuilder.DefaultArchitectures.Where(a => a != Architecture.Native))
            Assert.Equal(ebusy, Compiled(guard.Filter, Call(compat, "seccomp", filterMode, newListener, 0, guard.Marker)));
        var unsupervised = SupervisorGuard.Create(Context, supervised: false);
        Assert.Equal(SeccompAction.Allow, Compiled(unsupervised.Filter, Call(Architecture.Native, "seccomp", filterMode, newListener, 0, 0)));
        Assert.NotEqual(guard.Marker, SupervisorGuard.Create(Context, supervised: true).Marker);
    }

    [Fact]
    public void Signal_descriptors_go_to_the_supervisor_only_where_the_policy_lets_them_run()
    {
        var b = new PolicyBuilder(SeccompAction.Allow, PolicyBuilder.DefaultArchitectures);
        b.Add("pidfd_send_signal", new Rule(Condition.Of(new ArgPredicate(1, ComparisonOp.Eq, 9)), SeccompAction.KillProcess));
        b.Add("mkdir", new Rule(Condition.True, SeccompAction.UserNotif, Route: RuleRoute.Notify("deny")));
        var policy = b.Build();
        var routed = SupervisorGuard.RouteSignalDescriptors(policy);
        foreach (var arch in PolicyBuilder.DefaultArchitectures)
        {
            Assert.Equal(SeccompAction.KillProcess, routed.Evaluate(Call(arch, "pidfd_send_signal", 3, 9)).Action);
            Assert.Equal(SeccompAction.UserNotif, routed.Evaluate(Call(arch, "pidfd_send_signal", 3, 15)).Action);
            Assert.Equal(SeccompAction.Allow, routed.Evaluate(Call(arch, "kill", 3, 15)).Action);
        }
        var refusing = new PolicyBuilder(SeccompAction.Errno(1), PolicyBuilder.DefaultArchitectures).Build();
        Assert.Equal(SeccompAction.Errno(1), SupervisorGuard.RouteSignalDescriptors(refusing).Evaluate(Call(Architecture.X86_64, "pidfd_send_signal", 3, 15)).Action);
    }
}
