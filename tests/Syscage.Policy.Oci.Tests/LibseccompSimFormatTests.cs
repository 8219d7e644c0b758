using Syscage.Bpf;
using Syscage.Abi;

namespace Syscage.Policy.Oci.Tests;

/// <summary>
/// The vectors format and the expected-differences list, on small inputs: what a line stands for, the errors, and
/// that the judge of the list turns every way a list could hide a failure into a problem.
/// </summary>
public class LibseccompSimFormatTests
{
    private const string Vectors = """
        # comment
        profile t.json
        12 x86     read    0-2 0x856B008 N N N N ALLOW   # a range of three
        13 x86_64  4-5     N   N         N N N N KILL
        14 x86     -1      N   N         N N N N TRAP
        15 x86     4294957295 0x1-0x2 0xffffffffffffffff N N N 3 ERRNO(5)
        """;

    [Fact]
    public void ALineStandsForEveryCombinationOfItsRangesAndNIsZero()
    {
        var lines = SimVectorLine.Parse(Vectors, "t.vectors");
        Assert.Equal(4, lines.Count);
        Assert.Equal(("t.vectors:3", 12, "x86", "t.json"), (lines[0].Where, lines[0].SourceLine, lines[0].Arch, lines[0].Profile));
        Assert.Equal(3ul, lines[0].Count);
        var read = lines[0].Calls(name => name == "read" ? 3 : throw new InvalidOperationException(name)).ToList();
        Assert.Equal([3, 3, 3], read.Select(c => c.Nr));
        Assert.Equal([0ul, 1, 2], read.Select(c => c.Args[0]));
        Assert.All(read, c => Assert.Equal([0x856B008ul, 0, 0, 0, 0], c.Args[1..]));
        Assert.Equal([4, 5], lines[1].Calls(_ => throw new InvalidOperationException()).Select(c => c.Nr));
        Assert.Equal(SeccompAction.KillThread, lines[1].Expected);
        Assert.Equal([-1], lines[2].Calls(_ => 0).Select(c => c.Nr));
        Assert.Equal(SeccompAction.Trap(0), lines[2].Expected);
        var pseudo = lines[3].Calls(_ => 0).ToList();
        Assert.Equal([-10001, -10001], pseudo.Select(c => c.Nr));
        Assert.Equal([1ul, 2], pseudo.Select(c => c.Args[0]));
        Assert.All(pseudo, c => Assert.Equal((ulong.MaxValue, 3ul), (c.Args[1], c.Args[5])));
        Assert.Equal(SeccompAction.Errno(5), lines[3].Expected);
    }

    [Theory]
    [InlineData("12 x86 read 0 N N N N N ALLOW", "t.vectors:1: a vector before the first 'profile' line")]
    [InlineData("profile t.json\n12 x86 read 0 N N N N ALLOW", "t.vectors:2: expected LINE ARCH SYSCALL A0 A1 A2 A3 A4 A5 ACTION, found 9 fields")]
    [InlineData("profile t.json\n12 x86 read 5-2 N N N N N ALLOW", "t.vectors:2: arg0 '5-2' is not N, a number or a range")]
    [InlineData("profile t.json\n12 x86 read 0 N N N N N KILL_THREAD", "t.vectors:2: 'KILL_THREAD' is not an action as bpf_sim prints it (ALLOW, KILL, KILL_PROCESS, TRAP, ERRNO(n), TRACE(n), LOG)")]
    [InlineData("profile t.json\n0 x86 read 0 N N N N N ALLOW", "t.vectors:2: '0' is not a line number of the .tests file")]
    [InlineData("profile t.json\n12 x86 0x 0 N N N N N ALLOW", "t.vectors:2: '0x' is not a syscall name, number or range")]
    [InlineData("profile t\n", "t.vectors:1: expected 'profile NAME.json'")]
    public void AMalformedLineIsAnErrorAtItsLine(string text, string message)
    {
        var e = Assert.Throws<FormatException>(() => SimVectorLine.Parse(text, "t.vectors"));
        Assert.Equal(message, e.Message);
    }

    private const string List = """
        class multiplexing syscage x86 socketcall
        class tree libseccomp a libseccomp bug
        t.vectors:3 multiplexing
        t.vectors:3 tree
        """;

    private static (IReadOnlyList<SimVectorLine> Lines, SimVectorLine Read) Sample()
    {
        var lines = SimVectorLine.Parse("profile t.json\n\n12 x86 read 0 N N N N N ALLOW\n13 x86 write 0 N N N N N ALLOW\n", "t.vectors");
        return (lines, lines[0]);
    }

    private static SimOutcome Outcome(SimVectorLine v, SeccompAction? syscage, SeccompAction libseccomp, string? missing = null, SeccompAction? compiled = null) =>
        new(v, 3, new ulong[6], missing, syscage, syscage is null ? [] : [compiled ?? syscage.Value], [libseccomp, libseccomp]);

    [Fact]
    public void ListedDifferencesAreCountedByClassAndAgreementsByJudge()
    {
        var (lines, read) = Sample();
        var write = lines[1];
        var report = SimReport.Judge(lines,
            [Outcome(read, SeccompAction.KillThread, SeccompAction.Log), Outcome(write, SeccompAction.Allow, SeccompAction.Allow),
             Outcome(write, null, SeccompAction.Allow, missing: "riscv32")],
            ExpectedDifferences.Parse(List, "list"));
        Assert.Empty(report.Problems);
        Assert.Equal((3, 1, 2), (report.Vectors, report.Passed, report.OracleAgreed));
        Assert.Equal(1, report.Differences["multiplexing"]);
        Assert.Equal(1, report.OracleDifferences["tree"]);
        Assert.Equal(1, report.Skipped["riscv32"]);
    }

    [Fact]
    public void AListedLineThatGivesTheExpectedActionIsAProblem()
    {
        var (lines, read) = Sample();
        var report = SimReport.Judge(lines, [Outcome(read, SeccompAction.Allow, SeccompAction.Allow)], ExpectedDifferences.Parse(List, "list"));
        Assert.Equal(2, report.Problems.Count);
        Assert.Contains("listed as 'multiplexing' (list:3), but Syscage gives ALLOW: the difference is gone", report.Problems[0], StringComparison.Ordinal);
        Assert.Contains("listed as 'tree' (list:4), but libseccomp 2.5.4 gives ALLOW / ALLOW", report.Problems[1], StringComparison.Ordinal);
    }

    [Fact]
    public void AnUnlistedDifferenceIsAProblemForEitherJudge()
    {
        var (lines, _) = Sample();
        var report = SimReport.Judge(lines, [Outcome(lines[1], SeccompAction.KillThread, SeccompAction.Errno(1))], ExpectedDifferences.Parse(List, "list"));
        Assert.Equal(
            ["t.vectors:4 (.tests line 13): x86 write 3 [0x0 0x0 0x0 0x0 0x0 0x0] expected ALLOW: Syscage gives KILL_THREAD",
             "t.vectors:4 (.tests line 13): x86 write 3 [0x0 0x0 0x0 0x0 0x0 0x0] expected ALLOW: libseccomp 2.5.4 gives ERRNO(1) / ERRNO(1) (priority order / binary tree)"],
            report.Problems.Where(p => p.StartsWith("t.vectors", StringComparison.Ordinal)));
    }

    [Fact]
    public void AListedOrSkippedVectorMustBeSkippedForAnArchitectureSyscageLacksAndNotBeListed()
    {
        var (lines, read) = Sample();
        var listed = SimReport.Judge(lines, [Outcome(read, null, SeccompAction.Log, missing: "riscv32")], ExpectedDifferences.Parse(List, "list"));
        Assert.Equal(["t.vectors:3 (.tests line 12): x86 read 3 [0x0 0x0 0x0 0x0 0x0 0x0] expected ALLOW: listed as 'multiplexing' (list:3), but skipped for riscv32"],
            listed.Problems);
        var known = SimReport.Judge(lines, [Outcome(lines[1], null, SeccompAction.Allow, missing: "x86")], ExpectedDifferences.Parse("", "list"));
        Assert.Equal(["t.vectors:4 (.tests line 13): x86 write 3 [0x0 0x0 0x0 0x0 0x0 0x0] expected ALLOW: skipped for x86, but Syscage has that architecture"],
            known.Problems);
    }

    [Fact]
    public void TheCompiledFilterMustAgreeWithTheEvaluatorEvenOnAListedLine()
    {
        var (lines, read) = Sample();
        var report = SimReport.Judge(lines, [Outcome(read, SeccompAction.KillThread, SeccompAction.Log, compiled: SeccompAction.Allow)],
            ExpectedDifferences.Parse(List, "list"));
        Assert.Equal(["t.vectors:3 (.tests line 12): x86 read 3 [0x0 0x0 0x0 0x0 0x0 0x0] expected ALLOW: the compiled filter gives ALLOW, the reference evaluator KILL_THREAD"],
            report.Problems);
    }

    [Fact]
    public void AClassNoLineIsListedWithIsAProblem()
    {
        var (lines, _) = Sample();
        var report = SimReport.Judge(lines, [], ExpectedDifferences.Parse("class gone syscage fixed long ago", "list"));
        Assert.Equal(["class 'gone' is declared but no line is listed with it"], report.Problems);
    }

    [Fact]
    public void AListEntryMustNameAVectorLineOnceAndADeclaredClass()
    {
        var (lines, read) = Sample();
        var report = SimReport.Judge(lines, [Outcome(read, SeccompAction.KillThread, SeccompAction.Allow)],
            ExpectedDifferences.Parse("class multiplexing syscage x\nt.vectors:3 multiplexing\nt.vectors:3 multiplexing\nt.vectors:2 multiplexing\n", "list"));
        Assert.Equal(["list:3: t.vectors:3 is listed twice for Syscage", "list:4: t.vectors:2 is no vector line"], report.Problems);
        Assert.Equal("list:1: class 'other' is not declared above",
            Assert.Throws<FormatException>(() => ExpectedDifferences.Parse("t.vectors:3 other", "list")).Message);
        Assert.Equal("list:1: expected 'class NAME syscage|libseccomp REASON'",
            Assert.Throws<FormatException>(() => ExpectedDifferences.Parse("class x kernel why", "list")).Message);
    }
}
