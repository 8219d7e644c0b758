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

    /// <summary>
    /// Launches whose values a template's placeholders never had: equal to each other or to the guard's constants (0,
    /// -1, F_SETOWN 8, F_SETSIG 10, SIGKILL 9, SIGSTOP 19), adjacent, in either order, process group 1 (so that -pgid is
    /// -1) or the supervisor's own pid, the largest pid.
    /// </summary>
    public static TheoryData<int, int, int> Launches => new()
    {
        { Supervisor, Group, Launcher },
        { 4242, 4242, 4243 },
        { 4243, 4242, 4241 },
        { 100, 1, 101 },
        { 9, 19, 8 },
        { 10, 8, 19 },
        { 1, 1, 2 },
        { 4_194_304, 4_194_303, 4_194_302 },
        { 300, 299, 300 },
    };

    [Theory]
    [MemberData(nameof(Launches))]
    public void Guard_from_its_template_equals_its_policy_for_any_launch(int supervisor, int group, int launcher)
    {
        var context = new LaunchContext(supervisor, group, launcher);
        ulong[] pids = [(ulong)supervisor, (ulong)launcher, unchecked((ulong)(long)-group), unchecked((ulong)(uint)-group)];
        ulong[] targets = [.. Values, .. pids, .. pids.Select(p => p + 1), .. pids.Select(p => p - 1), .. pids.Select(p => (1UL << 32) | (p & 0xffff_ffff)), 8, 9, 10, 19];
        foreach (bool supervised in new[] { true, false })
            foreach (ulong marker in supervised ? new ulong[] { Marker, 0xffff_ffff_0000_0001 } : [Marker])
            {
                var policy = SupervisorGuard.Policy(context, supervised, marker);
                var filter = SupervisorGuard.Template(supervised).Instantiate(context, marker);
                // Every argument the guard tests, with the values that matter to it; the others fixed.
                IEnumerable<(string Name, ulong[] Args)> Calls()
                {
                    foreach (ulong t in targets)
                    {
                        foreach (string name in new[] { "kill", "tkill", "rt_sigqueueinfo", "pidfd_open", "prlimit64" })
                            yield return (name, [t, 9]);
                        yield return ("tgkill", [t, t, 9]);
                        yield return ("rt_tgsigqueueinfo", [t, t, 9]);
                        foreach (ulong command in new ulong[] { 8, 10, 9, 0, (1UL << 32) | 8, (1UL << 32) | 10 })
                        {
                            yield return ("fcntl", [3, command, t]);
                            yield return ("fcntl64", [3, command, t]);
                        }
                    }
                    foreach (ulong mode in new ulong[] { 0, 1, (1UL << 32) | 1 })
                        foreach (ulong flags in new ulong[] { 0, 8, 8 | 2, 2, (1UL << 32) | 8 })
                            foreach (ulong fourth in new[] { marker, marker ^ 1, marker ^ (1UL << 32), 0UL })
                                yield return ("seccomp", [mode, flags, 0, fourth]);
                    yield return ("getpid", []);
                }
                foreach (var arch in PolicyBuilder.DefaultArchitectures)
                    foreach (var (name, args) in Calls())
                    {
                        if (!arch.Syscalls.TryGetNumber(name, out _))
                            continue;
                        var data = Call(arch, name, args);
                        Assert.True(policy.Evaluate(data).Action == Compiled(filter, data),
                            $"{(supervised ? "supervised" : "plain")} launch ({supervisor}, {group}, {launcher}) marker {marker:x}: {arch.Name} {name}({string.Join(", ", args.Select(a => a.ToString("x", System.Globalization.CultureInfo.InvariantCulture)))})\n{Disassembler.ToText(filter.Instructions.AsSpan())}");
                    }
            }
    }

    [Fact]
    public void Compiled_guards_are_taken_only_from_this_build_and_only_when_sound()
    {
        string exported = SandboxSession.ExportCompiledGuards();
        Assert.True(SandboxSession.ImportCompiledGuards(exported));
        var lines = exported.Split('\n');
        // Another build of the library: refused.
        Assert.False(SandboxSession.ImportCompiledGuards(exported.Replace(lines[1], new string('0', lines[1].Length), StringComparison.Ordinal)));
        Assert.False(SandboxSession.ImportCompiledGuards(""));
        Assert.False(SandboxSession.ImportCompiledGuards(string.Join('\n', lines[..3])));
        // A slot that names an instruction other than a JEQ, a slot named twice, a program that does not validate, a
        // template without the marker's places in the supervised guard: refused.
        var supervised = SupervisorGuard.Template(supervised: true);
        string text = supervised.ToText();
        var (pc, _) = supervised.Slots[0];
        Assert.NotNull(GuardTemplate.FromText(text, supervised: true));
        Assert.Null(GuardTemplate.FromText(text.Replace($"\t{pc}:", "\t0:", StringComparison.Ordinal), supervised: true));
        Assert.Null(GuardTemplate.FromText(text + $",{pc}:1", supervised: true));
        Assert.Null(GuardTemplate.FromText("AAAA" + text, supervised: true));
        Assert.Null(GuardTemplate.FromText(text, supervised: false));
    }

    [Fact]
    public void A_template_is_made_only_of_programs_that_differ_in_placeholders_alone()
    {
        var a = PolicyCompiler.Compile(SupervisorGuard.Policy(new LaunchContext(0x15b0_0a01, 0x15b0_0a03, 0x15b0_0a02), false, 1)).Instructions;
        var b = PolicyCompiler.Compile(SupervisorGuard.Policy(new LaunchContext(0x1c3e_7009, 0x1c3e_7001, 0x1c3e_7005), false, 1)).Instructions;
        Assert.NotNull(GuardTemplate.FromPair(a, b, supervised: false));
        // The same program twice: the placeholders did not move, so nothing says where a launch's values go.
        Assert.Null(GuardTemplate.FromPair(a, a, supervised: false));
        // A jump that differs: the code depends on the values.
        int jump = Enumerable.Range(0, b.Length).First(i => b[i].Jt > 0);
        Assert.Null(GuardTemplate.FromPair(a, b.SetItem(jump, b[jump] with { Jt = (byte)(b[jump].Jt - 1) }), supervised: false));
        // A placeholder's value that turns up elsewhere than in the second set's place for it.
        var (pc, _) = GuardTemplate.FromPair(a, b, supervised: false)!.Slots[0];
        Assert.Null(GuardTemplate.FromPair(a, b.SetItem(pc, b[pc] with { K = a[pc].K + 1 }), supervised: false));
    }
}
