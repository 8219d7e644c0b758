
namespace Syscage.Abi;

/// <summary>
/// errno names and numbers (<c>EPERM</c> = 1 ...), generated from the kernel's uapi
/// <c>asm-generic/errno-base.h</c> and <c>asm-generic/errno.h</c> into <c>Errno.g.cs</c>.
/// </summary>
public static partial class Errno
{
    // In a nested class so that the generated Table (another file of this partial class) is initialised first.
    private static class Index
    {
        public static readonly Dictionary<string, int> ByName = Table.ToDictionary(e => e.Name, e => e.Number, StringComparer.Ordinal);

        // Aliases (EWOULDBLOCK = EAGAIN, EDEADLOCK = EDEADLK) share a number: the first name in header order wins.
        public static readonly Dictionary<int, string> ByNumber = Table.GroupBy(e => e.Number).ToDictionary(g => g.Key, g => g.First().Name);
    }

    /// <summary>Every errno name with its number, in header order (aliases included).</summary>
    public static IReadOnlyList<(string Name, int Number)> All => Table;

    /// <summary>The number of <paramref name="name"/> (case-sensitive, e.g. <c>EACCES</c>), or null.</summary>
    public static int? Number(string name) => Index.ByName.TryGetValue(name, out int n) ? n : null;

    /// <summary>The canonical name of errno <paramref name="number"/>, or null.</summary>
    public static string? Name(int number) => Index.ByNumber.TryGetValue(number, out var n) ? n : null;
}
