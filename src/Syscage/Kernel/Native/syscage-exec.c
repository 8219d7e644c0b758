/*
 * syscage-exec: run a command under a seccomp filter and report how it ended.
 *
 *   syscage-exec FILTER FLAGS STATUS PATH ARGV0 [ARGS...]
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
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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

static void forward(int sig)
{
    if (child > 0)
        kill(child, sig);
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fputs("usage: syscage-exec FILTER FLAGS STATUS PATH ARGV0 [ARGS...]\n", stderr);
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
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog) < 0)
            fail_in_child("seccomp", errno);
        execve(argv[4], &argv[5], environ);
        fail_in_child("exec", errno);
    }
    child = pid;
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
