using System.Globalization;
using Syscage.Bpf;
using Syscage.Policy.Compiler;
using Syscage.Policy.Oci;
using Syscage.Abi;
using Syscage.Testing;
using Xunit.Abstractions;

namespace Syscage.Policy.Oci.Tests;

/// <summary>
/// socketcall(2) and ipc(2) in OCI profiles, against libseccomp 2.5.4 built as runc builds it: where the profile's rules
/// have no argument checks the two agree on every ABI libseccomp multiplexes (x86, ppc, ppc64, mips o32, s390, s390x);
/// the minimal profiles below record where libseccomp's meaning leaves a refusal open through the multiplexer and
/// Syscage follows the profile (docs/libseccomp-differences.md, "socketcall and ipc"). Should a libseccomp upgrade close
/// one, its test fails on the libseccomp assertion: update the record, not Syscage.
/// </summary>
public class MultiplexingTests(ITestOutputHelper output)
{
    private static readonly OciOptions Host = new() { NativeArchitecture = Architecture.X86_64, KernelVersion = "6.1.0" };

    /// <summary>The ABIs with socketcall(2) and ipc(2) that libseccomp 2.5.4 knows (m68k and sh came with 2.6).</summary>
    public static TheoryData<string> LibseccompMultiplexingArches() =>
        [.. Architecture.All.Where(a => a.SocketcallNumber is not null && !Libseccomp.NewerArchitectures.Contains(a.Name)).Select(a => a.Name)];

    [Fact]
    public void EveryAbiWithSocketcallOrIpcIsKnownAndMultiplexedAlike()
    {
        // The 11 ABIs whose tables have socketcall(2) also have ipc(2), and on each libseccomp 2.5.4 (where it knows the
        // ABI) resolves every call the multiplexers make to a pseudo number (__PNR_socket = -101 ... __PNR_shmctl = -224,
        // seccomp-syscalls.h), whose last two digits are the call's code: SYS_SOCKET 1, SEMOP 1 (-201), SHMCTL 24 (-224).
        // Elsewhere it gives the direct number Syscage's table has (or a negative one for a name the ABI lacks).
        var multiplexing = Architecture.All.Where(a => a.SocketcallNumber is not null).Select(a => a.Name).ToList();
        Assert.Equal(["x86", "m68k", "mips", "mipsel", "ppc", "ppc64", "ppc64le", "s390", "s390x", "sh", "sheb"], multiplexing);
        Assert.All(Architecture.All, a => Assert.Equal(a.SocketcallNumber is null, a.IpcNumber is null));
        Assert.Equal(32, MultiplexedCall.All.Count);
        foreach (var arch in Architecture.All.Where(a => !Libseccomp.NewerArchitectures.Contains(a.Name)))
        {
            uint token = Libseccomp.ArchToken(arch.Name);
            foreach (var call in MultiplexedCall.All)
            {
                int theirs = Libseccomp.Resolve(token, call.Name);
                if (arch.TryGetMultiplexed(call.Name, out _))
                    Assert.True(-theirs % 100 == call.Code && -theirs / 100 == (call.Multiplexer == Multiplexer.Socketcall ? 1 : 2),
                        $"{arch.Name} {call.Name}: libseccomp {theirs}, Syscage {call.CodeName} {call.Code}");
                else if (arch.Syscalls.TryGetNumber(call.Name, out int nr))
                    Assert.True(theirs == nr, $"{arch.Name} {call.Name}: libseccomp {theirs}, Syscage {nr}");
                else   // the same pseudo numbers stand for a name an ABI lacks
                    Assert.True(theirs < 0, $"{arch.Name} {call.Name}: libseccomp {theirs}, Syscage has no such call");
            }
        }
    }

    [Theory]
    [MemberData(nameof(LibseccompMultiplexingArches))]
    public void UnconditionalRulesAgreeWithLibseccomp(string name)
    {
        // Each of the 32 calls refused with its own errno; every code of both multiplexers, and every direct call.
        var arch = Architecture.Parse(name);
        string entries = string.Join(",\n", MultiplexedCall.All.Select((c, i) =>
            string.Create(CultureInfo.InvariantCulture, $$"""  {"names":["{{c.Name}}"],"action":"SCMP_ACT_ERRNO","errnoRet":{{i + 1}}}""")));
        var profile = OciProfileLoader.Parse($$"""{"defaultAction":"SCMP_ACT_ALLOW","architectures":["{{arch.ScmpName}}"],"syscalls":[{{"\n"}}{{entries}}]}""",
            new OciOptions { NativeArchitecture = arch, KernelVersion = "6.1.0" });
        var compiled = PolicyCompiler.Compile(profile.Policy);
        var build = LibseccompProfile.Build(profile, optimize: 2, [LibseccompProfile.Token(arch)]);
        Assert.True(build.Bpf is not null, build.Error);
        byte[] libseccomp = arch.IsBigEndian ? ReferenceBpf.FromBigEndian(build.Bpf) : build.Bpf;

        var calls = new List<(int Nr, ulong[] Args, string What)>();
        foreach (var m in (Multiplexer[])[Multiplexer.Socketcall, Multiplexer.Ipc])
            for (ulong code = 0; code <= 26; code++)
                calls.Add((arch.MultiplexerNumber(m)!.Value, [code, 0x7fff_0000, 3, 0, 0x7fff_1000, 0], $"{MultiplexedCall.NameOf(m)}({code})"));
        foreach (var c in MultiplexedCall.All)
            if (arch.Syscalls.TryGetNumber(c.Name, out int nr))
                calls.Add((nr, [3, 0, 0, 0, 0, 0], c.Name));

        var differences = new List<string>();
        foreach (var (nr, args, what) in calls)
        {
            var data = new SeccompData(nr, arch.AuditArch, 0, args);
            var ir = profile.Policy.Evaluate(data).Action;
            Assert.Equal(ir, Interpreter.Run(compiled, data).Action);
            var theirs = new SeccompAction(ReferenceBpf.Run(libseccomp, ReferenceBpf.Image(data)));
            if (theirs != ir)
                differences.Add($"{what}: Syscage {ir}, libseccomp {theirs}");
        }
        output.WriteLine($"{arch.Name}: {calls.Count} calls, {differences.Count} differences");
        Assert.Empty(differences);
    }

    private static (SeccompAction Syscage, SeccompAction Compiled, SeccompAction Libseccomp) Judge(string json, SeccompData data, Architecture? alone = null)
    {
        var profile = alone is null ? OciProfileLoader.Parse(json, Host) : OciProfileLoader.Parse(json, new OciOptions { NativeArchitecture = alone, KernelVersion = "6.1.0" });
        var build = alone is null ? LibseccompProfile.Build(profile) : LibseccompProfile.Build(profile, 1, [LibseccompProfile.Token(alone)]);
        Assert.True(build.Bpf is not null, build.Error);
        var ir = profile.Policy.Evaluate(data).Action;
        var compiled = new SeccompAction(Interpreter.Run(PolicyCompiler.Compile(profile.Policy), data).ReturnValue);
        byte[] bpf = alone is { IsBigEndian: true } ? ReferenceBpf.FromBigEndian(build.Bpf) : build.Bpf;
        var libseccomp = new SeccompAction(ReferenceBpf.Run(bpf, ReferenceBpf.Image(data)));
        Assert.Equal(LibseccompMultiplexing.Multiplexed, ir == libseccomp ? LibseccompMultiplexing.Multiplexed : LibseccompMultiplexing.Explain(profile, data, libseccomp.Value));
        return (ir, compiled, libseccomp);
    }

    private static SeccompData Call(Architecture arch, string name, params ulong[] args)
    {
        Assert.True(arch.Syscalls.TryGetNumber(name, out int nr));
        return new SeccompData(nr, arch.AuditArch, 0, args);
    }

    [Fact]
    public void ARefusalOnSocketsTypeIsComparedWithSocketcallsPointerByLibseccomp()
    {
        // socket if type == SOCK_DGRAM: libseccomp makes the comparison on socketcall's second register, the pointer to
        // the arguments, which is never 2: every socketcall(SYS_SOCKET) passes. Syscage cannot read the type there either,
        // and refuses every one.
        const string json = """
            {"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"],"syscalls":[
              {"names":["socket"],"action":"SCMP_ACT_ERRNO","errnoRet":13,"args":[{"index":1,"value":2,"op":"SCMP_CMP_EQ"}]}]}
            """;
        var (syscage, compiled, libseccomp) = Judge(json, Call(Architecture.X86, "socketcall", 1, 0xbfff_0000));
        Assert.Equal(SeccompAction.Errno(13), syscage);
        Assert.Equal(syscage, compiled);
        Assert.Equal(SeccompAction.Allow, libseccomp);
        // Both refuse the direct call.
        Assert.Equal(SeccompAction.Errno(13), Judge(json, Call(Architecture.X86, "socket", 1, 2, 0)).Libseccomp);
    }

    [Fact]
    public void AConditionalPermissionIsAPermissionOfEverySocketcallInLibseccomp()
    {
        // socket allowed if domain == AF_UNIX: libseccomp replaces the comparison on argument 0 with arg0 == SYS_SOCKET,
        // so socketcall(SYS_SOCKET) of any family is allowed. Syscage refuses it, as it refuses socket(AF_INET).
        const string json = """
            {"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86"],"syscalls":[
              {"names":["socket"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]}]}
            """;
        var (syscage, compiled, libseccomp) = Judge(json, Call(Architecture.X86, "socketcall", 1, 0xbfff_0000));
        Assert.Equal(SeccompAction.Errno(1), syscage);
        Assert.Equal(syscage, compiled);
        Assert.Equal(SeccompAction.Allow, libseccomp);
        Assert.Equal(SeccompAction.Errno(1), Judge(json, Call(Architecture.X86, "socket", 2, 1, 0)).Syscage);
    }

    [Fact]
    public void IpcsVersionBitsPassLibseccompsComparisonOfTheCall()
    {
        // The kernel picks ipc's call from the low 16 bits of its first argument (ksys_ipc: call &= 0xffff), so
        // ipc(SHMGET | 1 << 16, ...) is shmget. libseccomp compares the whole register with SHMGET.
        const string json = """
            {"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"],"syscalls":[
              {"names":["shmget"],"action":"SCMP_ACT_ERRNO"}]}
            """;
        var (syscage, compiled, libseccomp) = Judge(json, Call(Architecture.X86, "ipc", 0x1_0017, 0, 4096, 0x3c0));
        Assert.Equal(SeccompAction.Errno(1), syscage);
        Assert.Equal(syscage, compiled);
        Assert.Equal(SeccompAction.Allow, libseccomp);
        Assert.Equal(SeccompAction.Errno(1), Judge(json, Call(Architecture.X86, "ipc", 0x17, 0, 4096, 0x3c0)).Libseccomp);
    }

    [Theory]
    [InlineData("ppc64")]
    [InlineData("ppc64le")]
    [InlineData("s390x")]
    public void SocketcallsCallIsAnIntOnA64BitAbi(string name)
    {
        // socketcall(int call, ...): on a 64-bit ABI the kernel reads the low 32 bits of the register; libseccomp compares
        // all 64, so socketcall((1 << 32) | SYS_SOCKET) passes its refusal of socket.
        var arch = Architecture.Parse(name);
        string json = $$"""
            {"defaultAction":"SCMP_ACT_ALLOW","architectures":["{{arch.ScmpName}}"],"syscalls":[
              {"names":["socket"],"action":"SCMP_ACT_ERRNO","errnoRet":97}]}
            """;
        var (syscage, compiled, libseccomp) = Judge(json, Call(arch, "socketcall", 0x1_0000_0001, 0x7fff_0000), arch);
        Assert.Equal(SeccompAction.Errno(97), syscage);
        Assert.Equal(syscage, compiled);
        Assert.Equal(SeccompAction.Allow, libseccomp);
        Assert.Equal(SeccompAction.Errno(97), Judge(json, Call(arch, "socketcall", 1, 0x7fff_0000), arch).Libseccomp);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TheMultiplexersOwnUnconditionalRuleWinsInEitherOrder(bool multiplexerFirst)
    {
        // libseccomp (db_rule_add): socketcall's own rule without argument checks wins over the rules socket puts on it,
        // which all compare argument 0; so does the IR, whichever entry comes first.
        string socketcall = """{"names":["socketcall"],"action":"SCMP_ACT_ALLOW"}""";
        string socket = """{"names":["socket","accept"],"action":"SCMP_ACT_ERRNO","errnoRet":13}""";
        string json = $$"""
            {"defaultAction":"SCMP_ACT_KILL_PROCESS","architectures":["SCMP_ARCH_X86"],"syscalls":[
              {{(multiplexerFirst ? socketcall : socket)}}, {{(multiplexerFirst ? socket : socketcall)}}]}
            """;
        foreach (ulong code in new ulong[] { 1, 5, 3 })
        {
            var (syscage, compiled, libseccomp) = Judge(json, Call(Architecture.X86, "socketcall", code, 0xbfff_0000));
            Assert.Equal(SeccompAction.Allow, libseccomp);
            Assert.Equal(libseccomp, syscage);
            Assert.Equal(syscage, compiled);
        }
        // The direct socket is past the newest syscall the profile names on x86 to runc (socket and accept resolve to
        // pseudo numbers there, and socketcall is 102): runc's stub answers ENOSYS, and so does Syscage.
        var direct = Judge(json, Call(Architecture.X86, "socket", 1, 1, 0));
        Assert.Equal(SeccompAction.Errno(Errno.ENOSYS), direct.Syscage);
        Assert.Equal(direct.Syscage, direct.Libseccomp);
        Assert.Equal(SeccompAction.Errno(13), Judge(json, Call(Architecture.X86_64, "socket", 1, 1, 0)).Syscage);
    }
}
