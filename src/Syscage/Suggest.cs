namespace Syscage;

/// <summary>"Did you mean" hints: the known names closest to a misspelt one by edit distance.</summary>
public static class Suggest
{
    /// <summary>
    /// Up to <paramref name="max"/> candidates within an edit distance of about a third of the name's length
    /// (at least 1, at most 3), closest first; ties keep the candidates' order.
    /// </summary>
    public static IEnumerable<string> Closest(string name, IEnumerable<string> candidates, int max)
    {
        int limit = Math.Clamp(name.Length / 3, 1, 3);
        return candidates
            .Select(c => (c, d: Distance(name.ToLowerInvariant(), c.ToLowerInvariant())))
            .Where(x => x.d <= limit)
            .OrderBy(x => x.d)
            .Take(max)
            .Select(x => x.c)
            .ToList();
    }

    /// <summary>The single closest candidate, or null when none is close.</summary>
    public static string? Closest(string name, IEnumerable<string> candidates) => Closest(name, candidates, 1).FirstOrDefault();

    /// <summary>Optimal-string-alignment distance: insertions, deletions, substitutions and adjacent swaps cost 1.</summary>
    public static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        }
        return d[a.Length, b.Length];
    }
}
