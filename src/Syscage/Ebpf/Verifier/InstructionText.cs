using System.Globalization;
using Syscage.Ebpf.Isa;
using static Syscage.Ebpf.Isa.EbpfOpcode;

namespace Syscage.Ebpf.Verifier;

/// <summary>
/// A short, one-line rendering of an instruction for verifier messages, in the conformance suite's syntax
/// (<c>ldxw %r2, [%r1+4]</c>). The full assembler and disassembler live elsewhere; this only needs to be readable.
/// </summary>
internal static class InstructionText
{
    private static readonly string[] AluNames = ["add", "sub", "mul", "div", "or", "and", "lsh", "rsh", "neg", "mod", "xor", "mov", "arsh", "end"];
    private static readonly string[] JmpNames = ["ja", "jeq", "jgt", "jge", "jset", "jne", "jsgt", "jsge", "call", "exit", "jlt", "jle", "jslt", "jsle"];

    public static string Format(EbpfInstruction i, EbpfInstruction? next = null)
    {
        var c = CultureInfo.InvariantCulture;
        byte cls = Class(i.Opcode), op = Op(i.Opcode);
        string size = Size(i.Opcode) switch { BPF_W => "w", BPF_H => "h", BPF_B => "b", _ => "dw" };
        string Mem(int reg) => string.Create(c, $"[%r{reg}{(i.Offset >= 0 ? "+" : "")}{i.Offset}]");
        switch (cls)
        {
            case BPF_LD when IsWide(i.Opcode):
                ulong imm = (uint)i.Imm | (ulong)(uint)(next?.Imm ?? 0) << 32;
                return i.Src switch
                {
                    BPF_PSEUDO_MAP_FD => string.Create(c, $"lddw %r{i.Dst}, map[{i.Imm}]"),
                    BPF_PSEUDO_MAP_VALUE => string.Create(c, $"lddw %r{i.Dst}, map[{i.Imm}]+{next?.Imm ?? 0}"),
                    _ => string.Create(c, $"lddw %r{i.Dst}, 0x{imm:x}"),
                };
            case BPF_LD or BPF_LDX when Mode(i.Opcode) is BPF_MEM or BPF_MEMSX:
                return string.Create(c, $"ldx{(Mode(i.Opcode) == BPF_MEMSX ? "s" : "")}{size} %r{i.Dst}, {Mem(i.Src)}");
            case BPF_ST when Mode(i.Opcode) == BPF_MEM:
                return string.Create(c, $"st{size} {Mem(i.Dst)}, {i.Imm}");
            case BPF_STX when Mode(i.Opcode) == BPF_MEM:
                return string.Create(c, $"stx{size} {Mem(i.Dst)}, %r{i.Src}");
            case BPF_STX when Mode(i.Opcode) == BPF_ATOMIC:
                string aop = i.Imm switch
                {
                    BPF_XCHG => "xchg",
                    BPF_CMPXCHG => "cmpxchg",
                    _ => ((i.Imm & ~BPF_FETCH) switch { BPF_ADD => "add", BPF_OR => "or", BPF_AND => "and", BPF_XOR => "xor", _ => "?" })
                        + ((i.Imm & BPF_FETCH) != 0 ? " fetch" : ""),
                };
                return string.Create(c, $"lock {aop}{(size == "w" ? "32" : "")} {Mem(i.Dst)}, %r{i.Src}");
            case BPF_ALU or BPF_ALU64:
            {
                string name = (op >> 4) < AluNames.Length ? AluNames[op >> 4] : "alu?";
                if (op == BPF_DIV && i.Offset == 1) name = "sdiv";
                if (op == BPF_MOD && i.Offset == 1) name = "smod";
                if (op == BPF_MOV && i.Offset != 0) name = "movsx" + i.Offset.ToString(c);
                string w = cls == BPF_ALU ? "32" : "";
                if (op == BPF_NEG)
                    return string.Create(c, $"neg{w} %r{i.Dst}");
                if (op == BPF_END)
                    return string.Create(c, $"{(cls == BPF_ALU64 ? "bswap" : Src(i.Opcode) == BPF_TO_BE ? "be" : "le")}{i.Imm} %r{i.Dst}");
                string operand = Src(i.Opcode) == BPF_X ? $"%r{i.Src}" : i.Imm.ToString(c);
                return string.Create(c, $"{name}{w} %r{i.Dst}, {operand}");
            }
            case BPF_JMP or BPF_JMP32:
            {
                if (op == BPF_EXIT) return "exit";
                if (op == BPF_CALL)
                    return Src(i.Opcode) == BPF_X ? string.Create(c, $"callx %r{i.Dst}")
                        : i.Src == BPF_PSEUDO_CALL ? string.Create(c, $"call local {(i.Imm >= 0 ? "+" : "")}{i.Imm}")
                        : string.Create(c, $"call {i.Imm}");
                string name = (op >> 4) < JmpNames.Length ? JmpNames[op >> 4] : "jmp?";
                string w = cls == BPF_JMP32 ? "32" : "";
                int off = op == BPF_JA && cls == BPF_JMP32 ? i.Imm : i.Offset;
                string target = string.Create(c, $"{(off >= 0 ? "+" : "")}{off}");
                if (op == BPF_JA) return $"ja{w} {target}";
                string operand = Src(i.Opcode) == BPF_X ? $"%r{i.Src}" : i.Imm.ToString(c);
                return string.Create(c, $"{name}{w} %r{i.Dst}, {operand}, {target}");
            }
        }
        return string.Create(c, $"unknown opcode 0x{i.Opcode:x2}");
    }
}
