/* CRIU-style: each call's verdict is looked up by its number in an array map that user space fills before the first
 * call (syscage run --ebpf syscall_policy.o --map policy=policy.json) and may change while it runs (syscage maps
 * update). A number past the array gets EPERM; an entry left unfilled is 0, SECCOMP_RET_KILL_THREAD. A .bss counter
 * counts the calls decided. */
#include "common.h"

typedef __u32 syscall_nr_t;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 512);
	__type(key, syscall_nr_t);
	__type(value, __u32);
} policy SEC(".maps");

__u64 decided = 0;

SEC("seccomp")
int syscall_policy(struct seccomp_data *ctx)
{
	syscall_nr_t nr = ctx->nr;
	__u32 *val;

	__sync_fetch_and_add(&decided, 1);
	val = bpf_map_lookup_elem(&policy, &nr);
	return val ? *val : SECCOMP_RET_ERRNO | EPERM;
}

char LICENSE[] SEC("license") = "GPL";
