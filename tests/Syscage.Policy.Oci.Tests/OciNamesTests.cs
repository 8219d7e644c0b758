using Syscage.Abi;

namespace Syscage.Policy.Oci.Tests;

/// <summary>
/// <see cref="OciNames"/>, the one spelling of SCMP_ACT_* and SCMP_CMP_* that the loader, both profile writers and the
/// command line share: each name reads back as what it was written from, with runc's errnoRet rule.
/// </summary>
public sealed class OciNamesTests
{
    [Fact]
    public void Every_action_kind_has_a_name_that_reads_back_as_that_kind()
    {
        var kinds = Enum.GetValues<SeccompActionKind>().Where(k => k != SeccompActionKind.Unknown).ToArray();
        foreach (var kind in kinds)
        {
            string name = OciNames.ActionName(kind);
            Assert.StartsWith("SCMP_ACT_", name, StringComparison.Ordinal);
            Assert.Contains(name, OciNames.ActionNames);
            Assert.True(OciNames.TryParseAction(name, OciNames.TakesErrnoRet(kind) ? 13u : null, out var action));
            Assert.Equal(kind, action.Kind);
        }
        Assert.Equal(kinds.Length + 1, OciNames.ActionNames.Count);   // and SCMP_ACT_KILL
        Assert.Throws<ArgumentOutOfRangeException>(() => OciNames.ActionName(SeccompActionKind.Unknown));
    }

    [Fact]
    public void Errno_and_trace_carry_errnoRet_or_EPERM_and_the_others_take_none()
    {
        Assert.True(OciNames.TryParseAction("SCMP_ACT_ERRNO", 38, out var errno));
        Assert.Equal(SeccompAction.Errno(38), errno);
        Assert.True(OciNames.TryParseAction("SCMP_ACT_ERRNO", null, out var eperm));
        Assert.Equal(SeccompAction.Errno((ushort)Errno.EPERM), eperm);
        Assert.True(OciNames.TryParseAction("SCMP_ACT_TRACE", null, out var trace));
        Assert.Equal(SeccompAction.Trace((ushort)Errno.EPERM), trace);
        Assert.True(OciNames.TryParseAction("SCMP_ACT_ALLOW", 5, out var allow));
        Assert.Equal(SeccompAction.Allow, allow);
        Assert.True(OciNames.TryParseAction("SCMP_ACT_KILL", null, out var kill));
        Assert.Equal(SeccompAction.KillThread, kill);
        Assert.Equal("SCMP_ACT_KILL_THREAD", OciNames.ActionName(SeccompActionKind.KillThread));
        Assert.False(OciNames.TryParseAction("SCMP_ACT_KILL_ALL", null, out _));
        Assert.False(OciNames.TryParseAction("scmp_act_allow", null, out _));
    }

    [Fact]
    public void Every_operator_has_a_name_that_reads_back()
    {
        foreach (var op in Enum.GetValues<ComparisonOp>())
        {
            string name = OciNames.OperatorName(op);
            Assert.Contains(name, OciNames.OperatorNames);
            Assert.True(OciNames.TryParseOperator(name, out var back));
            Assert.Equal(op, back);
        }
        Assert.Equal(Enum.GetValues<ComparisonOp>().Length, OciNames.OperatorNames.Count);
        Assert.False(OciNames.TryParseOperator("SCMP_CMP_MASKED", out _));
    }
}
