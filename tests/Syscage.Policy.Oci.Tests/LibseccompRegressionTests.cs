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
    public void OverlappingRulesFollowProfileOrderInSyscageAndTreeOrderInLibseccomp()
    {
        // Both rules match getegid(_, 0x4b22fe9d557f4f17, 0x7f). The profile lists the KILL_THREAD rule first;
        // libseccomp's tree (ordered by argument, operator and value, not by the profile) reaches the other rule's
        // action. runc promises no order between such rules; Syscage takes the profile's.
        const string json = """
            {"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
              {"names":["getegid"],"action":"SCMP_ACT_KILL","args":[{"index":1,"value":8589934592,"op":"SCMP_CMP_NE"}]},
              {"names":["getegid"],"action":"SCMP_ACT_KILL_PROCESS","args":[
                {"index":1,"value":9223372036854775809,"op":"SCMP_CMP_NE"},{"index":2,"value":1311768467463790320,"op":"SCMP_CMP_NE"}]}]}
            """;
        var (syscage, compiled, libseccomp) = Judge(json, Call(Architecture.X86_64, "getegid", 0x7e020000, 0x4b22fe9d557f4f17, 0x7f));
        Assert.Equal(SeccompAction.KillThread, syscage);
        Assert.Equal(syscage, compiled);
        Assert.Equal(SeccompAction.KillProcess, libseccomp);
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
}
