using System.Globalization;
using Syscage.Bpf;
using Syscage.Abi;

namespace Syscage.Policy.Language;

/// <summary>A syscall named in a rule or group: by name, or by number (<see cref="Number"/> set).</summary>
internal sealed record SyscallItem(string Name, int? Number);

/// <summary>A group as defined: its members (groups already expanded) and where.</summary>
internal sealed record GroupDefinition(string Name, IReadOnlyList<SyscallItem> Members, PolicySource Source);

/// <summary>Raised inside the parser; carries the first error.</summary>
internal sealed class PolicySyntaxException(PolicyError error) : Exception(error.Message)
{
    public PolicyError Error { get; } = error;
}

/// <summary>Reads the text of an included file: (display name, full path for cycle detection, text), or an error message.</summary>
internal delegate bool IncludeReader(string includingFile, string path, out string displayName, out string key, out string text, out string error);

/// <summary>
/// Parses policy text and lowers it, statement by statement, into a <see cref="PolicyBuilder"/>. One instance reads
/// one policy with all its includes.
/// </summary>
internal sealed class Parser
{
    private static readonly string[] Keywords = ["default", "bad-arch", "arch", "include", "group"];
    private static readonly string[] ActionNames = ["ALLOW", "KILL_PROCESS", "KILL_THREAD", "KILL", "TRAP", "ERRNO", "TRACE", "LOG", "NOTIFY", "USER_NOTIF", "EBPF"];

    private readonly IncludeReader _reader;
    private readonly IReadOnlyList<Architecture>? _forcedArches;
    private readonly bool _groupsOnly;
    private readonly Dictionary<string, GroupDefinition> _groups;
    private readonly HashSet<string> _included = new(StringComparer.Ordinal);
    private readonly List<string> _includeStack = [];

    private (SeccompAction Action, PolicySource At)? _default, _badArch;
    private (List<Architecture> Arches, PolicySource At)? _arches;
    private PolicyBuilder? _builder;
    private PolicySource? _firstRule;

    // Per file being read.
    private string _file = "";
    private string _text = "";
    private List<Token> _tokens = [];
    private int _i;
    private IReadOnlyList<Architecture>? _section;
    // Levels of '(' '!' '~' '-' open in the condition or constant being read (InputLimits.MaxNesting bounds the recursion).
    private int _nesting;

    public Parser(IncludeReader reader, IReadOnlyList<Architecture>? forcedArches, IReadOnlyDictionary<string, GroupDefinition> groups, bool groupsOnly = false)
    {
        _reader = reader;
        _forcedArches = forcedArches;
        _groups = new Dictionary<string, GroupDefinition>(groups, StringComparer.Ordinal);
        _groupsOnly = groupsOnly;
    }

    public IReadOnlyDictionary<string, GroupDefinition> Groups => _groups;

    /// <summary>Reads the main file and its includes; makes the policy.</summary>
    public SeccompPolicy ParsePolicy(string text, string fileName, string key)
    {
        ReadFile(text, fileName, key);
        if (_default is null)
            throw new PolicySyntaxException(new PolicyError(fileName, 1, 1, "the policy has no default action: add a line such as 'default ERRNO(EPERM)'"));
        var builder = Builder();
        builder.DefaultAction = _default.Value.Action;
        if (_badArch is { } b)
            builder.BadArchAction = b.Action;
        builder.Name = fileName;
        return builder.Build();
    }

    /// <summary>Reads a file of group definitions only.</summary>
    public void ParseGroups(string text, string fileName) => ReadFile(text, fileName, fileName);

    private void ReadFile(string text, string fileName, string key)
    {
        var saved = (_file, _text, _tokens, _i);
        _file = fileName;
        _text = text;
        _included.Add(key);
        _includeStack.Add(key);
        _tokens = new Lexer(text, (line, col, msg) => new PolicySyntaxException(new PolicyError(fileName, line, col, msg))).Run();
        _i = 0;
        Statements(inBlock: false);
        _includeStack.RemoveAt(_includeStack.Count - 1);
        (_file, _text, _tokens, _i) = saved;
    }

    /// <summary>Evaluates a constant expression on its own (<c>O_WRONLY | O_CREAT</c>); errors name <paramref name="source"/>.</summary>
    internal ulong EvaluateConstant(string text, string source)
    {
        _file = source;
        _text = text;
        _tokens = new Lexer(text, (line, col, msg) => new PolicySyntaxException(new PolicyError(source, line, col, msg))).Run();
        _i = 0;
        ulong value = ConstExpr();
        while (Peek().Kind == TokenKind.Newline)
            _i++;
        if (Peek().Kind != TokenKind.End)
            throw Fail(Peek(), $"unexpected {Peek().Describe()} after the constant");
        return value;
    }

    // ---- tokens ----

    private Token Peek(int ahead = 0) => _tokens[Math.Min(_i + ahead, _tokens.Count - 1)];

    private Token Take() => _tokens[Math.Min(_i++, _tokens.Count - 1)];

    private bool Accept(string punct)
    {
        if (Peek().Is(punct))
        {
            _i++;
            return true;
        }
        return false;
    }

    private Token Expect(string punct, string what)
    {
        var t = Peek();
        if (!t.Is(punct))
            throw Fail(t, $"expected '{punct}' {what} but found {t.Describe()}");
        return Take();
    }

    private PolicySyntaxException Fail(Token at, string message) => Fail(at.Line, at.Column, message);

    private PolicySyntaxException Fail(int line, int column, string message) => new(new PolicyError(_file, line, column, message));

    /// <summary>Enters one level of a nested condition or constant at <paramref name="at"/>; <see cref="Leave"/> ends it.</summary>
    private void Enter(Token at)
    {
        if (++_nesting > InputLimits.MaxNesting)
            throw Fail(at, $"nested too deeply: more than {InputLimits.MaxNesting} levels of parentheses and unary operators");
    }

    private void Leave() => _nesting--;

    private static string Hint(IReadOnlyList<string> close) => close.Count > 0 ? $"; did you mean '{close[0]}'?" : "";

    private PolicySource Source(Token at) => new(_file, at.Line, at.Column);

    private string TextOf(int fromToken, int toTokenExclusive)
    {
        if (toTokenExclusive <= fromToken)
            return "";
        int start = _tokens[fromToken].Start, stop = _tokens[toTokenExclusive - 1].Stop;
        string raw = _text[start..stop];
        return string.Join(' ', raw.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
    }

    private void EndOfStatement()
    {
        var t = Peek();
        if (t.Kind is TokenKind.Newline or TokenKind.End || t.Is("}"))
        {
            if (t.Kind == TokenKind.Newline)
                _i++;
            return;
        }
        if (t.Is(";"))
        {
            _i++;
            return;
        }
        throw Fail(t, $"unexpected {t.Describe()}: expected the end of the statement");
    }

    // ---- statements ----

    private void Statements(bool inBlock)
    {
        while (true)
        {
            while (Peek().Kind == TokenKind.Newline || Peek().Is(";"))
                _i++;
            var t = Peek();
            if (t.Kind == TokenKind.End)
            {
                if (inBlock)
                    throw Fail(t, "a '{' is not closed: expected '}' before the end of the file");
                return;
            }
            if (t.Is("}"))
            {
                if (!inBlock)
                    throw Fail(t, "'}' closes nothing");
                return;
            }
            Statement();
        }
    }

    private void Statement()
    {
        var first = Peek();
        if (first.Kind != TokenKind.Ident)
            throw Fail(first, $"expected an action (ALLOW, ERRNO(EPERM), ...) or a keyword (default, arch, include, group) but found {first.Describe()}");
        string word = first.Text.ToLowerInvariant();
        if (_groupsOnly && word != "group")
            throw Fail(first, "this file may only define groups");
        switch (word)
        {
            case "default":
                _i++;
                SetOnce(ref _default, first, "default action", Action(out RuleRoute? h1));
                NoHandler(first, h1);
                EndOfStatement();
                return;
            case "bad-arch" or "badarch" or "bad_arch":
                _i++;
                SetOnce(ref _badArch, first, "bad-arch action", Action(out RuleRoute? h2));
                NoHandler(first, h2);
                EndOfStatement();
                return;
            case "arch":
                ArchStatement(first);
                return;
            case "include":
                IncludeStatement(first);
                return;
            case "group":
                GroupStatement(first);
                return;
            default:
                RuleStatement(first);
                return;
        }
    }

    private void NoHandler(Token at, RuleRoute? route)
    {
        if (route is not null)
            throw Fail(at, "a handler name only makes sense on a rule, not on the default or bad-arch action");
    }

    private void SetOnce(ref (SeccompAction, PolicySource)? slot, Token at, string what, SeccompAction action)
    {
        if (_section is not null)
            throw Fail(at, $"the {what} cannot be set inside an 'arch' section");
        if (slot is { } previous)
            throw Fail(at, $"the {what} is already set at {previous.Item2}");
        slot = (action, Source(at));
    }

    private void ArchStatement(Token keyword)
    {
        _i++;
        var arches = new List<Architecture>();
        do
        {
            var t = Take();
            if (t.Kind != TokenKind.Ident || !Architecture.TryParse(t.Text, out var arch))
            {
                var known = new[] { "x86_64", "x86", "x32", "aarch64", "arm", "riscv64" };
                throw Fail(t, t.Kind == TokenKind.Ident
                    ? $"unknown architecture '{t.Text}'{Hint(Suggest.Closest(t.Text, known, 1))} (known: {string.Join(", ", known)})"
                    : $"expected an architecture name but found {t.Describe()}");
            }
            if (!arches.Contains(arch))
                arches.Add(arch);
        } while (Accept(","));

        if (Peek().Is("{"))
        {
            if (_section is not null)
                throw Fail(keyword, "'arch' sections do not nest");
            _i++;
            _section = arches;
            Statements(inBlock: true);
            Expect("}", "to close the 'arch' section");
            _section = null;
            EndOfStatement();
            return;
        }
        if (_section is not null)
            throw Fail(keyword, "the covered architectures cannot be set inside an 'arch' section");
        if (_arches is { } previous)
            throw Fail(keyword, $"the architectures are already set at {previous.At}");
        if (_firstRule is not null)
            throw Fail(keyword, $"'arch' must come before the first rule (at {_firstRule})");
        _arches = (arches, Source(keyword));
        EndOfStatement();
    }

    private void IncludeStatement(Token keyword)
    {
        _i++;
        if (_section is not null)
            throw Fail(keyword, "'include' cannot be used inside an 'arch' section");
        var path = Take();
        if (path.Kind != TokenKind.String)
            throw Fail(path, $"expected a file name in quotes after 'include' but found {path.Describe()}");
        EndOfStatement();
        if (_includeStack.Count >= InputLimits.MaxIncludeDepth)
            throw Fail(path, $"includes nest too deeply: more than {InputLimits.MaxIncludeDepth} files, each including the next");
        if (!_reader(_file, path.Text, out string display, out string key, out string text, out string error))
            throw Fail(path, error);
        if (_includeStack.Contains(key))
        {
            int from = _includeStack.IndexOf(key);
            throw Fail(path, $"include cycle: {string.Join(" -> ", _includeStack.Skip(from).Select(Path.GetFileName))} -> {Path.GetFileName(key)}");
        }
        if (_included.Contains(key))
            return; // Read once, like #pragma once: a file included twice adds its rules and groups once.
        ReadFile(text, display, key);
    }

    private void GroupStatement(Token keyword)
    {
        _i++;
        var name = Take();
        if (name.Kind != TokenKind.Group)
            throw Fail(name, $"expected a group name such as '@mine' after 'group' but found {name.Describe()}");
        if (_groups.TryGetValue(name.Text, out var existing))
            throw Fail(name, $"group {name.Text} is already defined at {existing.Source}");
        Expect("=", $"after the group name {name.Text}");
        var members = Items();
        EndOfStatement();
        _groups[name.Text] = new GroupDefinition(name.Text, members, Source(name));
    }

    private void RuleStatement(Token first)
    {
        int start = _i;
        var action = Action(out RuleRoute? route);
        string actionText = TextOf(start, _i);
        _firstRule ??= Source(first);
        if (Peek().Is("{"))
        {
            _i++;
            while (true)
            {
                while (Peek().Kind == TokenKind.Newline || Peek().Is(";"))
                    _i++;
                if (Peek().Is("}"))
                    break;
                if (Peek().Kind == TokenKind.End)
                    throw Fail(Peek(), "a '{' is not closed: expected '}' before the end of the file");
                int lineStart = _i;
                var lineFirst = Peek();
                RuleBody(action, route, lineFirst, lineStart, actionText + " ");
                if (!Peek().Is("}"))
                    EndOfStatement();
            }
            _i++;
            EndOfStatement();
            return;
        }
        RuleBody(action, route, first, start, "");
        EndOfStatement();
    }

    private void RuleBody(SeccompAction action, RuleRoute? route, Token at, int textStart, string textPrefix)
    {
        var items = Items();
        CondNode? condition = null;
        if (Peek().Kind == TokenKind.Ident && Peek().Text == "if")
        {
            _i++;
            condition = Or();
        }
        var source = new PolicySource(_file, at.Line, at.Column, textPrefix + TextOf(textStart, _i));
        Lower(items, condition, action, route, source);
    }

    // ---- actions ----

    private SeccompAction Action(out RuleRoute? route)
    {
        route = null;
        var t = Take();
        if (t.Kind != TokenKind.Ident)
            throw Fail(t, $"expected an action (ALLOW, KILL_PROCESS, ERRNO(EPERM), ...) but found {t.Describe()}");
        string name = t.Text.ToUpperInvariant();
        if (Array.IndexOf(ActionNames, name) < 0)
        {
            var close = Suggest.Closest(t.Text, ActionNames.Concat(Keywords), 1);
            throw Fail(t, $"unknown action or keyword '{t.Text}'{Hint(close)} (actions: ALLOW, KILL_PROCESS, KILL_THREAD, TRAP(n), ERRNO(n), TRACE(n), LOG, NOTIFY, EBPF(program))");
        }
        Token? arg = null;
        if (Peek().Is("("))
        {
            _i++;
            arg = Take();
            Expect(")", $"to close {name}(");
        }
        switch (name)
        {
            case "ALLOW": NoArg(name, arg); return SeccompAction.Allow;
            case "KILL_PROCESS": NoArg(name, arg); return SeccompAction.KillProcess;
            case "KILL_THREAD" or "KILL": NoArg(name, arg); return SeccompAction.KillThread;
            case "LOG": NoArg(name, arg); return SeccompAction.Log;
            case "NOTIFY" or "USER_NOTIF":
                if (arg is { } h)
                {
                    if (h.Kind is not (TokenKind.Ident or TokenKind.String))
                        throw Fail(h, $"expected a handler name in {name}(...) but found {h.Describe()}");
                    route = RuleRoute.Notify(h.Text);
                }
                return SeccompAction.UserNotif;
            case "EBPF":
                // EBPF(name): the call goes to user space, where the eBPF program called name decides it.
                if (arg is not { } p || p.Kind is not (TokenKind.Ident or TokenKind.String) || p.Text.Length == 0)
                    throw Fail(arg ?? t, arg is null ? "EBPF needs a program name: EBPF(name)" : $"expected a program name in EBPF(...) but found {arg.Value.Describe()}");
                route = RuleRoute.Program(p.Text);
                return SeccompAction.UserNotif;
            case "TRAP": return SeccompAction.Trap(Data(name, arg, 0xffff));
            case "TRACE": return SeccompAction.Trace(Data(name, arg, 0xffff));
            default:
                if (arg is null)
                    throw Fail(t, "ERRNO needs an errno: ERRNO(EPERM) or ERRNO(1)");
                if (arg.Value.Kind == TokenKind.Ident)
                {
                    if (Errno.Number(arg.Value.Text) is int e)
                        return SeccompAction.Errno((ushort)e);
                    var close = Suggest.Closest(arg.Value.Text, Errno.All.Select(x => x.Name), 1);
                    throw Fail(arg.Value, $"unknown errno '{arg.Value.Text}'{Hint(close)}");
                }
                return SeccompAction.Errno(Data(name, arg, SeccompAction.MAX_ERRNO));
        }
    }

    private void NoArg(string name, Token? arg)
    {
        if (arg is { } a)
            throw Fail(a, $"{name} takes no value");
    }

    private ushort Data(string name, Token? arg, int max)
    {
        if (arg is not { } a)
            return 0;
        if (a.Kind != TokenKind.Number)
            throw Fail(a, $"expected a number in {name}(...) but found {a.Describe()}");
        if (a.Value > (ulong)max)
            throw Fail(a, string.Create(CultureInfo.InvariantCulture, $"{name}({a.Text}) is out of range: at most {max}"));
        return (ushort)a.Value;
    }

    // ---- syscall lists ----

    /// <summary>
    /// A list of syscalls, each once, in first-mention order: groups are expanded, so without the check a group of
    /// a group of a group, each doubling, grows as 2^depth (forty lines asked for 24 GB).
    /// </summary>
    private List<SyscallItem> Items()
    {
        var items = new List<SyscallItem>();
        var seen = new HashSet<SyscallItem>();
        void Add(SyscallItem item)
        {
            if (seen.Add(item))
                items.Add(item);
        }
        do
        {
            var t = Take();
            switch (t.Kind)
            {
                case TokenKind.Ident:
                    if (!Architecture.All.Any(a => a.Syscalls.TryGet(t.Text, out _)))
                    {
                        var close = Suggest.Closest(t.Text, AllSyscallNames.Value, 1);
                        throw Fail(t, $"unknown syscall '{t.Text}'{Hint(close)}");
                    }
                    Add(new SyscallItem(t.Text, null));
                    break;
                case TokenKind.Number:
                    if (t.Value > 0xffff_ffff || (int)(uint)t.Value < 0)
                        throw Fail(t, $"syscall number {t.Text} is out of range");
                    Add(new SyscallItem(t.Text, (int)t.Value));
                    break;
                case TokenKind.Group:
                    if (!_groups.TryGetValue(t.Text, out var group))
                        throw Fail(t, $"unknown group '{t.Text}'{Hint(Suggest.Closest(t.Text, _groups.Keys, 1))}");
                    foreach (var member in group.Members)
                        Add(member);
                    break;
                default:
                    throw Fail(t, $"expected a syscall name, number or @group but found {t.Describe()}");
            }
        } while (Accept(","));
        return items;
    }

    internal static readonly Lazy<string[]> AllSyscallNames =
        new(() => Architecture.All.SelectMany(a => a.Syscalls.All.Select(s => s.Name)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray());

    // ---- conditions ----

    private CondNode Or()
    {
        var first = Peek();
        var items = new List<CondNode> { And() };
        while (Accept("||"))
            items.Add(And());
        return items.Count == 1 ? items[0] : new OrNode(items, first.Line, first.Column);
    }

    private CondNode And()
    {
        var first = Peek();
        var items = new List<CondNode> { Unary() };
        while (Accept("&&"))
            items.Add(Unary());
        return items.Count == 1 ? items[0] : new AndNode(items, first.Line, first.Column);
    }

    private CondNode Unary()
    {
        var t = Peek();
        if (Accept("!"))
        {
            if (Peek().Kind == TokenKind.Ident && Peek(1).Is("&"))
                throw Fail(Peek(), $"write '!({Peek().Text} & ...)': in C, '!' applies to '{Peek().Text}' alone");
            Enter(t);
            var negated = new NotNode(Unary(), t.Line, t.Column);
            Leave();
            return negated;
        }
        if (t.Is("(") && !(Peek(1).Kind == TokenKind.Ident && (Peek(2).Is("&") || Peek(2).Is(")"))))
        {
            _i++;
            Enter(t);
            var inner = Or();
            Expect(")", "to close the condition's '('");
            Leave();
            return inner;
        }
        return Test();
    }

    private TestNode Test()
    {
        var start = Peek();
        ArgRef arg;
        ulong? mask = null;
        At maskAt = default;
        if (Accept("("))
        {
            arg = Argument();
            if (Accept("&"))
            {
                maskAt = new At(Peek().Line, Peek().Column);
                mask = ConstExpr();
            }
            Expect(")", "to close the argument's '('");
        }
        else
        {
            arg = Argument();
            if (Accept("&"))
            {
                maskAt = new At(Peek().Line, Peek().Column);
                mask = ConstExpr();
                if (Peek().Kind == TokenKind.Punct && Peek().Text is "==" or "!=" or "<" or "<=" or ">" or ">=")
                    throw Fail(Peek(), $"write '({arg.Name} & ...) {Peek().Text} ...': in C, '{Peek().Text}' binds tighter than '&'");
            }
        }
        var op = Peek();
        if (op.Kind == TokenKind.Punct && op.Text is "==" or "!=" or "<" or "<=" or ">" or ">=")
        {
            _i++;
            if (mask is not null && op.Text is not ("==" or "!="))
                throw Fail(op, $"a masked argument can only be compared with == or !=, not {op.Text}");
            var valueAt = new At(Peek().Line, Peek().Column);
            ulong value = ConstExpr();
            if (mask is { } m && (value & ~m) != 0)
                throw Fail(op, string.Create(CultureInfo.InvariantCulture,
                    $"the comparison {(op.Text == "==" ? "never holds" : "always holds")}: 0x{value:x} has bits outside the mask 0x{m:x}"));
            return new TestNode(arg, mask, op.Text, value, op.Line, op.Column, start.Line, start.Column, maskAt, valueAt);
        }
        if (op.Is("="))
            throw Fail(op, "'=' is not a comparison: write '=='");
        if (op.Is("&&") || op.Is("||") || op.Is(")") || op.Kind is TokenKind.Newline or TokenKind.End || op.Is(";") || op.Is("}"))
        {
            if (mask == 0)
                throw Fail(start, "'& 0' has no bit to test: the condition never holds");
            return new TestNode(arg, mask, null, 0, op.Line, op.Column, start.Line, start.Column, maskAt);
        }
        throw Fail(op, $"expected a comparison (== != < <= > >=), '&&', '||' or the end of the condition but found {op.Describe()}");
    }

    private ArgRef Argument()
    {
        var t = Take();
        if (t.Kind == TokenKind.Ident)
        {
            if (t.Text.Length == 4 && t.Text.StartsWith("arg", StringComparison.Ordinal) && t.Text[3] is >= '0' and <= '5')
                return new ArgRef(t.Text, t.Text[3] - '0', t.Line, t.Column);
            if (KernelConstants.TryGetValue(t.Text, out _))
                throw Fail(t, $"'{t.Text}' is a constant: a comparison starts with an argument, e.g. 'flags == {t.Text}'");
            return new ArgRef(t.Text, null, t.Line, t.Column);
        }
        if (t.Kind == TokenKind.Number)
            throw Fail(t, $"a comparison starts with an argument (a name such as 'flags', or arg0..arg5), not {t.Describe()}");
        throw Fail(t, $"expected an argument (a name such as 'flags', or arg0..arg5) but found {t.Describe()}");
    }

    // Constant expressions: | lowest, then << >>, then + -, then unary ~ - and parentheses (C's order for these).
    private ulong ConstExpr()
    {
        ulong v = ConstShift();
        while (Peek().Is("|"))
        {
            _i++;
            v |= ConstShift();
        }
        return v;
    }

    private ulong ConstShift()
    {
        ulong v = ConstAdd();
        while (Peek().Is("<<") || Peek().Is(">>"))
        {
            var op = Take();
            ulong n = ConstAdd();
            if (n > 63)
                throw Fail(op, string.Create(CultureInfo.InvariantCulture, $"shift by {n}: at most 63"));
            v = op.Text == "<<" ? v << (int)n : v >> (int)n;
        }
        return v;
    }

    private ulong ConstAdd()
    {
        ulong v = ConstUnary();
        while (Peek().Is("+") || Peek().Is("-"))
        {
            var op = Take();
            ulong r = ConstUnary();
            v = unchecked(op.Text == "+" ? v + r : v - r);
        }
        return v;
    }

    private ulong ConstUnary()
    {
        var t = Take();
        if (t.Is("~") || t.Is("-") || t.Is("("))
        {
            Enter(t);
            ulong v = t.Text switch
            {
                "~" => ~ConstUnary(),
                "-" => unchecked(0 - ConstUnary()),
                _ => ConstExpr(),
            };
            if (t.Is("("))
                Expect(")", "to close the constant's '('");
            Leave();
            return v;
        }
        if (t.Kind == TokenKind.Number)
            return t.Value;
        if (t.Kind == TokenKind.Ident)
        {
            if (KernelConstants.TryGetValue(t.Text, out ulong value))
                return value;
            var close = KernelConstants.SuggestNames(t.Text, 1);
            throw Fail(t, $"unknown constant '{t.Text}'{Hint(close)}");
        }
        throw Fail(t, $"expected a constant (a number or a name such as O_RDONLY) but found {t.Describe()}");
    }

    // ---- lowering ----

    private PolicyBuilder Builder()
    {
        if (_builder is null)
        {
            var arches = _forcedArches ?? _arches?.Arches ?? PolicyBuilder.DefaultArchitectures;
            _builder = new PolicyBuilder(SeccompAction.KillProcess, arches);
        }
        return _builder;
    }

    private void Lower(List<SyscallItem> items, CondNode? condition, SeccompAction action, RuleRoute? route, PolicySource source)
    {
        var builder = Builder();
        // A condition is resolved once per placement of the arguments it names and width of every argument it tests,
        // and shared: per syscall, a long condition on a long list of syscalls was a copy for each (a 1 MiB policy took
        // 5 GB). The widths belong in the key: the same argument is 16 bits in i386's setuid and 32 in setuid32.
        var named = condition is null ? [] : NamedArguments(condition);
        var positional = condition is null ? [] : PositionalArguments(condition);
        var resolved = new Dictionary<string, Condition>(StringComparer.Ordinal);
        foreach (var arch in builder.Architectures)
        {
            if (_section is not null && !_section.Contains(arch))
                continue;
            var done = new HashSet<int>();
            foreach (var item in items)
            {
                Syscall? syscall = null;
                int nr;
                if (item.Number is int n)
                {
                    nr = n | (int)arch.SyscallNumberBit;
                    arch.Syscalls.TryGet(nr, out syscall);
                }
                else
                {
                    if (!arch.Syscalls.TryGet(item.Name, out syscall))
                        continue; // Not on this architecture: skipped there, as libseccomp does.
                    nr = syscall.Number;
                }
                if (!done.Add(nr))
                    continue;
                if (!builder.Has(arch, nr) && builder.SyscallCount(arch) >= InputLimits.MaxSyscallsPerArchitecture)
                    throw Fail(source.Line, source.Column,
                        $"rules for more than {InputLimits.MaxSyscallsPerArchitecture} different syscalls on {arch.Name}, whose table has {arch.Syscalls.Count}");
                var cond = Condition.True;
                if (condition is not null)
                {
                    var indices = named.Select(a => ArgIndex(a, arch, syscall, item)).ToList();
                    string placement = string.Join(',', indices) + "|" +
                                       string.Join(',', indices.Concat(positional).Select(i => syscall?.ArgWidth(i) ?? 64));
                    if (!resolved.TryGetValue(placement, out cond))
                        resolved[placement] = cond = Resolve(condition, arch, syscall, item);
                }
                builder.Add(arch, nr, new Rule(cond, action, source, route));
            }
        }
    }

    /// <summary>The arguments a condition names (not <c>argN</c>), each at its first mention, in the order they are written.</summary>
    private static List<ArgRef> NamedArguments(CondNode condition) =>
        [.. Tests(condition).Select(t => t.Arg).Where(a => a.Index is null).DistinctBy(a => a.Name)];

    /// <summary>The indices of the <c>argN</c> a condition tests, in ascending order.</summary>
    private static List<int> PositionalArguments(CondNode condition) =>
        [.. Tests(condition).Select(t => t.Arg.Index).OfType<int>().Distinct().Order()];

    /// <summary>Every test of a condition, in the order they are written.</summary>
    private static List<TestNode> Tests(CondNode condition)
    {
        var found = new List<TestNode>();
        void Walk(CondNode node)
        {
            switch (node)
            {
                case AndNode a:
                    foreach (var item in a.Items)
                        Walk(item);
                    break;
                case OrNode o:
                    foreach (var item in o.Items)
                        Walk(item);
                    break;
                case NotNode n:
                    Walk(n.Inner);
                    break;
                case TestNode t:
                    found.Add(t);
                    break;
            }
        }
        Walk(condition);
        return found;
    }

    private Condition Resolve(CondNode node, Architecture arch, Syscall? syscall, SyscallItem item)
    {
        switch (node)
        {
            case AndNode a:
                return Condition.All(a.Items.Select(i => Resolve(i, arch, syscall, item)).ToArray());
            case OrNode o:
                return Condition.Any(o.Items.Select(i => Resolve(i, arch, syscall, item)).ToArray());
            case NotNode n:
            {
                var inner = Resolve(n.Inner, arch, syscall, item);
                return inner switch
                {
                    Condition.Predicate { Value: var p } when p.Negated() is { } neg => Condition.Of(neg),
                    Condition.NotOf { Inner: var x } => x,
                    _ => Condition.Not(inner),
                };
            }
            default:
            {
                var t = (TestNode)node;
                int index = ArgIndex(t.Arg, arch, syscall, item);
                if (t.Mask is ulong mask)
                {
                    if (t.Op is null)
                        return Condition.Not(Condition.Of(AtWidth(syscall, arch, index, ComparisonOp.MaskedEq, 0, mask, t.MaskAt)));
                    var eq = Condition.Of(AtWidth(syscall, arch, index, ComparisonOp.MaskedEq, t.Value, mask, t.MaskAt));
                    return t.Op == "==" ? eq : Condition.Not(eq);
                }
                var op = t.Op switch
                {
                    null or "!=" => ComparisonOp.Ne,
                    "==" => ComparisonOp.Eq,
                    "<" => ComparisonOp.Lt,
                    "<=" => ComparisonOp.Le,
                    ">" => ComparisonOp.Gt,
                    _ => ComparisonOp.Ge,
                };
                return Condition.Of(AtWidth(syscall, arch, index, op, t.Op is null ? 0 : t.Value, ulong.MaxValue, t.ValueAt));
            }
        }
    }

    /// <summary>
    /// The comparison at the width the kernel reads the argument (<see cref="ArgPredicate.ForArgument"/>); a constant
    /// that does not fit that width is an error at <paramref name="at"/>, where it is written.
    /// </summary>
    private ArgPredicate AtWidth(Syscall? syscall, Architecture arch, int index, ComparisonOp op, ulong value, ulong mask, At at)
    {
        var p = ArgPredicate.ForArgument(syscall, index, op, value, mask, out string? misfit);
        if (misfit is not null)
            throw Fail(at.Line, at.Column, $"{misfit} (on {arch.Name})");
        return p;
    }

    private int ArgIndex(ArgRef arg, Architecture arch, Syscall? syscall, SyscallItem item)
    {
        if (arg.Index is int i)
            return i;
        if (syscall is null)
            throw Fail(arg.Line, arg.Column, $"syscall {item.Name} has no known argument names on {arch.Name}: name the argument by position (arg0..arg5)");
        int index = syscall.IndexOfArg(arg.Name);
        if (index >= 0)
            return index;
        // Where the name exists: among the architectures the policy covers if it exists on some, else anywhere.
        bool Has(Architecture a) => a.Syscalls.TryGet(syscall.Name, out var s) && s.IndexOfArg(arg.Name) >= 0;
        var covered = _forcedArches ?? _arches?.Arches ?? PolicyBuilder.DefaultArchitectures;
        var elsewhere = (covered.Any(Has) ? covered : Architecture.All).Where(Has).Select(a => a.Name).ToList();
        string there = syscall.ArgNames.Count > 0 ? $"its arguments there: {string.Join(", ", syscall.ArgNames)}" : "no argument names are known there";
        if (elsewhere.Count > 0)
            throw Fail(arg.Line, arg.Column,
                $"{syscall.Name} has no argument '{arg.Name}' on {arch.Name} ({there}); name it by position (arg0..arg5) or put the rule in an 'arch {string.Join(", ", elsewhere)} {{ ... }}' section");
        var names = Architecture.All.SelectMany(a => a.Syscalls.TryGet(syscall.Name, out var s) ? s.ArgNames : []).Distinct().ToList();
        throw Fail(arg.Line, arg.Column, $"{syscall.Name} has no argument '{arg.Name}'{Hint(Suggest.Closest(arg.Name, names, 1))} ({there}; or arg0..arg5)");
    }
}
