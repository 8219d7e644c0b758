using Syscage.Bpf;
using Syscage.Policy;
using Syscage.Policy.Oci;
using Syscage.Abi;
using Syscage.Testing;

namespace Syscage.Policy.Oci.Tests;

public class OciProfileLoaderTests
{
    private static readonly string DockerDefault = Path.Combine(NativeProbe.RepositoryRoot, "samples", "profiles", "docker-default.json");

    private static readonly OciOptions Host = new() { NativeArchitecture = Architecture.X86_64, KernelVersion = "6.1.0-13-amd64" };

    private const uint CLONE_NEWUSER = 0x10000000, CLONE_NEWNS = 0x00020000, CLONE_VM = 0x100, SIGCHLD = 17;

    private static SeccompAction Verdict(OciProfile profile, Architecture arch, string syscall, params ulong[] args)
    {
        Assert.True(arch.Syscalls.TryGetNumber(syscall, out int nr), syscall);
        return profile.Policy.Evaluate(new SeccompData(nr, arch.AuditArch, 0, args)).Action;
    }

    [Fact]
    public void DockerDefaultLoadsWithDockerCapabilitiesAndCoversX86Family()
    {
        var p = OciProfileLoader.Load(DockerDefault, Host);
        Assert.Equal([Architecture.X86_64, Architecture.X86, Architecture.X32], p.Architectures);
        Assert.Equal(SeccompAction.Errno(1), p.Policy.DefaultAction);
        Assert.Equal(SeccompAction.KillThread, p.Policy.BadArchAction);
        // Every name of the profile is in the tables (Linux 7.1): cachestat, fchmodat2, futex_wake, mseal, uretprobe ...
        // loaded without a warning (with Linux 6.1's tables there were 17 unknown-name warnings).
        Assert.Empty(p.Warnings);
        Assert.Equal(SeccompAction.Allow, Verdict(p, Architecture.X86_64, "cachestat"));
        Assert.Equal(SeccompAction.Allow, Verdict(p, Architecture.X86_64, "uretprobe"));
        Assert.Equal(SeccompAction.Allow, Verdict(p, Architecture.X86, "mseal"));
    }

    [Fact]
    public void DockerDefaultVerdicts()
    {
        var p = OciProfileLoader.Load(DockerDefault, Host);
        var eperm = SeccompAction.Errno(1);
        var x64 = Architecture.X86_64;
        Assert.Equal(SeccompAction.Allow, Verdict(p, x64, "read"));
        Assert.Equal(SeccompAction.Allow, Verdict(p, Architecture.X86, "read"));
        Assert.Equal(SeccompAction.Allow, Verdict(p, Architecture.X32, "read"));
        Assert.Equal(SeccompAction.Allow, Verdict(p, x64, "arch_prctl"));
        Assert.Equal(eperm, Verdict(p, x64, "mount"));
        Assert.Equal(eperm, Verdict(p, x64, "kexec_load"));
        // socket: any family but AF_VSOCK (40).
        Assert.Equal(SeccompAction.Allow, Verdict(p, x64, "socket", 2));
        Assert.Equal(SeccompAction.Allow, Verdict(p, x64, "socket", 39));
        Assert.Equal(eperm, Verdict(p, x64, "socket", 40));
        Assert.Equal(SeccompAction.Allow, Verdict(p, x64, "socket", 41));
        // personality: only the listed personas.
        Assert.Equal(SeccompAction.Allow, Verdict(p, x64, "personality", 0));
        Assert.Equal(SeccompAction.Allow, Verdict(p, x64, "personality", 0xffffffff));
        Assert.Equal(eperm, Verdict(p, x64, "personality", 4));
        // clone without CAP_SYS_ADMIN: no namespace flags.
        Assert.Equal(SeccompAction.Allow, Verdict(p, x64, "clone", CLONE_VM | SIGCHLD));
        Assert.Equal(eperm, Verdict(p, x64, "clone", CLONE_NEWUSER | SIGCHLD));
        Assert.Equal(eperm, Verdict(p, x64, "clone", CLONE_NEWNS));
        // clone3 can't be inspected: ENOSYS so that libc falls back to clone.
        Assert.Equal(SeccompAction.Errno(38), Verdict(p, x64, "clone3"));
        // minKernel 4.8 holds on 6.1.
        Assert.Equal(SeccompAction.Allow, Verdict(p, x64, "ptrace"));
        // Not in the default capability set.
        Assert.Equal(eperm, Verdict(p, x64, "reboot"));
        Assert.Equal(SeccompAction.Allow, Verdict(p, x64, "chroot"));
        // Another architecture: libseccomp's default bad-arch action.
        Assert.Equal(SeccompAction.KillThread, p.Policy.Evaluate(new SeccompData(63, Architecture.Aarch64.AuditArch)).Action);
    }

    [Fact]
    public void CapabilitiesAndKernelVersionAreOptions()
    {
        var admin = OciProfileLoader.Load(DockerDefault, Host with { Capabilities = new HashSet<string>(OciOptions.DockerDefaultCapabilities) { "CAP_SYS_ADMIN" } });
        Assert.Equal(SeccompAction.Allow, Verdict(admin, Architecture.X86_64, "mount"));
        Assert.Equal(SeccompAction.Allow, Verdict(admin, Architecture.X86_64, "clone3"));
        Assert.Equal(SeccompAction.Allow, Verdict(admin, Architecture.X86_64, "clone", CLONE_NEWUSER));

        var old = OciProfileLoader.Load(DockerDefault, Host with { KernelVersion = "4.4.0-210-generic" });
        Assert.Equal(SeccompAction.Errno(1), Verdict(old, Architecture.X86_64, "ptrace"));
    }

    [Fact]
    public void ArchMapFollowsTheNativeArchitecture()
    {
        var p = OciProfileLoader.Load(DockerDefault, Host with { NativeArchitecture = Architecture.Aarch64 });
        // Docker's archMap entry for SCMP_ARCH_AARCH64 adds SCMP_ARCH_ARM; arm's private calls are in its table.
        Assert.Equal([Architecture.Aarch64, Architecture.Arm], p.Architectures);
        Assert.Empty(p.Warnings);
        Assert.Equal(SeccompAction.Allow, Verdict(p, Architecture.Aarch64, "read"));
        Assert.Equal(SeccompAction.Allow, Verdict(p, Architecture.Arm, "read"));
        Assert.Equal(SeccompAction.Allow, Verdict(p, Architecture.Arm, "set_tls"));
        var s390x = OciProfileLoader.Load(DockerDefault, Host with { NativeArchitecture = Architecture.S390x });
        Assert.Equal([Architecture.S390x, Architecture.S390], s390x.Architectures);
        var mips = OciProfileLoader.Load(DockerDefault, Host with { NativeArchitecture = Architecture.Mipsel64 });
        Assert.Equal([Architecture.Mipsel64, Architecture.Mipsel, Architecture.Mipsel64N32], mips.Architectures);
    }

    [Fact]
    public void NativeArchitectureIsAlwaysCovered()
    {
        var p = OciProfileLoader.Parse("""{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"]}""", Host);
        Assert.Equal([Architecture.X86_64, Architecture.X86], p.Architectures);
    }

    [Fact]
    public void EntriesWithTheDefaultActionAreSkippedAsRuncDoes()
    {
        // The ERRNO(1) entry equals the default, so runc never adds it and read(0) is allowed by the second one.
        var p = OciProfileLoader.Parse("""
            {"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
              {"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]},
              {"names":["read"],"action":"SCMP_ACT_ALLOW"}]}
            """, Host);
        Assert.Equal(SeccompAction.Allow, Verdict(p, Architecture.X86_64, "read", 0));
    }

    [Fact]
    public void TheFirstUnconditionalRuleWinsAsInLibseccomp()
    {
        var p = OciProfileLoader.Parse("""
            {"defaultAction":"SCMP_ACT_KILL","syscalls":[
              {"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]},
              {"names":["read"],"action":"SCMP_ACT_ERRNO","errnoRet":5},
              {"names":["read"],"action":"SCMP_ACT_LOG"}]}
            """, Host);
        Assert.Equal(SeccompAction.Errno(5), Verdict(p, Architecture.X86_64, "read", 0));
        Assert.Equal(SeccompAction.Errno(5), Verdict(p, Architecture.X86_64, "read", 1));
        // A zero mask checks nothing: libseccomp makes it unconditional too.
        var q = OciProfileLoader.Parse("""
            {"defaultAction":"SCMP_ACT_KILL","syscalls":[
              {"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]},
              {"names":["read"],"action":"SCMP_ACT_LOG","args":[{"index":1,"value":0,"valueTwo":7,"op":"SCMP_CMP_MASKED_EQ"}]}]}
            """, Host);
        Assert.Equal(SeccompAction.Log, Verdict(q, Architecture.X86_64, "read", 1));
    }

    [Fact]
    public void EntriesLibseccompLoopsOnAreAWarningAndKeepProfileOrder()
    {
        // libseccomp 2.5.4 never returns from adding the second entry (its lists become circular; seen with
        // python3-seccomp, docs/libseccomp-differences.md): runc would hang. The entries cannot both match a call.
        var p = OciProfileLoader.Parse("""
            {"defaultAction":"SCMP_ACT_LOG","syscalls":[
              {"names":["mmap"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2,"op":"SCMP_CMP_GT"},{"index":1,"value":3195714939401585549,"op":"SCMP_CMP_GE"}]},
              {"names":["mmap"],"action":"SCMP_ACT_ERRNO","errnoRet":1,"args":[
                {"index":0,"value":2,"op":"SCMP_CMP_GT"},{"index":1,"value":4294967301,"op":"SCMP_CMP_LE"},{"index":2,"value":1,"op":"SCMP_CMP_LT"}]}]}
            """, Host);
        var warning = Assert.Single(p.Warnings);
        Assert.Contains("the entries for mmap on x86_64 cannot be put in libseccomp's order", warning.Message, StringComparison.Ordinal);
        Assert.Contains("runc would hang", warning.Message, StringComparison.Ordinal);
        Assert.Equal(SeccompAction.Errno(1), Verdict(p, Architecture.X86_64, "mmap", 3, 5, 0));
        Assert.Equal(SeccompAction.Allow, Verdict(p, Architecture.X86_64, "mmap", 3, ulong.MaxValue, 0));
        Assert.Equal(SeccompAction.Log, Verdict(p, Architecture.X86_64, "mmap", 2, 5, 0));
    }

    [Fact]
    public void OverlappingEntriesAreTriedInLibseccompsOrderAndSaidAsWritten()
    {
        // Profile order would let 'count > 128' decide every read past 128; libseccomp's tree tries the larger
        // threshold first, and so does the IR, each rule written as its entry wrote it.
        var p = OciProfileLoader.Parse("""
            {"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
              {"names":["read"],"action":"SCMP_ACT_ERRNO","errnoRet":5,"args":[{"index":2,"value":128,"op":"SCMP_CMP_GT"}]},
              {"names":["read"],"action":"SCMP_ACT_KILL","args":[{"index":2,"value":4096,"op":"SCMP_CMP_GT"}]},
              {"names":["read"],"action":"SCMP_ACT_LOG","args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]}]}
            """, Host);
        Assert.Empty(p.Warnings);
        var rules = p.Policy.Sections.Single(s => s.Architecture == Architecture.X86_64).RulesFor(0);
        Assert.Equal(["arg2 > 0x1000 => KILL_THREAD at syscalls[1]", "arg2 > 0x80 => ERRNO(5) at syscalls[0]", "arg0.lo32 == 0 => LOG at syscalls[2]"],
            rules.Select(r => $"{r.Condition} => {r.Action} at {r.Source?.Text}"));
        Assert.Equal(SeccompAction.KillThread, Verdict(p, Architecture.X86_64, "read", 0, 0, 5000));   // arg2 comes before arg0
        Assert.Equal(SeccompAction.Errno(5), Verdict(p, Architecture.X86_64, "read", 1, 0, 200));
        Assert.Equal(SeccompAction.Log, Verdict(p, Architecture.X86_64, "read", 0, 0, 5));
    }

    [Fact]
    public void MoreOverlappingRulesThanSyscageOrdersStayInProfileOrderWithAWarning()
    {
        // 300 thresholds on read's count, alternating actions: past LibseccompOrder.MaxRules the loader does not build
        // libseccomp's tree (a bound on time) and says so; 200 are put in libseccomp's order, larger threshold first.
        string Profile(int count) => "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[" + string.Join(",", Enumerable.Range(1, count).Select(i =>
            $$"""{"names":["read"],"action":"SCMP_ACT_ERRNO","errnoRet":{{1 + i % 2}},"args":[{"index":2,"value":{{i}},"op":"SCMP_CMP_GT"}]}""")) + "]}";
        var many = OciProfileLoader.Parse(Profile(300), Host);
        Assert.Contains(many.Warnings, w => w.Message.Contains("300 rules for read on x86_64", StringComparison.Ordinal));
        Assert.Equal(SeccompAction.Errno(2), Verdict(many, Architecture.X86_64, "read", 0, 0, 250));   // 'count > 1' first
        var fewer = OciProfileLoader.Parse(Profile(200), Host);
        Assert.Empty(fewer.Warnings);
        Assert.Equal(SeccompAction.Errno(1), Verdict(fewer, Architecture.X86_64, "read", 0, 0, 250));  // 'count > 200' first
    }

    [Fact]
    public void ArgsOnTheSameIndexAreOredAsRuncDoes()
    {
        var p = OciProfileLoader.Parse("""
            {"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
              {"names":["read"],"action":"SCMP_ACT_ALLOW","args":[
                {"index":0,"value":10,"op":"SCMP_CMP_GT"},{"index":0,"value":3,"op":"SCMP_CMP_LT"}]},
              {"names":["write"],"action":"SCMP_ACT_ALLOW","args":[
                {"index":0,"value":10,"op":"SCMP_CMP_GT"},{"index":1,"value":3,"op":"SCMP_CMP_LT"}]}]}
            """, Host);
        Assert.Equal(SeccompAction.Allow, Verdict(p, Architecture.X86_64, "read", 1));
        Assert.Equal(SeccompAction.Allow, Verdict(p, Architecture.X86_64, "read", 11));
        Assert.Equal(SeccompAction.Errno(1), Verdict(p, Architecture.X86_64, "read", 5));
        Assert.Equal(SeccompAction.Allow, Verdict(p, Architecture.X86_64, "write", 11, 2));
        Assert.Equal(SeccompAction.Errno(1), Verdict(p, Architecture.X86_64, "write", 11, 3));
    }

    [Fact]
    public void MaskedEqTakesTheMaskInValueAndTheDatumInValueTwo()
    {
        var p = OciProfileLoader.Parse("""
            {"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
              {"names":["open"],"action":"SCMP_ACT_ALLOW","args":[{"index":1,"value":3,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]}]}
            """, Host);
        Assert.Equal(SeccompAction.Allow, Verdict(p, Architecture.X86_64, "open", 0, 0x40));   // O_RDONLY|O_CREAT
        Assert.Equal(SeccompAction.Errno(1), Verdict(p, Architecture.X86_64, "open", 0, 2));   // O_RDWR
    }

    [Fact]
    public void ActionsAndErrnoDefaultsFollowRunc()
    {
        var p = OciProfileLoader.Parse("""
            {"defaultAction":"SCMP_ACT_TRACE","syscalls":[
              {"names":["read"],"action":"SCMP_ACT_KILL"},
              {"names":["write"],"action":"SCMP_ACT_ERRNO"},
              {"names":["open"],"action":"SCMP_ACT_TRACE","errnoRet":7},
              {"names":["close"],"action":"SCMP_ACT_NOTIFY"},
              {"names":["stat"],"action":"SCMP_ACT_TRAP"}],
             "listenerPath":"/run/agent.sock","listenerMetadata":"meta","flags":["SECCOMP_FILTER_FLAG_LOG"]}
            """, Host);
        Assert.Equal(SeccompAction.Trace(1), p.Policy.DefaultAction);
        Assert.Equal(SeccompAction.KillThread, Verdict(p, Architecture.X86_64, "read"));
        Assert.Equal(SeccompAction.Errno(1), Verdict(p, Architecture.X86_64, "write"));
        Assert.Equal(SeccompAction.Trace(7), Verdict(p, Architecture.X86_64, "open"));
        Assert.Equal(SeccompAction.UserNotif, Verdict(p, Architecture.X86_64, "close"));
        Assert.Equal(SeccompAction.Trap(0), Verdict(p, Architecture.X86_64, "stat"));
        Assert.Equal("/run/agent.sock", p.ListenerPath);
        Assert.Equal("meta", p.ListenerMetadata);
        Assert.Equal(["SECCOMP_FILTER_FLAG_LOG"], p.Flags);
    }

    [Fact]
    public void NameKnownOnlyOnAnotherArchitectureIsSkippedThere()
    {
        var p = OciProfileLoader.Parse("""
            {"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86"],"syscalls":[{"names":["chown32","read"],"action":"SCMP_ACT_ALLOW"}]}
            """, Host);
        Assert.Equal(SeccompAction.Allow, Verdict(p, Architecture.X86, "chown32"));
        Assert.Empty(p.Warnings);
    }

    public static TheoryData<string, string> BadProfiles => new()
    {
        { """{"defaultAction":"SCMP_ACT_ERNO"}""", "profile.json:1:18: defaultAction: unknown action 'SCMP_ACT_ERNO' (did you mean SCMP_ACT_ERRNO?)" },
        { "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\n \"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\",\n  \"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_EQQ\"}]}]}",
          "profile.json:3:37: syscalls[0].args[0].op: unknown operator 'SCMP_CMP_EQQ' (did you mean SCMP_CMP_EQ?)" },
        { """{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":6,"op":"SCMP_CMP_EQ"}]}]}""",
          "profile.json:1:108: syscalls[0].args[0].index: argument index 6 is out of range: a syscall has arguments 0..5" },
        { """{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":-1,"op":"SCMP_CMP_EQ"}]}]}""",
          "syscalls[0].args[0].value: -1 is not an unsigned 64-bit integer" },
        { """{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_46"]}""", "architectures[0]: unknown architecture 'SCMP_ARCH_X86_46' (did you mean SCMP_ARCH_X86_64?)" },
        { """{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86"],"archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}""", "archMap: 'architectures' and 'archMap' were both given" },
        { """{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"name":"read","names":["write"],"action":"SCMP_ACT_ALLOW"}]}""", "syscalls[0].name: 'name' and 'names' were both given" },
        { """{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"]}]}""", "syscalls[0]: missing: 'action'" },
        { """{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["write"],"action":"SCMP_ACT_NOTIFY"}]}""", "SCMP_ACT_NOTIFY cannot be used for write" },
        { """{"defaultAction":"SCMP_ACT_ERRNO","flags":["SECCOMP_FILTER_FLAG_LGO"]}""", "flags[0]: unknown seccomp flag 'SECCOMP_FILTER_FLAG_LGO' (did you mean SECCOMP_FILTER_FLAG_LOG?)" },
        { """{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":70000}""", "defaultErrnoRet: 70000 does not fit" },
        { "{\"defaultAction\":", "profile.json:1:" },
        // includes and excludes are read before the names: their errors stop the load, whether or not the entry applies.
        { """{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","excludes":{"minKernel":"four"}}]}""",
          "syscalls[0].excludes.minKernel: 'four' is not a kernel version" },
        { """{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"caps":"CAP_SYS_ADMIN"}}]}""",
          "syscalls[0].includes.caps: expected an array, found the string \"CAP_SYS_ADMIN\"" },
        // Of several errors the first met is reported.
        { """{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALOW"},{"names":["write"]}]}""",
          "profile.json:1:74: syscalls[0].action: unknown action 'SCMP_ACT_ALOW' (did you mean SCMP_ACT_ALLOW?)" },
        { """{"defaultErrnoRet":-1,"defaultAction":"SCMP_ACT_ERNO"}""", "defaultErrnoRet: -1 is not an unsigned 64-bit integer" },
    };

    [Theory]
    [MemberData(nameof(BadProfiles))]
    public void ErrorsSayWhereAndHint(string json, string expected)
    {
        var e = Assert.Throws<OciProfileException>(() => OciProfileLoader.Parse(json, Host));
        Assert.True(e.Message.Contains(expected, StringComparison.Ordinal), e.Message);
        Assert.False(OciProfileLoader.TryParse(json, Host, out _, out string? error));
        Assert.Equal(e.Message, error);
    }

    [Fact]
    public void MisspeltNamesAndFieldsAreWarningsWithHints()
    {
        var p = OciProfileLoader.Parse("""
            {"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["raed"],"action":"SCMP_ACT_ALLOW","errnoret":3,"arg":[]}]}
            """, Host);
        Assert.Contains(p.Warnings, w => w.Path == "syscalls[0].names[0]" && w.Message.Contains("did you mean read?", StringComparison.Ordinal));
        Assert.Contains(p.Warnings, w => w.Path == "syscalls[0].arg" && w.Message.Contains("did you mean args?", StringComparison.Ordinal));
        // Go matches field names ignoring case: errnoret is errnoRet (and ignored for ALLOW, with a warning).
        Assert.Contains(p.Warnings, w => w.Path == "syscalls[0].errnoRet");
    }
}
