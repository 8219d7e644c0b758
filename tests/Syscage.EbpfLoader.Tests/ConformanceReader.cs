using System.Globalization;
using System.Text.RegularExpressions;
using Syscage.Ebpf.Isa;
using static Syscage.Ebpf.Isa.EbpfOpcode;

namespace Syscage.EbpfLoader.Tests;

/// <summary>
/// A small, temporary reader for the bpf_conformance <c>.data</c> text syntax, so the verifier can be tested on the
/// suite before the real assembler (written alongside the VM) is merged. Test code only; it knows just enough syntax
/// for the files in the suite.
/// </summary>
internal static partial class ConformanceReader
{
    public sealed record Case(string File, EbpfInstruction[] Program, int MemorySize);

    public static Case Read(string path)
    {
        var sections = new Dictionary<string, List<string>>();
        List<string>? current = null;
        foreach (var raw in File.ReadAllLines(path))
        {
            if (raw.StartsWith("-- ", StringComparison.Ordinal))
            {
                sections[raw[3..].Trim()] = current = [];
                continue;
            }
            current?.Add(raw);
        }
        int mem = sections.TryGetValue("mem", out var memLines)
            ? memLines.SelectMany(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Count()
            : 0;
        return new Case(Path.GetFileName(path), Assemble(sections["asm"]), mem);
    }

    /// <summary>Assembles program text (one instruction per line, labels, # comments).</summary>
    public static EbpfInstruction[] Parse(string asm) => Assemble([.. asm.Split('\n')]);

    private static EbpfInstruction[] Assemble(List<string> lines)
    {
        var stmts = new List<string>();
        var labels = new Dictionary<string, int>();
        int pc = 0;
        foreach (var raw in lines)
        {
            var line = raw.Split('#')[0].Trim();
            if (line.Length == 0)
                continue;
            var m = LabelRx().Match(line);
            if (m.Success)
            {
                labels[m.Groups[1].Value] = pc;
                line = line[m.Length..].Trim();
                if (line.Length == 0)
                    continue;
            }
            stmts.Add(line);
            pc += line.StartsWith("lddw", StringComparison.Ordinal) ? 2 : 1;
        }
        // "exit" as a jump target means the program's last exit instruction.
        int lastExit = -1;
        for (int i = 0, p = 0; i < stmts.Count; p += stmts[i].StartsWith("lddw", StringComparison.Ordinal) ? 2 : 1, i++)
            if (stmts[i] == "exit")
                lastExit = p;
        labels.TryAdd("exit", lastExit);

        var result = new List<EbpfInstruction>();
        foreach (var s in stmts)
        {
            int here = result.Count;
            var parts = s.Replace(",", " ", StringComparison.Ordinal).Split(' ', StringSplitOptions.RemoveEmptyEntries);
            string mn = parts[0];
            short Target(string t) => (short)((t[0] is '+' or '-' ? int.Parse(t, CultureInfo.InvariantCulture) : labels[t] - here - 1));
            if (mn == "exit") { result.Add(new(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)); continue; }
            if (mn == "lddw")
            {
                ulong v = ParseU64(parts[2]);
                result.Add(new(BPF_LD | BPF_DW | BPF_IMM, Reg(parts[1]), 0, 0, (int)(uint)v));
                result.Add(new(0, 0, 0, 0, (int)(uint)(v >> 32)));
                continue;
            }
            if (mn == "call")
            {
                if (parts[1] == "local")
                    result.Add(new(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, labels[parts[2]] - here - 1));
                else if (parts[1].StartsWith('%'))
                    result.Add(new(BPF_JMP | BPF_CALL | BPF_X, Reg(parts[1]), 0, 0, 0));
                else
                    result.Add(new(BPF_JMP | BPF_CALL, 0, 0, 0, (int)ParseU64(parts[1])));
                continue;
            }
            if (mn == "ja") { result.Add(new(BPF_JMP | BPF_JA, 0, 0, Target(parts[1]), 0)); continue; }
            if (mn == "ja32") { result.Add(new(BPF_JMP32 | BPF_JA, 0, 0, 0, Target(parts[1]))); continue; }
            if (mn == "lock")
            {
                int k = 1;
                bool fetch = parts[k] == "fetch";
                if (fetch) k++;
                string opn = parts[k];
                bool w32 = opn.EndsWith("32", StringComparison.Ordinal);
                if (w32) opn = opn[..^2];
                var (dst, off) = Mem(parts[k + 1]);
                int imm = opn switch
                {
                    "add" => BPF_ADD, "or" => BPF_OR, "and" => BPF_AND, "xor" => BPF_XOR,
                    "xchg" => BPF_XCHG, "cmpxchg" => BPF_CMPXCHG, _ => throw new FormatException(s),
                } | (fetch ? BPF_FETCH : 0);
                result.Add(new((byte)(BPF_STX | BPF_ATOMIC | (w32 ? BPF_W : BPF_DW)), dst, Reg(parts[k + 2]), off, imm));
                continue;
            }
            if (JumpRx().Match(mn) is { Success: true } jm && mn != "jmp")
            {
                byte op = jm.Groups[1].Value switch
                {
                    "eq" => BPF_JEQ, "gt" => BPF_JGT, "ge" => BPF_JGE, "set" => BPF_JSET, "ne" => BPF_JNE, "sgt" => BPF_JSGT,
                    "sge" => BPF_JSGE, "lt" => BPF_JLT, "le" => BPF_JLE, "slt" => BPF_JSLT, "sle" => BPF_JSLE, _ => throw new FormatException(s),
                };
                byte cls = jm.Groups[2].Success ? BPF_JMP32 : BPF_JMP;
                bool x = parts[2].StartsWith('%');
                result.Add(new((byte)(cls | op | (x ? BPF_X : BPF_K)), Reg(parts[1]), x ? Reg(parts[2]) : (byte)0, Target(parts[3]), x ? 0 : (int)ParseU64(parts[2])));
                continue;
            }
            if (MemRx().Match(mn) is { Success: true } mm)
            {
                byte size = mm.Groups[3].Value switch { "b" => BPF_B, "h" => BPF_H, "w" => BPF_W, _ => BPF_DW };
                switch (mm.Groups[1].Value)
                {
                    case "ldx":
                    {
                        var (src, off) = Mem(parts[2]);
                        byte mode = mm.Groups[2].Value == "s" ? BPF_MEMSX : BPF_MEM;
                        result.Add(new((byte)(BPF_LDX | mode | size), Reg(parts[1]), src, off, 0));
                        break;
                    }
                    case "stx":
                    {
                        var (dst, off) = Mem(parts[1]);
                        result.Add(new((byte)(BPF_STX | BPF_MEM | size), dst, Reg(parts[2]), off, 0));
                        break;
                    }
                    default:
                    {
                        var (dst, off) = Mem(parts[1]);
                        result.Add(new((byte)(BPF_ST | BPF_MEM | size), dst, 0, off, (int)ParseU64(parts[2])));
                        break;
                    }
                }
                continue;
            }
            if (EndRx().Match(mn) is { Success: true } em)
            {
                int width = int.Parse(em.Groups[2].Value, CultureInfo.InvariantCulture);
                byte code = em.Groups[1].Value switch
                {
                    "be" => BPF_ALU | BPF_END | BPF_TO_BE,
                    "le" => BPF_ALU | BPF_END | BPF_TO_LE,
                    _ => BPF_ALU64 | BPF_END | BPF_TO_LE, // bswap, swap
                };
                result.Add(new(code, Reg(parts[1]), 0, 0, width));
                continue;
            }
            if (MovsxRx().Match(mn) is { Success: true } sx)
            {
                short from = short.Parse(sx.Groups[1].Value, CultureInfo.InvariantCulture);
                byte cls = sx.Groups[2].Value == "32" ? BPF_ALU : BPF_ALU64;
                result.Add(new((byte)(cls | BPF_MOV | BPF_X), Reg(parts[1]), Reg(parts[2]), from, 0));
                continue;
            }
            {
                bool w32 = mn.EndsWith("32", StringComparison.Ordinal);
                string name = w32 ? mn[..^2] : mn;
                if (name.EndsWith("64", StringComparison.Ordinal)) name = name[..^2];
                byte cls = w32 ? BPF_ALU : BPF_ALU64;
                short off = 0;
                byte op = name switch
                {
                    "add" => BPF_ADD, "sub" => BPF_SUB, "mul" => BPF_MUL, "div" => BPF_DIV, "or" => BPF_OR, "and" => BPF_AND,
                    "lsh" => BPF_LSH, "rsh" => BPF_RSH, "neg" => BPF_NEG, "mod" => BPF_MOD, "xor" => BPF_XOR, "mov" => BPF_MOV,
                    "arsh" => BPF_ARSH, "sdiv" => BPF_DIV, "smod" => BPF_MOD, _ => throw new FormatException("unknown mnemonic: " + s),
                };
                if (name is "sdiv" or "smod") off = 1;
                if (op == BPF_NEG) { result.Add(new((byte)(cls | BPF_NEG), Reg(parts[1]), 0, 0, 0)); continue; }
                bool x = parts[2].StartsWith('%');
                result.Add(new((byte)(cls | op | (x ? BPF_X : BPF_K)), Reg(parts[1]), x ? Reg(parts[2]) : (byte)0, off, x ? 0 : (int)ParseU64(parts[2])));
            }
        }
        return [.. result];
    }

    private static byte Reg(string s) => byte.Parse(s.TrimStart('%', 'r'), CultureInfo.InvariantCulture);

    private static (byte Reg, short Off) Mem(string s)
    {
        var m = MemOperandRx().Match(s);
        if (!m.Success) throw new FormatException(s);
        short off = m.Groups[2].Success ? (short)ParseU64(m.Groups[2].Value) : (short)0;
        return (byte.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), off);
    }

    private static ulong ParseU64(string s)
    {
        s = s.Trim();
        bool neg = s.StartsWith('-');
        if (neg || s.StartsWith('+')) s = s[1..];
        ulong v = s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.Parse(s[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture)
            : ulong.Parse(s, CultureInfo.InvariantCulture);
        return neg ? (ulong)-(long)v : v;
    }

    [GeneratedRegex(@"^([A-Za-z_][A-Za-z0-9_]*):")]
    private static partial Regex LabelRx();
    [GeneratedRegex(@"^j(eq|gt|ge|set|ne|sgt|sge|lt|le|slt|sle)(32)?$")]
    private static partial Regex JumpRx();
    [GeneratedRegex(@"^(ldx|stx|st)(s?)(b|h|w|dw)$")]
    private static partial Regex MemRx();
    [GeneratedRegex(@"^(be|le|bswap|swap)(16|32|64)$")]
    private static partial Regex EndRx();
    [GeneratedRegex(@"^movsx(8|16|32)(32|64)$")]
    private static partial Regex MovsxRx();
    [GeneratedRegex(@"^\[%r(\d+)([+-](?:0x[0-9a-fA-F]+|\d+))?\]$")]
    private static partial Regex MemOperandRx();
}
