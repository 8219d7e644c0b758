/*
 * syscall_helper: makes system calls on request and prints what happened, for tests that run it under a
 * seccomp filter (it never installs one itself).
 *
 *   syscall_helper call NR [A0..A5]      make the call, print "ret <r> errno <e>", exit 0
 *   syscall_helper thread NR [A0..A5]    make the call on a second thread; print "thread returned ..." or,
 *                                        if that thread died, "thread gone" from the main thread
 *   syscall_helper trap NR [A0..A5]      with a SIGSYS handler: print "sigsys syscall <nr> errno <data> code <c>"
 *
 * Numbers are strtoull base 0 (decimal, 0x hex); NR may be negative. An argument written s:TEXT is a pointer to
 * the string TEXT (a path for chmod, for instance).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long nr;
static unsigned long long a[6];
static volatile int thread_done;

static void do_call(const char *who)
{
    errno = 0;
    long r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    printf("%sret %ld errno %d\n", who, r, r < 0 ? errno : 0);
    fflush(stdout);
}

static void *thread_main(void *arg)
{
    (void)arg;
    do_call("thread ");
    thread_done = 1;
    return NULL;
}

static void on_sigsys(int sig, siginfo_t *info, void *ctx)
{
    (void)sig;
    (void)ctx;
    char line[128];
    int n = snprintf(line, sizeof line, "sigsys syscall %d errno %d code %d\n", info->si_syscall, info->si_errno, info->si_code);
    (void)!write(1, line, (size_t)n);
    _exit(0);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fputs("usage: syscall_helper call|thread|trap NR [A0..A5]\n", stderr);
        return 2;
    }
    nr = strtol(argv[2], NULL, 0);
    for (int i = 0; i < 6 && 3 + i < argc; i++)
        a[i] = strncmp(argv[3 + i], "s:", 2) == 0 ? (unsigned long long)(uintptr_t)(argv[3 + i] + 2) : strtoull(argv[3 + i], NULL, 0);
    if (strcmp(argv[1], "call") == 0) {
        do_call("");
    } else if (strcmp(argv[1], "thread") == 0) {
        pthread_t t;
        pthread_create(&t, NULL, thread_main, NULL);
        pthread_join(t, NULL);
        if (!thread_done)
            puts("thread gone");
    } else if (strcmp(argv[1], "trap") == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_sigsys;
        sa.sa_flags = SA_SIGINFO;
        sigaction(SIGSYS, &sa, NULL);
        do_call("");
    }
    return 0;
}
