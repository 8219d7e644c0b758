namespace Syscage.Abi;

/// <summary>
/// A system call of one architecture: its name, its number as the kernel headers define it (x32 numbers include
/// <c>__X32_SYSCALL_BIT</c>, so x32 <c>read</c> is 0x40000000), and the names and C types of its arguments in the
/// order the kernel receives them, which is the order of <c>seccomp_data.args</c>.
/// </summary>
/// <param name="Name">The kernel's name, without the <c>__NR_</c> prefix (<c>openat</c>, <c>_llseek</c>).</param>
/// <param name="Number">The value of <c>seccomp_data.nr</c> for this call on its architecture.</param>
/// <param name="ArgNames">
/// Argument names from the section-2 man pages (<c>openat</c>: dirfd, pathname, flags, mode). Empty when the call
/// takes no arguments or when no page gives them; shorter than the real argument list when the names past a point
/// are not known to match the kernel's registers (on 32-bit ABIs the names stop before the first 64-bit value).
/// </param>
/// <param name="ArgTypes">
/// The C type of each named argument as the kernel's syscall wrapper declares it (<c>int</c>, <c>umode_t</c>,
/// <c>const char *</c>), from <c>facts/syscall-prototypes.csv</c>; empty when unknown.
/// </param>
public sealed record Syscall(string Name, int Number, IReadOnlyList<string> ArgNames, IReadOnlyList<string>? ArgTypes = null)
{
    private static readonly Lazy<Dictionary<string, int>> TypeBits = new(SyscallTables.ArgumentTypeBits);

    /// <summary>The C type of each named argument (see the constructor); empty when unknown.</summary>
    public IReadOnlyList<string> ArgTypes { get; init; } = ArgTypes ?? [];

    /// <summary>The C type of argument <paramref name="index"/> (0 to 5), or null when the table does not know it.</summary>
    public string? ArgType(int index) => index >= 0 && index < ArgTypes.Count ? ArgTypes[index] : null;

    /// <summary>
    /// The width in bits at which the kernel reads argument <paramref name="index"/> on a 64-bit ABI: its syscall wrapper
    /// casts the register to the declared type, so 32 for <c>int</c>, <c>unsigned int</c>, <c>pid_t</c>, 16 for
    /// <c>umode_t</c>, 64 for <c>long</c>, <c>size_t</c> and pointers. 64 when the type is not known. (On a 32-bit ABI
    /// no argument is wider than 32 bits.)
    /// </summary>
    public int ArgWidth(int index) =>
        ArgType(index) is { } type && TypeBits.Value.TryGetValue(type, out int bits) ? bits : 64;

    /// <summary>The position (0 to 5) of the argument called <paramref name="argName"/>, or -1 when there is none.</summary>
    public int IndexOfArg(string argName)
    {
        ArgumentNullException.ThrowIfNull(argName);
        for (int i = 0; i < ArgNames.Count; i++)
        {
            if (string.Equals(ArgNames[i], argName, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>Equal when name, number, argument names and types (element by element) are equal.</summary>
    public bool Equals(Syscall? other)
        => other is not null
            && string.Equals(Name, other.Name, StringComparison.Ordinal)
            && Number == other.Number
            && ArgNames.SequenceEqual(other.ArgNames, StringComparer.Ordinal)
            && ArgTypes.SequenceEqual(other.ArgTypes, StringComparer.Ordinal);

    /// <summary>A hash of name and number.</summary>
    public override int GetHashCode() => HashCode.Combine(StringComparer.Ordinal.GetHashCode(Name), Number);

    /// <summary>The call as a prototype with its number: <c>openat(dirfd, pathname, flags, mode) = 257</c>.</summary>
    public override string ToString() => $"{Name}({string.Join(", ", ArgNames)}) = {Number}";
}
