using System.Globalization;
using Syscage.Abi;
using Syscage.Bpf;
using Syscage.Policy.Compiler;
using Syscage.Policy.Oci;
using Syscage.Testing;

namespace Syscage.Policy.Oci.Tests;

/// <summary>
/// runc's ENOSYS stub (libcontainer/seccomp/patchbpf/enosys_linux.go) as the OCI loader models it: which profiles get
/// it, which number is the newest per architecture, and what calls past it get — in the IR, the compiled filter, and
/// against the stub made as runc makes it (libseccomp's resolver, <see cref="RuncEnosysStub"/>) in front of nothing.
/// </summary>
public class RuncEnosysTests
{
    private static readonly OciOptions Host = new() { NativeArchitecture = Architecture.X86_64, KernelVersion = "6.1.0" };
    private static readonly SeccompAction Enosys = SeccompAction.Errno(Errno.ENOSYS);

    private static OciProfile Load(string defaultAction, string arches, string entries, OciOptions? options = null) =>
        OciProfileLoader.Parse($$"""{"defaultAction":"{{defaultAction}}","architectures":[{{arches}}],"syscalls":[{{entries}}]}""", options ?? Host);

    private static uint Nr(Architecture arch, string name) => arch.Syscalls.TryGetNumber(name, out int nr) ? (uint)nr : throw new ArgumentException(name);

    private static PolicyDecision Decide(OciProfile profile, uint nr, Architecture? arch = null)
    {
        var data = new SeccompData(unchecked((int)nr), (arch ?? Architecture.X86_64).AuditArch);
        var decision = profile.Policy.Evaluate(data);
        Assert.Equal(decision.Action, Interpreter.Run(PolicyCompiler.Compile(profile.Policy), data).Action);
        Assert.Equal(decision.Action, Interpreter.Run(PolicyCompiler.Compile(profile.Policy, new CompileOptions { Optimize = false }), data).Action);
        return decision;
    }

    [Theory]
    [InlineData("SCMP_ACT_ALLOW", false)]
    [InlineData("SCMP_ACT_LOG", false)]
    [InlineData("SCMP_ACT_TRACE", false)]   // "a good tracer should support future syscalls"
    [InlineData("SCMP_ACT_ERRNO", true)]
    [InlineData("SCMP_ACT_KILL", true)]
    [InlineData("SCMP_ACT_KILL_PROCESS", true)]
    [InlineData("SCMP_ACT_KILL_THREAD", true)]
    [InlineData("SCMP_ACT_TRAP", true)]
    public void TheStubIsThereUnlessTheDefaultActionLetsCallsRun(string defaultAction, bool stub)
    {
        string action = defaultAction == "SCMP_ACT_ALLOW" ? "SCMP_ACT_ERRNO" : "SCMP_ACT_ALLOW";
        var profile = Load(defaultAction, "\"SCMP_ARCH_X86_64\"", $$"""{"names":["read","openat"],"action":"{{action}}"}""");
        Assert.Equal(stub, profile.Policy.Newer is not null);
        Assert.Equal(stub ? Enosys : profile.Policy.DefaultAction, Decide(profile, 1000).Action);
        Assert.Equal(stub, RuncEnosysStub.Build(profile, [Libseccomp.SCMP_ARCH_X86_64]) is not null);
    }

    [Fact]
    public void TheNewestSyscallIsTheLargestNumberThatAnyApplyingEntryNamesPerArchitecture()
    {
        // An entry with the default action names futex_waitv (it is no rule: runc skips it), but counts; an excluded entry
        // (its capability is not held) does not; unknown names are ignored.
        var profile = Load("SCMP_ACT_ERRNO", "\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"", """
            {"names":["read","openat","no_such_call"],"action":"SCMP_ACT_ALLOW"},
            {"names":["futex_waitv"],"action":"SCMP_ACT_ERRNO"},
            {"names":["set_mempolicy_home_node"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_NICE"]}}
            """);
        var newer = profile.Policy.Newer!;
        Assert.Equal("the profile names", newer.Basis);
        Assert.Equal(Enosys, newer.Action);
        foreach (var arch in new[] { Architecture.X86_64, Architecture.X86, Architecture.X32 })
        {
            uint newest = Nr(arch, "futex_waitv");
            Assert.Equal(newest, newer.NewestOn(arch));
            Assert.Equal(DecisionReason.Default, Decide(profile, newest, arch).Reason);
            Assert.Equal(Enosys, Decide(profile, newest + 1, arch).Action);
            Assert.Equal(DecisionReason.Newer, Decide(profile, newest + 1, arch).Reason);
            Assert.Equal(SeccompAction.Allow, Decide(profile, Nr(arch, "openat"), arch).Action);
        }
        // With the capability, set_mempolicy_home_node counts, and is allowed.
        var nice = Load("SCMP_ACT_ERRNO", "\"SCMP_ARCH_X86_64\"", """
            {"names":["futex_waitv"],"action":"SCMP_ACT_ERRNO"},
            {"names":["set_mempolicy_home_node"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_NICE"]}}
            """, Host with { Capabilities = new HashSet<string> { "CAP_SYS_NICE" } });
        Assert.Equal(Nr(Architecture.X86_64, "set_mempolicy_home_node"), nice.Policy.Newer!.NewestOn(Architecture.X86_64));
    }

    [Fact]
    public void X86_64AndX32KeepTheirOwnNewestAndTheX32BitChoosesBetweenThem()
    {
        // x32's execveat is 545 + the bit, above its common calls; x86_64's is 322.
        var profile = Load("SCMP_ACT_KILL_PROCESS", "\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X32\"", """{"names":["read","execveat"],"action":"SCMP_ACT_ALLOW"}""");
        uint x64 = Nr(Architecture.X86_64, "execveat"), x32 = Nr(Architecture.X32, "execveat");
        Assert.Equal(x64, profile.Policy.Newer!.NewestOn(Architecture.X86_64));
        Assert.Equal(x32, profile.Policy.Newer.NewestOn(Architecture.X32));
        Assert.Equal(Enosys, Decide(profile, x64 + 1).Action);
        // Between x86_64's newest and x32's there are x32 numbers the profile does not name: the default.
        Assert.Equal(SeccompAction.KillProcess, Decide(profile, Architecture.X32.SyscallNumberBit + x64 + 1).Action);
        Assert.Equal(Enosys, Decide(profile, x32 + 1).Action);
        // Numbers without the x32 bit past 0x3fffffff are x86_64's; with it (and not -1), x32's; -1 is x86_64's.
        Assert.Equal(Enosys, Decide(profile, 0x8000_0000).Action);
        Assert.Equal(Enosys, Decide(profile, 0xc000_0000).Action);
        Assert.Equal(Architecture.X86_64, Decide(profile, uint.MaxValue).Section!.Architecture);
        Assert.Equal(Enosys, Decide(profile, uint.MaxValue).Action);
    }

    [Fact]
    public void AnArchitectureWhoseLargestNumberIsZeroGetsNoStub()
    {
        // runc: "if largestSyscall != 0": read is 0 on x86_64, 3 on x86, the x32 bit on x32.
        var profile = Load("SCMP_ACT_ERRNO", "\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"", """{"names":["read"],"action":"SCMP_ACT_ALLOW"}""");
        Assert.Null(profile.Policy.Newer!.NewestOn(Architecture.X86_64));
        Assert.Equal(Nr(Architecture.X86, "read"), profile.Policy.Newer.NewestOn(Architecture.X86));
        Assert.Equal(Architecture.X32.SyscallNumberBit, profile.Policy.Newer.NewestOn(Architecture.X32));
        Assert.Equal(SeccompAction.Errno(1), Decide(profile, 1000).Action);
        Assert.Equal(Enosys, Decide(profile, 1000, Architecture.X86).Action);
        Assert.Equal(Enosys, Decide(profile, Architecture.X32.SyscallNumberBit + 1).Action);
        // No architecture with a number: no stub at all.
        Assert.Null(Load("SCMP_ACT_ERRNO", "\"SCMP_ARCH_X86_64\"", """{"names":["read","no_such_call"],"action":"SCMP_ACT_ALLOW"}""").Policy.Newer);
    }

    [Fact]
    public void TheNativeArchitectureIsAlwaysCovered()
    {
        // A profile that names x86 only still covers x86_64 (libseccomp's seccomp_init, and runc's stub since 1.2).
        var profile = Load("SCMP_ACT_ERRNO", "\"SCMP_ARCH_X86\"", """{"names":["openat"],"action":"SCMP_ACT_ALLOW"}""");
        Assert.Equal(Nr(Architecture.X86_64, "openat"), profile.Policy.Newer!.NewestOn(Architecture.X86_64));
        Assert.Equal(Nr(Architecture.X86, "openat"), profile.Policy.Newer.NewestOn(Architecture.X86));
    }

    [Fact]
    public void OnX86TheSocketAndIpcCallsDoNotCountAsLibseccompMultiplexesThem()
    {
        // libseccomp resolves socketpair and msgget on x86 to pseudo numbers (socketcall, ipc): runc's largest number
        // there is read's, so the direct calls, although allowed, get ENOSYS — and the C library falls back to socketcall.
        // On x86_64 they are plain syscalls, and msgget is the newest.
        var profile = Load("SCMP_ACT_ERRNO", "\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\"", """{"names":["read","socketpair","msgget"],"action":"SCMP_ACT_ALLOW"}""");
        var x86 = Architecture.X86;
        Assert.Equal(Nr(x86, "read"), profile.Policy.Newer!.NewestOn(x86));
        Assert.True(Libseccomp.Resolve(Libseccomp.SCMP_ARCH_X86, "socketpair") < 0);
        Assert.Equal(Enosys, Decide(profile, Nr(x86, "socketpair"), x86).Action);
        Assert.Equal(Enosys, Decide(profile, Nr(x86, "msgget"), x86).Action);
        Assert.Equal(SeccompAction.Allow, Decide(profile, Nr(Architecture.X86_64, "socketpair")).Action);
        Assert.Equal(Nr(Architecture.X86_64, "msgget"), profile.Policy.Newer.NewestOn(Architecture.X86_64));
    }

    [Fact]
    public void ADefaultOfEnosysStillGetsTheStubAsRuncsCheckNeverSkipsIt()
    {
        // generatePatch compares defaultErrnoRet with the whole action value SCMP_ACT_ERRNO(ENOSYS), never equal to an
        // errno: the stub is added, and answers as the default would.
        var profile = OciProfileLoader.Parse("""{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"syscalls":[{"names":["openat"],"action":"SCMP_ACT_ALLOW"}]}""", Host);
        Assert.NotNull(profile.Policy.Newer);
        Assert.Equal(Enosys, Decide(profile, 1000).Action);
        Assert.Equal(Enosys, Decide(profile, Nr(Architecture.X86_64, "read")).Action);
    }

    [Fact]
    public void TheOptionTurnsTheStubOffForLibseccompsOwnMeaning()
    {
        var profile = Load("SCMP_ACT_ERRNO", "\"SCMP_ARCH_X86_64\"", """{"names":["openat"],"action":"SCMP_ACT_ALLOW"}""", Host with { RuncEnosysStub = false });
        Assert.Null(profile.Policy.Newer);
        Assert.Equal(SeccompAction.Errno(1), Decide(profile, 1000).Action);
    }

    [Fact]
    public void TheStubAsRuncMakesItAgreesWithTheModelOnEveryEdge()
    {
        // runc's stub alone (before a filter that would answer 0xf00d for everything), made with libseccomp's resolver,
        // against the IR: where the model says ENOSYS the stub does, and elsewhere it goes on to the filter.
        var profile = Load("SCMP_ACT_TRAP", "\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"",
            """{"names":["read","openat","execveat","futex_waitv","socketpair"],"action":"SCMP_ACT_ALLOW"}""");
        var tokens = profile.Architectures.Select(LibseccompProfile.Token).ToList();
        byte[] stub = RuncEnosysStub.Build(profile, tokens)!;
        const uint Filter = 0x7fff_f00d;
        byte[] rest = new byte[8];
        new Instruction(Opcode.BPF_RET | Opcode.BPF_K, 0, 0, Filter).Write(rest);
        byte[] program = RuncEnosysStub.Prepend(stub, rest);
        int checkedCalls = 0;
        foreach (var arch in new[] { Architecture.X86_64, Architecture.X86 })
        {
            foreach (uint nr in EdgeNumbers(profile))
            {
                var data = new SeccompData(unchecked((int)nr), arch.AuditArch);
                var decision = profile.Policy.Evaluate(data);
                uint runc = ReferenceBpf.Run(program, data.ToBytes());
                bool runcSaysEnosys = runc == Enosys.Value;
                // -1 is the one number where they differ by design (x86_64's to Syscage, x32's to runc), here agreeing since x32 is covered.
                Assert.True(runcSaysEnosys == (decision.Reason == DecisionReason.Newer),
                    string.Create(CultureInfo.InvariantCulture, $"{arch.Name} nr 0x{nr:x}: runc's stub 0x{runc:x8}, Syscage {decision.Action} ({decision.Reason})"));
                checkedCalls++;
            }
        }
        Assert.True(checkedCalls > 50);
    }

    [Fact]
    public void ExplainSaysWhenRuncsStubDecides()
    {
        var profile = Load("SCMP_ACT_ERRNO", "\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X32\"", """{"names":["read","futex_waitv"],"action":"SCMP_ACT_ALLOW"}""");
        uint newest = Nr(Architecture.X86_64, "futex_waitv");
        string text = PolicyExplainer.Explain(profile.Policy, new SeccompData((int)newest + 21, Architecture.X86_64.AuditArch));
        Assert.Contains(string.Create(CultureInfo.InvariantCulture,
            $"section x86_64: nr {newest + 21} is past the newest syscall the profile names on x86_64 (futex_waitv, nr {newest})\n"), text);
        Assert.EndsWith("decision: ERRNO(38) (ENOSYS), as runc does (its ENOSYS stub, libcontainer/seccomp/patchbpf)\n", text);
        string x32 = PolicyExplainer.Explain(profile.Policy, new SeccompData(unchecked((int)(Architecture.X32.SyscallNumberBit + 1000)), Architecture.X86_64.AuditArch));
        Assert.Contains("nr 1073742824 (0x400003e8) is past the newest syscall the profile names on x32 (futex_waitv, nr ", x32);
        // Below the newest, the rules and the default as ever.
        Assert.EndsWith("(the default action: no rule names this syscall)\n", PolicyExplainer.Explain(profile.Policy, "kexec_load", []));
    }

    private static IEnumerable<uint> EdgeNumbers(OciProfile profile)
    {
        var numbers = new SortedSet<uint> { 0, 1, 0x3fff_ffff, 0x4000_0000, 0x7fff_ffff, 0x8000_0000, 0xbfff_ffff, 0xc000_0000, 0xffff_fffe, 0xffff_ffff };
        foreach (uint n in profile.Policy.Newer!.Newest.Values)
            foreach (uint d in (uint[])[0, 1, 2])
            {
                numbers.Add(n + d);
                numbers.Add(n - d);
                numbers.Add((n ^ Architecture.X32.SyscallNumberBit) + d);
            }
        return numbers;
    }
}
