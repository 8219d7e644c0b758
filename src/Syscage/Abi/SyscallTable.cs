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
    // The table is read in two steps. Names and numbers, which every lookup by name or number needs, are read when the
    // table is first used, without making a string of anything but the names. A call's arguments (C parameters, split
    // into names and types) are read when its Syscall is first asked for: a command-line start that only needs a few
    // numbers (the launcher's syscalls, a compiled policy) does not read the argument lists of 400 calls.
    private readonly string table;
    private readonly string[] names;
    private readonly int[] numbers;
    private readonly int[] lineStarts;        // where each call's line starts in the table, in table order
    private readonly int[] order;             // indexes sorted by number, then name
    private readonly Dictionary<string, int> byName;
    private readonly Dictionary<int, int> byNumber;
    private readonly Syscall?[] made;
    private ReadOnlyCollection<Syscall>? all;

    internal SyscallTable(Architecture architecture, string table)
    {
        Architecture = architecture;
        this.table = table;
        int lines = table.AsSpan().Count('\n');
        var nameList = new List<string>(lines + 1);
        var numberList = new List<int>(lines + 1);
        var startList = new List<int>(lines + 1);
        int at = 0;
        while (at < table.Length)
        {
            int end = table.IndexOf('\n', at);
            if (end < 0)
                end = table.Length;
            if (end > at)
            {
                ReadOnlySpan<char> line = table.AsSpan(at, end - at);
                int space = line.IndexOf(' ');
                if (space <= 0)
                    throw Malformed(architecture.Name, line);
                ReadOnlySpan<char> rest = line[(space + 1)..];
                int space2 = rest.IndexOf(' ');
                ReadOnlySpan<char> number = space2 < 0 ? rest : rest[..space2];
                bool parsed = number.StartsWith("0x", StringComparison.Ordinal)
                    ? int.TryParse(number[2..], System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out int nr)
                    : int.TryParse(number, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out nr);
                if (!parsed || (space2 >= 0 && !rest[(space2 + 1)..].StartsWith("=", StringComparison.Ordinal)))
                    throw Malformed(architecture.Name, line);
                nameList.Add(line[..space].ToString());
                numberList.Add(nr);
                startList.Add(at);
            }
            at = end + 1;
        }
        names = [.. nameList];
        numbers = [.. numberList];
        lineStarts = [.. startList];
        made = new Syscall?[names.Length];
        order = new int[names.Length];
        for (int i = 0; i < order.Length; i++)
            order[i] = i;
        // The generated tables come in number order: sorted only when one does not.
        bool sorted = true;
        for (int i = 1; i < order.Length && sorted; i++)
            sorted = numbers[i - 1] < numbers[i] || (numbers[i - 1] == numbers[i] && string.CompareOrdinal(names[i - 1], names[i]) < 0);
        if (!sorted)
            Array.Sort(order, (a, b) => numbers[a] != numbers[b] ? numbers[a].CompareTo(numbers[b]) : string.CompareOrdinal(names[a], names[b]));
        byName = new Dictionary<string, int>(names.Length, StringComparer.Ordinal);
        byNumber = new Dictionary<int, int>(names.Length);
        foreach (int i in order)
        {
            if (!byName.TryAdd(names[i], i))
            {
                throw new InvalidOperationException($"syscall table for {architecture.Name} names {names[i]} twice");
            }

            // Should two names share a number, the first by name is the one reported.
            byNumber.TryAdd(numbers[i], i);
        }
    }

    /// <summary>
    /// The number on the line of <paramref name="name"/> in a generated table, read as the constructor reads it; false when
    /// no line names it (names are unique: the constructor refuses a table that names one twice).
    /// </summary>
    internal static bool TryFindNumber(string table, string name, out int number)
    {
        number = 0;
        if (name.Contains('\n', StringComparison.Ordinal))
            return false;
        // The line starts the table or follows a newline: one vectorised search for "\nNAME ", not a walk over the lines.
        int at = table.StartsWith(name + " ", StringComparison.Ordinal) ? 0 : table.IndexOf("\n" + name + " ", StringComparison.Ordinal);
        if (at < 0)
            return false;
        if (at > 0)
            at++;
        int end = table.IndexOf('\n', at);
        ReadOnlySpan<char> rest = table.AsSpan(at + name.Length + 1, (end < 0 ? table.Length : end) - at - name.Length - 1);
        int space = rest.IndexOf(' ');
        ReadOnlySpan<char> digits = space < 0 ? rest : rest[..space];
        return digits.StartsWith("0x", StringComparison.Ordinal)
            ? int.TryParse(digits[2..], System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out number)
            : int.TryParse(digits, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out number);
    }

    private static InvalidOperationException Malformed(string arch, ReadOnlySpan<char> line) =>
        new($"malformed line of the {arch} syscall table: '{line}'");

    /// <summary>The architecture whose numbers these are.</summary>
    public Architecture Architecture { get; }

    /// <summary>Every system call, sorted by number.</summary>
    public IReadOnlyList<Syscall> All => all ??= new ReadOnlyCollection<Syscall>([.. order.Select(Make)]);

    /// <summary>The number of system calls in the table.</summary>
    public int Count => names.Length;

    /// <summary>The numbers of <see cref="All"/>, in its order, without reading any call's arguments.</summary>
    internal IEnumerable<int> Numbers => order.Select(i => numbers[i]);

    /// <summary>
    /// The system call with the highest number (as <c>seccomp_data.nr</c> holds it, x32's with its bit), the newest the
    /// table knows; null for an empty table. A number above it is a syscall newer than the table, or none at all.
    /// </summary>
    public Syscall? Newest => order.Length == 0 ? null : Make(order.MaxBy(i => unchecked((uint)numbers[i])));

    /// <summary>Looks up the number of <paramref name="name"/> (x32 numbers include bit 0x40000000).</summary>
    public bool TryGetNumber(string name, out int number)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (byName.TryGetValue(name, out int i))
        {
            number = numbers[i];
            return true;
        }

        number = 0;
        return false;
    }

    /// <summary>Looks up the name of the system call numbered <paramref name="number"/>.</summary>
    public bool TryGetName(int number, [NotNullWhen(true)] out string? name)
    {
        if (byNumber.TryGetValue(number, out int i))
        {
            name = names[i];
            return true;
        }

        name = null;
        return false;
    }

    /// <summary>Looks up a system call by name.</summary>
    public bool TryGet(string name, [NotNullWhen(true)] out Syscall? syscall)
    {
        ArgumentNullException.ThrowIfNull(name);
        syscall = byName.TryGetValue(name, out int i) ? Make(i) : null;
        return syscall is not null;
    }

    /// <summary>Looks up a system call by number.</summary>
    public bool TryGet(int number, [NotNullWhen(true)] out Syscall? syscall)
    {
        syscall = byNumber.TryGetValue(number, out int i) ? Make(i) : null;
        return syscall is not null;
    }

    /// <summary>
    /// The call of line <paramref name="i"/> with its arguments. A line of a generated table (<c>SyscallTables.g.cs</c>)
    /// is <c>name number</c> (decimal or <c>0x</c> hex), then optionally <c>=</c> and the arguments as C parameters
    /// separated by <c>", "</c>, which replace the shared ones of <see cref="SyscallTables.Prototypes"/> (a bare
    /// <c>=</c>: none). Made once; a race makes two equal records and keeps one.
    /// </summary>
    private Syscall Make(int i)
    {
        if (Volatile.Read(ref made[i]) is { } done)
            return done;
        int start = lineStarts[i];
        int end = table.IndexOf('\n', start);
        string line = table[start..(end < 0 ? table.Length : end)];
        string[] head = line.Split(' ', 3);
        (string[] argNames, string[] types) = head.Length == 2
            ? SharedPrototypes.Value.GetValueOrDefault(names[i], ([], []))
            : head[2] == "=" ? ([], [])
            : head[2].StartsWith("= ", StringComparison.Ordinal) ? ParseArguments(head[2][2..], line)
            : throw new InvalidOperationException($"malformed line of the {Architecture.Name} syscall table: '{line}'");
        var syscall = new Syscall(names[i], numbers[i], argNames, types);
        return Interlocked.CompareExchange(ref made[i], syscall, null) ?? syscall;
    }

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
