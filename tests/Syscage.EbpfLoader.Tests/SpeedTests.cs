using System.Diagnostics;
using Syscage.Ebpf.Verifier;
using Syscage.Ebpf.Elf;

namespace Syscage.EbpfLoader.Tests;

public class SpeedTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public void Loading_and_verifying_the_samples_is_fast()
    {
        foreach (var name in Clang.SampleNames)
        {
            var bytes = Clang.Sample(name);
            var o = EbpfObject.Load(bytes);
            foreach (var p in o.Programs)
                o.Verify(p); // warm up
            const int rounds = 200;
            var load = Stopwatch.StartNew();
            for (int k = 0; k < rounds; k++)
                EbpfObject.Load(bytes);
            load.Stop();
            var verify = Stopwatch.StartNew();
            for (int k = 0; k < rounds; k++)
                foreach (var p in o.Programs)
                    o.Verify(p);
            verify.Stop();
            double loadUs = load.Elapsed.TotalMicroseconds / rounds, verifyUs = verify.Elapsed.TotalMicroseconds / rounds;
            output.WriteLine($"{name}: load {loadUs:F1} us, verify {verifyUs:F1} us ({o.Programs.Sum(p => p.Instructions.Length)} instructions)");
            Assert.True(verifyUs < 20_000, $"{name}: verifying takes {verifyUs} us");
        }
    }
}
