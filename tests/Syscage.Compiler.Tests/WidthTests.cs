using Syscage.Bpf;
using Syscage.Policy;
using Syscage.Policy.Compiler;
using Syscage.Abi;
using static Syscage.Bpf.Opcode;

namespace Syscage.Compiler.Tests;

/// <summary>
/// Comparisons made at the width the kernel reads an argument: the compiled code tests only the low half for 32 bits
/// and the low half under a mask below, and agrees with the reference evaluator on every interesting value.
/// </summary>
public sealed class WidthTests
{
    private static string Show(BpfProgram p) => Disassembler.ToText(p.Instructions.AsSpan());

    private static int Nr(Architecture arch, string name) =>
        arch.Syscalls.TryGetNumber(name, out int nr) ? nr : throw new InvalidOperationException($"{arch} has no {name}");

    private static (SeccompPolicy Policy, BpfProgram Program) Compile(Architecture arch, string syscall, ArgPredicate p, bool optimize = true)
    {
        var b = new PolicyBuilder(SeccompAction.Allow, arch) { BadArchAction = SeccompAction.KillProcess };
        b.Add(syscall, new Rule(Condition.Of(p), SeccompAction.Errno(97)));
        var policy = b.Build();
        var program = PolicyCompiler.Compile(policy, new CompileOptions { Optimize = optimize });
        var report = EquivalenceChecker.Check(policy, program);
        Assert.True(report.Equivalent, $"{report.MismatchCount} mismatches, first {(report.Mismatches.Count > 0 ? report.Mismatches[0] : null)}\n{Show(program)}");
        return (policy, program);
    }

    private static int Loads(BpfProgram p, uint offset) =>
        p.Instructions.Count(i => i.Code == (BPF_LD | BPF_W | BPF_ABS) && i.K == offset);

    private static SeccompAction Run(BpfProgram p, Architecture arch, string syscall, params ulong[] args) =>
        Interpreter.Run(p, new SeccompData(Nr(arch, syscall), arch.AuditArch, 0, args)).Action;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A32BitComparisonTestsTheLowHalfOnly(bool optimize)
    {
        // socket(int domain, ...): the kernel's wrapper drops the high half, so (1 << 32) | AF_VSOCK is AF_VSOCK.
        var (_, narrow) = Compile(Architecture.X86_64, "socket", new ArgPredicate(0, ComparisonOp.Eq, 40, Width: 32), optimize);
        var (_, wide) = Compile(Architecture.X86_64, "socket", new ArgPredicate(0, ComparisonOp.Eq, 40), optimize);
        Assert.True(Loads(narrow, SeccompData.ArgsOffset + 4) == 0, Show(narrow));
        Assert.True(Loads(wide, SeccompData.ArgsOffset + 4) == 1, Show(wide));
        Assert.True(narrow.Length < wide.Length, $"{narrow.Length} vs {wide.Length} instructions");
        Assert.Equal(SeccompAction.Errno(97), Run(narrow, Architecture.X86_64, "socket", 0x1_0000_0028, 1, 0));
        Assert.Equal(SeccompAction.Errno(97), Run(narrow, Architecture.X86_64, "socket", 0xffff_ffff_0000_0028, 1, 0));
        Assert.Equal(SeccompAction.Allow, Run(narrow, Architecture.X86_64, "socket", 0x29, 1, 0));
        Assert.Equal(SeccompAction.Allow, Run(wide, Architecture.X86_64, "socket", 0x1_0000_0028, 1, 0));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A16BitComparisonMasksTheLowHalf(bool optimize)
    {
        // chmod(path, umode_t mode): 0x10000 | 04755 is 04755 to the kernel.
        foreach (var arch in new[] { Architecture.X86_64, Architecture.X86 })
        {
            var (_, program) = Compile(arch, "chmod", new ArgPredicate(1, ComparisonOp.Eq, 0x9ed, Width: 16), optimize);
            Assert.True(program.Instructions.Any(i => i.Code == (BPF_ALU | BPF_AND | BPF_K) && i.K == 0xffff), Show(program));
            Assert.True(Loads(program, SeccompData.ArgsOffset + 8 + 4) == 0, Show(program));
            Assert.Equal(SeccompAction.Errno(97), Run(program, arch, "chmod", 0, 0x1_09ed));
            Assert.Equal(SeccompAction.Errno(97), Run(program, arch, "chmod", 0, 0xffff_0000_0000_09ed));
            Assert.Equal(SeccompAction.Allow, Run(program, arch, "chmod", 0, 0x1a4));
        }
    }

    [Fact]
    public void NarrowedRangesAndMasksAreReducedToTheWidth()
    {
        // mode > 0xffff can never hold at 16 bits: the rule disappears, only the default is left.
        var (_, never) = Compile(Architecture.X86_64, "chmod", new ArgPredicate(1, ComparisonOp.Gt, 0xffff, Width: 16));
        Assert.True(never.Instructions.All(i => i.Code != (BPF_LD | BPF_W | BPF_ABS) || i.K < SeccompData.ArgsOffset), Show(never));
        // MASKED_EQ at 32 bits with a mask that has high bits: only the low half is tested.
        var (policy, masked) = Compile(Architecture.X86_64, "ioctl", new ArgPredicate(1, ComparisonOp.MaskedEq, 0x5412, 0xffff_ffff_ffff_ffff, 32));
        Assert.True(Loads(masked, SeccompData.ArgsOffset + 8 + 4) == 0, Show(masked));
        Assert.Equal(SeccompAction.Errno(97), Run(masked, Architecture.X86_64, "ioctl", 0, 0xdead_0000_0000_5412));
        Assert.Equal(SeccompAction.Errno(97), policy.Evaluate(new SeccompData(Nr(Architecture.X86_64, "ioctl"), AuditArch.AUDIT_ARCH_X86_64, 0, 0, 0xdead_0000_0000_5412)).Action);
        // A mask with bits above the width only: no check at all, the rule always holds.
        var (_, above) = Compile(Architecture.X86_64, "socket", new ArgPredicate(0, ComparisonOp.MaskedEq, 0, 0xffff_0000_0000, 32));
        Assert.Equal(SeccompAction.Errno(97), Run(above, Architecture.X86_64, "socket", 0xffff_0000_0000, 0, 0));
    }

    [Fact]
    public void InterestingValuesReachAcrossTheWidth()
    {
        var int32 = new ArgPredicate(0, ComparisonOp.Eq, 0x28, Width: 32).InterestingValues().ToHashSet();
        Assert.Superset(new HashSet<ulong> { 0x28, 0x27, 0x29, 0x1_0000_0028, 0xffff_ffff_0000_0028, 0xffff_ffff, 0x1_0000_0000, 0x7fff_ffff, 0x8000_0000 }, int32);
        var mode16 = new ArgPredicate(1, ComparisonOp.Gt, 0x1ff, Width: 16).InterestingValues().ToHashSet();
        Assert.Superset(new HashSet<ulong> { 0x1ff, 0x200, 0x1_01ff, 0xffff, 0x1_0000, 0x7fff, 0x8000, 0xffff_ffff_ffff_01ff }, mode16);
        // A 64-bit comparison's values include the 32-bit ones too: on a 32-bit ABI it is made at 32 bits.
        var wide = new ArgPredicate(0, ComparisonOp.Eq, 0x1_0000_0005).InterestingValues().ToHashSet();
        Assert.Contains(5UL, wide);
        Assert.Contains(0x2_0000_0005UL, wide);
    }

    [Fact]
    public void EveryWidthAndOperatorAgreesWithTheEvaluatorOnBothAbis()
    {
        // Optimised and not, for each width and operator, on a value at each edge: the equivalence checker sweeps
        // the interesting values of the predicate on x86_64 and x86.
        ulong[] values = [0, 0x28, 0x7fff, 0x8000, 0xffff, 0x1_0000, 0x7fff_ffff, 0xffff_ffff, 0x1_0000_0028, 0xffff_ffff_ffff_ffff];
        int programs = 0;
        foreach (int width in new[] { 8, 16, 32, 64 })
            foreach (ComparisonOp op in Enum.GetValues<ComparisonOp>())
                foreach (ulong v in values)
                {
                    var b = new PolicyBuilder(SeccompAction.Allow, Architecture.X86_64, Architecture.X86);
                    b.Add("fchmod", new Rule(Condition.Of(new ArgPredicate(1, op, v, op == ComparisonOp.MaskedEq ? v ^ 0x1_ff00 : ulong.MaxValue, width)), SeccompAction.Errno(13)));
                    var policy = b.Build();
                    foreach (bool optimize in new[] { true, false })
                    {
                        var program = PolicyCompiler.Compile(policy, new CompileOptions { Optimize = optimize });
                        var report = EquivalenceChecker.Check(policy, program);
                        if (!report.Equivalent)
                            Assert.Fail($"width {width} {op} 0x{v:x} optimize={optimize}: {report.Mismatches[0]}\n{Show(program)}");
                        programs++;
                    }
                }
        Assert.Equal(4 * 7 * values.Length * 2, programs);
    }
}
