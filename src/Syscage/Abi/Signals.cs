namespace Syscage.Abi;

/// <summary>Signal numbers and names (x86_64's; the generated <c>Signals.g.cs</c> holds the constants).</summary>
public static partial class Signals
{
    private static class Index
    {
        public static readonly Dictionary<int, string> ByNumber = Table.GroupBy(s => s.Number).ToDictionary(g => g.Key, g => g.First().Name);
        public static readonly Dictionary<string, int> ByName = Table.ToDictionary(s => s.Name, s => s.Number, StringComparer.Ordinal);
    }

    /// <summary>The number of the last signal (<c>_NSIG - 1</c>: 64 on Linux).</summary>
    public const int Last = 64;

    /// <summary>
    /// The name of signal <paramref name="number"/> (<c>SIGSEGV</c>), the first of its names in the header (<c>SIGABRT</c>,
    /// not <c>SIGIOT</c>); null for a number without a name of its own (the real-time signals above SIGRTMIN).
    /// </summary>
    public static string? Name(int number) => Index.ByNumber.TryGetValue(number, out var name) ? name : null;

    /// <summary>The number of signal <paramref name="name"/> (<c>SIGTERM</c>), or null.</summary>
    public static int? Number(string name) => Index.ByName.TryGetValue(name, out int number) ? number : null;
}
