using System.Diagnostics.CodeAnalysis;
using System.Reflection;

namespace Syscage.Policy.Language;

/// <summary>
/// The built-in syscall groups (<c>@basic-io</c>, <c>@file-system</c>, <c>@network</c> ...), written in the policy
/// language in the embedded resource <c>Policy/Builtin/groups.policy</c>, in the spirit of systemd's
/// <c>SystemCallFilter=</c> sets. Every policy can name them; the file documents each group.
/// </summary>
public static class SyscallGroups
{
    /// <summary>The resource name of the group file.</summary>
    internal const string ResourceName = "Syscage.Policy.Builtin.groups.policy";

    private static readonly Lazy<IReadOnlyDictionary<string, GroupDefinition>> Loaded = new(Load);

    internal static IReadOnlyDictionary<string, GroupDefinition> Definitions => Loaded.Value;

    /// <summary>The group names, with their <c>@</c>, in the order the file defines them.</summary>
    public static IReadOnlyList<string> Names => [.. Loaded.Value.Values.OrderBy(g => g.Source.Line).Select(g => g.Name)];

    /// <summary>The text of <c>groups.policy</c>, where every group is defined and documented.</summary>
    public static string Source => ReadResource(ResourceName);

    /// <summary>
    /// The syscall names of group <paramref name="name"/> (with or without its <c>@</c>), nested groups expanded, in
    /// the order written, each once.
    /// </summary>
    public static bool TryGetMembers(string name, [NotNullWhen(true)] out IReadOnlyList<string>? members)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (Loaded.Value.TryGetValue(name.StartsWith('@') ? name : "@" + name, out var group))
        {
            members = group.Members.Select(m => m.Name).Distinct(StringComparer.Ordinal).ToArray();
            return true;
        }
        members = null;
        return false;
    }

    /// <summary>
    /// The one-paragraph description of group <paramref name="name"/> (with or without its <c>@</c>): the comment
    /// <c># @name: ...</c> above its definition in <c>groups.policy</c>; null for an unknown group.
    /// </summary>
    public static string? Description(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return Descriptions.Value.TryGetValue(name.StartsWith('@') ? name : "@" + name, out var d) ? d : null;
    }

    private static readonly Lazy<IReadOnlyDictionary<string, string>> Descriptions = new(() =>
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        string? current = null;
        var text = new List<string>();
        foreach (string raw in Source.Split('\n'))
        {
            string line = raw.Trim();
            if (line.StartsWith("# @", StringComparison.Ordinal) && line.IndexOf(':', StringComparison.Ordinal) is int colon and > 3)
            {
                current = line[2..colon];
                text = [line[(colon + 1)..].Trim()];
            }
            else if (current is not null && line.StartsWith('#'))
                text.Add(line.TrimStart('#').Trim());
            else if (current is not null)
            {
                result[current] = string.Join(' ', text);
                current = null;
            }
        }
        return result;
    });

    /// <summary>Up to <paramref name="max"/> group names (with their <c>@</c>) close to <paramref name="misspelt"/>, closest first.</summary>
    public static IReadOnlyList<string> SuggestNames(string misspelt, int max = 3)
    {
        ArgumentNullException.ThrowIfNull(misspelt);
        return Suggest.Closest(misspelt.StartsWith('@') ? misspelt : "@" + misspelt, Loaded.Value.Keys, max);
    }

    /// <summary>Like <see cref="TryGetMembers"/>, but throws <see cref="ArgumentException"/> (with a hint) for an unknown group.</summary>
    public static IReadOnlyList<string> Members(string name) =>
        TryGetMembers(name, out var members) ? members
            : throw new ArgumentException($"unknown group '{name}'{(Suggest.Closest(name.StartsWith('@') ? name : "@" + name, Loaded.Value.Keys) is { } c ? $"; did you mean '{c}'?" : "")}", nameof(name));

    private static IReadOnlyDictionary<string, GroupDefinition> Load()
    {
        var parser = new Parser(NoIncludes, null, new Dictionary<string, GroupDefinition>(), groupsOnly: true);
        if (!parser.TryParseGroups(ReadResource(ResourceName), "groups.policy", out var error))
            throw new InvalidOperationException($"the built-in groups do not parse: {error}");   // a bug in the embedded file
        return parser.Groups;
    }

    private static bool NoIncludes(string includingFile, string path, out string displayName, out string key, out string text, out string error)
    {
        (displayName, key, text) = (path, path, "");
        error = "the built-in group file includes nothing";
        return false;
    }

    internal static Stream? OpenResource(string name) => typeof(SyscallGroups).Assembly.GetManifestResourceStream(name);

    /// <summary>The text of an embedded policy resource (the groups here, the built-in policies in Policy/Builtin).</summary>
    internal static string ReadResource(string resource)
    {
        using var stream = OpenResource(resource)
            ?? throw new InvalidOperationException($"embedded resource {resource} is missing from the Syscage assembly");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    internal static Assembly Assembly => typeof(SyscallGroups).Assembly;
}
