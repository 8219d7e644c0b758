/*
 * notify_bench: user-notification round trips, for bench/Syscage.Bench NotifyLatency.
 *
 *   notify_bench target N NR          make N calls of syscall NR (after N/10 warm-up calls) and print
 *                                     "ns_per_call <x>" and "failed <calls that returned -1>"; run it under a filter
 *                                     that notifies NR
 *   notify_bench c-supervisor N [sync]
 *                                     the baseline: a minimal C supervisor loop (poll, RECV, SEND) serving a
 *                                     forked target that does what "target N 1000" does; with "sync", the
 *                                     listener gets SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP first. Prints the
 *                                     target's "ns_per_call <x>".
 *
 *   notify_bench c-getpid N ALLOWED   the eBPF-seccomp patch set's benchmark shape, in C: a filter notifies every
 *                                     getpid; the supervisor (poll, RECV, SEND, with SYNC_WAKE_UP) keeps a counter
 *                                     and lets the first ALLOWED calls run (CONTINUE), failing the rest with EPERM —
 *                                     what samples/ebpf/getpid_bench.c decides. The forked target does what
 *                                     "target N <getpid>" does; prints its "ns_per_call <x>" and "allowed <a> denied <d>".
 *   notify_bench c-getpid N ALLOWED recv
 *                                     the same, with a supervisor that waits in RECV itself instead of in poll (as
 *                                     seccomp_unotify(2)'s example does): one system call fewer per call. Linux 6.6
 *                                     wakes a waiting RECV on the notifying CPU, and when the target is gone (ENOENT,
 *                                     then POLLHUP).
 *
 * The hand-over of the listener mirrors syscage-exec's: shared page, no system calls in the filtered child
 * until the parent has taken the fd with pidfd_getfd.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void calls(long n, long nr)
{
    long failed = 0;
    for (long i = 0; i < n / 10; i++)
        failed += syscall(nr, i) < 0;
    double t0 = now_ns();
    for (long i = 0; i < n; i++)
        failed += syscall(nr, i) < 0;
    double t1 = now_ns();
    printf("ns_per_call %.0f\nfailed %ld\n", (t1 - t0) / n, failed);
    fflush(stdout);
}

struct shared { volatile int fd; volatile int taken; };

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "target") == 0) {
        calls(atol(argv[2]), atol(argv[3]));
        return 0;
    }
    int getpid_shape = argc >= 4 && strcmp(argv[1], "c-getpid") == 0;
    if (argc < 3 || (strcmp(argv[1], "c-supervisor") != 0 && !getpid_shape)) {
        fputs("usage: notify_bench target N NR | c-supervisor N [sync] | c-getpid N ALLOWED [recv]\n", stderr);
        return 2;
    }
    long n = atol(argv[2]);
    int sync = getpid_shape || (argc > 3 && strcmp(argv[3], "sync") == 0);
    int in_recv = getpid_shape && argc > 4 && strcmp(argv[4], "recv") == 0;
    long allowed = getpid_shape ? atol(argv[3]) : 0, count = 0, denied = 0;
    long nr = getpid_shape ? SYS_getpid : 1000;
    struct shared *sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    sh->fd = -1;
    pid_t pid = fork();
    if (pid == 0) {
        struct sock_filter insns[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),                    /* A = seccomp_data.nr */
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1),  /* nr == the notified call? */
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = { 4, insns };
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
        if (fd < 0)
            _exit(127);
        __atomic_store_n(&sh->fd, (int)fd, __ATOMIC_RELEASE);
        while (!__atomic_load_n(&sh->taken, __ATOMIC_ACQUIRE))
            ;
        close((int)fd);
        calls(n, nr);
        _exit(0);
    }
    while (__atomic_load_n(&sh->fd, __ATOMIC_ACQUIRE) < 0)
        usleep(100);
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    int listener = (int)syscall(SYS_pidfd_getfd, pidfd, sh->fd, 0);
    if (listener < 0) {
        perror("pidfd_getfd");
        kill(pid, SIGKILL);
        return 1;
    }
    if (sync && ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) != 0)
        perror("SECCOMP_IOCTL_NOTIF_SET_FLAGS");
    __atomic_store_n(&sh->taken, 1, __ATOMIC_RELEASE);
    struct seccomp_notif req;
    struct seccomp_notif_resp resp;
    for (;;) {
        struct pollfd p = { listener, POLLIN, 0 };
        if (in_recv) {
            memset(&req, 0, sizeof req);
            if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) {
                if (errno == ENOENT && poll(&p, 1, 0) >= 0 && (p.revents & POLLHUP))
                    break; /* the target is gone */
                continue;
            }
        } else {
            if (poll(&p, 1, -1) < 0 && errno == EINTR)
                continue;
            if (!(p.revents & POLLIN))
                break; /* POLLHUP: the target is gone */
            memset(&req, 0, sizeof req);
            if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0)
                continue;
        }
        memset(&resp, 0, sizeof resp);
        resp.id = req.id;
        if (getpid_shape) {
            /* The program's decision: the counter allows the first `allowed` calls. */
            if (count++ < allowed)
                resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
            else {
                resp.error = -EPERM;
                denied++;
            }
        }
        ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
    }
    int status;
    waitpid(pid, &status, 0);
    if (getpid_shape)
        printf("allowed %ld denied %ld\n", count - denied, denied);
    return 0;
}
