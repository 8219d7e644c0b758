using Syscage.Bpf;
using Syscage.Policy;
using Syscage.Policy.Compiler;
using Syscage.Abi;
using Syscage.Testing;
using Xunit.Abstractions;

namespace Syscage.Compiler.Tests;

/// <summary>
/// Compiled policies in the real kernel: each program goes into a fresh child of the native probe, which makes
/// calls on syscall numbers the kernel doesn't have (so an allowed call just returns ENOSYS) and reports what
/// happened; the outcome must be what the IR's reference evaluator says.
/// </summary>
public sealed class KernelTests(ITestOutputHelper output)
{
    private const int FirstNr = 1000, Numbers = 4;

    /// <summary>What a call in the probe shows for an action: a refusal's outcome, or ENOSYS for a call that ran, since the syscall doesn't exist.</summary>
    private static CallOutcome Expected(SeccompAction action) => ActionOutcomes.Refusal(action) ?? CallOutcome.Returned(-1, Errno.ENOSYS);

    private static SeccompAction ObservableAction(Random rng) => rng.Next(6) switch
    {
        0 => SeccompAction.KillProcess,
        1 => SeccompAction.Trap(1),
        2 => SeccompAction.Allow,
        3 => SeccompAction.Log,
        _ => SeccompAction.Errno((ushort)rng.Next(1, Errno.ENOSYS)),   // below ENOSYS, so never confused with "ran"
    };

    [Fact]
    public void CompiledPoliciesDoInTheKernelWhatTheEvaluatorSays()
    {
        var rng = new Random(2024);
        var jobs = new List<RunJob>();
        var expected = new List<CallOutcome[]>();
        var policies = new List<SeccompPolicy>();
        for (int i = 0; i < 120; i++)
        {
            // Default ALLOW: the probe child's own exit_group must get through.
            var b = new PolicyBuilder(SeccompAction.Allow, Architecture.X86_64, Architecture.X86, Architecture.X32) { BadArchAction = SeccompAction.KillProcess };
            for (int nr = FirstNr; nr < FirstNr + Numbers; nr++)
                for (int r = rng.Next(1, 4); r > 0; r--)
                    b.Add(Architecture.X86_64, nr, new Rule(rng.Next(4) == 0 ? Condition.True : RandomPolicies.Condition(rng), ObservableAction(rng)));
            var policy = b.Build();
            foreach (bool optimize in new[] { true, false })
            {
                var program = PolicyCompiler.Compile(policy, new CompileOptions { Optimize = optimize });
                var calls = new List<ProbeCall>();
                var want = new List<CallOutcome>();
                for (int c = 0; c < 12; c++)
                {
                    int nr = FirstNr + rng.Next(Numbers);
                    var args = new ulong[6];
                    var preds = policy.Sections[0].RulesFor(nr).SelectMany(r => r.Condition.Predicates()).ToArray();
                    for (int a = 0; a < 6; a++)
                    {
                        var mine = preds.Where(p => p.Arg == a).ToArray();
                        args[a] = mine.Length > 0 ? mine[rng.Next(mine.Length)].InterestingValues().OrderBy(_ => rng.Next()).First() : RandomPolicies.Value(rng);
                    }
                    calls.Add(new ProbeCall(nr, args));
                    var decision = policy.Evaluate(new SeccompData(nr, AuditArch.AUDIT_ARCH_X86_64, 0, args));
                    want.Add(Expected(decision.Action));
                    if (want[^1].Kind == CallOutcomeKind.Killed)
                        break;   // the child is gone after this call
                }
                jobs.Add(new RunJob([.. program.Instructions], calls));
                expected.Add([.. want]);
                policies.Add(policy);
            }
        }
        var outcomes = NativeProbe.Run(jobs);
        int compared = 0;
        for (int j = 0; j < jobs.Count; j++)
        {
            Assert.True(outcomes[j].Install.Accepted, $"job {j}: the kernel refused the compiled program: {outcomes[j].Install}");
            for (int c = 0; c < expected[j].Length; c++)
            {
                var got = outcomes[j].Calls[c];
                if (got != expected[j][c])
                    Assert.Fail($"job {j} call {c} {jobs[j].Calls[c]}: evaluator says {expected[j][c]}, kernel did {got}\n{Disassembler.ToText(jobs[j].Program)}");
                compared++;
            }
        }
        output.WriteLine($"{jobs.Count} programs, {compared} calls in the kernel agreed with the evaluator");
        Assert.True(compared > 1000);
    }

    [Fact]
    public void X32NumbersAreStoppedBeforeTheKernelsEnosys()
    {
        // x86_64-only policy allowing everything: an x32 number must hit the bad-arch action (kill), not ENOSYS.
        var b = new PolicyBuilder(SeccompAction.Allow, Architecture.X86_64) { BadArchAction = SeccompAction.Errno(13) };
        var program = PolicyCompiler.Compile(b.Build());
        var job = new RunJob([.. program.Instructions],
        [
            new ProbeCall(0x4000_0000 + 39, new ulong[6]),   // x32 getpid
            new ProbeCall(1000, new ulong[6]),
            new ProbeCall(-1, new ulong[6]),
        ]);
        var outcome = NativeProbe.Run([job])[0];
        Assert.Equal(CallOutcome.Returned(-1, Errno.EACCES), outcome.Calls[0]);
        Assert.Equal(CallOutcome.Returned(-1, Errno.ENOSYS), outcome.Calls[1]);
        Assert.Equal(CallOutcome.Returned(-1, Errno.ENOSYS), outcome.Calls[2]);
    }
}
