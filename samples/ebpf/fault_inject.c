/* Fault injection: fail the Nth call (or, with one_in > 0, a random 1-in-K call) of one system call with a
 * chosen errno. The knobs are const volatile globals in .rodata, set by the user before load (--set NAME=VALUE). */
#include "common.h"

const volatile __u32 target_nr = NR_openat;
const volatile __u32 nth = 3;
const volatile __u32 one_in = 0;
const volatile __u32 error = ENOENT;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);   /* tgid */
	__type(value, __u64); /* calls of target_nr so far */
} calls SEC(".maps");

static __always_inline int fail(void)
{
	return SECCOMP_RET_ERRNO | (error & SECCOMP_RET_DATA);
}

static __noinline __u64 bump(__u32 tgid)
{
	__u64 *n = bpf_map_lookup_elem(&calls, &tgid);
	__u64 first = 1;

	if (!n) {
		bpf_map_update_elem(&calls, &tgid, &first, BPF_ANY);
		return 1;
	}
	return __sync_add_and_fetch(n, 1);
}

SEC("seccomp")
int fault_inject(struct seccomp_data *ctx)
{
	__u64 n;

	if (ctx->nr != target_nr)
		return SECCOMP_RET_ALLOW;
	if (one_in > 0)
		return bpf_get_prandom_u32() % one_in == 0 ? fail() : SECCOMP_RET_ALLOW;
	n = bump(bpf_get_current_pid_tgid() >> 32);
	return n == nth ? fail() : SECCOMP_RET_ALLOW;
}

char LICENSE[] SEC("license") = "GPL";
