/* A uid/pid-aware rule: processes of uid 0 may call setuid; others get EPERM. The supervisor's own pid
 * (a const volatile knob) may always kill; others may not signal pid 1. Uses a legacy "maps" section for
 * per-uid denial counts, and a bpf-to-bpf call. */
#include "common.h"

struct bpf_map_def_legacy {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def_legacy denials SEC("maps") = {
	.type = BPF_MAP_TYPE_LRU_HASH,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 256,
};

const volatile __u32 supervisor_tgid = 0;

static __noinline int deny(__u32 uid)
{
	__u64 one = 1;
	__u64 *n = bpf_map_lookup_elem(&denials, &uid);

	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&denials, &uid, &one, BPF_ANY);
	return SECCOMP_RET_ERRNO | EPERM;
}

SEC("seccomp/uid_rule")
int uid_rule(struct seccomp_data *ctx)
{
	/* Test the number first: only setuid and kill need the helpers, so every other call is decided in the kernel. */
	if (ctx->nr == NR_setuid) {
		__u32 uid = (__u32)bpf_get_current_uid_gid();

		if (uid != 0)
			return deny(uid);
	}
	if (ctx->nr == NR_kill && (int)ctx->args[0] == 1) {
		__u32 tgid = bpf_get_current_pid_tgid() >> 32;

		if (tgid != supervisor_tgid)
			return deny((__u32)bpf_get_current_uid_gid());
	}
	return SECCOMP_RET_ALLOW;
}

char LICENSE[] SEC("license") = "GPL";
