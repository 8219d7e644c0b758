using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Syscage.Policy;
using Syscage.Policy.Language;
using Syscage.Policy.Oci;

namespace Syscage.Cli;

/// <summary>
/// What a verb writes a policy as besides a filter: the policy language (<see cref="PolicyWriter"/>), an OCI/Docker
/// profile or a Kubernetes SeccompProfile (<see cref="OciProfileWriter"/>). <c>compile --format</c> and
/// <c>record --format</c> write through it.
/// </summary>
public static class PolicyOutputs
{
    /// <summary>
    /// The policy in another language: <c>policy</c>, <c>oci</c> or <c>k8s</c>. What the target cannot say is an error
    /// (exit 3); what it says more strictly is a warning on <paramref name="stderr"/>.
    /// </summary>
    public static string Translate(SeccompPolicy ir, string format, TextWriter stderr, string name)
    {
        ArgumentNullException.ThrowIfNull(ir);
        ArgumentNullException.ThrowIfNull(stderr);
        if (format == "policy")
            return PolicyWriter.TryWrite(ir, out var text, out var why) ? text
                : throw new CliException(ExitCode.BadInput, $"{ir.Name}: cannot be written in the policy language: {why}");
        var options = new OciWriteOptions
        {
            Format = format == "k8s" ? ProfileFormat.Kubernetes : ProfileFormat.Oci,
            Name = Path.GetFileNameWithoutExtension(name),
        };
        if (!OciProfileWriter.TryWrite(ir, options, out var written, out var error))
            throw new CliException(ExitCode.BadInput, $"{ir.Name}: cannot be written as {(format == "k8s" ? "a SeccompProfile" : "an OCI profile")} without letting a call further: {error}");
        foreach (var note in written.Approximations)
            stderr.WriteLine($"syscage: warning: {note}");
        return format == "k8s" ? Yaml(written.Text) : written.Text;
    }

    /// <summary>
    /// A JSON document as YAML: objects as block mappings in their order, arrays as block sequences (an item's dash at
    /// its key's column), empty ones in flow style, numbers, booleans and null as they are, strings plain where every
    /// YAML reader reads them back as the same string and double-quoted otherwise.
    /// </summary>
    internal static string Yaml(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var yaml = new StringBuilder();
        WriteYaml(yaml, doc.RootElement, 0, onDashLine: false);
        return yaml.ToString();
    }

    /// <summary>
    /// Writes <paramref name="element"/> as a block at <paramref name="indent"/>; <paramref name="onDashLine"/>: its
    /// first line goes on a sequence item's line, after the dash.
    /// </summary>
    private static void WriteYaml(StringBuilder yaml, JsonElement element, int indent, bool onDashLine)
    {
        bool first = true;
        if (HasProperties(element))
        {
            foreach (var p in element.EnumerateObject())
            {
                if (!first || !onDashLine)
                    yaml.Append(' ', indent);
                first = false;
                AppendScalar(yaml, p.Name);
                yaml.Append(':');
                if (IsBlock(p.Value))
                {
                    yaml.Append('\n');
                    // A sequence's dashes at the key's column, a mapping's keys indented.
                    WriteYaml(yaml, p.Value, p.Value.ValueKind == JsonValueKind.Array ? indent : indent + 2, onDashLine: false);
                }
                else
                {
                    yaml.Append(' ');
                    AppendInline(yaml, p.Value);
                    yaml.Append('\n');
                }
            }
        }
        else if (element.ValueKind == JsonValueKind.Array && element.GetArrayLength() > 0)
        {
            foreach (var item in element.EnumerateArray())
            {
                if (!first || !onDashLine)
                    yaml.Append(' ', indent);
                first = false;
                yaml.Append("- ");
                if (IsBlock(item))
                    WriteYaml(yaml, item, indent + 2, onDashLine: true);
                else
                {
                    AppendInline(yaml, item);
                    yaml.Append('\n');
                }
            }
        }
        else
        {
            if (!onDashLine)
                yaml.Append(' ', indent);
            AppendInline(yaml, element);
            yaml.Append('\n');
        }
    }

    private static bool IsBlock(JsonElement e) => HasProperties(e) || (e.ValueKind == JsonValueKind.Array && e.GetArrayLength() > 0);

    private static bool HasProperties(JsonElement e) => e.ValueKind == JsonValueKind.Object && e.EnumerateObject().MoveNext();

    /// <summary>A scalar, or an empty collection (<c>{}</c>, <c>[]</c>), on the current line.</summary>
    private static void AppendInline(StringBuilder yaml, JsonElement e)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.String: AppendScalar(yaml, e.GetString()!); break;
            case JsonValueKind.Object: yaml.Append("{}"); break;
            case JsonValueKind.Array: yaml.Append("[]"); break;
            default: yaml.Append(e.GetRawText()); break; // a number, true, false, null: the same in YAML
        }
    }

    /// <summary>
    /// A string, plain when it is a word every YAML reader takes as that string (a letter, '_' or '/' first, then
    /// letters, digits and <c>_ . / -</c>, and no boolean or null of YAML 1.1 or 1.2), double-quoted otherwise.
    /// </summary>
    private static void AppendScalar(StringBuilder yaml, string value)
    {
        bool plain = value.Length > 0 && (char.IsAsciiLetter(value[0]) || value[0] is '_' or '/')
            && !value.AsSpan().ContainsAnyExcept(PlainChars)
            && value.ToLowerInvariant() is not ("true" or "false" or "yes" or "no" or "on" or "off" or "null" or "y" or "n");
        if (plain)
        {
            yaml.Append(value);
            return;
        }
        yaml.Append('"');
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            switch (c)
            {
                case '"': yaml.Append("\\\""); break;
                case '\\': yaml.Append("\\\\"); break;
                case '\n': yaml.Append("\\n"); break;
                case '\t': yaml.Append("\\t"); break;
                default:
                    if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
                        yaml.Append(c).Append(value[++i]);
                    else if (char.IsSurrogate(c))
                        yaml.Append('\uFFFD'); // what UTF-8 makes of a lone half
                    else if (c < ' ' || c is >= '\u007f' and <= '\u009f' or '\u2028' or '\u2029' or '\ufeff' or '\ufffe' or '\uffff')
                        yaml.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}"); // not printable in YAML: escaped
                    else
                        yaml.Append(c);
                    break;
            }
        }
        yaml.Append('"');
    }

    private static readonly SearchValues<char> PlainChars = SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-");
}
