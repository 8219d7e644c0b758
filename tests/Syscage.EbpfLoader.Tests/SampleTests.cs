using Syscage.Ebpf;
using Syscage.Ebpf.Elf;
using Syscage.Ebpf.Maps;
using Syscage.Ebpf.Verifier;

namespace Syscage.EbpfLoader.Tests;

public class SampleTests
{
    public static TheoryData<string> Samples => [.. Clang.SampleNames];

    [Theory]
    [MemberData(nameof(Samples))]
    public void Sample_loads_and_verifies(string name)
    {
        var obj = EbpfObject.Load(Clang.Sample(name));
        Assert.Equal("GPL", obj.License);
        Assert.NotEmpty(obj.Programs);
        foreach (var p in obj.Programs)
        {
            Assert.StartsWith("seccomp", p.Section);
            if (!obj.TryVerify(p, out var verified, out var error))
                Assert.Fail($"{name}/{p.Name}: {error}");
            Assert.NotNull(verified.Facts);
        }
    }

    public static TheoryData<string, string> SamplesAndFlags
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var n in Clang.SampleNames)
                foreach (var f in new[] { "-O1", "-Os", "-O2 -mcpu=v1", "-O2 -mcpu=v3" })
                    data.Add(n, f);
            return data;
        }
    }

    /// <summary>Other optimisation levels and ISA versions (v3: 32-bit jumps and subregisters) give other code shapes.</summary>
    [Theory]
    [MemberData(nameof(SamplesAndFlags))]
    public void Sample_verifies_with_other_compiler_flags(string name, string flags)
    {
        var obj = EbpfObject.Load(Clang.Sample(name, flags.Split(' ')));
        foreach (var p in obj.Programs)
            if (!obj.TryVerify(p, out _, out var error))
                Assert.Fail($"{name} ({flags})/{p.Name}: {error}");
    }
}
