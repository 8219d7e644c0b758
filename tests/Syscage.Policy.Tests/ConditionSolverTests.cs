namespace Syscage.Policy.Tests;

/// <summary>
/// The exact solver behind the lint's dead-rule check, against brute force: comparisons made at 8 bits depend on the
/// low byte of their argument only, so every value of two arguments (65,536 pairs) can be tried; comparisons at 8 and 16
/// bits on one argument, every value of its low 16 bits.
/// </summary>
public class ConditionSolverTests
{
    private static readonly ComparisonOp[] Ops = Enum.GetValues<ComparisonOp>();

    private static ArgPredicate RandomPredicate(Random rng, int arg, int width)
    {
        var op = Ops[rng.Next(Ops.Length)];
        ulong max = ArgPredicate.WidthMask(width);
        // Values near the edges and a few in between, so that comparisons meet.
        ulong[] pool = [0, 1, 2, 3, 0x7f, 0x80, 0xfe, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, (ulong)rng.Next(0, 256), (ulong)rng.Next(0, 65536)];
        ulong value = pool[rng.Next(pool.Length)] & max;
        ulong mask = op == ComparisonOp.MaskedEq ? (ulong)rng.Next(1, 1 << Math.Min(width, 16)) & max : ulong.MaxValue;
        return new ArgPredicate(arg, op, value, mask, width);
    }

    private static Condition RandomCondition(Random rng, Func<ArgPredicate> predicate, int depth)
    {
        if (depth == 0 || rng.Next(3) == 0)
            return Condition.Of(predicate());
        int n = rng.Next(1, 4);
        var parts = Enumerable.Range(0, n).Select(_ => RandomCondition(rng, predicate, depth - 1)).ToList();
        return rng.Next(3) switch
        {
            0 => Condition.All(parts),
            1 => Condition.Any(parts),
            _ => Condition.Not(parts[0]),
        };
    }

    [Fact]
    public void Two_arguments_at_8_bits_agree_with_every_value()
    {
        var rng = new Random(1234);
        int satisfiable = 0;
        for (int round = 0; round < 250; round++)
        {
            var c = RandomCondition(rng, () => RandomPredicate(rng, rng.Next(2), 8), 4);
            bool any = false;
            var args = new ulong[6];
            for (int a = 0; a < 256 && !any; a++)
                for (int b = 0; b < 256 && !any; b++)
                {
                    args[0] = (ulong)a;
                    args[1] = (ulong)b;
                    any = c.Evaluate(args, true);
                }
            var result = ConditionSolver.Solve(c, true, out var witness);
            Assert.True(result == (any ? Satisfiability.Satisfiable : Satisfiability.Unsatisfiable), $"{c}: brute force says {(any ? "satisfiable" : "unsatisfiable")}, the solver {result}");
            if (any)
            {
                Assert.True(c.Evaluate(witness!, true), $"{c}: the witness does not satisfy it");
                satisfiable++;
            }
        }
        // Both answers came up often enough to mean something.
        Assert.InRange(satisfiable, 50, 220);
    }

    [Fact]
    public void Mixed_widths_and_masks_on_one_argument_agree_with_every_value()
    {
        var rng = new Random(99);
        int satisfiable = 0;
        for (int round = 0; round < 300; round++)
        {
            var c = RandomCondition(rng, () => RandomPredicate(rng, 0, rng.Next(2) == 0 ? 8 : 16), 4);
            bool any = false;
            var args = new ulong[6];
            for (int a = 0; a < 65536 && !any; a++)
            {
                args[0] = (ulong)a;
                any = c.Evaluate(args, true);
            }
            var result = ConditionSolver.Solve(c, true, out var witness);
            Assert.True(result == (any ? Satisfiability.Satisfiable : Satisfiability.Unsatisfiable), $"{c}: brute force says {(any ? "satisfiable" : "unsatisfiable")}, the solver {result}");
            if (any)
                satisfiable++;
        }
        Assert.InRange(satisfiable, 50, 280);
    }

    [Fact]
    public void Every_cell_combination_is_represented()
    {
        // Cells: for any values, one cell gives every predicate the same truth.
        var rng = new Random(7);
        for (int round = 0; round < 100; round++)
        {
            var predicates = Enumerable.Range(0, rng.Next(1, 8)).Select(_ => RandomPredicate(rng, rng.Next(2), 8)).ToList();
            var cells = ConditionSolver.Cells(predicates, true, 1 << 16, new SolverBudget(SolverBudget.PerPolicy));
            Assert.NotNull(cells);
            var seen = cells.Select(c => string.Concat(predicates.Select(p => p.Evaluate(c[p.Arg]) ? '1' : '0'))).ToHashSet();
            for (int a = 0; a < 256; a++)
                for (int b = 0; b < 256; b++)
                {
                    ulong[] v = [(ulong)a, (ulong)b];
                    string truth = string.Concat(predicates.Select(p => p.Evaluate(v[p.Arg]) ? '1' : '0'));
                    Assert.True(seen.Contains(truth), $"values {a}, {b} give {truth}, which no cell gives ({string.Join("; ", predicates)})");
                }
        }
    }

    [Theory]
    [InlineData("arg0 == 1 && arg0 == 2", false)]
    [InlineData("arg0 < 5 && arg0 > 3", true)]
    [InlineData("arg0 < 5 && arg0 > 4", false)]
    [InlineData("(arg0 & 3) == 1 && (arg0 & 1) == 0", false)]
    [InlineData("(arg0 & 0xf0) == 0x30 && arg0 > 0x3f && arg0 < 0x100", false)]
    [InlineData("(arg0 & 0xf0) == 0x30 && arg0 > 0x3f", true)]
    [InlineData("(arg0 & 0xf0) == 0x30 && arg0 >= 0x3f", true)]
    [InlineData("arg0 != 0xffffffffffffffff && arg0 > 0xfffffffffffffffe", false)]
    [InlineData("arg0 == 1 || arg1 == 2", true)]
    [InlineData("!(arg0 == 1 || arg0 != 1)", false)]
    public void Sixty_four_bit_conditions(string condition, bool satisfiable)
    {
        var c = PolicyAssert.Parse($"default ALLOW\narch x86_64\nERRNO(1) read if {condition}").Sections[0].Syscalls.Values.Single()[0].Condition;
        Assert.Equal(satisfiable ? Satisfiability.Satisfiable : Satisfiability.Unsatisfiable, ConditionSolver.Solve(c, true, out _));
    }

    [Fact]
    public void A_32_bit_ABI_compares_the_low_halves()
    {
        // lseek's offset is a long: 64 bits on x86_64, the low 32 on x86, where 0x100000005 reads as 5.
        var wide = new ArgPredicate(1, ComparisonOp.Eq, 0x1_0000_0005);
        var low = new ArgPredicate(1, ComparisonOp.Eq, 5);
        var both = Condition.All(Condition.Of(wide), Condition.Not(Condition.Of(low)));
        Assert.Equal(Satisfiability.Satisfiable, ConditionSolver.Solve(both, true, out _));
        Assert.Equal(Satisfiability.Unsatisfiable, ConditionSolver.Solve(both, false, out _));
    }

    [Fact]
    public void A_budget_too_small_gives_undecided_never_a_wrong_answer()
    {
        // Five hundred comparisons on each of two arguments, pairwise: too many cells to list, so the search decides.
        var pairs = Enumerable.Range(0, 500).Select(i => Condition.All(Condition.Of(new ArgPredicate(0, ComparisonOp.Eq, (ulong)i)), Condition.Of(new ArgPredicate(1, ComparisonOp.Eq, (ulong)i))));
        var c = Condition.All([Condition.Of(new ArgPredicate(0, ComparisonOp.Eq, 7)), Condition.Of(new ArgPredicate(1, ComparisonOp.Eq, 7)), .. pairs.Select(Condition.Not)]);
        Assert.Null(ConditionSolver.Cells(c.Predicates(), true, RuleReachability.MaxCells, new SolverBudget(SolverBudget.PerPolicy)));
        Assert.Equal(Satisfiability.Unsatisfiable, ConditionSolver.Solve(c, true, out _, new SolverBudget(SolverBudget.PerPolicy)));
        Assert.Equal(Satisfiability.Undecided, ConditionSolver.Solve(c, true, out _, new SolverBudget(1 << 12)));
    }
}
