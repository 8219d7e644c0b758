/*
 * startup: wall-clock time from spawn to exit of whole commands, interleaved, as medians.
 *
 *   startup ROUNDS NAME FD3 ARGV... [--- NAME FD3 ARGV...]...
 *
 * FD3 is a file opened read-only as the command's descriptor 3 (bwrap --seccomp 3 reads its filter there), or '-'.
 * Each round runs every case once, in turn, so that the machine's noise spreads over all of them; three rounds are
 * run first and not counted. Prints one line per case: NAME<TAB>median ms<TAB>min ms<TAB>max ms. A case that exits
 * other than 0 ends the benchmark with its status.
 *
 * In C rather than in the .NET bench so that the clock starts at the fork, not behind a runtime's process plumbing,
 * and so that bwrap gets its filter on descriptor 3 without a shell in between.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct bench_case {
	const char *name;
	const char *fd3;
	char **argv;
	double *ms;
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double run_once(struct bench_case *c)
{
	posix_spawn_file_actions_t actions;
	posix_spawn_file_actions_init(&actions);
	int fd = -1;
	if (strcmp(c->fd3, "-") != 0) {
		fd = open(c->fd3, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "startup: %s: %s\n", c->fd3, strerror(errno));
			exit(2);
		}
		/* dup2 onto 3 clears close-on-exec on the copy; the original (>= 3 and close-on-exec) goes at exec. */
		posix_spawn_file_actions_adddup2(&actions, fd, 3);
	}
	double start = now_ms();
	pid_t pid;
	posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
	int rc = posix_spawn(&pid, c->argv[0], &actions, NULL, c->argv, environ);
	if (rc != 0) {
		fprintf(stderr, "startup: %s: %s\n", c->argv[0], strerror(rc));
		exit(2);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	double elapsed = now_ms() - start;
	posix_spawn_file_actions_destroy(&actions);
	if (fd >= 0)
		close(fd);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "startup: %s: ended with status 0x%x\n", c->name, status);
		exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
	}
	return elapsed;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: startup ROUNDS NAME FD3 ARGV... [--- NAME FD3 ARGV...]...\n");
		return 2;
	}
	int rounds = atoi(argv[1]);
	if (rounds < 1)
		rounds = 1;
	struct bench_case cases[16];
	int count = 0;
	for (int i = 2; i < argc;) {
		if (count == 16 || argc - i < 3) {
			fprintf(stderr, "startup: each case is NAME FD3 ARGV..., at most 16 cases\n");
			return 2;
		}
		struct bench_case *c = &cases[count++];
		c->name = argv[i];
		c->fd3 = argv[i + 1];
		c->argv = &argv[i + 2];
		int end = i + 2;
		while (end < argc && strcmp(argv[end], "---") != 0)
			end++;
		if (end < argc)
			argv[end] = NULL; /* ends this case's argv */
		c->ms = calloc((size_t)rounds, sizeof(double));
		i = end + 1;
	}
	for (int r = -3; r < rounds; r++)
		for (int k = 0; k < count; k++) {
			double t = run_once(&cases[k]);
			if (r >= 0)
				cases[k].ms[r] = t;
		}
	for (int k = 0; k < count; k++) {
		qsort(cases[k].ms, (size_t)rounds, sizeof(double), by_value);
		double *t = cases[k].ms;
		double median = rounds % 2 ? t[rounds / 2] : (t[rounds / 2 - 1] + t[rounds / 2]) / 2;
		printf("%s\t%.2f\t%.2f\t%.2f\n", cases[k].name, median, t[0], t[rounds - 1]);
	}
	return 0;
}
