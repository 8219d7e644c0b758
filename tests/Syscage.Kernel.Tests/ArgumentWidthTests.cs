using Syscage.Bpf;
using Syscage.Policy;
using Syscage.Policy.Language;
using Syscage.Policy.Oci;
using Syscage.Abi;
using Syscage.Testing;
using static Syscage.Kernel.Tests.Sandboxed;
using Syscage.Policy.Builtin;

namespace Syscage.Kernel.Tests;

/// <summary>
/// The sandboxed command as the attacker, passing arguments with bits the kernel does not read: the kernel's syscall
/// wrappers cast each register to the declared type (socket's <c>int family</c>, chmod's <c>umode_t mode</c>), so a
/// comparison made on all 64 bits can be walked around. Each call runs in a child process under the compiled filter
/// (syscall_helper); the controls show that the kernel does drop the bits, so a 64-bit comparison would let the call
/// through.
/// </summary>
public sealed class ArgumentWidthTests
{
    private const string Socket = "41", Chmod = "90";
    private const string VsockWithHighBits = "0x100000028";   // (1 << 32) | AF_VSOCK
    private const string SockStream = "1";

    private static SeccompPolicy AllowAll() => new PolicyBuilder(SeccompAction.Allow, Architecture.X86_64, Architecture.X86, Architecture.X32).Build();

    /// <summary>Whether the call made a file descriptor: "ret N errno 0" with N &gt;= 0.</summary>
    private static bool Succeeded(Outcome o) => o.Stdout.StartsWith("ret ", StringComparison.Ordinal) && !o.Stdout.StartsWith("ret -", StringComparison.Ordinal) && o.Stdout.EndsWith(" errno 0", StringComparison.Ordinal);

    [Fact]
    public void TheKernelReadsSocketsFamilyAsAnInt()
    {
        // The premise: with no rule in the way, the high half is dropped and the call makes a vsock socket.
        var plain = Run(AllowAll(), "call", Socket, VsockWithHighBits, SockStream, "0");
        Assert.True(Succeeded(plain), $"socket((1 << 32) | AF_VSOCK) should make a vsock socket on this kernel (is vsock available?): {plain}");
        // And a policy that compares the whole register, as libseccomp does, lets it through.
        var wide = new PolicyBuilder(SeccompAction.Allow, Architecture.X86_64);
        wide.Add("socket", new Rule(Condition.Of(new ArgPredicate(0, ComparisonOp.Eq, 40)), SeccompAction.Errno(97)));
        Assert.True(Succeeded(Run(wide.Build(), "call", Socket, VsockWithHighBits, SockStream, "0")));
    }

    [Fact]
    public void TheDefaultPolicyRefusesAVsockSocketWithHighBits()
    {
        var policy = BuiltinPolicies.Load("default");
        Assert.Equal("ret -1 errno 97", Run(policy, "call", Socket, VsockWithHighBits, SockStream, "0").Stdout);     // EAFNOSUPPORT
        Assert.Equal("ret -1 errno 97", Run(policy, "call", Socket, "0xffffffff00000028", SockStream, "0").Stdout);
        Assert.Equal("ret -1 errno 97", Run(policy, "call", Socket, "40", SockStream, "0").Stdout);
        // AF_UNIX with high bits is AF_UNIX to the kernel, and allowed.
        Assert.True(Succeeded(Run(policy, "call", Socket, "0x100000001", SockStream, "0")));
    }

    [Fact]
    public void DockersProfileRefusesAVsockSocketWithHighBits()
    {
        // Docker allows socket when domain < 38 || domain == 39 || domain > 40 (runc with libseccomp 2.5.4 lets
        // (1 << 32) | AF_VSOCK through: it is > 40 on 64 bits).
        var profile = OciProfileLoader.Load(Path.Combine(NativeProbe.RepositoryRoot, "samples", "profiles", "docker-default.json"));
        Assert.DoesNotContain(profile.Warnings, w => w.Path.Contains("args", StringComparison.Ordinal));
        Assert.Equal("ret -1 errno 1", Run(profile.Policy, "call", Socket, VsockWithHighBits, SockStream, "0").Stdout);   // EPERM
        Assert.Equal("ret -1 errno 1", Run(profile.Policy, "call", Socket, "40", SockStream, "0").Stdout);
        Assert.Equal("ret -1 errno 1", Run(profile.Policy, "call", Socket, "0x700000028", SockStream, "0").Stdout);
        Assert.True(Succeeded(Run(profile.Policy, "call", Socket, "0x100000001", SockStream, "0")));
    }

    [Fact]
    public void ChmodIsComparedOnTheSixteenBitsOfItsMode()
    {
        string dir = Directory.CreateTempSubdirectory("syscage-width-").FullName;
        try
        {
            string file = Path.Combine(dir, "target");
            File.WriteAllText(file, "");
            var mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;   // 0644
            File.SetUnixFileMode(file, mode);
            var policy = PolicyLanguage.Parse("""
                default ALLOW
                ERRNO(EPERM) chmod if mode == 04755
                """, "setuid.policy");

            // 0x10000 | 04755 is 04755 to the kernel: refused, the file keeps its mode.
            Assert.Equal("ret -1 errno 1", Run(policy, "call", Chmod, "s:" + file, "0x109ed").Stdout);
            Assert.Equal("ret -1 errno 1", Run(policy, "call", Chmod, "s:" + file, "0xffffffffffff09ed").Stdout);
            Assert.Equal(mode, File.GetUnixFileMode(file));
            Assert.Equal("ret 0 errno 0", Run(policy, "call", Chmod, "s:" + file, "0x101a4").Stdout);   // 0644, allowed

            // The control: compared on 64 bits, the same call gets through and the kernel sets the setuid mode.
            var wide = new PolicyBuilder(SeccompAction.Allow, Architecture.X86_64);
            wide.Add("chmod", new Rule(Condition.Of(new ArgPredicate(1, ComparisonOp.Eq, 0x9ed)), SeccompAction.Errno(1)));
            Assert.Equal("ret 0 errno 0", Run(wide.Build(), "call", Chmod, "s:" + file, "0x109ed").Stdout);
            Assert.Equal((UnixFileMode)0x9ed, File.GetUnixFileMode(file));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
