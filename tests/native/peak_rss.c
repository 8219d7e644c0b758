/*
 * peak_rss: runs a command and reports its peak memory, as the kernel accounted it.
 *
 *   peak_rss REPORT COMMAND [ARGS...]
 *
 * Forks, execs COMMAND, waits for it with wait4(2) and writes one line to the file REPORT:
 *   "maxrss_kb <ru_maxrss> status <exit code, or 128+signal> elapsed_ms <wall time>"
 * then exits with the command's status. stdin, stdout and stderr are the command's. ru_maxrss is the
 * largest resident set the child had ("the maximum resident set size used, in kilobytes", getrusage(2)),
 * which a test cannot read from /proc once the child is gone.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fputs("usage: peak_rss REPORT COMMAND [ARGS...]\n", stderr);
        return 2;
    }
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    pid_t pid = fork();
    if (pid < 0) {
        perror("peak_rss: fork");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        perror("peak_rss: exec");
        _exit(127);
    }
    int status;
    struct rusage usage;
    if (wait4(pid, &status, 0, &usage) != pid) {
        perror("peak_rss: wait4");
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    long elapsed = (end.tv_sec - start.tv_sec) * 1000L + (end.tv_nsec - start.tv_nsec) / 1000000L;
    FILE *report = fopen(argv[1], "w");
    if (report == NULL) {
        perror("peak_rss: report");
        return 2;
    }
    fprintf(report, "maxrss_kb %ld status %d elapsed_ms %ld\n", usage.ru_maxrss, code, elapsed);
    fclose(report);
    return code;
}
