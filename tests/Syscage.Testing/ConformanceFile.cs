using System.Globalization;

namespace Syscage.Testing;

/// <summary>
/// One bpf_conformance <c>.data</c> file, read by the one parser of the format that every test project uses. A file is
/// sections introduced by <c>-- name</c> lines: <c>asm</c> (the program), <c>raw</c> (its encoding, one 64-bit word a
/// line), <c>mem</c> (hex bytes r1 points to), <c>result</c> (r0 at exit) or <c>error</c> (the expected failure);
/// others, such as <c>c</c>, are the suite's notes and are ignored. <c>#</c> starts a comment. Every part keeps its
/// line so that a failure points at the vector.
/// </summary>
public sealed class ConformanceFile
{
    /// <summary>The file.</summary>
    public required string Path { get; init; }

    /// <summary>The file's name (<c>add.data</c>).</summary>
    public string Name => System.IO.Path.GetFileName(Path);

    /// <summary>
    /// The <c>asm</c> section as assembler text, preceded by blank lines so that its line numbers are the file's (an
    /// assembler error names the vector's line); null when there is none.
    /// </summary>
    public string? Asm { get; init; }

    /// <summary>The <c>raw</c> section: the program's instructions as little-endian 64-bit words, when given.</summary>
    public ulong[]? Raw { get; init; }

    /// <summary>The <c>mem</c> section: the bytes r1 points to (empty when there is none).</summary>
    public byte[] Memory { get; init; } = [];

    /// <summary>The <c>result</c> section: r0 when the program exits.</summary>
    public ulong? Result { get; init; }

    /// <summary>The line of the <c>-- result</c> header (0 when there is none), for messages.</summary>
    public int ResultLine { get; init; }

    /// <summary>The <c>error</c> section: text the run's error message must contain.</summary>
    public string? Error { get; init; }

    /// <summary>
    /// The files whose programs Syscage refuses on purpose, each with the start of the verifier's reason — the one list,
    /// for every test that runs the suite. <c>callx</c> (<c>BPF_CALL | BPF_X</c>, an indirect call through a register)
    /// is a clang extension outside RFC 9669 that the kernel's verifier rejects too.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Refused { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["callx.data"] = "callx (indirect call through a register) is not supported",
    };

    /// <summary>The suite: <c>$SYSCAGE_EBPF_CONFORMANCE</c>, else <c>../shared/ebpf-conformance</c> beside the repository.</summary>
    public static string Directory =>
        Environment.GetEnvironmentVariable("SYSCAGE_EBPF_CONFORMANCE") is { Length: > 0 } env
            ? env
            : System.IO.Path.GetFullPath(System.IO.Path.Combine(NativeProbe.RepositoryRoot, "..", "shared", "ebpf-conformance"));

    /// <summary>The names of the suite's <c>.data</c> files, in ordinal order (none when the directory is missing).</summary>
    public static IReadOnlyList<string> AllNames() => System.IO.Directory.Exists(Directory)
        ? [.. System.IO.Directory.GetFiles(Directory, "*.data").Select(f => System.IO.Path.GetFileName(f)).Order(StringComparer.Ordinal)]
        : [];

    /// <summary>Reads the suite's file <paramref name="name"/>.</summary>
    public static ConformanceFile Load(string name)
    {
        string path = System.IO.Path.Combine(Directory, name);
        return Parse(path, File.ReadAllText(path));
    }

    /// <summary>
    /// Parses <paramref name="text"/>, the contents of <paramref name="path"/>. A malformed number or a section given
    /// twice throws <see cref="FormatException"/> naming <c>path:line</c>.
    /// </summary>
    public static ConformanceFile Parse(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string[] lines = text.Split('\n');
        // Each section: the line of its header (1-based) and its lines as written.
        var sections = new Dictionary<string, (int Header, List<string> Lines)>(StringComparer.Ordinal);
        List<string>? current = null;
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd('\r');
            if (line.StartsWith("-- ", StringComparison.Ordinal))
            {
                string name = line[3..].Trim();
                if (sections.TryGetValue(name, out var earlier))
                    throw new FormatException($"{path}:{i + 1}: a second '-- {name}' section (the first is at line {earlier.Header})");
                current = [];
                sections[name] = (i + 1, current);
                continue;
            }
            current?.Add(line);
        }

        string? asm = null;
        if (sections.TryGetValue("asm", out var a))
            asm = new string('\n', a.Header) + string.Join('\n', a.Lines);
        ulong[]? raw = null;
        if (sections.TryGetValue("raw", out var r))
            raw = [.. Content(r).Select(c => ParseHex(path, c.Line, c.Text))];
        byte[] memory = [];
        if (sections.TryGetValue("mem", out var m))
            memory = [.. Content(m).SelectMany(c => c.Text.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(b => b.Length == 2 && byte.TryParse(b, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte v)
                    ? v
                    : throw new FormatException($"{path}:{c.Line}: '{b}' is not a hex byte")))];
        ulong? result = null;
        int resultLine = 0;
        if (sections.TryGetValue("result", out var res))
        {
            var values = Content(res).ToList();
            if (values.Count != 1)
                throw new FormatException($"{path}:{res.Header}: the result section holds {values.Count} values, not one");
            result = ParseHex(path, values[0].Line, values[0].Text);
            resultLine = res.Header;
        }
        string? error = sections.TryGetValue("error", out var e) ? string.Join('\n', Content(e).Select(c => c.Text)) : null;
        return new ConformanceFile { Path = path, Asm = asm, Raw = raw, Memory = memory, Result = result, ResultLine = resultLine, Error = error };
    }

    /// <summary>A section's lines without comments and blank lines, each with its line number in the file.</summary>
    private static IEnumerable<(int Line, string Text)> Content((int Header, List<string> Lines) section) =>
        section.Lines
            .Select((l, i) => (Line: section.Header + 1 + i, Text: (l.IndexOf('#', StringComparison.Ordinal) is var h and >= 0 ? l[..h] : l).Trim()))
            .Where(c => c.Text.Length > 0);

    private static ulong ParseHex(string path, int line, string s) =>
        ulong.TryParse(s.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? s.AsSpan(2) : s, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong v)
            ? v
            : throw new FormatException($"{path}:{line}: '{s}' is not a hex number");
}
