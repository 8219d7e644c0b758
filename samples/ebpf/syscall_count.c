/* Counts system calls by number in a BTF-defined hash map; allows everything.
 * The key's typedef name tells `syscage run --maps` to show keys as syscall names. */
#include "common.h"

typedef __u32 syscall_nr_t;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, syscall_nr_t);
	__type(value, __u64);
} counts SEC(".maps");

SEC("seccomp")
int count_syscalls(struct seccomp_data *ctx)
{
	syscall_nr_t nr = ctx->nr;
	__u64 one = 1;
	__u64 *count = bpf_map_lookup_elem(&counts, &nr);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&counts, &nr, &one, BPF_NOEXIST);
	return SECCOMP_RET_ALLOW;
}

char LICENSE[] SEC("license") = "GPL";
