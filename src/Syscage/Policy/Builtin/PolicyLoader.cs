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
        error = null;
        if (TryLoad(nameOrPath, options, out policy, out var failure))
            return true;
        error = failure.Message;
        return false;
    }

    /// <summary>
    /// Loads <paramref name="nameOrPath"/>: a path ending in <c>.json</c> is an OCI/Docker profile (read with
    /// <see cref="OciProfileLoader"/> for this host: Docker's default capabilities, this kernel; architectures are the
    /// profile's own, so <paramref name="options"/> must not override them); an existing
    /// file (or a path ending in <c>.policy</c>) is read as policy language; otherwise it names a built-in policy.
    /// </summary>
    /// <exception cref="PolicyParseException">The policy file has an error (<c>file:line:col: message</c>).</exception>
    /// <exception cref="SyscageException">Nothing of that name exists, or the profile can't be read.</exception>
    public static SeccompPolicy Load(string nameOrPath, PolicyParseOptions? options = null) =>
        TryLoad(nameOrPath, options, out var policy, out var failure) ? policy : throw failure;

    /// <summary>
    /// The loader, Try-first. The front-ends report in their own terms, and <see cref="Load"/> throws what they throw
    /// (<see cref="PolicyParseException"/>, <see cref="OciProfileException"/>, <see cref="InputTooLargeException"/>, or a
    /// <see cref="SyscageException"/> for a name that is nothing), so <paramref name="failure"/> is that exception,
    /// made and not thrown. A file that can't be read (an <see cref="IOException"/>) is thrown, as by <see cref="Load"/>.
    /// </summary>
    private static bool TryLoad(string nameOrPath, PolicyParseOptions? options, [NotNullWhen(true)] out SeccompPolicy? policy,
        [NotNullWhen(false)] out SyscageException? failure)
    {
        ArgumentNullException.ThrowIfNull(nameOrPath);
        policy = null;
        failure = null;
        if (nameOrPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            if (options?.Architectures is not null)
            {
                failure = new SyscageException($"{nameOrPath}: an OCI profile chooses its own architectures (architectures, archMap)");
                return false;
            }
            byte[] json;
            try
            {
                json = InputFile.ReadTextBytes(nameOrPath);
            }
            catch (InputTooLargeException e)
            {
                // InputFile reports input past the limit only by throwing (as it does I/O errors).
                failure = e;
                return false;
            }
            if (!OciProfileLoader.TryParse(json, new OciOptions { FileName = nameOrPath }, out var profile, out var profileError))
            {
                failure = profileError.ToException();
                return false;
            }
            policy = profile.Policy;
            return true;
        }
        PolicyError? policyError;
        if (File.Exists(nameOrPath) || nameOrPath.EndsWith(".policy", StringComparison.Ordinal) || nameOrPath.Contains('/', StringComparison.Ordinal))
        {
            if (PolicyLanguage.TryParseFile(nameOrPath, out policy, out policyError, options))
                return true;
            failure = new PolicyParseException(policyError);
            return false;
        }
        if (BuiltinPolicies.Contains(nameOrPath))
        {
            if (BuiltinPolicies.TryParse(nameOrPath, options, out policy, out policyError))
                return true;
            failure = new PolicyParseException(policyError);
            return false;
        }
        string? close = Suggest.Closest(nameOrPath, BuiltinPolicies.Names);
        failure = new SyscageException($"{nameOrPath}: no such file, and no built-in policy of that name{(close is null ? "" : $"; did you mean '{close}'?")} (built-in: {string.Join(", ", BuiltinPolicies.Names)})");
        return false;
    }
}
