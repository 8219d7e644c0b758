using System.Diagnostics.CodeAnalysis;

namespace Syscage.Abi;

/// <summary>
/// Named constants from the kernel uapi and glibc headers, for policy conditions: open flags (<c>O_ACCMODE</c>,
/// <c>O_RDONLY</c>), <c>AT_*</c>, socket families and types (<c>AF_UNIX</c>, <c>SOCK_STREAM</c>), <c>CLONE_*</c>,
/// <c>PROT_*</c>/<c>MAP_*</c>, <c>PR_*</c>, terminal ioctls (<c>TCGETS</c>, <c>TIOCSTI</c>), <c>SECCOMP_*</c>,
/// <c>FUTEX_*</c>, <c>F_*</c>, <c>S_IF*</c>, <c>IPPROTO_*</c>, personalities (<c>PER_LINUX</c>,
/// <c>ADDR_NO_RANDOMIZE</c>) and more. Generated into <c>Constants.g.cs</c> by <c>tools/Syscage.Generator</c>.
/// </summary>
/// <remarks>
/// Where a value differs between architectures (<c>MAP_32BIT</c>, signal numbers, some socket options), the table
/// holds x86_64's. Negative values (<c>AT_FDCWD</c> = -100) are sign-extended to 64 bits, which is how the C library
/// passes an <c>int</c> argument in a 64-bit register.
/// </remarks>
public static partial class KernelConstants
{
    // In a nested class so that the generated tables (another file of this partial class) are initialised first.
    private static class Index
    {
        // A plain Dictionary: built on every start of the tool, where a FrozenDictionary's analysis costs more
        // than the few lookups a policy makes save.
        public static readonly Dictionary<string, (ulong Value, int Header)> ByName =
            Table.ToDictionary(c => c.Name, c => (c.Value, c.Header), StringComparer.Ordinal);
    }

    /// <summary>Every constant with its value, in header order.</summary>
    public static IEnumerable<(string Name, ulong Value)> All => Table.Select(c => (c.Name, c.Value));

    /// <summary>
    /// The names of the table that are ioctl requests, ioctl(2)'s second argument (<c>TCGETS</c>, <c>TIOCSTI</c>,
    /// <c>FIONREAD</c>, <c>SIOCGIFCONF</c>, <c>FICLONE</c>, <c>NS_GET_USERNS</c> ...), in header order.
    /// </summary>
    public static IReadOnlyList<string> IoctlRequests => IoctlRequestNames;

    /// <summary>The number of constants known.</summary>
    public static int Count => Table.Length;

    /// <summary>Looks up a constant by its exact (case-sensitive) name.</summary>
    public static bool TryGetValue(string name, out ulong value)
    {
        ArgumentNullException.ThrowIfNull(name);
        bool found = Index.ByName.TryGetValue(name, out var entry);
        value = entry.Value;
        return found;
    }

    /// <summary>The value of <paramref name="name"/>, or null when it is not known.</summary>
    public static ulong? Value(string name) => TryGetValue(name, out ulong v) ? v : null;

    /// <summary>The header (relative to <c>/usr/include</c>) that defined <paramref name="name"/>, or null.</summary>
    public static string? HeaderOf(string name) => Index.ByName.TryGetValue(name, out var entry) ? Headers[entry.Header] : null;

    /// <summary>Up to <paramref name="max"/> known names close to <paramref name="misspelt"/>, closest first.</summary>
    public static IReadOnlyList<string> SuggestNames(string misspelt, int max = 3) => Suggest.Closest(misspelt, Index.ByName.Keys, max);
}
