using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Syscage.Abi;
using static Syscage.Bpf.Opcode;

namespace Syscage.Bpf;

/// <summary>A position in a source text (1-based line and column) with its file name.</summary>
/// <param name="File">The file name shown in messages.</param>
/// <param name="Line">1-based line.</param>
/// <param name="Column">1-based column.</param>
public readonly record struct SourcePosition(string File, int Line, int Column)
{
    /// <summary><c>file:line:col</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{File}:{Line}:{Column}");
}

/// <summary>An assembler error: where, and what is wrong.</summary>
/// <param name="Position">Where in the source.</param>
/// <param name="Message">What is wrong, with a suggestion where one is known.</param>
public sealed record AssemblyError(SourcePosition Position, string Message)
{
    /// <summary><c>file:line:col: message</c>.</summary>
    public override string ToString() => $"{Position}: {Message}";
}

/// <summary>The result of assembling: the instructions and, for each, where it came from.</summary>
/// <param name="Instructions">The encoded program.</param>
/// <param name="Positions">Source position of each instruction.</param>
public sealed record AssemblyResult(Instruction[] Instructions, SourcePosition[] Positions);

/// <summary>
/// Reads Syscage's classic-BPF assembler text — the syntax <see cref="Disassembler"/> writes — into
/// instructions. Syscall names are read for the architecture the program has checked at that point
/// (see <see cref="ProgramFacts"/>), else for the default architecture; so are the halves of 64-bit fields:
/// <c>args[i]</c> is the low half, which a big-endian architecture keeps in the field's second word
/// (<c>data[k]</c> names a word by its offset, whatever the byte order).
/// </summary>
/// <remarks>
/// Statements: <c>A = sys_number | arch | instruction_pointer [&gt;&gt; 32] | args[i] [&gt;&gt; 32] | data[k] | len | mem[i] | X | -A | K</c>;
/// <c>X = len | mem[i] | A | K</c>; <c>mem[i] = A | X</c>; <c>A op= K | X</c> with <c>+ - * / % &amp; | ^ &lt;&lt; &gt;&gt;</c>;
/// <c>goto L</c>; <c>if (A == V) goto L [else goto M]</c> with <c>== != &gt; &gt;= &lt; &lt;=</c>, <c>if (A &amp; V)</c>, <c>if !(A &amp; V)</c>;
/// <c>return ACTION | A | K</c>; <c>raw(code, jt, jf, k)</c>. Labels are <c>name:</c>; comments start with <c>#</c> or <c>//</c>.
/// </remarks>
public static class Assembler
{
    /// <summary>Assembles <paramref name="text"/>; on failure <paramref name="error"/> is the first error.</summary>
    public static bool TryAssemble(string text, [NotNullWhen(true)] out AssemblyResult? result, [NotNullWhen(false)] out AssemblyError? error,
        string fileName = "<input>", Architecture? defaultArchitecture = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new Parser(text, fileName, defaultArchitecture ?? Architecture.Native).TryRun(out result, out error);
    }

    /// <summary>Assembles <paramref name="text"/> or throws <see cref="BpfFormatException"/> with <c>file:line:col: message</c>.</summary>
    public static Instruction[] Assemble(string text, string fileName = "<input>", Architecture? defaultArchitecture = null) =>
        TryAssemble(text, out var result, out var error, fileName, defaultArchitecture)
            ? result.Instructions
            : throw new BpfFormatException(error.ToString());

    /// <summary>
    /// Assembles and validates; a validation failure is reported at the source line of the instruction at
    /// fault: <c>file:line:col: jump out of range at pc 3: ...</c>.
    /// </summary>
    public static bool TryAssembleProgram(string text, [NotNullWhen(true)] out BpfProgram? program, [NotNullWhen(false)] out AssemblyError? error,
        string fileName = "<input>", Architecture? defaultArchitecture = null)
    {
        program = null;
        if (!TryAssemble(text, out var result, out error, fileName, defaultArchitecture))
            return false;
        if (Validator.TryValidate(result.Instructions, out program, out var invalid))
            return true;
        var pos = invalid.Pc >= 0 ? result.Positions[invalid.Pc]
            : result.Positions.Length > 0 ? result.Positions[^1] : new SourcePosition(fileName, 1, 1);
        error = new AssemblyError(pos, invalid.ToString());
        return false;
    }

    private enum T { Ident, Number, Punct, End }

    private readonly record struct Token(T Kind, string Text, uint Value, int Col);

    private sealed class Pending
    {
        public ushort Code;
        public uint K;
        public string? True, False;     // labels: conditional targets, or True alone for goto
        public SourcePosition TruePos, FalsePos;
        public string? Name;            // a name operand, resolved after the analysis
        public SourcePosition NamePos;
        public uint? Field;             // a load of a 64-bit field's half, its offset resolved after the analysis
        public bool High;
        public SourcePosition Pos;
        public bool Raw;
        public byte RawJt, RawJf;
    }

    /// <summary>One assembly, Try-first: a step that meets bad input records it (<see cref="Fail(int, string)"/>) and returns false, and so does every caller.</summary>
    private sealed class Parser(string text, string file, Architecture defaultArch)
    {
        private readonly FirstError<AssemblyError> _errors = new();
        private readonly List<Pending> _insns = [];
        private readonly Dictionary<string, (int Pc, SourcePosition Pos)> _labels = new(StringComparer.Ordinal);
        private List<Token> _toks = [];
        private int _i;
        private int _line;

        public bool TryRun([NotNullWhen(true)] out AssemblyResult? result, [NotNullWhen(false)] out AssemblyError? error) =>
            _errors.Outcome(Run(out result), out error);

        private bool Run([NotNullWhen(true)] out AssemblyResult? result)
        {
            result = null;
            var lines = text.Split('\n');
            for (int ln = 0; ln < lines.Length; ln++)
            {
                _line = ln + 1;
                if (!Tokenize(lines[ln].TrimEnd('\r'), out _toks))
                    return false;
                _i = 0;
                // Any number of "label:" prefixes.
                while (Peek.Kind == T.Ident && PeekAt(1) is { Kind: T.Punct, Text: ":" })
                {
                    var t = Next();
                    Next();
                    if (_labels.TryGetValue(t.Text, out var prev))
                        return Fail(t.Col, $"label '{t.Text}' is already defined at {prev.Pos}");
                    _labels[t.Text] = (_insns.Count, Pos(t.Col));
                }
                if (Peek.Kind == T.End)
                    continue;
                var p = new Pending { Pos = Pos(Peek.Col) };
                if (!Statement(p))
                    return false;
                _insns.Add(p);
                if (Peek.Kind != T.End)
                    return Fail(Peek.Col, $"unexpected '{Peek.Text}' after the instruction");
            }
            foreach (var (name, (pc, pos)) in _labels)
                if (pc >= _insns.Count)
                    return Fail(pos, $"label '{name}' marks no instruction (it is at the end of the program)");
            if (_insns.Count == 0)
                return Fail(new SourcePosition(file, 1, 1), "empty program: no instructions");

            var insns = new Instruction[_insns.Count];
            for (int pc = 0; pc < insns.Length; pc++)
                if (!Encode(pc, _insns[pc], out insns[pc]))
                    return false;
            var facts = ProgramFacts.Analyze(insns, defaultArch);
            for (int pc = 0; pc < insns.Length; pc++)
            {
                var p = _insns[pc];
                // The byte order comes from the arch checks alone, which the offsets of argument loads do not change.
                if (p.Field is uint field)
                    insns[pc] = insns[pc] with { K = SeccompData.WordOffset(field, p.High, facts[pc].BigEndian) };
                if (p.Name is null)
                    continue;
                var f = facts[pc];
                if (f.A == AccumulatorContent.Arch)
                    return Fail(p.NamePos, $"'{p.Name}' compared with arch: use an AUDIT_ARCH_* name or a number");
                if (!f.Architecture.TryParseSyscall(p.Name, out int nr))
                    return Fail(p.NamePos, UnknownName(p.Name, f.Architecture));
                insns[pc] = insns[pc] with { K = (uint)nr };
            }
            result = new AssemblyResult(insns, _insns.Select(p => p.Pos).ToArray());
            return true;
        }

        private static string UnknownName(string name, Architecture arch)
        {
            int dot = name.IndexOf('.');
            if (dot > 0)
            {
                if (!Architecture.TryParse(name[..dot], out var q))
                    return $"unknown architecture '{name[..dot]}' in '{name}'";
                (arch, name) = (q, name[(dot + 1)..]);
            }
            var hints = arch.Syscalls.SuggestNames(name).ToList();
            string hint = hints.Count > 0 ? $"; did you mean '{hints[0]}'?" : "";
            return $"unknown syscall '{name}' on {arch.Name}{hint}";
        }

        private bool Encode(int pc, Pending p, out Instruction insn)
        {
            insn = default;
            if (p.Raw)
            {
                insn = new Instruction(p.Code, p.RawJt, p.RawJf, p.K);
                return true;
            }
            if (p.Code == (BPF_JMP | BPF_JA))
            {
                if (!Distance(pc, p.True!, p.TruePos, long.MaxValue, out long k))
                    return false;
                insn = new Instruction(p.Code, 0, 0, (uint)k);
                return true;
            }
            long jt = 0, jf = 0;
            if (IsConditionalJump(p.Code))
            {
                if (p.True is not null && !Distance(pc, p.True, p.TruePos, 255, out jt))
                    return false;
                if (p.False is not null && !Distance(pc, p.False, p.FalsePos, 255, out jf))
                    return false;
            }
            insn = new Instruction(p.Code, (byte)jt, (byte)jf, p.K);
            return true;
        }

        private bool Distance(int pc, string label, SourcePosition pos, long max, out long distance)
        {
            distance = 0;
            if (!_labels.TryGetValue(label, out var target))
            {
                var close = Suggest.Closest(label, _labels.Keys);
                return Fail(pos, $"undefined label '{label}'{(close is null ? "" : $"; did you mean '{close}'?")}");
            }
            distance = target.Pc - pc - 1L;
            if (distance < 0)
                return Fail(pos, $"jump to '{label}' goes backward (from pc {pc} to pc {target.Pc}); classic BPF jumps only forward");
            if (distance > max)
                return Fail(pos, $"jump out of range: '{label}' is {distance} instructions ahead of pc {pc}, a conditional jump reaches at most 255; jump to a 'goto' placed within reach");
            return true;
        }

        private bool Statement(Pending p)
        {
            var first = Peek;
            if (first.Kind != T.Ident)
                return Fail(first.Col, $"expected an instruction, found '{first.Text}'");
            switch (first.Text)
            {
                case "return":
                    Next();
                    return ReturnOperand(p);
                case "goto":
                    Next();
                    p.Code = BPF_JMP | BPF_JA;
                    return Label(out p.True, out p.TruePos);
                case "if":
                    Next();
                    return Condition(p);
                case "raw":
                    Next();
                    if (!Expect("(") || !Num(0xffff, "opcode", out uint code) || !Expect(",") || !Num(255, "jt", out uint jt)
                        || !Expect(",") || !Num(255, "jf", out uint jf) || !Expect(",") || !Num(uint.MaxValue, "k", out uint k) || !Expect(")"))
                        return false;
                    p.Raw = true;
                    (p.Code, p.RawJt, p.RawJf, p.K) = ((ushort)code, (byte)jt, (byte)jf, k);
                    return true;
                case "mem":
                {
                    if (!MemIndex(out uint idx) || !Expect("="))
                        return false;
                    var src = Next();
                    ushort? store = src.Text switch
                    {
                        "A" => BPF_ST,
                        "X" => BPF_STX,
                        _ => null,
                    };
                    if (store is null)
                        return Fail(src.Col, $"expected A or X to store, found '{src.Text}'");
                    (p.Code, p.K) = (store.Value, idx);
                    return true;
                }
                case "A":
                    Next();
                    return AccumulatorStatement(p);
                case "X":
                    Next();
                    if (!Expect("="))
                        return false;
                    var r = Peek;
                    if (r.Text == "len") { Next(); p.Code = BPF_LDX | BPF_W | BPF_LEN; }
                    else if (r.Text == "A") { Next(); p.Code = BPF_MISC | BPF_TAX; }
                    else if (r.Text == "mem") { p.Code = BPF_LDX | BPF_MEM; return MemIndex(out p.K); }
                    else { p.Code = BPF_LDX | BPF_IMM; return SignedNum("a value for X", out p.K); }
                    return true;
                default:
                    var known = new[] { "return", "goto", "if", "raw", "mem", "A", "X" };
                    var close = Suggest.Closest(first.Text, known);
                    return Fail(first.Col, $"unknown instruction '{first.Text}'{(close is null ? "" : $"; did you mean '{close}'?")}");
            }
        }

        private bool AccumulatorStatement(Pending p)
        {
            var op = Next();
            if (op.Kind != T.Punct)
                return Fail(op.Col, $"expected '=' or an operator like '+=' after A, found '{op.Text}'");
            if (op.Text != "=")
            {
                ushort? alu = op.Text switch
                {
                    "+=" => BPF_ADD, "-=" => BPF_SUB, "*=" => BPF_MUL, "/=" => BPF_DIV, "%=" => BPF_MOD,
                    "&=" => BPF_AND, "|=" => BPF_OR, "^=" => BPF_XOR, "<<=" => BPF_LSH, ">>=" => BPF_RSH,
                    _ => null,
                };
                if (alu is null)
                    return Fail(op.Col, $"unknown operator '{op.Text}'; expected one of = += -= *= /= %= &= |= ^= <<= >>=");
                if (Peek.Text == "X")
                {
                    Next();
                    p.Code = (ushort)(BPF_ALU | alu.Value | BPF_X);
                    return true;
                }
                p.Code = (ushort)(BPF_ALU | alu.Value | BPF_K);
                return SignedNum("an operand", out p.K);
            }
            var r = Peek;
            bool high;
            switch (r.Text)
            {
                case "sys_number" or "nr": Next(); Load(p, SeccompData.NrOffset); return true;
                case "arch": Next(); Load(p, SeccompData.ArchOffset); return true;
                case "instruction_pointer" or "ip":
                    Next();
                    if (!HighHalf(out high))
                        return false;
                    LoadHalf(p, SeccompData.InstructionPointerOffset, high);
                    return true;
                case "args":
                {
                    Next();
                    if (!Expect("[") || !Num(5, "argument index (0..5)", out uint i) || !Expect("]") || !HighHalf(out high))
                        return false;
                    LoadHalf(p, SeccompData.ArgsOffset + 8 * i, high);
                    return true;
                }
                case "data":
                {
                    Next();
                    if (!Expect("[") || !Num(uint.MaxValue, "offset", out uint off) || !Expect("]"))
                        return false;
                    Load(p, off);
                    return true;
                }
                case "len": Next(); p.Code = BPF_LD | BPF_W | BPF_LEN; return true;
                case "mem": p.Code = BPF_LD | BPF_MEM; return MemIndex(out p.K);
                case "X": Next(); p.Code = BPF_MISC | BPF_TXA; return true;
                case "-" when PeekAt(1).Text == "A": Next(); Next(); p.Code = BPF_ALU | BPF_NEG; return true;
                default:
                    p.Code = BPF_LD | BPF_IMM;
                    return SignedNum("a value, sys_number, arch, args[i], mem[i], len or X", out p.K);
            }
        }

        private static void Load(Pending p, uint offset)
        {
            p.Code = BPF_LD | BPF_W | BPF_ABS;
            p.K = offset;
        }

        /// <summary>A load of one half of the 64-bit field at <paramref name="field"/>; which word that is waits for the byte order.</summary>
        private static void LoadHalf(Pending p, uint field, bool high)
        {
            Load(p, SeccompData.WordOffset(field, high, bigEndian: false));
            (p.Field, p.High) = (field, high);
        }

        /// <summary>An optional <c>&gt;&gt; 32</c> after a 64-bit field: <paramref name="high"/> says whether it was there.</summary>
        private bool HighHalf(out bool high)
        {
            high = false;
            if (Peek.Text != ">>")
                return true;
            Next();
            var n = Next();
            if (n.Kind != T.Number || n.Value != 32)
                return Fail(n.Col, "only '>> 32' (the high half) can follow a 64-bit field");
            high = true;
            return true;
        }

        private bool MemIndex(out uint index)
        {
            index = 0;
            return Expect("mem") && Expect("[") && Num(uint.MaxValue, "scratch index", out index) && Expect("]");
        }

        private bool ReturnOperand(Pending p)
        {
            var t = Peek;
            if (t.Text == "A")
            {
                Next();
                p.Code = BPF_RET | BPF_A;
                return true;
            }
            p.Code = BPF_RET | BPF_K;
            if (t.Kind == T.Number)
            {
                p.K = Next().Value;
                return true;
            }
            if (t.Kind != T.Ident)
                return Fail(t.Col, $"expected an action after 'return', found '{t.Text}'");
            // Collect NAME or NAME(arg) and parse it as an action.
            Next();
            string s = t.Text;
            if (Peek.Text == "(")
            {
                Next();
                var arg = Next();
                if (!Expect(")"))
                    return false;
                s += "(" + arg.Text + ")";
            }
            if (!SeccompAction.TryParse(s, out var action, Errno.Number))
            {
                var close = Suggest.Closest(t.Text.ToUpperInvariant(), ["ALLOW", "KILL_PROCESS", "KILL_THREAD", "KILL", "TRAP", "ERRNO", "USER_NOTIF", "TRACE", "LOG"]);
                return Fail(t.Col, $"unknown action '{s}'{(close is null ? "" : $"; did you mean '{close}'?")}");
            }
            p.K = action.Value;
            return true;
        }

        private bool Condition(Pending p)
        {
            bool negatedSet = false;
            if (Peek.Text == "!")
            {
                Next();
                negatedSet = true;
            }
            if (!Expect("("))
                return false;
            var a = Next();
            if (a.Text != "A")
                return Fail(a.Col, $"conditions compare A, found '{a.Text}'");
            var op = Next();
            (ushort Op, bool Negate)? comparison = op.Text switch
            {
                "==" => (BPF_JEQ, false),
                "!=" => (BPF_JEQ, true),
                ">" => (BPF_JGT, false),
                "<=" => (BPF_JGT, true),
                ">=" => (BPF_JGE, false),
                "<" => (BPF_JGE, true),
                "&" => (BPF_JSET, false),
                _ => null,
            };
            if (comparison is not (var jop, var negate))
                return Fail(op.Col, $"unknown comparison '{op.Text}'; expected == != > >= < <= or &");
            if (negatedSet && jop != BPF_JSET)
                return Fail(op.Col, "'!(...)' is only for bit tests: write if !(A & K)");
            negate |= negatedSet;
            var v = Peek;
            if (v.Text == "X")
            {
                Next();
                p.Code = (ushort)(BPF_JMP | jop | BPF_X);
            }
            else
            {
                p.Code = (ushort)(BPF_JMP | jop | BPF_K);
                if (v.Kind == T.Ident)
                {
                    Next();
                    if (Architecture.TryParse(v.Text, out var arch) && v.Text.StartsWith("AUDIT_ARCH_", StringComparison.Ordinal))
                        p.K = arch.AuditArch;
                    else
                        (p.Name, p.NamePos) = (v.Text, Pos(v.Col));
                }
                else if (!SignedNum("a value to compare with", out p.K))
                    return false;
            }
            if (!Expect(")") || !Expect("goto") || !Label(out string l1, out var l1Pos))
                return false;
            if (Peek.Text == "else")
            {
                Next();
                if (!Expect("goto") || !Label(out string l2, out var l2Pos))
                    return false;
                if (negate)
                    return Fail(op.Col, "write 'if ... goto L1 else goto L2' with the positive condition");
                (p.True, p.TruePos, p.False, p.FalsePos) = (l1, l1Pos, l2, l2Pos);
            }
            else if (negate)
                (p.False, p.FalsePos) = (l1, l1Pos);
            else
                (p.True, p.TruePos) = (l1, l1Pos);
            return true;
        }

        private bool Label(out string label, out SourcePosition pos)
        {
            var t = Next();
            (label, pos) = (t.Text, Pos(t.Col));
            return t.Kind == T.Ident || Fail(t.Col, $"expected a label, found '{t.Text}'");
        }

        private bool SignedNum(string what, out uint value)
        {
            value = 0;
            bool neg = false;
            var t = Peek;
            if (t.Text == "-")
            {
                Next();
                neg = true;
            }
            var n = Next();
            if (n.Kind != T.Number)
                return Fail(n.Col, n.Kind == T.End ? $"expected {what} at the end of the line" : $"expected {what}, found '{n.Text}'");
            value = neg ? unchecked(0u - n.Value) : n.Value;
            return true;
        }

        private bool Num(uint max, string what, out uint value)
        {
            value = 0;
            var n = Next();
            if (n.Kind != T.Number)
                return Fail(n.Col, $"expected {what}, found '{(n.Kind == T.End ? "end of line" : n.Text)}'");
            if (n.Value > max)
                return Fail(n.Col, $"{what} {n.Text} is out of range (at most {max})");
            value = n.Value;
            return true;
        }

        private bool Expect(string text)
        {
            var t = Next();
            return t.Text == text
                || Fail(t.Col, t.Kind == T.End ? $"expected '{text}' at the end of the line" : $"expected '{text}', found '{t.Text}'");
        }

        private Token Peek => _toks[_i];
        private Token PeekAt(int d) => _toks[Math.Min(_i + d, _toks.Count - 1)];
        private Token Next() => _toks[_i < _toks.Count - 1 ? _i++ : _i];

        private SourcePosition Pos(int col) => new(file, _line, col);

        /// <summary>Records an error at column <paramref name="col"/> of the current line; false.</summary>
        private bool Fail(int col, string message) => Fail(Pos(col), message);

        private bool Fail(SourcePosition pos, string message) => _errors.Fail(new AssemblyError(pos, message));

        private static readonly string[] Puncts = [">>=", "<<=", "==", "!=", ">=", "<=", ">>", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "=", ">", "<", "&", "!", "(", ")", "[", "]", ",", ":", "-"];

        private bool Tokenize(string line, out List<Token> toks)
        {
            toks = [];
            int i = 0;
            while (i < line.Length)
            {
                char c = line[i];
                if (char.IsWhiteSpace(c)) { i++; continue; }
                if (c == '#' || (c == '/' && i + 1 < line.Length && line[i + 1] == '/'))
                    break;
                int start = i;
                if (char.IsAsciiLetter(c) || c == '_')
                {
                    while (i < line.Length && (char.IsAsciiLetterOrDigit(line[i]) || line[i] is '_' or '.'))
                        i++;
                    toks.Add(new Token(T.Ident, line[start..i], 0, start + 1));
                    continue;
                }
                if (char.IsAsciiDigit(c))
                {
                    while (i < line.Length && (char.IsAsciiLetterOrDigit(line[i]) || line[i] == '_'))
                        i++;
                    string s = line[start..i];
                    if (!SeccompAction.TryParseNumber(s, out uint v))
                        return Fail(start + 1, $"bad number '{s}' (decimal or 0x hex, at most 32 bits)");
                    toks.Add(new Token(T.Number, s, v, start + 1));
                    continue;
                }
                string? p = Puncts.FirstOrDefault(x => string.CompareOrdinal(line, i, x, 0, x.Length) == 0);
                if (p is null)
                    return Fail(start + 1, $"unexpected character '{c}'");
                toks.Add(new Token(T.Punct, p, 0, start + 1));
                i += p.Length;
            }
            toks.Add(new Token(T.End, "", 0, line.Length + 1));
            return true;
        }
    }
}
