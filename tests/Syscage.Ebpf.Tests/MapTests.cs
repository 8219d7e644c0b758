using System.Buffers.Binary;
using Syscage.Ebpf.Maps;
using Syscage.Ebpf.Vm;

namespace Syscage.Ebpf.Tests;

public sealed class MapTests
{
    private static byte[] U32(uint v) { var b = new byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); return b; }
    private static byte[] U64(ulong v) { var b = new byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(b, v); return b; }

    [Fact]
    public void Array_elements_always_exist_and_keep_their_address()
    {
        using var map = new ArrayMap(new MapDefinition("a", MapType.Array, 4, 12, 3));
        Assert.Equal(new byte[12], map.Lookup(U32(2)));
        Assert.Null(map.Lookup(U32(3)));
        nint before = map.ValueAddress(1);
        map.Update(U32(1), [.. Enumerable.Range(1, 12).Select(i => (byte)i)]);
        Assert.Equal(before, map.ValueAddress(1));
        Assert.Equal(12, map.Lookup(U32(1))![11]);
        Assert.Throws<SyscageException>(() => map.Update(U32(1), new byte[12], MapUpdateFlags.NoExist));
        Assert.Throws<SyscageException>(() => map.Delete(U32(1)));
        Assert.Equal(3, map.Entries().Count());
    }

    [Fact]
    public void Global_data_map_starts_with_its_section_bytes_and_can_be_frozen()
    {
        using var map = (ArrayMap)EbpfMap.Create(new MapDefinition(".rodata", MapType.Array, 4, 8, 1, MapDefinition.BPF_F_RDONLY_PROG, [1, 2, 3]));
        Assert.Equal(new byte[] { 1, 2, 3, 0, 0, 0, 0, 0 }, map.Lookup(U32(0)));
        map.Update(U32(0), U64(99));
        map.Freeze();
        Assert.Throws<SyscageException>(() => map.Update(U32(0), U64(1)));
        Assert.Equal(99ul, BinaryPrimitives.ReadUInt64LittleEndian(map.ValueSpan(0)));
    }

    [Fact]
    public void Hash_map_refuses_a_key_when_full_and_reuses_deleted_slots()
    {
        using var map = new HashMap(new MapDefinition("h", MapType.Hash, 4, 8, 2), lru: false);
        map.Update(U32(1), U64(10));
        map.Update(U32(2), U64(20));
        var e = Assert.Throws<SyscageException>(() => map.Update(U32(3), U64(30)));
        Assert.Contains("E2BIG", e.Message);
        Assert.Throws<SyscageException>(() => map.Update(U32(1), U64(11), MapUpdateFlags.NoExist));
        Assert.Throws<SyscageException>(() => map.Update(U32(9), U64(11), MapUpdateFlags.Exist));
        Assert.True(map.Delete(U32(1)));
        Assert.False(map.Delete(U32(1)));
        map.Update(U32(3), U64(30));
        Assert.Equal(U64(30), map.Lookup(U32(3)));
        Assert.Equal(U64(20), map.Lookup(U32(2)));
        Assert.Null(map.Lookup(U32(1)));
        Assert.Equal(2, map.Count);
    }

    [Fact]
    public void Lru_map_evicts_the_least_recently_used_key()
    {
        using var map = new HashMap(new MapDefinition("l", MapType.LruHash, 4, 8, 3), lru: true);
        map.Update(U32(1), U64(1));
        map.Update(U32(2), U64(2));
        map.Update(U32(3), U64(3));
        Assert.NotNull(map.Lookup(U32(1)));    // 1 is now the most recent; 2 the least
        map.Update(U32(4), U64(4));
        Assert.Null(map.Lookup(U32(2)));
        Assert.NotNull(map.Lookup(U32(1)));
        Assert.NotNull(map.Lookup(U32(3)));
        map.Update(U32(5), U64(5));            // evicts 4: 3 and 1 were looked up after it was inserted
        Assert.Null(map.Lookup(U32(4)));
        Assert.Equal(3, map.Count);
    }

    [Fact]
    public void Hash_map_structure_survives_concurrent_writers()
    {
        using var map = new HashMap(new MapDefinition("c", MapType.Hash, 8, 8, 1024), lru: false);
        Parallel.For(0, 4, t =>
        {
            for (int round = 0; round < 2000; round++)
            {
                ulong key = (ulong)(t * 100000 + round % 200);
                map.Update(U64(key), U64(key * 2));
                if (round % 3 == 0) map.Delete(U64(key));
                var v = map.Lookup(U64(key));
                Assert.True(v is null || BinaryPrimitives.ReadUInt64LittleEndian(v) == key * 2);
            }
        });
        foreach (var (k, v) in map.Entries())
            Assert.Equal(BinaryPrimitives.ReadUInt64LittleEndian(k) * 2, BinaryPrimitives.ReadUInt64LittleEndian(v));
    }

    [Fact]
    public void Ring_buffer_wraps_around_and_keeps_records_whole_and_in_order()
    {
        using var ring = new RingBufMap(new MapDefinition("rb", MapType.RingBuf, 0, 0, 4096));
        var seen = new List<byte[]>();
        int next = 0;
        for (int round = 0; round < 40; round++)
        {
            // Records of varying size so the end of the ring falls inside one and padding is needed.
            for (int k = 0; k < 3; k++)
            {
                int size = 300 + (next * 37 % 500);
                var data = Enumerable.Range(0, size).Select(i => (byte)(next + i)).ToArray();
                Assert.Equal(0, ring.Output(data));
                next++;
            }
            seen.AddRange(ring.Drain());
        }
        Assert.Equal(next, seen.Count);
        for (int n = 0; n < seen.Count; n++)
        {
            int size = 300 + (n * 37 % 500);
            Assert.Equal(size, seen[n].Length);
            Assert.True(seen[n].Select((b, i) => b == (byte)(n + i)).All(x => x), $"record {n} corrupted");
        }
        Assert.Equal(0, ring.Pending);
    }

    [Fact]
    public void Ring_buffer_refuses_when_full_skips_discards_and_waits_for_busy_records()
    {
        using var ring = new RingBufMap(new MapDefinition("rb", MapType.RingBuf, 0, 0, 4096));
        nint a = ring.Reserve(2000);
        nint b = ring.Reserve(1000);
        Assert.NotEqual(0, a);
        Assert.NotEqual(0, b);
        Assert.Equal(0, ring.Reserve(2000));          // no room
        RingBufMap.Commit(b, discard: false);
        Assert.Empty(ring.Drain());                   // a is still being written and blocks b
        RingBufMap.Commit(a, discard: true);
        var records = ring.Drain();
        Assert.Single(records);
        Assert.Equal(1000, records[0].Length);
        Assert.NotEqual(0, ring.Reserve(3000));       // space came back
    }

    [Fact]
    public void Task_storage_is_per_task_and_reuses_deleted_slots()
    {
        using var map = new TaskStorageMap(new MapDefinition("ts", MapType.TaskStorage, 4, 16, 0));
        nint p1 = map.Get(1, default, create: true);
        Assert.Equal(p1, map.Get(1, default, create: false));
        Assert.Equal(0, map.Get(2, default, create: false));
        nint p2 = map.Get(2, U64(7).Concat(U64(8)).ToArray(), create: true);
        Assert.Equal(U64(7).Concat(U64(8)), map.LookupTask(2)!);
        Assert.Equal(0, map.Remove(1));
        Assert.Equal(-2, map.Remove(1));
        Assert.Equal(p1, map.Get(3, default, create: true));
        Assert.Equal(new byte[16], map.LookupTask(3));
        Assert.Equal(2, map.TaskEntries().Count);
        Assert.NotEqual(p1, p2);
    }

    [Fact]
    public void Map_set_finds_maps_by_name_with_a_hint()
    {
        using var set = EbpfMapSet.Create([new MapDefinition("counts", MapType.Hash, 4, 8, 16), new MapDefinition(".bss", MapType.Array, 4, 8, 1)]);
        Assert.Equal(MapType.Hash, set["counts"].Definition.Type);
        var e = Assert.Throws<SyscageException>(() => set["count"]);
        Assert.Contains("did you mean 'counts'", e.Message);
    }
}

public sealed class RingBufWakeupTests
{
    [Theory]
    [InlineData(EbpfEngine.Interpreter)]
    [InlineData(EbpfEngine.Jit)]
    public void A_consumer_thread_is_woken_by_submits_from_programs(EbpfEngine engine)
    {
        using var maps = EbpfMapSet.Create([new MapDefinition("events", MapType.RingBuf, 0, 0, 4096)]);
        var ring = (RingBufMap)maps[0];
        var vm = TestPrograms.Build("""
            lddw %r1, map[0]
            mov %r2, 8
            mov %r3, 0
            call 131
            jeq %r0, 0, out
            stdw [%r0], 5
            mov %r1, %r0
            mov %r2, 0
            call 132
            mov %r0, 1
            out:
            exit
            """, engine, maps);
        int received = 0;
        var consumer = new Thread(() =>
        {
            while (received < 200)
            {
                received += ring.Consume(_ => { });
                if (received < 200) ring.WaitForRecords(TimeSpan.FromSeconds(5));
            }
        });
        consumer.Start();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        for (int i = 0; i < 200 && DateTime.UtcNow < deadline; i++)
        {
            while (vm.Run(Syscage.Ebpf.Helpers.HelperContext.None) == 0 && DateTime.UtcNow < deadline)
                Thread.Yield();   // ring full: let the consumer catch up
        }
        Assert.True(consumer.Join(TimeSpan.FromSeconds(20)), $"consumer stuck at {received}");
        Assert.Equal(200, received);
    }
}
