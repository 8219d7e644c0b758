using System.Globalization;

namespace Syscage.Policy.Language;

internal enum TokenKind
{
    Ident,
    Group,
    Number,
    String,
    Punct,
    Newline,
    End,
}

/// <summary>A token with its place: <see cref="Start"/>/<see cref="Stop"/> are offsets into the text (for rule text).</summary>
internal readonly record struct Token(TokenKind Kind, string Text, ulong Value, int Line, int Column, int Start, int Stop)
{
    public bool Is(string punct) => Kind == TokenKind.Punct && Text == punct;

    public string Describe() => Kind switch
    {
        TokenKind.Newline => "end of line",
        TokenKind.End => "end of file",
        TokenKind.String => $"\"{Text}\"",
        _ => $"'{Text}'",
    };
}

/// <summary>
/// Splits policy text into tokens. Comments run from <c>#</c> (or <c>//</c>) to the end of the line. A line break ends
/// a statement, except inside parentheses and after a token that cannot end one (a comma, a binary operator,
/// <c>=</c>, <c>!</c>, <c>{</c>, <c>if</c>), so long lists and conditions can continue on the next line. A character
/// that starts no token is recorded in the parser's <see cref="FirstError{TError}"/> and ends the run.
/// </summary>
internal sealed class Lexer
{
    private static readonly string[] Puncts =
        ["==", "!=", "<=", ">=", "&&", "||", "<<", ">>", "<", ">", "!", "&", "|", "~", "(", ")", "{", "}", ",", "=", ";", "+", "-", "*"];

    private readonly string _text;
    private readonly string _file;
    private readonly FirstError<PolicyError> _errors;
    private int _pos, _line = 1, _lineStart;

    /// <summary>A lexer for <paramref name="text"/> of <paramref name="file"/>, recording its error in <paramref name="errors"/>.</summary>
    public Lexer(string text, string file, FirstError<PolicyError> errors)
    {
        _text = text;
        _file = file;
        _errors = errors;
    }

    /// <summary>All the tokens, ending with <see cref="TokenKind.End"/>; false at the first character that starts none.</summary>
    public bool Run(out List<Token> tokens)
    {
        tokens = [];
        int depth = 0;
        while (true)
        {
            if (!Next(out var t))
                return false;
            if (t.Kind == TokenKind.Newline)
            {
                if (depth > 0 || tokens.Count == 0 || Continues(tokens[^1]) || tokens[^1].Kind == TokenKind.Newline)
                    continue;
            }
            else if (t.Is("("))
                depth++;
            else if (t.Is(")") && depth > 0)
                depth--;
            tokens.Add(t);
            if (t.Kind == TokenKind.End)
                return true;
        }
    }

    private static bool Continues(Token t) =>
        (t.Kind == TokenKind.Punct && t.Text is not (")" or "}" or ";")) || (t.Kind == TokenKind.Ident && t.Text == "if");

    private bool Fail(int start, string message) => _errors.Fail(new PolicyError(_file, _line, start - _lineStart + 1, message));

    private bool Next(out Token token)
    {
        while (_pos < _text.Length)
        {
            char c = _text[_pos];
            if (c == '#' || (c == '/' && _pos + 1 < _text.Length && _text[_pos + 1] == '/'))
            {
                while (_pos < _text.Length && _text[_pos] != '\n')
                    _pos++;
            }
            else if (c == '\n')
            {
                token = Make(TokenKind.Newline, "\n", 0, _pos, _pos + 1);
                _pos++;
                _line++;
                _lineStart = _pos;
                return true;
            }
            else if (char.IsWhiteSpace(c))
                _pos++;
            else
                break;
        }
        token = default;
        if (_pos >= _text.Length)
        {
            token = Make(TokenKind.End, "", 0, _pos, _pos);
            return true;
        }

        int start = _pos;
        char ch = _text[_pos];
        if (char.IsAsciiLetter(ch) || ch == '_')
        {
            _pos++;
            while (_pos < _text.Length && (IsWordChar(_text[_pos])
                || (_text[_pos] == '-' && _pos + 1 < _text.Length && char.IsAsciiLetter(_text[_pos + 1]))))
                _pos++;
            token = Make(TokenKind.Ident, _text[start.._pos], 0, start, _pos);
            return true;
        }
        if (ch == '@')
        {
            _pos++;
            while (_pos < _text.Length && (IsWordChar(_text[_pos]) || _text[_pos] == '-'))
                _pos++;
            if (_pos == start + 1)
                return Fail(start, "'@' must be followed by a group name, e.g. @basic-io");
            token = Make(TokenKind.Group, _text[start.._pos], 0, start, _pos);
            return true;
        }
        if (char.IsAsciiDigit(ch))
        {
            while (_pos < _text.Length && IsWordChar(_text[_pos]))
                _pos++;
            string literal = _text[start.._pos];
            if (!TryParseNumber(literal, out ulong value))
                return Fail(start, $"bad number '{literal}': write decimal, 0x hexadecimal or 0 octal, at most 64 bits");
            token = Make(TokenKind.Number, literal, value, start, _pos);
            return true;
        }
        if (ch == '"')
        {
            _pos++;
            while (_pos < _text.Length && _text[_pos] != '"' && _text[_pos] != '\n')
                _pos++;
            if (_pos >= _text.Length || _text[_pos] != '"')
                return Fail(start, "unterminated string: a closing '\"' is missing on this line");
            _pos++;
            token = Make(TokenKind.String, _text[(start + 1)..(_pos - 1)], 0, start, _pos);
            return true;
        }
        foreach (string p in Puncts)
        {
            if (string.CompareOrdinal(_text, _pos, p, 0, p.Length) == 0)
            {
                _pos += p.Length;
                token = Make(TokenKind.Punct, p, 0, start, _pos);
                return true;
            }
        }
        return Fail(start, $"unexpected character '{ch}'");
    }

    private Token Make(TokenKind kind, string text, ulong value, int start, int stop) =>
        new(kind, text, value, _line, start - _lineStart + 1, start, stop);

    private static bool IsWordChar(char c) => char.IsAsciiLetterOrDigit(c) || c == '_';

    /// <summary>Decimal, <c>0x</c> hexadecimal, <c>0b</c> binary, or C's <c>0</c>-prefixed octal.</summary>
    internal static bool TryParseNumber(string s, out ulong value)
    {
        value = 0;
        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return s.Length > 2 && ulong.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
        if (s.StartsWith("0b", StringComparison.OrdinalIgnoreCase))
            return s.Length > 2 && ulong.TryParse(s.AsSpan(2), NumberStyles.AllowBinarySpecifier, CultureInfo.InvariantCulture, out value);
        if (s.Length > 1 && s[0] == '0')
        {
            foreach (char c in s.AsSpan(1))
            {
                if (c is < '0' or > '7' || value > (ulong.MaxValue >> 3))
                    return false;
                value = (value << 3) | (uint)(c - '0');
            }
            return true;
        }
        return ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }
}
