/* Exec only once: the first execve succeeds, every later execve or execveat fails with EPERM.
 * The "already executed" flag lives in an array map; a global counts the refusals (.bss). */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} exec_seen SEC(".maps");

__u64 refused = 0;

SEC("seccomp")
int exec_once(struct seccomp_data *ctx)
{
	__u32 zero = 0;
	__u32 *seen;

	if (ctx->nr != NR_execve && ctx->nr != NR_execveat)
		return SECCOMP_RET_ALLOW;
	seen = bpf_map_lookup_elem(&exec_seen, &zero);
	if (!seen)
		return SECCOMP_RET_KILL_PROCESS;
	if (*seen) {
		__sync_fetch_and_add(&refused, 1);
		return SECCOMP_RET_ERRNO | EPERM;
	}
	*seen = 1;
	return SECCOMP_RET_ALLOW;
}

char LICENSE[] SEC("license") = "GPL";
