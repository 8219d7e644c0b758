using System.Buffers.Binary;
using Syscage.Abi;

namespace Syscage.Testing;

/// <summary>
/// A second classic-BPF interpreter for seccomp, written apart from Syscage.Bpf and sharing none of its
/// code or constants: it decodes the raw bytes itself, field by field, as the kernel documentation
/// (Documentation/networking/filter.rst, seccomp_filter.rst) describes them. Tests compare Syscage's
/// interpreter and CLI against it; it assumes a program the kernel accepted.
/// </summary>
public static class ReferenceBpf
{
    /// <summary>Runs raw program bytes on a 64-byte seccomp_data image; returns the filter's return value.</summary>
    public static uint Run(ReadOnlySpan<byte> program, ReadOnlySpan<byte> seccompData)
    {
        if (program.Length % 8 != 0 || seccompData.Length != 64)
            throw new ArgumentException("program must be whole 8-byte instructions and seccomp_data 64 bytes");
        int count = program.Length / 8;
        var scratch = new uint[16];
        uint acc = 0, index = 0;
        int pc = 0;
        while (true)
        {
            if (pc >= count)
                throw new InvalidOperationException($"ran off the end at pc {pc}");
            var insn = program.Slice(pc * 8, 8);
            int code = BinaryPrimitives.ReadUInt16LittleEndian(insn);
            int jt = insn[2], jf = insn[3];
            uint k = BinaryPrimitives.ReadUInt32LittleEndian(insn[4..]);
            pc++;
            int cls = code & 7;
            if (cls == 6) // ret
                return (code & 0x18) == 0x10 ? acc : k;
            if (cls == 0) // ld
            {
                int mode = code & 0xe0;
                acc = mode switch
                {
                    0x20 => BinaryPrimitives.ReadUInt32LittleEndian(seccompData.Slice((int)k, 4)),
                    0x80 => 64u,
                    0x00 => k,
                    0x60 => scratch[k],
                    _ => throw new InvalidOperationException($"ld mode 0x{mode:x}"),
                };
            }
            else if (cls == 1) // ldx
            {
                int mode = code & 0xe0;
                index = mode switch { 0x80 => 64u, 0x00 => k, 0x60 => scratch[k], _ => throw new InvalidOperationException($"ldx mode 0x{mode:x}") };
            }
            else if (cls == 2) scratch[k] = acc;
            else if (cls == 3) scratch[k] = index;
            else if (cls == 7) { if ((code & 0xf8) == 0) index = acc; else acc = index; }
            else if (cls == 4) // alu
            {
                int op = code >> 4;
                uint src = (code & 8) != 0 ? index : k;
                if (op == 3 && src == 0)
                    return 0; // the kernel's converted program exits with 0 on division by zero
                acc = op switch
                {
                    0 => acc + src,
                    1 => acc - src,
                    2 => acc * src,
                    3 => acc / src,
                    4 => acc | src,
                    5 => acc & src,
                    6 => acc << (int)(src & 31),
                    7 => acc >> (int)(src & 31),
                    8 => (uint)-(int)acc,
                    10 => acc ^ src,
                    _ => throw new InvalidOperationException($"alu op {op}"),
                };
            }
            else // jmp
            {
                int op = code >> 4;
                if (op == 0)
                {
                    pc += (int)k;
                    continue;
                }
                uint src = (code & 8) != 0 ? index : k;
                bool cond = op switch
                {
                    1 => acc == src,
                    2 => acc > src,
                    3 => acc >= src,
                    4 => (acc & src) != 0,
                    _ => throw new InvalidOperationException($"jmp op {op}"),
                };
                pc += cond ? jt : jf;
            }
        }
    }

    /// <summary>Builds the 64-byte seccomp_data image.</summary>
    public static byte[] Data(int nr, uint arch, ulong ip, params ulong[] args)
    {
        var d = new byte[64];
        BinaryPrimitives.WriteInt32LittleEndian(d, nr);
        BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(4), arch);
        BinaryPrimitives.WriteUInt64LittleEndian(d.AsSpan(8), ip);
        for (int i = 0; i < args.Length; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(d.AsSpan(16 + 8 * i), args[i]);
        return d;
    }

    /// <summary>
    /// The 64-byte seccomp_data image of a big-endian machine, laid out so that <see cref="Run"/>'s 32-bit loads read
    /// what that machine's loads read: <c>nr</c> and <c>arch</c> as they are, and each 64-bit argument with its high
    /// half at the lower offset (where a little-endian machine keeps the low half).
    /// </summary>
    public static byte[] DataBigEndian(int nr, uint arch, ulong ip, params ulong[] args)
    {
        var d = new byte[64];
        BinaryPrimitives.WriteInt32LittleEndian(d, nr);
        BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(4), arch);
        BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(8), (uint)(ip >> 32));
        BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(12), (uint)ip);
        for (int i = 0; i < args.Length; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(16 + 8 * i), (uint)(args[i] >> 32));
            BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(20 + 8 * i), (uint)args[i]);
        }
        return d;
    }

    /// <summary>
    /// The image <see cref="Run"/> reads for <paramref name="data"/> on the machine of its architecture, laid out here
    /// independently of <see cref="SeccompData.ReadWord"/>: <see cref="DataBigEndian"/> when the <c>AUDIT_ARCH_*</c>
    /// value has no <c>__AUDIT_ARCH_LE</c> bit (0x40000000), else <see cref="Data"/>.
    /// </summary>
    public static byte[] Image(in SeccompData data)
    {
        var args = new ulong[6];
        for (int i = 0; i < 6; i++)
            args[i] = data.Arg(i);
        return (data.Arch & 0x4000_0000) == 0
            ? DataBigEndian(data.Nr, data.Arch, data.InstructionPointer, args)
            : Data(data.Nr, data.Arch, data.InstructionPointer, args);
    }

    /// <summary>
    /// A program written in a big-endian machine's byte order (libseccomp exports a filter for big-endian
    /// architectures that way: <c>code</c> and <c>k</c> big-endian) turned into the little-endian layout
    /// <see cref="Run"/> reads; <c>jt</c> and <c>jf</c> are single bytes and stay.
    /// </summary>
    public static byte[] FromBigEndian(ReadOnlySpan<byte> program)
    {
        if (program.Length % 8 != 0)
            throw new ArgumentException("program must be whole 8-byte instructions");
        var le = program.ToArray();
        for (int at = 0; at < le.Length; at += 8)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(le.AsSpan(at), BinaryPrimitives.ReadUInt16BigEndian(program[at..]));
            BinaryPrimitives.WriteUInt32LittleEndian(le.AsSpan(at + 4), BinaryPrimitives.ReadUInt32BigEndian(program[(at + 4)..]));
        }
        return le;
    }

    /// <summary>
    /// The action the kernel takes for a return value, spelt as <c>syscage emu</c> prints it: the kernel's
    /// <c>__seccomp_filter</c> switch, written out here independently.
    /// </summary>
    public static string Describe(uint ret)
    {
        uint data = ret & 0xffff;
        return (ret & 0xffff0000) switch
        {
            0x80000000 => "KILL_PROCESS",
            0x00000000 => "KILL_THREAD",
            0x00030000 => $"TRAP({data})",
            0x00050000 => $"ERRNO({Math.Min(data, 4095)})",
            0x7fc00000 => "USER_NOTIF",
            0x7ff00000 => $"TRACE({data})",
            0x7ffc0000 => "LOG",
            0x7fff0000 => "ALLOW",
            _ => "KILL_PROCESS",
        };
    }
}
