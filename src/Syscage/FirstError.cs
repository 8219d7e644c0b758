using System.Diagnostics.CodeAnalysis;

namespace Syscage;

/// <summary>
/// The error a Try method reports: the first one found (iced's <c>Encoder.TryEncode</c>). The readers (assemblers,
/// policy parsers, loaders) and the verifier are written Try-first: a step that finds bad input records it with
/// <see cref="Fail"/> and returns its <c>false</c>, every caller returns at once, and the Try method hands out
/// <see cref="Error"/>; the throwing twin (<c>Assemble</c>, <c>Parse</c>, <c>Load</c>, <c>Verify</c>) calls the Try
/// method and turns the error into its exception. Exceptions are left for failures that are not about the input (I/O,
/// bugs). Should a failure be recorded after the first all the same, the first stays.
/// </summary>
/// <typeparam name="TError">What the component reports: a message, or a record with the position.</typeparam>
internal sealed class FirstError<TError> where TError : class
{
    private TError? _error;

    /// <summary>The first error recorded; asking before any is a bug in the Try method.</summary>
    public TError Error => _error ?? throw new InvalidOperationException("a Try method failed without recording an error");

    /// <summary>Records <paramref name="error"/> unless an error is already recorded; returns false, so a step can <c>return Fail(...)</c>.</summary>
    public bool Fail(TError error)
    {
        _error ??= error;
        return false;
    }

    /// <summary>
    /// The end of a Try method: <paramref name="ok"/>, and the error when it is false; for a step whose result is in
    /// an <c>out</c> parameter already (<c>return errors.Outcome(Run(out result), out error)</c>).
    /// </summary>
    public bool Outcome(bool ok, [NotNullWhen(false)] out TError? error)
    {
        error = ok ? null : Error;
        return ok;
    }
}
