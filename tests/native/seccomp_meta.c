/*
 * seccomp_meta: prints the flags of every seccomp filter of a running process, as the kernel keeps them, without
 * audit or the kernel log: PTRACE_SECCOMP_GET_METADATA, whose flags report SECCOMP_FILTER_FLAG_LOG (the only flag
 * the kernel keeps to report). filter_off counts from the first filter installed: the kernel's get_nth_filter() walks
 * back from the newest (total - filter_off - 1) times. Needs CAP_SYS_ADMIN and no filter of its own, so it runs
 * outside the sandbox (tests run it as root on a sandboxed process).
 *
 *   seccomp_meta PID        print "filter <n> flags 0x<flags>" per filter, the first installed first ("no filters"
 *                           when it has none); exit 0
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fputs("usage: seccomp_meta PID\n", stderr);
        return 2;
    }
    pid_t pid = (pid_t)atoi(argv[1]);
    if (ptrace(PTRACE_SEIZE, pid, 0, 0) != 0 || ptrace(PTRACE_INTERRUPT, pid, 0, 0) != 0) {
        fprintf(stderr, "seccomp_meta: ptrace(%d): %s\n", pid, strerror(errno));
        return 1;
    }
    int status;
    if (waitpid(pid, &status, __WALL) != pid) {
        fprintf(stderr, "seccomp_meta: waitpid(%d): %s\n", pid, strerror(errno));
        return 1;
    }
    int rc = 0;
    for (uint64_t off = 0;; off++) {
        struct __ptrace_seccomp_metadata md = { .filter_off = off, .flags = 0 };
        if (ptrace(PTRACE_SECCOMP_GET_METADATA, pid, sizeof md, &md) < 0) {
            /* ENOENT: no filter at that index, the end of the list; EINVAL at 0: no filter at all. */
            if (off == 0 && errno == EINVAL) {
                puts("no filters");
            } else if (errno != ENOENT) {
                fprintf(stderr, "seccomp_meta: PTRACE_SECCOMP_GET_METADATA %llu: %s\n", (unsigned long long)off, strerror(errno));
                rc = 1;
            }
            break;
        }
        printf("filter %llu flags 0x%llx\n", (unsigned long long)off, (unsigned long long)md.flags);
    }
    ptrace(PTRACE_DETACH, pid, 0, 0);
    return rc;
}
