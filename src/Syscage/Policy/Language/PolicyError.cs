using System.Globalization;

namespace Syscage.Policy.Language;

/// <summary>An error in a policy: where (file, 1-based line and column) and what is wrong, with a hint when one is known.</summary>
/// <param name="File">The file as the user named it (an included file: relative to the directory of the one including it).</param>
/// <param name="Line">1-based line.</param>
/// <param name="Column">1-based column.</param>
/// <param name="Message">What is wrong; ends with <c>did you mean '...'?</c> when a name is close to a known one.</param>
public sealed record PolicyError(string File, int Line, int Column, string Message)
{
    /// <summary><c>file:line:col: message</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{File}:{Line}:{Column}: {Message}");
}

/// <summary>A policy could not be read: the message is <c>file:line:col: message</c> (see <see cref="Error"/>).</summary>
public sealed class PolicyParseException : SyscageException
{
    /// <summary>Creates the exception for <paramref name="error"/>.</summary>
    public PolicyParseException(PolicyError error) : base((error ?? throw new ArgumentNullException(nameof(error))).ToString()) => Error = error;

    /// <summary>The first error found.</summary>
    public PolicyError Error { get; }
}
