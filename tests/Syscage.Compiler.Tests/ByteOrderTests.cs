using Syscage.Abi;
using Syscage.Bpf;
using Syscage.Policy;
using Syscage.Policy.Compiler;
using Syscage.Testing;
using Xunit.Abstractions;
using static Syscage.Bpf.Opcode;

namespace Syscage.Compiler.Tests;

/// <summary>
/// On a big-endian ABI (s390x, ppc64, mips, parisc, m68k, sheb ...) the word at an argument's offset in
/// <c>seccomp_data</c> is its high half. A filter that compares the wrong word lets through exactly the values the
/// policy refuses: these tests attack that with values that differ only in one half, on every architecture, and check
/// the compiled filter (in Syscage's interpreter and in the independent <see cref="ReferenceBpf"/> over an image laid
/// out apart from <see cref="SeccompData"/>) against the reference evaluator.
/// </summary>
public sealed class ByteOrderTests(ITestOutputHelper output)
{
    private static string Show(BpfProgram p) => Disassembler.ToText(p.Instructions.AsSpan());

    private static int Nr(Architecture arch, string name) =>
        arch.Syscalls.TryGetNumber(name, out int nr) ? nr : throw new InvalidOperationException($"{arch} has no {name}");

    private static IEnumerable<uint> ArgumentLoads(BpfProgram p) =>
        p.Instructions.Where(i => i.Code == (BPF_LD | BPF_W | BPF_ABS) && i.K >= SeccompData.ArgsOffset).Select(i => i.K);

    /// <summary>The action of both interpreters, which must agree, for a call.</summary>
    private static SeccompAction Run(BpfProgram program, SeccompData data)
    {
        uint ours = Interpreter.Run(program, data).ReturnValue;
        uint reference = ReferenceBpf.Run(program.ToBytes(), ReferenceBpf.Image(data));
        Assert.True(ours == reference, $"{data}: Syscage's interpreter 0x{ours:x8}, the reference 0x{reference:x8}\n{Show(program)}");
        return new SeccompAction(ours);
    }

    public static TheoryData<string> Architectures => [.. Architecture.All.Select(a => a.Name)];

    /// <summary>
    /// socket(int domain): a rule refusing AF_VSOCK (40) compares the low half, which a big-endian ABI keeps in the
    /// argument's second word. Loading the first word instead would refuse <c>40 &lt;&lt; 32</c> (which the kernel
    /// reads as 0) and allow 40: the attacker's bypass.
    /// </summary>
    [Theory]
    [MemberData(nameof(Architectures))]
    public void ANarrowComparisonReadsTheLowHalfWhereTheAbiKeepsIt(string name)
    {
        var arch = Architecture.Parse(name);
        var b = new PolicyBuilder(SeccompAction.Allow, arch) { BadArchAction = SeccompAction.KillProcess };
        b.Add(arch, Nr(arch, "socket"), new Rule(Condition.Of(new ArgPredicate(0, ComparisonOp.Eq, 40, Width: 32)), SeccompAction.Errno(97)));
        var policy = b.Build();
        foreach (bool optimize in new[] { true, false })
        {
            var program = PolicyCompiler.Compile(policy, new CompileOptions { Optimize = optimize });
            uint low = arch.IsBigEndian ? SeccompData.ArgsOffset + 4u : SeccompData.ArgsOffset;
            Assert.True(ArgumentLoads(program).All(k => k == low), $"{name}: expected every argument load at {low}\n{Show(program)}");
            int socket = Nr(arch, "socket");
            Assert.Equal(SeccompAction.Errno(97), Run(program, new SeccompData(socket, arch.AuditArch, 0, 40)));
            Assert.Equal(SeccompAction.Errno(97), Run(program, new SeccompData(socket, arch.AuditArch, 0, 0xffff_ffff_0000_0028)));
            Assert.Equal(SeccompAction.Allow, Run(program, new SeccompData(socket, arch.AuditArch, 0, 40UL << 32)));
            Assert.Equal(SeccompAction.Allow, Run(program, new SeccompData(socket, arch.AuditArch, 0, 41)));
        }
    }

    /// <summary>
    /// A 64-bit comparison (on a 64-bit ABI) tests the high half first, wherever the ABI keeps it: values equal in one
    /// half and different in the other must be told apart, both ways round.
    /// </summary>
    [Theory]
    [MemberData(nameof(Architectures))]
    public void AWideComparisonTellsApartValuesThatDifferInOneHalf(string name)
    {
        var arch = Architecture.Parse(name);
        const ulong value = 0x0000_0007_0000_0005;
        var b = new PolicyBuilder(SeccompAction.Allow, arch) { BadArchAction = SeccompAction.KillProcess };
        int nr = arch.Syscalls.All[0].Number;
        b.Add(arch, nr, new Rule(Condition.Of(new ArgPredicate(2, ComparisonOp.Eq, value)), SeccompAction.Errno(1)));
        b.Add(arch, nr, new Rule(Condition.Of(new ArgPredicate(3, ComparisonOp.Gt, value)), SeccompAction.Errno(2)));
        b.Add(arch, nr, new Rule(Condition.Of(new ArgPredicate(4, ComparisonOp.MaskedEq, 0x0000_0001_0000_0000, 0x0000_0001_0000_0001)), SeccompAction.Errno(3)));
        var policy = b.Build();
        var program = PolicyCompiler.Compile(policy);
        SeccompAction Call(ulong a2, ulong a3, ulong a4) => Run(program, new SeccompData(nr, arch.AuditArch, 0, 0, 0, a2, a3, a4));
        if (arch.Is64Bit)
        {
            Assert.Equal(SeccompAction.Errno(1), Call(value, 0, 0));
            Assert.Equal(SeccompAction.Allow, Call(0x0000_0005_0000_0007, 0, 0));   // the halves swapped
            Assert.Equal(SeccompAction.Allow, Call(0x0000_0005, 0, 0));             // only the low half
            Assert.Equal(SeccompAction.Allow, Call(0x0000_0007_0000_0000, 0, 0));   // only the high half
            Assert.Equal(SeccompAction.Errno(2), Call(0, 0x0000_0008_0000_0000, 0));
            Assert.Equal(SeccompAction.Allow, Call(0, 0x0000_0006_ffff_ffff, 0));
            Assert.Equal(SeccompAction.Errno(3), Call(0, 0, 0x0000_0001_0000_0000));
            Assert.Equal(SeccompAction.Allow, Call(0, 0, 0x0000_0000_0000_0001));
            Assert.Contains(SeccompData.ArgsOffset + 16u, ArgumentLoads(program));
            Assert.Contains(SeccompData.ArgsOffset + 20u, ArgumentLoads(program));
        }
        else
        {
            // A 32-bit ABI: only the low halves reach the syscall, so only they are compared, wherever they are.
            // (At 32 bits the MASKED_EQ rule is (arg4 & 1) == 0: an odd arg4 keeps it from matching.)
            Assert.Equal(SeccompAction.Errno(1), Call(0x5, 0, 1));
            Assert.Equal(SeccompAction.Errno(1), Call(0xdead_beef_0000_0005, 0, 1));
            Assert.Equal(SeccompAction.Allow, Call(0x0000_0005_0000_0007, 0, 1));
            Assert.Equal(SeccompAction.Errno(2), Call(0, 6, 1));
            Assert.Equal(SeccompAction.Allow, Call(0, 0x0000_0008_0000_0000, 1));
            Assert.Equal(SeccompAction.Errno(3), Call(0, 0, 0x0000_0001_0000_0000));
            uint low = arch.IsBigEndian ? 4u : 0u;
            Assert.True(ArgumentLoads(program).All(k => (k & 4) == low), $"{name}: a 32-bit ABI's filter loads only low halves\n{Show(program)}");
        }
        var report = EquivalenceChecker.Check(policy, program);
        Assert.True(report.Equivalent, $"{name}: {report.MismatchCount} mismatches, first {(report.Mismatches.Count > 0 ? report.Mismatches[0] : null)}\n{Show(program)}");
    }

    /// <summary>
    /// Random policies over every architecture, optimised and not: the equivalence checker (which sweeps each
    /// comparison's half-word edges) and random calls in both interpreters. Every architecture is drawn as the first
    /// of a pool, big- and little-endian ones mixed in one filter.
    /// </summary>
    [Fact]
    public void RandomPoliciesOverEveryArchitectureAgreeWithTheEvaluator()
    {
        var rng = new Random(2026);
        long vectors = 0;
        int policies = 0;
        foreach (var first in Architecture.All)
        {
            for (int i = 0; i < 2; i++)
            {
                var pool = new[] { first }.Concat(Architecture.All.Where(a => a != first && rng.Next(8) == 0)).ToList();
                var policy = RandomPolicies.Policy(rng, maxSyscalls: 12, pool);
                foreach (bool optimize in new[] { true, false })
                {
                    var program = PolicyCompiler.Compile(policy, new CompileOptions { Optimize = optimize });
                    var report = EquivalenceChecker.Check(policy, program);
                    vectors += report.Vectors;
                    Assert.True(report.Equivalent,
                        $"{first} policy {i} optimize={optimize}: {report.MismatchCount} mismatches, first {(report.Mismatches.Count > 0 ? report.Mismatches[0] : null)}\n{Show(program)}");
                    for (int n = 0; n < 200; n++)
                    {
                        var data = RandomPolicies.Call(rng, policy);
                        Assert.Equal(policy.Evaluate(data).Action, Run(program, data));
                    }
                }
                policies++;
            }
        }
        output.WriteLine($"{policies} policies over {Architecture.All.Count} architectures, {vectors} checked vectors");
    }
}
