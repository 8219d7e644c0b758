using Syscage.Ebpf.Helpers;

namespace Syscage.Ebpf.Tests;

/// <summary>A task with made-up identity and a sparse memory of its own: mapped ranges are byte arrays at addresses.</summary>
public sealed class FakeTask : IBpfTask
{
    private readonly List<(ulong Address, byte[] Bytes)> _memory = [];

    public int Pid { get; init; } = 4242;
    public int Tgid { get; init; } = 4200;
    public uint Uid { get; init; } = 1000;
    public uint Gid { get; init; } = 100;
    public string Comm { get; init; } = "fake-task";
    public bool MayReadMemory { get; init; } = true;
    public object Identity => Pid;

    /// <summary>Maps the pages holding <paramref name="bytes"/> at <paramref name="address"/> (the rest of those pages reads as zeros), like real memory.</summary>
    public FakeTask Map(ulong address, byte[] bytes)
    {
        ulong first = address & ~4095ul;
        ulong end = (address + (ulong)bytes.Length + 4095) & ~4095ul;
        var pages = new byte[end - first];
        bytes.CopyTo(pages, (int)(address - first));
        _memory.Add((first, pages));
        return this;
    }

    public int ReadMemory(ulong address, Span<byte> destination)
    {
        foreach (var (start, bytes) in _memory)
        {
            if (address >= start && address + (ulong)destination.Length <= start + (ulong)bytes.Length)
            {
                bytes.AsSpan((int)(address - start), destination.Length).CopyTo(destination);
                return 0;
            }
        }
        return -14; // EFAULT
    }
}
