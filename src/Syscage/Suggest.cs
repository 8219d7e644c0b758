namespace Syscage;

/// <summary>"Did you mean" hints: the known names closest to a misspelt one by edit distance.</summary>
internal static class Suggest
{
    /// <summary>
    /// Up to <paramref name="max"/> candidates within an edit distance of a third of the name's length (at
    /// least 1, at most 3), ignoring case, closest first; ties go to the candidate whose length is closer,
    /// then to the ordinal order. A swap of neighbours counts as one edit (<c>opneat</c> → <c>openat</c>).
    /// </summary>
    public static IReadOnlyList<string> Closest(string name, IEnumerable<string> candidates, int max)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (max <= 0 || name.Length == 0)
            return [];
        string wanted = name.ToLowerInvariant();
        int limit = Math.Clamp(wanted.Length / 3, 1, 3);
        return candidates
            .Select(c => (Name: c, Distance: Distance(wanted, c.ToLowerInvariant(), limit)))
            .Where(c => c.Distance <= limit)
            .OrderBy(c => c.Distance)
            .ThenBy(c => Math.Abs(c.Name.Length - wanted.Length))
            .ThenBy(c => c.Name, StringComparer.Ordinal)
            .Take(max)
            .Select(c => c.Name)
            .ToList();
    }

    /// <summary>The single closest candidate, or null when none is close.</summary>
    public static string? Closest(string name, IEnumerable<string> candidates) => Closest(name, candidates, 1).FirstOrDefault();

    /// <summary>
    /// The optimal-string-alignment distance (insertions, deletions, substitutions and swaps of neighbours
    /// cost 1), or <paramref name="limit"/> + 1 as soon as it must exceed <paramref name="limit"/>.
    /// </summary>
    public static int Distance(string a, string b, int limit = int.MaxValue - 1)
    {
        if (Math.Abs(a.Length - b.Length) > limit)
            return limit + 1;
        var previous2 = new int[b.Length + 1];
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++)
            previous[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            int rowMinimum = current[0];
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                int value = Math.Min(Math.Min(previous[j] + 1, current[j - 1] + 1), previous[j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    value = Math.Min(value, previous2[j - 2] + 1);
                current[j] = value;
                rowMinimum = Math.Min(rowMinimum, value);
            }
            if (rowMinimum > limit)
                return limit + 1;
            (previous2, previous, current) = (previous, current, previous2);
        }
        return previous[b.Length];
    }
}
