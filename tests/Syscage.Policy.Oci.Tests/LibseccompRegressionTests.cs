using System.Buffers.Binary;
using Syscage.Bpf;
using Syscage.Policy.Compiler;
using Syscage.Policy.Oci;
using Syscage.Abi;
using Syscage.Testing;

namespace Syscage.Policy.Oci.Tests;

/// <summary>
/// Minimal profiles on which libseccomp 2.5.4 (built as runc builds it) disagrees with the plain meaning of the
/// profile. Each test records libseccomp's answer and checks that Syscage — the IR and the compiled filter — follows
/// the profile. docs/libseccomp-differences.md explains each class. Should a libseccomp upgrade fix one, its
/// test fails on the libseccomp assertion: update the record, not Syscage.
/// </summary>
public class LibseccompRegressionTests
{
    private static readonly OciOptions Host = new() { NativeArchitecture = Architecture.X86_64, KernelVersion = "6.1.0" };

    private static (SeccompAction Syscage, SeccompAction Compiled, SeccompAction Libseccomp) Judge(string json, SeccompData data)
    {
        var profile = OciProfileLoader.Parse(json, Host);
        var build = LibseccompProfile.Build(profile);
        Assert.Null(build.Error);
        var ir = profile.Policy.Evaluate(data).Action;
        var compiled = new SeccompAction(Interpreter.Run(PolicyCompiler.Compile(profile.Policy), data).ReturnValue);
        var libseccomp = new SeccompAction(ReferenceBpf.Run(build.Bpf, data.ToBytes()));
        return (ir, compiled, libseccomp);
    }

    private static SeccompData Call(Architecture arch, string name, params ulong[] args)
    {
        Assert.True(arch.Syscalls.TryGetNumber(name, out int nr));
        return new SeccompData(nr, arch.AuditArch, 0, args);
    }

    [Fact]
    public void StaleAccumulatorBetweenTwoRangeRulesOnOneArgument()
    {
        // getegid(_, 0x7fffffff): both rules allow it. libseccomp enters the second rule's tree from the first
        // one's low-word test with A still holding the low word, compares it as the high word, and falls to the default.
        const string json = """
            {"defaultAction":"SCMP_ACT_KILL_PROCESS","syscalls":[
              {"names":["getegid"],"action":"SCMP_ACT_ALLOW","args":[{"index":1,"value":6241115166426205972,"op":"SCMP_CMP_LE"}]},
              {"names":["getegid"],"action":"SCMP_ACT_ALLOW","args":[{"index":1,"value":2114060288,"op":"SCMP_CMP_LE"}]}]}
            """;
        var (syscage, compiled, libseccomp) = Judge(json, Call(Architecture.X86_64, "getegid", 0, 0x7fffffff));
        Assert.Equal(SeccompAction.Allow, syscage);
        Assert.Equal(syscage, compiled);
        Assert.Equal(SeccompAction.KillProcess, libseccomp);
    }

    [Fact]
    public void X32ArgumentsAreComparedOnTheirLowHalfByLibseccomp()
    {
        // x32 registers are 64 bits wide; libseccomp's x32 is ARCH_SIZE_32 and drops the high half, even of read's
        // size_t count, which the kernel reads whole.
        const string json = """
            {"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X32"],"syscalls":[
              {"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":2,"value":4294967296,"op":"SCMP_CMP_EQ"}]}]}
            """;
        var (syscage, compiled, libseccomp) = Judge(json, Call(Architecture.X32, "read", 0, 0, 0));
        Assert.Equal(SeccompAction.Errno(1), syscage);
        Assert.Equal(syscage, compiled);
        Assert.Equal(SeccompAction.Allow, libseccomp);
    }

    [Fact]
    public void AnIntArgumentWithHighBitsPassesDockersSocketRulesInLibseccompOnly()
    {
        // Docker's default profile allows socket when domain < 38 || domain == 39 || domain > 40 (AF_VSOCK is 40).
        // The kernel's socket(int family, ...) reads the low 32 bits: (1 << 32) | AF_VSOCK is a vsock socket.
        // libseccomp compares 64 bits and lets it through; Syscage compares what the kernel reads.
        var docker = OciProfileLoader.Load(Path.Combine(NativeProbe.RepositoryRoot, "samples", "profiles", "docker-default.json"), Host);
        var build = LibseccompProfile.Build(docker, optimize: 2);
        Assert.Null(build.Error);
        var data = Call(Architecture.X86_64, "socket", 0x1_0000_0028, 1, 0);
        Assert.Equal(SeccompAction.Errno(1), docker.Policy.Evaluate(data).Action);
        Assert.Equal(SeccompAction.Errno(1), Interpreter.Run(PolicyCompiler.Compile(docker.Policy), data).Action);
        Assert.Equal(SeccompAction.Allow, new SeccompAction(ReferenceBpf.Run(build.Bpf, data.ToBytes())));
        Assert.Equal(LibseccompBehaviour.Width, LibseccompBehaviour.Explain(docker, data, SeccompAction.Allow.Value, build.LibseccompBpf!));
        // The plain AF_VSOCK is refused by both.
        var plain = Call(Architecture.X86_64, "socket", 40, 1, 0);
        Assert.Equal(SeccompAction.Errno(1), new SeccompAction(ReferenceBpf.Run(build.Bpf, plain.ToBytes())));
    }

    [Fact]
    public void AnUmodeArgumentWithHighBitsIsComparedOn16BitsBySyscageOnly()
    {
        // fchmod(fd, umode_t mode): 0x10000 | 04755 is 04755 to the kernel, also on i386 where libseccomp compares 32 bits.
        const string json = """
            {"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"],"syscalls":[
              {"names":["fchmod"],"action":"SCMP_ACT_ERRNO","args":[{"index":1,"value":2541,"op":"SCMP_CMP_EQ"}]}]}
            """;
        foreach (var arch in new[] { Architecture.X86_64, Architecture.X86 })
        {
            var (syscage, compiled, libseccomp) = Judge(json, Call(arch, "fchmod", 3, 0x1_09ed));
            Assert.Equal(SeccompAction.Errno(1), syscage);
            Assert.Equal(syscage, compiled);
            Assert.Equal(SeccompAction.Allow, libseccomp);
        }
    }

    [Fact]
    public void AValueThatDoesNotFitTheArgumentIsAWarningAndIsReduced()
    {
        const string json = """
            {"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
              {"names":["socket","socketpair"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":4294967336,"op":"SCMP_CMP_EQ"}]}]}
            """;
        var profile = OciProfileLoader.Parse(json, Host with { FileName = "p.json" });
        var warnings = profile.Warnings.Select(w => w.ToString()).ToList();
        Assert.Contains("p.json:2:89: warning: syscalls[0].args[0].value: 0x100000028 does not fit socket's domain (int, 32 bits): the kernel reads only its low 32 bits, 0x28; compared on those bits, as the kernel reads them", warnings);
        Assert.Contains(warnings, w => w.Contains("socketpair's domain", StringComparison.Ordinal));
        Assert.Equal(2, warnings.Count);   // once per syscall, not per architecture
        var (syscage, compiled, libseccomp) = Judge(json, Call(Architecture.X86_64, "socket", 40, 1, 0));
        Assert.Equal(SeccompAction.Errno(1), syscage);
        Assert.Equal(syscage, compiled);
        Assert.Equal(SeccompAction.Allow, libseccomp);
    }

    [Fact]
    public void HighX86_64NumbersWithoutTheX32BitGetTheBadArchActionFromLibseccomp()
    {
        const string json = """{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["reboot"],"action":"SCMP_ACT_ERRNO"}]}""";
        var (syscage, compiled, libseccomp) = Judge(json, new SeccompData(unchecked((int)0x8000_0000), AuditArch.AUDIT_ARCH_X86_64));
        Assert.Equal(SeccompAction.Allow, syscage);
        Assert.Equal(syscage, compiled);
        Assert.Equal(SeccompAction.KillThread, libseccomp);
    }

    [Fact]
    public void X86_64AndX32BlockWithoutTheNumberLoad()
    {
        // With x32 covered, libseccomp 2.5.4 emitted the shared AUDIT_ARCH_X86_64 block's number tests with A still
        // holding seccomp_data.arch: nothing matches, every call gets the default action (found by the differential).
        const string json = """
            {"defaultAction":"SCMP_ACT_TRAP","architectures":["SCMP_ARCH_X32"],"syscalls":[
              {"names":["mincore"],"action":"SCMP_ACT_ERRNO","errnoRet":38,"args":[{"index":5,"value":18446744069414584320,"op":"SCMP_CMP_EQ"}]},
              {"names":["sched_getattr"],"action":"SCMP_ACT_KILL","args":[{"index":2,"value":8589934592,"op":"SCMP_CMP_GT"},{"index":1,"value":9223372036854775808,"op":"SCMP_CMP_NE"}]},
              {"names":["adjtimex"],"action":"SCMP_ACT_ALLOW","args":[{"index":5,"value":2147483648,"op":"SCMP_CMP_NE"},{"index":1,"value":2147483648,"op":"SCMP_CMP_GT"}]},
              {"names":["faccessat"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":9223372036854775807,"op":"SCMP_CMP_NE"}]},
              {"names":["signal"],"action":"SCMP_ACT_TRACE","args":[{"index":1,"value":39,"op":"SCMP_CMP_EQ"}]},
              {"names":["sendfile64","nice","timer_settime"],"action":"SCMP_ACT_KILL","args":[{"index":5,"value":1,"op":"SCMP_CMP_GE"},{"index":4,"value":9223372036854775807,"op":"SCMP_CMP_EQ"},{"index":3,"value":33,"op":"SCMP_CMP_NE"}]},
              {"names":["ppoll_time64"],"action":"SCMP_ACT_ERRNO","errnoRet":2},
              {"names":["utimes"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":9223372036854775809,"op":"SCMP_CMP_NE"},{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]}]}
            """;
        var (syscage, compiled, libseccomp) = Judge(json, Call(Architecture.X86_64, "utimes", 0x1_0000_0001));
        Assert.Equal(SeccompAction.Allow, syscage);
        Assert.Equal(syscage, compiled);
        Assert.Equal(SeccompAction.Trap(0), libseccomp);
    }

    [Fact]
    public void OverlappingRulesFollowLibseccompsTreeNotTheProfileOrder()
    {
        // Both rules match getegid(_, 0x4b22fe9d557f4f17, 0x7f). The profile lists the KILL_THREAD rule first;
        // libseccomp's tree tries the test on arg2 first (a higher argument comes first on a level), so the
        // KILL_PROCESS rule decides — in libseccomp and in Syscage.
        const string json = """
            {"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
              {"names":["getegid"],"action":"SCMP_ACT_KILL","args":[{"index":1,"value":8589934592,"op":"SCMP_CMP_NE"}]},
              {"names":["getegid"],"action":"SCMP_ACT_KILL_PROCESS","args":[
                {"index":1,"value":9223372036854775809,"op":"SCMP_CMP_NE"},{"index":2,"value":1311768467463790320,"op":"SCMP_CMP_NE"}]}]}
            """;
        var (syscage, compiled, libseccomp) = Judge(json, Call(Architecture.X86_64, "getegid", 0x7e020000, 0x4b22fe9d557f4f17, 0x7f));
        Assert.Equal(SeccompAction.KillProcess, libseccomp);
        Assert.Equal(libseccomp, syscage);
        Assert.Equal(syscage, compiled);
    }

    [Fact]
    public void TheLargerThresholdDecidesWhateverTheOrderAsInLibseccompsA2OrderTest()
    {
        // libseccomp's 43-sim-a2_order, cut down: read with count 257 gets the ERRNO(6) of 'count > 256', not the
        // ERRNO(5) of the earlier 'count > 128' — and the same in either order of the entries.
        string Profile(bool reversed)
        {
            string[] entries =
            [
                """{"names":["read"],"action":"SCMP_ACT_ERRNO","errnoRet":5,"args":[{"index":2,"value":128,"op":"SCMP_CMP_GT"}]}""",
                """{"names":["read"],"action":"SCMP_ACT_ERRNO","errnoRet":6,"args":[{"index":2,"value":256,"op":"SCMP_CMP_GT"}]}""",
            ];
            return $$"""{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{string.Join(",", reversed ? entries.Reverse() : entries)}}]}""";
        }
        foreach (bool reversed in (bool[])[false, true])
            foreach (var (count, expected) in ((ulong, SeccompAction)[])[(128, SeccompAction.Allow), (129, SeccompAction.Errno(5)),
                (256, SeccompAction.Errno(5)), (257, SeccompAction.Errno(6)), (0x1_0000_0000, SeccompAction.Errno(6))])
            {
                var (syscage, compiled, libseccomp) = Judge(Profile(reversed), Call(Architecture.X86_64, "read", 3, 0x1000, count));
                Assert.Equal(expected, libseccomp);
                Assert.Equal(expected, syscage);
                Assert.Equal(expected, compiled);
            }
        // The IR says it as the entries do, larger threshold first.
        var rules = OciProfileLoader.Parse(Profile(false), Host).Policy.Sections[0].RulesFor(0);
        Assert.Equal(["arg2 > 0x100 => ERRNO(6)", "arg2 > 0x80 => ERRNO(5)"], rules.Select(r => $"{r.Condition} => {r.Action}"));
    }

    [Fact]
    public void AListSharedBetweenRulesGivesLibseccompsVerdictToACallNoRuleMatches()
    {
        // mmap(7, 2): neither rule matches (7 is not > 9; arg1 is not 1). libseccomp merges the two rules' tests on
        // arg0's high half, and the list of tests that follows it is shared by both rules' low-half tests: 7 > 5
        // reaches the rule for 'arg1 == 2' and its ERRNO(2). Syscage gives the default action.
        const string json = """
            {"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
              {"names":["mmap"],"action":"SCMP_ACT_ERRNO","errnoRet":1,"args":[{"index":0,"value":5,"op":"SCMP_CMP_GT"},{"index":1,"value":1,"op":"SCMP_CMP_EQ"}]},
              {"names":["mmap"],"action":"SCMP_ACT_ERRNO","errnoRet":2,"args":[{"index":0,"value":9,"op":"SCMP_CMP_GT"},{"index":1,"value":2,"op":"SCMP_CMP_EQ"}]}]}
            """;
        var (syscage, compiled, libseccomp) = Judge(json, Call(Architecture.X86_64, "mmap", 7, 2));
        Assert.Equal(SeccompAction.Errno(2), libseccomp);
        Assert.Equal(SeccompAction.Allow, syscage);
        Assert.Equal(syscage, compiled);
        // Where a rule matches, the verdicts agree.
        Assert.All(((ulong, ulong, SeccompAction)[])[(7, 1, SeccompAction.Errno(1)), (10, 2, SeccompAction.Errno(2)), (10, 1, SeccompAction.Errno(1))],
            c => Assert.Equal(Judge(json, Call(Architecture.X86_64, "mmap", c.Item1, c.Item2)), (c.Item3, c.Item3, c.Item3)));
    }

    [Fact]
    public void LibseccompDropsARuleItTakesForRedundantOnX32()
    {
        // On x32 (one test per comparison), libseccomp's pruning takes the LOG rule's test 'arg2 > 0' (which it
        // decides on its false side) for the second rule's, concludes that the shorter rule already covers it, and
        // silently drops it: mmap(1, 0, 5) matches the ERRNO(1) rule only, and libseccomp gives the default action.
        const string json = """
            {"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X32"],"syscalls":[
              {"names":["mmap"],"action":"SCMP_ACT_LOG","args":[{"index":2,"value":0,"op":"SCMP_CMP_LE"}]},
              {"names":["mmap"],"action":"SCMP_ACT_ERRNO","errnoRet":1,"args":[{"index":0,"value":0,"op":"SCMP_CMP_GT"},{"index":2,"value":0,"op":"SCMP_CMP_GT"}]}]}
            """;
        var (syscage, compiled, libseccomp) = Judge(json, Call(Architecture.X32, "mmap", 1, 0, 5));
        Assert.Equal(SeccompAction.Allow, libseccomp);
        Assert.Equal(SeccompAction.Errno(1), syscage);
        Assert.Equal(syscage, compiled);
    }

    [Fact]
    public void AnEntryLibseccompRefusesIsAWarningAndIsTriedAfterTheOthers()
    {
        // The same test with two actions: seccomp_rule_add fails with -EEXIST and runc does not start the container.
        const string json = """
            {"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
              {"names":["mmap"],"action":"SCMP_ACT_ERRNO","errnoRet":1,"args":[{"index":0,"value":5,"op":"SCMP_CMP_EQ"},{"index":1,"value":7,"op":"SCMP_CMP_GT"}]},
              {"names":["mmap"],"action":"SCMP_ACT_KILL","args":[{"index":1,"value":7,"op":"SCMP_CMP_GT"}]},
              {"names":["mmap"],"action":"SCMP_ACT_LOG","args":[{"index":0,"value":5,"op":"SCMP_CMP_EQ"}]}]}
            """;
        var profile = OciProfileLoader.Parse(json, Host);
        Assert.Contains("-17", LibseccompProfile.Build(profile).Error, StringComparison.Ordinal);
        var warning = Assert.Single(profile.Warnings, w => w.Message.Contains("libseccomp refuses", StringComparison.Ordinal));
        Assert.Equal("syscalls[2]", warning.Path);
        Assert.Contains("runc would not start the container", warning.Message, StringComparison.Ordinal);
        // The accepted entries decide the calls they match; the refused one the calls only it matches.
        Assert.Equal(SeccompAction.KillThread, profile.Policy.Evaluate(Call(Architecture.X86_64, "mmap", 5, 8)).Action);
        Assert.Equal(SeccompAction.Log, profile.Policy.Evaluate(Call(Architecture.X86_64, "mmap", 5, 1)).Action);
    }

    [Fact]
    public void LibseccompRefusesErrnoDataFromMaxErrnoOn()
    {
        // db_col_action_valid refuses ERRNO data >= 4095; the kernel itself clamps to MAX_ERRNO. Syscage keeps the
        // value and the kernel clamps it; runc would refuse to start the container.
        var profile = OciProfileLoader.Parse("""{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","errnoRet":4095}]}""", Host);
        Assert.Contains("-22", LibseccompProfile.Build(profile).Error, StringComparison.Ordinal);
        Assert.Equal(SeccompAction.Errno(4095), profile.Policy.Evaluate(Call(Architecture.X86_64, "read")).Action);
    }
}

public class DockerDefaultAgreementTests(Xunit.Abstractions.ITestOutputHelper output)
{
    /// <summary>
    /// Docker's default profile on amd64 to Syscage (IR and compiled filter) and to runc (libseccomp 2.5.4's program
    /// with runc's ENOSYS stub in front), on numbers 0-1023 of x86_64, x86 and x32, the edges of the number space, and
    /// six argument patterns each.
    /// </summary>
    [Fact]
    public void DockerDefaultMeansTheSameToSyscageAndToRuncWithLibseccomp()
    {
        var profile = OciProfileLoader.Load(Path.Combine(NativeProbe.RepositoryRoot, "samples", "profiles", "docker-default.json"),
            new OciOptions { NativeArchitecture = Architecture.X86_64, KernelVersion = "6.1.0" });
        var build = LibseccompProfile.Build(profile, optimize: 2);   // runc: binary tree above 32 syscalls
        Assert.Null(build.Error);
        Assert.NotNull(build.Stub);
        var compiled = PolicyCompiler.Compile(profile.Policy);
        var rng = new Random(7);
        int checkedCalls = 0, newer = 0, between = 0;
        var differences = new List<string>();
        var widths = new List<string>();
        var names = profile.Entries.SelectMany(e => e.Names).Distinct().ToList();
        foreach (var arch in profile.Architectures)
        {
            // The largest number the profile names: to Syscage (its tables) and to runc (libseccomp's resolver).
            uint syscage = profile.Policy.Newer!.NewestOn(arch)!.Value;
            uint runc = (uint)names.Max(n => Libseccomp.Resolve(LibseccompProfile.Token(arch), n));
            output.WriteLine($"{arch.Name}: newest syscall the profile names: {syscage} to Syscage, {runc} to runc with libseccomp 2.5.4");
            var numbers = Enumerable.Range(0, 1024).Select(n => arch.SyscallNumberBit + (uint)n)
                .Concat(new uint[] { 0x3fff_ffff, 0x7fff_ffff, 0x8000_0000, 0xbfff_ffff, 0xc000_0000, 0xffff_fffe, 0xffff_ffff });
            foreach (uint number in numbers)
            {
                int nr = unchecked((int)number);
                foreach (ulong[] args in new[] { new ulong[6], [0x7e020000, 0x7e020000, 0, 0, 0, 0], [40, 0, 0, 0, 0, 0], [0xffffffff, 0, 0, 0, 0, 0], [0x1_0000_0028, 1, 0, 0, 0, 0], [(ulong)rng.NextInt64(), (ulong)rng.NextInt64(), 0, 0, 0, 0] })
                {
                    var data = new SeccompData(nr, arch.AuditArch, 0, args);
                    var ir = profile.Policy.Evaluate(data).Action;
                    Assert.Equal(ir.Value, Interpreter.Run(compiled, data).ReturnValue);
                    uint lib = ReferenceBpf.Run(build.Bpf!, data.ToBytes());
                    checkedCalls++;
                    if (lib == ir.Value)
                        continue;
                    // Syscage's tables (Linux 7.1) have calls Debian's libseccomp 2.5.4 does not know on this
                    // architecture (uretprobe, mseal, listmount ...): Syscage allows them as the profile says, runc
                    // with 2.5.4 leaves them to the default action.
                    if (arch.Syscalls.TryGetName(nr, out var known) && Libseccomp.Resolve(Libseccomp.ArchToken(arch.Name), known) != nr)
                    {
                        newer++;
                        continue;
                    }
                    // And so the newest syscall the profile names is another: between the two, one says ENOSYS.
                    if (Architecture.Of(data.Arch, nr) == arch && number > Math.Min(syscage, runc) && number <= Math.Max(syscage, runc))
                    {
                        between++;
                        continue;
                    }
                    string call = $"{arch.Name} {(arch.Syscalls.TryGetName(nr, out var name) ? name : $"0x{number:x}")}({string.Join(", ", args.Take(2).Select(a => $"0x{a:x}"))}): Syscage {ir}, runc + libseccomp {new SeccompAction(lib)}";
                    // Syscage compares an int argument on the 32 bits the kernel reads, libseccomp on 64.
                    (LibseccompBehaviour.Explain(profile, data, lib, build.LibseccompBpf!) == LibseccompBehaviour.Width ? widths : differences).Add(call);
                }
            }
        }
        output.WriteLine($"{checkedCalls} calls, {differences.Count} differences, {widths.Count} by argument width, {newer} on syscalls newer than libseccomp 2.5.4, {between} between the newest syscalls the profile names to each");
        foreach (var d in differences.Concat(widths).Take(40))
            output.WriteLine(d);
        Assert.Empty(differences);
        // The one call of these on which the width matters: socket((1 << 32) | AF_VSOCK) on x86_64 (libseccomp's x32
        // and x86 compare 32 bits).
        Assert.Equal(["x86_64 socket(0x100000028, 0x1): Syscage ERRNO(1), runc + libseccomp ALLOW"], widths);
    }

    /// <summary>The native architectures of Docker's <c>archMap</c> that libseccomp 2.5.4 knows, and ppc64le (no entry: the native architecture alone).</summary>
    public static TheoryData<string> DockerNativeArchitectures() =>
        ["aarch64", "mips64", "mips64n32", "mipsel64", "mipsel64n32", "s390x", "riscv64", "ppc64le"];

    /// <summary>
    /// Docker's default profile as Docker gives it to runc on a machine of another architecture (its <c>archMap</c>
    /// entry for that native architecture: aarch64 with arm, s390x with s390, the mips64 ABIs with their o32 and other
    /// 64-bit ABI ...), to Syscage and to libseccomp 2.5.4 built for those architectures alone (as on such a host, in
    /// its byte order) with runc's stub in front: every number of each architecture's table range and the edges of
    /// the number space, six argument patterns each. What differs is a listed difference (docs/libseccomp-differences.md):
    /// calls libseccomp 2.5.4 does not know, the band between the newest calls each knows, libseccomp's 32-bit reading
    /// of mips n32, and the width of <c>socket</c>'s <c>int</c> domain on the 64-bit ABIs.
    /// </summary>
    [Theory]
    [MemberData(nameof(DockerNativeArchitectures))]
    public void DockerDefaultMeansTheSameToSyscageAndToRuncWithLibseccompOn(string native)
    {
        var nativeArch = Architecture.Parse(native);
        var profile = OciProfileLoader.Load(Path.Combine(NativeProbe.RepositoryRoot, "samples", "profiles", "docker-default.json"),
            new OciOptions { NativeArchitecture = nativeArch, KernelVersion = "6.1.0" });
        Assert.Equal(nativeArch, profile.Architectures[0]);
        var build = LibseccompProfile.Build(profile, optimize: 2, [.. profile.Architectures.Select(LibseccompProfile.Token)]);
        Assert.True(build.Bpf is not null, build.Error);
        Assert.NotNull(build.Stub);
        bool bigEndian = nativeArch.IsBigEndian;
        // libseccomp exports in the filter's byte order; runc's stub is built here in the host's.
        byte[] libseccomp = bigEndian ? RuncEnosysStub.Prepend(build.Stub, ReferenceBpf.FromBigEndian(build.LibseccompBpf!)) : build.Bpf;
        var compiled = PolicyCompiler.Compile(profile.Policy);
        var rng = new Random(11);
        int checkedCalls = 0, newer = 0, between = 0, n32 = 0, hostOrder = 0;
        var differences = new List<string>();
        var widths = new List<string>();
        var names = profile.Entries.SelectMany(e => e.Names).Distinct().ToList();
        foreach (var arch in profile.Architectures)
        {
            uint token = LibseccompProfile.Token(arch);
            uint syscage = profile.Policy.Newer!.NewestOn(arch)!.Value;
            uint runc = (uint)names.Max(n => Libseccomp.Resolve(token, n));
            output.WriteLine($"{native}: {arch.Name}: newest syscall the profile names: {syscage} to Syscage, {runc} to runc with libseccomp 2.5.4");
            uint first = (uint)arch.Syscalls.All.Min(c => c.Number);
            var numbers = Enumerable.Range(0, 1024).Select(n => first + (uint)n)
                .Concat(new uint[] { 0, 1, 0x3fff_ffff, 0x7fff_ffff, 0x8000_0000, 0xbfff_ffff, 0xc000_0000, 0xffff_fffe, 0xffff_ffff }).Distinct();
            foreach (uint number in numbers)
            {
                int nr = unchecked((int)number);
                foreach (ulong[] args in new[] { new ulong[6], [0x7e020000, 0x7e020000, 0, 0, 0, 0], [40, 0, 0, 0, 0, 0], [0xffffffff, 0, 0, 0, 0, 0], [0x1_0000_0028, 1, 0, 0, 0, 0], [(ulong)rng.NextInt64(), (ulong)rng.NextInt64(), 0, 0, 0, 0] })
                {
                    var data = new SeccompData(nr, arch.AuditArch, 0, args);
                    var ir = profile.Policy.Evaluate(data).Action;
                    Assert.Equal(ir.Value, Interpreter.Run(compiled, data).ReturnValue);
                    byte[] image = bigEndian ? ReferenceBpf.DataBigEndian(nr, arch.AuditArch, 0, args) : data.ToBytes();
                    uint lib = ReferenceBpf.Run(libseccomp, image);
                    checkedCalls++;
                    if (lib == ir.Value)
                        continue;
                    // Built for a big-endian ABI on this little-endian host, libseccomp 2.5.4 leaves the k of a RET it
                    // places for a long jump in host byte order (the be-long-jump-ret class of its sim vectors); on a
                    // big-endian host, where runc builds it, the two orders are one.
                    if (bigEndian && lib == BinaryPrimitives.ReverseEndianness(ir.Value))
                    {
                        hostOrder++;
                        continue;
                    }
                    if (arch.Syscalls.TryGetName(nr, out var known) && Libseccomp.Resolve(token, known) != nr)
                    {
                        newer++;
                        continue;
                    }
                    if (number > Math.Min(syscage, runc) && number <= Math.Max(syscage, runc))
                    {
                        between++;
                        continue;
                    }
                    string call = $"{arch.Name} {(arch.Syscalls.TryGetName(nr, out var name) ? name : $"0x{number:x}")}({string.Join(", ", args.Take(2).Select(a => $"0x{a:x}"))}): Syscage {ir}, runc + libseccomp {new SeccompAction(lib)}";
                    // libseccomp reads mips n32 as a 32-bit ABI (ARCH_SIZE_32): its comparisons see the low halves only.
                    if (arch == Architecture.Mips64N32 || arch == Architecture.Mipsel64N32)
                    {
                        if (args.Any(a => a > uint.MaxValue))
                        {
                            n32++;
                            continue;
                        }
                    }
                    // Syscage compares socket's int domain on the 32 bits the kernel reads, libseccomp on 64.
                    (arch.Is64Bit && name == "socket" && args[0] == 0x1_0000_0028 ? widths : differences).Add(call);
                }
            }
        }
        output.WriteLine($"{checkedCalls} calls, {differences.Count} differences, {widths.Count} by argument width, {n32} by libseccomp's 32-bit reading of n32, {hostOrder} by libseccomp's host-order RET on a big-endian filter, {newer} on syscalls newer than libseccomp 2.5.4, {between} between the newest syscalls the profile names to each");
        foreach (var d in differences.Concat(widths).Take(40))
            output.WriteLine(d);
        Assert.True(differences.Count == 0, string.Join('\n', differences.Take(20)));
        Assert.True(checkedCalls >= 6_000, $"only {checkedCalls} calls");
    }
}
