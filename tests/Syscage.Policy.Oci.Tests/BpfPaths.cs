using System.Buffers.Binary;

namespace Syscage.Policy.Oci.Tests;

/// <summary>
/// A path analysis of raw classic BPF, independent of Syscage.Bpf: which word the accumulator holds, and under which
/// mask (a load, then <c>A &amp;= k</c>).
/// </summary>
internal static class BpfPaths
{
    private const long Unknown = -1;

    /// <summary>A word of <c>seccomp_data</c> at <paramref name="offset"/>, ANDed with <paramref name="mask"/>.</summary>
    private static long Word(uint offset, uint mask) => ((long)mask << 32) | offset;

    /// <summary>What went wrong with A on the path a call takes.</summary>
    public enum Hazard
    {
        /// <summary>Nothing seen.</summary>
        None,
        /// <summary>A jump reached with different words (or masks of a word) in A on different paths was executed.</summary>
        PathDependentWord,
        /// <summary>A holds <c>seccomp_data.arch</c> and is compared with a value that is no AUDIT_ARCH: a syscall-number test whose load of <c>nr</c> is missing.</summary>
        ArchComparedAsNumber,
    }

    private static readonly uint[] AuditArches = [0xc000003e, 0x40000003, 0xc00000b7, 0x40000028, 0xc00000f3, 0x80000016, 0x00000016, 0xc0000015, 0x80000015, 0x40000015, 0x00000008, 0x80000008, 0xa0000008, 0xe0000008, 0x40000008, 0xc0000008, 0x20000008, 0x60000008];

    /// <summary>Runs the program on <paramref name="data"/> and reports the first accumulator hazard on its path.</summary>
    public static Hazard Check(byte[] program, byte[] data)
    {
        int n = program.Length / 8;
        // For each instruction: the (masked) words A may hold on arrival (Unknown for anything but an absolute load,
        // perhaps ANDed).
        var words = new HashSet<long>[n];
        for (int i = 0; i < n; i++)
            words[i] = [];
        words[0].Add(Unknown);
        for (int pc = 0; pc < n; pc++)
        {
            var (code, jt, jf, k) = Decode(program, pc);
            int cls = code & 7;
            var after = words[pc];
            if (cls == 0)
                after = [(code & 0xe0) == 0x20 ? Word(k, uint.MaxValue) : Unknown];
            else if (cls == 4 && (code & 0xf0) == 0x50)
                after = [.. after.Select(w => w == Unknown ? Unknown : Word((uint)w, (uint)(w >> 32) & k))];
            else if (cls is 4 or 7)
                after = [Unknown];
            if (cls == 6)
                continue;
            if (cls == 5)
            {
                if ((code & 0xf0) == 0)
                    Flow(words, pc + 1 + (int)k, after);
                else
                {
                    Flow(words, pc + 1 + jt, after);
                    Flow(words, pc + 1 + jf, after);
                }
            }
            else
                Flow(words, pc + 1, after);
        }

        // Execute, watching the conditional jumps on A.
        uint a = 0;
        long word = Unknown;
        for (int pc = 0; pc < n;)
        {
            var (code, jt, jf, k) = Decode(program, pc);
            int cls = code & 7;
            switch (cls)
            {
                case 6:
                    return Hazard.None;
                case 0:
                    a = (code & 0xe0) == 0x20 ? BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan((int)k)) : k;
                    word = (code & 0xe0) == 0x20 ? Word(k, uint.MaxValue) : Unknown;
                    pc++;
                    break;
                case 4 when (code & 0xf0) == 0x50:
                    a &= k;
                    word = word == Unknown ? Unknown : Word((uint)word, (uint)(word >> 32) & k);
                    pc++;
                    break;
                case 5 when (code & 0xf0) == 0:
                    pc += 1 + (int)k;
                    break;
                case 5:
                    if (words[pc].Count(w => w != Unknown) > 1)
                        return Hazard.PathDependentWord;
                    if (word == Word(4, uint.MaxValue) && !AuditArches.Contains(k))
                        return Hazard.ArchComparedAsNumber;
                    bool c = (code & 0xf0) switch { 0x10 => a == k, 0x20 => a > k, 0x30 => a >= k, _ => (a & k) != 0 };
                    pc += 1 + (c ? jt : jf);
                    break;
                default:
                    return Hazard.None;   // not a shape libseccomp generates; no verdict
            }
        }
        return Hazard.None;
    }

    private static void Flow(HashSet<long>[] words, int target, HashSet<long> state)
    {
        if (target < words.Length)
            words[target].UnionWith(state);
    }

    private static (ushort Code, byte Jt, byte Jf, uint K) Decode(byte[] p, int pc) =>
        (BinaryPrimitives.ReadUInt16LittleEndian(p.AsSpan(pc * 8)), p[pc * 8 + 2], p[pc * 8 + 3], BinaryPrimitives.ReadUInt32LittleEndian(p.AsSpan(pc * 8 + 4)));
}
