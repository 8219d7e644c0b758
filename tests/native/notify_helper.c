/*
 * notify_helper: makes system calls that tests send to a user-notification supervisor, and prints what happened
 * (it never installs a filter itself; tests run it under one).
 *
 *   notify_helper call NR [A0..A5]          make the call, print "ret <r> errno <e>"
 *   notify_helper mkdir PATH                mkdir(PATH, 0700), print "ret <r> errno <e>"
 *   notify_helper openat PATH               openat(AT_FDCWD, PATH, O_RDONLY), print "ret <r> errno <e>"
 *   notify_helper twice NR                  make the call twice (a supervisor may vanish in between)
 *   notify_helper write-fd NR               r = syscall(NR); write "via addfd\n" to fd r; print "ret <r> errno <e>"
 *   notify_helper trap NR                   with a SIGSYS handler: make the call; the handler prints
 *                                           "sigsys code <si_code>"; then print "ret <r> errno <e>"
 *   notify_helper signal NR                 with a SIGUSR1 handler (no SA_RESTART) that prints "sigusr1": make the
 *                                           call, print "ret <r> errno <e>" (a test signals the task while its call
 *                                           waits for the supervisor)
 *   notify_helper hammer THREADS N NR       THREADS threads each call NR N times; each call must return
 *                                           the caller's thread id (the test's handler answers so); print
 *                                           "hammer ok <calls>" or "hammer bad <count>"
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static long nr;
static long per_thread;
static volatile long bad;
static volatile sig_atomic_t got_sigsys;

static void print_ret(long r)
{
    printf("ret %ld errno %d\n", r, r < 0 ? errno : 0);
    fflush(stdout);
}

static void *hammer(void *arg)
{
    (void)arg;
    long tid = syscall(SYS_gettid);
    for (long i = 0; i < per_thread; i++) {
        long r = syscall(nr, tid, i);
        if (r != tid)
            __atomic_add_fetch(&bad, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void on_sigusr1(int sig)
{
    (void)sig;
    (void)!write(1, "sigusr1\n", 8);
}

static void on_sigsys(int sig, siginfo_t *info, void *ctx)
{
    (void)sig;
    (void)ctx;
    char line[64];
    int n = snprintf(line, sizeof line, "sigsys code %d\n", info->si_code);
    (void)!write(1, line, (size_t)n);
    got_sigsys = 1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fputs("usage: notify_helper call|mkdir|openat|twice|write-fd|hammer ...\n", stderr);
        return 2;
    }
    const char *mode = argv[1];
    errno = 0;
    if (strcmp(mode, "call") == 0) {
        unsigned long long a[6] = { 0 };
        for (int i = 0; i < 6 && 3 + i < argc; i++)
            a[i] = strtoull(argv[3 + i], NULL, 0);
        print_ret(syscall(strtol(argv[2], NULL, 0), a[0], a[1], a[2], a[3], a[4], a[5]));
    } else if (strcmp(mode, "mkdir") == 0) {
        print_ret(mkdir(argv[2], 0700));
    } else if (strcmp(mode, "openat") == 0) {
        print_ret(openat(AT_FDCWD, argv[2], O_RDONLY));
    } else if (strcmp(mode, "twice") == 0) {
        long n = strtol(argv[2], NULL, 0);
        print_ret(syscall(n, 1));
        errno = 0;
        print_ret(syscall(n, 2));
    } else if (strcmp(mode, "write-fd") == 0) {
        long r = syscall(strtol(argv[2], NULL, 0));
        if (r >= 0 && write((int)r, "via addfd\n", 10) != 10)
            r = -2;
        print_ret(r);
    } else if (strcmp(mode, "trap") == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_sigsys;
        sa.sa_flags = SA_SIGINFO;
        sigaction(SIGSYS, &sa, NULL);
        setvbuf(stdout, NULL, _IONBF, 0);
        long r = syscall(strtol(argv[2], NULL, 0));
        int e = errno;
        /* The supervisor sends SIGSYS after its answer, so it may arrive after the call returned: wait until the
         * handler has run (a loaded machine may delay the supervisor's thread for long; 60 s bound liveness only). */
        for (int i = 0; i < 12000 && !got_sigsys; i++)
            usleep(5000);
        errno = e;
        print_ret(r);
    } else if (strcmp(mode, "signal") == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sigusr1;   /* no SA_RESTART: an interrupted call fails with EINTR */
        sigaction(SIGUSR1, &sa, NULL);
        setvbuf(stdout, NULL, _IONBF, 0);
        print_ret(syscall(strtol(argv[2], NULL, 0)));
    } else if (strcmp(mode, "hammer") == 0 && argc >= 5) {
        int threads = atoi(argv[2]);
        per_thread = atol(argv[3]);
        nr = strtol(argv[4], NULL, 0);
        pthread_t t[256];
        for (int i = 0; i < threads && i < 256; i++)
            pthread_create(&t[i], NULL, hammer, NULL);
        for (int i = 0; i < threads && i < 256; i++)
            pthread_join(t[i], NULL);
        if (bad)
            printf("hammer bad %ld\n", bad);
        else
            printf("hammer ok %ld\n", threads * per_thread);
    } else {
        fprintf(stderr, "notify_helper: unknown mode %s\n", mode);
        return 2;
    }
    return 0;
}
