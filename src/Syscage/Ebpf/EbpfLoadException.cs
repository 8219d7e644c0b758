using System.Diagnostics.CodeAnalysis;

namespace Syscage.Ebpf;

/// <summary>
/// The object file can't be loaded: it is not a 64-bit little-endian BPF ELF relocatable, it is truncated or
/// inconsistent, or it uses a feature Syscage does not support. The message names the section, relocation or pc.
/// </summary>
public sealed class EbpfLoadException : SyscageException
{
    /// <summary>Creates the exception with a user-facing message.</summary>
    public EbpfLoadException(string message) : base(message) { }

    /// <summary>
    /// The one way the loader's throwing methods (<c>EbpfObject.Load</c>, <c>BtfInfo.Parse</c> ...) fail: the error of
    /// their Try twin, thrown. A generic result so that it fits <c>ok ? value : Throw&lt;T&gt;(error)</c>.
    /// </summary>
    [DoesNotReturn]
    internal static T Throw<T>(string error) => throw new EbpfLoadException(error);
}
