/*
 * syscage-exec: run a command under seccomp filters, tie its whole process tree to the caller's life, and report
 * exactly how it ended.
 *
 *   syscage-exec [--listener] [--cwd DIR] -- PATH ARGV0 [ARGS...]
 *
 * Syscage's launcher. The .NET runtime never forks itself to install a filter: it starts this small program with
 * posix_spawn, handing it three descriptors at fixed numbers (the spawn's dup2 file actions, so no other process
 * the caller starts meanwhile can inherit them):
 *   3  CONTROL (read end of a pipe from the caller): the filters, then nothing. The caller holds the write end for
 *      as long as it supervises; when it hangs up (closes it, or dies: the kernel closes a dead process's
 *      descriptors) or writes a byte, the launcher kills the command's whole process tree.
 *   4  STATUS (write end of a pipe to the caller): one line per event, below.
 *   5  HANDOVER (with --listener): a memfd of one page, shared with the caller (see "The listener hand-over").
 *
 * CONTROL carries, in native byte order: u32 count, then per filter u32 flags, u32 length (instructions),
 * u64 marker, and length struct sock_filter. The command's process installs the filters in that order with
 * seccomp(SECCOMP_SET_MODE_FILTER, flags, prog, marker): the marker is an otherwise unused fourth register that a
 * filter installed before can test (seccomp_data.args[3]) to tell this installation from the command's own.
 *
 * STATUS lines:
 *   "pid <pid>"                 the command's process exists (it is this launcher's only child)
 *   "<stage> <errno>"           the launcher or the command's process failed at stage chdir, read, handover,
 *                               fork, seccomp, prctl or exec (the command never ran)
 *   "listener <pid> <fd>"       (with --listener) the command's process <pid> holds the listener as <fd>
 *   "swept <n>"                 n processes of the command's tree (besides the command) were killed when the
 *                               command ended or the caller hung up
 *   "exit <code>"               the command exited
 *   "signal <signo> <core>"     the command was killed by a signal (core: 1 if it dumped core)
 * STATUS is close-on-exec, so the command never holds it. The exec report needs write(2) to be allowed by the
 * filters; if it is not, the command's process exits 127 and only "exit 127" arrives.
 *
 * The command's process tree lives no longer than the caller (docs/security.md):
 *   - the launcher is a child subreaper (PR_SET_CHILD_SUBREAPER): every process the command starts that loses its
 *     parent is reparented to the launcher, not to init, so the tree can't leave it;
 *   - when the command's process ends, or the caller hangs up, the launcher kills every descendant it has with
 *     SIGKILL, and again for those reparented meanwhile, until it has no child left;
 *   - the command's process has PR_SET_PDEATHSIG(SIGKILL), in case the launcher itself is killed.
 * The launcher is not dumpable (PR_SET_DUMPABLE 0): a process of the same user can't ptrace it, read or write its
 * memory or take its descriptors. The command's process makes itself dumpable again before installing the filters,
 * so the caller can take its listener; execve sets it anew for the program.
 *
 * Signals. The launcher receives every catchable signal through a signalfd. A signal from anyone but the caller (its
 * parent) was sent to the whole process group — by the terminal, a shell's job control or kill(-pgid) — and the
 * command got its own copy: it is not passed on, but counted. A signal from the caller is the caller passing on one
 * it received: passed on to the command, unless it matches such a group signal counted in the last five seconds
 * (the caller got its copy of the same group signal), which it then uses up. SIGCHLD reaps.
 * A signal the caller ignores stays ignored by the command, as across any exec (nohup, a background job's SIGINT), and
 * is not caught here; SIGPIPE is the exception: the .NET runtime ignores it for itself.
 *
 * The listener hand-over (--listener, and SECCOMP_FILTER_FLAG_NEW_LISTENER on the last filter).
 * seccomp() returns the user-notification listener in the process that installs the filter, which is the
 * command's; the supervisor is the caller, the command's grandparent. The fd must reach it before the command's
 * first instruction, and the command must never hold it (it would answer its own calls). Once the filter is in
 * place every system call of the command's process is judged by it, and a call the policy sends to user space
 * blocks until someone answers on the listener — which nobody can do before the hand-over. So the hand-over makes
 * no system call in the command's process:
 *   - HANDOVER is mapped MAP_SHARED before fork(), so the command's process shares the page with the launcher and,
 *     through the memfd's page cache, with the caller.
 *   - The command's process installs the filters, stores the listener's number in the page and sets
 *     state = PUBLISHED (atomic stores), then spins on `taken` with plain loads and a pause instruction — no system
 *     call — until it is set.
 *   - The launcher polls the page, and once PUBLISHED writes "listener <pid> <fd>" on STATUS.
 *   - The caller takes a duplicate with pidfd_open(pid) + pidfd_getfd(pidfd, fd) (PTRACE_MODE_ATTACH rights over
 *     its grandchild: same user) and writes taken = 1 into the memfd with pwrite.
 *   - The command's process sees taken and calls execve(); its own copy of the listener is close-on-exec
 *     ("The file descriptor is created with the close-on-exec flag set", seccomp(2)), so the command never holds
 *     it. The execve is judged by the filter with the supervisor already listening.
 * If the caller does not take the listener within 30 seconds, writes taken = 2 (gave up) or hangs up, the launcher
 * kills the command's process with SIGKILL (it can't be asked to exit: exit_group might be notified).
 *
 * Exit status: the command's code, or 128+signal; 127 when the command never ran.
 *
 * Freestanding: no C library, only the kernel's system calls (the few lines of assembly below enter them and start
 * main) and its uapi headers. The launcher is started once per sandboxed command, often from a memfd the caller fills
 * with it first: linked with the C library statically it was 860 KB, to copy and map at every start, and spent its
 * first 0.1 ms starting the library; this way it is a few pages. It is a PIE with no relocation at all (the build
 * checks), so it needs no loader and keeps its random load address. Every call returns -errno (no global errno);
 * memory comes from mmap.
 */

#include <asm/unistd.h>
#include <linux/fcntl.h>
#include <linux/filter.h>
#include <linux/mman.h>
#include <linux/poll.h>
#include <linux/prctl.h>
#include <linux/seccomp.h>
#include <linux/signal.h>
#include <linux/signalfd.h>
#include <linux/time.h>
#include <linux/time_types.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <asm/siginfo.h>

typedef unsigned long size_t;
typedef long ssize_t;
typedef int pid_t;
typedef __u64 u64;
typedef __u32 u32;
#define NULL ((void *)0)

enum { CONTROL_FD = 3, STATUS_FD = 4, HANDOVER_FD = 5 };
enum { MAX_FILTERS = 8, BPF_MAXINSNS_ = 4096 };
/* Signals 1..64; the C library keeps 32 and 33 for itself, so its SIGRTMIN, the first a program may use, is 34. */
enum { LAST_SIGNAL = 64, LIBC_SIGRTMIN = 34 };
enum { E_INTR = 4, E_IO = 5, E_CHILD = 10, E_AGAIN = 11, E_NOMEM = 12, E_INVAL = 22 };

/* ---- System calls ---- */

#if defined(__x86_64__)
static inline long sys6(long n, long a, long b, long c, long d, long e, long f)
{
    register long r10 __asm__("r10") = d, r8 __asm__("r8") = e, r9 __asm__("r9") = f;
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
    return ret;
}
/* The kernel starts a program with argc at the top of the stack, then argv, a null, envp. */
__asm__(".text\n.globl _start\n.type _start,@function\n_start:\n"
        "  xor %ebp, %ebp\n  mov %rsp, %rdi\n  and $-16, %rsp\n  call start_main\n  hlt\n");
#elif defined(__aarch64__)
static inline long sys6(long n, long a, long b, long c, long d, long e, long f)
{
    register long x8 __asm__("x8") = n, x0 __asm__("x0") = a, x1 __asm__("x1") = b, x2 __asm__("x2") = c,
                  x3 __asm__("x3") = d, x4 __asm__("x4") = e, x5 __asm__("x5") = f;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
    return x0;
}
__asm__(".text\n.globl _start\n.type _start,@function\n_start:\n"
        "  mov x29, #0\n  mov x30, #0\n  mov x0, sp\n  bl start_main\n  brk #0\n");
#else
#error "syscage-exec: x86_64 and aarch64 only"
#endif

static inline long sys0(long n) { return sys6(n, 0, 0, 0, 0, 0, 0); }
static inline long sys1(long n, long a) { return sys6(n, a, 0, 0, 0, 0, 0); }
static inline long sys2(long n, long a, long b) { return sys6(n, a, b, 0, 0, 0, 0); }
static inline long sys3(long n, long a, long b, long c) { return sys6(n, a, b, c, 0, 0, 0); }
static inline long sys4(long n, long a, long b, long c, long d) { return sys6(n, a, b, c, d, 0, 0); }
static inline long sys5(long n, long a, long b, long c, long d, long e) { return sys6(n, a, b, c, d, e, 0); }

static __attribute__((noreturn)) void exit_now(int code)
{
    for (;;)
        sys1(__NR_exit_group, code);
}

static ssize_t sys_read(int fd, void *p, size_t n) { return sys3(__NR_read, fd, (long)p, (long)n); }
static ssize_t sys_write(int fd, const void *p, size_t n) { return sys3(__NR_write, fd, (long)p, (long)n); }
static int sys_close(int fd) { return (int)sys1(__NR_close, fd); }
static int sys_openat(const char *path, int flags) { return (int)sys4(__NR_openat, AT_FDCWD, (long)path, flags, 0); }
static int sys_prctl(int option, unsigned long arg) { return (int)sys5(__NR_prctl, option, (long)arg, 0, 0, 0); }
static int sys_fcntl(int fd, int cmd, long arg) { return (int)sys3(__NR_fcntl, fd, cmd, arg); }
static int sys_kill(pid_t pid, int sig) { return (int)sys2(__NR_kill, pid, sig); }
static pid_t sys_getpid(void) { return (pid_t)sys0(__NR_getpid); }
static pid_t sys_getppid(void) { return (pid_t)sys0(__NR_getppid); }
/* fork(): a child with a copy of this address space, on a copy of this stack. */
static pid_t sys_fork(void) { return (pid_t)sys5(__NR_clone, SIGCHLD, 0, 0, 0, 0); }
static int sys_sigprocmask(int how, const u64 *set) { return (int)sys4(__NR_rt_sigprocmask, how, (long)set, 0, sizeof(u64)); }
static int sys_wait4(pid_t pid, int *status, int options) { return (int)sys4(__NR_wait4, pid, (long)status, options, 0); }
static int sys_waitid(int which, pid_t pid, siginfo_t *info, int options) { return (int)sys5(__NR_waitid, which, pid, (long)info, options, 0); }

static void *mem_alloc(size_t n)
{
    long p = sys6(__NR_mmap, 0, (long)n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p < 0 && p > -4096 ? NULL : (void *)p;
}

static void mem_free(void *p, size_t n)
{
    if (p)
        sys2(__NR_munmap, (long)p, (long)n);
}

/* The compiler may call these for copies and clearing; there is no C library to provide them. */
void *memset(void *d, int c, size_t n);
void *memcpy(void *restrict d, const void *restrict s, size_t n);
__attribute__((used)) void *memset(void *d, int c, size_t n)
{
    volatile unsigned char *p = d;
    while (n--)
        *p++ = (unsigned char)c;
    return d;
}
__attribute__((used)) void *memcpy(void *restrict d, const void *restrict s, size_t n)
{
    volatile unsigned char *p = d;
    const unsigned char *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}

static int str_eq(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

static size_t str_len(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

/* Appends the decimal form of v at p; returns the end. */
static char *put_long(char *p, long v)
{
    char digits[24];
    int n = 0;
    unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;
    do
        digits[n++] = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (v < 0)
        *p++ = '-';
    while (n > 0)
        *p++ = digits[--n];
    return p;
}

static char *put_str(char *p, const char *s)
{
    while (*s)
        *p++ = *s++;
    return p;
}

/* One STATUS line: WORD, then count numbers of values, space-separated. */
static void report(const char *word, int count, long a, long b)
{
    char line[80];
    char *p = put_str(line, word);
    if (count > 0)
        p = put_long(put_str(p, " "), a);
    if (count > 1)
        p = put_long(put_str(p, " "), b);
    *p++ = '\n';
    (void)sys_write(STATUS_FD, line, (size_t)(p - line));
}

static __attribute__((noreturn)) void fail_in_child(const char *stage, int err)
{
    report(stage, 1, err, 0);
    exit_now(127);
}

static u64 now_ms(void)
{
    struct __kernel_timespec t = { 0, 0 };
    sys2(__NR_clock_gettime, CLOCK_MONOTONIC, (long)&t);
    return (u64)t.tv_sec * 1000 + (u64)t.tv_nsec / 1000000;
}

static void nap_us(long us)
{
    struct __kernel_timespec t = { 0, us * 1000 };
    sys4(__NR_clock_nanosleep, CLOCK_MONOTONIC, 0, (long)&t, 0);
}

/* ---- Signal sets: bit s-1 for signal s ---- */

static u64 bit(int sig) { return 1ULL << (sig - 1); }

/* The kernel's struct sigaction (rt_sigaction(2)): the C library's differs and refuses signals 32 and 33. */
struct kernel_sigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    u64 mask;
};

struct filter {
    u32 flags;
    u64 marker;
    struct sock_fprog prog;
};

/* Reads exactly n bytes from CONTROL; 0 on success, else an errno (EIO when the caller hung up early). */
static int read_exact(void *buffer, size_t n)
{
    char *p = buffer;
    while (n > 0) {
        ssize_t got = sys_read(CONTROL_FD, p, n);
        if (got == -E_INTR)
            continue;
        if (got <= 0)
            return got < 0 ? (int)-got : E_IO;
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

static int read_filters(struct filter *filters, u32 *count)
{
    int e = read_exact(count, sizeof *count);
    if (e)
        return e;
    if (*count == 0 || *count > MAX_FILTERS)
        return E_INVAL;
    for (u32 i = 0; i < *count; i++) {
        u32 head[2];
        if ((e = read_exact(head, sizeof head)) || (e = read_exact(&filters[i].marker, sizeof filters[i].marker)))
            return e;
        if (head[1] == 0 || head[1] > BPF_MAXINSNS_)
            return E_INVAL;
        filters[i].flags = head[0];
        filters[i].prog.len = (unsigned short)head[1];
        filters[i].prog.filter = mem_alloc(head[1] * sizeof(struct sock_filter));
        if (!filters[i].prog.filter)
            return E_NOMEM;
        if ((e = read_exact(filters[i].prog.filter, head[1] * sizeof(struct sock_filter))))
            return e;
    }
    return 0;
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
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Waits at most timeout_ms for fds; the ready count, or -errno. */
static int poll_ms(struct pollfd *fds, int n, int timeout_ms)
{
    struct __kernel_timespec t = { timeout_ms / 1000, (timeout_ms % 1000) * 1000000L };
    return (int)sys5(__NR_ppoll, (long)fds, n, timeout_ms < 0 ? 0 : (long)&t, 0, sizeof(u64));
}

/* True when the caller has hung up or asked for the end (a byte, or EOF, on CONTROL). */
static int caller_gone(int timeout_ms)
{
    struct pollfd p = { CONTROL_FD, POLLIN, 0 };
    return poll_ms(&p, 1, timeout_ms) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

/*
 * The launcher's side of the hand-over: wait until the command's process has published its listener, say so on
 * STATUS, and wait until the caller has taken it. False when the caller gave up, hung up or took too long (30 s);
 * the command's process has then to be killed. True too when the command's process ended before publishing (its
 * failure is reported as usual).
 */
static int hand_over(struct handover *ho, pid_t pid)
{
    u64 start = now_ms();
    int published = 0;
    for (;;) {
        if (!published && __atomic_load_n(&ho->state, __ATOMIC_ACQUIRE) == HANDOVER_PUBLISHED) {
            report("listener", 2, pid, __atomic_load_n(&ho->fd, __ATOMIC_RELAXED));
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
            if (sys_waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid)
                return 1; /* ended (e.g. seccomp failed); the main loop reports it */
        }
        if (now_ms() - start > 30000 || caller_gone(0))
            return 0;
        nap_us(50);
    }
}

/*
 * The parent pid in /proc/PID/stat: the fourth field, after the command name, which may hold spaces and ')'; -1 for a
 * zombie (dead already, waiting to be reaped) or a process that is gone.
 */
static pid_t parent_of(pid_t pid)
{
    char path[64], buffer[512];
    char *p = put_str(put_long(put_str(path, "/proc/"), pid), "/stat");
    *p = 0;
    int fd = sys_openat(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = sys_read(fd, buffer, sizeof buffer - 1);
    sys_close(fd);
    if (n <= 0)
        return -1;
    buffer[n] = 0;
    char *end = NULL;
    for (char *c = buffer; *c; c++)
        if (*c == ')')
            end = c;
    /* ") S PPID ..." */
    if (!end || end[1] != ' ' || end[2] == 0 || end[2] == 'Z' || end[3] != ' ')
        return -1;
    long ppid = 0;
    char *d = end + 4;
    if (*d < '0' || *d > '9')
        return -1;
    while (*d >= '0' && *d <= '9')
        ppid = ppid * 10 + (*d++ - '0');
    return (pid_t)ppid;
}

/* Grows an mmap'd array of count elements of size bytes from *cap to twice as many; 0 on failure (the old one kept). */
static int grow(void **array, size_t *cap, size_t size, size_t count)
{
    size_t bigger = *cap ? 2 * *cap : 64;
    void *p = mem_alloc(bigger * size);
    if (!p)
        return 0;
    if (*array) {
        memcpy(p, *array, count * size);
        mem_free(*array, *cap * size);
    }
    *array = p;
    *cap = bigger;
    return 1;
}

/* The processes a sweep has killed so far (a process being killed may show up in the next round again). */
static pid_t *killed_pids;
static size_t killed_count, killed_cap;

static pid_t command = -1;

/* Notes a process of the command's tree killed by a sweep (the command itself is reported by its status). */
static void note_killed(pid_t pid)
{
    if (pid == command)
        return;
    for (size_t i = 0; i < killed_count; i++)
        if (killed_pids[i] == pid)
            return;
    if (killed_count == killed_cap && !grow((void **)&killed_pids, &killed_cap, sizeof *killed_pids, killed_count))
        return;
    killed_pids[killed_count++] = pid;
}

/* getdents64(2)'s record. */
struct dirent64 {
    u64 d_ino;
    __s64 d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/*
 * SIGKILLs every live descendant of this process (found through the parent links in /proc) and notes it. Killing a
 * process reparents its children to this subreaper, where the next round finds them.
 */
static void kill_descendants(void)
{
    pid_t self = sys_getpid();
    int proc = sys_openat("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (proc < 0)
        return;
    size_t n = 0, cap = 0;
    pid_t (*links)[2] = NULL;
    int ok = 1;
    static char entries[8192] __attribute__((aligned(8)));
    for (;;) {
        long got = sys3(__NR_getdents64, proc, (long)entries, sizeof entries);
        if (got <= 0)
            break;
        for (long at = 0; at < got;) {
            struct dirent64 *e = (struct dirent64 *)(entries + at);
            at += e->d_reclen;
            const char *name = e->d_name;
            if (*name < '0' || *name > '9')
                continue;
            long pid = 0;
            while (*name >= '0' && *name <= '9')
                pid = pid * 10 + (*name++ - '0');
            pid_t ppid = parent_of((pid_t)pid);
            if (ppid <= 0)
                continue;
            if (n == cap && !grow((void **)&links, &cap, sizeof *links, n)) {
                ok = 0;
                break;
            }
            links[n][0] = (pid_t)pid;
            links[n][1] = ppid;
            n++;
        }
        if (!ok)
            break;
    }
    sys_close(proc);
    if (!links)
        return;
    /* Mark descendants: repeat until no new one is found (parent links may come in any order). */
    char *mine = mem_alloc(n ? n : 1);
    int changed = 1;
    while (mine && changed) {
        changed = 0;
        for (size_t i = 0; i < n; i++) {
            if (mine[i])
                continue;
            int is_mine = links[i][1] == self;
            for (size_t j = 0; !is_mine && j < n; j++)
                is_mine = mine[j] && links[j][0] == links[i][1];
            if (is_mine) {
                mine[i] = 1;
                changed = 1;
            }
        }
    }
    for (size_t i = 0; mine && i < n; i++)
        if (mine[i] && sys_kill(links[i][0], SIGKILL) == 0)
            note_killed(links[i][0]);
    mem_free(mine, n ? n : 1);
    mem_free(links, cap * sizeof *links);
}

static int command_status = -1;   /* the command's wait status, once reaped */

/* Reaps every child that has ended; remembers the command's status. */
static void reap(void)
{
    int status;
    pid_t pid;
    while ((pid = sys_wait4(-1, &status, WNOHANG)) > 0)
        if (pid == command)
            command_status = status;
}

/* True when this process has no child left, running or dead. */
static int childless(void)
{
    siginfo_t info;
    memset(&info, 0, sizeof info);
    return sys_waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == -E_CHILD;
}

/*
 * Kills the command's whole tree and waits until this process has no child left. A launcher without children has
 * nothing to sweep, and is not made to read every /proc/PID/stat to learn it: as a subreaper it inherits every
 * orphan of the tree, so each live process of the tree is a child of the launcher or a descendant of one.
 */
static void sweep(void)
{
    for (;;) {
        reap();
        if (childless())
            return;
        kill_descendants();
        reap();
        if (childless())
            return;
        nap_us(1000);
    }
}

static int is_forwardable(int sig)
{
    /* Faults are about the launcher itself; SIGCHLD is its own business; 32 and 33 belong to the C library. */
    switch (sig) {
    case SIGKILL: case SIGSTOP: case SIGCHLD: case SIGSEGV: case SIGBUS: case SIGFPE: case SIGILL: case SIGTRAP:
    case SIGABRT: case SIGSYS:
        return 0;
    default:
        return sig < LIBC_SIGRTMIN ? sig < 32 : 1;
    }
}

/* The wait status's parts (wait(2)'s macros). */
static int exited_code(int status) { return (status >> 8) & 0xff; }
static int term_signal(int status) { return status & 0x7f; }
static int signalled(int status) { return term_signal(status) != 0 && term_signal(status) != 0x7f; }
static int dumped_core(int status) { return (status & 0x80) != 0; }

static void usage(const char *message)
{
    (void)sys_write(2, message, str_len(message));
}

static int launcher_main(int argc, char **argv, char **environ)
{
    /* The caller's handlers don't survive exec ("execve(2): the dispositions of any signals that are being caught are
     * reset to the default"); what it ignores does, as for any exec (nohup's SIGHUP, SIGINT and SIGQUIT of a
     * background job), except SIGPIPE and 32 and 33, which the .NET runtime and the C library ignore for themselves:
     * those are reset here, every other disposition is only read. */
    u64 ignored = 0;
    for (int s = 1; s <= LAST_SIGNAL; s++) {
        if (s == SIGKILL || s == SIGSTOP)
            continue;
        struct kernel_sigaction old;
        memset(&old, 0, sizeof old);
        if (sys4(__NR_rt_sigaction, s, 0, (long)&old, sizeof(u64)) != 0 || old.handler == SIG_DFL)
            continue;
        if (old.handler == SIG_IGN && s != SIGPIPE && s != 32 && s != 33) {
            ignored |= bit(s);
            continue;
        }
        struct kernel_sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.handler = SIG_DFL;
        sys4(__NR_rt_sigaction, s, (long)&dfl, 0, sizeof(u64));
    }
    const u64 none = 0;
    sys_sigprocmask(SIG_SETMASK, &none);

    int listening = 0, i = 1;
    const char *cwd = NULL;
    for (; i < argc && !str_eq(argv[i], "--"); i++) {
        if (str_eq(argv[i], "--listener"))
            listening = 1;
        else if (str_eq(argv[i], "--cwd") && i + 1 < argc)
            cwd = argv[++i];
        else
            break;
    }
    if (i >= argc || !str_eq(argv[i], "--") || argc - i < 3) {
        usage("usage: syscage-exec [--listener] [--cwd DIR] -- PATH ARGV0 [ARGS...] (descriptors 3, 4 and 5 from the caller)\n");
        return 2;
    }
    char **target = &argv[i + 1];
    if (sys_fcntl(CONTROL_FD, F_SETFD, FD_CLOEXEC) != 0 || sys_fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC) != 0 ||
        (listening && sys_fcntl(HANDOVER_FD, F_SETFD, FD_CLOEXEC) != 0)) {
        usage("syscage-exec: descriptors 3 and 4 (and 5 with --listener) must come from the caller\n");
        return 2;
    }
    const pid_t caller = sys_getppid(), self = sys_getpid();
    /* "Processes that are not dumpable can not be attached via ptrace(2) PTRACE_ATTACH" (prctl(2)); the same check
     * guards /proc/PID/mem, process_vm_writev and pidfd_getfd. */
    sys_prctl(PR_SET_DUMPABLE, 0);
    /* Orphans of the command's tree come here, not to init, so the tree can be killed as a whole. */
    int e = sys_prctl(PR_SET_CHILD_SUBREAPER, 1);
    if (e != 0) {
        report("prctl", 1, -e, 0);
        return 127;
    }
    if (cwd && (e = (int)sys1(__NR_chdir, (long)cwd)) != 0) {
        report("chdir", 1, -e, 0);
        return 127;
    }

    struct filter filters[MAX_FILTERS];
    u32 count = 0;
    e = read_filters(filters, &count);
    if (e) {
        report("read", 1, e, 0);
        return 127;
    }
    struct handover *ho = NULL;
    if (listening) {
        long page = sys6(__NR_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, HANDOVER_FD, 0);
        if (page < 0 && page > -4096) {
            report("handover", 1, -page, 0);
            return 127;
        }
        sys_close(HANDOVER_FD);
        ho = (struct handover *)page;
    }

    /* Every catchable signal arrives through the signalfd from now on, so none is lost around fork. */
    u64 caught = 0;
    for (int s = 1; s <= LAST_SIGNAL; s++)
        if (s == SIGCHLD || (is_forwardable(s) && !(ignored & bit(s))))
            caught |= bit(s);
    sys_sigprocmask(SIG_BLOCK, &caught);
    int sfd = (int)sys4(__NR_signalfd4, -1, (long)&caught, sizeof(u64), SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        report("signalfd", 1, -sfd, 0);
        return 127;
    }

    pid_t pid = sys_fork();
    if (pid < 0) {
        report("fork", 1, -pid, 0);
        return 127;
    }
    if (pid == 0) {
        /* Die with the launcher; if it died before this line, the parent is already someone else. */
        if (sys_prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || sys_getppid() != self)
            exit_now(127);
        sys_prctl(PR_SET_DUMPABLE, 1);
        /* "Once set, the no_new_privs attribute cannot be unset" (prctl(2)); needed without CAP_SYS_ADMIN. */
        if ((e = (int)sys5(__NR_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) != 0)
            fail_in_child("prctl", -e);
        long listener = -1;
        for (u32 f = 0; f < count; f++) {
            long r = sys4(__NR_seccomp, SECCOMP_SET_MODE_FILTER, filters[f].flags, (long)&filters[f].prog, (long)filters[f].marker);
            if (r < 0)
                fail_in_child("seccomp", (int)-r);
            if (filters[f].flags & SECCOMP_FILTER_FLAG_NEW_LISTENER)
                listener = r;
        }
        if (ho) {
            /* From here on, no system call until execve: see "The listener hand-over" above. */
            __atomic_store_n(&ho->fd, (int)listener, __ATOMIC_RELAXED);
            __atomic_store_n(&ho->state, HANDOVER_PUBLISHED, __ATOMIC_RELEASE);
            while (__atomic_load_n(&ho->taken, __ATOMIC_ACQUIRE) != 1)
                cpu_relax();
        }
        sys_sigprocmask(SIG_SETMASK, &none);
        e = (int)sys3(__NR_execve, (long)target[0], (long)&target[1], (long)environ);
        fail_in_child("exec", -e);
    }
    command = pid;
    report("pid", 1, pid, 0);
    if (ho && !hand_over(ho, pid))
        sys_kill(pid, SIGKILL);

    /* Group signals seen and not yet matched by the caller's forward of them, and when the last came. */
    unsigned pending[LAST_SIGNAL + 1];
    u64 last_group[LAST_SIGNAL + 1];
    memset(pending, 0, sizeof pending);
    memset(last_group, 0, sizeof last_group);
    while (command_status < 0) {
        struct pollfd p[2] = { { sfd, POLLIN, 0 }, { CONTROL_FD, POLLIN, 0 } };
        if (poll_ms(p, 2, -1) < 0)
            continue;
        if (p[1].revents) {
            /* The caller is gone or wants the end: no call of the tree may outlive its supervision. */
            sweep();
            break;
        }
        struct signalfd_siginfo si;
        while (sys_read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
            int sig = (int)si.ssi_signo;
            if (sig == SIGCHLD || sig < 1 || sig > LAST_SIGNAL)
                continue;
            if ((pid_t)si.ssi_pid != caller) {
                pending[sig]++;           /* a group signal: the command has its own copy */
                last_group[sig] = now_ms();
                continue;
            }
            if (pending[sig] > 0 && now_ms() - last_group[sig] < 5000) {
                pending[sig]--;           /* the caller passing on its copy of that group signal */
                continue;
            }
            pending[sig] = 0;
            sys_kill(command, sig);
        }
        reap();
    }
    /* The command has ended (or was killed with its tree): nothing it started outlives it. */
    sweep();
    if (killed_count > 0)
        report("swept", 1, (long)killed_count, 0);
    if (command_status < 0)
        return 127;
    if (signalled(command_status)) {
        report("signal", 2, term_signal(command_status), dumped_core(command_status) ? 1 : 0);
        return 128 + term_signal(command_status);
    }
    report("exit", 1, exited_code(command_status), 0);
    return exited_code(command_status);
}

/* Called by _start with the stack the kernel made: argc, argv[], NULL, envp[], NULL. */
__attribute__((used, noreturn)) void start_main(long *stack);
__attribute__((used, noreturn)) void start_main(long *stack)
{
    int argc = (int)stack[0];
    char **argv = (char **)(stack + 1);
    exit_now(launcher_main(argc, argv, argv + argc + 1));
}
