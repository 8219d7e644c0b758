namespace Syscage;

/// <summary>
/// The bounds Syscage puts on the input it reads, so that hostile input (a policy, a profile, an object, a program
/// written to exhaust the reader) gets a clear error in bounded time and memory instead of a crash. Each bound is
/// defined here once, far above what any real input needs; the README lists them.
/// </summary>
public static class InputLimits
{
    /// <summary>
    /// The largest text file read: a policy or each file it includes, an OCI/Docker profile, classic or eBPF assembler
    /// text — 1 MiB. Docker's default profile is 25 KB, a classic program at the kernel's limit of 4096 instructions
    /// is about 400 KB of commented assembler.
    /// </summary>
    public const int MaxTextBytes = 1 << 20;

    /// <summary>
    /// The largest binary file read: an eBPF ELF object (with its BTF and DWARF), raw eBPF or classic BPF
    /// instructions — 16 MiB. The samples' objects are a few kilobytes; the loader accepts programs of at most a
    /// million instructions, 8 MiB of code.
    /// </summary>
    public const int MaxBinaryBytes = 16 << 20;

    /// <summary>
    /// How deeply the policy language nests parentheses, <c>!</c> and unary operators in one condition or constant:
    /// 100 levels. Real conditions use two or three.
    /// </summary>
    public const int MaxNesting = 100;

    /// <summary>How deeply policy files include each other: 32 files (the built-in policies use one level).</summary>
    public const int MaxIncludeDepth = 32;

    /// <summary>How deeply an OCI/Docker profile's JSON nests: 64 levels (a profile needs 5: syscalls[].args[] in the top object).</summary>
    public const int MaxJsonDepth = 64;

    /// <summary>
    /// How many different syscalls a policy may have rules for on one architecture: 4096. The tables hold at most 440
    /// per architecture; more can only be numbers outside them, and each costs the IR and the compiler a few hundred
    /// bytes (150,000 numbers on five architectures took 550 MB).
    /// </summary>
    public const int MaxSyscallsPerArchitecture = 4096;

    /// <summary>
    /// How many argument tests the rules of one syscall may hold, all rules together, for the compiler: 1024. The
    /// kernel runs at most 4096 instructions per filter and each test takes one or two; Docker's default profile has
    /// at most five per syscall. The compiler walks a syscall's tests as one chain, so this also bounds its recursion.
    /// </summary>
    public const int MaxArgumentTestsPerSyscall = 1024;

    /// <summary>
    /// The memory the maps of one eBPF object may declare: 128 MiB of values and per-entry bookkeeping (see
    /// <see cref="Ebpf.Maps.MapDefinition.MemoryBytes"/>). Maps are preallocated, as the kernel preallocates array and
    /// hash maps: an array of a million 64-byte values takes 61 MiB, a hash map of as many with 4-byte keys 126 MiB;
    /// the samples' largest map, 4096 counters in a hash map, takes 304 KiB.
    /// </summary>
    public const long MaxMapMemoryBytes = 128L << 20;

    /// <summary>A size for messages: <c>1 MiB</c>, <c>4 GiB</c>, <c>112.5 MiB</c>, <c>4 KiB</c>, or bytes below 1 KiB.</summary>
    public static string Describe(long bytes) => bytes switch
    {
        >= 1L << 30 => Scaled(bytes, 30, "GiB"),
        >= 1 << 20 => Scaled(bytes, 20, "MiB"),
        >= 1 << 10 => Scaled(bytes, 10, "KiB"),
        _ => FormattableString.Invariant($"{bytes} bytes"),
    };

    private static string Scaled(long bytes, int shift, string unit) => bytes % (1L << shift) == 0
        ? FormattableString.Invariant($"{bytes >> shift} {unit}")
        : FormattableString.Invariant($"{(double)bytes / (1L << shift):0.0} {unit}");
}
