/*
 * seccomp_probe: asks the running kernel what it makes of classic BPF seccomp filters.
 *
 * The probe never installs a filter in itself. For each job it starts a child process that sets
 * PR_SET_NO_NEW_PRIVS and calls seccomp(SECCOMP_SET_MODE_FILTER, 0, &prog). The child is made
 * with clone(CLONE_VM | CLONE_VFORK) on a stack of its own, as posix_spawn does: no page tables to
 * copy, so a job costs a fraction of a fork. Filters and no_new_privs belong to the task, so the
 * parent stays unfiltered. The child reports by writing memory, which is not a system call, so no
 * filter can stop the report; then it leaves through exit_group, or, if its filter denies that
 * (ERRNO; TRACE or USER_NOTIF without a tracer or listener), through a fault, whose signal is not
 * filtered either. The parent just waits for it.
 *
 * Input (stdin, little endian, jobs back to back until EOF):
 *   u8  kind          'L' (load) or 'R' (run)
 *   u32 len           number of instructions (sent as is to the kernel's unsigned short len)
 *   len * 8 bytes     struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }
 *   'R' only: u8 ncalls, then ncalls * { u32 nr; u64 args[6]; }
 *
 * Output (stdout, one line per job, in order):
 *   load:  "A"                      accepted
 *          "R <errno>"              seccomp() failed with errno
 *   run:   "R <errno>"              the filter was not installed
 *          "A <c1> <c2> ..."        one token per call, in order:
 *                                     "<ret>:<errno>"  the call returned (errno 0 when ret >= 0)
 *                                     "S<signo>"       the child died by that signal during the call
 *                                     "-"              not reached (an earlier call killed the child)
 *   both:  "E <message>"            no verdict: the probe failed for this job (setup, clone, child died early)
 *
 * Build: cc -O2 -o seccomp_probe seccomp_probe.c   (C99 with GNU/Linux extensions: clone, __atomic)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_PROGRAM 65535 /* sock_fprog.len is an unsigned short */
#define MAX_CALLS 16
#define CHILD_STACK (256 * 1024)
#define CHILD_ALARM_SECONDS 20

enum { STAGE_NONE = 0, STAGE_SETUP_FAILED = 1, STAGE_REJECTED = 2, STAGE_INSTALLED = 3, STAGE_DONE = 4 };

/* What the child tells the parent. The child writes fields, then publishes `stage` (release). */
struct report {
    int stage;
    int setup_errno;
    int install_errno;
    int calls_done;
    long ret[MAX_CALLS];
    int err[MAX_CALLS];
};

struct call {
    uint32_t nr;
    uint64_t args[6];
};

static struct sock_filter program[MAX_PROGRAM + 1];
static struct call calls[MAX_CALLS];
static struct report *shared;

static int read_exact(void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(0, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return got == 0 ? 0 : -1; /* 0: clean EOF before the item, -1: truncated */
        got += (size_t)r;
    }
    return 1;
}

static uint32_t le32(const unsigned char *p) { return p[0] | (p[1] << 8) | (p[2] << 16) | ((uint32_t)p[3] << 24); }

static uint64_t le64(const unsigned char *p) { return le32(p) | ((uint64_t)le32(p + 4) << 32); }

static void publish(int stage) { __atomic_store_n(&shared->stage, stage, __ATOMIC_RELEASE); }

struct job {
    int kind;
    unsigned len;
    int ncalls;
};

/* Only system calls made before seccomp() may fail visibly; everything after it goes through the filter.
 * The child shares the parent's memory, errno (TLS) included; that is safe because CLONE_VFORK keeps the
 * parent stopped until the child is gone. */
static int child_main(void *arg)
{
    const struct job *job = arg;
    int kind = job->kind, ncalls = job->ncalls;
    unsigned len = job->len;
    struct sock_fprog prog = { .len = (unsigned short)len, .filter = program };

    /* Die with the probe. */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    /* Safety net against a call that blocks forever. alarm() is a system call, so arm it now. */
    alarm(CHILD_ALARM_SECONDS);
    /* "the caller must have the CAP_SYS_ADMIN capability in its user namespace, or the thread
     * must already have the no_new_privs bit set" (seccomp(2)). */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        shared->setup_errno = errno;
        publish(STAGE_SETUP_FAILED);
        _exit(1);
    }
    errno = 0;
    long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
    if (r != 0) {
        shared->install_errno = errno;
        publish(STAGE_REJECTED);
        _exit(0); /* no filter yet: exit works */
    }
    /* From here on every system call is filtered. Memory writes are not system calls. */
    publish(STAGE_INSTALLED);
    if (kind == 'R') {
        for (int i = 0; i < ncalls; i++) {
            errno = 0;
            long ret = syscall(calls[i].nr, calls[i].args[0], calls[i].args[1], calls[i].args[2],
                               calls[i].args[3], calls[i].args[4], calls[i].args[5]);
            shared->ret[i] = ret;
            shared->err[i] = ret < 0 ? errno : 0;
            __atomic_store_n(&shared->calls_done, i + 1, __ATOMIC_RELEASE);
        }
        publish(STAGE_DONE);
    }
    /* exit_group may be denied by an arbitrary filter (ERRNO, TRACE or USER_NOTIF without a tracer or
     * listener); a fault needs no system call and its signal is not filtered, so the parent never waits
     * on a live child. */
    syscall(SYS_exit_group, 0);
    __builtin_trap();
    return 0;
}

/* Runs one job; writes its result line to stdout. */
static void run_job(int kind, unsigned len, int ncalls)
{
    static char *stack;
    if (!stack) {
        stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (stack == MAP_FAILED) {
            stack = NULL;
            printf("E mmap: %s\n", strerror(errno));
            return;
        }
    }
    memset(shared, 0, sizeof *shared);
    struct job job = { kind, len, ncalls };
    /* No fflush needed: the child leaves through exit_group or a signal, never through stdio.
     * CLONE_VFORK: we resume when the child has exited. */
    pid_t pid = clone(child_main, stack + CHILD_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, &job);
    if (pid < 0) {
        printf("E clone: %s\n", strerror(errno));
        return;
    }

    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            printf("E waitpid: %s\n", strerror(errno));
            return;
        }
    }

    int stage = __atomic_load_n(&shared->stage, __ATOMIC_ACQUIRE);
    if (stage == STAGE_SETUP_FAILED) {
        printf("E prctl(PR_SET_NO_NEW_PRIVS): %s\n", strerror(shared->setup_errno));
        return;
    }
    if (stage == STAGE_REJECTED) {
        printf("R %d\n", shared->install_errno);
        return;
    }
    if (stage == STAGE_NONE) {
        /* The child died before reporting anything: not a verdict. */
        if (WIFSIGNALED(status))
            printf("E child died by signal %d before seccomp() returned\n", WTERMSIG(status));
        else
            printf("E child exited with %d before seccomp() returned\n", WEXITSTATUS(status));
        return;
    }
    if (kind == 'L') {
        printf("A\n");
        return;
    }
    /* Run job: calls_done calls returned; if the child died before STAGE_DONE, call calls_done killed it. */
    int done = __atomic_load_n(&shared->calls_done, __ATOMIC_ACQUIRE);
    int died_by = 0;
    if (stage != STAGE_DONE) {
        if (!WIFSIGNALED(status)) {
            printf("E child exited with %d in the middle of the calls\n", WEXITSTATUS(status));
            return;
        }
        died_by = WTERMSIG(status);
    }
    printf("A");
    for (int i = 0; i < ncalls; i++) {
        if (i < done)
            printf(" %ld:%d", shared->ret[i], shared->err[i]);
        else if (i == done)
            printf(" S%d", died_by);
        else
            printf(" -");
    }
    printf("\n");
}

int main(void)
{
    /* No core dumps when a filter kills a child with SIGSYS or it leaves through a fault
     * (dumpable belongs to the memory, which the children share). */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    shared = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) {
        fprintf(stderr, "seccomp_probe: mmap: %s\n", strerror(errno));
        return 2;
    }
    for (;;) {
        unsigned char head[5];
        int r = read_exact(head, sizeof head);
        if (r == 0)
            break;
        if (r < 0 || (head[0] != 'L' && head[0] != 'R')) {
            fprintf(stderr, "seccomp_probe: malformed job header\n");
            return 2;
        }
        int kind = head[0];
        uint32_t len = le32(head + 1);
        if (len > MAX_PROGRAM) {
            fprintf(stderr, "seccomp_probe: program length %u exceeds %d\n", len, MAX_PROGRAM);
            return 2;
        }
        static unsigned char raw[(MAX_PROGRAM + 1) * 8];
        if (len > 0 && read_exact(raw, (size_t)len * 8) != 1) {
            fprintf(stderr, "seccomp_probe: truncated program\n");
            return 2;
        }
        for (uint32_t i = 0; i < len; i++) {
            const unsigned char *p = raw + (size_t)i * 8;
            program[i].code = (uint16_t)(p[0] | (p[1] << 8));
            program[i].jt = p[2];
            program[i].jf = p[3];
            program[i].k = le32(p + 4);
        }
        int ncalls = 0;
        if (kind == 'R') {
            unsigned char n;
            if (read_exact(&n, 1) != 1 || n > MAX_CALLS) {
                fprintf(stderr, "seccomp_probe: bad call count\n");
                return 2;
            }
            ncalls = n;
            for (int i = 0; i < ncalls; i++) {
                unsigned char c[4 + 6 * 8];
                if (read_exact(c, sizeof c) != 1) {
                    fprintf(stderr, "seccomp_probe: truncated call\n");
                    return 2;
                }
                calls[i].nr = le32(c);
                for (int j = 0; j < 6; j++)
                    calls[i].args[j] = le64(c + 4 + 8 * j);
            }
        }
        run_job(kind, len, ncalls);
    }
    fflush(stdout);
    return 0;
}
