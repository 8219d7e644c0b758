using System.Diagnostics.CodeAnalysis;
using Syscage.Policy.Language;

namespace Syscage.Policy;

/// <summary>
/// Finds the policy a user names on the command line: a <c>.policy</c> file, a <c>.json</c> OCI/Docker profile, or
/// the name of a built-in policy (<see cref="BuiltinPolicies.Names"/>).
/// </summary>
public static class PolicyLoader
{
    /// <summary>
    /// Reads OCI/Docker JSON profiles: (path, architecture override or null) to policy. Set by the OCI front-end
    /// (<c>Syscage.Policy.Oci</c>); while it is null, a <c>.json</c> argument is an error.
    /// </summary>
    // OCI: see Oci/ — the JSON front-end fills this hook (or replaces the .json branch of Load) when it is merged.
    public static Func<string, PolicyParseOptions?, SeccompPolicy>? JsonLoader { get; set; }

    /// <summary>
    /// Like <see cref="Load"/>, but reports a failure as <paramref name="error"/>: the one-line message to show the
    /// user (<c>file:line:col: message</c> for an error in a policy file).
    /// </summary>
    public static bool TryLoad(string nameOrPath, [NotNullWhen(true)] out SeccompPolicy? policy, [NotNullWhen(false)] out string? error,
        PolicyParseOptions? options = null)
    {
        try
        {
            policy = Load(nameOrPath, options);
            error = null;
            return true;
        }
        catch (SyscageException e)
        {
            policy = null;
            error = e.Message;
            return false;
        }
    }

    /// <summary>
    /// Loads <paramref name="nameOrPath"/>: a path ending in <c>.json</c> goes to <see cref="JsonLoader"/>; an existing
    /// file (or a path ending in <c>.policy</c>) is read as policy language; otherwise it names a built-in policy.
    /// </summary>
    /// <exception cref="PolicyParseException">The policy file has an error (<c>file:line:col: message</c>).</exception>
    /// <exception cref="SyscageException">Nothing of that name exists, or JSON profiles are not available.</exception>
    public static SeccompPolicy Load(string nameOrPath, PolicyParseOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(nameOrPath);
        if (nameOrPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            if (JsonLoader is null)
                throw new SyscageException($"{nameOrPath}: JSON profiles are loaded by Syscage.Policy.Oci, which is not available in this build");
            return JsonLoader(nameOrPath, options);
        }
        if (File.Exists(nameOrPath) || nameOrPath.EndsWith(".policy", StringComparison.Ordinal) || nameOrPath.Contains('/', StringComparison.Ordinal))
            return PolicyLanguage.ParseFile(nameOrPath, options);
        if (BuiltinPolicies.Contains(nameOrPath))
            return BuiltinPolicies.Load(nameOrPath, options);
        string? close = Suggest.Closest(nameOrPath, BuiltinPolicies.Names);
        throw new SyscageException($"{nameOrPath}: no such file, and no built-in policy of that name{(close is null ? "" : $"; did you mean '{close}'?")} (built-in: {string.Join(", ", BuiltinPolicies.Names)})");
    }
}
