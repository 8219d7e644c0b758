/* The eBPF-seccomp patch set's benchmark shape: a .bss counter allows the first `allowed` getpid calls and refuses the
 * rest with EPERM, so every getpid needs the program's state (in Syscage: every getpid is notified), while every other
 * call is allowed in the kernel. */
#include "common.h"

const volatile __u64 allowed = 500000;

__u64 count = 0;

SEC("seccomp")
int getpid_bench(struct seccomp_data *ctx)
{
	if (ctx->nr != NR_getpid)
		return SECCOMP_RET_ALLOW;
	if (__sync_fetch_and_add(&count, 1) < allowed)
		return SECCOMP_RET_ALLOW;
	return SECCOMP_RET_ERRNO | EPERM;
}

char LICENSE[] SEC("license") = "GPL";
