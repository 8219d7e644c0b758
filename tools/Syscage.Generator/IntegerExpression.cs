using System.Globalization;
using System.Text;

namespace Syscage.Generator;

/// <summary>The kinds of C preprocessor token the generator needs.</summary>
internal enum CTokenKind
{
    Number,
    Identifier,
    Punctuator,
}

/// <summary>One C token; <see cref="Value"/> is set for numbers.</summary>
internal readonly record struct CToken(CTokenKind Kind, string Text, long Value)
{
    public override string ToString() => Text;
}

/// <summary>A <c>#define</c>: object-like (<c>#define A (B + 1)</c>) or function-like (<c>#define F(x) ...</c>).</summary>
internal sealed record MacroDefinition(string Name, bool IsFunctionLike, string Body);

/// <summary>
/// Integer constant expressions as the C preprocessor sees them: the <c>#if</c> conditions of the uapi headers
/// (<c>defined(__ARCH_WANT_TIME32_SYSCALLS) || __BITS_PER_LONG != 32</c>) and the bodies of <c>__NR_*</c>
/// macros (<c>(__X32_SYSCALL_BIT + 520)</c>, <c>(__NR_arch_specific_syscall + 15)</c>). Arithmetic is on
/// <see cref="long"/>, like the preprocessor's <c>intmax_t</c>.
/// </summary>
internal static class IntegerExpression
{
    private static readonly string[] Punctuators =
    [
        "||", "&&", "==", "!=", "<=", ">=", "<<", ">>",
        "(", ")", "!", "~", "+", "-", "*", "/", "%", "<", ">", "&", "|", "^", "?", ":", ",",
    ];

    /// <summary>Splits C text (comments already removed) into tokens.</summary>
    public static List<CToken> Tokenize(string text)
    {
        var tokens = new List<CToken>();
        int i = 0;
        while (i < text.Length)
        {
            char c = text[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
                continue;
            }

            if (char.IsAsciiLetter(c) || c == '_')
            {
                int start = i;
                while (i < text.Length && (char.IsAsciiLetterOrDigit(text[i]) || text[i] == '_'))
                {
                    i++;
                }

                tokens.Add(new CToken(CTokenKind.Identifier, text[start..i], 0));
                continue;
            }

            if (char.IsAsciiDigit(c))
            {
                int start = i;
                while (i < text.Length && (char.IsAsciiLetterOrDigit(text[i]) || text[i] == '_'))
                {
                    i++;
                }

                string literal = text[start..i];
                tokens.Add(new CToken(CTokenKind.Number, literal, ParseNumber(literal)));
                continue;
            }

            string? punctuator = null;
            foreach (string p in Punctuators)
            {
                if (string.CompareOrdinal(text, i, p, 0, p.Length) == 0)
                {
                    punctuator = p;
                    break;
                }
            }

            if (punctuator is null)
            {
                throw new FormatException($"unexpected character '{c}' in C expression \"{text.Trim()}\"");
            }

            tokens.Add(new CToken(CTokenKind.Punctuator, punctuator, 0));
            i += punctuator.Length;
        }

        return tokens;
    }

    /// <summary>A C integer literal: decimal, <c>0x</c> hexadecimal or <c>0</c>-prefixed octal, with <c>u</c>/<c>l</c> suffixes.</summary>
    public static long ParseNumber(string literal)
    {
        string digits = literal.TrimEnd('u', 'U', 'l', 'L');
        try
        {
            if (digits.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            {
                return (long)ulong.Parse(digits.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
            }

            if (digits.Length > 1 && digits[0] == '0')
            {
                return Convert.ToInt64(digits[1..], 8);
            }

            return long.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
        {
            throw new FormatException($"bad integer literal '{literal}'", e);
        }
    }

    /// <summary>
    /// Replaces object-like macros by their bodies, recursively, as the preprocessor does (a macro is not
    /// expanded inside its own expansion). In a condition (<paramref name="inCondition"/>), <c>defined X</c> and
    /// <c>defined(X)</c> become 1 or 0 and unknown identifiers become 0; elsewhere an unknown identifier is an error.
    /// </summary>
    public static List<CToken> Expand(
        IReadOnlyList<CToken> tokens,
        IReadOnlyDictionary<string, MacroDefinition> macros,
        bool inCondition,
        string context)
    {
        var output = new List<CToken>();
        ExpandInto(tokens, macros, inCondition, context, new HashSet<string>(StringComparer.Ordinal), output);
        return output;
    }

    private static void ExpandInto(
        IReadOnlyList<CToken> tokens,
        IReadOnlyDictionary<string, MacroDefinition> macros,
        bool inCondition,
        string context,
        HashSet<string> expanding,
        List<CToken> output)
    {
        for (int i = 0; i < tokens.Count; i++)
        {
            CToken token = tokens[i];
            if (token.Kind != CTokenKind.Identifier)
            {
                output.Add(token);
                continue;
            }

            if (inCondition && token.Text == "defined")
            {
                bool parenthesized = i + 1 < tokens.Count && tokens[i + 1].Text == "(";
                int nameIndex = parenthesized ? i + 2 : i + 1;
                if (nameIndex >= tokens.Count || tokens[nameIndex].Kind != CTokenKind.Identifier
                    || (parenthesized && (nameIndex + 1 >= tokens.Count || tokens[nameIndex + 1].Text != ")")))
                {
                    throw new FormatException($"malformed 'defined' in {context}");
                }

                bool isDefined = macros.ContainsKey(tokens[nameIndex].Text);
                output.Add(new CToken(CTokenKind.Number, isDefined ? "1" : "0", isDefined ? 1 : 0));
                i = parenthesized ? nameIndex + 1 : nameIndex;
                continue;
            }

            if (!inCondition && token.Text == "_IO" && IoctlNumber(tokens, ref i, macros, context, expanding) is { } ioctl)
            {
                output.Add(ioctl);
                continue;
            }

            if (macros.TryGetValue(token.Text, out MacroDefinition? macro) && !expanding.Contains(token.Text))
            {
                if (macro.IsFunctionLike)
                {
                    throw new FormatException($"function-like macro {macro.Name} used in {context}; the generator does not expand those");
                }

                expanding.Add(token.Text);
                ExpandInto(Tokenize(macro.Body), macros, inCondition, context, expanding, output);
                expanding.Remove(token.Text);
                continue;
            }

            if (!inCondition)
            {
                throw new FormatException($"'{token.Text}' is not a defined macro, in {context}");
            }

            // C11 6.10.1p4: identifiers left after macro expansion in #if are replaced by 0.
            output.Add(new CToken(CTokenKind.Number, "0", 0));
        }
    }

    /// <summary>
    /// <c>_IO(type, nr)</c> of asm-generic/ioctl.h, the ioctl number without data: <c>_IOC(_IOC_NONE, type, nr, 0)</c> =
    /// <c>(type &lt;&lt; _IOC_TYPESHIFT) | (nr &lt;&lt; _IOC_NRSHIFT)</c> with the generic shifts 8 and 0 (x86's). The
    /// forms with data (<c>_IOR</c>, <c>_IOW</c>, <c>_IOWR</c>) need the C type's size and stay unexpanded. On success
    /// <paramref name="i"/> moves to the closing parenthesis.
    /// </summary>
    private static CToken? IoctlNumber(IReadOnlyList<CToken> tokens, ref int i, IReadOnlyDictionary<string, MacroDefinition> macros, string context, HashSet<string> expanding)
    {
        const int TypeShift = 8, NrShift = 0;
        if (i + 1 >= tokens.Count || tokens[i + 1].Text != "(")
            return null;
        var args = new List<List<CToken>> { new() };
        int depth = 0, j = i + 2;
        for (; j < tokens.Count; j++)
        {
            string t = tokens[j].Text;
            if (t == ")" && depth == 0)
                break;
            if (t == "," && depth == 0)
            {
                args.Add([]);
                continue;
            }
            depth += t == "(" ? 1 : t == ")" ? -1 : 0;
            args[^1].Add(tokens[j]);
        }
        if (j >= tokens.Count || args.Count != 2)
            throw new FormatException($"malformed _IO(type, nr) in {context}");
        long Value(List<CToken> arg)
        {
            var expanded = new List<CToken>();
            ExpandInto(arg, macros, inCondition: false, context, expanding, expanded);
            return Evaluate(expanded, context);
        }
        long value = (Value(args[0]) << TypeShift) | (Value(args[1]) << NrShift);
        i = j;
        return new CToken(CTokenKind.Number, value.ToString(CultureInfo.InvariantCulture), value);
    }

    /// <summary>Evaluates an expanded token list (numbers and operators only).</summary>
    public static long Evaluate(IReadOnlyList<CToken> tokens, string context)
    {
        var parser = new Parser(tokens, context);
        long value = parser.ParseConditional();
        if (!parser.AtEnd)
        {
            throw new FormatException($"unexpected '{parser.Current}' in {context}: {Render(tokens)}");
        }

        return value;
    }

    /// <summary>Expands and evaluates <paramref name="text"/>.</summary>
    public static long Evaluate(string text, IReadOnlyDictionary<string, MacroDefinition> macros, bool inCondition, string context)
        => Evaluate(Expand(Tokenize(text), macros, inCondition, context), context);

    private static string Render(IReadOnlyList<CToken> tokens)
    {
        var builder = new StringBuilder();
        foreach (CToken token in tokens)
        {
            if (builder.Length > 0)
            {
                builder.Append(' ');
            }

            builder.Append(token.Text);
        }

        return builder.ToString();
    }

    private sealed class Parser(IReadOnlyList<CToken> tokens, string context)
    {
        private int position;

        public bool AtEnd => position >= tokens.Count;

        public string Current => AtEnd ? "end of expression" : tokens[position].Text;

        public long ParseConditional()
        {
            long condition = ParseBinary(0);
            if (Accept("?"))
            {
                long whenTrue = ParseConditional();
                Expect(":");
                long whenFalse = ParseConditional();
                return condition != 0 ? whenTrue : whenFalse;
            }

            return condition;
        }

        // Binary operators by C precedence, loosest first.
        private static readonly string[][] Levels =
        [
            ["||"], ["&&"], ["|"], ["^"], ["&"], ["==", "!="], ["<", ">", "<=", ">="], ["<<", ">>"], ["+", "-"], ["*", "/", "%"],
        ];

        private long ParseBinary(int level)
        {
            if (level == Levels.Length)
            {
                return ParseUnary();
            }

            long left = ParseBinary(level + 1);
            while (!AtEnd && tokens[position].Kind == CTokenKind.Punctuator && Array.IndexOf(Levels[level], tokens[position].Text) >= 0)
            {
                string op = tokens[position++].Text;
                long right = ParseBinary(level + 1);
                left = op switch
                {
                    "||" => (left != 0 || right != 0) ? 1 : 0,
                    "&&" => (left != 0 && right != 0) ? 1 : 0,
                    "|" => left | right,
                    "^" => left ^ right,
                    "&" => left & right,
                    "==" => left == right ? 1 : 0,
                    "!=" => left != right ? 1 : 0,
                    "<" => left < right ? 1 : 0,
                    ">" => left > right ? 1 : 0,
                    "<=" => left <= right ? 1 : 0,
                    ">=" => left >= right ? 1 : 0,
                    "<<" => left << (int)right,
                    ">>" => left >> (int)right,
                    "+" => left + right,
                    "-" => left - right,
                    "*" => left * right,
                    "/" => right == 0 ? throw new FormatException($"division by zero in {context}") : left / right,
                    "%" => right == 0 ? throw new FormatException($"division by zero in {context}") : left % right,
                    _ => throw new InvalidOperationException(op),
                };
            }

            return left;
        }

        private long ParseUnary()
        {
            if (Accept("!"))
            {
                return ParseUnary() == 0 ? 1 : 0;
            }

            if (Accept("~"))
            {
                return ~ParseUnary();
            }

            if (Accept("-"))
            {
                return -ParseUnary();
            }

            if (Accept("+"))
            {
                return ParseUnary();
            }

            if (Accept("("))
            {
                long value = ParseConditional();
                Expect(")");
                return value;
            }

            if (!AtEnd && tokens[position].Kind == CTokenKind.Number)
            {
                return tokens[position++].Value;
            }

            throw new FormatException($"expected a number but found '{Current}' in {context}");
        }

        private bool Accept(string punctuator)
        {
            if (!AtEnd && tokens[position].Kind == CTokenKind.Punctuator && tokens[position].Text == punctuator)
            {
                position++;
                return true;
            }

            return false;
        }

        private void Expect(string punctuator)
        {
            if (!Accept(punctuator))
            {
                throw new FormatException($"expected '{punctuator}' but found '{Current}' in {context}");
            }
        }
    }
}
