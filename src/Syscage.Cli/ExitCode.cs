namespace Syscage.Cli;

/// <summary>The exit codes of <c>syscage</c>, documented in the README and in <c>syscage --help</c>.</summary>
public enum ExitCode
{
    /// <summary>Done; for <c>check</c>: the program is valid.</summary>
    Ok = 0,
    /// <summary><c>check</c>: the kernel would reject the program, or the filter differs from the policy; <c>lint</c>: it found something.</summary>
    Rejected = 1,
    /// <summary>The command line is wrong (unknown option, missing argument).</summary>
    Usage = 2,
    /// <summary>The input is malformed: truncated program, bad mnemonic, unknown syscall, jump out of range.</summary>
    BadInput = 3,
    /// <summary>A file could not be read or written; for <c>dump</c>, the kernel refused to give the filters or the process is gone.</summary>
    IoError = 4,
    /// <summary>A bug in Syscage; run again with <c>--verbose</c> for the stack trace.</summary>
    InternalError = 70,
}
