/*
 * Facts newer than (or missing from) the headers the generator reads on the build machine (Debian 12's
 * linux-libc-dev, Linux 6.1, and glibc 2.36), which Syscage relies on. Each is written as the header it comes from
 * defines it, with the version that added it; the generator reads this file after the system headers, and a name a
 * system header already defines keeps the header's value.
 */

/* include/uapi/linux/pidfd.h, Linux 6.9: pidfd_open(pid, PIDFD_THREAD) and pidfd_send_signal's scope. */
#define PIDFD_THREAD			O_EXCL
#define PIDFD_SIGNAL_THREAD		(1UL << 0)
#define PIDFD_SIGNAL_THREAD_GROUP	(1UL << 1)
#define PIDFD_SIGNAL_PROCESS_GROUP	(1UL << 2)

/* include/uapi/linux/seccomp.h, Linux 6.6: the listener's flags. */
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP	(1UL << 0)
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS		SECCOMP_IOW(4, __u64)

/* LLVM's BPF relocations (llvm/BinaryFormat/ELFRelocs/BPF.def), as clang writes them into .o files; glibc's elf.h
 * has only the first two and R_BPF_64_32. */
#define R_BPF_64_ABS64		2
#define R_BPF_64_ABS32		3
#define R_BPF_64_NODYLD32	4

/* include/uapi/linux/memfd.h, Linux 6.3: whether a memfd may be executed (vm.memfd_noexec); a single-file syscage
 * runs its embedded launcher from one. */
#define MFD_NOEXEC_SEAL		0x0008U
#define MFD_EXEC		0x0010U

/* include/uapi/asm-generic/socket.h, Linux 6.5: getsockopt gives a pidfd of a Unix socket's peer (the process that
 * connected), which names that process for as long as the pidfd is open, unlike SO_PEERCRED's pid. */
#define SO_PEERPIDFD		77
