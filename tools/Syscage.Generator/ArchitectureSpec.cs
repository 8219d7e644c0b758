namespace Syscage.Generator;

/// <summary>One step of reading an architecture's syscall numbers.</summary>
internal abstract record HeaderStep;

/// <summary>
/// <c>#define Name Value</c> before the headers, standing for what the compiler predefines or what a skipped
/// <c>#include</c> (<c>&lt;asm/bitsperlong.h&gt;</c>) would define.
/// </summary>
internal sealed record DefineStep(string Name, string Value) : HeaderStep;

/// <summary>A header under the include directory, e.g. <c>asm-generic/unistd.h</c>.</summary>
internal sealed record FileStep(string RelativePath) : HeaderStep;

/// <summary>
/// Directives of an architecture's own uapi <c>asm/unistd.h</c>, which this machine does not have (Debian's amd64
/// linux-libc-dev carries only x86's). <see cref="Source"/> names the kernel file the lines restate.
/// </summary>
internal sealed record SnippetStep(string Source, string Text) : HeaderStep;

/// <summary>How the generator reads one architecture.</summary>
/// <param name="Name">Syscage's name for it (<c>x86_64</c>).</param>
/// <param name="Identifier">The C# identifier of its table (<c>X86_64</c>).</param>
/// <param name="AuditArchMacro">Its <c>AUDIT_ARCH_*</c> macro in linux/audit.h.</param>
/// <param name="Is64Bit">Registers, and so seccomp arguments, are 64-bit (x32 included).</param>
/// <param name="CloneBackwards">
/// The kernel is built with <c>CONFIG_CLONE_BACKWARDS</c>: raw clone's last two arguments are <c>tls, child_tid</c>
/// instead of <c>child_tid, tls</c> (clone(2) NOTES: "On x86-32, and several other common architectures
/// (including score, ARM, ARM 64, PA-RISC, arc, Power PC, xtensa, and MIPS), the order of the last two arguments is
/// reversed"; riscv selects CLONE_BACKWARDS in arch/riscv/Kconfig).
/// </param>
/// <param name="NumberBitMacro">A macro whose value every syscall number carries (<c>__X32_SYSCALL_BIT</c>), or null.</param>
/// <param name="Steps">What to read, in order; null when no header on the machine gives the table.</param>
/// <param name="Note">Why the table is empty, when <paramref name="Steps"/> is null.</param>
internal sealed record ArchitectureSpec(
    string Name,
    string Identifier,
    string AuditArchMacro,
    bool Is64Bit,
    bool CloneBackwards,
    string? NumberBitMacro,
    IReadOnlyList<HeaderStep>? Steps,
    string? Note = null)
{
    /// <summary>Debian's multiarch directory for the x86 uapi asm headers (linux-libc-dev:amd64).</summary>
    public const string X86AsmDirectory = "x86_64-linux-gnu/asm";

    /// <summary>The architectures, in the order of <c>Architecture.All</c> (arm last: its table is empty here).</summary>
    public static IReadOnlyList<ArchitectureSpec> All { get; } =
    [
        new("x86_64", "X86_64", "AUDIT_ARCH_X86_64", Is64Bit: true, CloneBackwards: false, NumberBitMacro: null,
            [new FileStep($"{X86AsmDirectory}/unistd_64.h")]),

        new("x86", "X86", "AUDIT_ARCH_I386", Is64Bit: false, CloneBackwards: true, NumberBitMacro: null,
            [new FileStep($"{X86AsmDirectory}/unistd_32.h")]),

        new("x32", "X32", "AUDIT_ARCH_X86_64", Is64Bit: true, CloneBackwards: false, NumberBitMacro: "__X32_SYSCALL_BIT",
            // asm/unistd.h defines __X32_SYSCALL_BIT; its #include of a unistd_*.h is skipped.
            [new FileStep($"{X86AsmDirectory}/unistd.h"), new FileStep($"{X86AsmDirectory}/unistd_x32.h")]),

        new("aarch64", "Aarch64", "AUDIT_ARCH_AARCH64", Is64Bit: true, CloneBackwards: true, NumberBitMacro: null,
            [
                // <asm/bitsperlong.h> on arm64 (via asm-generic/bitsperlong.h) gives 64 for LP64; gcc predefines __LP64__.
                new DefineStep("__BITS_PER_LONG", "64"),
                new DefineStep("__LP64__", "1"),
                new SnippetStep(
                    "linux v6.1 arch/arm64/include/uapi/asm/unistd.h",
                    """
                    #define __ARCH_WANT_RENAMEAT
                    #define __ARCH_WANT_NEW_STAT
                    #define __ARCH_WANT_SET_GET_RLIMIT
                    #define __ARCH_WANT_TIME32_SYSCALLS
                    #define __ARCH_WANT_SYS_CLONE3
                    #define __ARCH_WANT_MEMFD_SECRET
                    """),
                new FileStep("asm-generic/unistd.h"),
            ]),

        new("riscv64", "Riscv64", "AUDIT_ARCH_RISCV64", Is64Bit: true, CloneBackwards: true, NumberBitMacro: null,
            [
                new DefineStep("__BITS_PER_LONG", "64"),
                new DefineStep("__LP64__", "1"),
                // __ARCH_WANT_MEMFD_SECRET moved into the uapi header in v5.18 (commit 02d88b40cb2e
                // "riscv: Wire up memfd_secret in UAPI header"); the kernel had wired the call up since v5.14.
                new SnippetStep(
                    "linux v6.1 arch/riscv/include/uapi/asm/unistd.h",
                    """
                    #ifdef __LP64__
                    #define __ARCH_WANT_NEW_STAT
                    #define __ARCH_WANT_SET_GET_RLIMIT
                    #endif
                    #define __ARCH_WANT_SYS_CLONE3
                    #define __ARCH_WANT_MEMFD_SECRET
                    """),
                new FileStep("asm-generic/unistd.h"),
                new SnippetStep(
                    "linux v6.1 arch/riscv/include/uapi/asm/unistd.h",
                    """
                    #ifndef __NR_riscv_flush_icache
                    #define __NR_riscv_flush_icache (__NR_arch_specific_syscall + 15)
                    #endif
                    """),
            ]),

        new("arm", "Arm", "AUDIT_ARCH_ARM", Is64Bit: false, CloneBackwards: true, NumberBitMacro: null,
            Steps: null,
            Note: "arm's EABI numbers are not asm-generic's: they come from arch/arm/tools/syscall.tbl, installed as "
                + "asm/unistd-eabi.h and asm/unistd-common.h by linux-libc-dev:armhf, which this machine does not have"),
    ];
}
