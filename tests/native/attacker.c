/*
 * attacker: a sandboxed command that knows how Syscage works and tries to get out. Tests run it under `syscage run`
 * as an unprivileged user (the same one as syscage) and check that every attempt fails. It finds its supervisor as a
 * real attacker would: the launcher is its parent, and syscage is the launcher's parent (/proc/PID/stat is readable).
 *
 *   attacker reach                  try every way to reach syscage and the launcher, harmlessly (signal 0, reads):
 *                                   one line "<vector> <result>" each, result "ok" or the errno's name; one
 *                                   control that must work: SIGTERM to its own child through a /proc pidfd
 *   attacker interfaces             try the interfaces container escapes use (userfaultfd also through
 *                                   /dev/userfaultfd, io_uring, ptrace, process_vm_*, bpf, perf, keyrings, mount
 *                                   APIs, namespaces, vsock, TIOCSTI, ...): one line "<name> <result>" each
 *   attacker takeover CALL [ARG]    kill syscage by every way there is (stop at the first that works; the last is
 *                                   tkill of each of its threads), then for
 *                                   30 s keep trying to install a listener of its own that answers CONTINUE, and to
 *                                   make the refused CALL: "mkdir PATH", "unshare" (CLONE_NEWUSER) or "exec" (a
 *                                   second execve). Prints "ESCAPED <call>" if the call ever succeeds.
 *   attacker survive-kill NR N      N times: fork a child whose second thread flips SIGSYS between a handler,
 *                                   SIG_IGN and SIG_DFL (and blocks and unblocks it) while the first makes
 *                                   syscall(NR); print "survived <s> of <N>" (children whose call returned)
 *   attacker signals FILE           catch every catchable signal, appending "sig <n>" to FILE for each; write
 *                                   "ready <pid>" first; exit when FILE.quit exists
 *   attacker tree FILE              start a tree of sleeping processes (children, grandchildren, one in a new
 *                                   session, one double-forked daemon) and write each pid to FILE, then sleep
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t parent_of(pid_t pid)
{
    char path[64], buffer[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buffer, sizeof buffer - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buffer[n] = 0;
    char *end = strrchr(buffer, ')');
    char state;
    int ppid;
    return end && sscanf(end + 1, " %c %d", &state, &ppid) == 2 ? ppid : -1;
}

static const char *result(long r)
{
    static char text[32];
    if (r >= 0)
        return "ok";
    switch (errno) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case EBUSY: return "EBUSY";
    case ESRCH: return "ESRCH";
    case EINVAL: return "EINVAL";
    case ENOSYS: return "ENOSYS";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    default:
        snprintf(text, sizeof text, "errno%d", errno);
        return text;
    }
}

static void say(const char *vector, long r)
{
    printf("%s %s\n", vector, result(r));
    fflush(stdout);
}

static long open_pidfd(pid_t pid) { return syscall(SYS_pidfd_open, pid, 0); }

static long sigqueue_to(pid_t tgid, pid_t tid, int sig)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = sig;
    si.si_code = SI_QUEUE;
    si.si_pid = getpid();
    si.si_uid = getuid();
    return tid ? syscall(SYS_rt_tgsigqueueinfo, tgid, tid, sig, &si) : syscall(SYS_rt_sigqueueinfo, tgid, sig, &si);
}

/* A filter of our own: USER_NOTIF for `nr`, ALLOW for the rest; returns the listener, or -1. */
static long install_listener(int nr)
{
    struct sock_filter insns[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { .len = 4, .filter = insns };
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
}

static void *answer_continue(void *arg)
{
    int listener = (int)(long)arg;
    for (;;) {
        struct seccomp_notif req;
        memset(&req, 0, sizeof req);
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0)
            continue;
        struct seccomp_notif_resp resp = { .id = req.id, .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE };
        ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
    }
    return NULL;
}

static int reach(void)
{
    pid_t launcher = getppid(), supervisor = parent_of(launcher), group = getpgid(supervisor);
    char path[64];
    int pipefd[2];
    if (pipe(pipefd) != 0)
        return 1;
    say("kill-supervisor", kill(supervisor, 0));
    say("kill-launcher", kill(launcher, 0));
    say("kill-own-group", kill(0, 0));
    say("kill-supervisor-group", kill(-group, 0));
    say("kill-everyone", kill(-1, 0));
    say("kill-supervisor-high-bits", syscall(SYS_kill, (1L << 32) | supervisor, 0));
    say("tkill-supervisor", syscall(SYS_tkill, supervisor, 0));
    say("tgkill-supervisor", syscall(SYS_tgkill, supervisor, supervisor, 0));
    say("tgkill-launcher", syscall(SYS_tgkill, launcher, launcher, 0));
    say("sigqueue-supervisor", sigqueue_to(supervisor, 0, 0));
    say("tgsigqueue-supervisor", sigqueue_to(supervisor, supervisor, 0));
    say("pidfd-open-supervisor", open_pidfd(supervisor));
    say("pidfd-open-launcher", open_pidfd(launcher));
    struct rlimit old;
    say("prlimit-supervisor", syscall(SYS_prlimit64, supervisor, RLIMIT_NOFILE, NULL, &old));
    say("setown-supervisor", fcntl(pipefd[0], F_SETOWN, supervisor));
    say("setsig-kill", fcntl(pipefd[0], F_SETSIG, SIGKILL));
    snprintf(path, sizeof path, "/proc/%d", (int)supervisor);
    int dir = open(path, O_RDONLY | O_DIRECTORY);
    say("proc-pidfd-supervisor", dir < 0 ? dir : syscall(SYS_pidfd_send_signal, dir, 0, NULL, 0));
    snprintf(path, sizeof path, "/proc/%d", (int)launcher);
    dir = open(path, O_RDONLY | O_DIRECTORY);
    say("proc-pidfd-launcher", dir < 0 ? dir : syscall(SYS_pidfd_send_signal, dir, 0, NULL, 0));
    pid_t child = fork();
    if (child == 0) {
        pause();
        _exit(0);
    }
    snprintf(path, sizeof path, "/proc/%d", (int)child);
    dir = open(path, O_RDONLY | O_DIRECTORY);
    long sent = dir < 0 ? dir : syscall(SYS_pidfd_send_signal, dir, SIGTERM, NULL, 0);
    int status = 0;
    waitpid(child, &status, 0);
    say("proc-pidfd-own-child", sent == 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM ? 0 : -1);
    say("pidfd-group-of-self", syscall(SYS_pidfd_send_signal, open_pidfd(getpid()), 0, NULL, 4 /* PIDFD_SIGNAL_PROCESS_GROUP */));
    say("ptrace-supervisor", ptrace(PTRACE_SEIZE, supervisor, 0, 0));
    say("ptrace-launcher", ptrace(PTRACE_SEIZE, launcher, 0, 0));
    snprintf(path, sizeof path, "/proc/%d/mem", (int)supervisor);
    say("mem-write-supervisor", open(path, O_RDWR));
    snprintf(path, sizeof path, "/proc/%d/mem", (int)launcher);
    say("mem-write-launcher", open(path, O_RDWR));
    char link[256];
    snprintf(path, sizeof path, "/proc/%d/fd/0", (int)supervisor);
    say("fd-supervisor", readlink(path, link, sizeof link));
    char byte;
    struct iovec local = { &byte, 1 }, remote = { (void *)0x400000, 1 };
    say("vm-read-supervisor", process_vm_readv(supervisor, &local, 1, &remote, 1, 0));
    say("listener", install_listener(SYS_getppid));
    return 0;
}

/*
 * The interfaces a container escape reaches for, each tried once with arguments that, if the call reaches the kernel
 * as root, either work harmlessly or fail with an error other than EPERM (so "refused by the filter" stands out).
 */
static int interfaces(void)
{
    char c = 0;
    struct { unsigned int sq_entries, cq_entries, flags, sq_thread_cpu, sq_thread_idle, features, wq_fd, resv[3];
             char offsets[80]; } uring;
    memset(&uring, 0, sizeof uring);
    int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
    say("userfaultfd", syscall(SYS_userfaultfd, O_CLOEXEC));
    say("dev-userfaultfd-ioctl", dev < 0 ? dev : ioctl(dev, 0xAA00 /* USERFAULTFD_IOC_NEW */, 0));
    say("dev-userfaultfd-ioctl-high-bits", dev < 0 ? dev : syscall(SYS_ioctl, dev, (1UL << 32) | 0xAA00, 0));
    say("io_uring_setup", syscall(SYS_io_uring_setup, 1, &uring));
    say("ptrace", ptrace(PTRACE_PEEKDATA, 999999999, 0, 0));
    struct iovec local = { &c, 1 }, remote = { &c, 1 };
    say("process_vm_readv", process_vm_readv(999999999, &local, 1, &remote, 1, 0));
    say("process_vm_writev", process_vm_writev(999999999, &local, 1, &remote, 1, 0));
    say("bpf", syscall(SYS_bpf, -1, NULL, 0));
    say("perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
    say("keyctl", syscall(SYS_keyctl, -1, 0, 0, 0, 0));
    say("add_key", syscall(SYS_add_key, NULL, NULL, NULL, 0, 0));
    say("mount", syscall(SYS_mount, "none", "/nonexistent-syscage", "tmpfs", 0, NULL));
    say("fsopen", syscall(SYS_fsopen, "nonexistent-syscage-fs", 0));
    say("open_tree", syscall(SYS_open_tree, -1, "/nonexistent-syscage", 0));
    say("move_mount", syscall(SYS_move_mount, -1, "", -1, "", 0));
    say("pivot_root", syscall(SYS_pivot_root, "/nonexistent-syscage", "/nonexistent-syscage"));
    long child = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (child == 0)
        _exit(0);
    if (child > 0)
        waitpid((pid_t)child, NULL, 0);
    say("clone-newuser", child);
    say("clone3", syscall(SYS_clone3, NULL, 0));
    say("setns", setns(-1, 0));
    say("socket-vsock", socket(40 /* AF_VSOCK */, SOCK_STREAM, 0));
    say("socket-vsock-high-bits", syscall(SYS_socket, (1L << 32) | 40, SOCK_STREAM, 0));
    say("ioctl-tiocsti", ioctl(0, TIOCSTI, &c));
    say("ioctl-tiocsti-high-bits", syscall(SYS_ioctl, 0, (1UL << 32) | TIOCSTI, &c));
    say("kcmp", syscall(SYS_kcmp, getpid(), getpid(), 0 /* KCMP_FILE */, 0, 0));
    say("pidfd_getfd", syscall(SYS_pidfd_getfd, -1, 0, 0));
    say("open_by_handle_at", syscall(SYS_open_by_handle_at, -1, NULL, 0));
    say("name_to_handle_at", syscall(SYS_name_to_handle_at, -1, "", NULL, NULL, 0));
    say("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0xffffffffUL));
    say("finit_module", syscall(SYS_finit_module, -1, "", 0));
    say("iopl", syscall(SYS_iopl, 4));
    say("personality", syscall(SYS_personality, 0x0006 /* PER_BSD */));
    say("swapon", syscall(SYS_swapon, "/nonexistent-syscage", 0));
    say("quotactl", syscall(SYS_quotactl, 0, NULL, 0, NULL));
    say("syslog", syscall(SYS_syslog, 10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0));
    say("reboot", syscall(SYS_reboot, 0, 0, 0, NULL));
    say("clock_settime", syscall(SYS_clock_settime, 12345, NULL));
    say("sethostname", syscall(SYS_sethostname, "x", 100000));
    say("memfd_secret", syscall(447 /* memfd_secret */, 0));
    say("unshare-user", unshare(CLONE_NEWUSER)); /* last: once in a new user namespace, root is root no more */
    return 0;
}

static int call(const char *what, const char *arg)
{
    if (strcmp(what, "mkdir") == 0)
        return mkdir(arg, 0700);
    if (strcmp(what, "unshare") == 0)
        return unshare(CLONE_NEWUSER);
    if (strcmp(what, "exec") == 0) {
        pid_t child = fork();
        if (child == 0) {
            char *argv[] = { "/bin/sh", "-c", "echo ESCAPED exec", NULL };
            execve(argv[0], argv, NULL);
            _exit(errno == EPERM ? 3 : 4);
        }
        int status = 0;
        waitpid(child, &status, 0);
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
    }
    return -1;
}

static int call_nr(const char *what)
{
    if (strcmp(what, "mkdir") == 0)
        return SYS_mkdir;
    if (strcmp(what, "unshare") == 0)
        return SYS_unshare;
    return SYS_execve;
}

static int takeover(const char *what, const char *arg)
{
    pid_t launcher = getppid(), supervisor = parent_of(launcher);
    char path[64];
    const char *how = NULL;
    if (kill(supervisor, SIGKILL) == 0)
        how = "kill";
    else if (syscall(SYS_tgkill, supervisor, supervisor, SIGKILL) == 0)
        how = "tgkill";
    else if (syscall(SYS_tkill, supervisor, SIGKILL) == 0)
        how = "tkill";
    else {
        long pidfd = open_pidfd(supervisor);
        if (pidfd >= 0 && syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) == 0)
            how = "pidfd";
        snprintf(path, sizeof path, "/proc/%d", (int)supervisor);
        int dirfd = open(path, O_RDONLY | O_DIRECTORY);
        if (!how && dirfd >= 0 && syscall(SYS_pidfd_send_signal, dirfd, SIGKILL, NULL, 0) == 0)
            how = "proc-pidfd";
    }
    if (!how) {
        /* Last resort: every thread of syscage, one by one (the guard knows only its main thread's id). */
        snprintf(path, sizeof path, "/proc/%d/task", (int)supervisor);
        DIR *tasks = opendir(path);
        struct dirent *e;
        printf("trying tkill-thread\n");
        fflush(stdout);
        while (tasks && (e = readdir(tasks)))
            if (e->d_name[0] != '.' && syscall(SYS_tkill, atoi(e->d_name), SIGKILL) == 0)
                how = "tkill-thread";
        if (tasks)
            closedir(tasks);
    }
    printf("killed-supervisor %s\n", how ? how : "no");
    fflush(stdout);
    struct timespec start, now, nap = { 0, 10 * 1000 * 1000 };
    clock_gettime(CLOCK_MONOTONIC, &start);
    int listening = 0;
    do {
        if (!listening) {
            long listener = install_listener(call_nr(what));
            if (listener >= 0) {
                pthread_t t;
                pthread_create(&t, NULL, answer_continue, (void *)listener);
                listening = 1;
                printf("listener-installed\n");
                fflush(stdout);
            }
        }
        if (call(what, arg) == 0) {
            printf("ESCAPED %s\n", what);
            fflush(stdout);
            return 0;
        }
        nanosleep(&nap, NULL);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (now.tv_sec - start.tv_sec < 30); /* long past the launcher's sweep, even on a loaded machine */
    printf("held %s\n", result(-1));
    return 0;
}

static volatile int flipping = 1;

static void on_sigsys(int sig) { (void)sig; }

static void *flip(void *arg)
{
    (void)arg;
    sigset_t sys;
    sigemptyset(&sys);
    sigaddset(&sys, SIGSYS);
    for (unsigned i = 0; flipping; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = i % 3 == 0 ? on_sigsys : i % 3 == 1 ? SIG_IGN : SIG_DFL;
        sigaction(SIGSYS, &sa, NULL);
        pthread_sigmask(i % 2 ? SIG_BLOCK : SIG_UNBLOCK, &sys, NULL);
    }
    return NULL;
}

static int survive_kill(long nr, int n)
{
    int survived = 0;
    for (int i = 0; i < n; i++) {
        pid_t child = fork();
        if (child == 0) {
            pthread_t t;
            pthread_create(&t, NULL, flip, NULL);
            struct timespec nap = { 0, (i % 7) * 100 * 1000 };
            nanosleep(&nap, NULL);
            syscall(nr, 0, 0, 0);
            _exit(0);
        }
        int status;
        if (waitpid(child, &status, 0) == child && WIFEXITED(status))
            survived++;
    }
    printf("survived %d of %d\n", survived, n);
    return 0;
}

static int out = -1;

static void on_signal(int sig)
{
    char line[32];
    int n = snprintf(line, sizeof line, "sig %d\n", sig);
    (void)!write(out, line, (size_t)n);
}

static int signals(const char *file)
{
    out = open(file, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out < 0)
        return 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigfillset(&sa.sa_mask);
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            sigaction(s, &sa, NULL);
    char line[32], quit[4096];
    int n = snprintf(line, sizeof line, "ready %d\n", (int)getpid());
    (void)!write(out, line, (size_t)n);
    snprintf(quit, sizeof quit, "%s.quit", file);
    struct timespec nap = { 0, 10 * 1000 * 1000 };
    for (int i = 0; i < 6000 && access(quit, F_OK) != 0; i++)
        nanosleep(&nap, NULL);
    return 0;
}

static void write_pid(const char *file)
{
    int fd = open(file, O_WRONLY | O_CREAT | O_APPEND, 0644);
    char line[32];
    int n = snprintf(line, sizeof line, "%d\n", (int)getpid());
    (void)!write(fd, line, (size_t)n);
    close(fd);
}

static void sleep_forever(void)
{
    for (;;)
        pause();
}

static int tree(const char *file)
{
    write_pid(file);
    for (int i = 0; i < 2; i++)
        if (fork() == 0) {
            write_pid(file);
            if (fork() == 0) {
                write_pid(file);
                sleep_forever();
            }
            sleep_forever();
        }
    if (fork() == 0) {
        setsid();
        write_pid(file);
        sleep_forever();
    }
    if (fork() == 0) {
        if (fork() == 0) {
            write_pid(file);
            sleep_forever();
        }
        _exit(0); /* the grandchild is orphaned: a daemon */
    }
    int fd = open(file, O_WRONLY | O_APPEND);
    (void)!write(fd, "started\n", 8);
    close(fd);
    sleep_forever();
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "reach") == 0)
        return reach();
    if (argc >= 2 && strcmp(argv[1], "interfaces") == 0)
        return interfaces();
    if (argc >= 3 && strcmp(argv[1], "takeover") == 0)
        return takeover(argv[2], argc > 3 ? argv[3] : "");
    if (argc == 4 && strcmp(argv[1], "survive-kill") == 0)
        return survive_kill(strtol(argv[2], NULL, 0), atoi(argv[3]));
    if (argc == 3 && strcmp(argv[1], "signals") == 0)
        return signals(argv[2]);
    if (argc == 3 && strcmp(argv[1], "tree") == 0)
        return tree(argv[2]);
    fputs("usage: attacker reach | interfaces | takeover CALL [ARG] | survive-kill NR N | signals FILE | tree FILE\n", stderr);
    return 2;
}
