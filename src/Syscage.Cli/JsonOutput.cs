using System.Text;
using System.Text.Json;
using Syscage.Abi;

namespace Syscage.Cli;

/// <summary>The verbs' <c>--json</c>: one JSON object per line, written with <see cref="Utf8JsonWriter"/>.</summary>
public static class JsonOutput
{
    /// <summary>The <c>--json</c> option, as every verb that has it describes it.</summary>
    public static System.CommandLine.Option<bool> Option(string what) => new("--json") { Description = $"Write {what} as one JSON object (a line) instead of text" };

    /// <summary><c>0x1f</c>: a 64-bit value as JSON keeps it whole.</summary>
    public static string Hex(ulong value) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"0x{value:x}");

    /// <summary>Writes the object <paramref name="body"/> writes, on one line.</summary>
    public static void WriteLine(TextWriter writer, Action<Utf8JsonWriter> body)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(body);
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            body(w);
        writer.WriteLine(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
    }
}
