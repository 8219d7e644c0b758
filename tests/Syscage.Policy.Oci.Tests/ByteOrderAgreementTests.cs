using System.Globalization;
using Syscage.Abi;
using Syscage.Bpf;
using Syscage.Policy.Compiler;
using Syscage.Policy.Oci;
using Syscage.Testing;

namespace Syscage.Policy.Oci.Tests;

/// <summary>
/// Big-endian filters against libseccomp's: on each big-endian architecture libseccomp 2.5.4 knows, a profile of
/// comparisons on a 64-bit argument (read's size_t count) is built by libseccomp for that architecture (its filter in
/// that byte order, as on such a host) and compiled by Syscage; both run on calls whose values differ from the rules'
/// only in one half, laid out as that machine lays out <c>seccomp_data</c> (<see cref="ReferenceBpf.DataBigEndian"/>).
/// libseccomp writes the halves where the kernel has them; so must Syscage.
/// </summary>
public class ByteOrderAgreementTests
{
    public static TheoryData<string> BigEndianArches =>
        [.. Architecture.All.Where(a => a.IsBigEndian && !Libseccomp.NewerArchitectures.Contains(a.Name)).Select(a => a.Name)];

    private const ulong Value = 0x0000_0007_0000_0005;

    private static string Profile(string scmp) => $$"""
        {"defaultAction":"SCMP_ACT_ALLOW","architectures":["{{scmp}}"],"syscalls":[
          {"names":["read"],"action":"SCMP_ACT_ERRNO","errnoRet":1,"args":[{"index":2,"value":{{Value}},"op":"SCMP_CMP_EQ"}]},
          {"names":["write"],"action":"SCMP_ACT_ERRNO","errnoRet":2,"args":[{"index":2,"value":{{Value}},"op":"SCMP_CMP_GT"}]},
          {"names":["pread64"],"action":"SCMP_ACT_ERRNO","errnoRet":3,"args":[{"index":2,"value":{{0x0000_0001_0000_0001UL}},"valueTwo":{{0x0000_0001_0000_0000UL}},"op":"SCMP_CMP_MASKED_EQ"}]},
          {"names":["readv"],"action":"SCMP_ACT_ERRNO","errnoRet":4,"args":[{"index":0,"value":5,"op":"SCMP_CMP_LE"}]}
        ]}
        """;

    [Theory]
    [MemberData(nameof(BigEndianArches))]
    public void SyscageAndLibseccompReadTheSameHalves(string name)
    {
        var arch = Architecture.Parse(name);
        var profile = OciProfileLoader.Parse(Profile(arch.ScmpName), new OciOptions { NativeArchitecture = arch, KernelVersion = "6.1.0" });
        Assert.Equal([arch], profile.Architectures);
        var compiled = PolicyCompiler.Compile(profile.Policy);
        var build = LibseccompProfile.Build(profile, optimize: 2, [LibseccompProfile.Token(arch)]);
        Assert.True(build.Bpf is not null, build.Error);
        byte[] libseccomp = ReferenceBpf.FromBigEndian(build.Bpf);

        ulong[] values =
        [
            Value, 0x0000_0005_0000_0007, 0x0000_0005, 0x0000_0007_0000_0000, Value + 1, Value - 1, 0x0000_0008_0000_0000,
            0x0000_0006_ffff_ffff, 0x0000_0001_0000_0000, 0x0000_0000_0000_0001, 0x0000_0001_0000_0001, 4, 5, 6,
            0xffff_ffff_0000_0005, 0x0000_0006_0000_0004,
        ];
        int compared = 0, n32Differs = 0;
        var differences = new List<string>();
        foreach (string call in new[] { "read", "write", "pread64", "readv" })
        {
            if (!arch.Syscalls.TryGetNumber(call, out int nr))
                continue;
            foreach (ulong v in values)
            {
                ulong[] args = call == "readv" ? [v, 0, 0, 0, 0, 0] : [3, 0, v, 0, 0, 0];
                var data = new SeccompData(nr, arch.AuditArch, 0, args);
                var ir = profile.Policy.Evaluate(data).Action;
                Assert.Equal(ir, Interpreter.Run(compiled, data).Action);
                var theirs = new SeccompAction(ReferenceBpf.Run(libseccomp, ReferenceBpf.DataBigEndian(nr, arch.AuditArch, 0, args)));
                compared++;
                // libseccomp treats mips n32 as a 32-bit ABI (arch-mips64n32.c: ARCH_SIZE_32) and compares only the low
                // halves of its 64-bit registers, and of the rules' values; Syscage compares what the kernel reads
                // (docs/libseccomp-differences.md). There libseccomp's answer is the profile's meaning on 32 bits.
                var expected = arch == Architecture.Mips64N32 ? ThirtyTwoBitMeaning(profile, data) : ir;
                n32Differs += expected != ir ? 1 : 0;
                if (theirs != expected)
                    differences.Add(string.Create(CultureInfo.InvariantCulture, $"{call}(0x{v:x}): Syscage {ir}, libseccomp {theirs}, expected {expected}"));
            }
        }
        Assert.True(differences.Count == 0, $"{name}: {differences.Count} differences:\n" + string.Join('\n', differences));
        Assert.True(compared >= 48, $"{name}: only {compared} calls compared");
        Assert.True(arch != Architecture.Mips64N32 || n32Differs > 0, "the n32 values should show libseccomp's 32-bit reading");
    }

    /// <summary>The first matching rule's action with every comparison made on the low 32 bits (libseccomp's ARCH_SIZE_32).</summary>
    private static SeccompAction ThirtyTwoBitMeaning(OciProfile profile, SeccompData data)
    {
        var args = new ulong[6];
        for (int i = 0; i < 6; i++)
            args[i] = data.Arg(i);
        var rule = profile.Policy.SectionFor(data)?.RulesFor(data.Nr).FirstOrDefault(r => r.Condition.Evaluate(args, is64Bit: false));
        return rule?.Action ?? profile.Policy.DefaultAction;
    }
}
