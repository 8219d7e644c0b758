using System.Globalization;
using System.Text;
using Syscage.Bpf;
using Syscage.Abi;

namespace Syscage.Policy.Oci.Tests;

/// <summary>Who gives an answer other than the vector's: Syscage (its reference evaluator, and so its compiled filter) or libseccomp 2.5.4.</summary>
public enum SimJudge
{
    /// <summary>Syscage's reference evaluator of the loaded profile (the compiled filter must agree with it).</summary>
    Syscage,
    /// <summary>libseccomp 2.5.4, the profile built as runc builds it, in priority order or as a binary tree.</summary>
    Libseccomp,
}

/// <summary>A known reason for a judge to answer otherwise than a vector, declared in the list file.</summary>
/// <param name="Name">The class's name, as entries name it.</param>
/// <param name="Judge">The judge the class is about.</param>
/// <param name="Reason">Why that judge answers otherwise.</param>
public sealed record DifferenceClass(string Name, SimJudge Judge, string Reason);

/// <summary>A vectors-file line whose every vector a judge is expected not to answer as the vector says.</summary>
/// <param name="File">The vectors file.</param>
/// <param name="Line">The line in it.</param>
/// <param name="Class">The class of the difference.</param>
/// <param name="Where">Where the entry is written (<c>file:line</c> of the list).</param>
public sealed record ListedDifference(string File, int Line, DifferenceClass Class, string Where);

/// <summary>
/// The checked-in list of expected differences (<c>tests/vectors/libseccomp/expected-differences</c>):
/// <c>class NAME syscage|libseccomp REASON</c> lines declare the classes, <c>FILE:LINE NAME</c> lines list vectors
/// lines; <c>#</c> starts a comment.
/// </summary>
public sealed class ExpectedDifferences
{
    private ExpectedDifferences(IReadOnlyDictionary<string, DifferenceClass> classes, IReadOnlyList<ListedDifference> entries)
    {
        Classes = classes;
        Entries = entries;
    }

    /// <summary>The declared classes by name.</summary>
    public IReadOnlyDictionary<string, DifferenceClass> Classes { get; }

    /// <summary>The listed lines, in file order.</summary>
    public IReadOnlyList<ListedDifference> Entries { get; }

    /// <summary>Reads the list; errors read <c>file:line: message</c>.</summary>
    /// <exception cref="FormatException">A line is not of the format, or names a class not declared before it.</exception>
    public static ExpectedDifferences Parse(string text, string file)
    {
        ArgumentNullException.ThrowIfNull(text);
        var classes = new Dictionary<string, DifferenceClass>(StringComparer.Ordinal);
        var entries = new List<ListedDifference>();
        foreach (var (n, f) in SimVectorLine.Fields(text))
        {
            string where = string.Create(CultureInfo.InvariantCulture, $"{file}:{n}");
            if (f[0] == "class")
            {
                if (f.Length < 4 || !Enum.TryParse(f[2], ignoreCase: true, out SimJudge judge) || !char.IsAsciiLetterLower(f[2][0]))
                    throw new FormatException($"{where}: expected 'class NAME syscage|libseccomp REASON'");
                if (!classes.TryAdd(f[1], new DifferenceClass(f[1], judge, string.Join(' ', f.Skip(3)))))
                    throw new FormatException($"{where}: class '{f[1]}' is declared twice");
                continue;
            }
            int colon = f[0].LastIndexOf(':');
            if (f.Length != 2 || colon <= 0 || !int.TryParse(f[0].AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int line))
                throw new FormatException($"{where}: expected 'FILE.vectors:LINE CLASS'");
            if (!classes.TryGetValue(f[1], out var cls))
                throw new FormatException($"{where}: class '{f[1]}' is not declared above");
            entries.Add(new ListedDifference(f[0][..colon], line, cls, where));
        }
        return new ExpectedDifferences(classes, entries);
    }
}

/// <summary>What the judges answered for one call of a vector line.</summary>
/// <param name="Vector">The vectors line.</param>
/// <param name="Nr">The syscall number the call was made with.</param>
/// <param name="Args">The arguments.</param>
/// <param name="MissingArchitecture">
/// The architecture Syscage lacks and the call needs — the call's own, or that of the host the profile is for — so that
/// Syscage was not asked; null when it was.
/// </param>
/// <param name="Syscage">The reference evaluator's action (null when skipped).</param>
/// <param name="Compiled">The actions of Syscage's compiled filters run in the interpreter (empty when skipped).</param>
/// <param name="Libseccomp">The actions of libseccomp's filters (priority order, binary tree).</param>
public sealed record SimOutcome(
    SimVectorLine Vector, int Nr, ulong[] Args, string? MissingArchitecture, SeccompAction? Syscage, IReadOnlyList<SeccompAction> Compiled,
    IReadOnlyList<SeccompAction> Libseccomp)
{
    /// <summary>The call, for messages: <c>file:line (tests line n): arch syscall nr args</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Vector.Where} (.tests line {Vector.SourceLine}): {Vector.Arch} {Vector.Syscall.Name ?? "nr"} {Nr} [{string.Join(' ', Args.Select(a => "0x" + a.ToString("x", CultureInfo.InvariantCulture)))}] expected {SimVectorLine.Spell(Vector.Expected)}");
}

/// <summary>
/// The verdict over all vectors: per judge, which agree with the vector, which differ for a listed reason, which were
/// skipped (Syscage, for an architecture it lacks); and the problems — an unlisted difference, a listed line whose
/// vectors do not all differ (or were skipped), a class nobody uses, a listed line that is no vector.
/// </summary>
public sealed class SimReport
{
    /// <summary>Every problem found; the test passes when there is none.</summary>
    public List<string> Problems { get; } = [];
    /// <summary>Calls judged.</summary>
    public int Vectors { get; private set; }
    /// <summary>Calls on which Syscage gives the vector's action.</summary>
    public int Passed { get; private set; }
    /// <summary><see cref="Passed"/>, by architecture.</summary>
    public SortedDictionary<string, int> PassedByArchitecture { get; } = new(StringComparer.Ordinal);
    /// <summary>Calls on which Syscage differs for a listed reason, by class.</summary>
    public SortedDictionary<string, int> Differences { get; } = new(StringComparer.Ordinal);
    /// <summary>Calls Syscage was not asked, by architecture.</summary>
    public SortedDictionary<string, int> Skipped { get; } = new(StringComparer.Ordinal);
    /// <summary>Calls on which libseccomp gives the vector's action.</summary>
    public int OracleAgreed { get; private set; }
    /// <summary>Calls on which libseccomp differs for a listed reason, by class.</summary>
    public SortedDictionary<string, int> OracleDifferences { get; } = new(StringComparer.Ordinal);

    /// <summary>Judges the outcomes against the vectors and the list.</summary>
    public static SimReport Judge(IReadOnlyList<SimVectorLine> vectors, IReadOnlyList<SimOutcome> outcomes, ExpectedDifferences list)
    {
        ArgumentNullException.ThrowIfNull(vectors);
        ArgumentNullException.ThrowIfNull(outcomes);
        ArgumentNullException.ThrowIfNull(list);
        var report = new SimReport();
        var lines = vectors.Select(v => (v.File, v.Line)).ToHashSet();
        var listed = new Dictionary<(string File, int Line, SimJudge Judge), ListedDifference>();
        foreach (var entry in list.Entries)
        {
            if (!lines.Contains((entry.File, entry.Line)))
                report.Problems.Add($"{entry.Where}: {entry.File}:{entry.Line} is no vector line");
            else if (!listed.TryAdd((entry.File, entry.Line, entry.Class.Judge), entry))
                report.Problems.Add($"{entry.Where}: {entry.File}:{entry.Line} is listed twice for {entry.Class.Judge}");
        }
        foreach (var o in outcomes)
        {
            report.Vectors++;
            var syscageEntry = listed.GetValueOrDefault((o.Vector.File, o.Vector.Line, SimJudge.Syscage));
            if (o.MissingArchitecture is { } missing)
            {
                report.Skipped[missing] = report.Skipped.GetValueOrDefault(missing) + 1;
                if (Architecture.TryParse(missing, out var known) && Architecture.All.Contains(known))
                    report.Problems.Add($"{o}: skipped for {missing}, but Syscage has that architecture");
                if (syscageEntry is not null)
                    report.Problems.Add($"{o}: listed as '{syscageEntry.Class.Name}' ({syscageEntry.Where}), but skipped for {missing}");
            }
            else if (o.Compiled.Where(c => c != o.Syscage).ToList() is [var compiled, ..])
                report.Problems.Add($"{o}: the compiled filter gives {compiled}, the reference evaluator {o.Syscage}");
            else
                report.Count(o, o.Syscage == o.Vector.Expected, syscageEntry, $"Syscage gives {o.Syscage}", report.Differences, () =>
                {
                    report.Passed++;
                    report.PassedByArchitecture[o.Vector.Arch] = report.PassedByArchitecture.GetValueOrDefault(o.Vector.Arch) + 1;
                });

            var oracleEntry = listed.GetValueOrDefault((o.Vector.File, o.Vector.Line, SimJudge.Libseccomp));
            report.Count(o, o.Libseccomp.All(a => a == o.Vector.Expected), oracleEntry,
                $"libseccomp 2.5.4 gives {string.Join(" / ", o.Libseccomp)} (priority order / binary tree)", report.OracleDifferences, () => report.OracleAgreed++);
        }
        foreach (var cls in list.Classes.Values)
        {
            if (!list.Entries.Any(e => e.Class == cls))
                report.Problems.Add($"class '{cls.Name}' is declared but no line is listed with it");
        }
        return report;
    }

    private void Count(SimOutcome o, bool agrees, ListedDifference? entry, string answer, SortedDictionary<string, int> differences, Action agreed)
    {
        if (agrees && entry is null)
            agreed();
        else if (agrees)
            Problems.Add($"{o}: listed as '{entry!.Class.Name}' ({entry.Where}), but {answer}: the difference is gone; take the line off the list");
        else if (entry is null)
            Problems.Add($"{o}: {answer}");
        else
            differences[entry.Class.Name] = differences.GetValueOrDefault(entry.Class.Name) + 1;
    }

    /// <summary>The counts, one judge a line.</summary>
    public string Summary()
    {
        static string By(SortedDictionary<string, int> counts) =>
            counts.Count == 0 ? "" : " (" + string.Join(", ", counts.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key}: {kv.Value}"))) + ")";
        var s = new StringBuilder();
        s.AppendLine(CultureInfo.InvariantCulture, $"{Vectors} vectors");
        s.AppendLine(CultureInfo.InvariantCulture,
            $"Syscage: {Passed} passed, {Differences.Values.Sum()} expected differences{By(Differences)}, {Skipped.Values.Sum()} skipped for a missing architecture{By(Skipped)}");
        s.AppendLine(CultureInfo.InvariantCulture, $"Syscage passed, by architecture:{By(PassedByArchitecture)}");
        s.AppendLine(CultureInfo.InvariantCulture,
            $"libseccomp 2.5.4: {OracleAgreed} agree, {OracleDifferences.Values.Sum()} expected differences{By(OracleDifferences)}");
        s.Append(CultureInfo.InvariantCulture, $"problems: {Problems.Count}");
        return s.ToString();
    }
}
