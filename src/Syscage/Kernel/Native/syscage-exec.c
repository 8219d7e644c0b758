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
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum { CONTROL_FD = 3, STATUS_FD = 4, HANDOVER_FD = 5 };
enum { MAX_FILTERS = 8, BPF_MAXINSNS_ = 4096 };

static void report(const char *fmt, long a, long b)
{
    char line[80];
    int n = snprintf(line, sizeof line, fmt, a, b);
    if (n > 0)
        (void)!write(STATUS_FD, line, (size_t)n);
}

static void fail_in_child(const char *stage, int err)
{
    char line[64];
    int n = snprintf(line, sizeof line, "%s %d\n", stage, err);
    if (n > 0)
        (void)!write(STATUS_FD, line, (size_t)n);
    _exit(127);
}

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

struct filter {
    uint32_t flags;
    uint64_t marker;
    struct sock_fprog prog;
};

/* Reads exactly n bytes from CONTROL; 0 on success, else an errno (EIO when the caller hung up early). */
static int read_exact(void *buffer, size_t n)
{
    char *p = buffer;
    while (n > 0) {
        ssize_t got = read(CONTROL_FD, p, n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return got < 0 ? errno : EIO;
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

static int read_filters(struct filter *filters, uint32_t *count)
{
    int e = read_exact(count, sizeof *count);
    if (e)
        return e;
    if (*count == 0 || *count > MAX_FILTERS)
        return EINVAL;
    for (uint32_t i = 0; i < *count; i++) {
        uint32_t head[2];
        if ((e = read_exact(head, sizeof head)) || (e = read_exact(&filters[i].marker, sizeof filters[i].marker)))
            return e;
        if (head[1] == 0 || head[1] > BPF_MAXINSNS_)
            return EINVAL;
        filters[i].flags = head[0];
        filters[i].prog.len = (unsigned short)head[1];
        filters[i].prog.filter = malloc(head[1] * sizeof(struct sock_filter));
        if (!filters[i].prog.filter)
            return ENOMEM;
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
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* True when the caller has hung up or asked for the end (a byte, or EOF, on CONTROL). */
static int caller_gone(int timeout_ms)
{
    struct pollfd p = { CONTROL_FD, POLLIN, 0 };
    return poll(&p, 1, timeout_ms) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

/*
 * The launcher's side of the hand-over: wait until the command's process has published its listener, say so on
 * STATUS, and wait until the caller has taken it. False when the caller gave up, hung up or took too long (30 s);
 * the command's process has then to be killed. True too when the command's process ended before publishing (its
 * failure is reported as usual).
 */
static int hand_over(struct handover *ho, pid_t pid)
{
    uint64_t start = now_ms();
    int published = 0;
    for (;;) {
        if (!published && __atomic_load_n(&ho->state, __ATOMIC_ACQUIRE) == HANDOVER_PUBLISHED) {
            report("listener %ld %ld\n", pid, __atomic_load_n(&ho->fd, __ATOMIC_RELAXED));
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
                return 1; /* ended (e.g. seccomp failed); the main loop reports it */
        }
        if (now_ms() - start > 30000 || caller_gone(0))
            return 0;
        struct timespec nap = { 0, 50 * 1000 };
        nanosleep(&nap, NULL);
    }
}

/*
 * The parent pid in /proc/PID/stat: the fourth field, after the command name, which may hold spaces and ')'; -1 for a
 * zombie (dead already, waiting to be reaped) or a process that is gone.
 */
static pid_t parent_of(pid_t pid)
{
    char path[64], buffer[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buffer, sizeof buffer - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buffer[n] = 0;
    char *end = strrchr(buffer, ')');
    int ppid;
    char state;
    return end && sscanf(end + 1, " %c %d", &state, &ppid) == 2 && state != 'Z' ? ppid : -1;
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
    if (killed_count == killed_cap) {
        size_t cap = killed_cap ? 2 * killed_cap : 64;
        pid_t *bigger = realloc(killed_pids, cap * sizeof *bigger);
        if (!bigger)
            return;
        killed_pids = bigger;
        killed_cap = cap;
    }
    killed_pids[killed_count++] = pid;
}

/*
 * SIGKILLs every live descendant of this process (found through the parent links in /proc) and notes it. Killing a
 * process reparents its children to this subreaper, where the next round finds them.
 */
static void kill_descendants(void)
{
    pid_t self = getpid();
    DIR *proc = opendir("/proc");
    if (!proc)
        return;
    size_t n = 0, cap = 256;
    pid_t (*links)[2] = malloc(cap * sizeof *links);
    struct dirent *e;
    while (links && (e = readdir(proc))) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        pid_t pid = (pid_t)atoi(e->d_name), ppid = parent_of(pid);
        if (ppid <= 0)
            continue;
        if (n == cap) {
            void *bigger = realloc(links, 2 * cap * sizeof *links);
            if (!bigger)
                break;
            links = bigger;
            cap *= 2;
        }
        links[n][0] = pid;
        links[n][1] = ppid;
        n++;
    }
    closedir(proc);
    if (!links)
        return;
    /* Mark descendants: repeat until no new one is found (parent links may come in any order). */
    char *mine = calloc(n ? n : 1, 1);
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
        if (mine[i] && kill(links[i][0], SIGKILL) == 0)
            note_killed(links[i][0]);
    free(mine);
    free(links);
}

static int command_status = -1;   /* the command's wait status, once reaped */

/* Reaps every child that has ended; remembers the command's status. */
static void reap(void)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        if (pid == command)
            command_status = status;
}

/* True when this process has no child left, running or dead. */
static int childless(void)
{
    siginfo_t info;
    memset(&info, 0, sizeof info);
    return waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD;
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
        struct timespec nap = { 0, 1000 * 1000 };
        nanosleep(&nap, NULL);
    }
}

/* The kernel's struct sigaction (rt_sigaction(2)): the C library's differs and refuses signals 32 and 33. */
struct kernel_sigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    uint64_t mask;
};

static int is_forwardable(int sig)
{
    /* Faults are about the launcher itself; SIGCHLD is its own business; 32 and 33 belong to the C library. */
    switch (sig) {
    case SIGKILL: case SIGSTOP: case SIGCHLD: case SIGSEGV: case SIGBUS: case SIGFPE: case SIGILL: case SIGTRAP:
    case SIGABRT: case SIGSYS:
        return 0;
    default:
        return sig < SIGRTMIN ? sig < 32 : 1;
    }
}

int main(int argc, char **argv)
{
    /* The caller's handlers don't survive exec; what it ignores does, as for any exec (nohup's SIGHUP, SIGINT and
     * SIGQUIT of a background job), except SIGPIPE and 32 and 33, which the .NET runtime and the C library ignore
     * for themselves. The kernel's own interface is used: the C library's refuses 32 and 33. */
    sigset_t ignored;
    sigemptyset(&ignored);
    for (int s = 1; s < NSIG; s++) {
        if (s == SIGKILL || s == SIGSTOP)
            continue;
        struct kernel_sigaction old, dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.handler = SIG_DFL;
        if (syscall(SYS_rt_sigaction, s, NULL, &old, sizeof(uint64_t)) == 0 && old.handler == SIG_IGN && s != SIGPIPE && s != 32 && s != 33) {
            sigaddset(&ignored, s);
            continue;
        }
        syscall(SYS_rt_sigaction, s, &dfl, NULL, sizeof(uint64_t));
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    int listening = 0, i = 1;
    const char *cwd = NULL;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--listener") == 0)
            listening = 1;
        else if (strcmp(argv[i], "--cwd") == 0 && i + 1 < argc)
            cwd = argv[++i];
        else
            break;
    }
    if (i >= argc || strcmp(argv[i], "--") != 0 || argc - i < 3) {
        fputs("usage: syscage-exec [--listener] [--cwd DIR] -- PATH ARGV0 [ARGS...] (descriptors 3, 4 and 5 from the caller)\n", stderr);
        return 2;
    }
    char **target = &argv[i + 1];
    if (fcntl(CONTROL_FD, F_SETFD, FD_CLOEXEC) != 0 || fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC) != 0 ||
        (listening && fcntl(HANDOVER_FD, F_SETFD, FD_CLOEXEC) != 0)) {
        fputs("syscage-exec: descriptors 3 and 4 (and 5 with --listener) must come from the caller\n", stderr);
        return 2;
    }
    const pid_t caller = getppid(), self = getpid();
    /* "Processes that are not dumpable can not be attached via ptrace(2) PTRACE_ATTACH" (prctl(2)); the same check
     * guards /proc/PID/mem, process_vm_writev and pidfd_getfd. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    /* Orphans of the command's tree come here, not to init, so the tree can be killed as a whole. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
        report("prctl %ld\n", errno, 0);
        return 127;
    }
    if (cwd && chdir(cwd) != 0) {
        report("chdir %ld\n", errno, 0);
        return 127;
    }

    struct filter filters[MAX_FILTERS];
    uint32_t count = 0;
    int e = read_filters(filters, &count);
    if (e) {
        report("read %ld\n", e, 0);
        return 127;
    }
    struct handover *ho = NULL;
    if (listening) {
        void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, HANDOVER_FD, 0);
        if (page == MAP_FAILED) {
            report("handover %ld\n", errno, 0);
            return 127;
        }
        close(HANDOVER_FD);
        ho = page;
    }

    /* Every catchable signal arrives through the signalfd from now on, so none is lost around fork. */
    sigset_t caught;
    sigemptyset(&caught);
    for (int s = 1; s < NSIG; s++)
        if (s == SIGCHLD || (is_forwardable(s) && !sigismember(&ignored, s)))
            sigaddset(&caught, s);
    sigprocmask(SIG_BLOCK, &caught, NULL);
    int sfd = signalfd(-1, &caught, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        report("signalfd %ld\n", errno, 0);
        return 127;
    }

    pid_t pid = fork();
    if (pid < 0) {
        report("fork %ld\n", errno, 0);
        return 127;
    }
    if (pid == 0) {
        /* Die with the launcher; if it died before this line, the parent is already someone else. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != self)
            _exit(127);
        prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
        /* "Once set, the no_new_privs attribute cannot be unset" (prctl(2)); needed without CAP_SYS_ADMIN. */
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
            fail_in_child("prctl", errno);
        long listener = -1;
        for (uint32_t f = 0; f < count; f++) {
            long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, filters[f].flags, &filters[f].prog, filters[f].marker);
            if (r < 0)
                fail_in_child("seccomp", errno);
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
        sigprocmask(SIG_SETMASK, &none, NULL);
        execve(target[0], &target[1], environ);
        fail_in_child("exec", errno);
    }
    command = pid;
    report("pid %ld\n", pid, 0);
    if (ho && !hand_over(ho, pid))
        kill(pid, SIGKILL);

    /* Group signals seen and not yet matched by the caller's forward of them, and when the last came. */
    unsigned pending[NSIG];
    uint64_t last_group[NSIG];
    memset(pending, 0, sizeof pending);
    memset(last_group, 0, sizeof last_group);
    while (command_status < 0) {
        struct pollfd p[2] = { { sfd, POLLIN, 0 }, { CONTROL_FD, POLLIN, 0 } };
        if (poll(p, 2, -1) < 0)
            continue;
        if (p[1].revents) {
            /* The caller is gone or wants the end: no call of the tree may outlive its supervision. */
            sweep();
            break;
        }
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
            int sig = (int)si.ssi_signo;
            if (sig == SIGCHLD)
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
            kill(command, sig);
        }
        reap();
    }
    /* The command has ended (or was killed with its tree): nothing it started outlives it. */
    sweep();
    if (killed_count > 0)
        report("swept %ld\n", (long)killed_count, 0);
    if (command_status < 0)
        return 127;
    if (WIFSIGNALED(command_status)) {
        report("signal %ld %ld\n", WTERMSIG(command_status), WCOREDUMP(command_status) ? 1 : 0);
        return 128 + WTERMSIG(command_status);
    }
    report("exit %ld\n", WEXITSTATUS(command_status), 0);
    return WEXITSTATUS(command_status);
}
