using System.Text.RegularExpressions;

namespace Syscage.Generator;

/// <summary>
/// The width of a syscall argument's C type, as the kernel's syscall wrapper reads the register: the wrappers
/// (<c>__se_sys_*</c>, <c>__x64_sys_*</c>, <c>__ia32_sys_*</c>, include/linux/syscalls.h and
/// arch/x86/include/asm/syscall_wrapper.h) cast each 64-bit register to the declared type, so an <c>int</c> argument
/// is its register's low 32 bits and an <c>umode_t</c> its low 16. Widths are those of a 64-bit ABI (LP64); on a
/// 32-bit ABI the filter sees 32-bit registers and nothing is wider than 32.
/// </summary>
internal static partial class ArgumentTypes
{
    /// <summary>
    /// Every scalar type the prototypes use, by its width in bits on LP64. Kernel typedefs have the kernel's width
    /// (<c>timer_t</c> and <c>dev_t</c> are 32-bit in the kernel, whatever glibc makes of them); types only glibc has
    /// (<c>nfds_t</c>) have glibc's, and a kernel row states what the kernel takes instead.
    /// </summary>
    private static readonly Dictionary<string, int> Scalars = new(StringComparer.Ordinal)
    {
        // 64 bits.
        ["long"] = 64,
        ["unsigned long"] = 64,
        ["long long"] = 64,
        ["unsigned long long"] = 64,
        ["size_t"] = 64,
        ["ssize_t"] = 64,
        ["off_t"] = 64,
        ["loff_t"] = 64,
        ["off64_t"] = 64,
        ["time_t"] = 64,
        ["u64"] = 64,
        ["__u64"] = 64,
        ["uint64_t"] = 64,
        ["s64"] = 64,
        ["__s64"] = 64,
        ["int64_t"] = 64,
        ["aio_context_t"] = 64,     // include/uapi/linux/aio_abi.h: __kernel_ulong_t
        ["old_sigset_t"] = 64,      // arch/x86/include/uapi/asm/signal.h: unsigned long
        ["nfds_t"] = 64,            // glibc: unsigned long int
        ["caddr_t"] = 64,           // glibc: char *
        ["sighandler_t"] = 64,      // glibc: a function pointer
        ["__sighandler_t"] = 64,
        ["cap_user_header_t"] = 64, // include/uapi/linux/capability.h: pointer typedefs
        ["cap_user_data_t"] = 64,
        ["compat_loff_t"] = 64,
        ["uintptr_t"] = 64,

        // 32 bits.
        ["int"] = 32,
        ["unsigned int"] = 32,
        ["unsigned"] = 32,
        ["u32"] = 32,
        ["__u32"] = 32,
        ["uint32_t"] = 32,
        ["s32"] = 32,
        ["__s32"] = 32,
        ["int32_t"] = 32,
        ["pid_t"] = 32,
        ["uid_t"] = 32,
        ["gid_t"] = 32,
        ["id_t"] = 32,
        ["idtype_t"] = 32,          // glibc: an enum
        ["mode_t"] = 32,            // include/uapi/asm-generic/posix_types.h: unsigned int (syscalls take umode_t)
        ["dev_t"] = 32,             // include/linux/types.h: u32 (glibc's is 64-bit)
        ["key_t"] = 32,
        ["key_serial_t"] = 32,
        ["clockid_t"] = 32,
        ["timer_t"] = 32,           // include/uapi/asm-generic/posix_types.h: int (glibc's is a pointer)
        ["mqd_t"] = 32,
        ["qid_t"] = 32,
        ["rwf_t"] = 32,
        ["socklen_t"] = 32,
        ["compat_ulong_t"] = 32,
        ["compat_long_t"] = 32,
        ["compat_size_t"] = 32,
        ["compat_uptr_t"] = 32,
        ["compat_pid_t"] = 32,
        ["compat_int_t"] = 32,
        ["compat_uint_t"] = 32,
        ["compat_off_t"] = 32,
        ["compat_sigset_word"] = 32,
        ["compat_aio_context_t"] = 32,

        // 16 bits.
        ["umode_t"] = 16,           // include/linux/types.h: unsigned short
        ["old_uid_t"] = 16,         // arch/x86/include/uapi/asm/posix_types_32.h: unsigned short
        ["old_gid_t"] = 16,
        ["unsigned short"] = 16,
        ["short"] = 16,
        ["u16"] = 16,
        ["__u16"] = 16,
    };

    /// <summary>Qualifiers and annotations that do not change a type's width.</summary>
    [GeneratedRegex(@"\b(const|volatile|restrict|__restrict|__user|_Nullable|_Nonnull|signed)\b", RegexOptions.CultureInvariant)]
    private static partial Regex Qualifier();

    [GeneratedRegex(@"\s+", RegexOptions.CultureInvariant)]
    private static partial Regex WhiteSpace();

    /// <summary>The width in bits of <paramref name="type"/> on LP64; false for a type not known here.</summary>
    public static bool TryGetBits(string type, out int bits)
    {
        if (type.Contains('*', StringComparison.Ordinal) || type.Contains('[', StringComparison.Ordinal) || type.Contains('(', StringComparison.Ordinal))
        {
            bits = 64; // a pointer
            return true;
        }

        string bare = WhiteSpace().Replace(Qualifier().Replace(type, " "), " ").Trim();
        if (bare.EndsWith(" int", StringComparison.Ordinal) && bare != "unsigned int")
        {
            bare = bare[..^4]; // long int, unsigned long int, short int
        }

        if (bare.Length == 0)
        {
            bare = "int"; // 'signed', 'signed int'
        }

        if (bare.StartsWith("enum ", StringComparison.Ordinal))
        {
            bits = 32; // an enum is an int (enum landlock_rule_type; glibc's enum __ptrace_request)
            return true;
        }

        return Scalars.TryGetValue(bare, out bits);
    }

    /// <summary>The width in bits of <paramref name="type"/> on LP64.</summary>
    /// <exception cref="InvalidDataException">The type is not known; <paramref name="where"/> says where it was found.</exception>
    public static int Bits(string type, string where) =>
        TryGetBits(type, out int bits) ? bits
        : throw new InvalidDataException($"{where}: the width of the type '{type}' is not known; add it to ArgumentTypes.Scalars");

    /// <summary>
    /// True when the parameter is a value that takes two registers on a 32-bit ABI (<c>loff_t</c>,
    /// <c>u64</c>, <c>long long</c>, glibc's 64-bit <c>off_t</c>). How the two halves are placed differs per
    /// architecture (x86 fallocate: fd, mode, offset_lo, offset_hi, len_lo, len_hi), so the names of a 32-bit ABI stop
    /// before the first such argument.
    /// </summary>
    public static bool TakesTwoRegistersOn32Bit(Parameter p)
    {
        if (!p.IsByValue)
        {
            return false;
        }

        string[] words = p.Type.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return words.Count(w => w == "long") >= 2
            || words.Any(w => w is "off_t" or "loff_t" or "off64_t" or "uint64_t" or "int64_t" or "u64" or "__u64" or "s64" or "__s64" or "__aligned_u64" or "compat_loff_t");
    }
}
