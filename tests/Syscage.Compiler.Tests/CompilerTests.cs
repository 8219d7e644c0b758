using Syscage.Bpf;
using Syscage.Policy;
using Syscage.Policy.Compiler;
using Syscage.Abi;
using Syscage.Testing;
using Xunit.Abstractions;

namespace Syscage.Compiler.Tests;

/// <summary>The compiled program against the IR's reference evaluator, optimised and not, on random policies.</summary>
public sealed class CompilerTests(ITestOutputHelper output)
{
    private static string Show(BpfProgram p) => Disassembler.ToText(p.Instructions.AsSpan());

    [Theory]
    [InlineData(1, 50)]
    [InlineData(2, 50)]
    [InlineData(3, 50)]
    public void RandomPoliciesAreEquivalentToTheirPrograms(int seed, int count)
    {
        var rng = new Random(seed);
        long vectors = 0;
        for (int i = 0; i < count; i++)
        {
            var policy = RandomPolicies.Policy(rng);
            foreach (bool optimize in new[] { true, false })
            {
                var program = PolicyCompiler.Compile(policy, new CompileOptions { Optimize = optimize });
                var report = EquivalenceChecker.Check(policy, program);
                vectors += report.Vectors;
                if (!report.Equivalent)
                    Assert.Fail($"seed {seed} policy {i} optimize={optimize}: {report.MismatchCount} mismatches, first {report.Mismatches[0]}\n{Show(program)}");
            }
        }
        output.WriteLine($"{count} policies, {vectors} vectors, 0 mismatches");
    }

    [Fact]
    public void OptimisedUnoptimisedAndAnIndependentInterpreterAgreeOnRandomCalls()
    {
        var rng = new Random(77);
        int calls = 0;
        for (int i = 0; i < 100; i++)
        {
            var policy = RandomPolicies.Policy(rng);
            var fast = PolicyCompiler.Compile(policy);
            var slow = PolicyCompiler.Compile(policy, new CompileOptions { Optimize = false });
            byte[] fastBytes = fast.ToBytes();
            for (int n = 0; n < 300; n++)
            {
                var data = RandomPolicies.Call(rng, policy);
                uint expected = policy.Evaluate(data).Action.Value;
                uint a = Interpreter.Run(fast, data).ReturnValue;
                uint b = Interpreter.Run(slow, data).ReturnValue;
                uint c = ReferenceBpf.Run(fastBytes, data.ToBytes());
                Assert.True(expected == a && a == b && b == c, $"policy {i}: {data}: evaluator 0x{expected:x8} optimised 0x{a:x8} unoptimised 0x{b:x8} reference 0x{c:x8}\n{Show(fast)}");
                calls++;
            }
        }
        output.WriteLine($"{calls} random calls agreed");
    }

    [Fact]
    public void X32NumbersNeverReachX86_64Rules()
    {
        var b = new PolicyBuilder(SeccompAction.Errno(1), Architecture.X86_64) { BadArchAction = SeccompAction.KillProcess };
        b.Add("read", new Rule(Condition.True, SeccompAction.Allow));
        var p = PolicyCompiler.Compile(b.Build());
        Assert.Equal(SeccompAction.Allow, Interpreter.Run(p, new SeccompData(0, AuditArch.AUDIT_ARCH_X86_64)).Action);
        Assert.Equal(SeccompAction.KillProcess, Interpreter.Run(p, new SeccompData(0x4000_0000, AuditArch.AUDIT_ARCH_X86_64)).Action);
        Assert.Equal(SeccompAction.Errno(1), Interpreter.Run(p, new SeccompData(-1, AuditArch.AUDIT_ARCH_X86_64)).Action);
        Assert.Equal(SeccompAction.KillProcess, Interpreter.Run(p, new SeccompData(3, AuditArch.AUDIT_ARCH_I386)).Action);
    }

    [Fact]
    public void HighHalvesAreCompared()
    {
        var b = new PolicyBuilder(SeccompAction.Errno(1), Architecture.X86_64, Architecture.X86);
        b.Add("kill", new Rule(Condition.Of(new ArgPredicate(0, ComparisonOp.Eq, 5)), SeccompAction.Allow));
        var p = PolicyCompiler.Compile(b.Build());
        int kill64 = Architecture.X86_64.Syscalls.TryGetNumber("kill", out int k) ? k : -1;
        int kill32 = Architecture.X86.Syscalls.TryGetNumber("kill", out int k32) ? k32 : -1;
        Assert.Equal(SeccompAction.Allow, Interpreter.Run(p, new SeccompData(kill64, AuditArch.AUDIT_ARCH_X86_64, 0, 5)).Action);
        Assert.Equal(SeccompAction.Errno(1), Interpreter.Run(p, new SeccompData(kill64, AuditArch.AUDIT_ARCH_X86_64, 0, 0x1_0000_0005)).Action);
        // On i386 only the low half exists: the kernel zero-extends, the policy compares 32 bits.
        Assert.Equal(SeccompAction.Allow, Interpreter.Run(p, new SeccompData(kill32, AuditArch.AUDIT_ARCH_I386, 0, 5)).Action);
    }

    [Fact]
    public void LongJumpsAreBridged()
    {
        // Hundreds of syscalls with distinct argument checks push shared returns past 255 instructions.
        var b = new PolicyBuilder(SeccompAction.Errno(1), Architecture.X86_64);
        var rng = new Random(5);
        foreach (var s in Architecture.X86_64.Syscalls.All.Take(300))
            b.Add(Architecture.X86_64, s.Number, new Rule(Condition.Of(new ArgPredicate(rng.Next(6), ComparisonOp.Gt, (ulong)rng.NextInt64())), SeccompAction.Errno((ushort)(s.Number % 50 + 2))));
        var policy = b.Build();
        var program = PolicyCompiler.Compile(policy);
        Assert.True(program.Length > 600, $"only {program.Length} instructions");
        var report = EquivalenceChecker.Check(policy, program);
        Assert.True(report.Equivalent, report.Mismatches.Count > 0 ? report.Mismatches[0].ToString() : "");
        output.WriteLine($"{program.Length} instructions, {report.Vectors} vectors");
    }

    [Fact]
    public void AlwaysAllowedSyscallsAreKernelCacheable()
    {
        var b = new PolicyBuilder(SeccompAction.Errno(1), Architecture.X86_64, Architecture.X86, Architecture.X32);
        foreach (var name in new[] { "read", "write", "close", "futex", "getpid", "mmap", "openat" })
            b.Add(name, new Rule(Condition.True, SeccompAction.Allow));
        b.Add("ioctl", new Rule(Condition.Of(new ArgPredicate(1, ComparisonOp.Eq, 0x5401)), SeccompAction.Allow));
        var policy = b.Build();
        var program = PolicyCompiler.Compile(policy);
        foreach (var section in policy.Sections)
        {
            foreach (var (nr, rules) in section.Syscalls)
            {
                bool always = rules.Any(r => r.Condition.IsTrue && r.Action == SeccompAction.Allow);
                Assert.Equal(always, ActionCache.IsConstAllow(program, section.Architecture.AuditArch, nr));
            }
        }
    }

    [Fact]
    public void TooLargeAPolicyIsAClearError()
    {
        var b = new PolicyBuilder(SeccompAction.Errno(1), Architecture.X86_64);
        foreach (var s in Architecture.X86_64.Syscalls.All)
            for (int i = 0; i < 4; i++)
                b.Add(Architecture.X86_64, s.Number, new Rule(Condition.Of(new ArgPredicate(i, ComparisonOp.MaskedEq, ((ulong)s.Number << 40) | (ulong)s.Number << 8, 0xff00_ff00_ff00_ff00)), SeccompAction.Errno(5)));
        var e = Assert.Throws<PolicyCompileException>(() => PolicyCompiler.Compile(b.Build()));
        Assert.Contains("the kernel allows at most 4096", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TooManyArgumentTestsOnOneSyscallAreRefusedAtTheRuleThatCrossesTheLimit()
    {
        // Twenty thousand rules for one syscall used to recurse through the graph passes until the stack overflowed;
        // identical tests (which compile small once shared) count too: the bound is on the input, before any pass.
        var read = Architecture.X86_64.Syscalls.All.First(s => s.Name == "read").Number;
        foreach (int rules in new[] { InputLimits.MaxArgumentTestsPerSyscall, 20_000 })
        {
            var b = new PolicyBuilder(SeccompAction.Allow, Architecture.X86_64);
            for (int i = 0; i < rules; i++)
                b.Add(Architecture.X86_64, read, new Rule(Condition.Of(new ArgPredicate(0, ComparisonOp.Eq, (ulong)i % 2)), SeccompAction.Errno(1),
                    new PolicySource("many.policy", i + 1, 3)));
            var policy = b.Build();
            if (rules == InputLimits.MaxArgumentTestsPerSyscall)
            {
                var program = PolicyCompiler.Compile(policy);
                Assert.True(EquivalenceChecker.Check(policy, program).Equivalent, Show(program));
                continue;
            }
            var e = Assert.Throws<PolicyCompileException>(() => PolicyCompiler.Compile(policy));
            Assert.Equal($"many.policy:{InputLimits.MaxArgumentTestsPerSyscall + 1}:3: read on x86_64: the rules test its arguments more than 1024 times, the most a filter holds for one syscall", e.Message);
        }
    }
}

/// <summary>The specialiser: a test whose outcome earlier tests settled is not made again on that path.</summary>
public sealed class SpecializerTests
{
    [Fact]
    public void AlternativesOnOneArgumentTestTheHighHalfOnce()
    {
        var b = new PolicyBuilder(SeccompAction.Errno(1), Architecture.X86_64);
        var values = new ulong[] { 0, 8, 0x20000, 0x20008, 0xffffffff };
        b.Add("personality", new Rule(Condition.Any(values.Select(v => Condition.Of(new ArgPredicate(0, ComparisonOp.Eq, v)))), SeccompAction.Allow));
        var policy = b.Build();
        var program = PolicyCompiler.Compile(policy);
        Assert.True(EquivalenceChecker.Check(policy, program).Equivalent);
        Architecture.X86_64.Syscalls.TryGetNumber("personality", out int nr);
        int highLoads = 0;
        var result = Interpreter.Run(program, new SeccompData(nr, AuditArch.AUDIT_ARCH_X86_64, 0, 0x12345), step =>
        {
            if (step.Instruction.Code == (Opcode.BPF_LD | Opcode.BPF_W | Opcode.BPF_ABS) && step.Instruction.K == SeccompData.ArgsOffset + 4)
                highLoads++;
        });
        Assert.Equal(SeccompAction.Errno(1), result.Action);
        Assert.Equal(1, highLoads);
        // Unoptimised, every alternative reloads and re-tests the high half.
        var plain = PolicyCompiler.Compile(policy, new CompileOptions { Optimize = false });
        int plainHighLoads = 0;
        Interpreter.Run(plain, new SeccompData(nr, AuditArch.AUDIT_ARCH_X86_64, 0, 0x12345), step =>
        {
            if (step.Instruction.Code == (Opcode.BPF_LD | Opcode.BPF_W | Opcode.BPF_ABS) && step.Instruction.K == SeccompData.ArgsOffset + 4)
                plainHighLoads++;
        });
        Assert.Equal(values.Length, plainHighLoads);
    }
}
