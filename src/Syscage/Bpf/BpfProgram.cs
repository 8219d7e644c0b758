using System.Collections.Immutable;
using Syscage.Abi;

namespace Syscage.Bpf;

/// <summary>
/// A classic BPF program that the kernel's seccomp loader accepts. Instances are made only by
/// <see cref="Validator"/> (and by compilers that run it), so holding one is proof that it passed the
/// kernel's checks; the interpreter and the installer take nothing else.
/// </summary>
public sealed class BpfProgram
{
    internal BpfProgram(ImmutableArray<Instruction> instructions) => Instructions = instructions;

    /// <summary>The instructions, in order.</summary>
    public ImmutableArray<Instruction> Instructions { get; }

    /// <summary>Number of instructions.</summary>
    public int Length => Instructions.Length;

    /// <summary>The raw <c>sock_filter</c> bytes (8 per instruction, little endian).</summary>
    public byte[] ToBytes() => SockFilter.Write(Instructions.AsSpan());

    /// <summary>
    /// The kinds of action the program can return (after the kernel's normalisation, <see cref="SeccompAction.Effective"/>),
    /// from its <c>RET K</c> instructions; null when it also returns A, whose value no table holds.
    /// </summary>
    public IReadOnlySet<SeccompActionKind>? ReturnedActions()
    {
        var kinds = new HashSet<SeccompActionKind>();
        foreach (var insn in Instructions)
        {
            if (Opcode.Class(insn.Code) != Opcode.BPF_RET)
                continue;
            if (Opcode.RVal(insn.Code) == Opcode.BPF_A)
                return null;
            kinds.Add(new SeccompAction(insn.K).Effective.Kind);
        }
        return kinds;
    }

    /// <summary>Reads and validates raw bytes; throws <see cref="BpfFormatException"/> or <see cref="BpfValidationException"/>.</summary>
    public static BpfProgram FromBytes(ReadOnlySpan<byte> bytes) => Validator.Validate(SockFilter.Read(bytes));
}
