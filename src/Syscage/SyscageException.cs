namespace Syscage;

/// <summary>
/// The base of every error Syscage reports about its input or the kernel. Its message is meant to be shown
/// to a user as it is: one line naming what is wrong and where (<c>file:line:col</c>, <c>at pc N</c>, errno name).
/// </summary>
public class SyscageException : Exception
{
    /// <summary>Creates the exception with a user-facing message.</summary>
    public SyscageException(string message) : base(message) { }

    /// <summary>Creates the exception with a user-facing message and its cause.</summary>
    public SyscageException(string message, Exception inner) : base(message, inner) { }
}
