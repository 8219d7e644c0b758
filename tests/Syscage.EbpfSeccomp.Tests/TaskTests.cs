using System.Buffers.Binary;
using System.Globalization;
using Syscage.Bpf;
using Syscage.Ebpf.Helpers;
using Syscage.Ebpf.Maps;
using Syscage.Abi;
using static Syscage.EbpfSeccomp.Tests.Harness;
using Syscage.Supervision;

namespace Syscage.EbpfSeccomp.Tests;

/// <summary>
/// The task helpers see in the supervisor (<see cref="NotifiedTask"/>): ids, name, task-local storage, and the privilege
/// model of <c>bpf_probe_read_user</c> (only when the supervisor may ptrace the caller; otherwise -EPERM).
/// </summary>
public sealed class TaskTests
{
    private const string Source = """
        #include "common.h"

        struct task_ids {
            __u64 pid_tgid;
            __u64 uid_gid;
            char comm[16];
        };

        struct {
            __uint(type, BPF_MAP_TYPE_ARRAY);
            __uint(max_entries, 1);
            __type(key, __u32);
            __type(value, struct task_ids);
        } ids SEC(".maps");

        struct {
            __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
            __uint(map_flags, BPF_F_NO_PREALLOC);
            __type(key, int);
            __type(value, __u64);
        } per_task SEC(".maps");

        const volatile __u32 target_nr = 0;

        /* For target_nr: record the caller's ids, count its calls in task storage, and read 8 bytes at args[0] (at the
         * instruction pointer when args[0] is 0): a failed read's -errno becomes the call's errno. */
        SEC("seccomp")
        int task_prog(struct seccomp_data *ctx)
        {
            __u32 zero = 0;
            struct task_ids *t;
            __u64 *n;
            char buf[8];
            long rc;

            if (ctx->nr != (int)target_nr)
                return SECCOMP_RET_ALLOW;
            t = bpf_map_lookup_elem(&ids, &zero);
            if (t) {
                t->pid_tgid = bpf_get_current_pid_tgid();
                t->uid_gid = bpf_get_current_uid_gid();
                bpf_get_current_comm(t->comm, sizeof(t->comm));
            }
            n = bpf_task_storage_get(&per_task, bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
            if (n)
                __sync_fetch_and_add(n, 1);
            rc = bpf_probe_read_user(buf, sizeof(buf), ctx->args[0] ? (const void *)ctx->args[0] : (const void *)ctx->instruction_pointer);
            return rc < 0 ? SECCOMP_RET_ERRNO | (-rc & 0xfff) : SECCOMP_RET_ALLOW;
        }
        char LICENSE[] SEC("license") = "GPL";
        """;

    private static readonly HybridOptions NoSplit = new() { Split = false };
    private static string Getppid => Nr("getppid").ToString(CultureInfo.InvariantCulture);

    private static EbpfFilterSet TaskSet() => Set(Compile("task", Source), ("target_nr", (ulong)Nr("getppid")));

    [Fact]
    public void HelpersSeeTheCallingThread()
    {
        using var set = TaskSet();
        var o = Run(set, NoSplit, "repeat", "3", Getppid);
        Assert.True(o.Exit.ExitCode == 0, o.ToString());
        Assert.All(o.Lines, l => Assert.Matches(@"^ret [1-9]\d* errno 0$", l));   // the read at the instruction pointer worked
        var ids = set.Programs[0].Maps["ids"].Lookup(new byte[4])!;
        ulong pidTgid = BinaryPrimitives.ReadUInt64LittleEndian(ids);
        ulong uidGid = BinaryPrimitives.ReadUInt64LittleEndian(ids.AsSpan(8));
        Assert.Equal(((ulong)(uint)o.CommandPid << 32) | (uint)o.CommandPid, pidTgid);
        Assert.Equal(((ulong)ProcId("Gid:") << 32) | ProcId("Uid:"), uidGid);
        Assert.Equal("ebpf_target", System.Text.Encoding.ASCII.GetString(ids, 16, 16).TrimEnd('\0'));

        // Task storage: one entry, for (the thread's id, its start time), counting its three calls.
        var storage = Assert.IsType<TaskStorageMap>(set.Programs[0].Maps["per_task"]);
        var entry = Assert.Single(storage.TaskEntries());
        var identity = Assert.IsType<NotifiedTask.TaskIdentity>(entry.Key);
        Assert.Equal(o.CommandPid, identity.Pid);
        Assert.True(identity.StartTime > 0, identity.ToString());
        Assert.Equal(3UL, BinaryPrimitives.ReadUInt64LittleEndian(entry.Value));
    }

    [Fact]
    public void UidIsTheRealUidOfTheCaller()
    {
        Assert.True(ProcId("Uid:") == 0, "this test changes uid, so it needs root (the test machine runs tests as root)");
        using var set = TaskSet();
        var o = Run(set, NoSplit, "as-uid", "65534", Getppid);
        Assert.True(o.Exit.ExitCode == 0, o.ToString());
        ulong uidGid = BinaryPrimitives.ReadUInt64LittleEndian(set.Programs[0].Maps["ids"].Lookup(new byte[4])!.AsSpan(8));
        Assert.Equal(65534UL, uidGid & 0xffff_ffff);
    }

    [Fact]
    public void ProbeReadUser_OfAnUnmappedAddressIsEfault()
    {
        using var set = TaskSet();
        var o = Run(set, NoSplit, "call", Getppid, "8");
        Assert.Equal("ret -1 errno 14", o.Lines.Single());
    }

    [Fact]
    public void ProbeReadUser_IsEpermWhenTheTaskMayNotBeRead()
    {
        using var set = TaskSet();
        var data = new SeccompData(Nr("getppid"), Architecture.Native.AuditArch, 0x401000, [0x7fff_0000]);
        var refused = new FakeTask(mayRead: false);
        Assert.Equal(SeccompAction.Errno(1).Value, set.Decide(data, new HelperContext(refused)));
        Assert.Equal(0, refused.Reads);                                  // the memory was never touched
        var allowed = new FakeTask(mayRead: true);
        Assert.Equal(SeccompAction.Allow.Value, set.Decide(data, new HelperContext(allowed)));
        Assert.Equal(1, allowed.Reads);
        var unmapped = new FakeTask(mayRead: true, fail: true);
        Assert.Equal(SeccompAction.Errno(14).Value, set.Decide(data, new HelperContext(unmapped)));
    }

    [Fact]
    public void NotifiedTask_MayReadItsOwnChild()
    {
        // The supervisor started the command: it may ptrace it, so MayReadMemory holds on a real child (the
        // instruction-pointer read of HelpersSeeTheCallingThread succeeds because of it).
        using var set = TaskSet();
        var o = Run(set, NoSplit, "call", Getppid);
        Assert.Matches(@"^ret [1-9]\d* errno 0$", o.Lines.Single());
    }

    private static uint ProcId(string field)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(field, StringComparison.Ordinal))
                return uint.Parse(line[field.Length..].Trim().Split('\t')[0], CultureInfo.InvariantCulture);
        throw new InvalidOperationException(field);
    }

    private sealed class FakeTask(bool mayRead, bool fail = false) : IBpfTask
    {
        public int Reads;
        public int Pid => 4242;
        public int Tgid => 4242;
        public uint Uid => 1000;
        public uint Gid => 1000;
        public string Comm => "fake";
        public bool MayReadMemory => mayRead;
        public object Identity => Pid;

        public int ReadMemory(ulong address, Span<byte> destination)
        {
            Reads++;
            if (fail)
                return -14;
            destination.Fill(0x90);
            return 0;
        }
    }
}
