using System.Buffers.Binary;
using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Syscage.Ebpf;
using Syscage.Ebpf.Helpers;
using Syscage.Ebpf.Isa;
using Syscage.Ebpf.Verifier;
using Syscage.Ebpf.Maps;
using Syscage.Ebpf.Vm;

namespace Syscage.Bench;

/// <summary>
/// The eBPF VM, interpreter (baseline) against JIT, per run of a few programs: <c>prime</c> and <c>subnet</c> from the
/// conformance suite (a division loop; packet parsing), a seccomp-style allow-list over <c>struct seccomp_data</c>, and
/// a syscall counter (hash-map lookup helper plus an atomic add). The Ratio column is JIT time / interpreter time; the
/// <c>Insns</c> column is the instructions one run executes, and <c>ns/insn</c> the mean divided by it.
/// </summary>
[Config(typeof(Config))]
public class EbpfVmBenchmarks
{
    /// <summary>Which program runs.</summary>
    [Params("prime", "subnet", "seccomp", "count")]
    public string Program { get; set; } = "prime";

    private IEbpfExecutor _interpreter = null!, _jit = null!;
    private byte[] _memory = [];
    private EbpfMapSet? _maps;

    /// <summary>Builds both executors once.</summary>
    [GlobalSetup]
    public void Setup()
    {
        (_interpreter, _jit, _memory, _maps) = Build(Program);
        if (_interpreter.RunOnMemory(_memory, HelperContext.None) != _jit.RunOnMemory(_memory, HelperContext.None))
            throw new InvalidOperationException($"{Program}: interpreter and JIT disagree");
    }

    /// <summary>Frees the maps.</summary>
    [GlobalCleanup]
    public void Cleanup() => _maps?.Dispose();

    /// <summary>One run on the interpreter.</summary>
    [Benchmark(Baseline = true)]
    public ulong Interpreter() => _interpreter.RunOnMemory(_memory, HelperContext.None);

    /// <summary>One run on the JIT.</summary>
    [Benchmark]
    public ulong Jit() => _jit.RunOnMemory(_memory, HelperContext.None);

    internal static (IEbpfExecutor Interpreter, IEbpfExecutor Jit, byte[] Memory, EbpfMapSet? Maps) Build(string name)
    {
        string asm;
        byte[] memory;
        EbpfMapSet? maps = null;
        ContextDescription context;
        switch (name)
        {
            case "prime":
            case "subnet":
            {
                (asm, memory) = Conformance(name + ".data");
                context = ContextDescription.Memory(memory.Length);
                break;
            }
            case "seccomp":
                asm = SeccompAllowList;
                memory = SeccompData(nr: 257, arch: 0xc000003e, arg2: 0);
                context = ContextDescription.SeccompData;
                break;
            case "count":
                asm = Counter;
                memory = SeccompData(nr: 257, arch: 0xc000003e, arg2: 0);
                context = ContextDescription.SeccompData;
                maps = EbpfMapSet.Create([new MapDefinition("counts", MapType.Hash, 4, 8, 1024)]);
                maps[0].Update(BitConverter.GetBytes(257), new byte[8]);
                break;
            default:
                throw new ArgumentException($"unknown program {name}", nameof(name));
        }
        var program = EbpfVerifier.Verify(EbpfAssembler.Assemble(asm, name), new VerifierOptions
        {
            Context = context,
            ContextSizeInR2 = context != ContextDescription.SeccompData,
            Maps = maps is null ? [] : [.. maps.Select(m => m.Definition)],
            Name = name,
        });
        return (EbpfVm.Create(program, maps, EbpfEngine.Interpreter), EbpfVm.Create(program, maps, EbpfEngine.Jit), memory, maps);
    }

    /// <summary>Instructions one run of <paramref name="name"/> executes.</summary>
    internal static long Steps(string name)
    {
        var (interpreter, _, memory, maps) = Build(name);
        using (maps)
            return ((InterpreterExecutor)interpreter).CountSteps(memory, HelperContext.None);
    }

    private static byte[] SeccompData(int nr, uint arch, ulong arg2)
    {
        var d = new byte[64];
        BinaryPrimitives.WriteInt32LittleEndian(d, nr);
        BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(4), arch);
        BinaryPrimitives.WriteUInt64LittleEndian(d.AsSpan(32), arg2);
        return d;
    }

    private static (string Asm, byte[] Memory) Conformance(string file)
    {
        string dir = Environment.GetEnvironmentVariable("SYSCAGE_EBPF_CONFORMANCE") ?? FindConformance();
        var lines = File.ReadAllLines(Path.Combine(dir, file));
        string Section(string n) => string.Join('\n', lines.SkipWhile(l => l != "-- " + n).Skip(1).TakeWhile(l => !l.StartsWith("-- ", StringComparison.Ordinal)));
        var mem = Section("mem").Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries).Select(b => byte.Parse(b, NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToArray();
        return (Section("asm"), mem);
    }

    private static string FindConformance()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Syscage.slnx")))
                return Path.Combine(d.FullName, "..", "shared", "ebpf-conformance");
        throw new InvalidOperationException("set SYSCAGE_EBPF_CONFORMANCE to the conformance suite");
    }

    /// <summary>
    /// The shape of a seccomp filter: check the architecture, allow 20 syscalls by number, and for openat deny write
    /// access (O_ACCMODE bits of args[2]). The benchmark's call is openat read-only: it walks the whole list.
    /// </summary>
    private const string SeccompAllowList = """
        ldxw %r2, [%r1+4]             # seccomp_data.arch
        jne32 %r2, 0xc000003e, kill   # AUDIT_ARCH_X86_64 (32-bit compare: the immediate would sign-extend)
        ldxw %r2, [%r1]               # seccomp_data.nr
        jeq %r2, 0, allow
        jeq %r2, 1, allow
        jeq %r2, 3, allow
        jeq %r2, 5, allow
        jeq %r2, 8, allow
        jeq %r2, 9, allow
        jeq %r2, 10, allow
        jeq %r2, 11, allow
        jeq %r2, 12, allow
        jeq %r2, 13, allow
        jeq %r2, 14, allow
        jeq %r2, 15, allow
        jeq %r2, 39, allow
        jeq %r2, 60, allow
        jeq %r2, 110, allow
        jeq %r2, 202, allow
        jeq %r2, 218, allow
        jeq %r2, 228, allow
        jeq %r2, 231, allow
        jeq %r2, 257, openat
        mov32 %r0, 0x50001            # SECCOMP_RET_ERRNO | EPERM
        exit
        openat:
        ldxdw %r3, [%r1+32]           # seccomp_data.args[2]: flags
        and %r3, 3                    # O_ACCMODE
        jne %r3, 0, deny
        allow:
        mov32 %r0, 0x7fff0000         # SECCOMP_RET_ALLOW
        exit
        deny:
        mov32 %r0, 0x5000d            # SECCOMP_RET_ERRNO | EACCES
        exit
        kill:
        mov32 %r0, 0x80000000         # SECCOMP_RET_KILL_PROCESS
        exit
        """;

    /// <summary>Counts calls per syscall number in a hash map (the counting sample's core), then allows.</summary>
    private const string Counter = """
        ldxw %r2, [%r1]
        stxw [%r10-4], %r2
        lddw %r1, map[0]
        mov %r2, %r10
        add %r2, -4
        call 1                        # bpf_map_lookup_elem
        jeq %r0, 0, allow
        mov %r1, 1
        lock add [%r0], %r1
        allow:
        mov32 %r0, 0x7fff0000
        exit
        """;

    private sealed class Config : ManualConfig
    {
        public Config()
        {
            AddColumn(new StepsColumn(perInstruction: false), new StepsColumn(perInstruction: true));
        }
    }

    /// <summary>Instructions executed per run, or mean nanoseconds per executed instruction.</summary>
    private sealed class StepsColumn(bool perInstruction) : IColumn
    {
        private static readonly Dictionary<string, long> Cache = [];

        private static long StepsFor(BenchmarkCase c)
        {
            string name = (string)c.Parameters["Program"];
            lock (Cache)
            {
                if (!Cache.TryGetValue(name, out long n))
                    Cache[name] = n = Steps(name);
                return n;
            }
        }

        public string Id => perInstruction ? "NsPerInsn" : "Insns";
        public string ColumnName => perInstruction ? "ns/insn" : "Insns";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => perInstruction ? 1 : 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => perInstruction ? "Mean time divided by Insns" : "eBPF instructions executed per run";
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public bool IsAvailable(Summary summary) => true;
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            long steps = StepsFor(benchmarkCase);
            if (!perInstruction)
                return steps.ToString(CultureInfo.InvariantCulture);
            var report = summary[benchmarkCase];
            if (report?.ResultStatistics is not { } stats)
                return "-";
            return (stats.Mean / steps).ToString("0.000", CultureInfo.InvariantCulture);
        }
    }
}
