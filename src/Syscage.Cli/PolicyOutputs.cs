using System.Text.Json;
using Syscage.Policy;
using Syscage.Policy.Language;
using Syscage.Policy.Oci;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

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
    /// A JSON document as YAML, with YamlDotNet's emitter (events, no reflection: the tool is compiled ahead of time):
    /// objects as block mappings in their order, arrays as block sequences, numbers plain, strings plain where YAML
    /// reads them back as the same string (quoted otherwise).
    /// </summary>
    internal static string Yaml(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var text = new StringWriter { NewLine = "\n" };
        var emitter = new Emitter(text);
        emitter.Emit(new StreamStart());
        emitter.Emit(new DocumentStart());
        Emit(emitter, doc.RootElement);
        emitter.Emit(new DocumentEnd(true));
        emitter.Emit(new StreamEnd());
        return text.ToString();

        static void Emit(IEmitter e, JsonElement element)
        {
            switch (element.ValueKind)
            {
                case JsonValueKind.Object:
                    e.Emit(new MappingStart(null, null, true, MappingStyle.Block));
                    foreach (var p in element.EnumerateObject())
                    {
                        e.Emit(new Scalar(p.Name));
                        Emit(e, p.Value);
                    }
                    e.Emit(new MappingEnd());
                    break;
                case JsonValueKind.Array:
                    e.Emit(new SequenceStart(null, null, true, SequenceStyle.Block));
                    foreach (var item in element.EnumerateArray())
                        Emit(e, item);
                    e.Emit(new SequenceEnd());
                    break;
                case JsonValueKind.String:
                    // Plain unless YAML would read it as something else: a number, a boolean, null.
                    string value = element.GetString()!;
                    bool plain = value.Length > 0 && !double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _) &&
                                 !value.StartsWith("0x", StringComparison.OrdinalIgnoreCase) && !value.StartsWith("0o", StringComparison.OrdinalIgnoreCase) &&
                                 value.ToLowerInvariant() is not ("true" or "false" or "yes" or "no" or "on" or "off" or "null" or "~" or "y" or "n");
                    e.Emit(new Scalar(null, null, value, plain ? ScalarStyle.Any : ScalarStyle.DoubleQuoted, plain, !plain));
                    break;
                default:
                    e.Emit(new Scalar(element.GetRawText()));
                    break;
            }
        }
    }

}
