/*
 * static_workload: a program whose every system call matters, for the minimality and runc tests of syscage record
 * (tests/Syscage.Record.Tests). x86_64, no C library (cc -static -nostdlib -ffreestanding -fno-builtin -fno-stack-protector -O2): the calls it
 * makes are the ones written below and nothing else, every one of them is checked, and any that fails makes the run
 * fail — a different exit status, a missing line, or a crash when even exit_group is refused.
 *
 *   static_workload          prints "static workload: pid ok, uname Linux, / listed, pipe ok, signal ok" and exits 0.
 *
 * Calls, in order: write, getpid, uname, openat, getdents64, close, clock_gettime, mmap, munmap, pipe2, write, read,
 * rt_sigaction, kill (the handler returns through rt_sigreturn), write, exit_group. A failed step exits with its
 * number (exit_group), and writes nothing more.
 */
typedef unsigned long u64;

/* asm/unistd_64.h */
#define NR_read 0
#define NR_write 1
#define NR_close 3
#define NR_mmap 9
#define NR_munmap 11
#define NR_rt_sigaction 13
#define NR_rt_sigreturn 15
#define NR_getpid 39
#define NR_kill 62
#define NR_uname 63
#define NR_getdents64 217
#define NR_clock_gettime 228
#define NR_exit_group 231
#define NR_openat 257
#define NR_pipe2 293
/* uapi values */
#define AT_FDCWD -100
#define O_RDONLY 0
#define O_DIRECTORY 0200000
#define PROT_READ 1
#define PROT_WRITE 2
#define MAP_PRIVATE 2
#define MAP_ANONYMOUS 0x20
#define CLOCK_MONOTONIC 1
#define SIGUSR1 10
#define SA_RESTORER 0x04000000

static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
    return ret;
}
#define sys3(n, a, b, c) sys6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)

static void die(int step)
{
    sys3(NR_exit_group, step, 0, 0);
    /* exit_group refused: crash. */
    __asm__ volatile("ud2");
}

static u64 len(const char *s)
{
    u64 n = 0;
    while (s[n])
        n++;
    return n;
}

static void say(const char *s, int step)
{
    if (sys3(NR_write, 1, s, len(s)) != (long)len(s))
        die(step);
}

/* The kernel's struct sigaction for rt_sigaction (asm/signal.h on x86_64). */
struct ksigaction {
    void (*handler)(int);
    u64 flags;
    void (*restorer)(void);
    u64 mask;
};

static volatile int signalled;

static void handler(int sig)
{
    signalled = sig;
}

/* The handler returns here: rt_sigreturn, as the C library's __restore_rt. */
__asm__(".text\n.align 16\nrestore_rt:\n\tmov $15, %eax\n\tsyscall\n\thlt\n");
void restore_rt(void);

struct utsname { char sysname[65], nodename[65], release[65], version[65], machine[65], domainname[65]; };
struct timespec { long sec, nsec; };

static char dirents[4096];

void _start(void) __attribute__((noreturn, force_align_arg_pointer));
void _start(void)
{
    say("static workload: ", 1);

    if (sys3(NR_getpid, 0, 0, 0) <= 0)
        die(2);
    say("pid ok, ", 3);

    struct utsname u;
    if (sys3(NR_uname, &u, 0, 0) != 0 || u.sysname[0] != 'L' || u.sysname[1] != 'i')
        die(4);
    say("uname Linux, ", 5);

    long fd = sys6(NR_openat, AT_FDCWD, (long)"/", O_RDONLY | O_DIRECTORY, 0, 0, 0);
    if (fd < 0)
        die(6);
    if (sys3(NR_getdents64, fd, dirents, sizeof dirents) <= 0)
        die(7);
    if (sys3(NR_close, fd, 0, 0) != 0)
        die(8);
    say("/ listed, ", 9);

    struct timespec t;
    if (sys3(NR_clock_gettime, CLOCK_MONOTONIC, &t, 0) != 0 || (t.sec == 0 && t.nsec == 0))
        die(10);

    long page = sys6(NR_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page < 0 && page > -4096)
        die(11);
    ((volatile char *)page)[0] = 'x';
    if (sys3(NR_munmap, page, 4096, 0) != 0)
        die(12);

    int fds[2];
    if (sys3(NR_pipe2, fds, 0, 0) != 0)
        die(13);
    if (sys3(NR_write, fds[1], "ping", 4) != 4)
        die(14);
    char got[4];
    if (sys3(NR_read, fds[0], got, 4) != 4 || got[0] != 'p' || got[3] != 'g')
        die(15);
    say("pipe ok, ", 16);

    struct ksigaction sa = { handler, SA_RESTORER, restore_rt, 0 };
    if (sys6(NR_rt_sigaction, SIGUSR1, (long)&sa, 0, 8, 0, 0) != 0)
        die(17);
    if (sys3(NR_kill, sys3(NR_getpid, 0, 0, 0), SIGUSR1, 0) != 0)
        die(18);
    if (signalled != SIGUSR1)
        die(19);
    say("signal ok\n", 20);

    die(0);
    __builtin_unreachable();
}
