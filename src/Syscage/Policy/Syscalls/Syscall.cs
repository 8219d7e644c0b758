namespace Syscage.Policy.Syscalls;

/// <summary>
/// A system call of one architecture: its name, its number as the kernel headers define it (x32 numbers include
/// <c>__X32_SYSCALL_BIT</c>, so x32 <c>read</c> is 0x40000000), and the names of its arguments in the order the
/// kernel receives them, which is the order of <c>seccomp_data.args</c>.
/// </summary>
/// <param name="Name">The kernel's name, without the <c>__NR_</c> prefix (<c>openat</c>, <c>_llseek</c>).</param>
/// <param name="Number">The value of <c>seccomp_data.nr</c> for this call on its architecture.</param>
/// <param name="ArgNames">
/// Argument names from the section-2 man pages (<c>openat</c>: dirfd, pathname, flags, mode). Empty when the call
/// takes no arguments or when no page gives them; shorter than the real argument list when the names past a point
/// are not known to match the kernel's registers (on 32-bit ABIs the names stop before the first 64-bit value).
/// </param>
public sealed record Syscall(string Name, int Number, IReadOnlyList<string> ArgNames)
{
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

    /// <summary>Equal when name, number and argument names (element by element) are equal.</summary>
    public bool Equals(Syscall? other)
        => other is not null
            && string.Equals(Name, other.Name, StringComparison.Ordinal)
            && Number == other.Number
            && ArgNames.SequenceEqual(other.ArgNames, StringComparer.Ordinal);

    /// <summary>A hash of name and number.</summary>
    public override int GetHashCode() => HashCode.Combine(StringComparer.Ordinal.GetHashCode(Name), Number);

    /// <summary>The call as a prototype with its number: <c>openat(dirfd, pathname, flags, mode) = 257</c>.</summary>
    public override string ToString() => $"{Name}({string.Join(", ", ArgNames)}) = {Number}";
}
