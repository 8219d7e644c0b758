using System.Globalization;
using System.Text;
using static Syscage.Ebpf.Isa.EbpfOpcode;

namespace Syscage.Ebpf.Isa;

/// <summary>
/// The one printer of eBPF instructions, in the conformance-suite syntax that <see cref="EbpfAssembler"/> reads: it
/// writes <c>syscage ebpf disasm</c> listings (<see cref="ToText(ReadOnlySpan{EbpfInstruction})"/>) and the instruction in the verifier's
/// <c>&lt;reason&gt; at pc N: &lt;instruction&gt;</c> and the interpreter's and JIT's errors (<see cref="Format"/>).
/// Jump and local-call targets become labels (<c>L12</c> for slot 12) in a listing, signed offsets alone; a slot that
/// no mnemonic spells exactly (unknown opcode, stray bits in unused fields, a jump out of the program) is printed as
/// <c>.raw 0x...</c>, so the text always re-assembles to identical bytes.
/// </summary>
public static class EbpfDisassembler
{
    /// <summary>The program as assembler text, one instruction per line.</summary>
    public static string ToText(ReadOnlySpan<EbpfInstruction> program) => ToText(program, null);

    /// <summary>
    /// The program as assembler text, with comment lines: before each instruction for which <paramref name="annotate"/>
    /// gives text (its source line, say), that text after <c># </c> (one comment line per line of it), so the listing
    /// still re-assembles to the same bytes.
    /// </summary>
    public static string ToText(ReadOnlySpan<EbpfInstruction> program, Func<int, string?>? annotate)
    {
        var targets = new SortedSet<int>();
        for (int pc = 0; pc < program.Length; pc++)
        {
            if (IsWideAt(program, pc)) { pc++; continue; }
            if (TargetOf(program[pc], pc) is int t && t >= 0 && t < program.Length && !IsSecondSlot(program, t))
                targets.Add(t);
        }
        var sb = new StringBuilder();
        for (int pc = 0; pc < program.Length; pc++)
        {
            if (targets.Contains(pc))
                sb.Append(CultureInfo.InvariantCulture, $"L{pc}:\n");
            if (annotate?.Invoke(pc) is { } note)
                foreach (var line in note.Split('\n'))
                    sb.Append("# ").Append(line.TrimEnd('\r')).Append('\n');
            if (IsWideAt(program, pc))
            {
                var text = Wide(program[pc], program[pc + 1]);
                if (text is null)
                {
                    sb.Append(Raw(program[pc])).Append('\n').Append(Raw(program[pc + 1])).Append('\n');
                }
                else
                {
                    sb.Append(text).Append('\n');
                }
                pc++;
                continue;
            }
            string? label = TargetOf(program[pc], pc) is int target && targets.Contains(target) ? $"L{target}" : null;
            sb.Append(FormatSingle(program[pc], label) ?? Raw(program[pc])).Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>One instruction as text (jump targets as signed offsets); <c>lddw</c> needs both of its slots.</summary>
    public static string Format(EbpfInstruction insn, EbpfInstruction? next = null)
    {
        if (IsWide(insn.Opcode) && next is { } second)
            return Wide(insn, second) ?? Raw(insn);
        return FormatSingle(insn, null) ?? Raw(insn);
    }

    private static bool IsWideAt(ReadOnlySpan<EbpfInstruction> p, int pc) => IsWide(p[pc].Opcode) && pc + 1 < p.Length;

    private static bool IsSecondSlot(ReadOnlySpan<EbpfInstruction> p, int target)
    {
        for (int pc = 0; pc < p.Length; pc++)
        {
            if (pc == target) return false;
            if (IsWideAt(p, pc)) { if (pc + 1 == target) return true; pc++; }
        }
        return false;
    }

    private static int? TargetOf(EbpfInstruction i, int pc)
    {
        byte cls = Class(i.Opcode);
        if (cls is not (BPF_JMP or BPF_JMP32))
            return null;
        byte op = Op(i.Opcode);
        if (op == BPF_EXIT) return null;
        if (op == BPF_CALL)
            return cls == BPF_JMP && i.Src == BPF_PSEUDO_CALL && Src(i.Opcode) == BPF_K ? pc + 1 + i.Imm : null;
        if (op == BPF_JA && cls == BPF_JMP32) return pc + 1 + i.Imm;
        return pc + 1 + i.Offset;
    }

    private static string Raw(EbpfInstruction insn)
    {
        Span<byte> b = stackalloc byte[8];
        insn.Write(b);
        return string.Create(CultureInfo.InvariantCulture, $".raw 0x{System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(b):x16}");
    }

    private static string? Wide(EbpfInstruction first, EbpfInstruction second)
    {
        if (second.Opcode != 0 || second.Dst != 0 || second.Src != 0 || second.Offset != 0 || first.Offset != 0)
            return null;
        return first.Src switch
        {
            0 => string.Create(CultureInfo.InvariantCulture, $"lddw %r{first.Dst}, 0x{((ulong)(uint)second.Imm << 32) | (uint)first.Imm:x}"),
            BPF_PSEUDO_MAP_FD when second.Imm == 0 && first.Imm >= 0 => string.Create(CultureInfo.InvariantCulture, $"lddw %r{first.Dst}, map[{first.Imm}]"),
            BPF_PSEUDO_MAP_VALUE when first.Imm >= 0 && second.Imm >= 0 => string.Create(CultureInfo.InvariantCulture, $"lddw %r{first.Dst}, map_value[{first.Imm}]+{second.Imm}"),
            _ => null,
        };
    }

    private static string Imm(int imm) => imm < 0
        ? imm.ToString(CultureInfo.InvariantCulture)
        : string.Create(CultureInfo.InvariantCulture, $"0x{imm:x}");

    private static string Mem(byte reg, short off) => off switch
    {
        0 => $"[%r{reg}]",
        > 0 => string.Create(CultureInfo.InvariantCulture, $"[%r{reg}+{off}]"),
        _ => string.Create(CultureInfo.InvariantCulture, $"[%r{reg}{off}]"),
    };

    private static string SizeName(byte code) => Size(code) switch { BPF_B => "b", BPF_H => "h", BPF_W => "w", _ => "dw" };

    private static readonly string?[] AluNames =
        ["add", "sub", "mul", "div", "or", "and", "lsh", "rsh", "neg", "mod", "xor", "mov", "arsh", "end", null, null];

    /// <summary>
    /// The mnemonic of ALU operation <paramref name="op"/> (<c>BPF_MUL</c>: <c>mul</c>), without the <c>32</c> of the
    /// 32-bit class; <c>sdiv</c> and <c>smod</c> when <paramref name="offset"/> is 1. Null for an unknown operation.
    /// </summary>
    internal static string? AluMnemonic(byte op, short offset)
    {
        string? name = AluNames[op >> 4];
        return name is not null && op is BPF_DIV or BPF_MOD && offset == 1 ? "s" + name : name;
    }

    private static readonly string?[] JumpNames =
        ["ja", "jeq", "jgt", "jge", "jset", "jne", "jsgt", "jsge", "call", "exit", "jlt", "jle", "jslt", "jsle", null, null];

    /// <summary>Text for a single-slot instruction, or null when no mnemonic spells it exactly.</summary>
    private static string? FormatSingle(EbpfInstruction i, string? label)
    {
        byte code = i.Opcode;
        byte cls = Class(code);
        bool regs = Src(code) == BPF_X;
        string d = $"%r{i.Dst}", s = $"%r{i.Src}";
        if (i.Dst > 10) return null;
        switch (cls)
        {
            case BPF_ALU:
            case BPF_ALU64:
            {
                string suffix = cls == BPF_ALU ? "32" : "";
                byte op = Op(code);
                if (op == BPF_END)
                {
                    if (i.Src != 0 || i.Offset != 0 || i.Imm is not (16 or 32 or 64)) return null;
                    if (cls == BPF_ALU64)
                        return regs ? null : $"bswap{i.Imm} {d}";
                    return $"{(regs ? "be" : "le")}{i.Imm} {d}";
                }
                if (op == BPF_NEG)
                    return regs || i.Src != 0 || i.Offset != 0 || i.Imm != 0 ? null : $"neg{suffix} {d}";
                string? name = AluMnemonic(op, i.Offset);
                if (name is null) return null;
                if (op == BPF_MOV && regs && i.Offset != 0)
                {
                    if (i.Imm != 0 || i.Src > 10) return null;
                    return (cls, i.Offset) switch
                    {
                        (BPF_ALU, 8) => $"movsx832 {d}, {s}",
                        (BPF_ALU, 16) => $"movsx1632 {d}, {s}",
                        (BPF_ALU64, 8) => $"movsx864 {d}, {s}",
                        (BPF_ALU64, 16) => $"movsx1664 {d}, {s}",
                        (BPF_ALU64, 32) => $"movsx3264 {d}, {s}",
                        _ => null,
                    };
                }
                bool signed = op is BPF_DIV or BPF_MOD && i.Offset == 1;
                if (i.Offset != 0 && !signed) return null;
                if (regs)
                    return i.Imm != 0 || i.Src > 10 ? null : $"{name}{suffix} {d}, {s}";
                return i.Src != 0 ? null : $"{name}{suffix} {d}, {Imm(i.Imm)}";
            }
            case BPF_JMP:
            case BPF_JMP32:
            {
                string suffix = cls == BPF_JMP32 ? "32" : "";
                byte op = Op(code);
                string target = label ?? (i.Offset >= 0 ? $"+{i.Offset}" : $"{i.Offset}");
                if (op == BPF_EXIT)
                    return cls == BPF_JMP && !regs && i.Src == 0 && i.Dst == 0 && i.Offset == 0 && i.Imm == 0 ? "exit" : null;
                if (op == BPF_CALL)
                {
                    if (cls != BPF_JMP || i.Offset != 0) return null;
                    if (regs) return i.Src == 0 && i.Imm == 0 ? $"call {d}" : null;
                    if (i.Dst != 0) return null;
                    if (i.Src == BPF_PSEUDO_CALL)
                        return $"call local {label ?? (i.Imm >= 0 ? $"+{i.Imm}" : $"{i.Imm}")}";
                    if (i.Src != 0) return null;
                    // The kernel log's spelling, bpf_map_lookup_elem#1: the assembler reads the name and skips '#1' as a comment.
                    return Abi.HelperIds.Name(i.Imm) is { } helper
                        ? string.Create(CultureInfo.InvariantCulture, $"call {helper}#{i.Imm}")
                        : string.Create(CultureInfo.InvariantCulture, $"call {i.Imm}");
                }
                if (op == BPF_JA)
                {
                    if (regs || i.Src != 0 || i.Dst != 0) return null;
                    if (cls == BPF_JMP32)
                        return i.Offset != 0 ? null : $"ja32 {label ?? (i.Imm >= 0 ? $"+{i.Imm}" : $"{i.Imm}")}";
                    return i.Imm != 0 ? null : $"ja {target}";
                }
                string? name = JumpNames[op >> 4];
                if (name is null) return null;
                if (regs)
                    return i.Imm != 0 || i.Src > 10 ? null : $"{name}{suffix} {d}, {s}, {target}";
                return i.Src != 0 ? null : $"{name}{suffix} {d}, {Imm(i.Imm)}, {target}";
            }
            case BPF_LDX:
                if (i.Imm != 0 || i.Src > 10) return null;
                if (Mode(code) == BPF_MEM) return $"ldx{SizeName(code)} {d}, {Mem(i.Src, i.Offset)}";
                if (Mode(code) == BPF_MEMSX && Size(code) != BPF_DW) return $"ldxs{SizeName(code)} {d}, {Mem(i.Src, i.Offset)}";
                return null;
            case BPF_ST:
                if (Mode(code) != BPF_MEM || i.Src != 0) return null;
                return $"st{SizeName(code)} {Mem(i.Dst, i.Offset)}, {Imm(i.Imm)}";
            case BPF_STX:
                if (i.Src > 10) return null;
                if (Mode(code) == BPF_MEM)
                    return i.Imm != 0 ? null : $"stx{SizeName(code)} {Mem(i.Dst, i.Offset)}, {s}";
                if (Mode(code) == BPF_ATOMIC && Size(code) is BPF_W or BPF_DW)
                {
                    string w = Size(code) == BPF_W ? "32" : "";
                    string? op = i.Imm switch
                    {
                        BPF_XCHG => "xchg", BPF_CMPXCHG => "cmpxchg",
                        BPF_ADD => "add", BPF_OR => "or", BPF_AND => "and", BPF_XOR => "xor",
                        BPF_ADD | BPF_FETCH => "fetch add", BPF_OR | BPF_FETCH => "fetch or",
                        BPF_AND | BPF_FETCH => "fetch and", BPF_XOR | BPF_FETCH => "fetch xor",
                        _ => null,
                    };
                    return op is null ? null : $"lock {op}{w} {Mem(i.Dst, i.Offset)}, {s}";
                }
                return null;
            default:
                return null;
        }
    }
}
