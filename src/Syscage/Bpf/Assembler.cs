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
        try
        {
            result = new Parser(text, fileName, defaultArchitecture ?? Architecture.Native).Run();
            error = null;
            return true;
        }
        catch (AsmException e)
        {
            result = null;
            error = e.Error;
            return false;
        }
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

    private sealed class AsmException(AssemblyError error) : Exception(error.Message)
    {
        public AssemblyError Error { get; } = error;
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

    private sealed class Parser(string text, string file, Architecture defaultArch)
    {
        private readonly List<Pending> _insns = [];
        private readonly Dictionary<string, (int Pc, SourcePosition Pos)> _labels = new(StringComparer.Ordinal);
        private List<Token> _toks = [];
        private int _i;
        private int _line;

        public AssemblyResult Run()
        {
            var lines = text.Split('\n');
            for (int ln = 0; ln < lines.Length; ln++)
            {
                _line = ln + 1;
                _toks = Tokenize(lines[ln].TrimEnd('\r'));
                _i = 0;
                // Any number of "label:" prefixes.
                while (Peek.Kind == T.Ident && PeekAt(1) is { Kind: T.Punct, Text: ":" })
                {
                    var t = Next();
                    Next();
                    if (_labels.TryGetValue(t.Text, out var prev))
                        Fail(t.Col, $"label '{t.Text}' is already defined at {prev.Pos}");
                    _labels[t.Text] = (_insns.Count, Pos(t.Col));
                }
                if (Peek.Kind == T.End)
                    continue;
                _insns.Add(Statement());
                if (Peek.Kind != T.End)
                    Fail(Peek.Col, $"unexpected '{Peek.Text}' after the instruction");
            }
            foreach (var (name, (pc, pos)) in _labels)
                if (pc >= _insns.Count)
                    throw new AsmException(new AssemblyError(pos, $"label '{name}' marks no instruction (it is at the end of the program)"));
            if (_insns.Count == 0)
                throw new AsmException(new AssemblyError(new SourcePosition(file, 1, 1), "empty program: no instructions"));

            var insns = new Instruction[_insns.Count];
            for (int pc = 0; pc < insns.Length; pc++)
                insns[pc] = Encode(pc, _insns[pc]);
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
                    throw new AsmException(new AssemblyError(p.NamePos, $"'{p.Name}' compared with arch: use an AUDIT_ARCH_* name or a number"));
                if (!f.Architecture.TryParseSyscall(p.Name, out int nr))
                    throw new AsmException(new AssemblyError(p.NamePos, UnknownName(p.Name, f.Architecture)));
                insns[pc] = insns[pc] with { K = (uint)nr };
            }
            return new AssemblyResult(insns, _insns.Select(p => p.Pos).ToArray());
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

        private Instruction Encode(int pc, Pending p)
        {
            if (p.Raw)
                return new Instruction(p.Code, p.RawJt, p.RawJf, p.K);
            if (p.Code == (BPF_JMP | BPF_JA))
                return new Instruction(p.Code, 0, 0, (uint)Distance(pc, p.True!, p.TruePos, long.MaxValue));
            if (IsConditionalJump(p.Code))
            {
                byte jt = p.True is null ? (byte)0 : (byte)Distance(pc, p.True, p.TruePos, 255);
                byte jf = p.False is null ? (byte)0 : (byte)Distance(pc, p.False, p.FalsePos, 255);
                return new Instruction(p.Code, jt, jf, p.K);
            }
            return new Instruction(p.Code, 0, 0, p.K);
        }

        private long Distance(int pc, string label, SourcePosition pos, long max)
        {
            if (!_labels.TryGetValue(label, out var target))
            {
                var close = Suggest.Closest(label, _labels.Keys);
                throw new AsmException(new AssemblyError(pos, $"undefined label '{label}'{(close is null ? "" : $"; did you mean '{close}'?")}"));
            }
            long d = target.Pc - pc - 1L;
            if (d < 0)
                throw new AsmException(new AssemblyError(pos, $"jump to '{label}' goes backward (from pc {pc} to pc {target.Pc}); classic BPF jumps only forward"));
            if (d > max)
                throw new AsmException(new AssemblyError(pos, $"jump out of range: '{label}' is {d} instructions ahead of pc {pc}, a conditional jump reaches at most 255; jump to a 'goto' placed within reach"));
            return d;
        }

        private Pending Statement()
        {
            var first = Peek;
            var p = new Pending { Pos = Pos(first.Col) };
            if (first.Kind != T.Ident)
                Fail(first.Col, $"expected an instruction, found '{first.Text}'");
            switch (first.Text)
            {
                case "return":
                    Next();
                    ReturnOperand(p);
                    return p;
                case "goto":
                    Next();
                    p.Code = BPF_JMP | BPF_JA;
                    (p.True, p.TruePos) = Label();
                    return p;
                case "if":
                    Next();
                    Condition(p);
                    return p;
                case "raw":
                    Next();
                    Expect("(");
                    uint code = Num(0xffff, "opcode");
                    Expect(",");
                    uint jt = Num(255, "jt");
                    Expect(",");
                    uint jf = Num(255, "jf");
                    Expect(",");
                    uint k = Num(uint.MaxValue, "k");
                    Expect(")");
                    p.Raw = true;
                    (p.Code, p.RawJt, p.RawJf, p.K) = ((ushort)code, (byte)jt, (byte)jf, k);
                    return p;
                case "mem":
                {
                    uint idx = MemIndex();
                    Expect("=");
                    var src = Next();
                    p.Code = src.Text switch
                    {
                        "A" => BPF_ST,
                        "X" => BPF_STX,
                        _ => Fail<ushort>(src.Col, $"expected A or X to store, found '{src.Text}'"),
                    };
                    p.K = idx;
                    return p;
                }
                case "A":
                    Next();
                    return AccumulatorStatement(p);
                case "X":
                    Next();
                    Expect("=");
                    var r = Peek;
                    if (r.Text == "len") { Next(); p.Code = BPF_LDX | BPF_W | BPF_LEN; }
                    else if (r.Text == "A") { Next(); p.Code = BPF_MISC | BPF_TAX; }
                    else if (r.Text == "mem") { p.Code = BPF_LDX | BPF_MEM; p.K = MemIndex(); }
                    else { p.Code = BPF_LDX | BPF_IMM; p.K = SignedNum("a value for X"); }
                    return p;
                default:
                    var known = new[] { "return", "goto", "if", "raw", "mem", "A", "X" };
                    var close = Suggest.Closest(first.Text, known);
                    Fail(first.Col, $"unknown instruction '{first.Text}'{(close is null ? "" : $"; did you mean '{close}'?")}");
                    return p;
            }
        }

        private Pending AccumulatorStatement(Pending p)
        {
            var op = Next();
            if (op.Kind != T.Punct)
                Fail(op.Col, $"expected '=' or an operator like '+=' after A, found '{op.Text}'");
            if (op.Text != "=")
            {
                ushort alu = op.Text switch
                {
                    "+=" => BPF_ADD, "-=" => BPF_SUB, "*=" => BPF_MUL, "/=" => BPF_DIV, "%=" => BPF_MOD,
                    "&=" => BPF_AND, "|=" => BPF_OR, "^=" => BPF_XOR, "<<=" => BPF_LSH, ">>=" => BPF_RSH,
                    _ => Fail<ushort>(op.Col, $"unknown operator '{op.Text}'; expected one of = += -= *= /= %= &= |= ^= <<= >>="),
                };
                if (Peek.Text == "X")
                {
                    Next();
                    p.Code = (ushort)(BPF_ALU | alu | BPF_X);
                }
                else
                {
                    p.Code = (ushort)(BPF_ALU | alu | BPF_K);
                    p.K = SignedNum("an operand");
                }
                return p;
            }
            var r = Peek;
            switch (r.Text)
            {
                case "sys_number" or "nr": Next(); Load(p, SeccompData.NrOffset); return p;
                case "arch": Next(); Load(p, SeccompData.ArchOffset); return p;
                case "instruction_pointer" or "ip":
                    Next();
                    LoadHalf(p, SeccompData.InstructionPointerOffset, HighHalf());
                    return p;
                case "args":
                {
                    Next();
                    Expect("[");
                    uint i = Num(5, "argument index (0..5)");
                    Expect("]");
                    LoadHalf(p, SeccompData.ArgsOffset + 8 * i, HighHalf());
                    return p;
                }
                case "data":
                {
                    Next();
                    Expect("[");
                    uint off = Num(uint.MaxValue, "offset");
                    Expect("]");
                    Load(p, off);
                    return p;
                }
                case "len": Next(); p.Code = BPF_LD | BPF_W | BPF_LEN; return p;
                case "mem": p.Code = BPF_LD | BPF_MEM; p.K = MemIndex(); return p;
                case "X": Next(); p.Code = BPF_MISC | BPF_TXA; return p;
                case "-" when PeekAt(1).Text == "A": Next(); Next(); p.Code = BPF_ALU | BPF_NEG; return p;
                default:
                    p.Code = BPF_LD | BPF_IMM;
                    p.K = SignedNum("a value, sys_number, arch, args[i], mem[i], len or X");
                    return p;
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

        private bool HighHalf()
        {
            if (Peek.Text != ">>")
                return false;
            Next();
            var n = Next();
            if (n.Kind != T.Number || n.Value != 32)
                Fail(n.Col, "only '>> 32' (the high half) can follow a 64-bit field");
            return true;
        }

        private uint MemIndex()
        {
            Expect("mem");
            Expect("[");
            uint i = Num(uint.MaxValue, "scratch index");
            Expect("]");
            return i;
        }

        private void ReturnOperand(Pending p)
        {
            var t = Peek;
            if (t.Text == "A")
            {
                Next();
                p.Code = BPF_RET | BPF_A;
                return;
            }
            p.Code = BPF_RET | BPF_K;
            if (t.Kind == T.Number)
            {
                p.K = Next().Value;
                return;
            }
            if (t.Kind != T.Ident)
                Fail(t.Col, $"expected an action after 'return', found '{t.Text}'");
            // Collect NAME or NAME(arg) and parse it as an action.
            Next();
            string s = t.Text;
            if (Peek.Text == "(")
            {
                Next();
                var arg = Next();
                Expect(")");
                s += "(" + arg.Text + ")";
            }
            if (!SeccompAction.TryParse(s, out var action, Errno.Number))
            {
                var close = Suggest.Closest(t.Text.ToUpperInvariant(), ["ALLOW", "KILL_PROCESS", "KILL_THREAD", "KILL", "TRAP", "ERRNO", "USER_NOTIF", "TRACE", "LOG"]);
                Fail(t.Col, $"unknown action '{s}'{(close is null ? "" : $"; did you mean '{close}'?")}");
            }
            p.K = action.Value;
        }

        private void Condition(Pending p)
        {
            bool negatedSet = false;
            if (Peek.Text == "!")
            {
                Next();
                negatedSet = true;
            }
            Expect("(");
            var a = Next();
            if (a.Text != "A")
                Fail(a.Col, $"conditions compare A, found '{a.Text}'");
            var op = Next();
            (ushort jop, bool negate) = op.Text switch
            {
                "==" => (BPF_JEQ, false),
                "!=" => (BPF_JEQ, true),
                ">" => (BPF_JGT, false),
                "<=" => (BPF_JGT, true),
                ">=" => (BPF_JGE, false),
                "<" => (BPF_JGE, true),
                "&" => (BPF_JSET, false),
                _ => Fail<(ushort, bool)>(op.Col, $"unknown comparison '{op.Text}'; expected == != > >= < <= or &"),
            };
            if (negatedSet && jop != BPF_JSET)
                Fail(op.Col, "'!(...)' is only for bit tests: write if !(A & K)");
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
                else
                    p.K = SignedNum("a value to compare with");
            }
            Expect(")");
            Expect("goto");
            var (l1, l1Pos) = Label();
            if (Peek.Text == "else")
            {
                Next();
                Expect("goto");
                var (l2, l2Pos) = Label();
                if (negate)
                    Fail(op.Col, "write 'if ... goto L1 else goto L2' with the positive condition");
                (p.True, p.TruePos, p.False, p.FalsePos) = (l1, l1Pos, l2, l2Pos);
            }
            else if (negate)
                (p.False, p.FalsePos) = (l1, l1Pos);
            else
                (p.True, p.TruePos) = (l1, l1Pos);
        }

        private (string, SourcePosition) Label()
        {
            var t = Next();
            if (t.Kind != T.Ident)
                Fail(t.Col, $"expected a label, found '{t.Text}'");
            return (t.Text, Pos(t.Col));
        }

        private uint SignedNum(string what)
        {
            bool neg = false;
            var t = Peek;
            if (t.Text == "-")
            {
                Next();
                neg = true;
            }
            var n = Next();
            if (n.Kind != T.Number)
                Fail(n.Col, n.Kind == T.End ? $"expected {what} at the end of the line" : $"expected {what}, found '{n.Text}'");
            return neg ? unchecked(0u - n.Value) : n.Value;
        }

        private uint Num(uint max, string what)
        {
            var n = Next();
            if (n.Kind != T.Number)
                Fail(n.Col, $"expected {what}, found '{(n.Kind == T.End ? "end of line" : n.Text)}'");
            if (n.Value > max)
                Fail(n.Col, $"{what} {n.Text} is out of range (at most {max})");
            return n.Value;
        }

        private void Expect(string text)
        {
            var t = Next();
            if (t.Text != text)
                Fail(t.Col, t.Kind == T.End ? $"expected '{text}' at the end of the line" : $"expected '{text}', found '{t.Text}'");
        }

        private Token Peek => _toks[_i];
        private Token PeekAt(int d) => _toks[Math.Min(_i + d, _toks.Count - 1)];
        private Token Next() => _toks[_i < _toks.Count - 1 ? _i++ : _i];

        private SourcePosition Pos(int col) => new(file, _line, col);

        [DoesNotReturn]
        private void Fail(int col, string message) => throw new AsmException(new AssemblyError(Pos(col), message));

        [DoesNotReturn]
        private TResult Fail<TResult>(int col, string message) => throw new AsmException(new AssemblyError(Pos(col), message));

        private static readonly string[] Puncts = [">>=", "<<=", "==", "!=", ">=", "<=", ">>", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "=", ">", "<", "&", "!", "(", ")", "[", "]", ",", ":", "-"];

        private List<Token> Tokenize(string line)
        {
            var toks = new List<Token>();
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
                        Fail(start + 1, $"bad number '{s}' (decimal or 0x hex, at most 32 bits)");
                    toks.Add(new Token(T.Number, s, v, start + 1));
                    continue;
                }
                string? p = Puncts.FirstOrDefault(x => string.CompareOrdinal(line, i, x, 0, x.Length) == 0);
                if (p is null)
                    Fail(start + 1, $"unexpected character '{c}'");
                toks.Add(new Token(T.Punct, p, 0, start + 1));
                i += p.Length;
            }
            toks.Add(new Token(T.End, "", 0, line.Length + 1));
            return toks;
        }
    }
}
