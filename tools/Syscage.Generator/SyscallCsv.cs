using System.Globalization;
using System.Text.RegularExpressions;

namespace Syscage.Generator;

/// <summary>
/// <c>facts/syscalls.csv</c>: libseccomp's <c>src/syscalls.csv</c>, the syscall numbers of every architecture it knows.
/// The first line names the columns and, in the first, the kernel version the numbers are from
/// (<c>#syscall (v7.1.0-rc4 2026-05-19),x86,x86_kver,...</c>); every other line is a syscall name and, per
/// architecture, its number and the kernel version that added it. A number is as libseccomp keeps it: <c>PNR</c> when
/// the architecture lacks the call, x32's without <c>__X32_SYSCALL_BIT</c> and mips's without the 4000/5000/6000 of
/// its ABI (facts/architectures.h restates those); arm's private calls (<c>__ARM_NR_BASE</c> + n, 0xf0000 + n) are
/// whole. A negative number would be one of libseccomp's pseudo-syscalls (<c>__PNR_*</c>), which no kernel passes to a
/// filter; the file of this version has none, and one is refused rather than guessed at.
/// </summary>
internal sealed partial class SyscallCsv
{
    /// <summary>Where the file is, relative to the repository root.</summary>
    public const string RelativePath = "facts/syscalls.csv";

    /// <summary>libseccomp's marker of a call the architecture does not have.</summary>
    public const string NotPresent = "PNR";

    private SyscallCsv(string version, string kernelVersion, IReadOnlyList<string> columns, IReadOnlyList<(string Name, int?[] Numbers)> rows)
    {
        Version = version;
        KernelVersion = kernelVersion;
        Columns = columns;
        Rows = rows;
    }

    /// <summary>The version in the header, as written: <c>v7.1.0-rc4 2026-05-19</c>.</summary>
    public string Version { get; }

    /// <summary>The kernel's major.minor of <see cref="Version"/>: <c>7.1</c>.</summary>
    public string KernelVersion { get; }

    /// <summary>The architecture columns, in file order.</summary>
    public IReadOnlyList<string> Columns { get; }

    /// <summary>Each syscall and its number per column (null: not on that architecture), in file order.</summary>
    public IReadOnlyList<(string Name, int?[] Numbers)> Rows { get; }

    /// <summary>Reads the file at <paramref name="path"/>.</summary>
    /// <exception cref="MissingSourceException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">A line is malformed; the message names <c>path:line</c>.</exception>
    public static SyscallCsv Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new MissingSourceException($"the syscall numbers file {path} is missing: it is part of the repository ({RelativePath})");
        }

        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Parses the text of the file; <paramref name="fileName"/> is used in messages.</summary>
    public static SyscallCsv Parse(string text, string fileName)
    {
        string[] lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        Match header = Header().Match(lines[0]);
        if (!header.Success)
        {
            throw new InvalidDataException($"{fileName}:1: expected a header like '#syscall (v7.1.0-rc4 2026-05-19),x86,x86_kver,...'");
        }

        string[] fields = lines[0].Split(',');
        var columns = new List<string>();
        for (int i = 1; i < fields.Length; i += 2)
        {
            if (i + 1 >= fields.Length || fields[i + 1] != fields[i] + "_kver")
            {
                throw new InvalidDataException($"{fileName}:1: column '{fields[i]}' is not followed by '{fields[i]}_kver'");
            }

            columns.Add(fields[i]);
        }

        var rows = new List<(string, int?[])>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int l = 1; l < lines.Length; l++)
        {
            string line = lines[l];
            if (line.Length == 0)
            {
                continue;
            }

            string where = string.Create(CultureInfo.InvariantCulture, $"{fileName}:{l + 1}");
            string[] cells = line.Split(',');
            if (cells.Length != fields.Length)
            {
                throw new InvalidDataException($"{where}: expected {fields.Length} fields, found {cells.Length}");
            }

            string name = cells[0];
            if (!SyscallName().IsMatch(name) || !seen.Add(name))
            {
                throw new InvalidDataException($"{where}: '{name}' is not a syscall name, or is listed twice");
            }

            var numbers = new int?[columns.Count];
            for (int c = 0; c < columns.Count; c++)
            {
                string cell = cells[1 + 2 * c];
                if (cell == NotPresent)
                {
                    continue;
                }

                if (!int.TryParse(cell, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int number))
                {
                    throw new InvalidDataException($"{where}: {name} on {columns[c]}: '{cell}' is neither a number nor {NotPresent}");
                }

                if (number < 0)
                {
                    throw new InvalidDataException(
                        $"{where}: {name} on {columns[c]}: {number} is a libseccomp pseudo-syscall number, which no kernel passes to a filter");
                }

                numbers[c] = number;
            }

            rows.Add((name, numbers));
        }

        return new SyscallCsv(header.Groups["version"].Value, header.Groups["major"].Value + "." + header.Groups["minor"].Value, columns, rows);
    }

    /// <summary>The syscalls of <paramref name="column"/> and their numbers as the csv holds them, by name.</summary>
    public IEnumerable<(string Name, int Number)> Column(string column)
    {
        int c = Columns.IndexOf(column);
        if (c < 0)
        {
            throw new InvalidDataException($"{RelativePath} has no column '{column}' (it has {string.Join(", ", Columns)})");
        }

        foreach ((string name, int?[] numbers) in Rows)
        {
            if (numbers[c] is int n)
            {
                yield return (name, n);
            }
        }
    }

    [GeneratedRegex(@"^#syscall \((?<version>v(?<major>\d+)\.(?<minor>\d+)[^)]*)\),", RegexOptions.CultureInvariant)]
    private static partial Regex Header();

    [GeneratedRegex(@"^[a-z_][a-z0-9_]*$", RegexOptions.CultureInvariant)]
    private static partial Regex SyscallName();
}

/// <summary>Extension for the columns list.</summary>
internal static class ListExtensions
{
    /// <summary>The index of <paramref name="value"/> in <paramref name="list"/>, or -1.</summary>
    public static int IndexOf(this IReadOnlyList<string> list, string value)
    {
        for (int i = 0; i < list.Count; i++)
        {
            if (string.Equals(list[i], value, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }
}
