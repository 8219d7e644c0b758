using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using Audit = Syscage.Abi.AuditArch;
using ProcessArchitecture = System.Runtime.InteropServices.Architecture;

namespace Syscage.Abi;

/// <summary>
/// A Linux system-call ABI as a seccomp filter sees it: the value of <c>seccomp_data.arch</c>
/// (<see cref="AuditArch"/>), the numbering of <c>seccomp_data.nr</c> (<see cref="Syscalls"/>), and the layout of the
/// 64-bit fields (<see cref="IsBigEndian"/>). Every architecture libseccomp knows is here, with libseccomp's name
/// (<see cref="ScmpName"/>). x86_64 and x32 share <c>AUDIT_ARCH_X86_64</c> and differ by bit 0x40000000 of the
/// number, so a filter must check that bit before it matches x86_64 numbers.
/// </summary>
public sealed class Architecture
{
    private readonly Lazy<SyscallTable> syscalls;
    private readonly string table;
    private readonly string[] aliases;

    private Architecture(string name, uint auditArch, string auditArchName, int syscallNumberBase, string table, params string[] aliases)
    {
        Name = name;
        AuditArch = auditArch;
        AuditArchName = auditArchName;
        SyscallNumberBase = syscallNumberBase;
        this.aliases = aliases;
        this.table = table;
        syscalls = new Lazy<SyscallTable>(() => new SyscallTable(this, table));
    }

    /// <summary>
    /// The number of syscall <paramref name="name"/> (<see cref="SyscallTable.TryGetNumber"/>), found without reading the
    /// whole table when nothing has read it yet: a start that needs a few numbers (the launcher's syscalls) does not
    /// parse four hundred lines for them.
    /// </summary>
    internal bool TryGetSyscallNumber(string name, out int number) => syscalls.IsValueCreated
        ? syscalls.Value.TryGetNumber(name, out number)
        : SyscallTable.TryFindNumber(table, name, out number);

    /// <summary>The generated table this ABI's <see cref="Syscalls"/> are read from (for the tests of the readers).</summary>
    internal string SyscallTableText => table;

    /// <summary>Syscage's name for the ABI, libseccomp's: <c>x86_64</c>, <c>x86</c>, <c>x32</c>, <c>aarch64</c>, <c>mipsel64n32</c>, <c>s390x</c> ...</summary>
    public string Name { get; }

    /// <summary>libseccomp's and the OCI runtime spec's name: <c>SCMP_ARCH_</c> and <see cref="Name"/> in capitals (<c>SCMP_ARCH_PPC64LE</c>).</summary>
    public string ScmpName => "SCMP_ARCH_" + Name.ToUpperInvariant();

    /// <summary>The <c>AUDIT_ARCH_*</c> value the kernel puts in <c>seccomp_data.arch</c>.</summary>
    public uint AuditArch { get; }

    /// <summary>The name of <see cref="AuditArch"/> in linux/audit.h, e.g. <c>AUDIT_ARCH_X86_64</c> (for x32 too), <c>AUDIT_ARCH_SHEL</c> for sh.</summary>
    public string AuditArchName { get; }

    /// <summary>
    /// True when registers, and so the six <c>seccomp_data.args</c>, are 64 bits wide: <c>__AUDIT_ARCH_64BIT</c> is set
    /// in <see cref="AuditArch"/> (x32 and mips n32 included, whose registers are 64-bit). On the others only the low
    /// 32 bits of an argument reach the syscall, whatever <c>seccomp_data</c> holds above them.
    /// </summary>
    public bool Is64Bit => (AuditArch & SyscallTables.AuditArch64Bit) != 0;

    /// <summary>
    /// True when the ABI is big-endian (<c>__AUDIT_ARCH_LE</c> is clear): its <c>seccomp_data</c> keeps the high half of
    /// each 64-bit field (<c>args[i]</c>, <c>instruction_pointer</c>) at the lower offset, and a filter's 32-bit loads
    /// read them there (see <see cref="ArgumentOffset"/>).
    /// </summary>
    public bool IsBigEndian => IsBigEndianAuditArch(AuditArch);

    /// <summary><see cref="IsBigEndian"/> of any <c>AUDIT_ARCH_*</c> value, known to Syscage or not: what its <c>__AUDIT_ARCH_LE</c> bit says.</summary>
    internal static bool IsBigEndianAuditArch(uint auditArch) => (auditArch & SyscallTables.AuditArchLittleEndian) == 0;

    /// <summary>A bit every syscall number of this ABI carries: <c>__X32_SYSCALL_BIT</c> (0x40000000) for x32, else 0.</summary>
    public uint SyscallNumberBit => this == X32 ? (uint)SyscallTables.X32SyscallBit : 0;

    /// <summary>
    /// Where the ABI's syscall numbers start, as <c>seccomp_data.nr</c> holds them: <c>__X32_SYSCALL_BIT</c> for x32,
    /// <c>__NR_O32_Linux</c> (4000), <c>__NR_64_Linux</c> (5000) and <c>__NR_N32_Linux</c> (6000) for the mips ABIs, 0 for
    /// the others.
    /// </summary>
    public int SyscallNumberBase { get; }

    /// <summary>The system calls of this ABI (Linux <see cref="KernelVersion"/>).</summary>
    public SyscallTable Syscalls => syscalls.Value;

    /// <summary>
    /// The number of <c>socketcall(2)</c> on this ABI, the multiplexer of the socket calls, or null when it has none.
    /// Where it exists a socket call can be made through it as well as (since Linux 4.3 on most) directly.
    /// </summary>
    public int? SocketcallNumber => Syscalls.TryGetNumber("socketcall", out int nr) ? nr : null;

    /// <summary>The number of <c>ipc(2)</c> on this ABI, the multiplexer of the System V IPC calls, or null when it has none.</summary>
    public int? IpcNumber => Syscalls.TryGetNumber("ipc", out int nr) ? nr : null;

    /// <summary>The number of <paramref name="multiplexer"/> on this ABI (<see cref="SocketcallNumber"/>, <see cref="IpcNumber"/>), or null when it has none.</summary>
    public int? MultiplexerNumber(Multiplexer multiplexer) => multiplexer == Multiplexer.Socketcall ? SocketcallNumber : IpcNumber;

    /// <summary>
    /// True when this ABI can make the call named <paramref name="name"/> through a multiplexer: it is one of the socket
    /// or System V IPC calls (<see cref="MultiplexedCall"/>) and the ABI has that multiplexer — whether or not it also has
    /// the call directly.
    /// </summary>
    public bool TryGetMultiplexed(string name, [NotNullWhen(true)] out MultiplexedCall? call) =>
        MultiplexedCall.TryGet(name, out call) && MultiplexerNumber(call.Multiplexer) is not null;

    /// <summary>The call a multiplexer of this ABI can also make that is numbered <paramref name="nr"/> directly (<c>socket</c>, 359 on x86), or null.</summary>
    public MultiplexedCall? MultiplexedCallOf(int nr) =>
        Syscalls.TryGetName(nr, out var name) && TryGetMultiplexed(name, out var call) ? call : null;

    /// <summary>The kernel version the syscall tables are from (facts/syscalls.csv): <c>7.1</c>.</summary>
    public static string KernelVersion => SyscallTables.KernelVersion;

    /// <summary>
    /// The offset in <c>seccomp_data</c> of the 32-bit word a filter loads for the low (or, with
    /// <paramref name="highHalf"/>, the high) half of <c>args[<paramref name="index"/>]</c> on this ABI:
    /// <c>16 + 8*index</c> for the low half of a little-endian ABI, 4 more for its high half, and the other way round on
    /// a big-endian one. Getting this wrong compares the wrong half: a bypass.
    /// </summary>
    public uint ArgumentOffset(int index, bool highHalf = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(index, 5);
        return SeccompData.WordOffset(SeccompData.ArgsOffset + 8 * (uint)index, highHalf, IsBigEndian);
    }

    /// <summary>x86-64 (<c>AUDIT_ARCH_X86_64</c>).</summary>
    public static Architecture X86_64 { get; } = new("x86_64", Audit.AUDIT_ARCH_X86_64, nameof(Audit.AUDIT_ARCH_X86_64), 0, SyscallTables.X86_64,
        "amd64", "x86-64", "x64");

    /// <summary>i386, including 32-bit processes on x86-64 kernels (<c>AUDIT_ARCH_I386</c>).</summary>
    public static Architecture X86 { get; } = new("x86", Audit.AUDIT_ARCH_I386, nameof(Audit.AUDIT_ARCH_I386), 0, SyscallTables.X86,
        "i386", "i486", "i586", "i686", "ia32");

    /// <summary>
    /// x32: 64-bit registers, 32-bit pointers. Its calls arrive with <c>AUDIT_ARCH_X86_64</c> and numbers that
    /// include <c>__X32_SYSCALL_BIT</c>.
    /// </summary>
    public static Architecture X32 { get; } = new("x32", Audit.AUDIT_ARCH_X86_64, nameof(Audit.AUDIT_ARCH_X86_64), SyscallTables.X32SyscallBit, SyscallTables.X32);

    /// <summary>32-bit ARM EABI (<c>AUDIT_ARCH_ARM</c>), including 32-bit processes on arm64 kernels; its private calls are <c>0xf0000</c> + n.</summary>
    public static Architecture Arm { get; } = new("arm", Audit.AUDIT_ARCH_ARM, nameof(Audit.AUDIT_ARCH_ARM), 0, SyscallTables.Arm,
        "armhf", "armel", "arm32", "armv7l", "armv6l");

    /// <summary>arm64 (<c>AUDIT_ARCH_AARCH64</c>).</summary>
    public static Architecture Aarch64 { get; } = new("aarch64", Audit.AUDIT_ARCH_AARCH64, nameof(Audit.AUDIT_ARCH_AARCH64), 0, SyscallTables.Aarch64,
        "arm64");

    /// <summary>64-bit LoongArch (<c>AUDIT_ARCH_LOONGARCH64</c>).</summary>
    public static Architecture Loongarch64 { get; } = new("loongarch64", Audit.AUDIT_ARCH_LOONGARCH64, nameof(Audit.AUDIT_ARCH_LOONGARCH64), 0, SyscallTables.Loongarch64,
        "loong64");

    /// <summary>Motorola 68000 (<c>AUDIT_ARCH_M68K</c>), big-endian, 32-bit.</summary>
    public static Architecture M68k { get; } = new("m68k", Audit.AUDIT_ARCH_M68K, nameof(Audit.AUDIT_ARCH_M68K), 0, SyscallTables.M68k);

    /// <summary>MIPS o32, big-endian (<c>AUDIT_ARCH_MIPS</c>); numbers from 4000.</summary>
    public static Architecture Mips { get; } = new("mips", Audit.AUDIT_ARCH_MIPS, nameof(Audit.AUDIT_ARCH_MIPS), SyscallTables.MipsO32Base, SyscallTables.Mips);

    /// <summary>MIPS o32, little-endian (<c>AUDIT_ARCH_MIPSEL</c>); numbers from 4000.</summary>
    public static Architecture Mipsel { get; } = new("mipsel", Audit.AUDIT_ARCH_MIPSEL, nameof(Audit.AUDIT_ARCH_MIPSEL), SyscallTables.MipsO32Base, SyscallTables.Mipsel);

    /// <summary>MIPS n64, big-endian (<c>AUDIT_ARCH_MIPS64</c>); numbers from 5000.</summary>
    public static Architecture Mips64 { get; } = new("mips64", Audit.AUDIT_ARCH_MIPS64, nameof(Audit.AUDIT_ARCH_MIPS64), SyscallTables.Mips64Base, SyscallTables.Mips64);

    /// <summary>MIPS n64, little-endian (<c>AUDIT_ARCH_MIPSEL64</c>); numbers from 5000.</summary>
    public static Architecture Mipsel64 { get; } = new("mipsel64", Audit.AUDIT_ARCH_MIPSEL64, nameof(Audit.AUDIT_ARCH_MIPSEL64), SyscallTables.Mips64Base, SyscallTables.Mipsel64,
        "mips64el");

    /// <summary>MIPS n32, big-endian (<c>AUDIT_ARCH_MIPS64N32</c>): 64-bit registers, 32-bit pointers; numbers from 6000.</summary>
    public static Architecture Mips64N32 { get; } = new("mips64n32", Audit.AUDIT_ARCH_MIPS64N32, nameof(Audit.AUDIT_ARCH_MIPS64N32), SyscallTables.MipsN32Base, SyscallTables.Mips64N32,
        "mipsn32");

    /// <summary>MIPS n32, little-endian (<c>AUDIT_ARCH_MIPSEL64N32</c>); numbers from 6000.</summary>
    public static Architecture Mipsel64N32 { get; } = new("mipsel64n32", Audit.AUDIT_ARCH_MIPSEL64N32, nameof(Audit.AUDIT_ARCH_MIPSEL64N32), SyscallTables.MipsN32Base, SyscallTables.Mipsel64N32,
        "mipsn32el", "mips64n32el");

    /// <summary>32-bit PA-RISC (<c>AUDIT_ARCH_PARISC</c>), big-endian.</summary>
    public static Architecture Parisc { get; } = new("parisc", Audit.AUDIT_ARCH_PARISC, nameof(Audit.AUDIT_ARCH_PARISC), 0, SyscallTables.Parisc,
        "hppa");

    /// <summary>64-bit PA-RISC (<c>AUDIT_ARCH_PARISC64</c>), big-endian.</summary>
    public static Architecture Parisc64 { get; } = new("parisc64", Audit.AUDIT_ARCH_PARISC64, nameof(Audit.AUDIT_ARCH_PARISC64), 0, SyscallTables.Parisc64,
        "hppa64");

    /// <summary>32-bit PowerPC (<c>AUDIT_ARCH_PPC</c>), big-endian.</summary>
    public static Architecture Ppc { get; } = new("ppc", Audit.AUDIT_ARCH_PPC, nameof(Audit.AUDIT_ARCH_PPC), 0, SyscallTables.Ppc,
        "powerpc");

    /// <summary>64-bit PowerPC, big-endian (<c>AUDIT_ARCH_PPC64</c>).</summary>
    public static Architecture Ppc64 { get; } = new("ppc64", Audit.AUDIT_ARCH_PPC64, nameof(Audit.AUDIT_ARCH_PPC64), 0, SyscallTables.Ppc64,
        "powerpc64");

    /// <summary>64-bit PowerPC, little-endian (<c>AUDIT_ARCH_PPC64LE</c>).</summary>
    public static Architecture Ppc64le { get; } = new("ppc64le", Audit.AUDIT_ARCH_PPC64LE, nameof(Audit.AUDIT_ARCH_PPC64LE), 0, SyscallTables.Ppc64le,
        "ppc64el", "powerpc64le");

    /// <summary>64-bit RISC-V (<c>AUDIT_ARCH_RISCV64</c>).</summary>
    public static Architecture Riscv64 { get; } = new("riscv64", Audit.AUDIT_ARCH_RISCV64, nameof(Audit.AUDIT_ARCH_RISCV64), 0, SyscallTables.Riscv64,
        "rv64");

    /// <summary>31-bit s390 (<c>AUDIT_ARCH_S390</c>), big-endian: 31-bit processes on s390x kernels.</summary>
    public static Architecture S390 { get; } = new("s390", Audit.AUDIT_ARCH_S390, nameof(Audit.AUDIT_ARCH_S390), 0, SyscallTables.S390);

    /// <summary>64-bit IBM Z (<c>AUDIT_ARCH_S390X</c>), big-endian.</summary>
    public static Architecture S390x { get; } = new("s390x", Audit.AUDIT_ARCH_S390X, nameof(Audit.AUDIT_ARCH_S390X), 0, SyscallTables.S390x);

    /// <summary>SuperH, little-endian (<c>AUDIT_ARCH_SHEL</c>): libseccomp's <c>SCMP_ARCH_SH</c>.</summary>
    public static Architecture Sh { get; } = new("sh", Audit.AUDIT_ARCH_SHEL, nameof(Audit.AUDIT_ARCH_SHEL), 0, SyscallTables.Sh,
        "sh4");

    /// <summary>SuperH, big-endian (<c>AUDIT_ARCH_SH</c>): libseccomp's <c>SCMP_ARCH_SHEB</c>.</summary>
    public static Architecture Sheb { get; } = new("sheb", Audit.AUDIT_ARCH_SH, nameof(Audit.AUDIT_ARCH_SH), 0, SyscallTables.Sheb,
        "sh4eb");

    /// <summary>
    /// Every architecture libseccomp knows (23): the x86 family first, then <c>arm</c>, <c>aarch64</c>,
    /// <c>loongarch64</c>, <c>m68k</c>, the six mips ABIs, <c>parisc</c>, <c>parisc64</c>, <c>ppc</c>, <c>ppc64</c>,
    /// <c>ppc64le</c>, <c>riscv64</c>, <c>s390</c>, <c>s390x</c>, <c>sh</c>, <c>sheb</c>.
    /// </summary>
    public static IReadOnlyList<Architecture> All { get; } = Array.AsReadOnly(
    [
        X86_64, X86, X32, Arm, Aarch64, Loongarch64, M68k, Mips, Mipsel, Mips64, Mipsel64, Mips64N32, Mipsel64N32,
        Parisc, Parisc64, Ppc, Ppc64, Ppc64le, Riscv64, S390, S390x, Sh, Sheb,
    ]);

    /// <summary>
    /// By <c>AUDIT_ARCH_*</c> value; <c>AUDIT_ARCH_X86_64</c> is x86_64's (x32 is told apart by the number). Made at the
    /// first lookup, not with the architectures: a start that only needs the native one does not freeze a dictionary.
    /// </summary>
    private static class ByAuditArch
    {
        public static readonly FrozenDictionary<uint, Architecture> Index = All.Where(a => a != X32).ToFrozenDictionary(a => a.AuditArch);
    }

    /// <summary>
    /// The ABI of the running process: <see cref="X86_64"/> on x86-64, <see cref="Aarch64"/> on arm64, and so on.
    /// </summary>
    /// <exception cref="PlatformNotSupportedException">The process runs on an architecture Syscage does not know.</exception>
    public static Architecture Native => RuntimeInformation.ProcessArchitecture switch
    {
        ProcessArchitecture.X64 => X86_64,
        ProcessArchitecture.X86 => X86,
        ProcessArchitecture.Arm64 => Aarch64,
        ProcessArchitecture.Arm or ProcessArchitecture.Armv6 => Arm,
        ProcessArchitecture.RiscV64 => Riscv64,
        ProcessArchitecture.LoongArch64 => Loongarch64,
        ProcessArchitecture.S390x => S390x,
        ProcessArchitecture.Ppc64le => Ppc64le,
        ProcessArchitecture other => throw new PlatformNotSupportedException($"Syscage has no syscall table for {other}"),
    };

    /// <summary>
    /// Finds an architecture by name, ignoring case: the names of <see cref="Name"/>; libseccomp's and OCI's
    /// <see cref="ScmpName"/> (<c>SCMP_ARCH_X32</c> is x32); the <c>AUDIT_ARCH_*</c> names (<c>AUDIT_ARCH_X86_64</c> is
    /// x86_64, not x32); and the aliases <c>amd64</c>, <c>x86-64</c>, <c>x64</c> (x86_64), <c>i386</c>…<c>i686</c>,
    /// <c>ia32</c> (x86), <c>arm64</c> (aarch64), <c>armhf</c>, <c>armel</c>, <c>arm32</c>, <c>armv7l</c>, <c>armv6l</c>
    /// (arm), <c>loong64</c>, <c>mips64el</c>, <c>mipsn32</c>, <c>mipsn32el</c>, <c>hppa</c>, <c>hppa64</c>,
    /// <c>powerpc</c>, <c>powerpc64</c>, <c>ppc64el</c>, <c>powerpc64le</c>, <c>rv64</c>, <c>sh4</c>, <c>sh4eb</c>
    /// (Debian's and uname's spellings).
    /// </summary>
    public static bool TryParse(string? name, [NotNullWhen(true)] out Architecture? arch)
    {
        if (!string.IsNullOrWhiteSpace(name))
        {
            string wanted = name.Trim();
            foreach (Architecture candidate in All)
            {
                if (string.Equals(candidate.Name, wanted, StringComparison.OrdinalIgnoreCase)
                    || string.Equals(candidate.ScmpName, wanted, StringComparison.OrdinalIgnoreCase)
                    || (candidate != X32 && string.Equals(candidate.AuditArchName, wanted, StringComparison.OrdinalIgnoreCase))
                    || candidate.aliases.Any(a => string.Equals(a, wanted, StringComparison.OrdinalIgnoreCase)))
                {
                    arch = candidate;
                    return true;
                }
            }
        }

        arch = null;
        return false;
    }

    /// <summary>Like <see cref="TryParse"/>, but throws when the name is not known.</summary>
    /// <exception cref="ArgumentException">The name is not an architecture; the message lists the valid names.</exception>
    public static Architecture Parse(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (TryParse(name, out Architecture? arch))
        {
            return arch;
        }

        throw new ArgumentException(
            $"unknown architecture '{name}': expected one of {string.Join(", ", All.Select(a => a.Name))} "
            + $"(aliases: {string.Join(", ", All.SelectMany(a => a.aliases))}; SCMP_ARCH_* and AUDIT_ARCH_* names)",
            nameof(name));
    }

    /// <summary>
    /// The architecture whose <c>seccomp_data.arch</c> is <paramref name="auditArch"/>, or null. For
    /// <c>AUDIT_ARCH_X86_64</c> this is <see cref="X86_64"/>: x32 is told apart only by the syscall number (see <see cref="Of"/>).
    /// </summary>
    public static Architecture? FromAuditArch(uint auditArch) => ByAuditArch.Index.GetValueOrDefault(auditArch);

    /// <summary>
    /// The number a tracer sets to skip a call (<c>-1</c>): under <c>AUDIT_ARCH_X86_64</c> it belongs to x86_64,
    /// although it has the x32 bit.
    /// </summary>
    public const int SkippedCall = -1;

    /// <summary>
    /// The x32 rule, stated once: under <c>AUDIT_ARCH_X86_64</c>, a number with <c>__X32_SYSCALL_BIT</c> is an x32
    /// call — except <see cref="SkippedCall"/>, which stays with x86_64.
    /// </summary>
    public static bool IsX32Number(int nr) => (nr & SyscallTables.X32SyscallBit) != 0 && nr != SkippedCall;

    /// <summary>Whether a call numbered <paramref name="nr"/> under this ABI's <c>AUDIT_ARCH_*</c> is this ABI's (the x32 rule for x86_64 and x32; always for the others).</summary>
    public bool Owns(int nr) => this == X86_64 ? !IsX32Number(nr) : this != X32 || IsX32Number(nr);

    /// <summary>The ABI of a call, as the kernel sees it: by <paramref name="auditArch"/>, then by the x32 rule; null when unknown.</summary>
    public static Architecture? Of(uint auditArch, int nr) =>
        FromAuditArch(auditArch) is { } arch && arch == X86_64 && IsX32Number(nr) ? X32 : FromAuditArch(auditArch);

    /// <summary>
    /// The name under which <paramref name="number"/> (as a filter compares <c>seccomp_data.nr</c>) is printed for
    /// this architecture: the plain name from its table, or, on x86_64, <c>x32.name</c> for an x32 number (they share
    /// <c>AUDIT_ARCH_X86_64</c>). Null when no table names it.
    /// </summary>
    public string? SyscallName(uint number)
    {
        if (number > int.MaxValue)
            return null;
        if (Syscalls.TryGetName((int)number, out var name))
            return name;
        if (this == X86_64 && IsX32Number((int)number) && X32.Syscalls.TryGetName((int)number, out var x32))
            return X32.Name + "." + x32;
        return null;
    }

    /// <summary>
    /// The system call <paramref name="number"/> is under this architecture's <c>AUDIT_ARCH_*</c> value: from this table,
    /// or, on x86_64, x32's for an x32 number. Null when no table has it.
    /// </summary>
    public Syscall? SyscallOf(uint number)
    {
        if (number > int.MaxValue)
            return null;
        if (Syscalls.TryGet((int)number, out var syscall))
            return syscall;
        return this == X86_64 && IsX32Number((int)number) && X32.Syscalls.TryGet((int)number, out var x32) ? x32 : null;
    }

    /// <summary>Reads a name printed by <see cref="SyscallName"/>, or <c>arch.name</c> for any architecture.</summary>
    public bool TryParseSyscall(string name, out int number)
    {
        ArgumentNullException.ThrowIfNull(name);
        number = 0;
        var table = Syscalls;
        int dot = name.IndexOf('.', StringComparison.Ordinal);
        if (dot > 0)
        {
            if (!TryParse(name[..dot], out var qualified))
                return false;
            table = qualified.Syscalls;
            name = name[(dot + 1)..];
        }
        return table.TryGetNumber(name, out number);
    }

    /// <summary>The <see cref="Name"/>.</summary>
    public override string ToString() => Name;
}
