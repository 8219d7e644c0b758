using System.Globalization;
using Syscage.Bpf;
using Syscage.Ebpf;
using Syscage.Ebpf.Elf;
using Syscage.Ebpf.Helpers;
using Syscage.Ebpf.Isa;
using Syscage.Ebpf.Verifier;
using Ops = Syscage.Ebpf.Isa.EbpfOpcode;
using Syscage.Policy;
using Syscage.Policy.Language;
using Syscage.Abi;
using Syscage.Supervision;
using Syscage.Ebpf.Seccomp;

namespace Syscage.EbpfLoader.Tests;

/// <summary>
/// The hybrid split must not change a single verdict: each program runs directly in the VM and through the hybrid path
/// (the compiled classic BPF, and the VM in the "supervisor" only where the filter says USER_NOTIF), with separate maps,
/// over boundary and random <c>seccomp_data</c> on every architecture; the verdict sequences must be equal.
/// </summary>
public class HybridSplitTests
{
    /// <summary>
    /// Little- and big-endian, 64- and 32-bit ABIs (the classic half reads a big-endian ABI's argument halves the other
    /// way round; the program sees its context little-endian), and foreign values.
    /// </summary>
    private static readonly uint[] Arches = [Architecture.X86_64.AuditArch, Architecture.X86.AuditArch, Architecture.Aarch64.AuditArch,
        Architecture.Arm.AuditArch, Architecture.Riscv64.AuditArch, Architecture.S390x.AuditArch, Architecture.Ppc.AuditArch,
        Architecture.Mips64N32.AuditArch, 0x4000_0003, 0, 0xffff_ffff];

    /// <summary>A task whose helpers answer deterministically: the same on both sides of the differential.</summary>
    private sealed class Task(int pid, uint uid) : IBpfTask
    {
        public int Pid => pid;
        public int Tgid => pid;
        public uint Uid => uid;
        public uint Gid => uid;
        public string Comm => "hybrid-test";
        public bool MayReadMemory => true;
        public object Identity => pid;

        public int ReadMemory(ulong address, Span<byte> destination)
        {
            // "Memory" is a function of the address, ending in NUL after a few bytes: enough for probe_read_user_str.
            for (int i = 0; i < destination.Length; i++)
                destination[i] = (byte)((address + (ulong)i) % 7 == 0 ? 0 : 'a' + (int)((address + (ulong)i) % 26));
            return 0;
        }
    }

    private static EbpfFilterSet Load(byte[] elf, IReadOnlyDictionary<string, ulong>? knobs = null, string? policy = null, params string[] names)
    {
        var programs = new List<SeccompEbpfProgram>();
        var obj = EbpfObject.Load(elf);
        foreach (var p in obj.Programs)
        {
            var o = EbpfObject.Load(elf);
            foreach (var (k, v) in knobs ?? new Dictionary<string, ulong>())
                o.SetGlobal(k, v);
            programs.Add(SeccompEbpfProgram.FromVerified(o.Verify(o.GetProgram(p.Name)), names.Length > programs.Count ? names[programs.Count] : null));
        }
        return new EbpfFilterSet(programs, policy is null ? null : RouteToPrograms(PolicyLanguage.Parse(policy, "test.policy")));
    }

    /// <summary>NOTIFY(name) rules become EBPF(name) rules (the IR form: a program route).</summary>
    private static SeccompPolicy RouteToPrograms(SeccompPolicy p) => new(p.DefaultAction, p.BadArchAction,
        p.Sections.Select(s => new ArchitecturePolicy(s.Architecture, s.Syscalls.ToDictionary(kv => kv.Key,
            kv => (IReadOnlyList<Rule>)[.. kv.Value.Select(r => r.Handler is { } h && h != "log" ? r with { Route = RuleRoute.Program(h) } : r)]))), p.Name)
        { Newer = p.Newer };

    /// <summary>Inputs: every architecture, table numbers and edges, argument edges and random values.</summary>
    private static IEnumerable<SeccompData> Inputs(int seed, int randomCount, IEnumerable<ulong> interesting)
    {
        var rng = new Random(seed);
        ulong[] edges = [0, 1, 2, 3, 0x7f, 0x80, 0xff, 0x100, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0x1_0000_0000, 0x7fff_ffff_ffff_ffff,
            0x8000_0000_0000_0000, ulong.MaxValue, ulong.MaxValue - 1, .. interesting.SelectMany(v => new[] { v - 1, v, v + 1 })];
        ulong Arg() => rng.Next(3) switch
        {
            0 => edges[rng.Next(edges.Length)],
            1 => (ulong)rng.NextInt64() ^ ((ulong)rng.Next() << 33),
            _ => (ulong)rng.Next(0, 64),
        };
        int[] extraNrs = [-1, 0x4000_0000, 0x3fff_ffff, 0x7fff_ffff, int.MinValue, unchecked((int)0xbfff_ffff), unchecked((int)0xc000_0000), 1000, 500, 451];
        foreach (uint arch in Arches)
        {
            var a = Architecture.FromAuditArch(arch);
            var nrs = (a?.Syscalls.All.Select(s => s.Number) ?? []).Concat(extraNrs)
                .Concat(arch == Architecture.X86_64.AuditArch ? Architecture.X32.Syscalls.All.Select(s => s.Number) : [])
                .Concat(interesting.Select(v => (int)(uint)v)).Distinct().ToList();
            foreach (int nr in nrs)
            {
                // One call with edge arguments, one random, per number.
                for (int k = 0; k < 2; k++)
                {
                    var args = new ulong[6];
                    // Whole registers on a 32-bit ABI too: the kernel does not cut them (a 64-bit process can make an
                    // i386 call with int 0x80); the program, like the classic half, sees what the syscall sees.
                    for (int i = 0; i < 6; i++)
                        args[i] = Arg();
                    yield return new SeccompData(nr, arch, (ulong)rng.NextInt64(), args);
                }
            }
        }
        for (int i = 0; i < randomCount; i++)
        {
            uint arch = rng.Next(4) == 0 ? (uint)rng.Next() : Arches[rng.Next(Arches.Length)];
            var args = new ulong[6];
            for (int j = 0; j < 6; j++)
                args[j] = Arg();
            yield return new SeccompData(rng.Next(3) == 0 ? rng.Next() : rng.Next(-2, 600), arch, (ulong)rng.NextInt64(), args);
        }
    }

    /// <summary>Runs the differential; returns how many calls reached the "supervisor".</summary>
    private static (int Notified, int Total, HybridFilter Filter) Differential(Func<EbpfFilterSet> load, int seed = 1, int random = 3000, IEnumerable<ulong>? interesting = null, bool optimize = true, HybridOptions? options = null)
    {
        using var direct = load();
        using var hybrid = load();
        var filter = hybrid.Compile((options ?? new HybridOptions()) with { Optimize = optimize });
        var helpers = new HelperContext(new Task(4242, 1000));
        int notified = 0, total = 0;
        foreach (var data in Inputs(seed, random, interesting ?? []))
        {
            total++;
            var (expected, got, kernel) = BothWays(direct, hybrid, filter, data, helpers);
            if (new SeccompAction(kernel).Kind == SeccompActionKind.UserNotif)
                notified++;
            Assert.True(new SeccompAction(expected).Effective == new SeccompAction(got).Effective,
                $"{Describe(data)}: direct {new SeccompAction(expected)}, hybrid {new SeccompAction(got)} (kernel said {new SeccompAction(kernel)})\n" +
                $"{filter.Policy.Sections.FirstOrDefault()?.Syscalls.GetValueOrDefault(data.Nr)?.FirstOrDefault()}");
        }
        return (notified, total, filter);
    }

    /// <summary>
    /// One call both ways: the verdict of the programs run directly, and the hybrid's (the classic filter's, or the
    /// programs' in the "supervisor" where the filter says USER_NOTIF), with what the filter said. The kernel treats an
    /// unknown action as KILL_PROCESS, so callers compare what takes effect.
    /// </summary>
    internal static (uint Expected, uint Got, uint Kernel) BothWays(EbpfFilterSet direct, EbpfFilterSet hybrid, HybridFilter filter, in SeccompData data, HelperContext helpers)
    {
        uint expected = direct.Decide(data, helpers);
        uint kernel = Interpreter.Run(filter.Filter, data).ReturnValue;
        uint got = new SeccompAction(kernel).Kind == SeccompActionKind.UserNotif ? hybrid.Decide(data, helpers) : kernel;
        return (expected, got, kernel);
    }

    /// <summary>A call, for failure messages.</summary>
    internal static string Describe(SeccompData data) => string.Create(CultureInfo.InvariantCulture,
        $"nr={data.Nr} arch=0x{data.Arch:x} args=[{string.Join(", ", Enumerable.Range(0, 6).Select(i => "0x" + data.Arg(i).ToString("x", CultureInfo.InvariantCulture)))}]");

    public static TheoryData<string> Samples => [.. Clang.SampleNames];

    [Theory]
    [MemberData(nameof(Samples))]
    public void EverySample_HybridAgreesWithTheVm(string sample)
    {
        var (notified, total, _) = Differential(() => Load(Clang.Sample(sample)));
        Assert.True(total > 1000);
        if (sample is not ("syscall_count" or "syscall_policy")) // they count every call (and look every verdict up): all need the supervisor
            Assert.True(notified < total / 2, $"{sample}: {notified} of {total} calls went to the supervisor");
    }

    /// <summary>
    /// With sections for this machine's ABIs only (what a sandboxed run compiles), every other architecture shares one
    /// verdict: still the programs' on every input of every architecture, the foreign ones included.
    /// </summary>
    [Theory]
    [MemberData(nameof(Samples))]
    public void EverySample_ThisMachinesSections_AgreeWithTheVm(string sample)
    {
        var (_, _, filter) = Differential(() => Load(Clang.Sample(sample)), random: 1500, options: HybridOptions.ThisMachine);
        Assert.All(filter.Policy.Sections, s => Assert.Contains(s.Architecture, PolicyBuilder.DefaultArchitectures));
    }

    [Fact]
    public void PureFilter_IsEntirelyClassicBpf()
    {
        var (notified, _, filter) = Differential(() => Load(Clang.Sample("pure_filter")));
        Assert.Equal(0, notified);
        Assert.False(filter.NeedsSupervisor);
        // The program gives every architecture it does not test for one verdict: no supervisor with fewer sections either.
        var (notifiedHere, _, here) = Differential(() => Load(Clang.Sample("pure_filter")), options: HybridOptions.ThisMachine);
        Assert.Equal(0, notifiedHere);
        Assert.False(here.NeedsSupervisor);
        Assert.True(here.Filter.Length <= filter.Filter.Length, $"{here.Filter.Length} instructions with this machine's sections, {filter.Filter.Length} with all");
    }

    /// <summary>
    /// A program with a verdict of its own for an architecture that gets no section: that architecture can't take the
    /// verdict of the others, so every architecture without a section goes to the supervisor, which decides as the program.
    /// </summary>
    [Fact]
    public void ForeignArchitectureTestedByTheProgram_GoesToTheSupervisor()
    {
        var elf = Clang.Compile(Prelude + $"SEC(\"seccomp\") int arm_open(struct seccomp_data *ctx) {{ if (ctx->arch == {Architecture.Arm.AuditArch}u) return SECCOMP_RET_ALLOW; if (ctx->arch == {Architecture.X86_64.AuditArch}u || ctx->arch == {Architecture.X86.AuditArch}u) return ctx->nr == 39 ? SECCOMP_RET_ERRNO | 1 : SECCOMP_RET_ALLOW; return SECCOMP_RET_KILL_PROCESS; }}\n");
        var x86Only = new HybridOptions { Architectures = [Architecture.X86_64, Architecture.X86] };
        var (_, _, filter) = Differential(() => Load(elf), interesting: [39, Architecture.Arm.AuditArch], options: x86Only);
        Assert.Equal(new HashSet<Architecture> { Architecture.X86_64, Architecture.X86, Architecture.X32 }, filter.Policy.Sections.Select(s => s.Architecture).ToHashSet());
        Assert.Equal(SeccompAction.UserNotif, filter.Policy.BadArchAction);
        Assert.Equal(SeccompAction.UserNotif, Interpreter.Run(filter.Filter, new SeccompData(39, Architecture.Arm.AuditArch)).Action);
        Assert.Equal(SeccompAction.Errno(1), Interpreter.Run(filter.Filter, new SeccompData(39, Architecture.X86_64.AuditArch)).Action);
        // Every section: the arm verdict is the kernel's alone.
        using var set = Load(elf);
        var all = set.Compile();
        Assert.Equal(SeccompAction.Allow, Interpreter.Run(all.Filter, new SeccompData(39, Architecture.Arm.AuditArch)).Action);
    }

    [Fact]
    public void FaultInjection_OnlyTheTargetSyscallReachesTheSupervisor()
    {
        var knobs = new Dictionary<string, ulong> { ["target_nr"] = 257, ["nth"] = 3, ["error"] = 2 };
        var (_, _, filter) = Differential(() => Load(Clang.Sample("fault_inject"), knobs));
        var x64 = filter.Report.Single(r => r.Architecture == Architecture.X86_64);
        Assert.Equal(["openat"], x64.Supervised);
        Assert.Contains("getppid", x64.InKernel);
        Assert.Equal(SeccompAction.Allow, Interpreter.Run(filter.Filter, new SeccompData(110, Architecture.X86_64.AuditArch)).Action);
        Assert.Equal(SeccompAction.UserNotif, Interpreter.Run(filter.Filter, new SeccompData(257, Architecture.X86_64.AuditArch)).Action);
    }

    [Fact]
    public void ExecOnce_OnlyExecReachesTheSupervisor()
    {
        var (_, _, filter) = Differential(() => Load(Clang.Sample("exec_once")));
        var x64 = filter.Report.Single(r => r.Architecture == Architecture.X86_64);
        Assert.Equal(["execve", "execveat"], x64.Supervised.Order());
        Assert.Empty(x64.Mixed);
    }

    [Fact]
    public void UnoptimisedFilter_AgreesToo()
    {
        Differential(() => Load(Clang.Sample("pure_filter")), optimize: false, random: 500);
        Differential(() => Load(Clang.Sample("uid_rule")), optimize: false, random: 500);
    }

    private const string Prelude = """
        #include "common.h"
        struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 64); __type(key, __u32); __type(value, __u64); } counts SEC(".maps");
        const volatile __u64 knob = 7;
        char LICENSE[] SEC("license") = "GPL";

        """;

    /// <summary>Shapes of argument tests clang emits: 64-bit, 32-bit, signed, masks, shifts, bit tests, ranges, subprograms.</summary>
    /// <summary>Each with whether every x86_64 call must be decided in the kernel (false: some or all need the VM).</summary>
    public static TheoryData<string, bool> ArgumentPrograms => new()
    {
        { "if (ctx->args[0] == 0x1234567890ULL) return SECCOMP_RET_ERRNO | 1; return SECCOMP_RET_ALLOW;", true },
        { "if ((int)ctx->args[1] < -5) return SECCOMP_RET_ERRNO | 2; if ((int)ctx->args[1] > 100) return SECCOMP_RET_TRAP | 3; return SECCOMP_RET_ALLOW;", false },
        { "if ((long)ctx->args[2] >= -1 && (long)ctx->args[2] <= 1) return SECCOMP_RET_LOG; return SECCOMP_RET_ERRNO | 4;", true },
        { "if (ctx->args[1] >= 10 && ctx->args[1] <= 20) return SECCOMP_RET_ERRNO | 23; if ((__u32)ctx->args[2] + 7 == 3) return SECCOMP_RET_ERRNO | 24; return SECCOMP_RET_ALLOW;", true },
        { "if (ctx->nr >= 200 && ctx->nr <= 260 && ctx->args[0] == 1) return SECCOMP_RET_ERRNO | 25; return SECCOMP_RET_ALLOW;", true },
        // 2^14 paths: more than the explorer follows; the calls go to the supervisor, and the split stays quick.
        { "__u64 acc = 0; for (int i = 0; i < 14; i++) { if (ctx->args[i & 3] & (1ULL << i)) acc += i; else acc ^= i; } return acc == 77 ? SECCOMP_RET_ERRNO | 26 : SECCOMP_RET_ALLOW;", false },
        { "if (ctx->args[3] & 0x40) return SECCOMP_RET_ERRNO | 5; if ((ctx->args[3] & 0xf00) == 0x300) return SECCOMP_RET_KILL_THREAD; return SECCOMP_RET_ALLOW;", true },
        { "if ((ctx->args[4] >> 32) == 0xdead) return SECCOMP_RET_ERRNO | 6; if ((ctx->args[4] >> 40) > 3) return SECCOMP_RET_ERRNO | 7; return SECCOMP_RET_ALLOW;", true },
        { "__u32 lo = ctx->args[5]; if (lo == 0xffffffff) return SECCOMP_RET_ERRNO | 8; if (ctx->args[5] < 0x100000000ULL) return SECCOMP_RET_ALLOW; return SECCOMP_RET_KILL_PROCESS;", true },
        { "if (ctx->nr == knob) return SECCOMP_RET_ERRNO | 9; if (ctx->nr > 400 && ctx->nr < 420) return SECCOMP_RET_ERRNO | 10; return SECCOMP_RET_ALLOW;", true },
        { "if (ctx->arch == AUDIT_ARCH_I386 && ctx->args[0] > 3) return SECCOMP_RET_ERRNO | 11; if (ctx->arch != AUDIT_ARCH_X86_64) return SECCOMP_RET_KILL_PROCESS; return SECCOMP_RET_ALLOW;", true },
        { "if (ctx->nr & 0x40000000) return SECCOMP_RET_ERRNO | 12; if (ctx->nr == 39) { __u64 *v; __u32 k = 1; v = bpf_map_lookup_elem(&counts, &k); if (v) return SECCOMP_RET_ERRNO | 13; } return SECCOMP_RET_ALLOW;", false },
        { "if (ctx->instruction_pointer == 0x1000) return SECCOMP_RET_ERRNO | 14; return ctx->nr == 1 ? SECCOMP_RET_ERRNO | 15 : SECCOMP_RET_ALLOW;", false },
        { "return SECCOMP_RET_ERRNO | (ctx->args[0] & 0xff);", false },
        { "int i; __u64 s = 0; for (i = 0; i < 4; i++) s += ctx->args[i]; return s == 10 ? SECCOMP_RET_ERRNO | 16 : SECCOMP_RET_ALLOW;", false },
        { "if (ctx->nr == 59 || ctx->nr == 322) { __u32 k = 0; __u64 one = 1; bpf_map_update_elem(&counts, &k, &one, BPF_ANY); } if (ctx->args[0] == 3 && ctx->nr == 2) return SECCOMP_RET_ERRNO | 17; return SECCOMP_RET_ALLOW;", false },
        { "switch (ctx->nr) { case 0: case 1: case 2: case 3: return SECCOMP_RET_ALLOW; case 9: return ctx->args[2] & 4 ? SECCOMP_RET_ERRNO | 18 : SECCOMP_RET_ALLOW; case 10: return SECCOMP_RET_TRACE | 5; default: return ctx->nr < 300 ? SECCOMP_RET_ALLOW : SECCOMP_RET_ERRNO | 19; }", true },
        { "if (ctx->nr == 0x40000001) return SECCOMP_RET_ERRNO | 20; if (ctx->nr == -1) return SECCOMP_RET_ERRNO | 21; if (ctx->nr >= 0x80000000) return SECCOMP_RET_ERRNO | 22; return 0x12345678;", true },
    };

    [Theory]
    [MemberData(nameof(ArgumentPrograms))]
    public void ArgumentShapes_HybridAgreesWithTheVm(string body, bool nativeInKernel)
    {
        string source = Prelude + "SEC(\"seccomp\") int prog(struct seccomp_data *ctx) {\n" + body + "\n}\n";
        var elf = Clang.Compile(source);
        var (_, _, filter) = Differential(() => Load(elf), interesting: [0x1234567890, 0xdead_0000_0000, 0x300, 0x40, 4, 3, 5, 100, 0xffff_fffb, 39, 59, 322, 0x40000001, 0x1000, 400, 420, 300]);
        var x64 = filter.Report.Single(r => r.Architecture == Architecture.X86_64);
        bool allInKernel = x64.Supervised.Count == 0 && x64.Mixed.Count == 0;
        Assert.True(allInKernel == nativeInKernel, $"x86_64: supervised {x64.Supervised.Count}, mixed {x64.Mixed.Count}, default {filter.Policy.DefaultAction}");
    }

    [Fact]
    public void StackedPrograms_CombineByKernelPrecedence()
    {
        var a = Clang.Compile(Prelude + "SEC(\"seccomp\") int a(struct seccomp_data *ctx) { if (ctx->nr == 1) return SECCOMP_RET_ERRNO | 1; if (ctx->nr == 2) return SECCOMP_RET_LOG; return SECCOMP_RET_ALLOW; }\n");
        var b = Clang.Compile(Prelude + "SEC(\"seccomp\") int b(struct seccomp_data *ctx) { if (ctx->nr == 1) return SECCOMP_RET_ERRNO | 2; if (ctx->nr == 2) return SECCOMP_RET_ERRNO | 3; if (ctx->nr == 3) { __u32 k = 0; __u64 *v = bpf_map_lookup_elem(&counts, &k); return v ? SECCOMP_RET_KILL_PROCESS : SECCOMP_RET_ALLOW; } return SECCOMP_RET_ALLOW; }\n");
        EbpfFilterSet Both() => new([SeccompEbpfProgram.FromVerified(Verify(a)), SeccompEbpfProgram.FromVerified(Verify(b))]);
        var (_, _, filter) = Differential(Both, random: 500);
        // nr 1: both ERRNO; the later-installed (b) runs first in the kernel and keeps its value on a tie.
        Assert.Equal(SeccompAction.Errno(2), Interpreter.Run(filter.Filter, new SeccompData(1, Architecture.X86_64.AuditArch)).Action);
        Assert.Equal(SeccompAction.Errno(3), Interpreter.Run(filter.Filter, new SeccompData(2, Architecture.X86_64.AuditArch)).Action);
        Assert.Equal(SeccompAction.UserNotif, Interpreter.Run(filter.Filter, new SeccompData(3, Architecture.X86_64.AuditArch)).Action);
    }

    /// <summary>
    /// A policy that covers an architecture without a section in the filter decides its calls by its rules, not by its
    /// bad-arch action: they go to the supervisor.
    /// </summary>
    [Fact]
    public void PolicySectionWithoutAFilterSection_GoesToTheSupervisor()
    {
        const string policy = """
            default ERRNO(EPERM)
            bad-arch KILL_PROCESS
            arch x86_64, x86, x32, arm
            ALLOW getppid, close, exit_group
            NOTIFY(inject) openat
            """;
        var (_, _, filter) = Differential(() => Load(Clang.Sample("fault_inject"), policy: policy, names: "inject"),
            random: 1500, options: new HybridOptions { Architectures = [Architecture.X86_64] });
        Assert.Equal(SeccompAction.UserNotif, filter.Policy.BadArchAction);
        Assert.Equal(SeccompAction.UserNotif, Interpreter.Run(filter.Filter, new SeccompData(Nr(Architecture.Arm, "getppid"), Architecture.Arm.AuditArch)).Action);
        Assert.Equal(SeccompAction.Allow, Interpreter.Run(filter.Filter, new SeccompData(Nr(Architecture.X86_64, "getppid"), Architecture.X86_64.AuditArch)).Action);
        static int Nr(Architecture arch, string name) => arch.Syscalls.TryGetNumber(name, out int nr) ? nr : throw new ArgumentException(name);
    }

    [Fact]
    public void PolicyRules_HandChosenCallsToAProgram()
    {
        var elf = Clang.Sample("fault_inject");
        const string policy = """
            default ERRNO(EPERM)
            ALLOW getppid, close, exit_group
            NOTIFY(inject) openat if arg0 != 5
            KILL_PROCESS openat
            """;
        var knobs = new Dictionary<string, ulong> { ["target_nr"] = 257, ["nth"] = 2 };
        var (_, _, filter) = Differential(() => Load(elf, knobs, policy, "inject"), random: 500);
        Assert.Equal(SeccompAction.Allow, Interpreter.Run(filter.Filter, new SeccompData(110, Architecture.X86_64.AuditArch)).Action);
        Assert.Equal(SeccompAction.Errno(1), Interpreter.Run(filter.Filter, new SeccompData(39, Architecture.X86_64.AuditArch)).Action);
        Assert.Equal(SeccompAction.UserNotif, Interpreter.Run(filter.Filter, new SeccompData(257, Architecture.X86_64.AuditArch)).Action);
    }

    [Fact]
    public void PolicyRules_WithSyscallsNewerThanThePolicy()
    {
        // The policy's ENOSYS past the newest syscall joins the split like its other verdicts: the kernel half answers
        // it, and the numbers past the table entries (up to 1023) and beyond get it too.
        var elf = Clang.Sample("fault_inject");
        const string policy = """
            default KILL_PROCESS
            newer-syscalls ERRNO(ENOSYS)
            ALLOW getppid, close, exit_group
            NOTIFY(inject) openat if arg0 != 5
            """;
        var knobs = new Dictionary<string, ulong> { ["target_nr"] = 257, ["nth"] = 2 };
        var (_, _, filter) = Differential(() => Load(elf, knobs, policy, "inject"), random: 500, interesting: [2000, 0x4000_0400, 0x8000_0000]);
        foreach (int nr in (int[])[1000, 2000, -1, int.MinValue, 0x4000_0400])
            Assert.Equal(SeccompAction.Errno(38), Interpreter.Run(filter.Filter, new SeccompData(nr, Architecture.X86_64.AuditArch)).Action);
        Assert.Equal(SeccompAction.KillProcess, Interpreter.Run(filter.Filter, new SeccompData(39, Architecture.X86_64.AuditArch)).Action);
    }

    /// <summary>
    /// A program keeps its own semantics: one that loads all 64 bits of <c>args[0]</c> compares 64 bits, one that loads
    /// 32 compares 32, whatever the argument's type. A policy beside them compares at the kernel's widths (socket's
    /// domain is an int: 32 bits).
    /// </summary>
    [Fact]
    public void ProgramsCompareWhatTheyLoadAndPoliciesWhatTheKernelReads()
    {
        var wide = Clang.Compile(Prelude + "SEC(\"seccomp\") int wide(struct seccomp_data *ctx) { if (ctx->nr == 41 && ctx->args[0] == 40) return SECCOMP_RET_ERRNO | 13; return SECCOMP_RET_ALLOW; }\n");
        var narrow = Clang.Compile(Prelude + "SEC(\"seccomp\") int narrow(struct seccomp_data *ctx) { if (ctx->nr == 41 && (__u32)ctx->args[0] == 40) return SECCOMP_RET_ERRNO | 14; return SECCOMP_RET_ALLOW; }\n");
        ulong[] interesting = [40, 0x1_0000_0028, 0xffff_ffff_0000_0028, 41];
        var vsock = new SeccompData(41, Architecture.X86_64.AuditArch, 0, 0x1_0000_0028, 1, 0);

        var (_, _, wideFilter) = Differential(() => Load(wide), random: 300, interesting: interesting);
        Assert.Equal(SeccompAction.Allow, Interpreter.Run(wideFilter.Filter, vsock).Action);
        Assert.Equal(SeccompAction.Errno(13), Interpreter.Run(wideFilter.Filter, new SeccompData(41, Architecture.X86_64.AuditArch, 0, 40)).Action);

        var (_, _, narrowFilter) = Differential(() => Load(narrow), random: 300, interesting: interesting);
        Assert.Equal(SeccompAction.Errno(14), Interpreter.Run(narrowFilter.Filter, vsock).Action);

        const string policy = """
            default ALLOW
            ERRNO(EAFNOSUPPORT) socket if domain == AF_VSOCK
            """;
        var (_, _, combined) = Differential(() => Load(wide, policy: policy), random: 300, interesting: interesting);
        Assert.Equal(SeccompAction.Errno(97), Interpreter.Run(combined.Filter, vsock).Action);
    }

    private static EbpfProgram Verify(byte[] elf)
    {
        var o = EbpfObject.Load(elf);
        return o.Verify(o.Programs[0]);
    }
}

/// <summary>
/// Random straight-line-and-forward-branch seccomp programs: loads of every field at every width, ALU on the loaded
/// values (some the split can follow, some it can't), spills and fills, helper calls, 32- and 64-bit comparisons of
/// every kind, and constant or data-dependent verdicts. The hybrid must agree with the VM on each.
/// </summary>
public class HybridRandomProgramTests
{
    private static readonly (int Offset, int Size)[] Loads =
    [
        (0, 4), (0, 2), (0, 1), (2, 2), (4, 4), (8, 8), (12, 4),
        (16, 8), (16, 4), (20, 4), (16, 1), (17, 1), (18, 2), (24, 8), (28, 4), (32, 8), (36, 4), (40, 8), (48, 8), (56, 8), (60, 4),
    ];

    private static readonly byte[] AluOps = [Ops.BPF_AND, Ops.BPF_RSH, Ops.BPF_LSH, Ops.BPF_ADD, Ops.BPF_OR, Ops.BPF_XOR, Ops.BPF_MOV, Ops.BPF_ARSH, Ops.BPF_SUB];
    private static readonly byte[] JumpOps = [Ops.BPF_JEQ, Ops.BPF_JNE, Ops.BPF_JGT, Ops.BPF_JGE, Ops.BPF_JLT, Ops.BPF_JLE, Ops.BPF_JSET, Ops.BPF_JSGT, Ops.BPF_JSGE, Ops.BPF_JSLT, Ops.BPF_JSLE];
    private static readonly uint[] Verdicts = [0x7fff_0000, 0x0005_0001, 0x0005_000d, 0x8000_0000, 0x0000_0000, 0x0003_0007, 0x7ffc_0000, 0x7ff0_0002, 0x7fc0_0000, 0x1234_5678];

    private static int Imm(Random r) => r.Next(7) switch
    {
        0 => 0,
        1 => r.Next(0, 8),
        2 => r.Next(0, 500),
        3 => -1,
        4 => unchecked((int)0xc000_003e),
        5 => 0x4000_0000,
        _ => r.Next(int.MinValue, int.MaxValue),
    };

    private static List<EbpfInstruction> Generate(Random r)
    {
        var code = new List<EbpfInstruction>
        {
            new(Ops.BPF_ALU64 | Ops.BPF_MOV | Ops.BPF_X, 6, 1, 0, 0), // r6 = ctx
        };
        byte[] data = [0, 1, 2, 3, 4, 5, 7, 8, 9];
        foreach (byte reg in data)
            code.Add(new(Ops.BPF_ALU64 | Ops.BPF_MOV | Ops.BPF_K, reg, 0, 0, Imm(r)));
        int body = r.Next(8, 40);
        var spilled = new List<int>();
        var jumps = new List<int>();
        for (int i = 0; i < body; i++)
        {
            byte d = data[r.Next(data.Length)], s = data[r.Next(data.Length)];
            switch (r.Next(12))
            {
                case 0 or 1 or 2:
                    {
                        var (off, size) = Loads[r.Next(Loads.Length)];
                        byte sz = size switch { 1 => Ops.BPF_B, 2 => Ops.BPF_H, 4 => Ops.BPF_W, _ => Ops.BPF_DW };
                        code.Add(new((byte)(Ops.BPF_LDX | Ops.BPF_MEM | sz), d, 6, (short)off, 0));
                        break;
                    }
                case 3 or 4:
                    {
                        byte op = AluOps[r.Next(AluOps.Length)];
                        bool is64 = r.Next(3) > 0;
                        int imm = op is Ops.BPF_RSH or Ops.BPF_LSH or Ops.BPF_ARSH ? r.Next(0, is64 ? 64 : 32) : Imm(r);
                        code.Add(new((byte)((is64 ? Ops.BPF_ALU64 : Ops.BPF_ALU) | op | Ops.BPF_K), d, 0, 0, imm));
                        break;
                    }
                case 5:
                    {
                        byte op = AluOps[r.Next(AluOps.Length)];
                        if (op is Ops.BPF_RSH or Ops.BPF_LSH or Ops.BPF_ARSH)
                            op = Ops.BPF_MOV; // a shift by a register could exceed the width
                        code.Add(new((byte)(Ops.BPF_ALU64 | op | Ops.BPF_X), d, s, 0, 0));
                        break;
                    }
                case 6:
                    {
                        int slot = r.Next(1, 6);
                        code.Add(new(Ops.BPF_STX | Ops.BPF_MEM | Ops.BPF_DW, 10, d, (short)(-8 * slot), 0));
                        spilled.Add(slot);
                        break;
                    }
                case 7:
                    if (spilled.Count > 0)
                        code.Add(new(Ops.BPF_LDX | Ops.BPF_MEM | Ops.BPF_DW, d, 10, (short)(-8 * spilled[r.Next(spilled.Count)]), 0));
                    break;
                case 8:
                    if (r.Next(4) != 0)
                        break;
                    code.Add(new(Ops.BPF_JMP | Ops.BPF_CALL, 0, 0, 0, r.Next(2) == 0 ? 14 : 15)); // get_current_pid_tgid / uid_gid
                    for (byte reg = 1; reg <= 5; reg++)
                        code.Add(new(Ops.BPF_ALU64 | Ops.BPF_MOV | Ops.BPF_K, reg, 0, 0, Imm(r)));
                    break;
                default:
                    {
                        byte op = JumpOps[r.Next(JumpOps.Length)];
                        bool is32 = r.Next(3) == 0;
                        bool regSrc = r.Next(4) == 0;
                        jumps.Add(code.Count);
                        code.Add(new((byte)((is32 ? Ops.BPF_JMP32 : Ops.BPF_JMP) | op | (regSrc ? Ops.BPF_X : Ops.BPF_K)), d, regSrc ? s : (byte)0, 0, Imm(r)));
                        break;
                    }
                case 11:
                    {
                        // An exit with a verdict: a constant, or (rarely) computed from a register.
                        if (r.Next(5) == 0)
                            code.Add(new(Ops.BPF_ALU64 | Ops.BPF_MOV | Ops.BPF_X, 0, d, 0, 0));
                        else
                            code.Add(new(Ops.BPF_ALU64 | Ops.BPF_MOV | Ops.BPF_K, 0, 0, 0, unchecked((int)Verdicts[r.Next(Verdicts.Length)])));
                        code.Add(new(Ops.BPF_JMP | Ops.BPF_EXIT, 0, 0, 0, 0));
                        break;
                    }
            }
        }
        code.Add(new(Ops.BPF_ALU64 | Ops.BPF_MOV | Ops.BPF_K, 0, 0, 0, unchecked((int)Verdicts[r.Next(Verdicts.Length)])));
        code.Add(new(Ops.BPF_JMP | Ops.BPF_EXIT, 0, 0, 0, 0));
        // Forward targets only, landing on an instruction boundary before the final exit.
        foreach (int at in jumps)
        {
            int target = r.Next(at + 1, code.Count - 1);
            code[at] = code[at] with { Offset = (short)(target - at - 1) };
        }
        return code;
    }

    public static TheoryData<int> Seeds()
    {
        var d = new TheoryData<int>();
        for (int s = 0; s < 40; s++) d.Add(s);
        return d;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void RandomPrograms_HybridAgreesWithTheVm(int seed)
    {
        var r = new Random(seed);
        int verified = 0;
        for (int round = 0; round < 10; round++)
        {
            var code = Generate(r);
            if (!EbpfVerifier.TryVerify([.. code], new VerifierOptions(), out var program, out _))
                continue;
            verified++;
            using var direct = new EbpfFilterSet([SeccompEbpfProgram.FromVerified(program)]);
            using var hybrid = new EbpfFilterSet([SeccompEbpfProgram.FromVerified(program)]);
            // Every section on even seeds; on odd ones this machine's only, the rest sharing the bad-arch verdict.
            var filter = hybrid.Compile(seed % 2 == 0 ? new HybridOptions() : HybridOptions.ThisMachine);
            var helpers = new HelperContext(new FixedTask());
            var constants = code.Select(i => (ulong)(uint)i.Imm).Concat(code.Select(i => (ulong)(long)i.Imm)).Distinct().ToArray();
            for (int k = 0; k < 1500; k++)
            {
                var data = RandomData(r, constants);
                var (expected, got, _) = HybridSplitTests.BothWays(direct, hybrid, filter, data, helpers);
                if (new SeccompAction(expected).Effective != new SeccompAction(got).Effective)
                    Assert.Fail($"seed {seed} round {round}: {HybridSplitTests.Describe(data)}: " +
                        $"VM {new SeccompAction(expected)}, hybrid {new SeccompAction(got)}\n{EbpfDisassembler.ToText([.. code])}");
            }
        }
        Assert.True(verified >= 3, $"only {verified} of 10 generated programs verified");
    }

    private static SeccompData RandomData(Random r, ulong[] constants)
    {
        uint[] arches = [Architecture.X86_64.AuditArch, Architecture.X86.AuditArch, Architecture.Aarch64.AuditArch, Architecture.Riscv64.AuditArch,
            Architecture.Arm.AuditArch, Architecture.S390x.AuditArch, Architecture.Mips.AuditArch, (uint)r.Next()];
        uint arch = arches[r.Next(arches.Length)];
        ulong Value() => r.Next(4) switch
        {
            0 => constants[r.Next(constants.Length)] + (ulong)r.Next(-1, 2),
            1 => (ulong)r.Next(0, 600),
            2 => (ulong)r.NextInt64() ^ ((ulong)r.Next() << 33),
            _ => constants[r.Next(constants.Length)] << (8 * r.Next(0, 5)),
        };
        var args = new ulong[6];
        for (int i = 0; i < 6; i++)
            args[i] = Value();   // whole registers, on a 32-bit ABI too
        return new SeccompData((int)(uint)Value(), arch, Value(), args);
    }

    private sealed class FixedTask : IBpfTask
    {
        public int Pid => 77;
        public int Tgid => 70;
        public uint Uid => 1000;
        public uint Gid => 100;
        public string Comm => "random";
        public bool MayReadMemory => false;
        public object Identity => 77;
        public int ReadMemory(ulong address, Span<byte> destination) => -1;
    }
}
