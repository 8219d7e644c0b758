using Syscage.Ebpf.Verifier;
using Syscage.Ebpf.Elf;

namespace Syscage.EbpfLoader.Tests;

/// <summary>Safe C programs in shapes clang commonly emits (loops, variable indexes, helpers on the stack) must verify.</summary>
public class AcceptedProgramTests
{
    private const string Prelude = """
        #include "common.h"
        struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64[8]); } table SEC(".maps");
        struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 64); __type(key, __u32); __type(value, __u64); } counts SEC(".maps");
        char LICENSE[] SEC("license") = "GPL";

        """;

    private static void Accept(string body)
    {
        var o = EbpfObject.Load(Clang.Compile(Prelude + body));
        foreach (var p in o.Programs)
            if (!o.TryVerify(p, out _, out var error))
                Assert.Fail($"{p.Name}: {error}\n" + string.Join('\n', p.Instructions.Select((i, pc) => $"{pc}: {i}")));
    }

    [Fact]
    public void Bounded_loop_over_a_map_value()
    {
        Accept("""
            SEC("seccomp") int prog(struct seccomp_data *ctx) {
                __u32 zero = 0;
                __u64 *row = bpf_map_lookup_elem(&table, &zero), sum = 0;
                if (!row) return SECCOMP_RET_ALLOW;
                #pragma clang loop unroll(disable)
                for (int i = 0; i < 8; i++)
                    sum += row[i];
                return sum > ctx->args[0] ? SECCOMP_RET_ERRNO | EPERM : SECCOMP_RET_ALLOW;
            }
            """);
    }

    [Fact]
    public void Masked_and_checked_variable_indexes()
    {
        Accept("""
            SEC("seccomp") int prog(struct seccomp_data *ctx) {
                __u32 zero = 0;
                __u64 *row = bpf_map_lookup_elem(&table, &zero);
                if (!row) return SECCOMP_RET_ALLOW;
                row[ctx->nr & 7] += 1;
                __u32 i = ctx->args[1];
                if (i < 8)
                    row[i] = ctx->args[2];
                return SECCOMP_RET_ALLOW;
            }
            """);
    }

    [Fact]
    public void Path_prefix_check_on_a_stack_buffer()
    {
        Accept("""
            SEC("seccomp") int prog(struct seccomp_data *ctx) {
                char path[64];
                const char prefix[] = "/etc/";
                if (ctx->nr != NR_openat) return SECCOMP_RET_ALLOW;
                long n = bpf_probe_read_user_str(path, sizeof(path), (const void *)ctx->args[1]);
                if (n < (long)sizeof(prefix)) return SECCOMP_RET_ALLOW;
                #pragma clang loop unroll(disable)
                for (int i = 0; i < (int)sizeof(prefix) - 1; i++)
                    if (path[i] != prefix[i]) return SECCOMP_RET_ALLOW;
                return SECCOMP_RET_ERRNO | EACCES;
            }
            """);
    }

    [Fact]
    public void Loop_bounded_by_data_and_a_constant()
    {
        Accept("""
            SEC("seccomp") int prog(struct seccomp_data *ctx) {
                __u64 n = ctx->args[0], acc = 0;
                #pragma clang loop unroll(disable)
                for (__u64 i = 0; i < n && i < 100; i++)
                    acc = (acc ^ i) * 3;
                return acc == 4950 ? SECCOMP_RET_LOG : SECCOMP_RET_ALLOW;
            }
            """);
    }

    [Fact]
    public void Nested_calls_and_comm()
    {
        Accept("""
            static __noinline int is_shell(const char *comm) { return comm[0] == 's' && comm[1] == 'h' && comm[2] == 0; }
            static __noinline int check(struct seccomp_data *ctx) {
                char comm[16];
                if (bpf_get_current_comm(comm, sizeof(comm)) != 0) return 0;
                return is_shell(comm) && ctx->nr == NR_execve;
            }
            SEC("seccomp") int prog(struct seccomp_data *ctx) {
                __u32 nr = ctx->nr;
                __u64 *c = bpf_map_lookup_elem(&counts, &nr);
                if (c) __sync_fetch_and_add(c, 1);
                return check(ctx) ? SECCOMP_RET_ERRNO | EPERM : SECCOMP_RET_ALLOW;
            }
            """);
    }

    [Fact]
    public void Trace_printk_format_strings_live_in_rodata_str()
    {
        var o = EbpfObject.Load(Clang.Compile(Prelude + """
            SEC("seccomp") int prog(struct seccomp_data *ctx) {
                bpf_printk("syscall %d arg0 %llx", ctx->nr, ctx->args[0]);
                return SECCOMP_RET_ALLOW;
            }
            """));
        var str = Assert.Single(o.Maps, m => m.Name.StartsWith(".rodata", StringComparison.Ordinal));
        Assert.True(str.ReadOnlyForProgram);
        Assert.Contains("syscall %d", System.Text.Encoding.ASCII.GetString(str.InitialValue!));
        Assert.True(o.TryVerify(o.Programs[0], out _, out var error), error?.ToString());
    }

    [Fact]
    public void Task_storage_with_a_task_handle()
    {
        var o = EbpfObject.Load(Clang.Compile(Prelude + """
            struct { __uint(type, BPF_MAP_TYPE_TASK_STORAGE); __uint(map_flags, BPF_F_NO_PREALLOC); __type(key, int); __type(value, __u64); } seen SEC(".maps");
            SEC("seccomp") int prog(struct seccomp_data *ctx) {
                __u64 *n = bpf_task_storage_get(&seen, 0, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
                if (!n) return SECCOMP_RET_ALLOW;
                *n += 1;
                if (*n > 100) bpf_task_storage_delete(&seen, 0);
                return SECCOMP_RET_ALLOW;
            }
            """));
        var m = Assert.Single(o.Maps, m => m.Name == "seen");
        Assert.Equal((Syscage.Ebpf.Maps.MapType.TaskStorage, 4, 8, 1u), (m.Type, m.KeySize, m.ValueSize, m.Flags));
        Assert.True(o.TryVerify(o.Programs[0], out _, out var error), error?.ToString());
    }

    [Fact]
    public void Loop_with_data_dependent_counters_that_only_feed_the_result()
    {
        // 64 iterations, each with branches that change counters: the counters only feed the returned value, so
        // states that differ in them are pruned (they are not "precise"); otherwise paths would double every iteration.
        Accept("""
            SEC("seccomp") int prog(struct seccomp_data *ctx) {
                char path[64];
                __u32 slashes = 0, dots = 0;
                if (bpf_probe_read_user_str(path, sizeof(path), (const void *)ctx->args[1]) < 0) return SECCOMP_RET_ALLOW;
                #pragma clang loop unroll(disable)
                for (int i = 0; i < 64; i++) {
                    if (path[i] == '/') slashes++;
                    if (path[i] == '.') dots++;
                }
                return SECCOMP_RET_TRACE | ((slashes << 8 | dots) & SECCOMP_RET_DATA);
            }
            """);
    }
}
