using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using static Syscage.Bpf.Opcode;
using Syscage.Abi;

namespace Syscage.Bpf;

/// <summary>Why the kernel would refuse a program: the first failing check, in the kernel's order.</summary>
/// <param name="Reason">What is wrong, in words.</param>
/// <param name="Pc">The instruction at fault, or -1 for a fault of the whole program (its length).</param>
/// <param name="Instruction">The instruction at <paramref name="Pc"/>, when there is one.</param>
public sealed record ValidationError(string Reason, int Pc, Instruction? Instruction)
{
    /// <summary>The errno the kernel answers with: always <c>EINVAL</c> for a malformed classic filter.</summary>
    public string Errno => "EINVAL";

    /// <summary><c>&lt;reason&gt; at pc &lt;n&gt;</c>, with the instruction shown.</summary>
    public override string ToString() => Pc < 0
        ? Reason
        : string.Create(CultureInfo.InvariantCulture, $"{Reason} at pc {Pc}: {Instruction}");
}

/// <summary>Raised by <see cref="Validator.Validate"/>; carries the <see cref="ValidationError"/>.</summary>
public sealed class BpfValidationException : SyscageException
{
    /// <summary>Wraps a validation error.</summary>
    public BpfValidationException(ValidationError error) : base(error.ToString()) => Error = error;

    /// <summary>The first check that failed.</summary>
    public ValidationError Error { get; }
}

/// <summary>
/// Accepts exactly the classic programs that <c>seccomp(SECCOMP_SET_MODE_FILTER)</c> accepts. The checks
/// mirror the kernel's, in its order: <c>bpf_check_basics_ok</c> (length), <c>bpf_check_classic</c>
/// (opcodes, per-instruction rules, final RET, then <c>check_load_and_stores</c>), then
/// <c>seccomp_check_filter</c> (the seccomp opcode subset and the <c>seccomp_data</c> load rule).
/// A test loads thousands of random programs into the kernel and requires the same verdict.
/// </summary>
public static class Validator
{
    /// <summary>Returns the first reason the kernel would reject the program, or null if it accepts it.</summary>
    public static ValidationError? Check(ReadOnlySpan<Instruction> insns)
    {
        int flen = insns.Length;
        // bpf_check_basics_ok: if (flen == 0 || flen > BPF_MAXINSNS) return false;
        if (flen == 0)
            return new ValidationError("empty program: a filter needs at least one instruction", -1, null);
        if (flen > BPF_MAXINSNS)
            return new ValidationError(string.Create(CultureInfo.InvariantCulture,
                $"program too long: {flen} instructions, the kernel allows at most {BPF_MAXINSNS}"), -1, null);

        // bpf_check_classic
        for (int pc = 0; pc < flen; pc++)
        {
            var ins = insns[pc];
            if (!KnownCodes.Contains(ins.Code))
                return At("unknown opcode", pc, ins);
            switch (ins.Code)
            {
                case BPF_ALU | BPF_DIV | BPF_K:
                case BPF_ALU | BPF_MOD | BPF_K:
                    if (ins.K == 0)
                        return At("division by constant zero", pc, ins);
                    break;
                case BPF_ALU | BPF_LSH | BPF_K:
                case BPF_ALU | BPF_RSH | BPF_K:
                    if (ins.K >= 32)
                        return At("shift by 32 or more", pc, ins);
                    break;
                case BPF_LD | BPF_MEM:
                case BPF_LDX | BPF_MEM:
                case BPF_ST:
                case BPF_STX:
                    if (ins.K >= BPF_MEMWORDS)
                        return At("scratch memory index out of range (0..15)", pc, ins);
                    break;
                case BPF_JMP | BPF_JA:
                    // if (ftest->k >= (unsigned int)(flen - pc - 1)) return -EINVAL;
                    if (ins.K >= (uint)(flen - pc - 1))
                        return At("jump out of range", pc, ins);
                    break;
                case BPF_JMP | BPF_JEQ | BPF_K:
                case BPF_JMP | BPF_JEQ | BPF_X:
                case BPF_JMP | BPF_JGE | BPF_K:
                case BPF_JMP | BPF_JGE | BPF_X:
                case BPF_JMP | BPF_JGT | BPF_K:
                case BPF_JMP | BPF_JGT | BPF_X:
                case BPF_JMP | BPF_JSET | BPF_K:
                case BPF_JMP | BPF_JSET | BPF_X:
                    if (pc + ins.Jt + 1 >= flen || pc + ins.Jf + 1 >= flen)
                        return At("jump out of range", pc, ins);
                    break;
                case BPF_LD | BPF_W | BPF_ABS:
                case BPF_LD | BPF_H | BPF_ABS:
                case BPF_LD | BPF_B | BPF_ABS:
                    if (ins.K >= SKF_AD_OFF && !IsKnownAncillary(ins.K))
                        return At("unknown ancillary load offset", pc, ins);
                    break;
            }
        }

        // Last instruction must be a RET code.
        if (insns[flen - 1].Code is not (BPF_RET | BPF_K) and not (BPF_RET | BPF_A))
            return At("program does not end in a return", flen - 1, insns[flen - 1]);

        if (CheckLoadAndStores(insns) is { } memError)
            return memError;

        // seccomp_check_filter
        for (int pc = 0; pc < flen; pc++)
        {
            var ins = insns[pc];
            if (!SeccompCodes.Contains(ins.Code))
                return At(ins.Code switch
                {
                    BPF_ALU | BPF_MOD | BPF_K or BPF_ALU | BPF_MOD | BPF_X => "BPF_MOD is not allowed in seccomp filters",
                    _ when Class(ins.Code) == BPF_LD || Class(ins.Code) == BPF_LDX => "packet load is not allowed in seccomp filters (only 32-bit seccomp_data loads)",
                    _ => "opcode not allowed in seccomp filters",
                }, pc, ins);
            if (ins.Code == (BPF_LD | BPF_W | BPF_ABS) && (ins.K >= SeccompData.Size || (ins.K & 3) != 0))
                return At("seccomp_data load must be 32-bit aligned and below offset 64", pc, ins);
        }
        return null;
    }

    /// <summary>Validates the program and wraps it as a <see cref="BpfProgram"/>.</summary>
    public static bool TryValidate(ReadOnlySpan<Instruction> insns, [NotNullWhen(true)] out BpfProgram? program, [NotNullWhen(false)] out ValidationError? error)
    {
        error = Check(insns);
        program = error is null ? new BpfProgram(insns.ToImmutableArray()) : null;
        return error is null;
    }

    /// <summary>Validates the program or throws <see cref="BpfValidationException"/>.</summary>
    public static BpfProgram Validate(ReadOnlySpan<Instruction> insns) =>
        TryValidate(insns, out var program, out var error) ? program : throw new BpfValidationException(error);

    /// <summary>
    /// <c>check_load_and_stores</c>, transcribed in behaviour: a forward walk that carries the set of
    /// written scratch words, intersected at jump targets. It is not a full data-flow analysis — after a
    /// RET the set carries on into the next instruction — and must not be one, or verdicts would differ.
    /// </summary>
    private static ValidationError? CheckLoadAndStores(ReadOnlySpan<Instruction> insns)
    {
        int flen = insns.Length;
        Span<ushort> masks = flen <= 1024 ? stackalloc ushort[flen] : new ushort[flen];
        masks.Fill(0xffff);
        ushort memvalid = 0;
        for (int pc = 0; pc < flen; pc++)
        {
            memvalid &= masks[pc];
            var ins = insns[pc];
            switch (ins.Code)
            {
                case BPF_ST:
                case BPF_STX:
                    memvalid |= (ushort)(1 << (int)ins.K);
                    break;
                case BPF_LD | BPF_MEM:
                case BPF_LDX | BPF_MEM:
                    if ((memvalid & (1 << (int)ins.K)) == 0)
                        return At(string.Create(CultureInfo.InvariantCulture, $"scratch word M[{ins.K}] may be read before it is written"), pc, ins);
                    break;
                case BPF_JMP | BPF_JA:
                    masks[pc + 1 + (int)ins.K] &= memvalid;
                    memvalid = 0xffff;
                    break;
                case var c when IsConditionalJump(c):
                    masks[pc + 1 + ins.Jt] &= memvalid;
                    masks[pc + 1 + ins.Jf] &= memvalid;
                    memvalid = 0xffff;
                    break;
            }
        }
        return null;
    }

    /// <summary>
    /// <c>bpf_anc_helper</c>: the ancillary offsets <c>SKF_AD_OFF + SKF_AD_PROTOCOL .. SKF_AD_VLAN_TPID</c>
    /// (multiples of 4 from 0 to 60). Seccomp rejects them all later; the order only changes the message.
    /// </summary>
    private static bool IsKnownAncillary(uint k)
    {
        uint off = k - SKF_AD_OFF;
        return off <= 60 && (off & 3) == 0;
    }

    private static ValidationError At(string reason, int pc, Instruction ins) => new(reason, pc, ins);
}
