using System.Diagnostics.CodeAnalysis;
using Syscage.Policy.Language;
using Syscage.Policy.Oci;

namespace Syscage.Policy.Builtin;

/// <summary>
/// Finds the policy a user names on the command line: a <c>.policy</c> file, a <c>.json</c> OCI/Docker profile, or
/// the name of a built-in policy (<see cref="BuiltinPolicies.Names"/>).
/// </summary>
public static class PolicyLoader
{
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
    /// Loads <paramref name="nameOrPath"/>: a path ending in <c>.json</c> is an OCI/Docker profile (read with
    /// <see cref="OciProfileLoader"/> for this host: Docker's default capabilities, this kernel; architectures are the
    /// profile's own, so <paramref name="options"/> must not override them); an existing
    /// file (or a path ending in <c>.policy</c>) is read as policy language; otherwise it names a built-in policy.
    /// </summary>
    /// <exception cref="PolicyParseException">The policy file has an error (<c>file:line:col: message</c>).</exception>
    /// <exception cref="SyscageException">Nothing of that name exists, or the profile can't be read.</exception>
    public static SeccompPolicy Load(string nameOrPath, PolicyParseOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(nameOrPath);
        if (nameOrPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            if (options?.Architectures is not null)
                throw new SyscageException($"{nameOrPath}: an OCI profile chooses its own architectures (architectures, archMap)");
            return OciProfileLoader.Load(nameOrPath, new OciOptions { FileName = nameOrPath }).Policy;
        }
        if (File.Exists(nameOrPath) || nameOrPath.EndsWith(".policy", StringComparison.Ordinal) || nameOrPath.Contains('/', StringComparison.Ordinal))
            return PolicyLanguage.ParseFile(nameOrPath, options);
        if (BuiltinPolicies.Contains(nameOrPath))
            return BuiltinPolicies.Load(nameOrPath, options);
        string? close = Suggest.Closest(nameOrPath, BuiltinPolicies.Names);
        throw new SyscageException($"{nameOrPath}: no such file, and no built-in policy of that name{(close is null ? "" : $"; did you mean '{close}'?")} (built-in: {string.Join(", ", BuiltinPolicies.Names)})");
    }
}
