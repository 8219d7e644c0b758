namespace Syscage.Ebpf;

/// <summary>
/// A run stopped on something the VM checks at run time because the verifier does not (calls nested deeper than
/// <c>MAX_CALL_FRAMES</c>, a helper Syscage does not implement).
/// </summary>
public sealed class EbpfRuntimeException : SyscageException
{
    /// <summary>Creates the exception.</summary>
    public EbpfRuntimeException(string message) : base(message) { }
}
