namespace Syscage.Ebpf;

/// <summary>
/// The object file can't be loaded: it is not a 64-bit little-endian BPF ELF relocatable, it is truncated or
/// inconsistent, or it uses a feature Syscage does not support. The message names the section, relocation or pc.
/// </summary>
public sealed class EbpfLoadException : SyscageException
{
    /// <summary>Creates the exception with a user-facing message.</summary>
    public EbpfLoadException(string message) : base(message) { }
}
