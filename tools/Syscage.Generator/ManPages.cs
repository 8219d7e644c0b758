using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;

namespace Syscage.Generator;

/// <summary>A parameter of a man-page prototype: its C type (qualifiers kept) and its name.</summary>
internal sealed record Parameter(string Type, string Name)
{
    /// <summary>True when the value is passed in the register itself, not through a pointer or an array.</summary>
    public bool IsByValue => !Type.Contains('*', StringComparison.Ordinal) && !Type.Contains('[', StringComparison.Ordinal) && !Type.Contains('(', StringComparison.Ordinal);
}

/// <summary>
/// One C prototype found in a section-2 man page. <see cref="IsRawSyscall"/> marks the
/// <c>long syscall(SYS_name, ...)</c> form, which describes the kernel's arguments rather than a glibc wrapper's.
/// </summary>
internal sealed record Prototype(string Function, IReadOnlyList<Parameter> Parameters, string Page, string Section, bool IsRawSyscall, int Order);

/// <summary>
/// Reads prototypes out of the troff source of the man pages in Debian's manpages-dev
/// (<c>/usr/share/man/man2/*.2.gz</c>), e.g. <c>.BI "int openat(int " dirfd ", const char *" pathname ", int " flags );</c>.
/// </summary>
internal static partial class ManPages
{
    /// <summary>Every page of <paramref name="manDirectory"/>, each read once (aliases are symlinks or <c>.so</c> pages).</summary>
    public static IReadOnlyList<(string Page, string Text)> ReadPages(string manDirectory)
    {
        string manRoot = Path.GetDirectoryName(Path.GetFullPath(manDirectory))!;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pages = new List<(string, string)>();
        foreach (string file in Directory.EnumerateFiles(manDirectory).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(file);
            if (!name.EndsWith(".2", StringComparison.Ordinal) && !name.EndsWith(".2.gz", StringComparison.Ordinal))
            {
                continue;
            }

            string resolved = Resolve(file);
            string text = ReadText(resolved);
            for (int hops = 0; SoTarget(text) is { } target; hops++)
            {
                if (hops == 8)
                {
                    throw new InvalidDataException($"{file}: too many .so redirections");
                }

                string next = Path.Combine(manRoot, target);
                resolved = Resolve(File.Exists(next) ? next : next + ".gz");
                text = ReadText(resolved);
            }

            if (seen.Add(resolved))
            {
                pages.Add((Path.GetFileName(resolved), text));
            }
        }

        return pages;
    }

    private static string Resolve(string path)
    {
        FileSystemInfo? target = new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true);
        return Path.GetFullPath(target?.FullName ?? path);
    }

    private static string ReadText(string path)
    {
        using Stream file = File.OpenRead(path);
        using Stream stream = path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(file, CompressionMode.Decompress) : file;
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    /// <summary>The target of a page that is only <c>.so man2/other.2</c>, or null.</summary>
    private static string? SoTarget(string text)
    {
        foreach (string raw in text.Split('\n'))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith(".\\\"", StringComparison.Ordinal) || line.StartsWith("'\\\"", StringComparison.Ordinal))
            {
                continue;
            }

            return line.StartsWith(".so ", StringComparison.Ordinal) ? line[4..].Trim() : null;
        }

        return null;
    }

    /// <summary>The prototypes of a page: those in every section, each tagged with the section it is in.</summary>
    public static IEnumerable<Prototype> Prototypes(string page, string troff)
    {
        int order = 0;
        foreach ((string section, string text) in Sections(troff))
        {
            foreach (Prototype prototype in ParsePrototypes(page, section, text, ref order))
            {
                yield return prototype;
            }
        }
    }

    /// <summary>Turns troff into plain text, one output line per input line, split by <c>.SH</c> section.</summary>
    public static IEnumerable<(string Section, string Text)> Sections(string troff)
    {
        string section = "";
        var text = new StringBuilder();
        foreach (string line in LogicalLines(troff))
        {
            if (line.StartsWith(".\\\"", StringComparison.Ordinal) || line.StartsWith("'\\\"", StringComparison.Ordinal))
            {
                continue;
            }

            if (line.StartsWith('.') || line.StartsWith('\''))
            {
                int end = 1;
                while (end < line.Length && !char.IsWhiteSpace(line[end]))
                {
                    end++;
                }

                string request = line[1..end];
                List<string> arguments = MacroArguments(line[end..]);
                switch (request)
                {
                    case "SH":
                        if (text.Length > 0 || section.Length > 0)
                        {
                            yield return (section, text.ToString());
                        }

                        section = string.Join(' ', arguments.Select(Unescape));
                        text.Clear();
                        break;
                    case "B" or "I" or "R" or "SM" or "SB":
                        text.Append(string.Join(' ', arguments.Select(Unescape))).Append('\n');
                        break;
                    case "BI" or "BR" or "IB" or "IR" or "RB" or "RI":
                        // The alternating-font macros join their arguments without spaces.
                        text.Append(string.Concat(arguments.Select(Unescape))).Append('\n');
                        break;
                    default:
                        // .PP, .nf, .fi, .RS, .in, .EX, ...: layout only.
                        text.Append('\n');
                        break;
                }
            }
            else
            {
                text.Append(Unescape(line)).Append('\n');
            }
        }

        yield return (section, text.ToString());
    }

    /// <summary>Input lines with troff's escaped newlines (a line ending in a single backslash) joined.</summary>
    private static IEnumerable<string> LogicalLines(string troff)
    {
        var pending = new StringBuilder();
        foreach (string raw in troff.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n'))
        {
            int trailing = 0;
            while (trailing < raw.Length && raw[raw.Length - 1 - trailing] == '\\')
            {
                trailing++;
            }

            if (trailing % 2 == 1)
            {
                pending.Append(raw, 0, raw.Length - 1);
                continue;
            }

            pending.Append(raw);
            yield return pending.ToString();
            pending.Clear();
        }

        if (pending.Length > 0)
        {
            yield return pending.ToString();
        }
    }

    /// <summary>Splits macro arguments: blank-separated, <c>"quoted with spaces"</c>, <c>""</c> for a quote inside quotes.</summary>
    private static List<string> MacroArguments(string text)
    {
        var arguments = new List<string>();
        int i = 0;
        while (true)
        {
            while (i < text.Length && (text[i] == ' ' || text[i] == '\t'))
            {
                i++;
            }

            if (i >= text.Length || (text[i] == '\\' && i + 1 < text.Length && text[i + 1] == '"'))
            {
                return arguments; // end, or a \" comment
            }

            var argument = new StringBuilder();
            if (text[i] == '"')
            {
                i++;
                while (i < text.Length)
                {
                    if (text[i] == '"')
                    {
                        if (i + 1 < text.Length && text[i + 1] == '"')
                        {
                            argument.Append('"');
                            i += 2;
                            continue;
                        }

                        i++;
                        break;
                    }

                    if (text[i] == '\\' && i + 1 < text.Length)
                    {
                        argument.Append(text, i, 2);
                        i += 2;
                        continue;
                    }

                    argument.Append(text[i++]);
                }
            }
            else
            {
                while (i < text.Length && text[i] != ' ' && text[i] != '\t')
                {
                    if (text[i] == '\\' && i + 1 < text.Length)
                    {
                        argument.Append(text, i, 2);
                        i += 2;
                        continue;
                    }

                    argument.Append(text[i++]);
                }
            }

            arguments.Add(argument.ToString());
        }
    }

    /// <summary>Removes or replaces troff escapes: fonts (<c>\fB</c>, <c>\f[CR]</c>), spacing (<c>\,</c> <c>\/</c> <c>\&amp;</c>), <c>\-</c>, special characters.</summary>
    public static string Unescape(string text)
    {
        var builder = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c != '\\' || i + 1 >= text.Length)
            {
                builder.Append(c);
                continue;
            }

            char e = text[++i];
            switch (e)
            {
                case 'f':
                case '*':
                    // \fB \fI \fR \fP \f(CW \f[CR]; \*x \*(xx \*[name]: fonts and strings carry no C text.
                    SkipName(text, ref i);
                    break;
                case '(':
                    builder.Append(SpecialCharacter(text.Substring(i + 1, Math.Min(2, text.Length - i - 1))));
                    i += 2;
                    break;
                case '[':
                {
                    int close = text.IndexOf(']', i);
                    close = close < 0 ? text.Length - 1 : close;
                    builder.Append(SpecialCharacter(text[(i + 1)..close]));
                    i = close;
                    break;
                }

                case '"':
                    return builder.ToString(); // comment to end of line
                case '-':
                    builder.Append('-');
                    break;
                case 'e':
                case '\\':
                    builder.Append('\\');
                    break;
                case ' ':
                case '~':
                case '0':
                    builder.Append(' ');
                    break;
                case '&':
                case ',':
                case '/':
                case ':':
                case '%':
                case '|':
                case '^':
                case 'c':
                    break;
                default:
                    builder.Append(e);
                    break;
            }
        }

        return builder.ToString();
    }

    private static void SkipName(string text, ref int i)
    {
        // i is on the escape letter; the name follows as one char, (xx or [name].
        if (i + 1 >= text.Length)
        {
            return;
        }

        if (text[i + 1] == '(')
        {
            i = Math.Min(text.Length - 1, i + 3);
        }
        else if (text[i + 1] == '[')
        {
            int close = text.IndexOf(']', i + 1);
            i = close < 0 ? text.Length - 1 : close;
        }
        else
        {
            i++;
        }
    }

    private static string SpecialCharacter(string name) => name switch
    {
        "ti" or "a~" => "~",
        "aq" or "cq" or "oq" => "'",
        "dq" => "\"",
        "rs" => "\\",
        "ha" or "a^" => "^",
        "em" or "en" => "-",
        "bu" => "*",
        "lq" or "rq" => "\"",
        "lB" => "[",
        "rB" => "]",
        "lC" => "{",
        "rC" => "}",
        "ba" or "or" => "|",
        _ => " ",
    };

    /// <summary>
    /// Finds <c>type name(params);</c> in the plain text of a section. The return type must start the line, so
    /// running prose (<c>see syscall(2).</c>) does not match; the declaration must end with <c>);</c>.
    /// </summary>
    private static IEnumerable<Prototype> ParsePrototypes(string page, string section, string text, ref int order)
    {
        var found = new List<Prototype>();
        foreach (Match match in FunctionStart().Matches(text))
        {
            int open = match.Index + match.Length - 1;
            int close = MatchingParenthesis(text, open);
            if (close < 0)
            {
                continue;
            }

            int after = close + 1;
            while (after < text.Length && char.IsWhiteSpace(text[after]))
            {
                after++;
            }

            if (after >= text.Length || text[after] != ';')
            {
                continue;
            }

            string function = match.Groups["name"].Value;
            if (ParseParameters(text[(open + 1)..close]) is not { } parameters)
            {
                continue;
            }

            bool raw = false;
            if (function == "syscall")
            {
                // long syscall(SYS_gettid); long syscall(SYS_getdents, unsigned int fd, ...)
                if (parameters.Count == 0 || parameters[0].Type.Length != 0 || !parameters[0].Name.StartsWith("SYS_", StringComparison.Ordinal))
                {
                    continue;
                }

                function = parameters[0].Name[4..];
                parameters = parameters.Skip(1).ToList();
                raw = true;
            }

            if (parameters.Any(p => !IsArgumentName(p.Name)))
            {
                continue; // an unnamed parameter, or a constant such as FICLONE in an ioctl_*(2) synopsis
            }

            found.Add(new Prototype(function, parameters, page, section, raw, order++));
        }

        return found;
    }

    private static int MatchingParenthesis(string text, int open)
    {
        int depth = 0;
        for (int i = open; i < text.Length; i++)
        {
            if (text[i] == '(')
            {
                depth++;
            }
            else if (text[i] == ')' && --depth == 0)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>
    /// Splits a parameter list. A comment right after <c>...</c> lists optional arguments and is read as such
    /// (<c>int cmd, ... /* arg */</c>, <c>... /* mode_t mode */</c>); any other comment is dropped
    /// (futex's <c>/* or: uint32_t val2 */</c> names an alternative, not another argument).
    /// </summary>
    internal static List<Parameter>? ParseParameters(string list)
    {
        var expanded = new StringBuilder();
        int i = 0;
        while (i < list.Length)
        {
            if (list[i] == '/' && i + 1 < list.Length && list[i + 1] == '*')
            {
                int end = list.IndexOf("*/", i + 2, StringComparison.Ordinal);
                if (end < 0)
                {
                    return null;
                }

                string comment = list[(i + 2)..end].Trim();
                if (expanded.ToString().TrimEnd().EndsWith("...", StringComparison.Ordinal) && comment.Length > 0 && !comment.Contains(':', StringComparison.Ordinal))
                {
                    expanded.Append(", ").Append(comment);
                }

                expanded.Append(' ');
                i = end + 2;
                continue;
            }

            expanded.Append(list[i++]);
        }

        var parameters = new List<Parameter>();
        string flat = WhiteSpace().Replace(expanded.ToString(), " ").Trim();
        if (flat.Length == 0 || flat == "void")
        {
            return parameters;
        }

        foreach (string piece in SplitTopLevel(flat))
        {
            string declaration = piece.Trim();
            if (declaration == "...")
            {
                continue;
            }

            if (declaration.Length == 0)
            {
                return null;
            }

            // int (*fn)(void *), int (*_Nullable fn)(void *)
            Match pointer = FunctionPointer().Match(declaration);
            if (pointer.Success)
            {
                parameters.Add(new Parameter(declaration.Replace(pointer.Groups["name"].Value, "", StringComparison.Ordinal), pointer.Groups["name"].Value));
                continue;
            }

            // void buf[.count], int pipefd[2], char *const argv[]: the brackets belong to the type.
            string withoutArrays = ArraySuffix().Replace(declaration, "");
            MatchCollection identifiers = Identifier().Matches(withoutArrays);
            string? name = null;
            for (int k = identifiers.Count - 1; k >= 0; k--)
            {
                if (!Qualifiers.Contains(identifiers[k].Value))
                {
                    name = identifiers[k].Value;
                    break;
                }
            }

            if (name is null)
            {
                return null;
            }

            int at = withoutArrays.LastIndexOf(name, StringComparison.Ordinal);
            string type = (withoutArrays[..at] + withoutArrays[(at + name.Length)..]).Trim();
            if (declaration.Length != withoutArrays.Length)
            {
                type += "[]";
            }

            parameters.Add(new Parameter(type, name));
        }

        return parameters;
    }

    private static readonly HashSet<string> Qualifiers = new(StringComparer.Ordinal)
    {
        "const", "volatile", "restrict", "__restrict", "_Nullable", "_Nonnull",
    };

    private static readonly HashSet<string> TypeWords = new(StringComparer.Ordinal)
    {
        "void", "char", "short", "int", "long", "unsigned", "signed", "struct", "union", "enum",
    };

    /// <summary>A lowercase C identifier that is not a bare type word; rejects FICLONE-style constants.</summary>
    private static bool IsArgumentName(string name)
        => ArgumentName().IsMatch(name) && !TypeWords.Contains(name) && !name.EndsWith("_t", StringComparison.Ordinal);

    private static IEnumerable<string> SplitTopLevel(string list)
    {
        int depth = 0;
        int start = 0;
        for (int i = 0; i < list.Length; i++)
        {
            switch (list[i])
            {
                case '(' or '[':
                    depth++;
                    break;
                case ')' or ']':
                    depth--;
                    break;
                case ',' when depth == 0:
                    yield return list[start..i];
                    start = i + 1;
                    break;
            }
        }

        yield return list[start..];
    }

    // The return type (identifiers and stars, after C23 attributes such as [[deprecated]]) starts the line;
    // then the function name and "(".
    [GeneratedRegex(@"^[ \t]*(?:\[\[[^\]]*\]\][ \t]*)*(?:[A-Za-z_]\w*[ \t*]+)+(?<name>[A-Za-z_]\w*)[ \t]*\(", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex FunctionStart();

    [GeneratedRegex(@"\(\s*\*\s*(?:(?:_Nullable|_Nonnull|const)\s+)*(?<name>[A-Za-z_]\w*)\s*\)", RegexOptions.CultureInvariant)]
    private static partial Regex FunctionPointer();

    [GeneratedRegex(@"\[[^\]]*\]", RegexOptions.CultureInvariant)]
    private static partial Regex ArraySuffix();

    [GeneratedRegex(@"[A-Za-z_]\w*", RegexOptions.CultureInvariant)]
    private static partial Regex Identifier();

    [GeneratedRegex(@"^[a-z_][a-z0-9_]*$", RegexOptions.CultureInvariant)]
    private static partial Regex ArgumentName();

    [GeneratedRegex(@"\s+", RegexOptions.CultureInvariant)]
    private static partial Regex WhiteSpace();
}
