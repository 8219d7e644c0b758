namespace Syscage.Generator;

/// <summary>One step of reading an architecture's syscall numbers from uapi headers.</summary>
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

/// <summary>How the generator reads one architecture from the repository's facts.</summary>
/// <param name="Name">Syscage's name for it, libseccomp's (<c>mipsel64n32</c>): <c>SCMP_ARCH_</c> + the name in capitals.</param>
/// <param name="Identifier">The C# identifier of its table (<c>Mipsel64N32</c>).</param>
/// <param name="Column">Its column in facts/syscalls.csv; little- and big-endian variants share one (<c>mips64n32</c>).</param>
/// <param name="AuditArchMacro">Its <c>AUDIT_ARCH_*</c> macro in facts/architectures.h (linux/audit.h).</param>
/// <param name="NumberBaseMacro">
/// The macro of facts/architectures.h whose value every syscall number of the ABI adds to the csv's
/// (<c>__X32_SYSCALL_BIT</c>, <c>__NR_O32_Linux</c>), or null: seccomp_data.nr holds the number with it.
/// </param>
/// <param name="CloneBackwards">
/// The kernel is built with <c>CONFIG_CLONE_BACKWARDS</c>: raw clone's last two arguments are <c>tls, child_tid</c>
/// instead of <c>child_tid, tls</c> (clone(2) NOTES: "On x86-32, and several other common architectures
/// (including score, ARM, ARM 64, PA-RISC, arc, Power PC, xtensa, and MIPS), the order of the last two arguments is
/// reversed"; arch/riscv/Kconfig, arch/mips/Kconfig and arch/powerpc/Kconfig select it). The man page's backwards
/// prototype is extracted for these. The others have the default order (x86_64, loongarch64: its Kconfig does not
/// select it), s390's <c>CONFIG_CLONE_BACKWARDS2</c> (flags second), or an order the project has not verified (m68k,
/// sh): their clone has kernel rows in facts/syscall-prototypes.csv.
/// </param>
/// <param name="Is64Bit">
/// Registers, and so seccomp arguments, are 64-bit (x32 and mips n32 included): <c>__AUDIT_ARCH_64BIT</c> is set in the
/// <c>AUDIT_ARCH_*</c> value, which the generator checks.
/// </param>
/// <param name="BigEndian">The ABI is big-endian: <c>__AUDIT_ARCH_LE</c> is clear, which the generator checks.</param>
/// <param name="PrototypesReviewed">
/// The prototypes file was reviewed call by call for this ABI, so a row for every architecture (abis empty) holds for
/// it. For the others a call that has rows for named architectures (one whose arguments differ between
/// architectures) gets argument names only from a row that names the ABI: see <see cref="PrototypeSet.Arguments"/>.
/// </param>
internal sealed record ArchitectureSpec(
    string Name,
    string Identifier,
    string Column,
    string AuditArchMacro,
    string? NumberBaseMacro,
    bool Is64Bit,
    bool BigEndian,
    bool CloneBackwards,
    bool PrototypesReviewed)
{
    /// <summary>The macro of facts/architectures.h that makes a syscall number x32's by OR-ing it in.</summary>
    public const string X32BitMacro = "__X32_SYSCALL_BIT";

    /// <summary>
    /// Every architecture libseccomp knows, in the order of <c>Architecture.All</c>: the x86 family first (the
    /// default set on x86-64), then libseccomp's order of <c>SCMP_ARCH_*</c>.
    /// </summary>
    public static IReadOnlyList<ArchitectureSpec> All { get; } =
    [
        new("x86_64", "X86_64", "x86_64", "AUDIT_ARCH_X86_64", null, Is64Bit: true, BigEndian: false, CloneBackwards: false, PrototypesReviewed: true),
        new("x86", "X86", "x86", "AUDIT_ARCH_I386", null, Is64Bit: false, BigEndian: false, CloneBackwards: true, PrototypesReviewed: true),
        new("x32", "X32", "x32", "AUDIT_ARCH_X86_64", X32BitMacro, Is64Bit: true, BigEndian: false, CloneBackwards: false, PrototypesReviewed: true),
        new("arm", "Arm", "arm", "AUDIT_ARCH_ARM", null, Is64Bit: false, BigEndian: false, CloneBackwards: true, PrototypesReviewed: false),
        new("aarch64", "Aarch64", "aarch64", "AUDIT_ARCH_AARCH64", null, Is64Bit: true, BigEndian: false, CloneBackwards: true, PrototypesReviewed: true),
        new("loongarch64", "Loongarch64", "loongarch64", "AUDIT_ARCH_LOONGARCH64", null, Is64Bit: true, BigEndian: false, CloneBackwards: false, PrototypesReviewed: false),
        new("m68k", "M68k", "m68k", "AUDIT_ARCH_M68K", null, Is64Bit: false, BigEndian: true, CloneBackwards: false, PrototypesReviewed: false),
        new("mips", "Mips", "mips", "AUDIT_ARCH_MIPS", "__NR_O32_Linux", Is64Bit: false, BigEndian: true, CloneBackwards: true, PrototypesReviewed: false),
        new("mipsel", "Mipsel", "mips", "AUDIT_ARCH_MIPSEL", "__NR_O32_Linux", Is64Bit: false, BigEndian: false, CloneBackwards: true, PrototypesReviewed: false),
        new("mips64", "Mips64", "mips64", "AUDIT_ARCH_MIPS64", "__NR_64_Linux", Is64Bit: true, BigEndian: true, CloneBackwards: true, PrototypesReviewed: false),
        new("mipsel64", "Mipsel64", "mips64", "AUDIT_ARCH_MIPSEL64", "__NR_64_Linux", Is64Bit: true, BigEndian: false, CloneBackwards: true, PrototypesReviewed: false),
        new("mips64n32", "Mips64N32", "mips64n32", "AUDIT_ARCH_MIPS64N32", "__NR_N32_Linux", Is64Bit: true, BigEndian: true, CloneBackwards: true, PrototypesReviewed: false),
        new("mipsel64n32", "Mipsel64N32", "mips64n32", "AUDIT_ARCH_MIPSEL64N32", "__NR_N32_Linux", Is64Bit: true, BigEndian: false, CloneBackwards: true, PrototypesReviewed: false),
        new("parisc", "Parisc", "parisc", "AUDIT_ARCH_PARISC", null, Is64Bit: false, BigEndian: true, CloneBackwards: true, PrototypesReviewed: false),
        new("parisc64", "Parisc64", "parisc64", "AUDIT_ARCH_PARISC64", null, Is64Bit: true, BigEndian: true, CloneBackwards: true, PrototypesReviewed: false),
        new("ppc", "Ppc", "ppc", "AUDIT_ARCH_PPC", null, Is64Bit: false, BigEndian: true, CloneBackwards: true, PrototypesReviewed: false),
        new("ppc64", "Ppc64", "ppc64", "AUDIT_ARCH_PPC64", null, Is64Bit: true, BigEndian: true, CloneBackwards: true, PrototypesReviewed: false),
        new("ppc64le", "Ppc64le", "ppc64", "AUDIT_ARCH_PPC64LE", null, Is64Bit: true, BigEndian: false, CloneBackwards: true, PrototypesReviewed: false),
        new("riscv64", "Riscv64", "riscv64", "AUDIT_ARCH_RISCV64", null, Is64Bit: true, BigEndian: false, CloneBackwards: true, PrototypesReviewed: true),
        new("s390", "S390", "s390", "AUDIT_ARCH_S390", null, Is64Bit: false, BigEndian: true, CloneBackwards: false, PrototypesReviewed: false),
        new("s390x", "S390x", "s390x", "AUDIT_ARCH_S390X", null, Is64Bit: true, BigEndian: true, CloneBackwards: false, PrototypesReviewed: false),
        new("sh", "Sh", "sh", "AUDIT_ARCH_SHEL", null, Is64Bit: false, BigEndian: false, CloneBackwards: false, PrototypesReviewed: false),
        new("sheb", "Sheb", "sh", "AUDIT_ARCH_SH", null, Is64Bit: false, BigEndian: true, CloneBackwards: false, PrototypesReviewed: false),
    ];

    /// <summary>Debian's multiarch directory for the x86 uapi asm headers (linux-libc-dev:amd64).</summary>
    public const string X86AsmDirectory = "x86_64-linux-gnu/asm";

    /// <summary>
    /// How this machine's uapi headers (Debian's linux-libc-dev, Linux 6.1 on Debian 12) define the numbers of some
    /// architectures: not an input of the tables, but a cross-check of facts/syscalls.csv (RegenerationTests: every
    /// number the headers define is the csv's).
    /// </summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<HeaderStep>> MachineHeaders { get; } = new Dictionary<string, IReadOnlyList<HeaderStep>>
    {
        ["x86_64"] = [new FileStep($"{X86AsmDirectory}/unistd_64.h")],
        ["x86"] = [new FileStep($"{X86AsmDirectory}/unistd_32.h")],
        // asm/unistd.h defines __X32_SYSCALL_BIT; its #include of a unistd_*.h is skipped.
        ["x32"] = [new FileStep($"{X86AsmDirectory}/unistd.h"), new FileStep($"{X86AsmDirectory}/unistd_x32.h")],
        ["aarch64"] =
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
        ],
        ["riscv64"] =
        [
            new DefineStep("__BITS_PER_LONG", "64"),
            new DefineStep("__LP64__", "1"),
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
        ],
    };
}
