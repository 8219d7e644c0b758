using System.Globalization;
using System.Text;
using Syscage.Abi;
using static Syscage.Bpf.Opcode;

namespace Syscage.Bpf;

/// <summary>
/// Prints classic programs in Syscage's assembler syntax (in the spirit of seccomp-tools:
/// <c>A = sys_number</c>, <c>if (A == openat) goto L0012</c>, <c>return ERRNO(1)</c>), or as a C array.
/// The text re-assembles to the identical bytes, valid program or not: what has no readable form
/// (unknown opcodes, jumps past the end) is written as <c>raw(code, jt, jf, k)</c>. Names come from the
/// architecture the program has checked on the way (<see cref="ProgramFacts"/>): its syscall table, its byte order
/// (on a big-endian architecture <c>args[0]</c> is the word at offset 20, <c>args[0] &gt;&gt; 32</c> the one at 16),
/// and, where the tests on <c>nr</c> single out a call, its argument names in a comment (<c># openat(flags)</c>).
/// </summary>
public static class Disassembler
{
    /// <summary>Disassembles to assembler text, one instruction per line, with the raw bytes in a comment.</summary>
    /// <param name="insns">The program (need not be valid).</param>
    /// <param name="defaultArchitecture">Architecture for syscall names where the program does not check <c>arch</c>; the native one if null.</param>
    public static string ToText(ReadOnlySpan<Instruction> insns, Architecture? defaultArchitecture = null)
    {
        var lines = Lines(insns, defaultArchitecture ?? Architecture.Native);
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"# {insns.Length} instructions\n");
        for (int pc = 0; pc < lines.Length; pc++)
        {
            var (label, text, note) = lines[pc];
            var ins = insns[pc];
            string left = (label is null ? "        " : (label + ":").PadRight(8)) + text + (note is null ? "" : "  # " + note);
            sb.Append(left.PadRight(56))
              .Append(CultureInfo.InvariantCulture, $" # {pc:D4}: 0x{ins.Code:x2} 0x{ins.Jt:x2} 0x{ins.Jf:x2} 0x{ins.K:x8}\n");
        }
        return sb.ToString();
    }

    /// <summary>Disassembles to a C array of <c>struct sock_filter</c> with <c>BPF_STMT</c>/<c>BPF_JUMP</c> macros.</summary>
    public static string ToC(ReadOnlySpan<Instruction> insns, string name = "filter", Architecture? defaultArchitecture = null)
    {
        var lines = Lines(insns, defaultArchitecture ?? Architecture.Native);
        var sb = new StringBuilder();
        sb.Append("#include <linux/filter.h>\n#include <linux/seccomp.h>\n\n");
        sb.Append(CultureInfo.InvariantCulture, $"static struct sock_filter {name}[] = {{\n");
        for (int pc = 0; pc < insns.Length; pc++)
        {
            var ins = insns[pc];
            string code = KnownCodes.Contains(ins.Code) ? Opcode.Name(ins.Code) : string.Create(CultureInfo.InvariantCulture, $"0x{ins.Code:x2}");
            string k = ins.K < 4096 ? ins.K.ToString(CultureInfo.InvariantCulture) : string.Create(CultureInfo.InvariantCulture, $"0x{ins.K:x8}");
            string entry = KnownCodes.Contains(ins.Code) && Class(ins.Code) == BPF_JMP && Op(ins.Code) != BPF_JA
                ? $"BPF_JUMP({code}, {k}, {ins.Jt}, {ins.Jf}),"
                : ins.Jt == 0 && ins.Jf == 0 && KnownCodes.Contains(ins.Code)
                    ? $"BPF_STMT({code}, {k}),"
                    : $"{{ {code}, {ins.Jt}, {ins.Jf}, {k} }},";
            var (label, text, note) = lines[pc];
            string comment = text + (note is null ? "" : $" ({note})");
            sb.Append('\t').Append(entry.PadRight(52))
              .Append(CultureInfo.InvariantCulture, $" /* {pc:D4}: {(label is null ? "" : label + ": ")}{comment.Replace("*/", "* /", StringComparison.Ordinal)} */\n");
        }
        sb.Append("};\n\n");
        sb.Append(CultureInfo.InvariantCulture, $"static const struct sock_fprog {name}_prog = {{\n\t.len = {insns.Length},\n\t.filter = {name},\n}};\n");
        return sb.ToString();
    }

    /// <summary>The label a disassembly gives to instruction <paramref name="pc"/>.</summary>
    public static string LabelFor(int pc) => string.Create(CultureInfo.InvariantCulture, $"L{pc:D4}");

    /// <summary>
    /// Each instruction's text, without labels (jump targets shown as <c>L</c>+pc), with the names of syscalls and
    /// architectures the program compares against and the argument a load reads (as in <see cref="ToText"/>).
    /// </summary>
    public static string[] FormatEach(ReadOnlySpan<Instruction> insns, Architecture defaultArchitecture)
    {
        var facts = ProgramFacts.Analyze(insns, defaultArchitecture);
        var result = new string[insns.Length];
        for (int pc = 0; pc < insns.Length; pc++)
            result[pc] = Format(insns[pc], pc, insns.Length, facts[pc]) + (Note(insns[pc], facts[pc]) is { } note ? "  # " + note : "");
        return result;
    }

    /// <summary>
    /// What a load of an argument reads, when the tests before it single out one call: <c>openat(flags)</c>, or
    /// <c>openat(arg3)</c> for an argument the tables give no name (on 32-bit ABIs, those after a 64-bit value).
    /// </summary>
    internal static string? Note(Instruction ins, InstructionFacts facts)
    {
        if (ins.Code != (BPF_LD | BPF_W | BPF_ABS) || ins.K < SeccompData.ArgsOffset || ins.K >= SeccompData.Size || (ins.K & 3) != 0
            || facts.Syscall is not { } call)
            return null;
        int index = (int)(ins.K - SeccompData.ArgsOffset) / 8;
        string arg = index < call.ArgNames.Count ? call.ArgNames[index] : string.Create(CultureInfo.InvariantCulture, $"arg{index}");
        return $"{call.Name}({arg})";
    }

    /// <summary>One instruction's text, without labels (jump targets shown as <c>L</c>+pc).</summary>
    internal static string Format(Instruction ins, int pc, int length, InstructionFacts facts)
    {
        uint k = ins.K;
        string Target(long t) => LabelFor((int)t);
        bool InRange(long t) => t < length;
        if (!IsCanonical(ins))
            return Raw(ins);
        switch (ins.Code)
        {
            case BPF_LD | BPF_W | BPF_ABS:
                return "A = " + DataName(k, facts.BigEndian);
            case BPF_LD | BPF_W | BPF_LEN: return "A = len";
            case BPF_LDX | BPF_W | BPF_LEN: return "X = len";
            case BPF_LD | BPF_IMM: return "A = " + Number(k);
            case BPF_LDX | BPF_IMM: return "X = " + Number(k);
            case BPF_LD | BPF_MEM when k < BPF_MEMWORDS: return $"A = mem[{k}]";
            case BPF_LDX | BPF_MEM when k < BPF_MEMWORDS: return $"X = mem[{k}]";
            case BPF_ST when k < BPF_MEMWORDS: return $"mem[{k}] = A";
            case BPF_STX when k < BPF_MEMWORDS: return $"mem[{k}] = X";
            case BPF_MISC | BPF_TAX: return "X = A";
            case BPF_MISC | BPF_TXA: return "A = X";
            case BPF_ALU | BPF_NEG: return "A = -A";
            case var c when Class(c) == BPF_ALU && KnownCodes.Contains(c) && Op(c) != BPF_NEG:
                string op = Op(c) switch
                {
                    BPF_ADD => "+=", BPF_SUB => "-=", BPF_MUL => "*=", BPF_DIV => "/=", BPF_MOD => "%=",
                    BPF_AND => "&=", BPF_OR => "|=", BPF_XOR => "^=", BPF_LSH => "<<=", _ => ">>=",
                };
                return Src(c) == BPF_X ? $"A {op} X" : $"A {op} {Number(k)}";
            case BPF_JMP | BPF_JA:
                return InRange(pc + 1 + (long)k) ? "goto " + Target(pc + 1 + (long)k) : Raw(ins);
            case var c when IsConditionalJump(c):
            {
                long t = pc + 1 + ins.Jt, f = pc + 1 + ins.Jf;
                if (!InRange(t) || !InRange(f))
                    return Raw(ins);
                // Syscall names only in equality tests: "A >= x32.read" would hide the range it means.
                string v = Src(c) == BPF_X ? "X" : Op(c) == BPF_JEQ ? Operand(k, facts) : ArchOrNumber(k, facts);
                (string pos, string neg) = Op(c) switch
                {
                    BPF_JEQ => ($"A == {v}", $"A != {v}"),
                    BPF_JGT => ($"A > {v}", $"A <= {v}"),
                    BPF_JGE => ($"A >= {v}", $"A < {v}"),
                    _ => ($"A & {v}", $"!(A & {v})"),
                };
                string Cond(string e) => e.StartsWith('!') ? $"if {e}" : $"if ({e})";
                if (ins.Jf == 0)
                    return $"{Cond(pos)} goto {Target(t)}";
                if (ins.Jt == 0)
                    return $"{Cond(neg)} goto {Target(f)}";
                return $"{Cond(pos)} goto {Target(t)} else goto {Target(f)}";
            }
            case BPF_RET | BPF_K: return "return " + new SeccompAction(k);
            case BPF_RET | BPF_A: return "return A";
            default: return Raw(ins);
        }
    }

    /// <summary>
    /// True when the fields an instruction does not use are zero, so that its readable form, which cannot
    /// carry them, still encodes it exactly.
    /// </summary>
    private static bool IsCanonical(Instruction ins)
    {
        ushort c = ins.Code;
        if (!KnownCodes.Contains(c))
            return false;
        if (!IsConditionalJump(c) && (ins.Jt != 0 || ins.Jf != 0))
            return false;
        bool usesK = c switch
        {
            BPF_RET | BPF_A or BPF_MISC | BPF_TAX or BPF_MISC | BPF_TXA or BPF_ALU | BPF_NEG or
            BPF_LD | BPF_W | BPF_LEN or BPF_LDX | BPF_W | BPF_LEN => false,
            _ when Class(c) is BPF_ALU or BPF_JMP && Src(c) == BPF_X => false,
            _ => true,
        };
        return usesK || ins.K == 0;
    }

    /// <summary>The <c>raw(code, jt, jf, k)</c> form that encodes any instruction verbatim.</summary>
    public static string Raw(Instruction ins) =>
        string.Create(CultureInfo.InvariantCulture, $"raw(0x{ins.Code:x2}, {ins.Jt}, {ins.Jf}, 0x{ins.K:x8})");

    /// <summary>
    /// The field a load at <paramref name="k"/> reads: of a 64-bit field, the word at its offset is the low half
    /// (<c>args[1]</c>) on a little-endian machine and the high half (<c>args[1] &gt;&gt; 32</c>) on a big-endian one.
    /// </summary>
    private static string DataName(uint k, bool bigEndian)
    {
        string high(bool isHigh) => isHigh ? " >> 32" : "";
        return k switch
        {
            SeccompData.NrOffset => "sys_number",
            SeccompData.ArchOffset => "arch",
            SeccompData.InstructionPointerOffset or SeccompData.InstructionPointerOffset + 4 =>
                "instruction_pointer" + high(((k & 4) != 0) != bigEndian),
            >= SeccompData.ArgsOffset and < SeccompData.Size when (k & 3) == 0 =>
                string.Create(CultureInfo.InvariantCulture, $"args[{(k - SeccompData.ArgsOffset) / 8}]") + high(((k & 4) != 0) != bigEndian),
            _ => string.Create(CultureInfo.InvariantCulture, $"data[{k}]"),
        };
    }

    private static string ArchOrNumber(uint k, InstructionFacts facts) =>
        facts.A == AccumulatorContent.Arch && Architecture.FromAuditArch(k) is { } arch ? arch.AuditArchName : Number(k);

    private static string Operand(uint k, InstructionFacts facts)
    {
        if (facts.A == AccumulatorContent.Arch && Architecture.FromAuditArch(k) is { } arch)
            return arch.AuditArchName;
        if (facts.A == AccumulatorContent.SyscallNumber && facts.Architecture.SyscallName(k) is { } name)
            return name;
        return Number(k);
    }

    /// <summary>Decimal below 4096, hex above: flags and masks read better in hex.</summary>
    internal static string Number(uint k) => k < 4096
        ? k.ToString(CultureInfo.InvariantCulture)
        : string.Create(CultureInfo.InvariantCulture, $"0x{k:x}");

    private static (string? Label, string Text, string? Note)[] Lines(ReadOnlySpan<Instruction> insns, Architecture defaultArchitecture)
    {
        var facts = ProgramFacts.Analyze(insns, defaultArchitecture);
        var targeted = new bool[insns.Length];
        var result = new (string?, string, string?)[insns.Length];
        for (int pc = 0; pc < insns.Length; pc++)
        {
            result[pc] = (null, Format(insns[pc], pc, insns.Length, facts[pc]), Note(insns[pc], facts[pc]));
            var ins = insns[pc];
            if (ins.Code == (BPF_JMP | BPF_JA) && pc + 1 + (long)ins.K < insns.Length)
                targeted[pc + 1 + (int)ins.K] = true;
            else if (IsConditionalJump(ins.Code) && pc + 1 + ins.Jt < insns.Length && pc + 1 + ins.Jf < insns.Length)
            {
                // Only the targets the text names: "if (A != K) goto F" leaves the fall-through unnamed.
                if (ins.Jf == 0 || ins.Jt != 0)
                    targeted[pc + 1 + ins.Jt] = true;
                if (ins.Jf != 0)
                    targeted[pc + 1 + ins.Jf] = true;
            }
        }
        for (int pc = 0; pc < insns.Length; pc++)
            if (targeted[pc])
                result[pc].Item1 = LabelFor(pc);
        return result;
    }
}
