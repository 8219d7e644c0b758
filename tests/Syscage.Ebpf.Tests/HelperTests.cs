using System.Buffers.Binary;
using System.Text;
using Syscage.Ebpf.Helpers;
using Syscage.Ebpf.Maps;
using Syscage.Abi;
using Syscage.Ebpf.Vm;

namespace Syscage.Ebpf.Tests;

/// <summary>Helpers called from programs, on both engines, bound to a fake task.</summary>
public sealed class HelperTests
{
    public static TheoryData<EbpfEngine> Engines => [EbpfEngine.Interpreter, EbpfEngine.Jit];

    private static readonly FakeTask Task = new FakeTask()
        .Map(0x10000, Encoding.ASCII.GetBytes("/etc/passwd\0garbage"))
        .Map(0x20ff8, Encoding.ASCII.GetBytes("pageedge")) // 8 bytes ending exactly at a page boundary, nothing after
        .Map(0x30000, [1, 2, 3, 4, 5, 6, 7, 8]);

    private static HelperContext Ctx(IBpfTask? task = null, Action<string>? sink = null) => new(task ?? Task, sink);

    [Theory, MemberData(nameof(Engines))]
    public void Pid_tgid_and_uid_gid_come_from_the_task(EbpfEngine engine)
    {
        Assert.Equal((4200ul << 32) | 4242, TestPrograms.Build("call 14\nexit", engine).Run(Ctx()));
        Assert.Equal((100ul << 32) | 1000, TestPrograms.Build("call 15\nexit", engine).Run(Ctx()));
    }

    [Theory, MemberData(nameof(Engines))]
    public void Get_current_comm_copies_a_terminated_name(EbpfEngine engine)
    {
        // comm into [r10-16], then copy it to the context so the test can read it.
        var vm = TestPrograms.Build("""
            mov %r6, %r1
            mov %r1, %r10
            add %r1, -16
            mov %r2, 16
            call 16
            ldxdw %r1, [%r10-16]
            stxdw [%r6], %r1
            ldxdw %r1, [%r10-8]
            stxdw [%r6+8], %r1
            exit
            """, engine);
        var mem = new byte[64];
        Assert.Equal(0ul, vm.Run(Ctx(), mem));
        Assert.Equal("fake-task\0\0\0\0\0\0\0", Encoding.ASCII.GetString(mem, 0, 16));
        Assert.Equal(unchecked((ulong)-22), vm.Run(HelperContext.None, new byte[64]));
    }

    private const string ReadStr = """
        mov %r6, %r1
        mov %r1, %r6
        mov %r2, 32
        lddw %r3, {0}
        call {1}
        exit
        """;

    [Theory, MemberData(nameof(Engines))]
    public void Probe_read_user_str_stops_at_the_nul_and_at_the_end_of_mapped_memory(EbpfEngine engine)
    {
        var mem = new byte[64];
        ulong n = TestPrograms.Build(string.Format(ReadStr, "0x10000", 114), engine).Run(Ctx(), mem);
        Assert.Equal(12ul, n);
        Assert.Equal("/etc/passwd\0", Encoding.ASCII.GetString(mem, 0, 12));
        Assert.Equal(0, mem[12]);

        // A string whose bytes end at a page boundary without a NUL: the page after is unmapped, so EFAULT.
        mem = new byte[64];
        Assert.Equal(unchecked((ulong)-14), TestPrograms.Build(string.Format(ReadStr, "0x20ff8", 114), engine).Run(Ctx(), mem));
        Assert.All(mem, b => Assert.Equal(0, b));
    }

    [Theory, MemberData(nameof(Engines))]
    public void Probe_read_user_copies_or_fails_and_zeroes(EbpfEngine engine)
    {
        var vm = TestPrograms.Build("""
            mov %r1, %r1
            mov %r2, 8
            lddw %r3, 0x30000
            call 112
            exit
            """, engine);
        var mem = new byte[64];
        Assert.Equal(0ul, vm.Run(Ctx(), mem));
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }, mem[..8]);

        var unmapped = TestPrograms.Build("mov %r2, 8\nlddw %r3, 0x40000\ncall 112\nexit", engine);
        mem = Enumerable.Repeat((byte)0xee, 64).ToArray();
        Assert.Equal(unchecked((ulong)-14), unmapped.Run(Ctx(), mem));
        Assert.All(mem[..8], b => Assert.Equal(0, b));
    }

    [Theory, MemberData(nameof(Engines))]
    public void Probe_read_user_is_EPERM_when_the_task_may_not_be_read(EbpfEngine engine)
    {
        var denied = new FakeTask { MayReadMemory = false }.Map(0x30000, new byte[8]);
        Assert.Equal(unchecked((ulong)-1), TestPrograms.Build("mov %r2, 8\nlddw %r3, 0x30000\ncall 112\nexit", engine).Run(Ctx(denied)));
        Assert.Equal(unchecked((ulong)-1), TestPrograms.Build(string.Format(ReadStr, "0x30000", 114), engine).Run(Ctx(denied)));
    }

    [Theory, MemberData(nameof(Engines))]
    public void Trace_printk_formats_into_the_sink(EbpfEngine engine)
    {
        // "n=%d u=%lx\n\0" built on the stack.
        var fmt = Encoding.ASCII.GetBytes("n=%d u=%lx\n\0\0\0\0\0");
        var sb = new StringBuilder();
        for (int i = 0; i < 16; i += 8)
            sb.Append($"lddw %r1, 0x{BinaryPrimitives.ReadUInt64LittleEndian(fmt.AsSpan(i)):x}\nstxdw [%r10-{16 - i}], %r1\n");
        sb.Append("mov %r1, %r10\nadd %r1, -16\nmov %r2, 12\nmov %r3, -5\nlddw %r4, 0xdeadbeef1\ncall 6\nexit\n");
        var lines = new List<string>();
        ulong n = TestPrograms.Build(sb.ToString(), engine).Run(Ctx(sink: lines.Add));
        Assert.Equal(["n=-5 u=deadbeef1"], lines);
        Assert.Equal((ulong)"n=-5 u=deadbeef1\n".Length, n);
    }

    [Theory, MemberData(nameof(Engines))]
    public void Ktime_is_monotonic_and_prandom_varies(EbpfEngine engine)
    {
        var vm = TestPrograms.Build("call 5\nmov %r6, %r0\ncall 5\nsub %r0, %r6\nexit", engine);
        Assert.True((long)vm.Run(Ctx()) >= 0);
        var rnd = TestPrograms.Build("call 7\nexit", engine);
        var values = Enumerable.Range(0, 8).Select(_ => rnd.Run(Ctx())).ToHashSet();
        Assert.True(values.Count > 1);
        Assert.All(values, v => Assert.True(v <= uint.MaxValue));
    }

    private const string CountByKey = """
        stw [%r10-4], 7
        lddw %r1, map[0]
        mov %r2, %r10
        add %r2, -4
        call 1
        jne %r0, 0, found
        stdw [%r10-16], 0
        lddw %r1, map[0]
        mov %r2, %r10
        add %r2, -4
        mov %r3, %r10
        add %r3, -16
        mov %r4, 1
        call 2
        lddw %r1, map[0]
        mov %r2, %r10
        add %r2, -4
        call 1
        jeq %r0, 0, fail
        found:
        mov %r1, 1
        lock add [%r0], %r1
        mov %r0, 0
        exit
        fail:
        mov %r0, 1
        exit
        """;

    [Theory, MemberData(nameof(Engines))]
    public void Map_helpers_count_atomically_from_several_threads(EbpfEngine engine)
    {
        using var maps = EbpfMapSet.Create([new MapDefinition("counts", MapType.Hash, 4, 8, 16)]);
        var vm = TestPrograms.Build(CountByKey, engine, maps);
        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, _ =>
        {
            for (int i = 0; i < 5000; i++)
                Assert.Equal(0ul, vm.Run(Ctx()));
        });
        Assert.Equal(20000ul, BinaryPrimitives.ReadUInt64LittleEndian(maps[0].Lookup([7, 0, 0, 0])));
        // delete through the helper
        var delete = TestPrograms.Build("stw [%r10-4], 7\nlddw %r1, map[0]\nmov %r2, %r10\nadd %r2, -4\ncall 3\nexit", engine, maps);
        Assert.Equal(0ul, delete.Run(Ctx()));
        Assert.Equal(unchecked((ulong)-2), delete.Run(Ctx()));
    }

    [Theory, MemberData(nameof(Engines))]
    public void Rodata_is_read_through_map_value_and_refused_to_update_helpers(EbpfEngine engine)
    {
        using var maps = EbpfMapSet.Create([new MapDefinition(".rodata", MapType.Array, 4, 16, 1, MapDefinition.BPF_F_RDONLY_PROG, new byte[16])]);
        ((ArrayMap)maps[0]).ValueSpan(0)[8] = 42;   // a const volatile knob set before the run
        Assert.Equal(42ul, TestPrograms.Build("lddw %r1, map_value[0]+8\nldxb %r0, [%r1]\nexit", engine, maps).Run(Ctx()));
        var update = TestPrograms.Build("""
            stw [%r10-4], 0
            stdw [%r10-24], 1
            stdw [%r10-16], 1
            lddw %r1, map[0]
            mov %r2, %r10
            add %r2, -4
            mov %r3, %r10
            add %r3, -24
            mov %r4, 0
            call 2
            exit
            """, engine, maps);
        Assert.Equal(unchecked((ulong)-1), update.Run(Ctx()));
    }

    [Theory, MemberData(nameof(Engines))]
    public void Ring_buffer_helpers_reserve_submit_discard_and_output(EbpfEngine engine)
    {
        using var maps = EbpfMapSet.Create([new MapDefinition("events", MapType.RingBuf, 0, 0, 4096)]);
        var vm = TestPrograms.Build("""
            lddw %r1, map[0]
            mov %r2, 16
            mov %r3, 0
            call 131
            jeq %r0, 0, full
            call 14
            mov %r6, %r0
            lddw %r1, map[0]
            mov %r2, 16
            mov %r3, 0
            call 131
            jeq %r0, 0, full
            stxdw [%r0], %r6
            stdw [%r0+8], 77
            mov %r1, %r0
            mov %r2, 0
            call 132
            lddw %r1, map[0]
            mov %r2, 8
            mov %r3, 0
            call 131
            mov %r1, %r0
            mov %r2, 0
            call 133
            stdw [%r10-8], 99
            lddw %r1, map[0]
            mov %r2, %r10
            add %r2, -8
            mov %r3, 8
            mov %r4, 0
            call 130
            exit
            full:
            mov %r0, 1
            exit
            """, engine, maps);
        // The first reservation is never submitted: it blocks the consumer, as in the kernel.
        Assert.Equal(0ul, vm.Run(Ctx()));
        var ring = (RingBufMap)maps[0];
        Assert.Empty(ring.Drain());
        Assert.True(ring.Pending > 0);
    }

    [Theory, MemberData(nameof(Engines))]
    public void Ring_buffer_records_from_a_program_reach_the_consumer(EbpfEngine engine)
    {
        using var maps = EbpfMapSet.Create([new MapDefinition("events", MapType.RingBuf, 0, 0, 4096)]);
        var vm = TestPrograms.Build("""
            call 14
            mov %r6, %r0
            lddw %r1, map[0]
            mov %r2, 16
            mov %r3, 0
            call 131
            jeq %r0, 0, full
            stxdw [%r0], %r6
            stdw [%r0+8], 77
            mov %r1, %r0
            mov %r2, 0
            call 132
            lddw %r1, map[0]
            mov %r2, 8
            mov %r3, 0
            call 131
            jeq %r0, 0, full
            mov %r1, %r0
            mov %r2, 0
            call 133
            stdw [%r10-8], 99
            lddw %r1, map[0]
            mov %r2, %r10
            add %r2, -8
            mov %r3, 8
            mov %r4, 0
            call 130
            exit
            full:
            mov %r0, 1
            exit
            """, engine, maps);
        var ring = (RingBufMap)maps[0];
        var records = new List<byte[]>();
        for (int i = 0; i < 500; i++)   // 500 x (24 + 16 + 16) bytes: the 4 KiB ring wraps many times
        {
            Assert.Equal(0ul, vm.Run(Ctx()));
            ring.Consume(r => records.Add(r.ToArray()));
        }
        Assert.Equal(1000, records.Count);
        Assert.Equal((4200ul << 32) | 4242, BinaryPrimitives.ReadUInt64LittleEndian(records[0]));
        Assert.Equal(77ul, BinaryPrimitives.ReadUInt64LittleEndian(records[0].AsSpan(8)));
        Assert.Equal(99ul, BinaryPrimitives.ReadUInt64LittleEndian(records[1]));
    }

    [Theory, MemberData(nameof(Engines))]
    public void Task_storage_is_keyed_by_the_current_task(EbpfEngine engine)
    {
        using var maps = EbpfMapSet.Create([new MapDefinition("seen", MapType.TaskStorage, 4, 8, 0)]);
        // Counts runs per task: storage_get(map, current_task_btf(), NULL, F_CREATE); *v += 1; return *v.
        var vm = TestPrograms.Build("""
            call 158
            mov %r2, %r0
            lddw %r1, map[0]
            mov %r3, 0
            mov %r4, 1
            call 156
            jeq %r0, 0, none
            ldxdw %r1, [%r0]
            add %r1, 1
            stxdw [%r0], %r1
            mov %r0, %r1
            exit
            none:
            mov %r0, -1
            exit
            """, engine, maps);
        var other = new FakeTask { Pid = 7 };
        Assert.Equal(1ul, vm.Run(Ctx()));
        Assert.Equal(2ul, vm.Run(Ctx()));
        Assert.Equal(1ul, vm.Run(Ctx(other)));
        Assert.Equal(unchecked((ulong)-1), vm.Run(HelperContext.None));
        var delete = TestPrograms.Build("call 158\nmov %r2, %r0\nlddw %r1, map[0]\ncall 157\nexit", engine, maps);
        Assert.Equal(0ul, delete.Run(Ctx()));
        Assert.Equal(unchecked((ulong)-2), delete.Run(Ctx()));
        Assert.Equal(1ul, vm.Run(Ctx()));
        Assert.Equal(2, ((TaskStorageMap)maps[0]).TaskEntries().Count);
    }

    /// <summary>
    /// One id table (<see cref="HelperIds"/>, checked against bpf.h by the loader's tests): every id has a prototype for
    /// the verifier and an implementation in the VM, and neither side has extras.
    /// </summary>
    [Fact]
    public void Every_helper_id_has_a_prototype_and_an_implementation()
    {
        // The kernel's table has every helper; Syscage supports 18 of them, each with a prototype and an implementation.
        var ids = HelperImplementations.Implemented.Order().ToArray();
        Assert.Equal(18, ids.Length);
        Assert.Equal(ids, HelperPrototypes.Default.Keys.Order().ToArray());
        Assert.All(ids, id => Assert.NotNull(HelperIds.Name(id)));
        Assert.Equal("bpf_map_lookup_elem", HelperIds.Name(HelperIds.BPF_FUNC_map_lookup_elem));
    }
}
