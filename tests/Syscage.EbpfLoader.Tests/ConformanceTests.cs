using Syscage.Ebpf;
using Syscage.Ebpf.Verifier;

namespace Syscage.EbpfLoader.Tests;

/// <summary>
/// The bpf_conformance programs through the verifier, with the suite's calling convention (r1 = memory,
/// r2 = its length). A sane verifier accepts them all except the ones listed with the reason.
/// </summary>
public class ConformanceTests
{
    private static readonly string Dir = "/work/shared/ebpf-conformance";

    /// <summary>Files the verifier rejects on purpose, with the expected reason.</summary>
    private static readonly Dictionary<string, string> Rejected = new()
    {
        ["callx.data"] = "callx (indirect call through a register) is not supported",
    };

    public static TheoryData<string> Files => [.. (Directory.Exists(Dir) ? Directory.GetFiles(Dir, "*.data") : []).Select(f => Path.GetFileName(f)).Order()];

    [Theory]
    [MemberData(nameof(Files))]
    public void Conformance_program_verifies(string file)
    {
        var c = ConformanceReader.Read(Path.Combine(Dir, file));
        var options = new VerifierOptions { Context = ContextDescription.Memory(c.MemorySize), ContextSizeInR2 = true };
        bool ok = EbpfVerifier.TryVerify(c.Program, options, out _, out var error);
        if (Rejected.TryGetValue(file, out var reason))
        {
            Assert.False(ok, $"{file} was expected to be rejected ({reason})");
            Assert.StartsWith(reason, error!.Reason);
        }
        else
            Assert.True(ok, $"{file}: {error}");
    }
}

public class ConformanceReaderTests
{
    [Fact]
    public void Reader_matches_the_raw_encoding_where_the_suite_gives_one()
    {
        var file = Directory.Exists("/work/shared/ebpf-conformance") ? Directory.GetFiles("/work/shared/ebpf-conformance", "*.data")
            .FirstOrDefault(f => File.ReadAllText(f).Contains("-- raw", StringComparison.Ordinal)) : null;
        if (file is null)
            return;
        var lines = File.ReadAllLines(file);
        var raw = lines.SkipWhile(l => l != "-- raw").Skip(1).TakeWhile(l => !l.StartsWith("--", StringComparison.Ordinal))
            .Select(l => ulong.Parse(l.Trim()[2..], System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        var insns = ConformanceReader.Read(file).Program;
        Assert.Equal(raw, insns.Select(i => BitConverter.ToUInt64(Syscage.Ebpf.Isa.EbpfInstruction.WriteAll([i]))).ToArray());
    }
}
