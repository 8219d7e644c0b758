using System.Diagnostics.CodeAnalysis;
using Syscage.Policy.Language;

namespace Syscage.Policy.Builtin;

/// <summary>
/// Policies shipped inside the library, written in the policy language (embedded resources
/// <c>Policy/Builtin/NAME.policy</c>). <c>default</c> is a container-style allow-list: what ordinary programs
/// (shells, coreutils, Python, .NET) need is allowed, what only escapes and attacks need is denied.
/// </summary>
public static class BuiltinPolicies
{
    private const string Prefix = "Syscage.Policy.Builtin.";
    private const string Suffix = ".policy";

    /// <summary>
    /// This build of the library: a SHA-256 (hex) of everything the compiler made it from — sources, these policies'
    /// text, references, the compiler and its options. Two builds with one identity are one assembly; what was compiled
    /// ahead from a policy by one build (the tool's cache of built-in programs) is valid only for that build.
    /// </summary>
    public static string BuildIdentity => Syscage.BuildIdentity.Value;

    /// <summary>The names of the built-in policies (<c>default</c> ...), sorted.</summary>
    public static IReadOnlyList<string> Names { get; } = SyscallGroups.Assembly.GetManifestResourceNames()
        .Where(n => n.StartsWith(Prefix, StringComparison.Ordinal) && n.EndsWith(Suffix, StringComparison.Ordinal) && n != SyscallGroups.ResourceName)
        .Select(n => n[Prefix.Length..^Suffix.Length])
        .Order(StringComparer.Ordinal)
        .ToArray();

    /// <summary>True when <paramref name="name"/> is a built-in policy.</summary>
    public static bool Contains(string name) => Names.Contains(name, StringComparer.Ordinal);

    /// <summary>The policy text of built-in <paramref name="name"/>, or null when there is none.</summary>
    public static string? Source(string name) => Contains(name) ? SyscallGroups.ReadResource(Prefix + name + Suffix) : null;

    /// <summary>
    /// Reads built-in <paramref name="name"/>. Its rules' <see cref="PolicySource"/> name the file <c>NAME.policy</c>.
    /// </summary>
    /// <exception cref="ArgumentException">No built-in policy has that name (the message lists them, with a hint).</exception>
    public static SeccompPolicy Load(string name, PolicyParseOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!Contains(name))
        {
            string? close = Suggest.Closest(name, Names);
            throw new ArgumentException($"no built-in policy '{name}'{(close is null ? "" : $"; did you mean '{close}'?")} (built-in: {string.Join(", ", Names)})", nameof(name));
        }
        return TryParse(name, options, out var policy, out var error) ? policy : throw new PolicyParseException(error);
    }

    /// <summary>
    /// Reads built-in <paramref name="name"/>, which must exist; on failure (architectures forced by
    /// <paramref name="options"/> that a rule does not fit) <paramref name="error"/> is the first error.
    /// </summary>
    internal static bool TryParse(string name, PolicyParseOptions? options, [NotNullWhen(true)] out SeccompPolicy? policy,
        [NotNullWhen(false)] out PolicyError? error)
    {
        string file = name + Suffix;
        return PolicyLanguage.TryParse(SyscallGroups.ReadResource(Prefix + file), file, file, BuiltinIncludes, options, out policy, out error);
    }

    /// <summary>Like <see cref="Load"/>, without throwing for an unknown name.</summary>
    public static bool TryLoad(string name, [NotNullWhen(true)] out SeccompPolicy? policy, PolicyParseOptions? options = null)
    {
        policy = Contains(name) ? Load(name, options) : null;
        return policy is not null;
    }

    // Built-in policies include each other by file name ("include \"default.policy\"").
    private static bool BuiltinIncludes(string includingFile, string path, out string displayName, out string key, out string text, out string error)
    {
        displayName = key = path;
        text = "";
        error = "";
        string name = path.EndsWith(Suffix, StringComparison.Ordinal) ? path[..^Suffix.Length] : path;
        if (Contains(name))
        {
            text = SyscallGroups.ReadResource(Prefix + name + Suffix);
            return true;
        }
        error = $"cannot include '{path}': built-in policies include only other built-in policies ({string.Join(", ", Names.Select(n => n + Suffix))})";
        return false;
    }
}
