using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Syscage.Policy.Oci;

/// <summary>
/// Where each value of a JSON document starts, by JSON path (<c>syscalls[3].args[0].op</c>), so that errors found
/// while walking a <see cref="JsonDocument"/> (which keeps no positions) can say <c>file:line:col</c>.
/// Object keys are recorded as written; lookups ignore case, as Go's encoding/json matches field names.
/// </summary>
internal sealed class JsonPositions
{
    private readonly Dictionary<string, (int Line, int Column)> _positions = new(StringComparer.OrdinalIgnoreCase);

    private JsonPositions() { }

    /// <summary>Records the position of every value in <paramref name="utf8"/> (which must be well-formed JSON).</summary>
    public static JsonPositions Scan(ReadOnlySpan<byte> utf8, JsonReaderOptions options)
    {
        var map = new JsonPositions();
        var lineStarts = new List<int> { 0 };
        for (int i = 0; i < utf8.Length; i++)
            if (utf8[i] == (byte)'\n')
                lineStarts.Add(i + 1);

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
            map._positions.TryAdd(path, At(utf8, lineStarts, reader.TokenStartIndex));
            if (reader.TokenType == JsonTokenType.StartObject)
                stack.Push((path, false, 0));
            else if (reader.TokenType == JsonTokenType.StartArray)
                stack.Push((path, true, 0));
        }
        return map;
    }

    private static (int, int) At(ReadOnlySpan<byte> utf8, List<int> lineStarts, long offset)
    {
        int index = lineStarts.BinarySearch((int)offset);
        int line = index >= 0 ? index : ~index - 1;
        // Columns count characters, not bytes, so a non-ASCII name before the error does not shift it.
        int column = Encoding.UTF8.GetCharCount(utf8.Slice(lineStarts[line], (int)offset - lineStarts[line])) + 1;
        return (line + 1, column);
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
}
