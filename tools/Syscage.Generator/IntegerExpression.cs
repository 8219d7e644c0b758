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
internal sealed record MacroDefinition(string Name, bool IsFunctionLike, string Body)
{
    /// <summary>A function-like macro's parameter names, in order.</summary>
    public IReadOnlyList<string> Parameters { get; init; } = [];
}

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

            if (c == '\'' && i + 2 < text.Length && text[i + 1] != '\\' && text[i + 2] == '\'')
            {
                // A character constant ('T' in _IOR('T', 0x30, int)): its code.
                tokens.Add(new CToken(CTokenKind.Number, text.Substring(i, 3), text[i + 1]));
                i += 3;
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

            if (!inCondition && token.Text == "sizeof" && i + 1 < tokens.Count && tokens[i + 1].Text == "(")
            {
                // sizeof(type): the size a C compiler gives it on x86_64, from the types the caller knows.
                i = Arguments(tokens, i + 1, context, out var typeTokens);
                string type = string.Join(' ', typeTokens.SelectMany(a => a).Select(t => t.Text));
                long size = TypeSizes.Of(type) ?? throw new FormatException($"sizeof({type}) is not known, in {context}");
                output.Add(new CToken(CTokenKind.Number, size.ToString(CultureInfo.InvariantCulture), size));
                continue;
            }

            if (macros.TryGetValue(token.Text, out MacroDefinition? macro) && !expanding.Contains(token.Text))
            {
                List<CToken> body = Tokenize(macro.Body);
                if (macro.IsFunctionLike)
                {
                    if (i + 1 >= tokens.Count || tokens[i + 1].Text != "(")
                    {
                        throw new FormatException($"function-like macro {macro.Name} used without arguments in {context}");
                    }

                    i = Arguments(tokens, i + 1, context, out var arguments);
                    if (arguments.Count != macro.Parameters.Count && !(macro.Parameters.Count == 0 && arguments is [[]]))
                    {
                        throw new FormatException($"{macro.Name} takes {macro.Parameters.Count} arguments, given {arguments.Count}, in {context}");
                    }

                    if (body.Any(t => t.Text is "#" or "##"))
                    {
                        throw new FormatException($"{macro.Name} stringizes or pastes tokens, which the generator does not do, in {context}");
                    }

                    // Each parameter is replaced by its argument's tokens, as the preprocessor does; the result is expanded again.
                    body = [.. body.SelectMany(t => t.Kind == CTokenKind.Identifier && ParameterIndex(macro, t.Text) is int k and >= 0
                        ? arguments[k]
                        : (IEnumerable<CToken>)[t])];
                }

                expanding.Add(token.Text);
                ExpandInto(body, macros, inCondition, context, expanding, output);
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

    private static int ParameterIndex(MacroDefinition macro, string name)
    {
        for (int k = 0; k < macro.Parameters.Count; k++)
        {
            if (macro.Parameters[k] == name)
            {
                return k;
            }
        }

        return -1;
    }

    /// <summary>
    /// The arguments of a macro call or <c>sizeof</c> whose <c>(</c> is at <paramref name="open"/>: the token lists between
    /// top-level commas. Returns the index of the closing <c>)</c>.
    /// </summary>
    private static int Arguments(IReadOnlyList<CToken> tokens, int open, string context, out List<List<CToken>> arguments)
    {
        arguments = [[]];
        int depth = 0;
        for (int j = open + 1; j < tokens.Count; j++)
        {
            string t = tokens[j].Text;
            if (t == ")" && depth == 0)
                return j;
            if (t == "," && depth == 0)
            {
                arguments.Add([]);
                continue;
            }
            depth += t == "(" ? 1 : t == ")" ? -1 : 0;
            arguments[^1].Add(tokens[j]);
        }
        throw new FormatException($"unbalanced parentheses in {context}");
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
