/*
 * syscage-exec: run a command under a seccomp filter and report how it ended.
 *
 *   syscage-exec [--listener HANDOVER] FILTER FLAGS STATUS PATH ARGV0 [ARGS...]
 *
 * Syscage's launcher. The .NET runtime never forks itself to install a filter: it starts this small program
 * (an ordinary fork+exec). syscage-exec reads the classic-BPF program (raw struct sock_filter) from the
 * file FILTER and forks the command's process, which sets no_new_privs, installs the filter with
 * seccomp(SECCOMP_SET_MODE_FILTER, FLAGS) and execve()s PATH with ARGV0 ARGS... and the inherited
 * environment: from the command's first instruction on, the filter is in force (the execve itself is the
 * first call it judges). syscage-exec itself stays unfiltered and waits, so that the exact end of the
 * command — exit code, or the signal that killed it — reaches the caller, which the runtime's own
 * 128+signal exit codes can't tell apart from an exit.
 *
 * FILTER and STATUS are paths, usually the caller's /proc/PID/fd/N of a memfd and of a pipe's write end:
 * opening them by path lets the caller keep every descriptor close-on-exec, so no other process it
 * starts meanwhile inherits them.
 *
 * STATUS (opened close-on-exec, so the command never holds it) receives lines:
 *   "ready <errno>"             both paths opened (errno 0) — the caller may close its descriptors
 *   "<stage> <errno>"           the command's process failed at stage read, prctl, seccomp or exec
 *   "exit <code>"               the command exited
 *   "signal <signo> <core>"     the command was killed by a signal (core: 1 if it dumped core)
 * The exec report is written after the filter is in place and needs write(2) to be allowed by it; if
 * it is not, the command's process exits 127 and only "exit 127" arrives.
 *
 *   "listener <pid> <fd>"       (with --listener) the command's process <pid> holds the listener as <fd>
 *
 * The listener hand-over (--listener HANDOVER, FLAGS including SECCOMP_FILTER_FLAG_NEW_LISTENER).
 * seccomp() returns the user-notification listener in the process that installs the filter, which is the
 * command's; the supervisor is the .NET process, the command's grandparent. The fd must reach it before the
 * command's first instruction, and the command must never hold it (it would answer its own calls). Once the
 * filter is in place every system call of the command's process is judged by it, and a call the policy sends
 * to user space blocks until someone answers on the listener — which nobody can do before the hand-over. So
 * the hand-over makes no system call in the command's process:
 *   - HANDOVER is a path to the caller's memfd of at least one page (struct handover below). The launcher
 *     maps it MAP_SHARED before fork(), so the command's process shares the page with the launcher and,
 *     through the memfd's page cache, with the caller.
 *   - The command's process installs the filter, stores the listener's number in the page and sets
 *     state = PUBLISHED (atomic stores), then spins on `taken` with plain loads and a pause instruction —
 *     no system call — until it is set.
 *   - The launcher (unfiltered) polls the page, and once PUBLISHED writes "listener <pid> <fd>" on STATUS.
 *   - The caller takes a duplicate with pidfd_open(pid) + pidfd_getfd(pidfd, fd) (PTRACE_MODE_ATTACH rights
 *     over its grandchild: same user, and Yama ptrace_scope 1 allows descendants) and writes taken = 1 into
 *     the memfd with pwrite.
 *   - The command's process sees taken and calls execve(); its own copy of the listener is close-on-exec
 *     ("The file descriptor is created with the close-on-exec flag set", seccomp(2)), so the command never
 *     holds it. The execve is judged by the filter with the supervisor already listening.
 * If the caller does not take the listener within 30 seconds, or writes taken = 2 (gave up), the launcher
 * kills the command's process with SIGKILL (it can't be asked to exit: exit_group might be notified).
 *
 * syscage-exec ignores SIGINT and SIGQUIT (the terminal sends them to the command too) and passes
 * SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 on to the command. It exits with the command's code, or 128+signal.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int status_fd = -1;
static volatile pid_t child = 0;

static void report(const char *fmt, int a, int b)
{
    char line[64];
    int n = snprintf(line, sizeof line, fmt, a, b);
    if (status_fd >= 0 && n > 0)
        (void)!write(status_fd, line, (size_t)n);
}

static void fail_in_child(const char *stage, int err)
{
    char line[64];
    int n = snprintf(line, sizeof line, "%s %d\n", stage, err);
    if (n > 0)
        (void)!write(status_fd, line, (size_t)n);
    _exit(127);
}

/* The shared page of the listener hand-over (offsets are the caller's contract: 0, 4, 8). */
struct handover {
    volatile int state;   /* 0: not yet, 1: PUBLISHED */
    volatile int fd;      /* the listener's number in the command's process */
    volatile int taken;   /* written by the caller: 1 taken, 2 gave up */
};
#define HANDOVER_PUBLISHED 1

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static void forward(int sig)
{
    if (child > 0)
        kill(child, sig);
}

/*
 * The launcher's side of the hand-over: wait until the command's process has published its listener, say so on
 * STATUS, and wait until the caller has taken it. False when the caller gave up or took too long (30 s); the
 * command's process has then to be killed. True too when the command's process ended before publishing (its
 * failure is reported as usual).
 */
static int hand_over(struct handover *ho, pid_t pid)
{
    struct timespec nap = { 0, 50 * 1000 }, start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int published = 0;
    for (;;) {
        if (!published && __atomic_load_n(&ho->state, __ATOMIC_ACQUIRE) == HANDOVER_PUBLISHED) {
            report("listener %d %d\n", pid, __atomic_load_n(&ho->fd, __ATOMIC_RELAXED));
            published = 1;
        }
        if (published) {
            int taken = __atomic_load_n(&ho->taken, __ATOMIC_ACQUIRE);
            if (taken == 1)
                return 1;
            if (taken == 2)
                return 0;
        } else {
            siginfo_t info;
            memset(&info, 0, sizeof info);
            if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid)
                return 1; /* ended (e.g. seccomp failed); the wait below reports it */
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > 30)
            return 0;
        nanosleep(&nap, NULL);
    }
}

int main(int argc, char **argv)
{
    const char *handover_path = NULL;
    if (argc > 2 && strcmp(argv[1], "--listener") == 0) {
        handover_path = argv[2];
        argv += 2;
        argc -= 2;
    }
    if (argc < 6) {
        fputs("usage: syscage-exec [--listener HANDOVER] FILTER FLAGS STATUS PATH ARGV0 [ARGS...]\n", stderr);
        return 2;
    }
    unsigned long flags = strtoul(argv[2], NULL, 0);
    status_fd = open(argv[3], O_WRONLY | O_CLOEXEC);
    if (status_fd < 0) {
        perror("syscage-exec: status");
        return 127;
    }
    int filter_fd = open(argv[1], O_RDONLY | O_CLOEXEC);
    /* The caller may now drop its own descriptors: ours are open (or failed, and we say so below). */
    report("ready %d\n", filter_fd < 0 ? errno : 0, 0);

    struct stat st;
    struct sock_filter *insns = NULL;
    int read_error = 0;
    if (filter_fd < 0 || fstat(filter_fd, &st) != 0)
        read_error = errno;
    else if (st.st_size <= 0 || st.st_size % 8 != 0 || st.st_size / 8 > 4096)
        read_error = EINVAL;
    else if (!(insns = malloc((size_t)st.st_size)))
        read_error = ENOMEM;
    else if (pread(filter_fd, insns, (size_t)st.st_size, 0) != st.st_size)
        read_error = EIO;
    close(filter_fd);
    if (read_error) {
        report("read %d\n", read_error, 0);
        return 127;
    }

    struct handover *ho = NULL;
    if (handover_path) {
        int hfd = open(handover_path, O_RDWR | O_CLOEXEC);
        void *page = hfd < 0 ? MAP_FAILED : mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, hfd, 0);
        if (page == MAP_FAILED) {
            report("handover %d\n", errno, 0);
            return 127;
        }
        close(hfd);
        ho = page;
    }

    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    pid_t pid = fork();
    if (pid < 0) {
        report("fork %d\n", errno, 0);
        return 127;
    }
    if (pid == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGQUIT, SIG_DFL);
        /* "Once set, the no_new_privs attribute cannot be unset" (prctl(2)); needed without CAP_SYS_ADMIN. */
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
            fail_in_child("prctl", errno);
        struct sock_fprog prog = { .len = (unsigned short)(st.st_size / 8), .filter = insns };
        long listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
        if (listener < 0)
            fail_in_child("seccomp", errno);
        if (ho) {
            /* From here on, no system call until execve: see "The listener hand-over" above. */
            __atomic_store_n(&ho->fd, (int)listener, __ATOMIC_RELAXED);
            __atomic_store_n(&ho->state, HANDOVER_PUBLISHED, __ATOMIC_RELEASE);
            while (__atomic_load_n(&ho->taken, __ATOMIC_ACQUIRE) != 1)
                cpu_relax();
        }
        execve(argv[4], &argv[5], environ);
        fail_in_child("exec", errno);
    }
    child = pid;
    if (ho && !hand_over(ho, pid))
        kill(pid, SIGKILL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);

    int wstatus;
    while (waitpid(pid, &wstatus, 0) < 0) {
        if (errno != EINTR) {
            report("wait %d\n", errno, 0);
            return 127;
        }
    }
    if (WIFSIGNALED(wstatus)) {
        report("signal %d %d\n", WTERMSIG(wstatus), WCOREDUMP(wstatus) ? 1 : 0);
        return 128 + WTERMSIG(wstatus);
    }
    report("exit %d\n", WEXITSTATUS(wstatus), 0);
    return WEXITSTATUS(wstatus);
}
