using Syscage.Bpf;
using Syscage.Policy.Compiler;
using Syscage.Policy.Fluent;
using Syscage.Abi;
using static Syscage.Policy.Tests.PolicyAssert;
using Syscage.Policy.Builtin;

namespace Syscage.Policy.Tests;

/// <summary>
/// Comparisons at the width the kernel reads the argument, in the IR (the reference evaluator), the C# API,
/// <c>explain</c> and PFC. The policy language's cases are vectors: tests/vectors/policy/widths.vectors.
/// </summary>
public class WidthTests
{
    [Theory]
    // Width, op, value, mask, argument, on x86_64 / on x86.
    [InlineData(32, ComparisonOp.Eq, 0x28UL, ulong.MaxValue, 0x1_0000_0028UL, true, true)]
    [InlineData(64, ComparisonOp.Eq, 0x28UL, ulong.MaxValue, 0x1_0000_0028UL, false, true)]
    [InlineData(32, ComparisonOp.Eq, 0xffff_ffff_ffff_ffffUL, ulong.MaxValue, 0xffff_ffffUL, true, true)]   // fd == -1
    [InlineData(16, ComparisonOp.Eq, 0x9edUL, ulong.MaxValue, 0x1_09edUL, true, true)]
    [InlineData(16, ComparisonOp.Gt, 0x1ffUL, ulong.MaxValue, 0x1_01ffUL, false, false)]
    [InlineData(16, ComparisonOp.Lt, 0x200UL, ulong.MaxValue, 0xffff_0000_0000_0100UL, true, true)]
    [InlineData(32, ComparisonOp.Ge, 0x8000_0000UL, ulong.MaxValue, 0x7fff_ffff_8000_0000UL, true, true)]
    [InlineData(32, ComparisonOp.MaskedEq, 0x5412UL, 0xffff_ffff_ffff_ffffUL, 0xdead_0000_0000_5412UL, true, true)]
    [InlineData(32, ComparisonOp.MaskedEq, 0UL, 0x1_0000_0000UL, 0x1_0000_0000UL, true, true)]          // no bit of the mask is read
    [InlineData(64, ComparisonOp.MaskedEq, 0UL, 0x1_0000_0000UL, 0x1_0000_0000UL, false, true)]
    [InlineData(8, ComparisonOp.Ne, 0x7fUL, ulong.MaxValue, 0x17fUL, false, false)]
    public void TheEvaluatorReducesBothSidesToTheWidth(int width, ComparisonOp op, ulong value, ulong mask, ulong arg, bool on64, bool on32)
    {
        var p = new ArgPredicate(0, op, value, mask, width);
        Assert.Equal(on64, p.Evaluate(arg, is64Bit: true));
        Assert.Equal(on32, p.Evaluate(arg, is64Bit: false));
    }

    [Fact]
    public void AtCapsTheWidthOnA32BitAbiAndReducesTheConstants()
    {
        var p = new ArgPredicate(1, ComparisonOp.MaskedEq, 0x1_0000_0800, 0xffff_ffff_ffff_ffff, 16);
        var made = p.At(is64Bit: true);
        Assert.Equal(16, made.Width);
        Assert.Equal(0x800UL, made.Value);
        Assert.Equal(0xffffUL, made.Mask);
        Assert.Equal(32, new ArgPredicate(0, ComparisonOp.Eq, 0x1_0000_0005).At(is64Bit: false).Width);
        Assert.Equal(5UL, new ArgPredicate(0, ComparisonOp.Eq, 0x1_0000_0005).At(is64Bit: false).Value);
        var already = new ArgPredicate(0, ComparisonOp.Eq, 5, Width: 32);
        Assert.Same(already, already.At(is64Bit: true));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ArgPredicate(0, ComparisonOp.Eq, 5, Width: 24));
        Assert.Throws<ArgumentOutOfRangeException>(() => already with { Width = 0 });
        Assert.NotEqual(new ArgPredicate(0, ComparisonOp.Eq, 5), already);
        Assert.Equal("arg0.lo32 == 5", already.ToString());
        Assert.Equal("arg0 == 5", new ArgPredicate(0, ComparisonOp.Eq, 5).ToString());
        Assert.Equal("(arg1.lo16 & 0xffff) == 0x800", made.ToString());
    }

    [Theory]
    [InlineData(0xffff_ffffUL, 32, true)]
    [InlineData(0x1_0000_0000UL, 32, false)]
    [InlineData(0xffff_ffff_ffff_ffffUL, 32, true)]      // -1
    [InlineData(0xffff_ffff_ffff_ff9cUL, 32, true)]      // AT_FDCWD
    [InlineData(0xffff_ffff_8000_0000UL, 32, true)]      // INT_MIN
    [InlineData(0xffff_ffff_7fff_ffffUL, 32, false)]     // INT_MIN - 1
    [InlineData(0xffffUL, 16, true)]
    [InlineData(0x1_0000UL, 16, false)]
    [InlineData(0xffff_ffff_ffff_8000UL, 16, true)]
    [InlineData(0x1234_5678_9abc_def0UL, 64, true)]
    public void AValueFitsAWidthUnsignedOrAsANegativeValueOfIt(ulong value, int bits, bool fits)
    {
        Assert.Equal(fits, ArgPredicate.Fits(value, bits));
    }

    [Fact]
    public void ForArgumentTakesTheWidthFromTheTableAndSaysWhatDoesNotFit()
    {
        Assert.True(Architecture.X86_64.Syscalls.TryGet("socket", out var socket));
        var p = ArgPredicate.ForArgument(socket, 0, ComparisonOp.Eq, 0x1_0000_0028, ulong.MaxValue, out string? misfit);
        Assert.Equal(new ArgPredicate(0, ComparisonOp.Eq, 0x28, Width: 32), p);
        Assert.Equal("0x100000028 does not fit socket's domain (int, 32 bits): the kernel reads only its low 32 bits, 0x28", misfit);
        var minusOne = ArgPredicate.ForArgument(socket, 0, ComparisonOp.Eq, ulong.MaxValue, ulong.MaxValue, out misfit);
        Assert.Null(misfit);
        Assert.Equal(0xffff_ffffUL, minusOne.Value);
        // An argument past the prototype, and a call the tables do not know, are read whole.
        Assert.Equal(64, ArgPredicate.ForArgument(socket, 4, ComparisonOp.Eq, 1, ulong.MaxValue, out _).Width);
        Assert.Equal(64, ArgPredicate.ForArgument(null, 0, ComparisonOp.Eq, 0x1_0000_0000, ulong.MaxValue, out misfit).Width);
        Assert.Null(misfit);
        Assert.True(Architecture.X86_64.Syscalls.TryGet("chmod", out var chmod));
        var mask = ArgPredicate.ForArgument(chmod, 1, ComparisonOp.MaskedEq, 0x800, 0x1_0800, out misfit);
        Assert.Equal(new ArgPredicate(1, ComparisonOp.MaskedEq, 0x800, 0x800, 16), mask);
        Assert.StartsWith("the mask 0x10800 does not fit chmod's mode (umode_t, 16 bits)", misfit, StringComparison.Ordinal);
    }

    [Fact]
    public void TheFluentApiComparesAtTheKernelsWidth()
    {
        var policy = FluentPolicy.DefaultAction(SeccompAction.Allow)
            .ForArchitectures(Architecture.X86_64, Architecture.X86)
            .Deny("socket", "EAFNOSUPPORT").When(a => a["domain"].Eq(40))
            .Deny("chmod", "EPERM").When(a => a.Arg(1).AnySet(0x800))
            .Build();
        var rule = policy.Sections[0].RulesFor(41).Single();
        Assert.Equal(Condition.Of(new ArgPredicate(0, ComparisonOp.Eq, 40, Width: 32)), rule.Condition);
        Assert.Equal(SeccompAction.Errno(97), policy.Evaluate(new SeccompData(41, AuditArch.AUDIT_ARCH_X86_64, 0, 0x1_0000_0028)).Action);
        Assert.Equal(SeccompAction.Errno(1), policy.Evaluate(new SeccompData(90, AuditArch.AUDIT_ARCH_X86_64, 0, 0, 0x1_0800)).Action);
        var e = Assert.Throws<ArgumentException>(() => FluentPolicy.DefaultAction(SeccompAction.Allow)
            .Deny("socket", "EPERM").When(a => a["domain"].Eq(0x1_0000_0028)).Build());
        Assert.Equal("0x100000028 does not fit socket's domain (int, 32 bits): the kernel reads only its low 32 bits, 0x28 (on x86_64)", e.Message);
    }

    [Fact]
    public void ExplainSaysWhenAComparisonWasNarrowedAndWhy()
    {
        var policy = BuiltinPolicies.Load("default");
        string text = PolicyExplainer.Explain(policy, "socket", [0x1_0000_0028, 1, 0], Architecture.X86_64);
        Assert.Contains("true   arg0.lo32 == 0x28     domain = 0x100000028 (AF_VSOCK; domain is int: compared on its low 32 bits, 0x28)", text);
        Assert.Contains("decision: ERRNO(97) (EAFNOSUPPORT)", text);
        var chmod = Parse("default ALLOW\nERRNO(EPERM) chmod if mode == 04755");
        string mode = PolicyExplainer.Explain(chmod, "chmod", [0, 0x1_09ed], Architecture.X86);
        Assert.Contains("arg1.lo16 == 0x9ed     mode = 0x109ed (mode is umode_t: compared on its low 16 bits, 0x9ed)", mode);
        // Not narrowed: a long, and a 64-bit IR predicate on an int argument (what an eBPF program compares).
        var wide = new PolicyBuilder(SeccompAction.Allow, Architecture.X86_64);
        wide.Add("socket", new Rule(Condition.Of(new ArgPredicate(0, ComparisonOp.Eq, 40)), SeccompAction.Errno(1)));
        Assert.DoesNotContain("compared on its low", PolicyExplainer.Explain(wide.Build(), "socket", [0x1_0000_0028]));
        Assert.DoesNotContain("compared on its low", PolicyExplainer.Explain(Parse("default ALLOW\nERRNO(EPERM) clone if flags == 1"), "clone", [0x1_0000_0001]));
    }

    [Fact]
    public void PseudoFilterCodeShowsTheBitsCompared()
    {
        string pfc = PseudoFilterCode.Render(Parse("""
            default ALLOW
            arch x86_64, x86
            ERRNO(EPERM) socket if domain == AF_VSOCK
            ERRNO(EPERM) chmod if mode == 04755
            ERRNO(EPERM) clone if flags == 0x11
            """));
        Assert.Contains("if ($a0.lo32 == 0x28)", pfc);
        Assert.Contains("if ($a1.lo16 == 0x9ed)", pfc);
        Assert.Contains("if ($a0 == 0x11)", pfc);          // x86_64's clone flags are unsigned long
        Assert.Contains("if ($a0.lo32 == 0x11)", pfc);     // x86: the register has 32 bits
    }
}
