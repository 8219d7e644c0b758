using Syscage.Bpf;
using Syscage.Policy;
using Syscage.Policy.Builtin;
using Syscage.Policy.Language;
using Syscage.Policy.Oci;
using Syscage.Abi;
using Syscage.Testing;
using static Syscage.Kernel.Tests.Sandboxed;

namespace Syscage.Kernel.Tests;

/// <summary>
/// The sandboxed command as the attacker, on x86's multiplexers, in the kernel: a 64-bit process makes i386 calls
/// through <c>int $0x80</c> (syscall_helper's <c>i386</c> mode), which the filter sees as <c>AUDIT_ARCH_I386</c>. It
/// reaches <c>socket</c> as <c>socketcall(SYS_SOCKET, args)</c> with the arguments in memory, and <c>shmget</c> as
/// <c>ipc(SHMGET | version &lt;&lt; 16, ...)</c>. The controls show the kernel making those calls; the policy's refusals
/// must hold on them — and libseccomp's filter for the same profile, installed the same way, shows where it does not.
/// </summary>
public sealed class MultiplexedCallTests
{
    // i386's numbers (arch/x86/entry/syscalls/syscall_32.tbl): socketcall, ipc, and the direct socket of Linux 4.3.
    private static readonly string Socketcall = Number("socketcall"), Ipc = Number("ipc"), DirectSocket = Number("socket");
    private static string Number(string name) => Architecture.X86.Syscalls.TryGetNumber(name, out int nr) ? nr.ToString(System.Globalization.CultureInfo.InvariantCulture) : throw new InvalidOperationException(name);

    private const string SysSocket = "1";               // linux/net.h SYS_SOCKET
    private const string ShmgetVersion1 = "0x10017";    // linux/ipc.h SHMGET (23) with version 1 in the high half
    private const string Shmget = "23";
    private const string AfVsock = "40", AfUnix = "1", SockStream = "1", SockDgram = "2";

    /// <summary>socketcall's argument array in memory below 4 GiB: <c>w:domain,type,protocol</c> (syscall_helper).</summary>
    private static string Args(string domain, string type) => $"w:{domain},{type},0";

    private static SeccompPolicy AllowAll() => new PolicyBuilder(SeccompAction.Allow, Architecture.X86_64, Architecture.X86).Build();

    /// <summary>Whether the call made a file descriptor: "ret N errno 0" with N &gt;= 0.</summary>
    private static bool Succeeded(Outcome o) => o.Stdout.StartsWith("ret ", StringComparison.Ordinal) && !o.Stdout.StartsWith("ret -", StringComparison.Ordinal) && o.Stdout.EndsWith(" errno 0", StringComparison.Ordinal);

    [Fact]
    public void TheKernelMakesSocketAndShmgetThroughTheirMultiplexers()
    {
        // The premise: i386 calls reach the kernel from this process, socketcall reads socket's arguments from memory,
        // and ipc reads the call from the low 16 bits (shmget of 0 bytes: EINVAL, where an unknown call is ENOSYS).
        Assert.True(Succeeded(Run(AllowAll(), "i386", Socketcall, SysSocket, Args(AfVsock, SockStream))), "socketcall(SYS_SOCKET, {AF_VSOCK}) should make a vsock socket");
        Assert.True(Succeeded(Run(AllowAll(), "i386", DirectSocket, AfVsock, SockStream, "0")));
        Assert.Equal("ret -1 errno 22", Run(AllowAll(), "i386", Ipc, ShmgetVersion1, "0", "0", "0").Stdout);
        Assert.Equal("ret -1 errno 38", Run(AllowAll(), "i386", Ipc, "0x1001f", "0", "0", "0").Stdout);
    }

    [Fact]
    public void TheDefaultPolicyRefusesAVsockSocketThroughSocketcall()
    {
        var policy = BuiltinPolicies.Load("default");
        Assert.Equal("ret -1 errno 97", Run(policy, "i386", Socketcall, SysSocket, Args(AfVsock, SockStream)).Stdout);   // EAFNOSUPPORT
        Assert.Equal("ret -1 errno 97", Run(policy, "i386", DirectSocket, AfVsock, SockStream, "0").Stdout);
        Assert.True(Succeeded(Run(policy, "i386", DirectSocket, AfUnix, SockStream, "0")));
        // The family is out of the filter's reach through socketcall: every socketcall(SYS_SOCKET) is refused.
        Assert.Equal("ret -1 errno 97", Run(policy, "i386", Socketcall, SysSocket, Args(AfUnix, SockStream)).Stdout);
    }

    [Fact]
    public void ARefusalOnSocketsTypeHoldsThroughSocketcallWhereLibseccompsFilterLetsItThrough()
    {
        // libseccomp keeps the comparison on argument 1 and makes it on socketcall's second register: the pointer.
        var profile = OciProfileLoader.Parse("""
            {
              "defaultAction": "SCMP_ACT_ALLOW",
              "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
              "syscalls": [
                {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "args": [{"index": 1, "value": 2, "op": "SCMP_CMP_EQ"}]},
                {"names": ["shmget"], "action": "SCMP_ACT_ERRNO"}
              ]
            }
            """);
        var libseccomp = BpfProgram.FromBytes(LibseccompProfile.Build(profile).Bpf!);
        string[] dgramThroughSocketcall = ["i386", Socketcall, SysSocket, Args(AfUnix, SockDgram)];

        Assert.Equal("ret -1 errno 13", Run(profile.Policy, dgramThroughSocketcall).Stdout);
        Assert.True(Succeeded(Run(libseccomp, dgramThroughSocketcall)), "libseccomp 2.5.4's filter lets socketcall(SYS_SOCKET, {AF_UNIX, SOCK_DGRAM}) through");
        // The direct call is refused by both.
        Assert.Equal("ret -1 errno 13", Run(profile.Policy, "i386", DirectSocket, AfUnix, SockDgram, "0").Stdout);
        Assert.Equal("ret -1 errno 13", Run(libseccomp, "i386", DirectSocket, AfUnix, SockDgram, "0").Stdout);
        Assert.True(Succeeded(Run(profile.Policy, "i386", DirectSocket, AfUnix, SockStream, "0")));

        // ipc's version bits: libseccomp compares the whole first register with SHMGET, the kernel its low 16 bits.
        Assert.Equal("ret -1 errno 1", Run(profile.Policy, "i386", Ipc, Shmget, "0", "0", "0").Stdout);
        Assert.Equal("ret -1 errno 1", Run(profile.Policy, "i386", Ipc, ShmgetVersion1, "0", "0", "0").Stdout);
        Assert.Equal("ret -1 errno 1", Run(libseccomp, "i386", Ipc, Shmget, "0", "0", "0").Stdout);
        Assert.Equal("ret -1 errno 22", Run(libseccomp, "i386", Ipc, ShmgetVersion1, "0", "0", "0").Stdout);   // shmget ran
    }

    [Fact]
    public void AConditionalPermissionPermitsNoSocketcall()
    {
        // Only AF_UNIX sockets: the permission is conditional, every other socket refused.
        var policy = PolicyLanguage.Parse("""
            default ALLOW
            arch x86_64, x86
            ALLOW socket if domain == AF_UNIX
            ERRNO(EPERM) socket
            """, "unix-only.policy");
        Assert.True(Succeeded(Run(policy, "i386", DirectSocket, AfUnix, SockStream, "0")));
        Assert.Equal("ret -1 errno 1", Run(policy, "i386", DirectSocket, AfVsock, SockStream, "0").Stdout);
        Assert.Equal("ret -1 errno 1", Run(policy, "i386", Socketcall, SysSocket, Args(AfVsock, SockStream)).Stdout);
        Assert.Equal("ret -1 errno 1", Run(policy, "i386", Socketcall, SysSocket, Args(AfUnix, SockStream)).Stdout);
    }

    [Fact]
    public void DockersProfileAllowsSocketcallItself()
    {
        // Docker's default profile names socketcall in its allow-list: on x86 every socket call through it is allowed,
        // as the profile says and runc + libseccomp do; its conditions on socket's family hold on the direct call only.
        var profile = OciProfileLoader.Load(Path.Combine(NativeProbe.RepositoryRoot, "samples", "profiles", "docker-default.json"));
        var libseccomp = BpfProgram.FromBytes(LibseccompProfile.Build(profile).Bpf!);
        Assert.True(Succeeded(Run(profile.Policy, "i386", Socketcall, SysSocket, Args(AfVsock, SockStream))));
        Assert.True(Succeeded(Run(libseccomp, "i386", Socketcall, SysSocket, Args(AfVsock, SockStream))));
        Assert.Equal("ret -1 errno 1", Run(profile.Policy, "i386", DirectSocket, AfVsock, SockStream, "0").Stdout);
        Assert.Equal("ret -1 errno 1", Run(libseccomp, "i386", DirectSocket, AfVsock, SockStream, "0").Stdout);
        // And Syscage says so.
        Assert.Contains(PolicyExplainer.UncheckedConditions(profile.Policy),
            u => u.Architecture == Architecture.X86 && u.Call.Name == "socket" && u.DecidedBy is not null && u.Action == SeccompAction.Allow);
    }
}
