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
}
