/* Shared by the Syscage eBPF seccomp samples: struct seccomp_data, SECCOMP_RET_*, libbpf's helper declarations. */
#ifndef SYSCAGE_SAMPLES_COMMON_H
#define SYSCAGE_SAMPLES_COMMON_H
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/seccomp.h>
#include <linux/errno.h>
#include <linux/audit.h>
#include <bpf/bpf_helpers.h>

/* x86_64 system call numbers used by the samples (asm/unistd_64.h). */
#define NR_read 0
#define NR_write 1
#define NR_open 2
#define NR_getpid 39
#define NR_execve 59
#define NR_kill 62
#define NR_ptrace 101
#define NR_setuid 105
#define NR_getppid 110
#define NR_openat 257
#define NR_execveat 322
#endif
