using System.Collections.Frozen;
using Syscage.Abi;

namespace Syscage.Policy.Oci;

/// <summary>
/// The names an OCI/Docker seccomp profile gives actions (<c>SCMP_ACT_*</c>) and comparison operators
/// (<c>SCMP_CMP_*</c>), libseccomp's, as the runtime spec and runc take them: the one place Syscage spells them, for the
/// profile loader, the profile writers and the command line.
/// </summary>
public static class OciNames
{
    private static readonly (string Name, SeccompActionKind Kind)[] Actions =
    [
        ("SCMP_ACT_KILL_THREAD", SeccompActionKind.KillThread),
        ("SCMP_ACT_KILL_PROCESS", SeccompActionKind.KillProcess),
        ("SCMP_ACT_TRAP", SeccompActionKind.Trap),
        ("SCMP_ACT_ERRNO", SeccompActionKind.Errno),
        ("SCMP_ACT_TRACE", SeccompActionKind.Trace),
        ("SCMP_ACT_ALLOW", SeccompActionKind.Allow),
        ("SCMP_ACT_LOG", SeccompActionKind.Log),
        ("SCMP_ACT_NOTIFY", SeccompActionKind.UserNotif),
    ];

    /// <summary>libseccomp's first name of KILL_THREAD, which profiles still use (read, never written).</summary>
    private const string KillAlias = "SCMP_ACT_KILL";

    private static readonly FrozenDictionary<string, SeccompActionKind> ActionsByName =
        Actions.Append((Name: KillAlias, Kind: SeccompActionKind.KillThread)).ToFrozenDictionary(a => a.Name, a => a.Kind, StringComparer.Ordinal);

    private static readonly (string Name, ComparisonOp Op)[] Comparisons =
    [
        ("SCMP_CMP_NE", ComparisonOp.Ne),
        ("SCMP_CMP_LT", ComparisonOp.Lt),
        ("SCMP_CMP_LE", ComparisonOp.Le),
        ("SCMP_CMP_EQ", ComparisonOp.Eq),
        ("SCMP_CMP_GE", ComparisonOp.Ge),
        ("SCMP_CMP_GT", ComparisonOp.Gt),
        ("SCMP_CMP_MASKED_EQ", ComparisonOp.MaskedEq),
    ];

    private static readonly FrozenDictionary<string, ComparisonOp> OperatorsByName =
        Comparisons.ToFrozenDictionary(c => c.Name, c => c.Op, StringComparer.Ordinal);

    /// <summary>Every action name a profile may use, <c>SCMP_ACT_KILL</c> included (for the suggestions of an error).</summary>
    public static IReadOnlyList<string> ActionNames { get; } = [KillAlias, .. Actions.Select(a => a.Name)];

    /// <summary>Every comparison operator's name.</summary>
    public static IReadOnlyList<string> OperatorNames { get; } = [.. Comparisons.Select(c => c.Name)];

    /// <summary>
    /// The name of <paramref name="kind"/> (<c>SCMP_ACT_KILL_THREAD</c> for KILL_THREAD); <see cref="SeccompActionKind.Unknown"/>
    /// has none (the kernel runs it as KILL_PROCESS).
    /// </summary>
    public static string ActionName(SeccompActionKind kind) =>
        Array.Find(Actions, a => a.Kind == kind).Name ?? throw new ArgumentOutOfRangeException(nameof(kind), kind, "no SCMP_ACT_ name");

    /// <summary>
    /// The action <paramref name="name"/> means, as runc reads it: <c>SCMP_ACT_ERRNO</c> and <c>SCMP_ACT_TRACE</c> carry
    /// <paramref name="errnoRet"/>, or EPERM without it (runc's <c>SetReturnCode(EPERM)</c>); the others take none and
    /// ignore it. False for a name that is none of <see cref="ActionNames"/>.
    /// </summary>
    public static bool TryParseAction(string name, uint? errnoRet, out SeccompAction action)
    {
        ArgumentNullException.ThrowIfNull(name);
        action = SeccompAction.Allow;
        if (!ActionsByName.TryGetValue(name, out var kind))
            return false;
        ushort data = (ushort)(errnoRet ?? Errno.EPERM);
        action = kind switch
        {
            SeccompActionKind.KillThread => SeccompAction.KillThread,
            SeccompActionKind.KillProcess => SeccompAction.KillProcess,
            SeccompActionKind.Trap => SeccompAction.Trap(0),
            SeccompActionKind.Errno => SeccompAction.Errno(data),
            SeccompActionKind.Trace => SeccompAction.Trace(data),
            SeccompActionKind.Log => SeccompAction.Log,
            SeccompActionKind.UserNotif => SeccompAction.UserNotif,
            _ => SeccompAction.Allow,
        };
        return true;
    }

    /// <summary>True when an action of <paramref name="kind"/> carries a value in a profile (<c>errnoRet</c>).</summary>
    public static bool TakesErrnoRet(SeccompActionKind kind) => kind is SeccompActionKind.Errno or SeccompActionKind.Trace;

    /// <summary>The name of <paramref name="op"/>.</summary>
    public static string OperatorName(ComparisonOp op) =>
        Array.Find(Comparisons, c => c.Op == op).Name ?? throw new ArgumentOutOfRangeException(nameof(op), op, "no SCMP_CMP_ name");

    /// <summary>The operator <paramref name="name"/> means, if it is one of <see cref="OperatorNames"/>.</summary>
    public static bool TryParseOperator(string name, out ComparisonOp op)
    {
        ArgumentNullException.ThrowIfNull(name);
        return OperatorsByName.TryGetValue(name, out op);
    }
}
