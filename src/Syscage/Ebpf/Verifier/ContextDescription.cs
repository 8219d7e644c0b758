namespace Syscage.Ebpf.Verifier;

/// <summary>
/// What <c>r1</c> points to when a program starts: its size, whether the program may write it, and which
/// (offset, size) loads are allowed. The verifier checks every context access against it.
/// </summary>
/// <param name="Name">Shown in verifier messages (<c>struct seccomp_data</c>).</param>
/// <param name="Size">Size in bytes.</param>
/// <param name="Writable">Whether stores into the context are allowed.</param>
/// <param name="Fields">Allowed (offset, size) accesses; null means any aligned access inside <paramref name="Size"/>.</param>
public sealed record ContextDescription(string Name, int Size, bool Writable, IReadOnlyList<(int Offset, int Size)>? Fields)
{
    /// <summary>
    /// <c>struct seccomp_data</c>, read-only: <c>nr</c> and <c>arch</c> as 4-byte loads, <c>instruction_pointer</c>
    /// and <c>args[i]</c> as 8-byte loads (and their 4-byte halves), as the eBPF-seccomp patch set allows.
    /// </summary>
    public static ContextDescription SeccompData { get; } = new("struct seccomp_data", 64, false, BuildSeccompFields());

    /// <summary>A flat writable memory block of <paramref name="size"/> bytes (the conformance suite's <c>-- mem</c>).</summary>
    public static ContextDescription Memory(int size) => new("memory", size, true, null);

    private static (int, int)[] BuildSeccompFields()
    {
        var fields = new List<(int, int)> { (0, 4), (4, 4) };
        for (int off = 8; off < 64; off += 8)
        {
            fields.Add((off, 8));
            fields.Add((off, 4));
            fields.Add((off + 4, 4));
        }
        return [.. fields];
    }
}
