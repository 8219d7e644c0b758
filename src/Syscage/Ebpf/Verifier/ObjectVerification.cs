using System.Diagnostics.CodeAnalysis;
using Syscage.Ebpf.Elf;

namespace Syscage.Ebpf.Verifier;

/// <summary>
/// Verification of the programs of a loaded object: the loader (<see cref="EbpfObject"/>) only reads the ELF file, the
/// verifier decides what runs.
/// </summary>
public static class ObjectVerification
{
    /// <summary>
    /// Verifies one of <paramref name="obj"/>'s programs as a seccomp filter (context <c>struct seccomp_data</c>) against
    /// the object's current maps; throws <see cref="EbpfVerificationException"/> when it is rejected. The error names the
    /// C source line of the instruction at fault when the object has line information.
    /// </summary>
    public static EbpfProgram Verify(this EbpfObject obj, EbpfObjectProgram program, VerifierOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(obj);
        ArgumentNullException.ThrowIfNull(program);
        return TryVerify(obj, program, out var verified, out var error, options) ? verified : throw new EbpfVerificationException(error);
    }

    /// <summary>Like <see cref="Verify"/>, reporting rejection as a <see cref="VerificationError"/>.</summary>
    public static bool TryVerify(this EbpfObject obj, EbpfObjectProgram program, [NotNullWhen(true)] out EbpfProgram? verified,
                                 [NotNullWhen(false)] out VerificationError? error, VerifierOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(obj);
        ArgumentNullException.ThrowIfNull(program);
        options ??= new VerifierOptions();
        if (EbpfVerifier.TryVerify(program.Instructions, options with { Maps = [.. obj.Maps], Name = program.Name }, out verified, out error))
            return true;
        error = error with { Source = program.SourceAt(error.Pc) };
        return false;
    }
}
