/* A pure filter: decides from struct seccomp_data alone (no maps, no helpers), so all of it can run in the kernel.
 * Denies ptrace, makes kill() fail with EPERM unless the signal is 0, and allows everything else. */
#include "common.h"

SEC("seccomp")
int pure_filter(struct seccomp_data *ctx)
{
	if (ctx->arch != AUDIT_ARCH_X86_64)
		return SECCOMP_RET_KILL_PROCESS;
	if (ctx->nr == NR_ptrace)
		return SECCOMP_RET_ERRNO | EPERM;
	if (ctx->nr == NR_kill && ctx->args[1] != 0)
		return SECCOMP_RET_ERRNO | EPERM;
	return SECCOMP_RET_ALLOW;
}

char LICENSE[] SEC("license") = "GPL";
