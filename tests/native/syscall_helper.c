/*
 * syscall_helper: makes system calls on request and prints what happened, for tests that run it under a
 * seccomp filter (it never installs one itself).
 *
 *   syscall_helper call NR [A0..A5]      make the call, print "ret <r> errno <e>", exit 0
 *   syscall_helper thread NR [A0..A5]    make the call on a second thread; print "thread returned ..." or,
 *                                        if that thread died, "thread gone" from the main thread
 *   syscall_helper trap NR [A0..A5]      with a SIGSYS handler: print "sigsys syscall <nr> errno <data> code <c>"
 *   syscall_helper i386 NR [A0..A5]      (x86_64 only) make the call as i386 does, through int $0x80: the kernel
 *                                        takes NR from i386's table and the filter sees AUDIT_ARCH_I386 and the whole
 *                                        registers; print "ret <r> errno <e>" as above
 *
 * Numbers are strtoull base 0 (decimal, 0x hex); NR may be negative. An argument written s:TEXT is a pointer to
 * the string TEXT (a path for chmod, for instance); one written w:N,N,... is a pointer, below 4 GiB, to those numbers
 * as 32-bit words (the argument array of an i386 socketcall(2)).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

#if defined(__x86_64__)
/* The i386 entry: eax = nr, ebx, ecx, edx, esi, edi, ebp = the six arguments; rbp is saved by hand (it may be the frame
 * pointer). The result comes back in eax as -errno, as the kernel returns it. */
static void do_i386_call(void)
{
    register long rax __asm__("rax") = nr;
    register unsigned long long r8 __asm__("r8") = a[5];
    __asm__ volatile("push %%rbp\n\tmov %%r8, %%rbp\n\tint $0x80\n\tpop %%rbp"
                     : "+r"(rax)
                     : "b"(a[0]), "c"(a[1]), "d"(a[2]), "S"(a[3]), "D"(a[4]), "r"(r8)
                     : "memory", "cc");
    int r = (int)rax;
    printf("ret %d errno %d\n", r < 0 && r > -4096 ? -1 : r, r < 0 && r > -4096 ? -r : 0);
    fflush(stdout);
}
#endif

/* w:N,N,...: the numbers as 32-bit words in memory an i386 call can address (below 4 GiB). */
static unsigned long long words(const char *list)
{
    uint32_t *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    if (w == MAP_FAILED) {
        perror("mmap");
        exit(2);
    }
    for (int i = 0; i < 1024 && *list; i++) {
        char *end;
        w[i] = (uint32_t)strtoull(list, &end, 0);
        list = *end == ',' ? end + 1 : end;
    }
    return (unsigned long long)(uintptr_t)w;
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
        fputs("usage: syscall_helper call|thread|trap|i386 NR [A0..A5]\n", stderr);
        return 2;
    }
    nr = strtol(argv[2], NULL, 0);
    for (int i = 0; i < 6 && 3 + i < argc; i++)
        a[i] = strncmp(argv[3 + i], "s:", 2) == 0 ? (unsigned long long)(uintptr_t)(argv[3 + i] + 2)
             : strncmp(argv[3 + i], "w:", 2) == 0 ? words(argv[3 + i] + 2)
             : strtoull(argv[3 + i], NULL, 0);
    if (strcmp(argv[1], "call") == 0) {
        do_call("");
    } else if (strcmp(argv[1], "thread") == 0) {
        pthread_t t;
        pthread_create(&t, NULL, thread_main, NULL);
        pthread_join(t, NULL);
        if (!thread_done)
            puts("thread gone");
    } else if (strcmp(argv[1], "i386") == 0) {
#if defined(__x86_64__)
        do_i386_call();
#else
        fputs("syscall_helper: i386 calls are made from x86_64 only\n", stderr);
        return 2;
#endif
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
