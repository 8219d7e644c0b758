using System.Buffers;
using Syscage.Bpf;
using static Syscage.Bpf.Opcode;
using Syscage.Abi;

namespace Syscage.Policy.Compiler;

/// <summary>A run of syscall numbers (as unsigned 32-bit values) with one decision.</summary>
internal readonly record struct NumberRange(uint Low, uint High, DecisionNode Decision, double Weight);

/// <summary>
/// Dispatch on <c>seccomp_data.nr</c>: the number space is cut into maximal runs with the same decision and
/// searched with <c>JGE</c> tests laid out as an optimal binary search tree for the runs' weights (how many
/// of the architecture's real syscall numbers each run holds), so common numbers take few comparisons.
/// </summary>
internal static class NumberSearch
{
    /// <summary>Above this many runs the exact O(n²) tree gives way to weight-balanced splitting.</summary>
    private const int ExactLimit = 600;

    /// <summary>
    /// Merges <paramref name="pieces"/> (which must cover 0..2^32-1 without overlap) into maximal runs of the
    /// same decision, weighing each with <paramref name="weight"/>.
    /// </summary>
    public static List<NumberRange> Runs(IEnumerable<(uint Low, uint High, DecisionNode Decision)> pieces, Func<uint, uint, DecisionNode, double> weight)
    {
        var sorted = pieces.OrderBy(p => p.Low).ToList();
        var runs = new List<NumberRange>();
        foreach (var (low, high, decision) in sorted)
        {
            if (runs.Count > 0 && runs[^1].Decision == decision && runs[^1].High + 1 == low)
                runs[^1] = runs[^1] with { High = high, Weight = runs[^1].Weight + weight(low, high, decision) };
            else
                runs.Add(new NumberRange(low, high, decision, weight(low, high, decision)));
        }
        return runs;
    }

    /// <summary>Builds the search over <paramref name="runs"/> (which must cover 0..2^32-1 in order).</summary>
    public static DecisionNode Tree(DecisionGraph graph, IReadOnlyList<NumberRange> runs)
    {
        int n = runs.Count;
        if (n == 1)
            return runs[0].Decision;
        var prefix = new double[n + 1];
        for (int i = 0; i < n; i++)
            prefix[i + 1] = prefix[i] + runs[i].Weight;
        if (n > ExactLimit)
            return Balanced(graph, runs, prefix, 0, n - 1);

        // cost[i*n+j]: weighted comparisons to tell runs i..j apart; root[i*n+j]: the first run of the right
        // subtree. Flat arrays from the pool: per-compile n×n tables would land on the large-object heap.
        var cost = ArrayPool<double>.Shared.Rent(n * n);
        var root = ArrayPool<int>.Shared.Rent(n * n);
        try
        {
            for (int i = 0; i < n - 1; i++)
            {
                cost[i * n + i] = 0;
                cost[i * n + i + 1] = prefix[i + 2] - prefix[i];
                root[i * n + i + 1] = i + 1;
            }
            cost[(n - 1) * n + n - 1] = 0;
            for (int len = 3; len <= n; len++)
            {
                for (int i = 0; i + len - 1 < n; i++)
                {
                    int j = i + len - 1;
                    double best = double.MaxValue;
                    int bestRoot = i + 1;
                    // Knuth: the optimal root is monotone in i and j.
                    int from = Math.Max(i + 1, root[i * n + j - 1]), to = Math.Min(j, root[(i + 1) * n + j]);
                    for (int r = from; r <= to; r++)
                    {
                        double c = cost[i * n + r - 1] + cost[r * n + j];
                        if (c < best)
                        {
                            best = c;
                            bestRoot = r;
                        }
                    }
                    cost[i * n + j] = best + prefix[j + 1] - prefix[i];
                    root[i * n + j] = bestRoot;
                }
            }
            return Build(graph, runs, root, n, 0, n - 1);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(cost);
            ArrayPool<int>.Shared.Return(root);
        }
    }

    private static DecisionNode Build(DecisionGraph graph, IReadOnlyList<NumberRange> runs, int[] root, int n, int i, int j)
    {
        if (i == j)
            return runs[i].Decision;
        int r = root[i * n + j];
        return graph.Test(AValue.Word(SeccompData.NrOffset), BPF_JGE, runs[r].Low,
            Build(graph, runs, root, n, r, j), Build(graph, runs, root, n, i, r - 1));
    }

    private static DecisionNode Balanced(DecisionGraph graph, IReadOnlyList<NumberRange> runs, double[] prefix, int i, int j)
    {
        if (i == j)
            return runs[i].Decision;
        double half = (prefix[i] + prefix[j + 1]) / 2;
        int r = i + 1;
        while (r < j && prefix[r + 1] <= half)
            r++;
        return graph.Test(AValue.Word(SeccompData.NrOffset), BPF_JGE, runs[r].Low,
            Balanced(graph, runs, prefix, r, j), Balanced(graph, runs, prefix, i, r - 1));
    }

    /// <summary>The unoptimised dispatch: one <c>JEQ</c> per numbered decision in ascending order, then the rest.</summary>
    public static DecisionNode Chain(DecisionGraph graph, IEnumerable<(uint Nr, DecisionNode Decision)> decisions, DecisionNode otherwise) =>
        decisions.OrderByDescending(d => d.Nr).Aggregate(otherwise,
            (next, d) => graph.Test(AValue.Word(SeccompData.NrOffset), BPF_JEQ, d.Nr, d.Decision, next));
}
