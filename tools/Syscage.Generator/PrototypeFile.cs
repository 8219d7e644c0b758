using System.Globalization;
using System.Text;

namespace Syscage.Generator;

/// <summary>Where a row of the prototypes file comes from.</summary>
internal enum PrototypeSource
{
    /// <summary>A SYNOPSIS (or NOTES) prototype of a section-2 man page, extracted by the generator.</summary>
    Man,

    /// <summary>A <c>SYSCALL_DEFINEn</c> / <c>COMPAT_SYSCALL_DEFINEn</c> declaration of the kernel, written by hand.</summary>
    Kernel,
}

/// <summary>
/// One row of <c>facts/syscall-prototypes.csv</c>: the arguments of a system call, in the order of
/// <c>seccomp_data.args</c>, each with its C type and name.
/// </summary>
/// <param name="Syscall">The kernel's name of the call (<c>pread64</c>, not glibc's <c>pread</c>).</param>
/// <param name="Abis">The architectures the row is for; empty for every architecture.</param>
/// <param name="Arguments">Type and name of each argument.</param>
/// <param name="Source">Where the row comes from.</param>
/// <param name="Origin">The rest of the source column: the man page, or the kernel file and what it declares.</param>
/// <param name="Line">The row's line in the file (0 for a row not read from a file).</param>
internal sealed record PrototypeRow(
    string Syscall,
    IReadOnlyList<string> Abis,
    IReadOnlyList<Parameter> Arguments,
    PrototypeSource Source,
    string Origin,
    int Line = 0)
{
    /// <summary>True when the row covers <paramref name="arch"/>.</summary>
    public bool Covers(string arch) => Abis.Count == 0 || Abis.Contains(arch, StringComparer.Ordinal);
}

/// <summary>
/// Reads and writes <c>facts/syscall-prototypes.csv</c>, the versioned input that gives the syscall tables their
/// argument names and types. Columns: <c>syscall,abis,arg0,...,arg5,source</c>; an argument is written as a C
/// parameter (<c>const char *pathname</c>); <c>abis</c> is empty or a space-separated list of architecture names;
/// <c>source</c> is <c>man PAGE</c> or <c>kernel FILE ...</c>. Lines starting with <c>#</c> are comments. A field
/// holding a comma or a quote is quoted, with quotes doubled.
/// </summary>
internal static class PrototypeFile
{
    /// <summary>Where the file is, relative to the repository root.</summary>
    public const string RelativePath = "facts/syscall-prototypes.csv";

    /// <summary>The columns, in order.</summary>
    public const string Columns = "syscall,abis,arg0,arg1,arg2,arg3,arg4,arg5,source";

    /// <summary>A row has at most six arguments: <c>seccomp_data.args</c> has six slots.</summary>
    public const int MaxArguments = 6;

    /// <summary>Reads the rows of the file at <paramref name="path"/>.</summary>
    /// <exception cref="MissingSourceException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">A line is malformed; the message names <c>path:line</c>.</exception>
    public static IReadOnlyList<PrototypeRow> Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new MissingSourceException(
                $"the syscall prototypes file {path} is missing: it is part of the repository ({RelativePath})");
        }

        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Parses the text of a prototypes file; <paramref name="fileName"/> is used in messages.</summary>
    public static IReadOnlyList<PrototypeRow> Parse(string text, string fileName)
    {
        var rows = new List<PrototypeRow>();
        string[] lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i];
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            string where = string.Create(CultureInfo.InvariantCulture, $"{fileName}:{i + 1}");
            List<string> fields = SplitFields(line, where);
            if (fields.Count != 3 + MaxArguments)
            {
                throw new InvalidDataException($"{where}: expected {3 + MaxArguments} fields ({Columns}), found {fields.Count}");
            }

            string syscall = fields[0];
            if (syscall.Length == 0)
            {
                throw new InvalidDataException($"{where}: the syscall name is empty");
            }

            string[] abis = fields[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var arguments = new List<Parameter>();
            bool ended = false;
            for (int a = 0; a < MaxArguments; a++)
            {
                string field = fields[2 + a].Trim();
                if (field.Length == 0)
                {
                    ended = true;
                    continue;
                }

                if (ended)
                {
                    throw new InvalidDataException($"{where}: arg{a} follows an empty argument");
                }

                arguments.Add(ParseArgument(field, $"{where}: arg{a}"));
            }

            string source = fields[2 + MaxArguments];
            int space = source.IndexOf(' ', StringComparison.Ordinal);
            string kind = space < 0 ? source : source[..space];
            PrototypeSource parsed = kind switch
            {
                "man" => PrototypeSource.Man,
                "kernel" => PrototypeSource.Kernel,
                _ => throw new InvalidDataException($"{where}: the source must start with 'man' or 'kernel', not '{kind}'"),
            };
            rows.Add(new PrototypeRow(syscall, abis, arguments, parsed, space < 0 ? "" : source[(space + 1)..], i + 1));
        }

        return rows;
    }

    /// <summary>Renders rows as the file's text: the header comment, the column line, then one line per row.</summary>
    public static string Render(IEnumerable<PrototypeRow> rows, IEnumerable<string> header)
    {
        var w = new StringBuilder();
        foreach (string line in header)
        {
            w.Append('#').Append(line.Length == 0 ? "" : " " + line).Append('\n');
        }

        w.Append('#').Append(Columns).Append('\n');
        foreach (PrototypeRow row in rows)
        {
            var fields = new List<string> { row.Syscall, string.Join(' ', row.Abis) };
            for (int a = 0; a < MaxArguments; a++)
            {
                fields.Add(a < row.Arguments.Count ? FormatArgument(row.Arguments[a]) : "");
            }

            fields.Add((row.Source == PrototypeSource.Man ? "man" : "kernel") + (row.Origin.Length > 0 ? " " + row.Origin : ""));
            w.Append(string.Join(',', fields.Select(Quote))).Append('\n');
        }

        return w.ToString();
    }

    /// <summary>
    /// A parameter as C writes it: <c>int fd</c>, <c>const char *pathname</c>; just the name when the man page gives
    /// no type (fcntl's <c>... /* arg */</c>).
    /// </summary>
    public static string FormatArgument(Parameter p) =>
        p.Type.Length == 0 ? p.Name : p.Type.EndsWith('*') ? p.Type + p.Name : p.Type + " " + p.Name;

    private static Parameter ParseArgument(string field, string where)
    {
        if (ManPages.ParseParameters(field) is not [var parameter])
        {
            throw new InvalidDataException($"{where}: '{field}' is not a C parameter such as 'int fd' or 'const char *pathname'");
        }

        if (FormatArgument(parameter) != field)
        {
            throw new InvalidDataException($"{where}: write '{field}' as '{FormatArgument(parameter)}'");
        }

        return parameter;
    }

    private static string Quote(string field) =>
        field.Contains(',', StringComparison.Ordinal) || field.Contains('"', StringComparison.Ordinal)
            ? "\"" + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\""
            : field;

    private static List<string> SplitFields(string line, string where)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        int i = 0;
        while (true)
        {
            if (i < line.Length && line[i] == '"')
            {
                i++;
                while (true)
                {
                    if (i >= line.Length)
                    {
                        throw new InvalidDataException($"{where}: a quoted field is not closed");
                    }

                    if (line[i] == '"')
                    {
                        if (i + 1 < line.Length && line[i + 1] == '"')
                        {
                            field.Append('"');
                            i += 2;
                            continue;
                        }

                        i++;
                        break;
                    }

                    field.Append(line[i++]);
                }
            }

            while (i < line.Length && line[i] != ',')
            {
                field.Append(line[i++]);
            }

            fields.Add(field.ToString());
            field.Clear();
            if (i >= line.Length)
            {
                return fields;
            }

            i++; // the comma
        }
    }
}

/// <summary>
/// The rows of a prototypes file, checked, and the choice among them for one call on one architecture: a
/// <c>kernel</c> row wins over a <c>man</c> row (the kernel's wrapper is what casts the register; a man page may show
/// the glibc wrapper's type), and a row for the architecture over a row for every architecture.
/// </summary>
internal sealed class PrototypeSet
{
    private readonly Dictionary<string, List<PrototypeRow>> bySyscall = new(StringComparer.Ordinal);
    private readonly string fileName;

    /// <summary>Checks <paramref name="rows"/>: known architectures and types, no two rows of one kind for the same call and architecture.</summary>
    /// <exception cref="InvalidDataException">A row is wrong; the message names <c>file:line</c>.</exception>
    public PrototypeSet(IReadOnlyList<PrototypeRow> rows, string fileName)
    {
        this.fileName = fileName;
        var arches = ArchitectureSpec.All.Select(a => a.Name).ToHashSet(StringComparer.Ordinal);
        foreach (PrototypeRow row in rows)
        {
            string where = Where(row);
            foreach (string abi in row.Abis)
            {
                if (!arches.Contains(abi))
                {
                    throw new InvalidDataException($"{where}: unknown architecture '{abi}' (known: {string.Join(", ", arches)})");
                }
            }

            foreach (Parameter argument in row.Arguments.Where(a => a.Type.Length > 0))
            {
                ArgumentTypes.Bits(argument.Type, where);
            }

            if (!bySyscall.TryGetValue(row.Syscall, out List<PrototypeRow>? list))
            {
                bySyscall[row.Syscall] = list = [];
            }

            PrototypeRow? clash = list.FirstOrDefault(r => r.Source == row.Source && Overlap(r, row));
            if (clash is not null)
            {
                throw new InvalidDataException($"{where}: {row.Syscall} already has a {row.Source.ToString().ToLowerInvariant()} row for these architectures at line {clash.Line}");
            }

            list.Add(row);
        }
    }

    /// <summary>Every row, in file order.</summary>
    public IEnumerable<PrototypeRow> Rows => bySyscall.Values.SelectMany(r => r).OrderBy(r => r.Line);

    /// <summary>The row that describes <paramref name="syscall"/> on <paramref name="arch"/>, or null when none does.</summary>
    public PrototypeRow? For(string arch, string syscall) =>
        For(ArchitectureSpec.All.FirstOrDefault(a => a.Name == arch) ?? throw new ArgumentException($"unknown architecture '{arch}'", nameof(arch)), syscall);

    /// <summary>
    /// The row that describes <paramref name="syscall"/> on <paramref name="spec"/>, or null when none does. On an ABI
    /// whose prototypes were not reviewed call by call (<see cref="ArchitectureSpec.PrototypesReviewed"/>), a call that
    /// has rows for named architectures is one whose arguments differ between architectures: only a row that names the
    /// ABI describes it there, never the row for all.
    /// </summary>
    public PrototypeRow? For(ArchitectureSpec spec, string syscall)
    {
        if (!bySyscall.TryGetValue(syscall, out List<PrototypeRow>? rows))
        {
            return null;
        }

        bool perArchitecture = rows.Any(r => r.Abis.Count > 0);
        return rows.Where(r => r.Covers(spec.Name) && (spec.PrototypesReviewed || !perArchitecture || r.Abis.Count > 0))
            .OrderByDescending(r => r.Source == PrototypeSource.Kernel)
            .ThenByDescending(r => r.Abis.Count > 0)
            .FirstOrDefault();
    }

    /// <summary>
    /// The arguments of <paramref name="syscall"/> on <paramref name="spec"/> as the table gives them: the chosen row's,
    /// on a 32-bit ABI only up to the first value that takes two registers (see
    /// <see cref="ArgumentTypes.TakesTwoRegistersOn32Bit"/>: after it, where the kernel finds an argument depends on how
    /// the architecture splits and aligns the pair); empty when no row describes the call.
    /// </summary>
    public IReadOnlyList<Parameter> Arguments(ArchitectureSpec spec, string syscall)
    {
        PrototypeRow? row = For(spec, syscall);
        if (row is null)
        {
            return [];
        }

        IReadOnlyList<Parameter> arguments = spec.Is64Bit ? row.Arguments : row.Arguments.TakeWhile(a => !ArgumentTypes.TakesTwoRegistersOn32Bit(a)).ToList();
        if (arguments.FirstOrDefault(a => a.Type.Length == 0) is { } untyped)
        {
            throw new InvalidDataException(
                $"{Where(row)}: {syscall}'s argument '{untyped.Name}' has no type on {spec.Name}; add a kernel row that gives it");
        }

        return arguments;
    }

    /// <summary>Fails for a row whose syscall no table has (a misspelt name would otherwise be silently unused).</summary>
    public void CheckEveryRowIsUsed(IEnumerable<string> syscalls)
    {
        var known = syscalls.ToHashSet(StringComparer.Ordinal);
        PrototypeRow? stray = Rows.FirstOrDefault(r => !known.Contains(r.Syscall));
        if (stray is not null)
        {
            throw new InvalidDataException($"{Where(stray)}: no architecture's table has a syscall called {stray.Syscall}");
        }
    }

    private string Where(PrototypeRow row) => string.Create(CultureInfo.InvariantCulture, $"{fileName}:{row.Line}");

    private static bool Overlap(PrototypeRow a, PrototypeRow b) =>
        a.Abis.Count == 0 || b.Abis.Count == 0 ? a.Abis.Count == b.Abis.Count : a.Abis.Intersect(b.Abis, StringComparer.Ordinal).Any();
}
