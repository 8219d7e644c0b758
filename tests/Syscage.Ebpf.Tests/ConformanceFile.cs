using System.Globalization;

namespace Syscage.Ebpf.Tests;

/// <summary>
/// One bpf_conformance <c>.data</c> file: sections introduced by <c>-- name</c> lines (<c>asm</c>, <c>raw</c>,
/// <c>mem</c>, <c>result</c>, <c>error</c>; others such as <c>c</c> are the harness's notes and are ignored),
/// <c>#</c> comments. Every part remembers its line so failures point at the vector.
/// </summary>
public sealed class ConformanceFile
{
    public required string Path { get; init; }
    public string Name => System.IO.Path.GetFileName(Path);
    /// <summary>The asm section, with blank lines in front so line numbers match the file's.</summary>
    public string? Asm { get; init; }
    public ulong[]? Raw { get; init; }
    public byte[] Memory { get; init; } = [];
    public ulong? Result { get; init; }
    public string? Error { get; init; }
    public int ResultLine { get; init; }

    /// <summary>The conformance directory: $SYSCAGE_EBPF_CONFORMANCE, else ../shared/ebpf-conformance next to the repository.</summary>
    public static string Directory
    {
        get
        {
            if (Environment.GetEnvironmentVariable("SYSCAGE_EBPF_CONFORMANCE") is { Length: > 0 } env)
                return env;
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(System.IO.Path.Combine(dir.FullName, "Syscage.slnx")))
                    return System.IO.Path.GetFullPath(System.IO.Path.Combine(dir.FullName, "..", "shared", "ebpf-conformance"));
            }
            throw new InvalidOperationException($"no ancestor of {AppContext.BaseDirectory} holds Syscage.slnx");
        }
    }

    public static IEnumerable<string> AllNames() =>
        System.IO.Directory.GetFiles(Directory, "*.data").Select(System.IO.Path.GetFileName).Order(StringComparer.Ordinal)!;

    public static ConformanceFile Load(string name)
    {
        string path = System.IO.Path.Combine(Directory, name);
        var lines = File.ReadAllLines(path);
        var sections = new Dictionary<string, (int FirstLine, List<string> Lines)>();
        (int, List<string>)? current = null;
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            if (line.StartsWith("-- ", StringComparison.Ordinal))
            {
                var list = new List<string>();
                current = (i + 2, list);
                sections[line[3..].Trim()] = current.Value;
                continue;
            }
            current?.Item2.Add(line);
        }

        string? asm = null;
        if (sections.TryGetValue("asm", out var a))
            asm = new string('\n', a.FirstLine - 1) + string.Join('\n', a.Lines);
        ulong[]? raw = null;
        if (sections.TryGetValue("raw", out var r))
            raw = [.. Content(r.Lines).Select(ParseHex)];
        byte[] mem = [];
        if (sections.TryGetValue("mem", out var m))
            mem = [.. Content(m.Lines).SelectMany(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Select(b => byte.Parse(b, NumberStyles.HexNumber, CultureInfo.InvariantCulture))];
        ulong? result = null;
        int resultLine = 0;
        if (sections.TryGetValue("result", out var res))
        {
            result = ParseHex(Content(res.Lines).Single());
            resultLine = res.FirstLine - 1;
        }
        string? error = sections.TryGetValue("error", out var e) ? string.Join('\n', Content(e.Lines)) : null;
        return new ConformanceFile { Path = path, Asm = asm, Raw = raw, Memory = mem, Result = result, ResultLine = resultLine, Error = error };
    }

    private static IEnumerable<string> Content(IEnumerable<string> lines) =>
        lines.Select(l => (l.IndexOf('#', StringComparison.Ordinal) is var h and >= 0 ? l[..h] : l).Trim()).Where(l => l.Length > 0);

    private static ulong ParseHex(string s) =>
        ulong.Parse(s.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? s[2..] : s, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
}
