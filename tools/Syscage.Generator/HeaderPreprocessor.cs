using System.Text;

namespace Syscage.Generator;

/// <summary>
/// The part of the C preprocessor that the syscall-number headers use: <c>#define</c>, <c>#undef</c> and the
/// conditionals <c>#if</c>/<c>#ifdef</c>/<c>#ifndef</c>/<c>#elif</c>/<c>#else</c>/<c>#endif</c>. Everything that is
/// not a directive (the <c>__SYSCALL(...)</c> table lines) is ignored, and so is <c>#include</c>: a caller feeds the
/// files it wants in order and defines what the skipped includes would have defined (<c>__BITS_PER_LONG</c>).
/// </summary>
internal sealed class HeaderPreprocessor
{
    private readonly Dictionary<string, MacroDefinition> macros = new(StringComparer.Ordinal);

    /// <summary>The macros defined so far.</summary>
    public IReadOnlyDictionary<string, MacroDefinition> Macros => macros;

    /// <summary>Defines an object-like macro, as <c>-D<paramref name="name"/>=<paramref name="body"/></c> would.</summary>
    public void Define(string name, string body = "1") => macros[name] = new MacroDefinition(name, false, body);

    /// <summary>Runs the directives of <paramref name="text"/>; <paramref name="source"/> names it in errors.</summary>
    public void Process(string text, string source)
    {
        var conditionals = new Stack<Conditional>();
        bool active = true;
        string[] lines = StripComments(JoinContinuationLines(text)).Split('\n');
        for (int index = 0; index < lines.Length; index++)
        {
            string line = lines[index].Trim();
            if (!line.StartsWith('#'))
            {
                continue;
            }

            string where = $"{source}:{index + 1}";
            string rest = line[1..].TrimStart();
            int split = 0;
            while (split < rest.Length && char.IsAsciiLetter(rest[split]))
            {
                split++;
            }

            string directive = rest[..split];
            string argument = rest[split..].Trim();
            switch (directive)
            {
                case "if":
                case "ifdef":
                case "ifndef":
                {
                    bool condition = active && Condition(directive, argument, where);
                    conditionals.Push(new Conditional(active, condition));
                    active = active && condition;
                    break;
                }

                case "elif":
                {
                    Conditional top = Top(conditionals, directive, where);
                    bool condition = top.ParentActive && !top.AnyTaken && Condition("if", argument, where);
                    active = top.ParentActive && condition;
                    top.AnyTaken |= condition;
                    break;
                }

                case "else":
                {
                    Conditional top = Top(conditionals, directive, where);
                    active = top.ParentActive && !top.AnyTaken;
                    top.AnyTaken = true;
                    break;
                }

                case "endif":
                    active = Top(conditionals, directive, where).ParentActive;
                    conditionals.Pop();
                    break;

                case "define" when active:
                    ParseDefine(argument, where);
                    break;

                case "undef" when active:
                    macros.Remove(argument);
                    break;

                case "error" when active:
                    throw new FormatException($"{where}: #error {argument}");

                case "define":
                case "undef":
                case "error":
                case "include":
                case "pragma":
                case "warning":
                case "":
                    break;

                default:
                    throw new FormatException($"{where}: unknown directive #{directive}");
            }
        }

        if (conditionals.Count != 0)
        {
            throw new FormatException($"{source}: {conditionals.Count} unterminated #if at end of file");
        }
    }

    private bool Condition(string directive, string argument, string where) => directive switch
    {
        "ifdef" => macros.ContainsKey(argument),
        "ifndef" => !macros.ContainsKey(argument),
        _ => IntegerExpression.Evaluate(argument, macros, inCondition: true, $"#if at {where}") != 0,
    };

    private static Conditional Top(Stack<Conditional> conditionals, string directive, string where)
        => conditionals.Count > 0 ? conditionals.Peek() : throw new FormatException($"{where}: #{directive} without #if");

    private void ParseDefine(string argument, string where)
    {
        int end = 0;
        while (end < argument.Length && (char.IsAsciiLetterOrDigit(argument[end]) || argument[end] == '_'))
        {
            end++;
        }

        if (end == 0)
        {
            throw new FormatException($"{where}: #define without a name");
        }

        string name = argument[..end];
        bool functionLike = end < argument.Length && argument[end] == '(';
        string body = argument[end..];
        string[] parameters = [];
        if (functionLike)
        {
            int close = body.IndexOf(')', StringComparison.Ordinal);
            parameters = body[1..close].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            body = body[(close + 1)..];
        }

        macros[name] = new MacroDefinition(name, functionLike, body.Trim()) { Parameters = parameters };
    }

    internal static string JoinContinuationLines(string text)
        => text.Replace("\r\n", "\n", StringComparison.Ordinal).Replace("\\\n", " ", StringComparison.Ordinal);

    /// <summary>Removes <c>/* */</c> and <c>//</c> comments, keeping the newlines inside them so line numbers stay right.</summary>
    internal static string StripComments(string text)
    {
        var builder = new StringBuilder(text.Length);
        int i = 0;
        while (i < text.Length)
        {
            if (text[i] == '/' && i + 1 < text.Length && text[i + 1] == '*')
            {
                int end = text.IndexOf("*/", i + 2, StringComparison.Ordinal);
                end = end < 0 ? text.Length : end + 2;
                builder.Append(' ');
                foreach (char c in text.AsSpan(i, end - i))
                {
                    if (c == '\n')
                    {
                        builder.Append('\n');
                    }
                }

                i = end;
            }
            else if (text[i] == '/' && i + 1 < text.Length && text[i + 1] == '/')
            {
                while (i < text.Length && text[i] != '\n')
                {
                    i++;
                }
            }
            else
            {
                builder.Append(text[i++]);
            }
        }

        return builder.ToString();
    }

    private sealed class Conditional(bool parentActive, bool taken)
    {
        public bool ParentActive { get; } = parentActive;

        public bool AnyTaken { get; set; } = taken;
    }
}
