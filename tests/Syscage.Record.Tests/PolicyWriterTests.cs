using Syscage.Abi;
using Syscage.Policy;
using Syscage.Policy.Compiler;
using Syscage.Policy.Language;
using Syscage.Testing;

namespace Syscage.Record.Tests;

/// <summary>
/// The policy-language writer against the parser and the reference evaluator: a written policy, read back, decides every
/// call as the IR did (the edge vectors of the equivalence checker and random calls), for random policies of every
/// action, route, architecture set and condition shape.
/// </summary>
public class PolicyWriterTests
{
    /// <summary>
    /// A random policy as the language can hold it: every comparison at the width the tables give its argument (the
    /// parser's width) and its values reduced to that width, masks not 0.
    /// </summary>
    internal static SeccompPolicy Writable(SeccompPolicy policy)
    {
        var sections = policy.Sections.Select(s => new ArchitecturePolicy(s.Architecture, s.Syscalls.ToDictionary(kv => kv.Key, kv =>
        {
            s.Architecture.Syscalls.TryGet(kv.Key, out var syscall);
            return (IReadOnlyList<Rule>)[.. kv.Value.Select(r => r with { Condition = Reshape(r.Condition, syscall) })];
        })));
        return new SeccompPolicy(policy.DefaultAction, policy.BadArchAction, sections, policy.Name) { Newer = policy.Newer };
    }

    private static Condition Reshape(Condition condition, Syscall? syscall) => condition switch
    {
        Condition.Predicate p => Condition.Of(Fit(p.Value, syscall)),
        Condition.AllOf a => Condition.All(a.Conditions.Select(c => Reshape(c, syscall))),
        Condition.AnyOf a => Condition.Any(a.Conditions.Select(c => Reshape(c, syscall))),
        Condition.NotOf n => Condition.Not(Reshape(n.Inner, syscall)),
        _ => condition,
    };

    private static ArgPredicate Fit(ArgPredicate p, Syscall? syscall)
    {
        int width = syscall?.ArgWidth(p.Arg) ?? ArgPredicate.FullWidth;
        ulong m = ArgPredicate.WidthMask(width);
        ulong mask = p.Op == ComparisonOp.MaskedEq ? (p.Mask & m) == 0 ? 1 : p.Mask & m : ulong.MaxValue;
        ulong value = p.Op == ComparisonOp.MaskedEq ? p.Value & mask : p.Value & m;
        return new ArgPredicate(p.Arg, p.Op, value, mask, width);
    }

    /// <summary>
    /// What the language cannot say of an IR made by the builder: newer-syscalls on some architectures only (the
    /// language's applies to all of them), or a multiplexer's own rules ordered among those made from the calls it makes
    /// as no text orders them.
    /// </summary>
    internal static bool KnownLimit(string error) =>
        error.Contains("has no such check", StringComparison.Ordinal) ||
        error.Contains("has no spelling", StringComparison.Ordinal) && (error.Contains("ipc", StringComparison.Ordinal) || error.Contains("socketcall", StringComparison.Ordinal));

    /// <summary>True when both policies decide <paramref name="call"/> alike: the same action and, for user space, the same route.</summary>
    internal static string? Difference(SeccompPolicy expected, SeccompPolicy actual, in SeccompData call)
    {
        var e = expected.Evaluate(call);
        var a = actual.Evaluate(call);
        if (e.Action.Effective != a.Action.Effective)
            return $"{call}: {e.Action.Effective} ({e.Reason}) became {a.Action.Effective} ({a.Reason})";
        if (e.Action.Effective.Kind == SeccompActionKind.UserNotif && !Equals(e.Rule?.Route ?? RuleRoute.Notify(), a.Rule?.Route ?? RuleRoute.Notify()))
            return $"{call}: route {e.Rule?.Route} became {a.Rule?.Route}";
        return null;
    }

    [Fact]
    public void Written_random_policies_read_back_to_the_same_decisions()
    {
        int calls = 0, refused = 0;
        for (int seed = 0; seed < 300; seed++)
        {
            var rng = new Random(seed);
            var policy = Writable(RandomPolicies.Policy(rng, maxSyscalls: 12));
            if (!PolicyWriter.TryWrite(policy, out var text, out var error))
            {
                // newer-syscalls on some architectures only (the language's applies to all of them), or a multiplexer's
                // own rules ordered among those made from the calls it makes as no text orders them.
                Assert.True(KnownLimit(error), $"seed {seed}: {error}");
                refused++;
                continue;
            }
            var back = PolicyLanguage.Parse(text, $"seed{seed}.policy");
            Assert.Equal(policy.Sections.Select(s => s.Architecture), back.Sections.Select(s => s.Architecture));
            foreach (var call in EquivalenceChecker.Vectors(policy).Take(20_000).Concat(Enumerable.Range(0, 500).Select(_ => RandomPolicies.Call(rng, policy))))
            {
                calls++;
                if (Difference(policy, back, call) is { } why)
                    Assert.Fail($"seed {seed}: {why}\n{text}");
            }
        }
        Assert.True(calls > 100_000, $"only {calls} calls compared");
        Assert.True(refused < 60, $"{refused} of 300 refused");
    }

    [Fact]
    public void Every_action_and_route_is_written_as_the_language_spells_it()
    {
        var b = new PolicyBuilder(SeccompAction.UserNotif, Architecture.X86_64) { BadArchAction = SeccompAction.Trap(3) };
        void Add(string name, Rule rule) => b.Add(name, rule);
        Add("read", new Rule(Condition.True, SeccompAction.Allow));
        Add("write", new Rule(Condition.True, SeccompAction.Errno(Errno.EACCES)));
        Add("ptrace", new Rule(Condition.True, SeccompAction.KillProcess));
        Add("kill", new Rule(Condition.True, SeccompAction.KillThread));
        Add("mkdir", new Rule(Condition.True, SeccompAction.UserNotif, Route: RuleRoute.Notify("log")));
        Add("rmdir", new Rule(Condition.True, SeccompAction.UserNotif, Route: RuleRoute.Notify("deny(EROFS)")));
        Add("execve", new Rule(Condition.True, SeccompAction.UserNotif, Route: RuleRoute.Program("exec_once")));
        Add("uname", new Rule(Condition.True, SeccompAction.Log));
        Add("getpid", new Rule(Condition.True, SeccompAction.Trace(7)));
        string text = PolicyWriter.Write(b.Build());
        Assert.Contains("default NOTIFY\n", text);
        Assert.Contains("bad-arch TRAP(3)\n", text);
        Assert.Contains("ERRNO(EACCES) write\n", text);
        Assert.Contains("NOTIFY(log) mkdir\n", text);
        Assert.Contains("NOTIFY(\"deny(EROFS)\") rmdir\n", text);
        Assert.Contains("EBPF(exec_once) execve\n", text);
        Assert.Contains("KILL_THREAD kill\n", text);
        Assert.Contains("TRACE(7) getpid\n", text);
        var back = PolicyLanguage.Parse(text);
        Assert.Equal(RuleRoute.Notify("deny(EROFS)"), back.Sections[0].RulesFor(Architecture.X86_64.Syscalls.TryGetNumber("rmdir", out int nr) ? nr : -1)[0].Route);
    }

    [Fact]
    public void What_the_language_cannot_say_is_an_error_naming_it()
    {
        Architecture.X86_64.Syscalls.TryGet("socket", out var socket);
        // domain is an int: the language compares it on 32 bits, never on 64.
        var wide = new PolicyBuilder(SeccompAction.Allow, Architecture.X86_64);
        wide.Add(Architecture.X86_64, socket!.Number, new Rule(Condition.Of(new ArgPredicate(0, ComparisonOp.Eq, 2)), SeccompAction.Errno(1)));
        Assert.False(PolicyWriter.TryWrite(wide.Build(), out _, out var error));
        Assert.Contains("domain is compared on 64 bits, but the language compares it on 32", error);

        var never = new PolicyBuilder(SeccompAction.Allow, Architecture.X86_64);
        never.Add(Architecture.X86_64, socket.Number, new Rule(Condition.Any(), SeccompAction.Errno(1)));
        Assert.False(PolicyWriter.TryWrite(never.Build(), out _, out error));
        Assert.Contains("empty ||", error);

        var negative = new PolicyBuilder(SeccompAction.Allow, Architecture.X32);
        negative.Add(Architecture.X32, -5, new Rule(Condition.True, SeccompAction.Errno(1)));
        Assert.False(PolicyWriter.TryWrite(negative.Build(), out _, out error));
        Assert.Contains("-5", error);

        var quote = new PolicyBuilder(SeccompAction.Allow, Architecture.X86_64);
        quote.Add("mkdir", new Rule(Condition.True, SeccompAction.UserNotif, Route: RuleRoute.Notify("a\"b")));
        Assert.Throws<ArgumentException>(() => PolicyWriter.Write(quote.Build()));
    }

    [Fact]
    public void Numbers_the_tables_do_not_name_are_written_without_the_x32_bit_and_read_back_with_it()
    {
        var b = new PolicyBuilder(SeccompAction.Errno(1), Architecture.X86_64, Architecture.X32);
        b.Add(Architecture.X86_64, 999, new Rule(Condition.True, SeccompAction.Allow));
        b.Add(Architecture.X32, (int)Architecture.X32.SyscallNumberBit | 999, new Rule(Condition.True, SeccompAction.Allow));
        var policy = b.Build();
        string text = PolicyWriter.Write(policy);
        var back = PolicyLanguage.Parse(text);
        Assert.Equal(policy.Sections.Select(s => s.Syscalls.Keys.Single()), back.Sections.Select(s => s.Syscalls.Keys.Single()));
    }

    [Fact]
    public void Comments_and_header_cannot_add_a_line_of_policy()
    {
        var b = new PolicyBuilder(SeccompAction.Errno(1), Architecture.X86_64);
        b.Add("read", new Rule(Condition.True, SeccompAction.Allow));
        string text = PolicyWriter.Write(b.Build(), new PolicyWriterOptions
        {
            Header = ["from: evil\nALLOW ptrace"],
            RuleComment = (_, _, _) => "count\nALLOW bpf",
            SyscallNote = (_, _) => "note\nALLOW mount",
        });
        var back = PolicyLanguage.Parse(text);
        foreach (var name in (string[])["ptrace", "bpf", "mount"])
            Assert.Empty(back.Sections[0].RulesFor(Architecture.X86_64.Syscalls.TryGetNumber(name, out int nr) ? nr : -1));
    }
}
