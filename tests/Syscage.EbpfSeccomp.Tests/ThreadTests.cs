using System.Buffers.Binary;
using System.Globalization;
using Syscage.Ebpf.Maps;
using static Syscage.EbpfSeccomp.Tests.Harness;
using Syscage.Supervision;

namespace Syscage.EbpfSeccomp.Tests;

/// <summary>
/// Multi-threaded callers: the supervisor's two workers run programs concurrently on shared maps, and helpers see the
/// calling thread, not its process.
/// </summary>
public sealed class ThreadTests
{
    private const string Source = """
        #include "common.h"

        struct {
            __uint(type, BPF_MAP_TYPE_HASH);
            __uint(max_entries, 64);
            __type(key, __u32);     /* thread id */
            __type(value, __u64);   /* tgid << 32 | calls */
        } by_thread SEC(".maps");

        struct {
            __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
            __uint(map_flags, BPF_F_NO_PREALLOC);
            __type(key, int);
            __type(value, __u64);
        } per_task SEC(".maps");

        __u64 total = 0;
        const volatile __u32 target_nr = 0;

        SEC("seccomp")
        int threads_prog(struct seccomp_data *ctx)
        {
            __u64 id = bpf_get_current_pid_tgid();
            __u32 tid = (__u32)id;
            __u64 first = (id & 0xffffffff00000000ULL) | 1;
            __u64 *v, *n;

            if (ctx->nr != (int)target_nr)
                return SECCOMP_RET_ALLOW;
            __sync_fetch_and_add(&total, 1);
            v = bpf_map_lookup_elem(&by_thread, &tid);
            if (v)
                __sync_fetch_and_add(v, 1);
            else
                bpf_map_update_elem(&by_thread, &tid, &first, BPF_NOEXIST);
            n = bpf_task_storage_get(&per_task, bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
            if (n)
                __sync_fetch_and_add(n, 1);
            return SECCOMP_RET_ALLOW;
        }
        char LICENSE[] SEC("license") = "GPL";
        """;

    [Fact]
    public void ConcurrentRunsKeepExactCountsPerThread()
    {
        const int Threads = 4, PerThread = 300;
        using var set = Set(Compile("threads", Source), ("target_nr", (ulong)Nr("getppid")));
        var o = Run(set, new HybridOptions { Split = false }, workers: 2, "threads", Threads.ToString(CultureInfo.InvariantCulture),
            PerThread.ToString(CultureInfo.InvariantCulture), Nr("getppid").ToString(CultureInfo.InvariantCulture));
        Assert.True(o.Exit.ExitCode == 0, o.ToString());
        Assert.Equal($"threads {Threads * PerThread} failed 0", o.Lines.Single());

        var program = set.Programs[0];
        // An atomic add in a global: exact under concurrent runs.
        Assert.Equal((ulong)(Threads * PerThread), BinaryPrimitives.ReadUInt64LittleEndian(program.Maps[".bss"].Lookup(new byte[4])));

        // One entry per thread, all of the command's process, none of them the main thread (which made no call).
        var entries = program.Maps["by_thread"].Entries().ToList();
        Assert.Equal(Threads, entries.Count);
        foreach (var (key, value) in entries)
        {
            int tid = BinaryPrimitives.ReadInt32LittleEndian(key);
            ulong v = BinaryPrimitives.ReadUInt64LittleEndian(value);
            Assert.NotEqual(o.CommandPid, tid);
            Assert.Equal((uint)o.CommandPid, (uint)(v >> 32));
            Assert.Equal((ulong)PerThread, v & 0xffff_ffff);   // each thread's calls are sequential: no lost update
        }

        // Task storage: one value per thread, keyed by (thread id, start time).
        var storage = Assert.IsType<TaskStorageMap>(program.Maps["per_task"]);
        var tasks = storage.TaskEntries();
        Assert.Equal(Threads, tasks.Count);
        Assert.Equal(entries.Select(e => BinaryPrimitives.ReadInt32LittleEndian(e.Key)).Order(),
            tasks.Select(t => Assert.IsType<NotifiedTask.TaskIdentity>(t.Key).Pid).Order());
        Assert.All(tasks, t => Assert.Equal((ulong)PerThread, BinaryPrimitives.ReadUInt64LittleEndian(t.Value)));
        Assert.Equal(Threads * PerThread, o.Handler.NotificationsBySyscall.Single(kv => kv.Key == "getppid").Value);
    }
}
