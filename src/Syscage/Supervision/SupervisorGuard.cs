using Syscage.Bpf;
using Syscage.Kernel;
using Syscage.Kernel.Notify;
using Syscage.Policy;
using Syscage.Policy.Compiler;
using Syscage.Abi;

namespace Syscage.Supervision;

/// <summary>
/// The supervisor's guard: a small filter installed in the command's process before its policy, which refuses the
/// calls that would reach the supervisor or the launcher (docs/security.md):
/// <list type="bullet">
/// <item>signals aimed at them: <c>kill</c> of their pids, of the process group the command shares with them, of pid 0
/// (that same group) and -1 (every process of the user); <c>tkill</c>, <c>tgkill</c>, <c>rt_sigqueueinfo</c> and
/// <c>rt_tgsigqueueinfo</c> of their pids; <c>fcntl(F_SETOWN)</c> naming them (a SIGIO owner), and
/// <c>fcntl(F_SETSIG)</c> choosing SIGKILL or SIGSTOP as the I/O signal (an owner set through memory, by
/// <c>F_SETOWN_EX</c>, then gets only signals it can catch);</item>
/// <item><c>pidfd_open</c> of their pids, and <c>prlimit64</c> on them (an RLIMIT_CPU kills);</item>
/// <item>when calls are supervised: <c>seccomp(SECCOMP_SET_MODE_FILTER)</c> with
/// <c>SECCOMP_FILTER_FLAG_NEW_LISTENER</c>, answered EBUSY as the kernel answers a second listener — except the one
/// installation of the policy's own listener, which the launcher marks with a random value in the otherwise unused
/// fourth argument register.</item>
/// </list>
/// Everything else is ALLOW (other architectures too: the policy's own bad-arch action decides them), so the
/// kernel's action cache still skips the guard for nearly every call. Its ERRNO answers outrank the policy's ALLOW,
/// LOG and USER_NOTIF, and yield to its KILL and TRAP (the kernel's precedence between stacked filters).
/// </summary>
/// <remarks>
/// Pids are compared on 32 bits, the width of <c>pid_t</c>, which is what the kernel reads. The guard cannot see a pid
/// in memory or behind a descriptor; those ways (a pidfd from opening <c>/proc/PID</c>, <c>F_SETOWN_EX</c>,
/// <c>tkill</c> of another supervisor thread) can still kill the supervisor, and then the launcher kills the whole
/// tree: they end the sandbox, never widen it.
/// </remarks>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class SupervisorGuard
{
    private const ulong Low32 = uint.MaxValue;

    /// <summary>
    /// The guard for one launch: the compiled filter and the marker of the policy's installation. Made from the
    /// compiled template (<see cref="GuardTemplate"/>) with this launch's pids and marker put in: no compilation at a
    /// launch, which needs the launcher's pid and so waits for it.
    /// </summary>
    /// <param name="context">The supervisor and the launcher.</param>
    /// <param name="supervised">True when the policy filter has a listener (its calls reach a supervisor).</param>
    public static SandboxGuard Create(LaunchContext context, bool supervised)
    {
        ulong marker;
        do
            marker = KernelRandom.NextUInt64();
        while (marker == 0);
        return new SandboxGuard(Template(supervised).Instantiate(context, marker), marker);
    }

    private static GuardTemplate? s_supervised, s_unsupervised;

    /// <summary>The template of the guard: the one imported (<see cref="Import"/>), else compiled now, once per process.</summary>
    internal static GuardTemplate Template(bool supervised)
    {
        ref GuardTemplate? field = ref supervised ? ref s_supervised : ref s_unsupervised;
        return Volatile.Read(ref field) ?? Interlocked.CompareExchange(ref field, GuardTemplate.Compile(supervised), null) ?? field;
    }

    private const string ExportHeader = "syscage guard templates 1";

    /// <summary>Both templates as text, with the identity of this build of the library (<see cref="Import"/>).</summary>
    public static string Export()
    {
        var text = new System.Text.StringBuilder();
        text.Append(ExportHeader).Append('\n').Append(Syscage.BuildIdentity.Value).Append('\n');
        foreach (bool supervised in (bool[])[false, true])
            text.Append(supervised ? '1' : '0').Append('\t').Append(Template(supervised).ToText()).Append('\n');
        return text.ToString();
    }

    /// <summary>
    /// Takes the templates <paramref name="text"/> holds (<see cref="Export"/>) when it was written by this very build of
    /// the library — a template depends on the guard's policy and on the compiler, so one from another build could be
    /// another guard — and every program and slot in it is sound (<see cref="GuardTemplate.FromText"/>); false, and
    /// nothing taken, otherwise.
    /// </summary>
    public static bool Import(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string[] lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length != 4 || lines[0] != ExportHeader || lines[1] != Syscage.BuildIdentity.Value)
            return false;
        GuardTemplate? supervised = null, unsupervised = null;
        foreach (string line in lines.AsSpan(2))
        {
            if (line.Length < 2 || line[1] != '\t' || line[0] is not ('0' or '1'))
                return false;
            bool isSupervised = line[0] == '1';
            if (GuardTemplate.FromText(line[2..], isSupervised) is not { } template)
                return false;
            if (isSupervised)
                supervised = template;
            else
                unsupervised = template;
        }
        if (supervised is null || unsupervised is null)
            return false;
        Volatile.Write(ref s_supervised, supervised);
        Volatile.Write(ref s_unsupervised, unsupervised);
        return true;
    }

    /// <summary>The guard as a policy (default and bad-arch ALLOW), for the reference evaluator and <c>explain</c>.</summary>
    public static SeccompPolicy Policy(LaunchContext context, bool supervised, ulong marker)
    {
        var eperm = SeccompAction.Errno(ErrnoValue("EPERM"));
        var b = new PolicyBuilder(SeccompAction.Allow, PolicyBuilder.DefaultArchitectures)
        {
            BadArchAction = SeccompAction.Allow,
            Name = "supervisor guard",
        };
        int[] ours = [context.SupervisorPid, context.LauncherPid];
        int[] signalled = [.. ours, 0, -1, -context.SupervisorProcessGroup];
        var source = new PolicySource("supervisor guard");
        void Refuse(string syscall, Condition condition, SeccompAction action) => b.Add(syscall, new Rule(condition, action, source));

        Refuse("kill", OneOf(0, signalled), eperm);
        foreach (var call in (string[])["tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_open", "prlimit64"])
            Refuse(call, OneOf(0, ours), eperm);
        var setown = Condition.All(Is32(1, Constant("F_SETOWN")), OneOf(2, [.. ours, -context.SupervisorProcessGroup]));
        // F_SETSIG picks the signal an I/O owner gets; an uncatchable one would end the supervisor whatever it owns.
        var setsig = Condition.All(Is32(1, Constant("F_SETSIG")), OneOf(2, [Signals.SIGKILL, Signals.SIGSTOP]));
        foreach (var fcntl in (string[])["fcntl", "fcntl64"])
        {
            Refuse(fcntl, setown, eperm);
            Refuse(fcntl, setsig, eperm);
        }
        if (supervised)
        {
            ulong listener = Constant("SECCOMP_FILTER_FLAG_NEW_LISTENER");
            var newListener = Condition.All(Is32(0, Constant("SECCOMP_SET_MODE_FILTER")),
                                            Condition.Of(new ArgPredicate(1, ComparisonOp.MaskedEq, listener, listener)));
            var ebusy = SeccompAction.Errno(ErrnoValue("EBUSY"));
            foreach (var arch in b.Architectures)
            {
                if (!arch.Syscalls.TryGetNumber("seccomp", out int nr))
                    continue;
                // The launcher installs the policy natively; through any other ABI a listener is always refused.
                var condition = arch == Architecture.Native
                    ? Condition.All(newListener, Condition.Of(new ArgPredicate(3, ComparisonOp.Ne, marker)))
                    : newListener;
                b.Add(arch, nr, new Rule(condition, ebusy, source));
            }
        }
        return b.Build();
    }

    /// <summary>
    /// The policy the kernel runs when calls are supervised: every <c>pidfd_send_signal</c> the policy would let run
    /// (ALLOW, LOG) goes to user space instead, where the supervisor (<see cref="Route"/>) sends the signal itself unless the
    /// descriptor names the supervisor or the launcher (<see cref="PidfdSignal"/>). A filter can't see which process a
    /// pidfd — or a <c>/proc/PID</c> directory, which serves as one — names; this is the one way to keep it off.
    /// </summary>
    public static SeccompPolicy RouteSignalDescriptors(SeccompPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        static bool Runs(SeccompAction a) => a.Effective.Kind is SeccompActionKind.Allow or SeccompActionKind.Log;
        var notify = SeccompAction.UserNotif;
        var sections = policy.Sections.Select(section =>
        {
            if (!section.Architecture.Syscalls.TryGetNumber(SignalDescriptorCall, out int nr))
                return section;
            var rules = section.RulesFor(nr).Select(r => Runs(r.Action) ? r with { Action = notify, Route = RuleRoute.Notify() } : r).ToList();
            if (Runs(policy.DefaultAction))
                rules.Add(new Rule(Condition.True, notify, new PolicySource("supervisor guard")));
            var syscalls = section.Syscalls.ToDictionary(kv => kv.Key, kv => kv.Value);
            syscalls[nr] = rules;
            return new ArchitecturePolicy(section.Architecture, syscalls);
        });
        return new SeccompPolicy(policy.DefaultAction, policy.BadArchAction, sections, policy.Name) { Newer = policy.Newer };
    }

    /// <summary>
    /// The route of a guarded run (<see cref="SupervisorOptions.Route"/>): <c>pidfd_send_signal</c> calls that
    /// <paramref name="policy"/> (the policy before <see cref="RouteSignalDescriptors"/>) lets run, or that
    /// <paramref name="handler"/> answers with CONTINUE, are sent by the supervisor through <see cref="PidfdSignal"/>,
    /// refusing <paramref name="protectedProcesses"/>; every other call goes to <paramref name="handler"/> as it is. Null when
    /// no section of the policy has the call.
    /// </summary>
    public static SyscallRoute? Route(ReceivedCallHandler handler, SeccompPolicy policy, Func<IReadOnlyCollection<int>> protectedProcesses)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(protectedProcesses);
        // (AUDIT_ARCH_*, number) of pidfd_send_signal per section: the pair names the section (x32's numbers carry their bit).
        var watched = policy.Sections
            .Select(s => s.Architecture.Syscalls.TryGetNumber(SignalDescriptorCall, out int nr) ? (Arch: s.Architecture.AuditArch, Nr: nr, Known: true) : default)
            .Where(p => p.Known).Select(p => (p.Arch, p.Nr)).ToArray();
        return watched.Length == 0 ? null : new SyscallRoute(watched, Signal);

        ValueTask<NotificationResponse> Signal(in ReceivedCall call)
        {
            var context = call.Context();
            if (policy.Evaluate(context.Notification.Data).Action.Effective.Kind is SeccompActionKind.Allow or SeccompActionKind.Log)
                return ValueTask.FromResult(PidfdSignal.Send(context, protectedProcesses()));
            var pending = handler(call);
            return pending.IsCompletedSuccessfully ? ValueTask.FromResult(SendIfContinued(pending.Result, context)) : Later(pending, context);
        }

        NotificationResponse SendIfContinued(NotificationResponse r, NotificationContext context) =>
            r.Kind == NotificationResponseKind.Continue ? PidfdSignal.Send(context, protectedProcesses()) : r;

        async ValueTask<NotificationResponse> Later(ValueTask<NotificationResponse> pending, NotificationContext context) =>
            SendIfContinued(await pending.ConfigureAwait(false), context);
    }

    private const string SignalDescriptorCall = "pidfd_send_signal";

    private static Condition OneOf(int arg, IEnumerable<int> values) => Condition.Any(values.Distinct().Select(v => Is32(arg, unchecked((uint)v))));

    private static Condition Is32(int arg, ulong value) => Condition.Of(new ArgPredicate(arg, ComparisonOp.MaskedEq, value & Low32, Low32));

    private static ushort ErrnoValue(string name) =>
        (ushort)(Syscage.Abi.Errno.Number(name) ?? throw new InvalidOperationException($"{name} is missing from the errno table"));

    private static ulong Constant(string name) =>
        KernelConstants.Value(name) ?? throw new InvalidOperationException($"{name} is missing from the constants table");
}
