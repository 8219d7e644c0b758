/*
 * workload: the fixed system-call mix of bench/Syscage.Bench EbpfOverhead (issue #7).
 *
 *   workload [GETPPID [EVERY [PATH]]]    GETPPID getppid calls (default 200000) with one openat of PATH
 *                                        (default /dev/null, O_RDONLY|O_CLOEXEC) and its close after every
 *                                        EVERY of them (default 100): 2000 openat by default
 *
 * Every call goes through syscall(2), so libc can neither cache nor skip it. Prints, on stdout:
 *
 *   getppid 200000 openat 2000 failed 1 ENOENT 1 first_failed 1
 *   loop_ms 245.120
 *   getppid_ns 1101.3 median 1012.0
 *   openat_us 3.912 median 3.455
 *
 * "failed" counts the openat calls that returned -1, by errno name, and which one failed first (1-based),
 * so an injected fault is visible. The times come from CLOCK_MONOTONIC (the vDSO: no system call), so they
 * leave out process start-up and the time a tool takes to attach: loop_ms is the whole loop, getppid_ns the
 * mean getppid and the median of the runs of EVERY it is timed in, openat_us the mean and median openat (each
 * timed alone). A machine shared with other work stretches the means more than the medians. Exit status 0 unless the arguments are
 * wrong: failed opens are what the fault-injection rows expect.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    long getppids = argc > 1 ? atol(argv[1]) : 200000;
    long every = argc > 2 ? atol(argv[2]) : 100;
    const char *path = argc > 3 ? argv[3] : "/dev/null";
    if (getppids < 0 || every <= 0 || argc > 4) {
        fputs("usage: workload [GETPPID [EVERY [PATH]]]\n", stderr);
        return 2;
    }
    /* Failures by errno value; errno values are small (asm-generic/errno.h stops below 134). */
    long failed_by_errno[256] = { 0 };
    long opens = 0, failed = 0, first_failed = 0;
    long batches = 0;
    double *open_ns = malloc(sizeof(double) * (getppids / every + 1));
    double *batch_ns = malloc(sizeof(double) * (getppids / every + 1));
    double getppid_ns = 0, open_total_ns = 0;
    if (open_ns == NULL || batch_ns == NULL)
        return 1;

    double t0 = now_ns(), batch = t0;
    for (long i = 1; i <= getppids; i++) {
        syscall(SYS_getppid);
        if (i % every != 0)
            continue;
        double before = now_ns();
        getppid_ns += before - batch;
        batch_ns[batches++] = (before - batch) / every;
        long fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
        int e = errno;
        double after = now_ns();
        open_ns[opens++] = after - before;
        open_total_ns += after - before;
        if (fd < 0) {
            failed++;
            failed_by_errno[e > 0 && e < 256 ? e : 0]++;
            if (first_failed == 0)
                first_failed = opens;
        } else {
            syscall(SYS_close, fd);
        }
        batch = now_ns();
    }
    double t1 = now_ns();
    getppid_ns += t1 - batch;

    printf("getppid %ld openat %ld failed %ld", getppids, opens, failed);
    for (int e = 0; e < 256; e++)
        if (failed_by_errno[e] > 0)
            printf(" %s %ld", e > 0 ? strerrorname_np(e) : "E?", failed_by_errno[e]);
    if (failed > 0)
        printf(" first_failed %ld", first_failed);
    printf("\nloop_ms %.3f\n", (t1 - t0) / 1e6);
    qsort(batch_ns, batches, sizeof(double), by_value);
    printf("getppid_ns %.1f median %.1f\n", getppids > 0 ? getppid_ns / getppids : 0, batches > 0 ? batch_ns[batches / 2] : 0);
    qsort(open_ns, opens, sizeof(double), by_value);
    printf("openat_us %.3f median %.3f\n", opens > 0 ? open_total_ns / opens / 1e3 : 0, opens > 0 ? open_ns[opens / 2] / 1e3 : 0);
    free(open_ns);
    free(batch_ns);
    return 0;
}
