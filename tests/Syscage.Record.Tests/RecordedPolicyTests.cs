using Syscage.Abi;
using Syscage.Policy;
using Syscage.Policy.Language;
using Syscage.Policy.Recording;
using Syscage.Testing;

namespace Syscage.Record.Tests;

/// <summary>
/// From recorded calls to the policy, without the kernel: the policy allows every recorded call and nothing else but
/// the calls every program needs on signals and at exit; every rule is used by some recorded call; the text reads back
/// to the same decisions; a merge allows exactly the union; the recording filter refuses nothing; hostile recordings
/// stay bounded.
/// </summary>
public class RecordedPolicyTests
{
    private static readonly Architecture[] Machine = [Architecture.X86_64, Architecture.X86, Architecture.X32];

    private static int Nr(Architecture arch, string name) => arch.Syscalls.TryGetNumber(name, out int nr) ? nr : throw new ArgumentException(name);

    private static SeccompData Call(Architecture arch, string name, params ulong[] args)
    {
        var a = new ulong[6];
        args.CopyTo(a, 0);
        return new SeccompData(Nr(arch, name), arch.AuditArch, 0x1000, a);
    }

    /// <summary>Random calls as a program makes them: mostly a few syscalls, often those whose arguments are kept, with few values.</summary>
    private static List<SeccompData> RandomCalls(Random rng, int count)
    {
        string[] tracked = ["socket", "clone", "ioctl", "prctl", "fcntl", "personality", "mmap", "openat", "futex", "rt_sigaction", "setsockopt", "mprotect"];
        var calls = new List<SeccompData>();
        for (int i = 0; i < count; i++)
        {
            var arch = rng.Next(10) switch { < 7 => Architecture.X86_64, < 9 => Architecture.X86, _ => Architecture.X32 };
            var table = arch.Syscalls.All;
            var syscall = rng.Next(2) == 0 && arch.Syscalls.TryGet(tracked[rng.Next(tracked.Length)], out var t) ? t : table[rng.Next(table.Count)];
            var args = new ulong[6];
            for (int a = 0; a < 6; a++)
                args[a] = rng.Next(3) switch
                {
                    0 => (ulong)rng.Next(4),
                    1 => 1UL << rng.Next(40),
                    _ => RandomPolicies.Value(rng),
                };
            calls.Add(new SeccompData(syscall.Number, arch.AuditArch, 0, args));
        }
        return calls;
    }

    private static CallRecording Record(ArgumentRecording level, IEnumerable<SeccompData> calls)
    {
        var recording = new CallRecording(level);
        foreach (var c in calls)
            recording.Record(c, 42);
        return recording;
    }

    private static bool Allows(SeccompPolicy policy, in SeccompData call) => policy.Evaluate(call).Action.Effective.Kind == SeccompActionKind.Allow;

    [Theory]
    [InlineData(ArgumentRecording.None)]
    [InlineData(ArgumentRecording.Stable)]
    [InlineData(ArgumentRecording.All)]
    public void A_recorded_policy_allows_every_recorded_call_uses_every_rule_and_reads_back_the_same(ArgumentRecording level)
    {
        for (int seed = 0; seed < 60; seed++)
        {
            var rng = new Random(seed);
            var calls = RandomCalls(rng, rng.Next(1, 400));
            var recorded = RecordedPolicy.Build(Record(level, calls));
            var policy = recorded.Policy;
            string text = recorded.ToPolicyText(["seed " + seed]);
            var back = PolicyLanguage.Parse(text, "recorded.policy");

            // Everything recorded is allowed, by the IR and by the text.
            foreach (var c in calls)
            {
                Assert.True(Allows(policy, c), $"seed {seed}: recorded {c} is not allowed\n{text}");
                Assert.True(Allows(back, c), $"seed {seed}: recorded {c} is not allowed by the text\n{text}");
            }

            // Every rule is there for a recorded call, but the ones added for signals and exit.
            var added = RecordedPolicy.AlwaysAllowed.ToHashSet(StringComparer.Ordinal);
            foreach (var section in policy.Sections)
                foreach (var (nr, rules) in section.Syscalls)
                    for (int i = 0; i < rules.Count; i++)
                    {
                        var rule = rules[i];
                        // A rule socketcall(2)/ipc(2) got from a recorded call's rule decides that call made through it.
                        if (rule.Via is not null && calls.Any(c => policy.SectionFor(c) == section && section.Architecture.Syscalls.TryGetName(c.Nr, out var n) && n == rule.Via.Call.Name))
                            continue;
                        bool used = calls.Any(c => ReferenceEquals(policy.Evaluate(c).Rule, rule) && policy.SectionFor(c) == section && c.Nr == nr);
                        bool extra = section.Architecture.Syscalls.TryGetName(nr, out var name) && added.Contains(name) &&
                                     recorded.Comment(section.Architecture, nr, i)!.StartsWith("not seen", StringComparison.Ordinal);
                        Assert.True(used || extra, $"seed {seed}: {section.Architecture.Name} {name ?? nr.ToString(System.Globalization.CultureInfo.InvariantCulture)} rule {i + 1} is used by no recorded call\n{text}");
                    }

            // Calls never recorded: refused unless they are of the added calls; the text decides as the IR.
            var recordedSyscalls = calls.Select(c => (c.Arch, c.Nr)).ToHashSet();
            foreach (var other in RandomCalls(new Random(seed + 1000), 400).Concat(Enumerable.Range(0, 200).Select(_ => RandomPolicies.Call(rng, policy))))
            {
                Assert.Null(PolicyWriterTests.Difference(policy, back, other));
                var arch = Architecture.Of(other.Arch, other.Nr);
                bool isAdded = arch is not null && arch.Syscalls.TryGetName(other.Nr, out var n) && added.Contains(n);
                bool viaRecorded = policy.Evaluate(other).Rule?.Via is { } via && calls.Any(c => c.Arch == other.Arch && arch is not null &&
                                   arch.Syscalls.TryGetName(c.Nr, out var cn) && cn == via.Call.Name);
                if (!recordedSyscalls.Contains((other.Arch, other.Nr)) && !isAdded && !viaRecorded)
                    Assert.False(Allows(policy, other), $"seed {seed}: {other} was never recorded but is allowed\n{text}");
            }
        }
    }

    [Fact]
    public void Stable_arguments_become_conditions_with_kernel_names()
    {
        var x = Architecture.X86_64;
        var calls = new[]
        {
            Call(x, "socket", 2, 1), Call(x, "socket", 2, 1), Call(x, "socket", 1, 0x80001),
            Call(x, "ioctl", 1, 0x5401), Call(x, "ioctl", 0, 0x1_0000_5401),   // high bits the kernel ignores (request is 32 bits)
            Call(x, "clone", 0x3d0f00), Call(x, "clone", 0x1200011),
            Call(x, "read", 0, 0, 0),
        };
        var recorded = RecordedPolicy.Build(Record(ArgumentRecording.Stable, calls));
        string text = recorded.ToPolicyText();
        Assert.Contains("ALLOW socket if domain == AF_INET", text);
        Assert.Contains("ALLOW socket if domain == AF_UNIX", text);
        Assert.Contains("ALLOW ioctl if request == TCGETS", text);
        Assert.Contains("# 2 calls", text);
        Assert.Contains("ALLOW clone if (flags & ~(", text);
        Assert.Contains("CLONE_THREAD", text);
        Assert.Contains("ALLOW read ", text);
        var policy = recorded.Policy;
        Assert.False(Allows(policy, Call(x, "socket", 40)));                   // AF_VSOCK was never made
        Assert.True(Allows(policy, Call(x, "socket", 0x1_0000_0002)));          // AF_INET as the kernel reads it
        Assert.False(Allows(policy, Call(x, "clone", 0x10000000 | 0x11)));      // CLONE_NEWUSER was never set
        Assert.True(Allows(policy, Call(x, "clone", 0x11)));                    // bits seen, fewer of them
        Assert.False(Allows(policy, Call(x, "ioctl", 1, 0x5412)));              // TIOCSTI was never asked
        Assert.Contains("SOCK_STREAM|SOCK_CLOEXEC", RecordedPolicy.Build(Record(ArgumentRecording.All, calls)).ToPolicyText());
    }

    [Fact]
    public void The_calls_every_program_needs_are_added_on_each_architecture_that_made_calls_and_nowhere_else()
    {
        var recorded = RecordedPolicy.Build(Record(ArgumentRecording.None, [Call(Architecture.X86_64, "read"), Call(Architecture.X86, "getpid")]));
        var policy = recorded.Policy;
        foreach (var name in (string[])["rt_sigreturn", "restart_syscall", "exit_group"])
        {
            Assert.True(Allows(policy, Call(Architecture.X86_64, name)), name);
            Assert.True(Allows(policy, Call(Architecture.X86, name)), name);
            Assert.False(Allows(policy, Call(Architecture.X32, name)), name + " on x32, which made no call");
        }
        Assert.True(Allows(policy, Call(Architecture.X86, "sigreturn")));
        Assert.False(Allows(policy, Call(Architecture.X86_64, "exit")));
    }

    [Fact]
    public void A_merge_allows_exactly_the_union_and_keeps_the_earlier_default()
    {
        int compared = 0;
        for (int seed = 0; seed < 80; seed++)
        {
            var rng = new Random(seed);
            var earlier = PolicyWriterTests.Writable(RandomPolicies.Policy(rng, maxSyscalls: 25));
            var calls = RandomCalls(rng, rng.Next(1, 200));
            var level = (ArgumentRecording)(seed % 3);
            var alone = RecordedPolicy.Build(Record(level, calls)).Policy;
            var merged = RecordedPolicy.Build(Record(level, calls), earlier);
            var union = merged.Policy;
            Assert.Equal(earlier.DefaultAction, union.DefaultAction);
            // An earlier random policy may have no text (PolicyWriterTests.KnownLimit).
            bool hasText = PolicyWriter.TryWrite(union, out var text, out var why, merged.WriterOptions());
            if (!hasText)
                Assert.True(PolicyWriterTests.KnownLimit(why!), why);
            var back = hasText ? PolicyLanguage.Parse(text!) : union;
            foreach (var c in calls.Concat(Enumerable.Range(0, 300).Select(_ => RandomPolicies.Call(rng, earlier)))
                                   .Concat(Enumerable.Range(0, 300).Select(_ => RandomPolicies.Call(rng, alone))))
            {
                compared++;
                var mine = alone.Evaluate(c);
                bool byRecording = mine.Reason == DecisionReason.Rule && mine.Action.Kind == SeccompActionKind.Allow;
                var before = earlier.Evaluate(c);
                var now = union.Evaluate(c);
                // Recorded calls run: allowed, or logged by an earlier bad-arch LOG that already let the whole
                // architecture run (no section is added for it, which would refuse its other calls).
                if (byRecording)
                    Assert.True(now.Action.Kind == SeccompActionKind.Allow ||
                                (now.Reason == DecisionReason.BadArch && now.Action.Effective.Kind == SeccompActionKind.Log),
                                $"seed {seed}: {c} recorded but {now.Action}\n{text}");
                else if (before.Reason != DecisionReason.BadArch)
                    Assert.True(before.Action.Effective == now.Action.Effective, $"seed {seed}: {c}: earlier {before.Action} ({before.Reason}, {before.Section?.Architecture}, newest {string.Join(",", earlier.Newer?.Newest.Select(kv => $"{kv.Key.Name}:{kv.Value:x}") ?? [])}) now {now.Action} ({now.Reason}, newest {string.Join(",", union.Newer?.Newest.Select(kv => $"{kv.Key.Name}:{kv.Value:x}") ?? [])})\n{text}");
                else
                    Assert.True(before.Action.Effective.Kind != SeccompActionKind.Allow || now.Action.Effective.Kind == SeccompActionKind.Allow, $"seed {seed}: {c}");
                Assert.Null(PolicyWriterTests.Difference(union, back, c));
            }
        }
        Assert.True(compared > 40_000);
    }

    [Fact]
    public void The_recording_filter_refuses_nothing_and_leaves_in_the_kernel_only_what_the_earlier_policy_lets_run()
    {
        for (int seed = 0; seed < 80; seed++)
        {
            var rng = new Random(seed);
            var earlier = RandomPolicies.Policy(rng, maxSyscalls: 25);
            var filter = RecordedPolicy.Filter(seed % 4 == 0 ? null : earlier);
            foreach (var c in Enumerable.Range(0, 500).Select(_ => RandomPolicies.Call(rng, earlier)))
            {
                var verdict = filter.Evaluate(c);
                var kind = verdict.Action.Effective.Kind;
                Assert.True(kind is SeccompActionKind.Allow or SeccompActionKind.Log or SeccompActionKind.UserNotif, $"seed {seed}: {c} gets {verdict.Action}");
                if (kind == SeccompActionKind.UserNotif)
                    Assert.Equal(RecordedPolicy.HandlerName, (verdict.Rule?.Route as NotifyRoute)?.Handler ?? RecordedPolicy.HandlerName);
                else
                    Assert.Equal(verdict.Action.Effective, earlier.Evaluate(c).Action.Effective);
            }
        }
    }

    [Fact]
    public void A_hostile_recording_stays_bounded()
    {
        // Calls of 5,000 different numbers: past the limit of a policy, so none is made.
        var flood = new CallRecording();
        for (int i = 0; i < 5000; i++)
            flood.Record(new SeccompData(1000 + i, Architecture.X86_64.AuditArch, 0, new ulong[6]), i + 1);
        Assert.True(flood.Incomplete);
        Assert.Equal(InputLimits.MaxSyscallsPerArchitecture, flood.Syscalls.Count);
        Assert.False(RecordedPolicy.TryBuild(flood, out _, out var error));
        Assert.Contains("more than 4096 different syscall numbers", error);

        // 100,000 different ioctl requests: not "few" values: ioctl by name, and a note says why.
        var ioctls = new CallRecording(ArgumentRecording.Stable);
        for (int i = 0; i < 100_000; i++)
            ioctls.Record(Call(Architecture.X86_64, "ioctl", 3, (ulong)(0x10000 + i)), 7);
        var recorded = RecordedPolicy.Build(ioctls);
        var x = Architecture.X86_64;
        Assert.True(recorded.Policy.Sections[0].RulesFor(Nr(x, "ioctl")) is [{ Condition.IsTrue: true }]);
        Assert.Contains("by name only", recorded.Note(x, Nr(x, "ioctl")));
        Assert.Equal(1, ioctls.Tasks);

        // 17 values of a kept argument: more than "few": the argument is dropped, the others stay.
        var sockets = new CallRecording(ArgumentRecording.All);
        for (int i = 0; i < 17; i++)
            sockets.Record(Call(x, "socket", (ulong)i, 1), 1);
        var s = RecordedPolicy.Build(sockets);
        Assert.Contains("domain took 17 values", s.Note(x, Nr(x, "socket")));
        Assert.Contains("ALLOW socket if type == SOCK_STREAM", s.ToPolicyText());

        // A number no policy can name: left out, with a warning.
        var negative = new CallRecording();
        negative.Record(new SeccompData(-5, Architecture.X86_64.AuditArch, 0, new ulong[6]));
        negative.Record(new SeccompData(-5 & ~0, 0xdeadbeef, 0, new ulong[6]));
        var n = RecordedPolicy.Build(negative);
        Assert.Contains(n.Warnings, w => w.Contains("-5", StringComparison.Ordinal));
        Assert.Contains(n.Warnings, w => w.Contains("architecture Syscage does not know", StringComparison.Ordinal));
        Assert.DoesNotContain(n.Policy.Sections, sec => sec.Syscalls.Count > 0);
        PolicyLanguage.Parse(n.ToPolicyText());
    }

    [Fact]
    public void The_table_of_kept_arguments_names_real_arguments_at_most_three_per_syscall()
    {
        foreach (var level in new[] { ArgumentRecording.Stable, ArgumentRecording.All })
            foreach (var arch in Machine)
                foreach (var syscall in arch.Syscalls.All)
                    Assert.True(RecordedArguments.For(arch, syscall.Number, level).Count <= 3, $"{arch.Name} {syscall.Name}");
        // Each entry names an argument some architecture has.
        string[] names = ["socket", "socketcall", "clone", "ioctl", "prctl", "fcntl", "fcntl64", "personality", "socketpair", "setsockopt", "getsockopt",
                          "mmap", "mmap2", "mprotect", "pkey_mprotect", "madvise", "arch_prctl", "futex", "unshare", "open", "openat", "kill", "tgkill",
                          "rt_sigaction", "rt_sigprocmask", "lseek", "seccomp", "bpf", "keyctl", "ptrace", "setns"];
        foreach (var name in names)
            Assert.True(Machine.Any(a => a.Syscalls.TryGetNumber(name, out int nr) && RecordedArguments.For(a, nr, ArgumentRecording.All).Count > 0), name);
        Assert.Empty(RecordedArguments.For(Architecture.X86_64, Nr(Architecture.X86_64, "socket"), ArgumentRecording.None));
        Assert.Single(RecordedArguments.For(Architecture.X86_64, Nr(Architecture.X86_64, "socket"), ArgumentRecording.Stable));
    }
}
