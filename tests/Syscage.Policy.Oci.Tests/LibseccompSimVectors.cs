using System.Globalization;
using Syscage.Bpf;
using Syscage.Abi;

namespace Syscage.Policy.Oci.Tests;

/// <summary>
/// A syscall or argument field of a <c>.vectors</c> line: a name (syscalls only), or every number from
/// <see cref="Low"/> to <see cref="High"/> (one number when they are equal).
/// </summary>
/// <param name="Name">The syscall name, or null for a number or range.</param>
/// <param name="Low">The first value.</param>
/// <param name="High">The last value.</param>
public readonly record struct SimField(string? Name, ulong Low, ulong High)
{
    /// <summary>How many values the field stands for.</summary>
    public ulong Count => Name is null ? High - Low + 1 : 1;

    /// <summary>The values, in order.</summary>
    public IEnumerable<ulong> Values()
    {
        for (ulong v = Low; ; v++)
        {
            yield return v;
            if (v == High)
                yield break;
        }
    }
}

/// <summary>
/// One line of a <c>tests/vectors/libseccomp/*.vectors</c> file: a libseccomp <c>bpf-sim</c> vector, which stands for
/// every combination of its ranges. The format is described in tests/vectors/libseccomp/README.md.
/// </summary>
/// <param name="File">The vectors file (its name, for messages).</param>
/// <param name="Line">The line in that file.</param>
/// <param name="Profile">The profile the vector runs against (a file next to the vectors file).</param>
/// <param name="SourceLine">The line of libseccomp's <c>.tests</c> file the vector comes from.</param>
/// <param name="Arch">The architecture, as libseccomp names it.</param>
/// <param name="Syscall">The syscall: a name, a number or a range of numbers.</param>
/// <param name="Args">The six arguments; null where the vector gives none (the simulator passes 0).</param>
/// <param name="Expected">The expected action.</param>
public sealed record SimVectorLine(
    string File, int Line, string Profile, int SourceLine, string Arch, SimField Syscall, IReadOnlyList<SimField?> Args, SeccompAction Expected)
{
    /// <summary><c>file:line</c> of the vector.</summary>
    public string Where => string.Create(CultureInfo.InvariantCulture, $"{File}:{Line}");

    /// <summary>How many vectors the line stands for.</summary>
    public ulong Count => Args.Aggregate(Syscall.Count, (n, a) => n * (a?.Count ?? 1));

    /// <summary>
    /// Every call of the line: the syscall number (a name resolved by <paramref name="resolve"/>; a number taken as
    /// the 32-bit <c>int</c> the kernel's <c>seccomp_data.nr</c> is) and the six arguments.
    /// </summary>
    public IEnumerable<(int Nr, ulong[] Args)> Calls(Func<string, int> resolve)
    {
        ArgumentNullException.ThrowIfNull(resolve);
        IEnumerable<int> numbers = Syscall.Name is { } name ? [resolve(name)] : Syscall.Values().Select(v => unchecked((int)(uint)v));
        IEnumerable<ulong[]> args = [new ulong[6]];
        for (int i = 0; i < 6; i++)
        {
            int at = i;
            args = Args[at] is { } field
                ? args.SelectMany(a => field.Values().Select(v => { var b = (ulong[])a.Clone(); b[at] = v; return b; }))
                : args;
        }
        return numbers.SelectMany(nr => args.Select(a => (nr, a)));
    }

    /// <summary>
    /// Reads a vectors file: <c>profile FILE</c> lines, then vectors <c>LINE ARCH SYSCALL A0 A1 A2 A3 A4 A5 ACTION</c>;
    /// <c>#</c> starts a comment. Errors read <c>file:line: message</c>.
    /// </summary>
    /// <exception cref="FormatException">A line is not of the format.</exception>
    public static IReadOnlyList<SimVectorLine> Parse(string text, string file)
    {
        ArgumentNullException.ThrowIfNull(text);
        var lines = new List<SimVectorLine>();
        string? profile = null;
        foreach (var (n, f) in Fields(text))
        {
            FormatException Error(string message) => new(string.Create(CultureInfo.InvariantCulture, $"{file}:{n}: {message}"));
            if (f[0] == "profile")
            {
                if (f.Length != 2 || !f[1].EndsWith(".json", StringComparison.Ordinal))
                    throw Error("expected 'profile NAME.json'");
                profile = f[1];
                continue;
            }
            if (f.Length != 10)
                throw Error($"expected LINE ARCH SYSCALL A0 A1 A2 A3 A4 A5 ACTION, found {f.Length} fields");
            if (profile is null)
                throw Error("a vector before the first 'profile' line");
            if (!int.TryParse(f[0], NumberStyles.None, CultureInfo.InvariantCulture, out int source) || source < 1)
                throw Error($"'{f[0]}' is not a line number of the .tests file");
            SimField syscall = char.IsAsciiLetter(f[2][0]) || f[2][0] == '_'
                ? new SimField(f[2], 0, 0)
                : Field(f[2], signed: true) ?? throw Error($"'{f[2]}' is not a syscall name, number or range");
            var args = new SimField?[6];
            for (int a = 0; a < 6; a++)
                args[a] = f[3 + a] == "N" ? null : Field(f[3 + a], signed: false) ?? throw Error($"arg{a} '{f[3 + a]}' is not N, a number or a range");
            if (!SeccompAction.TryParse(f[9], out var expected) || f[9] != Spell(expected))
                throw Error($"'{f[9]}' is not an action as bpf_sim prints it (ALLOW, KILL, KILL_PROCESS, TRAP, ERRNO(n), TRACE(n), LOG)");
            lines.Add(new SimVectorLine(file, n, profile, source, f[1], syscall, args, expected));
        }
        return lines;
    }

    /// <summary>
    /// The lines of a text that hold something, with their 1-based numbers, split into whitespace-separated fields;
    /// <c>#</c> starts a comment. Both the vectors files and the expected-differences list are read this way.
    /// </summary>
    public static IEnumerable<(int Line, string[] Fields)> Fields(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string[] lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string content = lines[i];
            int hash = content.IndexOf('#', StringComparison.Ordinal);
            string[] fields = (hash >= 0 ? content[..hash] : content).Split([' ', '\t', '\r'], StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 0)
                yield return (i + 1, fields);
        }
    }

    /// <summary>An action as libseccomp's <c>scmp_bpf_sim</c> prints it: <c>KILL</c> for KILL_THREAD, <c>TRAP</c> without its data.</summary>
    public static string Spell(SeccompAction action) => action.Kind switch
    {
        SeccompActionKind.KillThread => "KILL",
        SeccompActionKind.Trap => "TRAP",
        _ => action.ToString(),
    };

    /// <summary>A number (decimal or <c>0x</c> hex; negative only when <paramref name="signed"/>) or a range <c>LOW-HIGH</c>.</summary>
    private static SimField? Field(string text, bool signed)
    {
        if (signed && text.StartsWith('-'))
            return int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int negative) && negative < 0
                ? new SimField(null, unchecked((uint)negative), unchecked((uint)negative))
                : null;
        int dash = text.IndexOf('-', StringComparison.Ordinal);
        if (dash < 0)
            return Number(text) is { } one ? new SimField(null, one, one) : null;
        return Number(text[..dash]) is { } low && Number(text[(dash + 1)..]) is { } high && low <= high
            ? new SimField(null, low, high)
            : null;
    }

    private static ulong? Number(string text) =>
        text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong hex) ? hex : null
            : ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong dec) ? dec : null;
}
