using System.Numerics;
using Syscage.Abi;
using Syscage.Policy;
using Syscage.Policy.Compiler;

namespace Syscage.Compiler.Tests;

/// <summary>
/// What <see cref="EquivalenceReport"/> says about its own coverage: every combination of the argument edges when there
/// are few enough, and when there are not, that it sampled and out of how many.
/// </summary>
public sealed class EquivalenceCheckerTests
{
    /// <summary>x86_64 only: <c>ALLOW read if</c> all of <paramref name="predicates"/>, everything else ERRNO(EPERM).</summary>
    private static SeccompPolicy ReadIf(params ArgPredicate[] predicates)
    {
        var b = new PolicyBuilder(SeccompAction.Errno(1), Architecture.X86_64);
        b.Add("read", new Rule(Condition.All(predicates.Select(Condition.Of)), SeccompAction.Allow));
        return b.Build();
    }

    /// <summary>The size of the argument product the checker should draw from, counted here from the predicates' own edges.</summary>
    private static BigInteger Product(ArgPredicate[] predicates) =>
        predicates.GroupBy(p => p.Arg)
            .Select(g => g.SelectMany(p => p.InterestingValues()).Distinct().Count())
            .Aggregate(BigInteger.One, (acc, n) => acc * n);

    private static EquivalenceReport Check(SeccompPolicy policy) => EquivalenceChecker.Check(policy, PolicyCompiler.Compile(policy));

    /// <summary>The same numbers and architectures without argument rules: what the check compares besides the product.</summary>
    private static readonly EquivalenceReport Baseline = Check(ReadIf());

    [Fact]
    public void Few_combinations_are_all_compared()
    {
        ArgPredicate[] predicates = [new(0, ComparisonOp.Eq, 5), new(2, ComparisonOp.Gt, 7)];
        var report = Check(ReadIf(predicates));
        var product = Product(predicates);
        Assert.True(product <= EquivalenceChecker.MaxCombinationsPerSyscall, $"{product} combinations: more than the test means");
        Assert.True(report.Equivalent);
        Assert.False(report.Sampled);
        Assert.Equal(0, report.SampledSyscalls);
        Assert.Equal(Baseline.Vectors + product, report.Combinations);
        Assert.Equal(report.Combinations, report.Vectors);
    }

    [Fact]
    public void Above_the_cap_the_report_says_it_sampled_and_out_of_how_many()
    {
        ArgPredicate[] predicates =
        [
            new(0, ComparisonOp.Ge, 3), new(0, ComparisonOp.Ne, 0x1_0000_0005), new(0, ComparisonOp.Ne, 0x4242),
            new(1, ComparisonOp.Lt, 0x7000), new(1, ComparisonOp.Ne, 0x1234_0000_0000), new(1, ComparisonOp.Ne, 0x7fff_0000),
            new(2, ComparisonOp.MaskedEq, 0x10, 0xf0), new(2, ComparisonOp.Le, 0x8000_0000_0000), new(2, ComparisonOp.Ne, 0xdead_beef_0000),
        ];
        var report = Check(ReadIf(predicates));
        var product = Product(predicates);
        Assert.True(product > EquivalenceChecker.MaxCombinationsPerSyscall, $"only {product} combinations: the test means more");
        Assert.True(report.Equivalent);
        Assert.True(report.Sampled);
        Assert.Equal(1, report.SampledSyscalls);
        Assert.Equal(Baseline.Vectors + product, report.Combinations);
        Assert.True(report.Vectors < report.Combinations, $"{report.Vectors} compared of {report.Combinations}");
        // The sample: the single-argument variations and at most the cap of random combinations, none twice.
        long sample = report.Vectors - Baseline.Vectors;
        long variations = predicates.GroupBy(p => p.Arg).Sum(g => g.SelectMany(p => p.InterestingValues()).Distinct().Count());
        Assert.InRange(sample, EquivalenceChecker.MaxCombinationsPerSyscall / 2, EquivalenceChecker.MaxCombinationsPerSyscall + variations);
    }

    [Fact]
    public void Six_arguments_of_many_edges_do_not_overflow_the_count()
    {
        // 6 arguments × 200 comparisons, more than 2^63 combinations (and more tests than the compiler takes: the
        // program compared is the one without argument rules, for the count alone).
        var predicates = Enumerable.Range(0, 6)
            .SelectMany(arg => Enumerable.Range(1, 200).Select(k => new ArgPredicate(arg, ComparisonOp.Ne, (ulong)k * 0x1_0000_1001)))
            .ToArray();
        var product = Product(predicates);
        Assert.True(product > long.MaxValue, $"only {product} combinations");
        var policy = ReadIf(predicates);
        var report = EquivalenceChecker.Check(policy, PolicyCompiler.Compile(ReadIf()));
        Assert.True(report.Sampled);
        Assert.Equal(Baseline.Vectors + product, report.Combinations);
        Assert.True(report.Vectors - Baseline.Vectors > EquivalenceChecker.MaxCombinationsPerSyscall / 2, $"only {report.Vectors - Baseline.Vectors} argument vectors compared");
    }
}
