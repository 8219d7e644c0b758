using System.Text.Json;
using Syscage.Ebpf.Maps;
using static Syscage.EbpfSeccomp.Tests.Harness;
using Syscage.Supervision;
using Syscage.Ebpf;
using Syscage.Ebpf.Seccomp;

namespace Syscage.EbpfSeccomp.Tests;

/// <summary>How records and maps are shown: BTF where it describes them, numbers or hex where it does not.</summary>
public sealed class ReportTests
{
    [Fact]
    public void ARecordOfNoKnownSizeIsHex()
    {
        using var program = SeccompEbpfProgram.Load(Sample("open_logger"));
        var ring = program.Maps.OfType<RingBufMap>().Single();
        string line = EbpfReport.FormatRecord(new EbpfRingBufRecord(program, ring, [1, 2, 3, 0xff, 0x10]));
        Assert.Equal("""{"program":"log_open","map":"events","size":5,"hex":"010203ff10"}""", line);
    }

    [Fact]
    public void ATypeTheBtfDoesNotDescribeIsHex()
    {
        using var program = SeccompEbpfProgram.Load(Sample("open_logger"));
        var formatter = new Syscage.Ebpf.Btf.BtfValueFormatter(program.Object!.Btf!);
        Assert.Equal("\"010203\"", formatter.Format(-1, [1, 2, 3]));
        Assert.Equal("\"010203\"", formatter.Format(program.Object.Btf!.Types.Count, [1, 2, 3]));
    }

    [Fact]
    public void ARecordOfTheEventsSizeIsDecodedByItsStruct()
    {
        using var program = SeccompEbpfProgram.Load(Sample("open_logger"));
        var ring = program.Maps.OfType<RingBufMap>().Single();
        var data = new byte[296];
        BitConverter.TryWriteBytes(data.AsSpan(0), (5UL << 32) | 6);
        BitConverter.TryWriteBytes(data.AsSpan(16), -1);                    // nr: signed
        "sh\"\n"u8.CopyTo(data.AsSpan(24));                                 // comm, escaped as JSON
        "/tmp/x"u8.CopyTo(data.AsSpan(40));
        using var doc = JsonDocument.Parse(EbpfReport.FormatRecord(new EbpfRingBufRecord(program, ring, data)));
        var e = doc.RootElement.GetProperty("event");
        Assert.Equal((5UL << 32) | 6, e.GetProperty("pid_tgid").GetUInt64());
        Assert.Equal(-1, e.GetProperty("nr").GetInt32());
        Assert.Equal("sh\"\n", e.GetProperty("comm").GetString());
        Assert.Equal("/tmp/x", e.GetProperty("path").GetString());
    }

    [Fact]
    public void GlobalsAreShownByNameWithTheirValues()
    {
        using var program = SeccompEbpfProgram.Load(Sample("fault_inject"), [new("nth", 7), new("error", 13)]);
        var w = new StringWriter { NewLine = "\n" };
        EbpfReport.WriteMaps(w, program);
        Assert.Contains("map .rodata of fault_inject (global variables)\n  target_nr = 257\n  nth = 7\n  one_in = 0\n  error = 13\n", w.ToString(), StringComparison.Ordinal);
        Assert.Contains("map calls of fault_inject (hash, 0 entries; key __u32, value __u64)\n", w.ToString(), StringComparison.Ordinal);
    }
}
