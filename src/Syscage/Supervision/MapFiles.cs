using System.Globalization;
using System.Text.Json;
using Syscage.Ebpf.Seccomp;
using Syscage.Policy.Oci;

namespace Syscage.Supervision;

/// <summary>
/// <c>--map [PROGRAM:]MAP=FILE.json</c>: fills a program's map from a JSON file before the first call, as user space fills
/// a kernel map before attaching the program. The file is one JSON object whose members are the entries (see
/// <c>syscage maps</c> in the README for the types: numbers for integers, syscall names as keys of syscall-keyed maps,
/// objects for structs); it is read whole and checked whole before any entry is written, at most
/// <see cref="InputLimits.MaxTextBytes"/>, and an error says <c>file:line:col: map NAME: path: what is wrong</c>.
/// </summary>
public static class MapFiles
{
    /// <summary>Splits <c>[PROGRAM:]MAP=FILE</c> into its parts.</summary>
    /// <exception cref="ArgumentException">There is no <c>=</c>, or a part is empty.</exception>
    public static (string? Program, string Map, string File) ParseSpec(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        int eq = spec.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0 || eq == spec.Length - 1)
            throw new ArgumentException($"--map expects [PROGRAM:]MAP=FILE.json, not '{spec}'", nameof(spec));
        string target = spec[..eq], file = spec[(eq + 1)..];
        int colon = target.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 && colon < target.Length - 1 ? (target[..colon], target[(colon + 1)..], file) : (null, target, file);
    }

    /// <summary>
    /// Fills the maps named by <paramref name="specs"/> (<c>[PROGRAM:]MAP=FILE.json</c>) among <paramref name="programs"/>'
    /// maps, in order. Throws <see cref="SyscageException"/> for a map no program has (with a hint), a map several
    /// programs have (name the program), an unreadable file or a wrong entry (<c>file:line:col</c> and the member's path).
    /// </summary>
    public static void Fill(IReadOnlyList<SeccompEbpfProgram> programs, IEnumerable<string> specs)
    {
        ArgumentNullException.ThrowIfNull(programs);
        ArgumentNullException.ThrowIfNull(specs);
        foreach (var spec in specs)
        {
            string? program;
            string map, file;
            try
            {
                (program, map, file) = ParseSpec(spec);
            }
            catch (ArgumentException e)
            {
                throw new SyscageException(e.Message.Split(" (Parameter", 2)[0]);
            }
            var codec = Find(programs, program, map);
            if (!File.Exists(file))
                throw new SyscageException($"--map {map}: {file}: no such file");
            byte[] bytes = InputFile.ReadTextBytes(file);
            if (!TryFill(codec, bytes, file, out string? error))
                throw new SyscageException(error);
        }
    }

    /// <summary>The map <paramref name="map"/> of the program named <paramref name="program"/> (or of the only program that has it).</summary>
    internal static MapCodec Find(IReadOnlyList<SeccompEbpfProgram> programs, string? program, string map)
    {
        var candidates = programs.Where(p => program is null || p.Name == program).ToList();
        if (program is not null && candidates.Count == 0)
            throw new SyscageException($"no program named '{program}'" +
                (Suggest.Closest(program, programs.Select(p => p.Name)) is { } near ? $"; did you mean '{near}'?" : "") +
                $" (programs: {string.Join(", ", programs.Select(p => p.Name))})");
        var having = candidates.Where(p => p.Maps.Any(m => m.Name == map)).ToList();
        if (having.Count == 0)
        {
            var names = candidates.SelectMany(p => p.Maps.Select(m => m.Name)).Distinct().ToList();
            throw new SyscageException($"no map named '{map}'" + (program is null ? "" : $" in program '{program}'") +
                (Suggest.Closest(map, names) is { } near ? $"; did you mean '{near}'?" : "") +
                (names.Count > 0 ? $" (maps: {string.Join(", ", names)})" : " (the program has no maps)"));
        }
        if (having.Count > 1)
            throw new SyscageException($"map '{map}' is in programs {string.Join(" and ", having.Select(p => p.Name))}: write PROGRAM:{map}");
        return new MapCodec(having[0], having[0].Maps[map]);
    }

    /// <summary>Parses <paramref name="json"/> (the bytes of <paramref name="file"/>) and writes its entries; false with a positioned error.</summary>
    internal static bool TryFill(MapCodec codec, byte[] json, string file, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        error = null;
        int bad = JsonPositions.FirstInvalidUtf8(json);
        if (bad >= 0)
        {
            var (line, column) = JsonPositions.At(json, bad);
            error = Inv($"{file}:{line}:{column}: map {codec.Map.Name}: the file is not valid UTF-8");
            return false;
        }
        var options = new JsonDocumentOptions { MaxDepth = 32, CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, options);
        }
        catch (JsonException e)
        {
            var (line, column) = JsonPositions.At(json, e.LineNumber ?? 0, e.BytePositionInLine ?? 0);
            error = Inv($"{file}:{line}:{column}: map {codec.Map.Name}: not valid JSON: {e.Message.Split(" LineNumber:", 2)[0].TrimEnd('.', ' ')}");
            return false;
        }
        using (doc)
        {
            if (!codec.TryParse(doc.RootElement, "", out var entries, out var entryError))
            {
                var positions = JsonPositions.Scan(json, new JsonReaderOptions { MaxDepth = 32, CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
                var (line, column) = positions.Find(entryError!.Path);
                error = Inv($"{file}:{line}:{column}: map {codec.Map.Name}: {entryError}");
                return false;
            }
            try
            {
                codec.Apply(entries);
            }
            catch (SyscageException e)
            {
                error = $"{file}: {e.Message}";
                return false;
            }
        }
        return true;
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
