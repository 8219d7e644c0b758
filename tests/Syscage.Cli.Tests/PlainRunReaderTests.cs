using Syscage.Cli;
using Syscage.Cli.Commands;

namespace Syscage.Cli.Tests;

/// <summary>
/// <c>syscage run</c> read without the parser (<see cref="RunCommand.TryReadPlain"/>) must mean what the parser reads:
/// random command lines of every option of the verb, its aliases, and spellings the plain reader leaves to the parser,
/// parsed as the tool parses them (<see cref="CliApp.ParserConfiguration"/>).
/// </summary>
public class PlainRunReaderTests
{
    private static readonly string[] Options =
    [
        "--policy", "-p", "--log-denials", "--json", "--audit", "--ebpf", "--set", "--maps", "--events", "--no-split", "--stats",
        "--map", "--maps-socket", "--cap-add", "--cap-drop", "--kernel-version", "--verbose", "-v",
    ];

    private static readonly string[] Words =
    [
        "default", "a.policy", "x=1", "SYS_PTRACE", "6.1", "-", "--", "-x", "@file", "", "true", "a b", "--policy=default",
        "-pdefault", "--help", "-h", "-?", "--version", "/bin/true", "[diagram]", "run", "-vp", "--maps=true",
    ];

    [Fact]
    public void What_the_plain_reader_reads_the_parser_reads_alike()
    {
        var random = new Random(14);
        int read = 0;
        for (int n = 0; n < 20_000; n++)
        {
            List<string> args = ["run"];
            for (int w = random.Next(0, 8); w > 0; w--)
                args.Add(random.Next(3) == 0 ? Words[random.Next(Words.Length)] : Options[random.Next(Options.Length)]);
            if (random.Next(8) != 0)
                args.Add("--");
            for (int w = random.Next(0, 4); w > 0; w--)
                args.Add(random.Next(2) == 0 ? "/bin/true" : Words[random.Next(Words.Length)]);
            if (Compare([.. args]))
                read++;
        }
        Assert.True(read > 2_000, $"only {read} command lines were read without the parser");
    }

    [Theory]
    [InlineData("run", "--help")]
    [InlineData("run", "-h", "--", "/bin/true")]
    [InlineData("run", "--policy=default", "--", "/bin/true")]
    [InlineData("run", "-pdefault", "--", "/bin/true")]
    [InlineData("run", "--policy", "a", "--policy", "b", "--", "/bin/true")]
    [InlineData("run", "--maps", "--maps", "--", "/bin/true")]
    [InlineData("run", "--maps", "true", "--", "/bin/true")]
    [InlineData("run", "@args", "--", "/bin/true")]
    [InlineData("run", "/bin/true")]
    [InlineData("run", "--")]
    [InlineData("run", "--polcy", "default", "--", "/bin/true")]
    [InlineData("run", "--policy", "-x", "--", "/bin/true")]
    [InlineData("run", "--audit", "default", "--", "/bin/true")]
    public void Other_spellings_are_left_to_the_parser(params string[] args) =>
        Assert.False(RunCommand.TryReadPlain(args, out _), string.Join(' ', args));

    [Fact]
    public void A_plain_run_is_read_without_the_parser()
    {
        Assert.True(RunCommand.TryReadPlain(["run", "-p", "default", "--ebpf", "a.o", "--ebpf", "b.o", "-v", "--", "sh", "-c", "--", "x"], out var run));
        Assert.Equal("default", run.Policy);
        Assert.Equal(["a.o", "b.o"], run.Ebpf.Programs);
        Assert.Equal(["sh", "-c", "--", "x"], run.Command);
        Assert.True(run.Verbose && run.Oci.AllWarnings);
        Compare(["run", "-p", "default", "--ebpf", "a.o", "--ebpf", "b.o", "-v", "--", "sh", "-c", "--", "x"]);
        // A word starting with @ is a word (no response files): read plainly, as the parser reads it.
        Assert.True(Compare(["run", "--policy", "@network", "--", "echo", "@file"]));
    }

    /// <summary>True when the plain reader read <paramref name="args"/>; then the parser must read the same, without error.</summary>
    private static bool Compare(string[] args)
    {
        if (!RunCommand.TryReadPlain(args, out var run))
            return false;
        string line = string.Join(' ', args.Select(a => $"'{a}'"));
        var parse = CliApp.BuildRootCommand("run").Parse(args, CliApp.ParserConfiguration);
        Assert.True(parse.Errors.Count == 0, $"{line}: read plainly, but the parser says {string.Join("; ", parse.Errors.Select(e => e.Message))}");
        Assert.True(parse.GetValue<string?>("--policy") == run.Policy, $"{line}: --policy");
        Assert.True(parse.GetValue<bool>("--log-denials") == run.LogDenials, $"{line}: --log-denials");
        Assert.True((parse.GetValue<string[]>("--ebpf") ?? []).SequenceEqual(run.Ebpf.Programs), $"{line}: --ebpf");
        Assert.True((parse.GetValue<string[]>("--set") ?? []).SequenceEqual(run.Ebpf.Knobs), $"{line}: --set");
        Assert.True(parse.GetValue<bool>("--maps") == run.Ebpf.ShowMaps, $"{line}: --maps");
        Assert.True(parse.GetValue<string?>("--events") == run.Ebpf.EventsFile, $"{line}: --events");
        Assert.True(parse.GetValue<bool>("--no-split") == run.Ebpf.NoSplit, $"{line}: --no-split");
        Assert.True(parse.GetValue<bool>("--stats") == run.Ebpf.Stats, $"{line}: --stats");
        Assert.True(parse.GetValue<bool>("--json") == run.Json, $"{line}: --json");
        Assert.True(parse.GetValue<string?>("--audit") is null, $"{line}: --audit");
        Assert.True((parse.GetValue<string[]>("--map") ?? []).SequenceEqual(run.Ebpf.MapFiles), $"{line}: --map");
        Assert.True(parse.GetValue<string?>("--maps-socket") == run.Ebpf.MapsSocket, $"{line}: --maps-socket");
        Assert.True((parse.GetValue<string[]>("--cap-add") ?? []).SequenceEqual(run.Oci.CapAdd), $"{line}: --cap-add");
        Assert.True((parse.GetValue<string[]>("--cap-drop") ?? []).SequenceEqual(run.Oci.CapDrop), $"{line}: --cap-drop");
        Assert.True(parse.GetValue<string?>("--kernel-version") == run.Oci.KernelVersion, $"{line}: --kernel-version");
        Assert.True(parse.GetValue<bool>("--verbose") == run.Verbose && run.Oci.AllWarnings == run.Verbose, $"{line}: --verbose");
        Assert.True((parse.GetValue<string[]>("COMMAND") ?? []).SequenceEqual(run.Command), $"{line}: COMMAND");
        return true;
    }
}
