# A hand-written seccomp filter in Syscage's assembler syntax (see `syscage disasm` for the same syntax
# coming out of any filter). x86_64 only; x32 numbers and other architectures are killed.
#
#   syscage asm samples/bpf/allowlist.asm -o allowlist.bpf
#   syscage emu allowlist.bpf openat 0 0x1000 0      # -> ERRNO(13)
#   bwrap --seccomp 3 ... 3<allowlist.bpf

        A = arch
        if (A != AUDIT_ARCH_X86_64) goto kill
        A = sys_number
        if (A >= 0x40000000) goto kill          # x32 ABI: never treat it as x86_64
        if (A == read) goto allow
        if (A == write) goto allow
        if (A == close) goto allow
        if (A == fstat) goto allow
        if (A == newfstatat) goto allow
        if (A == mmap) goto allow
        if (A == munmap) goto allow
        if (A == mprotect) goto allow
        if (A == brk) goto allow
        if (A == rt_sigaction) goto allow
        if (A == rt_sigprocmask) goto allow
        if (A == rt_sigreturn) goto allow
        if (A == exit) goto allow
        if (A == exit_group) goto allow
        if (A == arch_prctl) goto allow
        if (A == set_tid_address) goto allow
        if (A == set_robust_list) goto allow
        if (A == rseq) goto allow
        if (A == prlimit64) goto allow
        if (A == getrandom) goto allow
        if (A == execve) goto allow
        if (A == access) goto allow
        if (A == pread64) goto allow
        if (A == futex) goto allow
        if (A == lseek) goto allow
        if (A == fadvise64) goto allow
        if (A == getpid) goto allow
        if (A == gettid) goto allow
        if (A == ptrace) goto kill
        if (A != openat) goto eperm
        # openat(dirfd, pathname, flags, mode): read-only opens only. flags is an int: check the low half.
        A = args[2]
        A &= 3                                  # O_ACCMODE
        if (A == 0) goto allow                  # O_RDONLY
        return ERRNO(13)                        # EACCES
eperm:  return ERRNO(1)
allow:  return ALLOW
kill:   return KILL_PROCESS
