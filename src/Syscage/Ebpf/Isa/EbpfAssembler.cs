using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Syscage.Bpf;
using static Syscage.Ebpf.Isa.EbpfOpcode;

namespace Syscage.Ebpf.Isa;

/// <summary>
/// Assembles the text syntax of the eBPF conformance suite (bpf_conformance, ubpf):
/// <c>mov32 %r0, 0</c>, <c>ldxdw %r1, [%r10-8]</c>, <c>lddw %r0, 0x1122334455667788</c>, <c>lock fetch add [%r10-8], %r1</c>,
/// <c>jne %r1, 2, label</c>, <c>call local func</c>, <c>call 1</c> (or <c>call bpf_map_lookup_elem</c>), labels (<c>name:</c>) and <c># comments</c>.
/// </summary>
/// <remarks>
/// <para>Jump targets are a label, a signed slot offset (<c>+3</c>, <c>-1</c>), or <c>exit</c> when no label of that
/// name exists: as in the suite, <c>exit</c> then means the program's last instruction, which must be an <c>exit</c>.</para>
/// <para>Extensions beyond the suite, which the disassembler emits: <c>lddw %r1, map[IDX]</c> (src
/// <see cref="EbpfOpcode.BPF_PSEUDO_MAP_FD"/>), <c>lddw %r1, map_value[IDX]+OFF</c> (src
/// <see cref="EbpfOpcode.BPF_PSEUDO_MAP_VALUE"/>), and <c>.raw 0x0123456789abcdef</c>, one slot as the 64-bit
/// little-endian word the suite's <c>-- raw</c> section shows (for slots no mnemonic spells exactly).</para>
/// </remarks>
public static class EbpfAssembler
{
    /// <summary>Assembles <paramref name="text"/>; on failure <paramref name="error"/> holds the first error (<c>file:line:col: message</c>).</summary>
    public static bool TryAssemble(string text, [NotNullWhen(true)] out EbpfInstruction[]? instructions, [NotNullWhen(false)] out AssemblyError? error,
        string fileName = "<input>")
    {
        ArgumentNullException.ThrowIfNull(text);
        return new Parser(text, fileName).TryRun(out instructions, out error);
    }

    /// <summary>Assembles <paramref name="text"/> or throws a <see cref="SyscageException"/> whose message is <c>file:line:col: message</c>.</summary>
    public static EbpfInstruction[] Assemble(string text, string fileName = "<input>") =>
        TryAssemble(text, out var result, out var error, fileName) ? result : throw new SyscageException(error.ToString());

    private enum Fixup { None, JumpOffset, JumpImm, CallImm }

    private sealed class Pending
    {
        public EbpfInstruction Insn;
        public Fixup Fixup;
        public string? Label;
        public SourcePosition LabelPos;
        public bool IsWideSecond;
        public bool IsExit;
    }

    /// <summary>One assembly, Try-first: a step that meets bad input records it (<see cref="Fail(int, string)"/>) and returns false, and so does every caller.</summary>
    private sealed class Parser(string text, string file)
    {
        private readonly FirstError<AssemblyError> _errors = new();
        private readonly List<Pending> _slots = [];
        private readonly Dictionary<string, int> _labels = new(StringComparer.Ordinal);
        private int _line;

        public bool TryRun([NotNullWhen(true)] out EbpfInstruction[]? result, [NotNullWhen(false)] out AssemblyError? error) =>
            _errors.Outcome(Run(out result), out error);

        private bool Run([NotNullWhen(true)] out EbpfInstruction[]? result)
        {
            result = null;
            var lines = text.Split('\n');
            for (_line = 1; _line <= lines.Length; _line++)
                if (!ParseLine(lines[_line - 1].TrimEnd('\r')))
                    return false;
            var insns = new EbpfInstruction[_slots.Count];
            for (int pc = 0; pc < _slots.Count; pc++)
            {
                var p = _slots[pc];
                if (p.Fixup != Fixup.None && p.Label is not null)
                {
                    if (!ResolveLabel(p.Label, p.LabelPos, out int target))
                        return false;
                    long rel = target - (pc + 1L);
                    if (p.Fixup == Fixup.JumpOffset)
                    {
                        if (rel is < short.MinValue or > short.MaxValue)
                            return Fail(p.LabelPos, $"jump to '{p.Label}' is {rel} slots away, beyond the 16-bit offset");
                        p.Insn = p.Insn with { Offset = (short)rel };
                    }
                    else
                    {
                        p.Insn = p.Insn with { Imm = (int)rel };
                    }
                }
                insns[pc] = p.Insn;
            }
            result = insns;
            return true;
        }

        private bool ResolveLabel(string label, SourcePosition pos, out int target)
        {
            if (_labels.TryGetValue(label, out target))
                return true;
            if (label == "exit" && _slots.Count > 0 && _slots[^1].IsExit)
            {
                target = _slots.Count - 1;
                return true;
            }
            var hint = Suggest.Closest(label, _labels.Keys);
            return Fail(pos, $"undefined label '{label}'" + (hint is null ? "" : $" (did you mean '{hint}'?)"));
        }

        private bool Fail(SourcePosition pos, string message) => _errors.Fail(new AssemblyError(pos, message));

        /// <summary>Records an error at column <paramref name="col"/> of the current line; false.</summary>
        private bool Fail(int col, string message) => Fail(new SourcePosition(file, _line, col), message);

        private bool ParseLine(string raw)
        {
            int hash = raw.IndexOf('#', StringComparison.Ordinal);
            string line = hash >= 0 ? raw[..hash] : raw;
            int pos = 0;
            SkipSpace(line, ref pos);
            if (pos >= line.Length)
                return true;

            // Label definitions: "name:" (an instruction may follow on the same line).
            int colon = line.IndexOf(':', pos);
            if (colon > pos && IsIdentifier(line.AsSpan(pos, colon - pos)))
            {
                string name = line[pos..colon];
                if (!_labels.TryAdd(name, _slots.Count))
                    return Fail(pos + 1, $"label '{name}' defined twice");
                pos = colon + 1;
                SkipSpace(line, ref pos);
                if (pos >= line.Length)
                    return true;
            }

            int mnemonicCol = pos + 1;
            string mnemonic = ReadWord(line, ref pos);
            if (mnemonic.Length == 0)
                return Fail(mnemonicCol, $"expected an instruction, found '{line[pos..].Trim()}'");
            if (mnemonic == "lock")
            {
                SkipSpace(line, ref pos);
                mnemonicCol = pos + 1;
                string op = ReadWord(line, ref pos);
                bool fetch = false;
                if (op == "fetch")
                {
                    fetch = true;
                    SkipSpace(line, ref pos);
                    op = ReadWord(line, ref pos);
                }
                var operands = SplitOperands(line, pos);
                return Atomic(op, fetch, operands, mnemonicCol);
            }
            var ops = SplitOperands(line, pos);
            return Instruction(mnemonic, ops, mnemonicCol);
        }

        private static bool IsIdentifier(ReadOnlySpan<char> s)
        {
            if (s.Length == 0 || !(char.IsAsciiLetter(s[0]) || s[0] is '_' or '.'))
                return false;
            foreach (char c in s)
                if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '.'))
                    return false;
            return true;
        }

        private static void SkipSpace(string s, ref int pos)
        {
            while (pos < s.Length && char.IsWhiteSpace(s[pos]))
                pos++;
        }

        private static string ReadWord(string s, ref int pos)
        {
            int start = pos;
            while (pos < s.Length && (char.IsAsciiLetterOrDigit(s[pos]) || s[pos] is '_' or '.'))
                pos++;
            return s[start..pos];
        }

        private readonly record struct Operand(string Text, int Col);

        private static List<Operand> SplitOperands(string line, int pos)
        {
            var result = new List<Operand>();
            int start = pos;
            for (int i = pos; i <= line.Length; i++)
            {
                if (i == line.Length || line[i] == ',')
                {
                    string part = line[start..i];
                    int lead = part.Length - part.TrimStart().Length;
                    string trimmed = part.Trim();
                    if (trimmed.Length > 0 || i < line.Length || result.Count > 0)
                        result.Add(new Operand(trimmed, start + lead + 1));
                    start = i + 1;
                }
            }
            return result;
        }

        private bool Expect(List<Operand> ops, int count, int col, string mnemonic, string shape) =>
            (ops.Count == count && !ops.Any(o => o.Text.Length == 0)) || Fail(col, $"'{mnemonic}' takes {shape}");

        private bool Register(Operand op, out byte register)
        {
            var t = op.Text;
            register = 0;
            if (t.StartsWith("%r", StringComparison.Ordinal) &&
                int.TryParse(t.AsSpan(2), NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n <= 10)
            {
                register = (byte)n;
                return true;
            }
            return Fail(op.Col, $"expected a register %r0..%r10, found '{t}'");
        }

        private static bool IsRegister(Operand op) => op.Text.StartsWith('%');

        private bool TryInteger(string t, out long value)
        {
            value = 0;
            bool negative = false;
            var s = t.AsSpan();
            if (s.StartsWith("-")) { negative = true; s = s[1..]; }
            else if (s.StartsWith("+")) s = s[1..];
            ulong magnitude;
            if (s.StartsWith("0x") || s.StartsWith("0X"))
            {
                if (!ulong.TryParse(s[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out magnitude))
                    return false;
            }
            else if (!ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out magnitude))
            {
                return false;
            }
            value = negative ? (long)(0 - magnitude) : (long)magnitude;
            if (negative && magnitude > 1UL << 63)
                return false;
            return true;
        }

        /// <summary>A 32-bit immediate: any value from -2^31 to 2^32-1 (written unsigned values keep their bits).</summary>
        private bool Imm32(Operand op, out int imm)
        {
            imm = 0;
            if (!TryInteger(op.Text, out long v))
                return Fail(op.Col, $"expected an integer, found '{op.Text}'");
            if (v is < int.MinValue or > uint.MaxValue || (op.Text.StartsWith('-') && v > 0))
                return Fail(op.Col, $"immediate {op.Text} does not fit in 32 bits");
            imm = unchecked((int)v);
            return true;
        }

        private bool Memory(Operand op, out byte register, out short offset)
        {
            var t = op.Text;
            (register, offset) = (0, 0);
            if (t.Length < 4 || t[0] != '[' || t[^1] != ']')
                return Fail(op.Col, $"expected a memory operand like [%r1+8], found '{t}'");
            var inner = t[1..^1].Trim();
            int sign = inner.IndexOfAny(['+', '-']);
            string reg = sign < 0 ? inner : inner[..sign].Trim();
            if (!Register(new Operand(reg, op.Col + 1), out register))
                return false;
            if (sign < 0)
                return true;
            string offText = inner[sign..].Replace(" ", "", StringComparison.Ordinal);
            if (!TryInteger(offText, out long off) || off is < short.MinValue or > short.MaxValue)
                return Fail(op.Col, $"memory offset '{offText}' is not a 16-bit signed integer");
            offset = (short)off;
            return true;
        }

        private void Add(EbpfInstruction insn, Fixup fixup = Fixup.None, string? label = null, SourcePosition labelPos = default, bool isExit = false) =>
            _slots.Add(new Pending { Insn = insn, Fixup = fixup, Label = label, LabelPos = labelPos, IsExit = isExit });

        /// <summary>A jump target: "+N"/"-N"/"N" is a slot offset, anything else a label.</summary>
        private bool Target(Operand op, out int offset, out string? label)
        {
            label = null;
            offset = 0;
            if (op.Text.Length > 0 && (op.Text[0] is '+' or '-' || char.IsAsciiDigit(op.Text[0])))
            {
                if (!TryInteger(op.Text, out long v) || v is < int.MinValue or > int.MaxValue)
                    return Fail(op.Col, $"jump offset '{op.Text}' is out of range");
                offset = (int)v;
                return true;
            }
            if (!IsIdentifier(op.Text))
                return Fail(op.Col, $"expected a label or an offset, found '{op.Text}'");
            label = op.Text;
            return true;
        }

        private static readonly Dictionary<string, byte> AluOps = new(StringComparer.Ordinal)
        {
            ["add"] = BPF_ADD, ["sub"] = BPF_SUB, ["mul"] = BPF_MUL, ["div"] = BPF_DIV, ["or"] = BPF_OR,
            ["and"] = BPF_AND, ["lsh"] = BPF_LSH, ["rsh"] = BPF_RSH, ["mod"] = BPF_MOD, ["xor"] = BPF_XOR,
            ["mov"] = BPF_MOV, ["arsh"] = BPF_ARSH, ["sdiv"] = BPF_DIV, ["smod"] = BPF_MOD,
        };

        private static readonly Dictionary<string, byte> JumpOps = new(StringComparer.Ordinal)
        {
            ["jeq"] = BPF_JEQ, ["jgt"] = BPF_JGT, ["jge"] = BPF_JGE, ["jset"] = BPF_JSET, ["jne"] = BPF_JNE,
            ["jsgt"] = BPF_JSGT, ["jsge"] = BPF_JSGE, ["jlt"] = BPF_JLT, ["jle"] = BPF_JLE, ["jslt"] = BPF_JSLT, ["jsle"] = BPF_JSLE,
        };

        private static readonly Dictionary<string, byte> AtomicOps = new(StringComparer.Ordinal)
        {
            ["add"] = BPF_ADD, ["or"] = BPF_OR, ["and"] = BPF_AND, ["xor"] = BPF_XOR,
        };

        private static byte SizeOf(string suffix) => suffix switch
        {
            "b" => BPF_B, "h" => BPF_H, "w" => BPF_W, "dw" => BPF_DW, _ => 0xff,
        };

        private static (string Stem, bool Is32) SplitWidth(string mnemonic) =>
            mnemonic.EndsWith("32", StringComparison.Ordinal) ? (mnemonic[..^2], true)
            : mnemonic.EndsWith("64", StringComparison.Ordinal) ? (mnemonic[..^2], false)
            : (mnemonic, false);

        private bool Instruction(string m, List<Operand> ops, int col)
        {
            var (stem, is32) = SplitWidth(m);
            byte aluClass = is32 ? BPF_ALU : BPF_ALU64;
            byte dst, src;
            short off;
            int imm, offset;
            string? label;

            if (m == "exit")
            {
                if (!Expect(ops, 0, col, m, "no operands"))
                    return false;
                Add(new EbpfInstruction(BPF_JMP | BPF_EXIT, 0, 0, 0, 0), isExit: true);
                return true;
            }
            if (m == ".raw")
            {
                if (!Expect(ops, 1, col, m, "one 64-bit word (the slot as a little-endian integer)"))
                    return false;
                if (!TryInteger(ops[0].Text, out long word))
                    return Fail(ops[0].Col, $"expected a 64-bit word, found '{ops[0].Text}'");
                Span<byte> b = stackalloc byte[8];
                System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(b, word);
                Add(EbpfInstruction.Read(b));
                return true;
            }
            if (m == "lddw")
            {
                if (!Expect(ops, 2, col, m, "a register and a 64-bit constant") || !Register(ops[0], out dst) || !WideConstant(ops[1], out src, out int lo, out int hi))
                    return false;
                Add(new EbpfInstruction(BPF_LD | BPF_DW | BPF_IMM, dst, src, 0, lo));
                _slots.Add(new Pending { Insn = new EbpfInstruction(0, 0, 0, 0, hi), IsWideSecond = true });
                return true;
            }
            if (AluOps.TryGetValue(stem, out byte aluOp))
            {
                if (!Expect(ops, 2, col, m, "a destination register and a register or immediate") || !Register(ops[0], out dst))
                    return false;
                off = (short)(stem is "sdiv" or "smod" ? 1 : 0);
                if (IsRegister(ops[1]))
                {
                    if (!Register(ops[1], out src))
                        return false;
                    Add(new EbpfInstruction((byte)(aluClass | aluOp | BPF_X), dst, src, off, 0));
                }
                else
                {
                    if (!Imm32(ops[1], out imm))
                        return false;
                    Add(new EbpfInstruction((byte)(aluClass | aluOp | BPF_K), dst, 0, off, imm));
                }
                return true;
            }
            if (stem == "neg")
            {
                if (!Expect(ops, 1, col, m, "one register") || !Register(ops[0], out dst))
                    return false;
                Add(new EbpfInstruction((byte)(aluClass | BPF_NEG), dst, 0, 0, 0));
                return true;
            }
            if (m.StartsWith("movsx", StringComparison.Ordinal))
            {
                // movsx832, movsx1632 (ALU), movsx864, movsx1664, movsx3264 (ALU64): source width, then result width.
                (short From, byte Class)? widths = m switch
                {
                    "movsx832" => ((short)8, BPF_ALU), "movsx1632" => ((short)16, BPF_ALU),
                    "movsx864" => ((short)8, BPF_ALU64), "movsx1664" => ((short)16, BPF_ALU64), "movsx3264" => ((short)32, BPF_ALU64),
                    _ => null,
                };
                if (widths is not (var from, var cls))
                    return Fail(col, $"unknown instruction '{m}' (sign-extending moves are movsx832, movsx1632, movsx864, movsx1664, movsx3264)");
                if (!Expect(ops, 2, col, m, "two registers") || !Register(ops[0], out dst) || !Register(ops[1], out src))
                    return false;
                Add(new EbpfInstruction((byte)(cls | BPF_MOV | BPF_X), dst, src, from, 0));
                return true;
            }
            if (m is "be16" or "be32" or "be64" or "le16" or "le32" or "le64" or "bswap16" or "bswap32" or "bswap64" or "swap16" or "swap32" or "swap64")
            {
                if (!Expect(ops, 1, col, m, "one register"))
                    return false;
                int width = int.Parse(m.AsSpan(m.Length - 2), CultureInfo.InvariantCulture);
                byte code = m[0] switch
                {
                    'b' when m[1] == 'e' => BPF_ALU | BPF_END | BPF_TO_BE,
                    'l' => BPF_ALU | BPF_END | BPF_TO_LE,
                    _ => BPF_ALU64 | BPF_END | BPF_TO_LE,
                };
                if (!Register(ops[0], out dst))
                    return false;
                Add(new EbpfInstruction(code, dst, 0, 0, width));
                return true;
            }
            if (stem == "ja")
            {
                if (!Expect(ops, 1, col, m, "a label or offset") || !Target(ops[0], out offset, out label))
                    return false;
                if (is32)
                    Add(new EbpfInstruction(BPF_JMP32 | BPF_JA, 0, 0, 0, offset), label is null ? Fixup.None : Fixup.JumpImm, label, Pos(ops[0]));
                else if (CheckedOffset(offset, ops[0], out off))
                    Add(new EbpfInstruction(BPF_JMP | BPF_JA, 0, 0, off, 0), label is null ? Fixup.None : Fixup.JumpOffset, label, Pos(ops[0]));
                else
                    return false;
                return true;
            }
            if (JumpOps.TryGetValue(stem, out byte jmpOp))
            {
                if (!Expect(ops, 3, col, m, "a register, a register or immediate, and a label or offset") || !Register(ops[0], out dst)
                    || !Target(ops[2], out offset, out label))
                    return false;
                byte cls = is32 ? BPF_JMP32 : BPF_JMP;
                EbpfInstruction insn;
                if (IsRegister(ops[1]))
                {
                    if (!Register(ops[1], out src) || !CheckedOffset(offset, ops[2], out off))
                        return false;
                    insn = new EbpfInstruction((byte)(cls | jmpOp | BPF_X), dst, src, off, 0);
                }
                else
                {
                    if (!CheckedOffset(offset, ops[2], out off) || !Imm32(ops[1], out imm))
                        return false;
                    insn = new EbpfInstruction((byte)(cls | jmpOp | BPF_K), dst, 0, off, imm);
                }
                Add(insn, label is null ? Fixup.None : Fixup.JumpOffset, label, Pos(ops[2]));
                return true;
            }
            if (m == "call")
            {
                if (ops.Count == 1 && ops[0].Text.StartsWith("local ", StringComparison.Ordinal))
                {
                    var target = new Operand(ops[0].Text[6..].Trim(), ops[0].Col + 6);
                    if (!Target(target, out offset, out label))
                        return false;
                    Add(new EbpfInstruction(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, offset), label is null ? Fixup.None : Fixup.CallImm, label, Pos(target));
                    return true;
                }
                if (!Expect(ops, 1, col, m, "a helper id, 'local LABEL' or a register"))
                    return false;
                if (IsRegister(ops[0]))
                {
                    if (!Register(ops[0], out dst))
                        return false;
                    Add(new EbpfInstruction(BPF_JMP | BPF_CALL | BPF_X, dst, 0, 0, 0));
                }
                else if (ops[0].Text.StartsWith("bpf_", StringComparison.Ordinal))
                {
                    // A helper by name, as the disassembler writes it (call bpf_map_lookup_elem#1: '#1' is a comment).
                    if (!Abi.HelperIds.TryGetId(ops[0].Text, out imm))
                        return Fail(ops[0].Col, $"unknown helper '{ops[0].Text}'" +
                            (Suggest.Closest(ops[0].Text, Abi.HelperIds.Names) is { } near ? $" (did you mean '{near}'?)" : ""));
                    Add(new EbpfInstruction(BPF_JMP | BPF_CALL, 0, 0, 0, imm));
                }
                else
                {
                    if (!Imm32(ops[0], out imm))
                        return false;
                    Add(new EbpfInstruction(BPF_JMP | BPF_CALL, 0, 0, 0, imm));
                }
                return true;
            }
            if (m.StartsWith("ldxs", StringComparison.Ordinal) && SizeOf(m[4..]) is var sxSize && sxSize != 0xff && sxSize != BPF_DW)
            {
                if (!Expect(ops, 2, col, m, "a register and a memory operand") || !Memory(ops[1], out src, out off) || !Register(ops[0], out dst))
                    return false;
                Add(new EbpfInstruction((byte)(BPF_LDX | BPF_MEMSX | sxSize), dst, src, off, 0));
                return true;
            }
            if (m.StartsWith("ldx", StringComparison.Ordinal) && SizeOf(m[3..]) is var ldSize && ldSize != 0xff)
            {
                if (!Expect(ops, 2, col, m, "a register and a memory operand") || !Memory(ops[1], out src, out off) || !Register(ops[0], out dst))
                    return false;
                Add(new EbpfInstruction((byte)(BPF_LDX | BPF_MEM | ldSize), dst, src, off, 0));
                return true;
            }
            if (m.StartsWith("stx", StringComparison.Ordinal) && SizeOf(m[3..]) is var stxSize && stxSize != 0xff)
            {
                if (!Expect(ops, 2, col, m, "a memory operand and a register") || !Memory(ops[0], out dst, out off) || !Register(ops[1], out src))
                    return false;
                Add(new EbpfInstruction((byte)(BPF_STX | BPF_MEM | stxSize), dst, src, off, 0));
                return true;
            }
            if (m.StartsWith("st", StringComparison.Ordinal) && SizeOf(m[2..]) is var stSize && stSize != 0xff)
            {
                if (!Expect(ops, 2, col, m, "a memory operand and an immediate") || !Memory(ops[0], out dst, out off) || !Imm32(ops[1], out imm))
                    return false;
                Add(new EbpfInstruction((byte)(BPF_ST | BPF_MEM | stSize), dst, 0, off, imm));
                return true;
            }
            var known = AluOps.Keys.Concat(JumpOps.Keys).Concat(["exit", "lddw", "ja", "call", "neg", "ldxdw", "stxdw", "stdw", "lock", "be16", "le16", "bswap16"]);
            var hint = Suggest.Closest(m, known);
            return Fail(col, $"unknown instruction '{m}'" + (hint is null ? "" : $" (did you mean '{hint}'?)"));
        }

        private SourcePosition Pos(Operand op) => new(file, _line, op.Col);

        private bool CheckedOffset(int offset, Operand op, out short result)
        {
            result = (short)offset;
            return offset is >= short.MinValue and <= short.MaxValue || Fail(op.Col, $"jump offset {offset} does not fit in 16 bits");
        }

        private bool WideConstant(Operand op, out byte src, out int lo, out int hi)
        {
            (src, lo, hi) = (0, 0, 0);
            var t = op.Text;
            if (t.StartsWith("map[", StringComparison.Ordinal) || t.StartsWith("map_value[", StringComparison.Ordinal))
            {
                bool value = t[3] == '_';
                int open = t.IndexOf('[', StringComparison.Ordinal), close = t.IndexOf(']', StringComparison.Ordinal);
                if (close < 0 || !int.TryParse(t.AsSpan(open + 1, close - open - 1), NumberStyles.None, CultureInfo.InvariantCulture, out int index))
                    return Fail(op.Col, $"expected map[INDEX] or map_value[INDEX]+OFFSET, found '{t}'");
                string rest = t[(close + 1)..].Replace(" ", "", StringComparison.Ordinal);
                int offset = 0;
                if (rest.Length > 0)
                {
                    if (!value || !TryInteger(rest, out long o) || o is < 0 or > int.MaxValue)
                        return Fail(op.Col, $"unexpected '{rest}' after the map reference");
                    offset = (int)o;
                }
                (src, lo, hi) = (value ? BPF_PSEUDO_MAP_VALUE : BPF_PSEUDO_MAP_FD, index, offset);
                return true;
            }
            if (!TryInteger(t, out long v))
                return Fail(op.Col, $"expected a 64-bit integer, found '{t}'");
            (lo, hi) = (unchecked((int)v), unchecked((int)(v >> 32)));
            return true;
        }

        private bool Atomic(string op, bool fetch, List<Operand> ops, int col)
        {
            var (stem, is32) = SplitWidth(op);
            byte size = is32 ? BPF_W : BPF_DW;
            int imm;
            if (stem == "xchg") imm = BPF_XCHG;
            else if (stem == "cmpxchg") imm = BPF_CMPXCHG;
            else if (AtomicOps.TryGetValue(stem, out byte aop)) imm = aop | (fetch ? BPF_FETCH : 0);
            else return Fail(col, $"unknown atomic operation '{op}' (add, or, and, xor, xchg, cmpxchg, with an optional 32 suffix)");
            if (!Expect(ops, 2, col, "lock " + op, "a memory operand and a register") || !Memory(ops[0], out byte dst, out short off) || !Register(ops[1], out byte src))
                return false;
            Add(new EbpfInstruction((byte)(BPF_STX | BPF_ATOMIC | size), dst, src, off, imm));
            return true;
        }
    }
}
