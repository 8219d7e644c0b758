/* File-open logging: copies the path of every open/openat into a ring-buffer event with probe_read_user_str.
 * The path is read for logging only: another thread can change it after the read (user-notification TOCTOU). */
#include "common.h"

#define PATH_MAX_LEN 256

struct open_event {
	__u64 pid_tgid;
	__u64 ktime_ns;
	__s32 nr;
	__s32 flags;
	char comm[16];
	char path[PATH_MAX_LEN];
};

/* Puts struct open_event in BTF (a ring buffer has no value type), so `syscage run` decodes records by it. */
const struct open_event *unused_open_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

__u64 dropped = 0;

SEC("seccomp")
int log_open(struct seccomp_data *ctx)
{
	struct open_event *e;
	const char *path;

	if (ctx->nr == NR_open)
		path = (const char *)ctx->args[0];
	else if (ctx->nr == NR_openat)
		path = (const char *)ctx->args[1];
	else
		return SECCOMP_RET_ALLOW;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&dropped, 1);
		return SECCOMP_RET_ALLOW;
	}
	e->pid_tgid = bpf_get_current_pid_tgid();
	e->ktime_ns = bpf_ktime_get_ns();
	e->nr = ctx->nr;
	e->flags = ctx->nr == NR_open ? (__s32)ctx->args[1] : (__s32)ctx->args[2];
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (bpf_probe_read_user_str(e->path, sizeof(e->path), path) < 0) {
		bpf_ringbuf_discard(e, 0);
		return SECCOMP_RET_ALLOW;
	}
	bpf_ringbuf_submit(e, 0);
	return SECCOMP_RET_ALLOW;
}

char LICENSE[] SEC("license") = "GPL";
