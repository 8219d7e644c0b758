using System.Globalization;
using System.Text.Json;
using Syscage.Policy;

namespace Syscage.Cli;

/// <summary>
/// The lint's findings as the verbs print them: <c>lint</c> on stdout (and as JSON), <c>compile</c> and <c>check</c> on
/// stderr beside their output. One computation (<see cref="PolicyLinter"/>) for all three.
/// </summary>
public static class LintOutput
{
    /// <summary>The findings for a loaded policy: the linter's, and an OCI profile's loader warnings as <see cref="LintKind.Profile"/>.</summary>
    public static IReadOnlyList<LintFinding> Findings(LoadedPolicy loaded)
    {
        ArgumentNullException.ThrowIfNull(loaded);
        var profile = loaded.Warnings.Select(w => new LintFinding(LintKind.Profile, new PolicySource(w.File, w.Line, w.Column), $"{w.Path}: {w.Message}"));
        return [.. profile, .. PolicyLinter.Lint(loaded.Policy)];
    }

    /// <summary>
    /// Writes each finding as <c>file:line:col: warning: message [code]</c>. With <paramref name="limit"/>, only that
    /// many, and a line saying how many more there are and how to see them.
    /// </summary>
    public static void WriteText(TextWriter writer, IReadOnlyList<LintFinding> findings, int? limit = null)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(findings);
        int shown = limit is int n ? Math.Min(n, findings.Count) : findings.Count;
        foreach (var f in findings.Take(shown))
            writer.WriteLine(f.ToString());
        if (findings.Count > shown)
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"syscage: ... and {findings.Count - shown} more warnings ('syscage lint' or --verbose lists them all)"));
    }

    /// <summary>Writes one finding as a JSON object: kind, file, line, column, syscall, architectures, message, decidedBy.</summary>
    public static void WriteJson(Utf8JsonWriter w, LintFinding finding)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(finding);
        w.WriteStartObject();
        w.WriteString("kind", finding.Code);
        WriteSource(w, finding.Source);
        if (finding.Syscall is { } s)
            w.WriteString("syscall", s);
        w.WriteStartArray("architectures");
        foreach (var a in finding.Architectures)
            w.WriteStringValue(a.Name);
        w.WriteEndArray();
        w.WriteString("message", finding.Message);
        w.WriteStartArray("decidedBy");
        foreach (var by in finding.DecidedBy)
        {
            w.WriteStartObject();
            WriteSource(w, by);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>file, line and column (when known), and the rule's text (when kept).</summary>
    public static void WriteSource(Utf8JsonWriter w, PolicySource source)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(source);
        w.WriteString("file", source.File);
        if (source.Line > 0)
            w.WriteNumber("line", source.Line);
        if (source.Column > 0)
            w.WriteNumber("column", source.Column);
        if (source.Text is { } text)
            w.WriteString("text", text);
    }
}
