using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Syscage.Policy.Oci;

/// <summary>
/// Where each value of a JSON document starts, by JSON path (<c>syscalls[3].args[0].op</c>), so that errors found
/// while walking a <see cref="JsonDocument"/> (which keeps no positions) can say <c>file:line:col</c>.
/// Object keys are recorded as written; lookups ignore case, as Go's encoding/json matches field names.
/// Columns count UTF-16 characters, as editors do, not bytes. One pass over the text, in time linear in its size.
/// </summary>
internal sealed class JsonPositions
{
    private readonly Dictionary<string, (int Line, int Column)> _positions = new(StringComparer.OrdinalIgnoreCase);

    private JsonPositions() { }

    /// <summary>Records the position of every value in <paramref name="utf8"/> (which must be well-formed JSON in valid UTF-8).</summary>
    public static JsonPositions Scan(ReadOnlySpan<byte> utf8, JsonReaderOptions options)
    {
        var map = new JsonPositions();
        var cursor = new Cursor();
        var reader = new Utf8JsonReader(utf8, options);
        // One frame per open container: its path, whether it is an array, and the next array index.
        var stack = new Stack<(string Path, bool IsArray, int Next)>();
        string? pendingName = null;
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.PropertyName)
            {
                pendingName = reader.GetString();
                continue;
            }
            if (reader.TokenType is JsonTokenType.EndObject or JsonTokenType.EndArray)
            {
                stack.Pop();
                continue;
            }
            if (reader.TokenType == JsonTokenType.Comment)
                continue;
            string path;
            if (stack.Count == 0)
                path = "";
            else
            {
                var top = stack.Pop();
                if (top.IsArray)
                {
                    path = string.Create(CultureInfo.InvariantCulture, $"{top.Path}[{top.Next}]");
                    top.Next++;
                }
                else
                    path = top.Path.Length == 0 ? pendingName ?? "" : $"{top.Path}.{pendingName}";
                stack.Push(top);
            }
            map._positions.TryAdd(path, cursor.MoveTo(utf8, reader.TokenStartIndex));
            if (reader.TokenType == JsonTokenType.StartObject)
                stack.Push((path, false, 0));
            else if (reader.TokenType == JsonTokenType.StartArray)
                stack.Push((path, true, 0));
        }
        return map;
    }

    /// <summary>The line and column (1-based) of byte <paramref name="offset"/> of <paramref name="utf8"/>.</summary>
    public static (int Line, int Column) At(ReadOnlySpan<byte> utf8, long offset) => new Cursor().MoveTo(utf8, offset);

    /// <summary>The position of a <see cref="JsonException"/>'s 0-based line and byte in that line, with the column in characters.</summary>
    public static (int Line, int Column) At(ReadOnlySpan<byte> utf8, long line, long bytePositionInLine)
    {
        long offset = 0;
        for (long l = 0; l < line; l++)
        {
            int newline = utf8[(int)offset..].IndexOf((byte)'\n');
            if (newline < 0)
                break;
            offset += newline + 1;
        }
        return At(utf8, offset + bytePositionInLine);
    }

    /// <summary>
    /// The byte offset of the first byte that is not valid UTF-8, or -1 when all are valid. The JSON reader
    /// accepts such bytes inside strings and fails only when one is converted, with no position.
    /// </summary>
    public static int FirstInvalidUtf8(ReadOnlySpan<byte> utf8)
    {
        if (System.Text.Unicode.Utf8.IsValid(utf8))
            return -1;
        int at = 0;
        while (Rune.DecodeFromUtf8(utf8[at..], out _, out int consumed) == System.Buffers.OperationStatus.Done)
            at += consumed;
        return at;
    }

    /// <summary>The line and column (1-based) of the value at <paramref name="path"/>, or of its nearest recorded ancestor.</summary>
    public (int Line, int Column) Find(string path)
    {
        while (true)
        {
            if (_positions.TryGetValue(path, out var at))
                return at;
            int cut = Math.Max(path.LastIndexOf('.'), path.LastIndexOf('['));
            if (cut <= 0)
                return _positions.TryGetValue("", out var root) ? root : (1, 1);
            path = path[..cut];
        }
    }

    /// <summary>
    /// A position that only moves forward through the text, so that positions asked for in order cost one pass in all.
    /// Counts lines at <c>\n</c> and columns in UTF-16 characters: one per UTF-8 lead byte, two for a 4-byte sequence
    /// (a surrogate pair).
    /// </summary>
    private struct Cursor()
    {
        private long _offset;
        private int _line = 1, _column = 1;

        public (int Line, int Column) MoveTo(ReadOnlySpan<byte> utf8, long offset)
        {
            for (long end = Math.Min(offset, utf8.Length); _offset < end; _offset++)
            {
                byte b = utf8[(int)_offset];
                if (b == (byte)'\n')
                {
                    _line++;
                    _column = 1;
                }
                else if ((b & 0xC0) != 0x80)
                    _column += b >= 0xF0 ? 2 : 1;
            }
            return (_line, _column);
        }
    }
}
