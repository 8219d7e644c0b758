/*
 * record_workload: programs for the syscage record tests (tests/Syscage.Record.Tests).
 *
 *   record_workload tree          three threads, a child process and an exec'd grandchild, each making one call no
 *                                 other part of the run makes (threads: getpriority, times, getcpu; the child:
 *                                 getpgid; the exec'd grandchild: getsid), then an x32 call (x32 getpid, with
 *                                 __X32_SYSCALL_BIT) and, in a child of its own so a machine without IA32 emulation
 *                                 only loses that child, an i386 call (int $0x80, i386 getpid). Prints one line per
 *                                 part with what the call returned, and "i386 ok" or "i386 unavailable". The threads
 *                                 are detached and their end is waited for with the same futex calls on every run:
 *                                 pthread_join calls futex only when a thread has not yet exited, so a recording could
 *                                 miss a call (or, with --args, a futex operation) that its run then needs.
 *   record_workload exec-child    what the grandchild runs: getsid(0), prints "exec-child ok".
 *   record_workload flood N       calls N different syscall numbers past the end of the x86_64 table (ENOSYS).
 *   record_workload ioctls N      N ioctl calls on fd -1 (EBADF), each with another request.
 *   record_workload negative      syscall(-5): a number with no spelling in a policy (ENOSYS).
 *   record_workload print TEXT    writes TEXT and a newline to stdout, and exits.
 *   record_workload swap PATH VICTIM
 *                                 replaces PATH by a symbolic link to VICTIM (the attack on `record -o PATH`).
 *
 * Every call of interest goes through syscall(2), so the C library can neither skip nor cache it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef __X32_SYSCALL_BIT
#define __X32_SYSCALL_BIT 0x40000000
#endif
/* asm/unistd_32.h: i386's getpid. */
#define I386_NR_getpid 20

static char self[4096];

/* Threads done so far: each stores its result, adds one and wakes the main thread (FUTEX_WAKE, on every run). */
static int threads_done;
static long thread_results[3];

static void *thread_main(void *arg)
{
    long which = (long)arg, r;
    if (which == 0)
        r = syscall(SYS_getpriority, PRIO_PROCESS, 0);
    else if (which == 1) {
        struct tms t;
        r = syscall(SYS_times, &t) == -1 ? -1 : 0;
    } else {
        unsigned cpu, node;
        r = syscall(SYS_getcpu, &cpu, &node, NULL);
    }
    thread_results[which] = r;
    __atomic_add_fetch(&threads_done, 1, __ATOMIC_RELEASE);
    syscall(SYS_futex, &threads_done, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    return (void *)r;
}

static int tree(void)
{
    pthread_attr_t detached;
    pthread_attr_init(&detached);
    pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
    for (long i = 0; i < 3; i++) {
        pthread_t thread;
        if (pthread_create(&thread, &detached, thread_main, (void *)i) != 0)
            return 1;
    }
    /* One FUTEX_WAIT on every run, for a count the word never holds: it returns at once (EAGAIN). Then the waits the
     * threads' progress needs, each returning at once too when the count has moved on since it was read. */
    syscall(SYS_futex, &threads_done, FUTEX_WAIT_PRIVATE, -1, NULL, NULL, 0);
    int seen;
    while ((seen = __atomic_load_n(&threads_done, __ATOMIC_ACQUIRE)) < 3)
        syscall(SYS_futex, &threads_done, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
    for (int i = 0; i < 3; i++)
        printf("thread %d %s\n", i, thread_results[i] >= 0 ? "ok" : "failed");
    fflush(stdout);

    pid_t child = fork();
    if (child == 0) {
        long pgid = syscall(SYS_getpgid, 0);
        printf("child %s\n", pgid > 0 ? "ok" : "failed");
        fflush(stdout);
        pid_t grandchild = fork();
        if (grandchild == 0) {
            execl(self, self, "exec-child", (char *)NULL);
            _exit(127);
        }
        int status;
        waitpid(grandchild, &status, 0);
        _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
    }
    int status;
    waitpid(child, &status, 0);
    printf("child exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);

    /* x32: the kernel sees the number with __X32_SYSCALL_BIT on AUDIT_ARCH_X86_64; without CONFIG_X86_X32_ABI it
     * answers ENOSYS, after the filters saw it. */
    errno = 0;
    long x32 = syscall(__X32_SYSCALL_BIT | SYS_getpid);
    printf("x32 %s\n", x32 >= 0 ? "ok" : strerror(errno));

    /* i386: int $0x80 from 64-bit code is a call of the i386 ABI (AUDIT_ARCH_I386) when IA32 emulation is on. */
    fflush(stdout);
    pid_t probe = fork();
    if (probe == 0) {
        long r;
        __asm__ volatile("int $0x80" : "=a"(r) : "a"((long)I386_NR_getpid) : "memory");
        _exit(r > 0 ? 0 : 1);
    }
    waitpid(probe, &status, 0);
    printf("i386 %s\n", WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "ok" : "unavailable");
    return 0;
}

int main(int argc, char **argv)
{
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return 2;
    self[n] = 0;
    if (argc == 2 && strcmp(argv[1], "tree") == 0)
        return tree();
    if (argc == 2 && strcmp(argv[1], "exec-child") == 0) {
        long sid = syscall(SYS_getsid, 0);
        printf("exec-child %s\n", sid > 0 ? "ok" : "failed");
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "flood") == 0) {
        long count = atol(argv[2]);
        for (long i = 0; i < count; i++)
            syscall(1000 + i);
        printf("flood %ld\n", count);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "ioctls") == 0) {
        long count = atol(argv[2]);
        for (long i = 0; i < count; i++)
            syscall(SYS_ioctl, -1, 0x10000 + i, 0);
        printf("ioctls %ld\n", count);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "negative") == 0) {
        errno = 0;
        long r = syscall(-5);
        printf("negative %ld %s\n", r, strerror(errno));
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "print") == 0) {
        printf("%s\n", argv[2]);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "swap") == 0) {
        if (unlink(argv[2]) != 0 && errno != ENOENT)
            return 1;
        if (symlink(argv[3], argv[2]) != 0)
            return 1;
        printf("swapped\n");
        return 0;
    }
    fprintf(stderr, "usage: record_workload tree|exec-child|flood N|ioctls N|negative|print TEXT|swap PATH VICTIM\n");
    return 2;
}
