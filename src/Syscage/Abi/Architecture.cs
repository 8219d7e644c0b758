using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using Audit = Syscage.Abi.AuditArch;
using ProcessArchitecture = System.Runtime.InteropServices.Architecture;

namespace Syscage.Abi;

/// <summary>
/// A Linux system-call ABI as a seccomp filter sees it: the value of <c>seccomp_data.arch</c>
/// (<see cref="AuditArch"/>) and the numbering of <c>seccomp_data.nr</c> (<see cref="Syscalls"/>). x86_64 and x32
/// share <c>AUDIT_ARCH_X86_64</c> and differ by bit 0x40000000 of the number, so a filter must check that bit
/// before it matches x86_64 numbers.
/// </summary>
public sealed class Architecture
{
    private readonly Lazy<SyscallTable> syscalls;
    private readonly string[] aliases;

    private Architecture(
        string name,
        uint auditArch,
        string auditArchName,
        bool is64Bit,
        uint syscallNumberBit,
        Func<Syscall[]> table,
        params string[] aliases)
    {
        Name = name;
        AuditArch = auditArch;
        AuditArchName = auditArchName;
        Is64Bit = is64Bit;
        SyscallNumberBit = syscallNumberBit;
        this.aliases = aliases;
        syscalls = new Lazy<SyscallTable>(() => new SyscallTable(this, table()));
    }

    /// <summary>Syscage's name for the ABI: <c>x86_64</c>, <c>x86</c>, <c>x32</c>, <c>aarch64</c>, <c>arm</c>, <c>riscv64</c>.</summary>
    public string Name { get; }

    /// <summary>The <c>AUDIT_ARCH_*</c> value the kernel puts in <c>seccomp_data.arch</c>.</summary>
    public uint AuditArch { get; }

    /// <summary>The name of <see cref="AuditArch"/> in linux/audit.h, e.g. <c>AUDIT_ARCH_X86_64</c> (for x32 too).</summary>
    public string AuditArchName { get; }

    /// <summary>
    /// True when registers, and so the six <c>seccomp_data.args</c>, are 64 bits wide: x86_64, x32, aarch64, riscv64.
    /// On the others only the low 32 bits of an argument exist.
    /// </summary>
    public bool Is64Bit { get; }

    /// <summary>A bit every syscall number of this ABI carries: <c>__X32_SYSCALL_BIT</c> (0x40000000) for x32, else 0.</summary>
    public uint SyscallNumberBit { get; }

    /// <summary>The system calls of this ABI. Empty for <see cref="Arm"/>: see there.</summary>
    public SyscallTable Syscalls => syscalls.Value;

    /// <summary>x86-64 (<c>AUDIT_ARCH_X86_64</c>), numbers from asm/unistd_64.h.</summary>
    public static Architecture X86_64 { get; } = new(
        "x86_64", Audit.AUDIT_ARCH_X86_64, nameof(Audit.AUDIT_ARCH_X86_64), true, 0, SyscallTables.X86_64,
        "amd64", "x86-64", "x64", nameof(Audit.AUDIT_ARCH_X86_64));

    /// <summary>i386, including 32-bit processes on x86-64 kernels (<c>AUDIT_ARCH_I386</c>), numbers from asm/unistd_32.h.</summary>
    public static Architecture X86 { get; } = new(
        "x86", Audit.AUDIT_ARCH_I386, nameof(Audit.AUDIT_ARCH_I386), false, 0, SyscallTables.X86,
        "i386", "i486", "i586", "i686", "ia32", nameof(Audit.AUDIT_ARCH_I386));

    /// <summary>
    /// x32: 64-bit registers, 32-bit pointers. Its calls arrive with <c>AUDIT_ARCH_X86_64</c> and numbers that
    /// include <c>__X32_SYSCALL_BIT</c> (asm/unistd_x32.h).
    /// </summary>
    public static Architecture X32 { get; } = new(
        "x32", Audit.AUDIT_ARCH_X86_64, nameof(Audit.AUDIT_ARCH_X86_64), true, (uint)SyscallTables.X32SyscallBit, SyscallTables.X32);

    /// <summary>arm64 (<c>AUDIT_ARCH_AARCH64</c>), numbers from asm-generic/unistd.h as arm64 configures it.</summary>
    public static Architecture Aarch64 { get; } = new(
        "aarch64", Audit.AUDIT_ARCH_AARCH64, nameof(Audit.AUDIT_ARCH_AARCH64), true, 0, SyscallTables.Aarch64,
        "arm64", nameof(Audit.AUDIT_ARCH_AARCH64));

    /// <summary>
    /// 32-bit ARM EABI (<c>AUDIT_ARCH_ARM</c>). Its syscall table is empty: arm's numbers are not asm-generic's
    /// and no header on the machine the tables were generated on gives them, so arm is not in <see cref="All"/>.
    /// It can still be named and recognised from <c>seccomp_data.arch</c>.
    /// </summary>
    public static Architecture Arm { get; } = new(
        "arm", Audit.AUDIT_ARCH_ARM, nameof(Audit.AUDIT_ARCH_ARM), false, 0, SyscallTables.Arm,
        "armhf", "armel", "arm32", nameof(Audit.AUDIT_ARCH_ARM));

    /// <summary>64-bit RISC-V (<c>AUDIT_ARCH_RISCV64</c>), numbers from asm-generic/unistd.h as riscv configures it.</summary>
    public static Architecture Riscv64 { get; } = new(
        "riscv64", Audit.AUDIT_ARCH_RISCV64, nameof(Audit.AUDIT_ARCH_RISCV64), true, 0, SyscallTables.Riscv64,
        "rv64", nameof(Audit.AUDIT_ARCH_RISCV64));

    /// <summary>The architectures with a syscall table: x86_64, x86, x32, aarch64, riscv64 (not <see cref="Arm"/>).</summary>
    public static IReadOnlyList<Architecture> All { get; } = Array.AsReadOnly([X86_64, X86, X32, Aarch64, Riscv64]);

    /// <summary>Every architecture Syscage can name, <see cref="Arm"/> included.</summary>
    private static readonly Architecture[] Known = [X86_64, X86, X32, Aarch64, Arm, Riscv64];

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
        ProcessArchitecture other => throw new PlatformNotSupportedException($"Syscage has no syscall table for {other}"),
    };

    /// <summary>
    /// Finds an architecture by name, ignoring case: the names of <see cref="Name"/>, the aliases
    /// <c>amd64</c>, <c>x86-64</c>, <c>x64</c> (x86_64), <c>i386</c>…<c>i686</c>, <c>ia32</c> (x86), <c>arm64</c> (aarch64),
    /// <c>armhf</c>, <c>armel</c>, <c>arm32</c> (arm), <c>rv64</c> (riscv64), and the <c>AUDIT_ARCH_*</c> names
    /// (<c>AUDIT_ARCH_X86_64</c> is x86_64, not x32).
    /// </summary>
    public static bool TryParse(string? name, [NotNullWhen(true)] out Architecture? arch)
    {
        if (!string.IsNullOrWhiteSpace(name))
        {
            string wanted = name.Trim();
            foreach (Architecture candidate in Known)
            {
                if (string.Equals(candidate.Name, wanted, StringComparison.OrdinalIgnoreCase)
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
            $"unknown architecture '{name}': expected one of {string.Join(", ", Known.Select(a => a.Name))} "
            + $"(aliases: {string.Join(", ", Known.SelectMany(a => a.aliases))})",
            nameof(name));
    }

    /// <summary>
    /// The architecture whose <c>seccomp_data.arch</c> is <paramref name="auditArch"/>, or null. For
    /// <c>AUDIT_ARCH_X86_64</c> this is <see cref="X86_64"/>: x32 is told apart only by the syscall number (see <see cref="Of"/>).
    /// </summary>
    public static Architecture? FromAuditArch(uint auditArch) => Known.FirstOrDefault(a => a.AuditArch == auditArch);

    /// <summary>
    /// The number a tracer sets to skip a call (<c>-1</c>): under <c>AUDIT_ARCH_X86_64</c> it belongs to x86_64,
    /// although it has the x32 bit.
    /// </summary>
    public const int SkippedCall = -1;

    /// <summary>
    /// The x32 rule, stated once: under <c>AUDIT_ARCH_X86_64</c>, a number with <c>__X32_SYSCALL_BIT</c> is an x32
    /// call — except <see cref="SkippedCall"/>, which stays with x86_64.
    /// </summary>
    public static bool IsX32Number(int nr) => (nr & (int)X32.SyscallNumberBit) != 0 && nr != SkippedCall;

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
