using System.Globalization;
using Syscage.Bpf;
using Syscage.Abi;

namespace Syscage.Policy.Oci;

/// <summary>One argument comparison of a profile entry, as written (<c>index</c>, <c>op</c>, <c>value</c>, <c>valueTwo</c>).</summary>
/// <param name="Index">The argument, 0..5.</param>
/// <param name="Op">The comparison (<c>SCMP_CMP_*</c>).</param>
/// <param name="Value">For MASKED_EQ the mask, else the value compared with.</param>
/// <param name="ValueTwo">For MASKED_EQ the datum, else unused.</param>
public sealed record OciArg(int Index, ComparisonOp Op, ulong Value, ulong ValueTwo)
{
    /// <summary>
    /// The IR predicate as libseccomp reads the comparison, on all 64 bits of the argument:
    /// <c>SCMP_A0(SCMP_CMP_MASKED_EQ, mask, datum)</c> takes the mask first, so for MASKED_EQ <see cref="Value"/> is the
    /// mask and <see cref="ValueTwo"/> the datum.
    /// </summary>
    public ArgPredicate ToPredicate() => ToPredicate(null, out _);

    /// <summary>
    /// The IR predicate for the argument of <paramref name="syscall"/>, at the width the kernel reads it
    /// (<see cref="ArgPredicate.ForArgument"/>): what the profile plainly means. <paramref name="misfit"/> says why a
    /// value (for MASKED_EQ, the mask) does not fit that width; it is then reduced to it.
    /// </summary>
    public ArgPredicate ToPredicate(Syscall? syscall, out string? misfit) => Op == ComparisonOp.MaskedEq
        ? ArgPredicate.ForArgument(syscall, Index, ComparisonOp.MaskedEq, ValueTwo, Value, out misfit)
        : ArgPredicate.ForArgument(syscall, Index, Op, Value, ulong.MaxValue, out misfit);
}

/// <summary>
/// An entry of <c>syscalls[]</c> that applies to this container (its <c>includes</c>/<c>excludes</c> held), with its
/// action already resolved as runc resolves it (errnoRet defaults, KILL = KILL_THREAD).
/// </summary>
/// <param name="Index">The entry's position in <c>syscalls[]</c>.</param>
/// <param name="Names">The syscall names (<c>names</c>, or the single <c>name</c>).</param>
/// <param name="Action">The action.</param>
/// <param name="Args">The comparisons (ANDed, except that runc ORs them when two name the same argument).</param>
/// <param name="Source">Where the entry is written.</param>
public sealed record OciSyscallEntry(int Index, IReadOnlyList<string> Names, SeccompAction Action, IReadOnlyList<OciArg> Args, PolicySource Source)
{
    /// <summary>
    /// True when two comparisons name the same argument. runc then adds each comparison as a rule of its own
    /// (libseccomp takes one comparison per argument per rule), so the comparisons are ORed, not ANDed.
    /// </summary>
    public bool ArgsAreOred => Args.Select(a => a.Index).Distinct().Count() != Args.Count;
}

/// <summary>A problem in a profile that does not stop it from loading (runc would accept it too).</summary>
/// <param name="File">The profile file.</param>
/// <param name="Line">1-based line.</param>
/// <param name="Column">1-based column.</param>
/// <param name="Path">The JSON path of the value, e.g. <c>syscalls[3].names[2]</c>.</param>
/// <param name="Message">What is wrong.</param>
public sealed record OciWarning(string File, int Line, int Column, string Path, string Message)
{
    /// <summary><c>file:line:col: warning: path: message</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{File}:{Line}:{Column}: warning: {Path}: {Message}");
}

/// <summary>
/// An OCI/Docker seccomp profile, loaded for one container: the lowered <see cref="Policy"/> plus what the IR has no
/// place for but later stages need (filter flags, the seccomp agent's listener).
/// </summary>
/// <param name="Policy">The policy the profile means for runc + libseccomp on this host.</param>
/// <param name="Architectures">The covered architectures (native first).</param>
/// <param name="Entries">The <c>syscalls[]</c> entries that apply after <c>includes</c>/<c>excludes</c>, in order.</param>
/// <param name="Flags">
/// The <c>flags</c> (<c>SECCOMP_FILTER_FLAG_*</c>), as written: <c>syscage run</c> installs the filter with them
/// (<c>Syscage.Supervision.CommandRun.FilterFlagsOf</c>; TSYNC dropped, as runc drops it).
/// </param>
/// <param name="ListenerPath">The seccomp agent's socket (<c>listenerPath</c>), if any.</param>
/// <param name="ListenerMetadata">The opaque <c>listenerMetadata</c> string, if any.</param>
/// <param name="Warnings">Problems that did not stop the load: unknown names, ignored fields.</param>
public sealed record OciProfile(
    SeccompPolicy Policy,
    IReadOnlyList<Architecture> Architectures,
    IReadOnlyList<OciSyscallEntry> Entries,
    IReadOnlyList<string> Flags,
    string? ListenerPath,
    string? ListenerMetadata,
    IReadOnlyList<OciWarning> Warnings);

/// <summary>Why a profile can't be loaded, as the loader's Try methods report it: where, and what is wrong.</summary>
/// <param name="File">The profile file.</param>
/// <param name="Line">1-based line.</param>
/// <param name="Column">1-based column.</param>
/// <param name="JsonPath">The JSON path of the offending value (empty for the document).</param>
/// <param name="Message">What is wrong.</param>
internal sealed record OciProfileError(string File, int Line, int Column, string JsonPath, string Message)
{
    /// <summary><c>file:line:col: path: message</c>, without the path for the document itself.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{File}:{Line}:{Column}: {(JsonPath.Length > 0 ? JsonPath + ": " : "")}{Message}");

    /// <summary>The exception the loader's throwing methods raise for this error.</summary>
    public OciProfileException ToException() => new(File, Line, Column, JsonPath, Message);
}

/// <summary>A profile that can't be loaded; the message reads <c>file:line:col: path: what is wrong</c>.</summary>
public sealed class OciProfileException : SyscageException
{
    /// <summary>Creates the exception.</summary>
    public OciProfileException(string file, int line, int column, string path, string message)
        : base(new OciProfileError(file, line, column, path, message).ToString())
    {
        File = file;
        Line = line;
        Column = column;
        JsonPath = path;
    }

    /// <summary>The profile file.</summary>
    public string File { get; }
    /// <summary>1-based line.</summary>
    public int Line { get; }
    /// <summary>1-based column.</summary>
    public int Column { get; }
    /// <summary>The JSON path of the offending value (empty for the document).</summary>
    public string JsonPath { get; }
}
