using System.Collections.ObjectModel;
using System.Diagnostics.CodeAnalysis;

namespace Syscage.Abi;

/// <summary>
/// The system calls of one architecture, generated from the repository's facts (see <c>SyscallTables.g.cs</c>):
/// lookups by name and by number, and close names for "did you mean" hints. Names are matched exactly, in the
/// kernel's spelling.
/// </summary>
public sealed class SyscallTable
{
    private readonly Dictionary<string, Syscall> byName;
    private readonly Dictionary<int, Syscall> byNumber;

    internal SyscallTable(Architecture architecture, Syscall[] syscalls)
    {
        Architecture = architecture;
        Syscall[] sorted = syscalls
            .OrderBy(s => s.Number)
            .ThenBy(s => s.Name, StringComparer.Ordinal)
            .ToArray();
        All = new ReadOnlyCollection<Syscall>(sorted);
        byName = new Dictionary<string, Syscall>(sorted.Length, StringComparer.Ordinal);
        byNumber = new Dictionary<int, Syscall>(sorted.Length);
        foreach (Syscall syscall in sorted)
        {
            if (!byName.TryAdd(syscall.Name, syscall))
            {
                throw new InvalidOperationException($"syscall table for {architecture.Name} names {syscall.Name} twice");
            }

            // Should two names share a number, the first by name is the one reported.
            byNumber.TryAdd(syscall.Number, syscall);
        }
    }

    /// <summary>The architecture whose numbers these are.</summary>
    public Architecture Architecture { get; }

    /// <summary>Every system call, sorted by number.</summary>
    public IReadOnlyList<Syscall> All { get; }

    /// <summary>The number of system calls in the table.</summary>
    public int Count => All.Count;

    /// <summary>
    /// The system call with the highest number (as <c>seccomp_data.nr</c> holds it, x32's with its bit), the newest the
    /// table knows; null for an empty table. A number above it is a syscall newer than the table, or none at all.
    /// </summary>
    public Syscall? Newest => All.Count == 0 ? null : All.MaxBy(s => unchecked((uint)s.Number));

    /// <summary>Looks up the number of <paramref name="name"/> (x32 numbers include bit 0x40000000).</summary>
    public bool TryGetNumber(string name, out int number)
    {
        if (TryGet(name, out Syscall? syscall))
        {
            number = syscall.Number;
            return true;
        }

        number = 0;
        return false;
    }

    /// <summary>Looks up the name of the system call numbered <paramref name="number"/>.</summary>
    public bool TryGetName(int number, [NotNullWhen(true)] out string? name)
    {
        if (TryGet(number, out Syscall? syscall))
        {
            name = syscall.Name;
            return true;
        }

        name = null;
        return false;
    }

    /// <summary>Looks up a system call by name.</summary>
    public bool TryGet(string name, [NotNullWhen(true)] out Syscall? syscall)
    {
        ArgumentNullException.ThrowIfNull(name);
        return byName.TryGetValue(name, out syscall);
    }

    /// <summary>Looks up a system call by number.</summary>
    public bool TryGet(int number, [NotNullWhen(true)] out Syscall? syscall) => byNumber.TryGetValue(number, out syscall);

    /// <summary>The shared argument lists of <see cref="SyscallTables.Prototypes"/>, by syscall name.</summary>
    private static readonly Lazy<Dictionary<string, (string[] Names, string[] Types)>> SharedPrototypes = new(() =>
    {
        var prototypes = new Dictionary<string, (string[], string[])>(StringComparer.Ordinal);
        foreach (string line in SyscallTables.Prototypes.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            int space = line.IndexOf(' ', StringComparison.Ordinal);
            prototypes.Add(line[..space], ParseArguments(line[(space + 1)..], line));
        }
        return prototypes;
    });

    /// <summary>The shared argument list of <paramref name="name"/> (<see cref="SyscallTables.Prototypes"/>); empty when there is none.</summary>
    internal static (string[] Names, string[] Types) SharedPrototype(string name) => SharedPrototypes.Value.GetValueOrDefault(name, ([], []));

    /// <summary>
    /// Reads a generated table (<c>SyscallTables.g.cs</c>): one call a line, <c>name number</c> (decimal or <c>0x</c>
    /// hex), then optionally <c>=</c> and the arguments as C parameters separated by <c>", "</c>, which replace the
    /// shared ones of <see cref="SyscallTables.Prototypes"/>.
    /// </summary>
    internal static Syscall[] Parse(string table, string arch)
    {
        var shared = SharedPrototypes.Value;
        var result = new List<Syscall>();
        foreach (string line in table.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] head = line.Split(' ', 3);
            string name = head[0];
            int number = head[1].StartsWith("0x", StringComparison.Ordinal)
                ? int.Parse(head[1].AsSpan(2), System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture)
                : int.Parse(head[1], System.Globalization.CultureInfo.InvariantCulture);
            (string[] names, string[] types) = head.Length == 2
                ? shared.GetValueOrDefault(name, ([], []))
                : head[2] == "=" ? ([], [])
                : head[2].StartsWith("= ", StringComparison.Ordinal) ? ParseArguments(head[2][2..], line)
                : throw new InvalidOperationException($"malformed line of the {arch} syscall table: '{line}'");
            result.Add(new Syscall(name, number, names, types));
        }
        return [.. result];
    }

    /// <summary>C parameters (<c>const char *pathname, int flags</c>) as names and types (<c>pathname</c>, <c>const char *</c>).</summary>
    private static (string[] Names, string[] Types) ParseArguments(string text, string line)
    {
        string[] parameters = text.Split(", ");
        var names = new string[parameters.Length];
        var types = new string[parameters.Length];
        for (int i = 0; i < parameters.Length; i++)
        {
            string p = parameters[i];
            int start = p.Length;
            while (start > 0 && (char.IsAsciiLetterOrDigit(p[start - 1]) || p[start - 1] == '_'))
                start--;
            if (start == 0 || start == p.Length)
                throw new InvalidOperationException($"malformed parameter '{p}' in the syscall tables: '{line}'");
            names[i] = p[start..];
            types[i] = p[..start].TrimEnd();
        }
        return (names, types);
    }

    /// <summary>
    /// Up to <paramref name="max"/> names close to <paramref name="misspelt"/>, closest first, for a
    /// "did you mean" hint: edit distance counting a swap of neighbours as one edit (<c>opneat</c> → <c>openat</c>),
    /// ignoring case, within a third of the name's length (at least 1, at most 3).
    /// </summary>
    public IEnumerable<string> SuggestNames(string misspelt, int max = 3) =>
        Suggest.Closest(misspelt, All.Select(s => s.Name), max);
}
