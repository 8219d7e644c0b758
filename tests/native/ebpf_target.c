/*
 * ebpf_target: makes system calls for the eBPF seccomp tests, which run it under `syscage run --ebpf` or the
 * library's supervisor (it never installs a filter itself). Built with -static, so that the dynamic loader's
 * own calls (openat of ld.so.cache and libc) don't mix with the ones a test counts.
 *
 *   ebpf_target call NR [A0..A5]          make the call; print "ret <r> errno <e>"; exit status = errno (0: success)
 *   ebpf_target repeat N NR [A0..A5]      make the call N times; print one "ret <r> errno <e>" line per call;
 *                                         exit status = errno of the last call
 *   ebpf_target openat N PATH             openat(AT_FDCWD, PATH, O_RDONLY) N times (closing each descriptor); print one
 *                                         "ret/errno" line per call; exit status = a bit mask of the calls that failed
 *                                         (bit 0: the first call), so a test that can't see stdout still can tell
 *   ebpf_target trap NR [A0..A5]          with a SIGSYS handler that prints "sigsys code <si_code>": make the call,
 *                                         then print "ret <r> errno <e>"; exit status = errno
 *   ebpf_target blocked NR [A0..A5]       with SIGSYS blocked: make the call; print "ret/errno"; exit status = errno
 *   ebpf_target as-uid UID NR [A0..A5]    setresuid(UID, UID, UID), then make the call; exit status = errno
 *   ebpf_target threads T N NR [A0..A5]   T threads (at most 16) each make the call N times; print "threads <calls> failed
 *                                         <failures>"; exit status = 0 when no call failed, else 1
 *   ebpf_target until FILE NR [A0..A5]    make the call again and again until FILE exists; print "calls <n>"
 *   ebpf_target connect PATH REQUEST      connect to the Unix socket PATH, send REQUEST and a newline, print the answer
 *                                         line ("connect errno <e>" when the connection fails); exit status 0
 *   ebpf_target connect-as UID PATH REQ   setresuid(UID, UID, UID), then as connect
 *   ebpf_target connect-orphan PATH REQ   the same from a grandchild whose parent has exited and that has left the
 *                                         session (setsid): an orphan, given to the nearest subreaper
 *
 * Numbers are strtoull base 0 (decimal, 0x hex).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static long nr;
static unsigned long long a[6];
static volatile sig_atomic_t got_sigsys;

static void parse_call(int argc, char **argv, int at)
{
    if (at >= argc) {
        fputs("ebpf_target: missing NR\n", stderr);
        exit(100);
    }
    nr = strtol(argv[at], NULL, 0);
    for (int i = 0; i < 6 && at + 1 + i < argc; i++)
        a[i] = strtoull(argv[at + 1 + i], NULL, 0);
}

static int do_call(void)
{
    errno = 0;
    long r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    int e = r < 0 ? errno : 0;
    printf("ret %ld errno %d\n", r, e);
    fflush(stdout);
    return e;
}

static long per_thread;
static long failures;

static void *thread_main(void *arg)
{
    (void)arg;
    for (long i = 0; i < per_thread; i++)
        if (syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) < 0)
            __atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
    return NULL;
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

/* connect PATH REQUEST: one request to a Unix socket, its answer on stdout. */
static int ask(const char *path, const char *request)
{
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        printf("connect errno %d\n", errno);
        fflush(stdout);
        return 0;
    }
    /* A server that refuses answers at once and closes without reading the request: writing it after that must not
     * raise SIGPIPE (which would end this process before it reads the answer, already waiting in its socket). */
    (void)!send(fd, request, strlen(request), MSG_NOSIGNAL);
    (void)!send(fd, "\n", 1, MSG_NOSIGNAL);
    char answer[4096];
    size_t used = 0;
    ssize_t n;
    while (used < sizeof answer - 1 && (n = read(fd, answer + used, sizeof answer - 1 - used)) > 0)
        used += (size_t)n;
    answer[used] = 0;
    printf("%s", answer);
    fflush(stdout);
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fputs("usage: ebpf_target call|repeat|openat|forks|trap|blocked|as-uid|threads ...\n", stderr);
        return 100;
    }
    const char *mode = argv[1];
    if (strcmp(mode, "call") == 0) {
        parse_call(argc, argv, 2);
        return do_call();
    }
    if (strcmp(mode, "repeat") == 0) {
        long n = strtol(argv[2], NULL, 0);
        parse_call(argc, argv, 3);
        int e = 0;
        for (long i = 0; i < n; i++)
            e = do_call();
        return e;
    }
    if (strcmp(mode, "openat") == 0) {
        if (argc < 4)
            return 100;
        long n = strtol(argv[2], NULL, 0);
        int failed = 0;
        for (long i = 0; i < n && i < 256; i++) {
            errno = 0;
            long fd = syscall(SYS_openat, AT_FDCWD, argv[3], O_RDONLY);
            int e = fd < 0 ? errno : 0;
            printf("ret %ld errno %d\n", fd, e);
            if (fd >= 0)
                close((int)fd);
            else if (i < 8)
                failed |= 1 << i; /* the exit status holds the first 8 */
        }
        fflush(stdout);
        return failed;
    }
    if (strcmp(mode, "forks") == 0) {
        /* forks N PATH: N children one after another, each opening PATH twice; prints how many saw
         * "first open failed, second worked" (what fault_inject with nth=1 does per process). */
        if (argc < 4)
            return 100;
        long n = strtol(argv[2], NULL, 0), pattern = 0;
        for (long i = 0; i < n; i++) {
            pid_t child = fork();
            if (child < 0)
                return 101;
            if (child == 0) {
                long a = syscall(SYS_openat, AT_FDCWD, argv[3], O_RDONLY);
                long b = syscall(SYS_openat, AT_FDCWD, argv[3], O_RDONLY);
                _exit(a < 0 && b >= 0 ? 0 : 1);
            }
            int status;
            if (waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0)
                pattern++;
        }
        printf("forks %ld pattern %ld\n", n, pattern);
        fflush(stdout);
        return 0;
    }
    if (strcmp(mode, "trap") == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_sigsys;
        sa.sa_flags = SA_SIGINFO;
        sigaction(SIGSYS, &sa, NULL);
        parse_call(argc, argv, 2);
        int e = do_call();
        /* The supervisor's SIGSYS follows its answer: wait for it before exiting (60 s bound liveness only). */
        for (int i = 0; i < 12000 && !got_sigsys; i++)
            usleep(5000);
        return e;
    }
    if (strcmp(mode, "blocked") == 0) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGSYS);
        sigprocmask(SIG_BLOCK, &set, NULL);
        parse_call(argc, argv, 2);
        return do_call();
    }
    if (strcmp(mode, "as-uid") == 0) {
        unsigned uid = (unsigned)strtoul(argv[2], NULL, 0);
        if (setresuid(uid, uid, uid) != 0) {
            perror("ebpf_target: setresuid");
            return 101;
        }
        parse_call(argc, argv, 3);
        return do_call();
    }
    if (strcmp(mode, "threads") == 0) {
        if (argc < 5)
            return 100;
        int threads = (int)strtol(argv[2], NULL, 0);
        pthread_t t[16];
        if (threads < 1 || threads > 16)
            return 100;
        per_thread = strtol(argv[3], NULL, 0);
        parse_call(argc, argv, 4);
        for (int i = 0; i < threads; i++)
            pthread_create(&t[i], NULL, thread_main, NULL);
        for (int i = 0; i < threads; i++)
            pthread_join(t[i], NULL);
        printf("threads %ld failed %ld\n", threads * per_thread, failures);
        return failures == 0 ? 0 : 1;
    }
    if (strcmp(mode, "until") == 0) {
        if (argc < 4)
            return 100;
        struct stat st;
        long calls = 0;
        parse_call(argc, argv, 3);
        while (stat(argv[2], &st) != 0) {
            syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
            calls++;
        }
        printf("calls %ld\n", calls);
        fflush(stdout);
        return 0;
    }
    if (strcmp(mode, "connect") == 0 && argc >= 4)
        return ask(argv[2], argv[3]);
    if (strcmp(mode, "connect-as") == 0 && argc >= 5) {
        unsigned uid = (unsigned)strtoul(argv[2], NULL, 0);
        if (setresuid(uid, uid, uid) != 0) {
            perror("ebpf_target: setresuid");
            return 101;
        }
        return ask(argv[3], argv[4]);
    }
    if (strcmp(mode, "connect-orphan") == 0 && argc >= 4) {
        /* The answer goes through a pipe: the grandchild's stdout is ours, but we must wait for it. */
        int p[2];
        if (pipe(p) != 0)
            return 101;
        pid_t child = fork();
        if (child == 0) {
            /* The grandchild learns its parent's pid with getppid() while that parent waits for it (not getpid(): a
             * test's program may refuse getpid, as getpid_bench with allowed=0 does), then the parent exits. */
            int hold[2];
            if (pipe(hold) != 0)
                _exit(101);
            if (fork() != 0) {
                char c;
                close(hold[1]);
                (void)!read(hold[0], &c, 1);
                _exit(0); /* the parent of the grandchild exits once the grandchild knows it */
            }
            pid_t middle = getppid();
            close(hold[0]);
            close(hold[1]);
            setsid();
            for (int i = 0; i < 12000 && getppid() == middle; i++)
                usleep(5000); /* until the grandchild is an orphan (60 s bound liveness only) */
            close(p[0]);
            dup2(p[1], 1);
            ask(argv[2], argv[3]);
            _exit(0);
        }
        close(p[1]);
        waitpid(child, NULL, 0);
        char buf[4096];
        ssize_t n;
        while ((n = read(p[0], buf, sizeof buf)) > 0)
            (void)!write(1, buf, (size_t)n);
        return 0;
    }
    fprintf(stderr, "ebpf_target: unknown mode '%s'\n", mode);
    return 100;
}
