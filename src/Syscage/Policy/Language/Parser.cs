using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Syscage.Bpf;
using Syscage.Abi;

namespace Syscage.Policy.Language;

/// <summary>
/// A syscall named in a rule or group: by name, or by number (<see cref="Number"/> set); <see cref="Group"/> is the
/// group the rule named it through (null when named itself).
/// </summary>
internal sealed record SyscallItem(string Name, int? Number, string? Group = null);

/// <summary>A group as defined: its members (groups already expanded) and where.</summary>
internal sealed record GroupDefinition(string Name, IReadOnlyList<SyscallItem> Members, PolicySource Source);

/// <summary>Reads the text of an included file: (display name, full path for cycle detection, text), or an error message.</summary>
internal delegate bool IncludeReader(string includingFile, string path, out string displayName, out string key, out string text, out string error);

/// <summary>
/// Parses policy text and lowers it, statement by statement, into a <see cref="PolicyBuilder"/>. One instance reads
/// one policy with all its includes. Try-first: a step that meets an error records it (<see cref="Fail(Token, string)"/>)
/// and returns false, and so does every step above it, so reading stops at the first error.
/// </summary>
internal sealed class Parser
{
    private static readonly string[] Keywords = ["default", "bad-arch", "newer-syscalls", "arch", "include", "group"];
    private static readonly string[] ActionNames = ["ALLOW", "KILL_PROCESS", "KILL_THREAD", "KILL", "TRAP", "ERRNO", "TRACE", "LOG", "NOTIFY", "USER_NOTIF", "EBPF"];

    private readonly FirstError<PolicyError> _errors = new();
    private readonly IncludeReader _reader;
    private readonly IReadOnlyList<Architecture>? _forcedArches;
    private readonly bool _groupsOnly;
    private readonly Dictionary<string, GroupDefinition> _groups;
    private readonly HashSet<string> _included = new(StringComparer.Ordinal);
    private readonly List<string> _includeStack = [];

    private (SeccompAction Action, PolicySource At)? _default, _badArch, _newer;
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

    /// <summary>Reads the main file and its includes and makes the policy; on failure <paramref name="error"/> is the first error.</summary>
    public bool TryParsePolicy(string text, string fileName, string key,
        [NotNullWhen(true)] out SeccompPolicy? policy, [NotNullWhen(false)] out PolicyError? error)
    {
        policy = null;
        if (!ReadFile(text, fileName, key))
            return _errors.Outcome(false, out error);
        if (_default is null)
            return _errors.Outcome(Fail(new PolicyError(fileName, 1, 1, "the policy has no default action: add a line such as 'default ERRNO(EPERM)'")), out error);
        var builder = Builder();
        builder.DefaultAction = _default.Value.Action;
        if (_badArch is { } b)
            builder.BadArchAction = b.Action;
        if (_newer is { } n)
            builder.PastNewestKnown(n.Action, n.At);
        builder.Name = fileName;
        policy = builder.Build();
        error = null;
        return true;
    }

    /// <summary>Reads a file of group definitions only; on failure <paramref name="error"/> is the first error.</summary>
    public bool TryParseGroups(string text, string fileName, [NotNullWhen(false)] out PolicyError? error) =>
        _errors.Outcome(ReadFile(text, fileName, fileName), out error);

    private bool ReadFile(string text, string fileName, string key)
    {
        var saved = (_file, _text, _tokens, _i);
        _file = fileName;
        _text = text;
        _included.Add(key);
        _includeStack.Add(key);
        if (!new Lexer(text, fileName, _errors).Run(out _tokens))
            return false;
        _i = 0;
        if (!Statements(inBlock: false))
            return false;
        _includeStack.RemoveAt(_includeStack.Count - 1);
        (_file, _text, _tokens, _i) = saved;
        return true;
    }

    /// <summary>
    /// Evaluates a constant expression on its own (<c>O_WRONLY | O_CREAT</c>); errors name <paramref name="source"/>.
    /// On failure <paramref name="error"/> is the first error.
    /// </summary>
    internal bool TryEvaluateConstant(string text, string source, out ulong value, [NotNullWhen(false)] out PolicyError? error)
    {
        _file = source;
        _text = text;
        value = 0;
        return _errors.Outcome(new Lexer(text, source, _errors).Run(out _tokens) && Constant(out value), out error);
    }

    /// <summary>A whole text that is one constant expression (and nothing after it but line ends).</summary>
    private bool Constant(out ulong value)
    {
        _i = 0;
        if (!ConstExpr(out value))
            return false;
        while (Peek().Kind == TokenKind.Newline)
            _i++;
        return Peek().Kind == TokenKind.End || Fail(Peek(), $"unexpected {Peek().Describe()} after the constant");
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

    private bool Expect(string punct, string what)
    {
        var t = Peek();
        if (!t.Is(punct))
            return Fail(t, $"expected '{punct}' {what} but found {t.Describe()}");
        _i++;
        return true;
    }

    /// <summary>Records an error at <paramref name="at"/> in the file being read; false.</summary>
    private bool Fail(Token at, string message) => Fail(at.Line, at.Column, message);

    private bool Fail(int line, int column, string message) => Fail(new PolicyError(_file, line, column, message));

    private bool Fail(PolicyError error) => _errors.Fail(error);

    /// <summary>Enters one level of a nested condition or constant at <paramref name="at"/>; <see cref="Leave"/> ends it.</summary>
    private bool Enter(Token at) =>
        ++_nesting <= InputLimits.MaxNesting
        || Fail(at, $"nested too deeply: more than {InputLimits.MaxNesting} levels of parentheses and unary operators");

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

    private bool EndOfStatement()
    {
        var t = Peek();
        if (t.Kind is TokenKind.Newline or TokenKind.End || t.Is("}"))
        {
            if (t.Kind == TokenKind.Newline)
                _i++;
            return true;
        }
        if (t.Is(";"))
        {
            _i++;
            return true;
        }
        return Fail(t, $"unexpected {t.Describe()}: expected the end of the statement");
    }

    // ---- statements ----

    private bool Statements(bool inBlock)
    {
        while (true)
        {
            while (Peek().Kind == TokenKind.Newline || Peek().Is(";"))
                _i++;
            var t = Peek();
            if (t.Kind == TokenKind.End)
                return !inBlock || Fail(t, "a '{' is not closed: expected '}' before the end of the file");
            if (t.Is("}"))
                return inBlock || Fail(t, "'}' closes nothing");
            if (!Statement())
                return false;
        }
    }

    private bool Statement()
    {
        var first = Peek();
        if (first.Kind != TokenKind.Ident)
            return Fail(first, $"expected an action (ALLOW, ERRNO(EPERM), ...) or a keyword (default, bad-arch, newer-syscalls, arch, include, group) but found {first.Describe()}");
        string word = first.Text.ToLowerInvariant();
        if (_groupsOnly && word != "group")
            return Fail(first, "this file may only define groups");
        switch (word)
        {
            case "default":
                _i++;
                return Action(out var action, out RuleRoute? h1) && SetOnce(ref _default, first, "default action", action)
                    && NoHandler(first, h1) && EndOfStatement();
            case "bad-arch" or "badarch" or "bad_arch":
                _i++;
                return Action(out var badArch, out RuleRoute? h2) && SetOnce(ref _badArch, first, "bad-arch action", badArch)
                    && NoHandler(first, h2) && EndOfStatement();
            case "newer-syscalls" or "newer_syscalls":
            {
                _i++;
                int start = _i;
                if (!Action(out var newer, out RuleRoute? h3) || !SetOnce(ref _newer, first, "newer-syscalls action", newer) || !NoHandler(first, h3))
                    return false;
                // Keep the line for explanations: "by newer-syscalls ERRNO(ENOSYS) at default.policy:17".
                _newer = (newer, Source(first) with { Text = first.Text + " " + TextOf(start, _i) });
                return EndOfStatement();
            }
            case "arch":
                return ArchStatement(first);
            case "include":
                return IncludeStatement(first);
            case "group":
                return GroupStatement(first);
            default:
                return RuleStatement(first);
        }
    }

    private bool NoHandler(Token at, RuleRoute? route) =>
        route is null || Fail(at, at.Text.StartsWith("newer", StringComparison.OrdinalIgnoreCase)
            ? "a handler name only makes sense on a rule, not on the newer-syscalls action"
            : "a handler name only makes sense on a rule, not on the default or bad-arch action");

    private bool SetOnce(ref (SeccompAction, PolicySource)? slot, Token at, string what, SeccompAction action)
    {
        if (_section is not null)
            return Fail(at, $"the {what} cannot be set inside an 'arch' section");
        if (slot is { } previous)
            return Fail(at, $"the {what} is already set at {previous.Item2}");
        slot = (action, Source(at));
        return true;
    }

    private bool ArchStatement(Token keyword)
    {
        _i++;
        var arches = new List<Architecture>();
        do
        {
            var t = Take();
            if (t.Kind != TokenKind.Ident || !Architecture.TryParse(t.Text, out var arch))
            {
                var known = new[] { "x86_64", "x86", "x32", "aarch64", "arm", "riscv64" };
                return Fail(t, t.Kind == TokenKind.Ident
                    ? $"unknown architecture '{t.Text}'{Hint(Suggest.Closest(t.Text, known, 1))} (known: {string.Join(", ", known)})"
                    : $"expected an architecture name but found {t.Describe()}");
            }
            if (!arches.Contains(arch))
                arches.Add(arch);
        } while (Accept(","));

        if (Peek().Is("{"))
        {
            if (_section is not null)
                return Fail(keyword, "'arch' sections do not nest");
            _i++;
            _section = arches;
            if (!Statements(inBlock: true) || !Expect("}", "to close the 'arch' section"))
                return false;
            _section = null;
            return EndOfStatement();
        }
        if (_section is not null)
            return Fail(keyword, "the covered architectures cannot be set inside an 'arch' section");
        if (_arches is { } previous)
            return Fail(keyword, $"the architectures are already set at {previous.At}");
        if (_firstRule is not null)
            return Fail(keyword, $"'arch' must come before the first rule (at {_firstRule})");
        _arches = (arches, Source(keyword));
        return EndOfStatement();
    }

    private bool IncludeStatement(Token keyword)
    {
        _i++;
        if (_section is not null)
            return Fail(keyword, "'include' cannot be used inside an 'arch' section");
        var path = Take();
        if (path.Kind != TokenKind.String)
            return Fail(path, $"expected a file name in quotes after 'include' but found {path.Describe()}");
        if (!EndOfStatement())
            return false;
        if (_includeStack.Count >= InputLimits.MaxIncludeDepth)
            return Fail(path, $"includes nest too deeply: more than {InputLimits.MaxIncludeDepth} files, each including the next");
        if (!_reader(_file, path.Text, out string display, out string key, out string text, out string error))
            return Fail(path, error);
        if (_includeStack.Contains(key))
        {
            int from = _includeStack.IndexOf(key);
            return Fail(path, $"include cycle: {string.Join(" -> ", _includeStack.Skip(from).Select(Path.GetFileName))} -> {Path.GetFileName(key)}");
        }
        if (_included.Contains(key))
            return true; // Read once, like #pragma once: a file included twice adds its rules and groups once.
        return ReadFile(text, display, key);
    }

    private bool GroupStatement(Token keyword)
    {
        _i++;
        var name = Take();
        if (name.Kind != TokenKind.Group)
            return Fail(name, $"expected a group name such as '@mine' after 'group' but found {name.Describe()}");
        if (_groups.TryGetValue(name.Text, out var existing))
            return Fail(name, $"group {name.Text} is already defined at {existing.Source}");
        if (!Expect("=", $"after the group name {name.Text}") || !Items(out var members) || !EndOfStatement())
            return false;
        _groups[name.Text] = new GroupDefinition(name.Text, members, Source(name));
        return true;
    }

    private bool RuleStatement(Token first)
    {
        int start = _i;
        if (!Action(out var action, out RuleRoute? route))
            return false;
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
                    return Fail(Peek(), "a '{' is not closed: expected '}' before the end of the file");
                int lineStart = _i;
                var lineFirst = Peek();
                if (!RuleBody(action, route, lineFirst, lineStart, actionText + " "))
                    return false;
                if (!Peek().Is("}") && !EndOfStatement())
                    return false;
            }
            _i++;
            return EndOfStatement();
        }
        return RuleBody(action, route, first, start, "") && EndOfStatement();
    }

    private bool RuleBody(SeccompAction action, RuleRoute? route, Token at, int textStart, string textPrefix)
    {
        if (!Items(out var items))
            return false;
        CondNode? condition = null;
        if (Peek().Kind == TokenKind.Ident && Peek().Text == "if")
        {
            _i++;
            if (!Or(out condition))
                return false;
        }
        var source = new PolicySource(_file, at.Line, at.Column, textPrefix + TextOf(textStart, _i));
        return Lower(items, condition, action, route, source);
    }

    // ---- actions ----

    private bool Action(out SeccompAction action, out RuleRoute? route)
    {
        action = SeccompAction.Allow;
        route = null;
        var t = Take();
        if (t.Kind != TokenKind.Ident)
            return Fail(t, $"expected an action (ALLOW, KILL_PROCESS, ERRNO(EPERM), ...) but found {t.Describe()}");
        string name = t.Text.ToUpperInvariant();
        if (Array.IndexOf(ActionNames, name) < 0)
        {
            var close = Suggest.Closest(t.Text, ActionNames.Concat(Keywords), 1);
            return Fail(t, $"unknown action or keyword '{t.Text}'{Hint(close)} (actions: ALLOW, KILL_PROCESS, KILL_THREAD, TRAP(n), ERRNO(n), TRACE(n), LOG, NOTIFY, EBPF(program))");
        }
        Token? arg = null;
        if (Peek().Is("("))
        {
            _i++;
            arg = Take();
            if (!Expect(")", $"to close {name}("))
                return false;
        }
        ushort data;
        switch (name)
        {
            case "ALLOW": action = SeccompAction.Allow; return NoArg(name, arg);
            case "KILL_PROCESS": action = SeccompAction.KillProcess; return NoArg(name, arg);
            case "KILL_THREAD" or "KILL": action = SeccompAction.KillThread; return NoArg(name, arg);
            case "LOG": action = SeccompAction.Log; return NoArg(name, arg);
            case "NOTIFY" or "USER_NOTIF":
                if (arg is { } h)
                {
                    if (h.Kind is not (TokenKind.Ident or TokenKind.String))
                        return Fail(h, $"expected a handler name in {name}(...) but found {h.Describe()}");
                    route = RuleRoute.Notify(h.Text);
                }
                action = SeccompAction.UserNotif;
                return true;
            case "EBPF":
                // EBPF(name): the call goes to user space, where the eBPF program called name decides it.
                if (arg is not { } p || p.Kind is not (TokenKind.Ident or TokenKind.String) || p.Text.Length == 0)
                    return Fail(arg ?? t, arg is null ? "EBPF needs a program name: EBPF(name)" : $"expected a program name in EBPF(...) but found {arg.Value.Describe()}");
                route = RuleRoute.Program(p.Text);
                action = SeccompAction.UserNotif;
                return true;
            case "TRAP":
                if (!Data(name, arg, 0xffff, out data))
                    return false;
                action = SeccompAction.Trap(data);
                return true;
            case "TRACE":
                if (!Data(name, arg, 0xffff, out data))
                    return false;
                action = SeccompAction.Trace(data);
                return true;
            default:
                if (arg is null)
                    return Fail(t, "ERRNO needs an errno: ERRNO(EPERM) or ERRNO(1)");
                if (arg.Value.Kind == TokenKind.Ident)
                {
                    if (Errno.Number(arg.Value.Text) is int e)
                    {
                        action = SeccompAction.Errno((ushort)e);
                        return true;
                    }
                    var close = Suggest.Closest(arg.Value.Text, Errno.All.Select(x => x.Name), 1);
                    return Fail(arg.Value, $"unknown errno '{arg.Value.Text}'{Hint(close)}");
                }
                if (!Data(name, arg, SeccompAction.MAX_ERRNO, out data))
                    return false;
                action = SeccompAction.Errno(data);
                return true;
        }
    }

    private bool NoArg(string name, Token? arg) => arg is not { } a || Fail(a, $"{name} takes no value");

    private bool Data(string name, Token? arg, int max, out ushort value)
    {
        value = 0;
        if (arg is not { } a)
            return true;
        if (a.Kind != TokenKind.Number)
            return Fail(a, $"expected a number in {name}(...) but found {a.Describe()}");
        if (a.Value > (ulong)max)
            return Fail(a, string.Create(CultureInfo.InvariantCulture, $"{name}({a.Text}) is out of range: at most {max}"));
        value = (ushort)a.Value;
        return true;
    }

    // ---- syscall lists ----

    /// <summary>
    /// A list of syscalls, each once, in first-mention order: groups are expanded, so without the check a group of
    /// a group of a group, each doubling, grows as 2^depth (forty lines asked for 24 GB).
    /// </summary>
    private bool Items(out List<SyscallItem> items)
    {
        var list = items = [];
        var seen = new HashSet<(string, int?)>();
        void Add(SyscallItem item)
        {
            if (seen.Add((item.Name, item.Number)))
                list.Add(item);
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
                        return Fail(t, $"unknown syscall '{t.Text}'{Hint(close)}");
                    }
                    Add(new SyscallItem(t.Text, null));
                    break;
                case TokenKind.Number:
                    if (t.Value > 0xffff_ffff || (int)(uint)t.Value < 0)
                        return Fail(t, $"syscall number {t.Text} is out of range");
                    Add(new SyscallItem(t.Text, (int)t.Value));
                    break;
                case TokenKind.Group:
                    if (!_groups.TryGetValue(t.Text, out var group))
                        return Fail(t, $"unknown group '{t.Text}'{Hint(Suggest.Closest(t.Text, _groups.Keys, 1))}");
                    foreach (var member in group.Members)
                        Add(member with { Group = t.Text });
                    break;
                default:
                    return Fail(t, $"expected a syscall name, number or @group but found {t.Describe()}");
            }
        } while (Accept(","));
        return true;
    }

    internal static readonly Lazy<string[]> AllSyscallNames =
        new(() => Architecture.All.SelectMany(a => a.Syscalls.All.Select(s => s.Name)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray());

    // ---- conditions ----

    /// <summary>A step that reads one part of a condition.</summary>
    private delegate bool ConditionStep([NotNullWhen(true)] out CondNode? node);

    private bool Or([NotNullWhen(true)] out CondNode? node) =>
        Chain("||", And, (items, at) => new OrNode(items, at.Line, at.Column), out node);

    private bool And([NotNullWhen(true)] out CondNode? node) =>
        Chain("&&", Unary, (items, at) => new AndNode(items, at.Line, at.Column), out node);

    /// <summary>Operands read by <paramref name="operand"/> separated by <paramref name="op"/>; more than one are joined.</summary>
    private bool Chain(string op, ConditionStep operand, Func<List<CondNode>, Token, CondNode> join, [NotNullWhen(true)] out CondNode? node)
    {
        var first = Peek();
        node = null;
        if (!operand(out var item))
            return false;
        var items = new List<CondNode> { item };
        while (Accept(op))
        {
            if (!operand(out item))
                return false;
            items.Add(item);
        }
        node = items.Count == 1 ? items[0] : join(items, first);
        return true;
    }

    private bool Unary([NotNullWhen(true)] out CondNode? node)
    {
        node = null;
        var t = Peek();
        if (Accept("!"))
        {
            if (Peek().Kind == TokenKind.Ident && Peek(1).Is("&"))
                return Fail(Peek(), $"write '!({Peek().Text} & ...)': in C, '!' applies to '{Peek().Text}' alone");
            if (!Enter(t) || !Unary(out var inner))
                return false;
            node = new NotNode(inner, t.Line, t.Column);
            Leave();
            return true;
        }
        if (t.Is("(") && !(Peek(1).Kind == TokenKind.Ident && (Peek(2).Is("&") || Peek(2).Is(")"))))
        {
            _i++;
            if (!Enter(t) || !Or(out node) || !Expect(")", "to close the condition's '('"))
                return false;
            Leave();
            return true;
        }
        if (!Test(out var test))
            return false;
        node = test;
        return true;
    }

    private bool Test([NotNullWhen(true)] out TestNode? node)
    {
        node = null;
        var start = Peek();
        ArgRef? arg;
        ulong? mask = null;
        At maskAt = default;
        ulong m;
        if (Accept("("))
        {
            if (!Argument(out arg))
                return false;
            if (Accept("&"))
            {
                maskAt = new At(Peek().Line, Peek().Column);
                if (!ConstExpr(out m))
                    return false;
                mask = m;
            }
            if (!Expect(")", "to close the argument's '('"))
                return false;
        }
        else
        {
            if (!Argument(out arg))
                return false;
            if (Accept("&"))
            {
                maskAt = new At(Peek().Line, Peek().Column);
                if (!ConstExpr(out m))
                    return false;
                mask = m;
                if (Peek().Kind == TokenKind.Punct && Peek().Text is "==" or "!=" or "<" or "<=" or ">" or ">=")
                    return Fail(Peek(), $"write '({arg.Name} & ...) {Peek().Text} ...': in C, '{Peek().Text}' binds tighter than '&'");
            }
        }
        var op = Peek();
        if (op.Kind == TokenKind.Punct && op.Text is "==" or "!=" or "<" or "<=" or ">" or ">=")
        {
            _i++;
            if (mask is not null && op.Text is not ("==" or "!="))
                return Fail(op, $"a masked argument can only be compared with == or !=, not {op.Text}");
            var valueAt = new At(Peek().Line, Peek().Column);
            if (!ConstExpr(out ulong value))
                return false;
            if (mask is { } bits && (value & ~bits) != 0)
                return Fail(op, string.Create(CultureInfo.InvariantCulture,
                    $"the comparison {(op.Text == "==" ? "never holds" : "always holds")}: 0x{value:x} has bits outside the mask 0x{bits:x}"));
            node = new TestNode(arg, mask, op.Text, value, op.Line, op.Column, start.Line, start.Column, maskAt, valueAt);
            return true;
        }
        if (op.Is("="))
            return Fail(op, "'=' is not a comparison: write '=='");
        if (op.Is("&&") || op.Is("||") || op.Is(")") || op.Kind is TokenKind.Newline or TokenKind.End || op.Is(";") || op.Is("}"))
        {
            if (mask == 0)
                return Fail(start, "'& 0' has no bit to test: the condition never holds");
            node = new TestNode(arg, mask, null, 0, op.Line, op.Column, start.Line, start.Column, maskAt);
            return true;
        }
        return Fail(op, $"expected a comparison (== != < <= > >=), '&&', '||' or the end of the condition but found {op.Describe()}");
    }

    private bool Argument([NotNullWhen(true)] out ArgRef? arg)
    {
        arg = null;
        var t = Take();
        if (t.Kind == TokenKind.Ident)
        {
            if (t.Text.Length == 4 && t.Text.StartsWith("arg", StringComparison.Ordinal) && t.Text[3] is >= '0' and <= '5')
                arg = new ArgRef(t.Text, t.Text[3] - '0', t.Line, t.Column);
            else if (KernelConstants.TryGetValue(t.Text, out _))
                return Fail(t, $"'{t.Text}' is a constant: a comparison starts with an argument, e.g. 'flags == {t.Text}'");
            else
                arg = new ArgRef(t.Text, null, t.Line, t.Column);
            return true;
        }
        if (t.Kind == TokenKind.Number)
            return Fail(t, $"a comparison starts with an argument (a name such as 'flags', or arg0..arg5), not {t.Describe()}");
        return Fail(t, $"expected an argument (a name such as 'flags', or arg0..arg5) but found {t.Describe()}");
    }

    // Constant expressions: | lowest, then << >>, then + -, then unary ~ - and parentheses (C's order for these).
    private bool ConstExpr(out ulong v)
    {
        if (!ConstShift(out v))
            return false;
        while (Peek().Is("|"))
        {
            _i++;
            if (!ConstShift(out ulong r))
                return false;
            v |= r;
        }
        return true;
    }

    private bool ConstShift(out ulong v)
    {
        if (!ConstAdd(out v))
            return false;
        while (Peek().Is("<<") || Peek().Is(">>"))
        {
            var op = Take();
            if (!ConstAdd(out ulong n))
                return false;
            if (n > 63)
                return Fail(op, string.Create(CultureInfo.InvariantCulture, $"shift by {n}: at most 63"));
            v = op.Text == "<<" ? v << (int)n : v >> (int)n;
        }
        return true;
    }

    private bool ConstAdd(out ulong v)
    {
        if (!ConstUnary(out v))
            return false;
        while (Peek().Is("+") || Peek().Is("-"))
        {
            var op = Take();
            if (!ConstUnary(out ulong r))
                return false;
            v = unchecked(op.Text == "+" ? v + r : v - r);
        }
        return true;
    }

    private bool ConstUnary(out ulong v)
    {
        v = 0;
        var t = Take();
        if (t.Is("~") || t.Is("-") || t.Is("("))
        {
            if (!Enter(t) || !(t.Is("(") ? ConstExpr(out v) && Expect(")", "to close the constant's '('") : ConstUnary(out v)))
                return false;
            if (t.Is("~"))
                v = ~v;
            else if (t.Is("-"))
                v = unchecked(0 - v);
            Leave();
            return true;
        }
        if (t.Kind == TokenKind.Number)
        {
            v = t.Value;
            return true;
        }
        if (t.Kind == TokenKind.Ident)
        {
            if (KernelConstants.TryGetValue(t.Text, out v))
                return true;
            var close = KernelConstants.SuggestNames(t.Text, 1);
            return Fail(t, $"unknown constant '{t.Text}'{Hint(close)}");
        }
        return Fail(t, $"expected a constant (a number or a name such as O_RDONLY) but found {t.Describe()}");
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

    private bool Lower(List<SyscallItem> items, CondNode? condition, SeccompAction action, RuleRoute? route, PolicySource source)
    {
        var builder = Builder();
        // A condition is resolved once per placement of the arguments it names and width of every argument it tests,
        // and shared: per syscall, a long condition on a long list of syscalls was a copy for each (a 1 MiB policy took
        // 5 GB). The widths belong in the key: the same argument is 16 bits in i386's setuid and 32 in setuid32.
        var named = condition is null ? [] : NamedArguments(condition);
        var positional = condition is null ? [] : PositionalArguments(condition);
        var resolved = new Dictionary<string, Condition>(StringComparer.Ordinal);
        var indices = new List<int>(named.Count);
        foreach (var arch in builder.Architectures)
        {
            if (_section is not null && !_section.Contains(arch))
                continue;
            var done = new HashSet<int>();
            var doneMultiplexed = new HashSet<MultiplexedCall>();
            foreach (var item in items)
            {
                Syscall? syscall = null;
                MultiplexedCall? multiplexed = null;
                int nr;
                if (item.Number is int n)
                {
                    nr = n | (int)arch.SyscallNumberBit;
                    arch.Syscalls.TryGet(nr, out syscall);
                }
                else if (arch.Syscalls.TryGet(item.Name, out syscall))
                    nr = syscall.Number;
                else if (arch.TryGetMultiplexed(item.Name, out multiplexed))
                {
                    // Only through socketcall(2)/ipc(2) here (accept on x86): a rule on the multiplexer alone.
                    if (!doneMultiplexed.Add(multiplexed))
                        continue;
                    syscall = multiplexed.On(arch);
                    nr = syscall!.Number;
                }
                else
                    continue; // Not on this architecture: skipped there, as libseccomp does.
                if (multiplexed is null && !done.Add(nr))
                    continue;
                if (multiplexed is null && !builder.Has(arch, nr) && builder.SyscallCount(arch) >= InputLimits.MaxSyscallsPerArchitecture)
                    return Fail(source.Line, source.Column,
                        $"rules for more than {InputLimits.MaxSyscallsPerArchitecture} different syscalls on {arch.Name}, whose table has {arch.Syscalls.Count}");
                var cond = Condition.True;
                if (condition is not null)
                {
                    indices.Clear();
                    foreach (var a in named)
                    {
                        if (!ArgIndex(a, arch, syscall, item, out int index))
                            return false;
                        indices.Add(index);
                    }
                    string placement = string.Join(',', indices) + "|" +
                                       string.Join(',', indices.Concat(positional).Select(i => syscall?.ArgWidth(i) ?? 64));
                    if (!resolved.TryGetValue(placement, out cond))
                    {
                        if (!Resolve(condition, arch, syscall, item, out cond))
                            return false;
                        resolved[placement] = cond;
                    }
                }
                var rule = new Rule(cond, action, source, route) { Group = item.Group };
                if (multiplexed is not null)
                    builder.AddMultiplexed(arch, multiplexed, rule);
                else
                    builder.Add(arch, nr, rule);
            }
        }
        return true;
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

    private bool Resolve(CondNode node, Architecture arch, Syscall? syscall, SyscallItem item, [NotNullWhen(true)] out Condition? result)
    {
        result = null;
        switch (node)
        {
            case AndNode a:
                if (!ResolveAll(a.Items, arch, syscall, item, out var all))
                    return false;
                result = Condition.All(all);
                return true;
            case OrNode o:
                if (!ResolveAll(o.Items, arch, syscall, item, out var any))
                    return false;
                result = Condition.Any(any);
                return true;
            case NotNode n:
            {
                if (!Resolve(n.Inner, arch, syscall, item, out var inner))
                    return false;
                result = inner switch
                {
                    Condition.Predicate { Value: var p } when p.Negated() is { } neg => Condition.Of(neg),
                    Condition.NotOf { Inner: var x } => x,
                    _ => Condition.Not(inner),
                };
                return true;
            }
            default:
            {
                var t = (TestNode)node;
                if (!ArgIndex(t.Arg, arch, syscall, item, out int index))
                    return false;
                ArgPredicate? p;
                if (t.Mask is ulong mask)
                {
                    if (t.Op is null)
                    {
                        if (!AtWidth(syscall, arch, index, ComparisonOp.MaskedEq, 0, mask, t.MaskAt, out p))
                            return false;
                        result = Condition.Not(Condition.Of(p));
                        return true;
                    }
                    if (!AtWidth(syscall, arch, index, ComparisonOp.MaskedEq, t.Value, mask, t.MaskAt, out p))
                        return false;
                    var eq = Condition.Of(p);
                    result = t.Op == "==" ? eq : Condition.Not(eq);
                    return true;
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
                if (!AtWidth(syscall, arch, index, op, t.Op is null ? 0 : t.Value, ulong.MaxValue, t.ValueAt, out p))
                    return false;
                result = Condition.Of(p);
                return true;
            }
        }
    }

    /// <summary>Resolves each of <paramref name="nodes"/>, in order, stopping at the first error.</summary>
    private bool ResolveAll(IReadOnlyList<CondNode> nodes, Architecture arch, Syscall? syscall, SyscallItem item, out Condition[] resolved)
    {
        resolved = new Condition[nodes.Count];
        for (int k = 0; k < nodes.Count; k++)
        {
            if (!Resolve(nodes[k], arch, syscall, item, out var c))
                return false;
            resolved[k] = c;
        }
        return true;
    }

    /// <summary>
    /// The comparison at the width the kernel reads the argument (<see cref="ArgPredicate.ForArgument"/>); a constant
    /// that does not fit that width is an error at <paramref name="at"/>, where it is written.
    /// </summary>
    private bool AtWidth(Syscall? syscall, Architecture arch, int index, ComparisonOp op, ulong value, ulong mask, At at,
        [NotNullWhen(true)] out ArgPredicate? predicate)
    {
        predicate = ArgPredicate.ForArgument(syscall, index, op, value, mask, out string? misfit);
        return misfit is null || Fail(at.Line, at.Column, $"{misfit} (on {arch.Name})");
    }

    private bool ArgIndex(ArgRef arg, Architecture arch, Syscall? syscall, SyscallItem item, out int index)
    {
        index = arg.Index ?? -1;
        if (arg.Index is not null)
            return true;
        if (syscall is null)
            return Fail(arg.Line, arg.Column, $"syscall {item.Name} has no known argument names on {arch.Name}: name the argument by position (arg0..arg5)");
        index = syscall.IndexOfArg(arg.Name);
        if (index >= 0)
            return true;
        // Where the name exists: among the architectures the policy covers if it exists on some, else anywhere.
        bool Has(Architecture a) => a.Syscalls.TryGet(syscall.Name, out var s) && s.IndexOfArg(arg.Name) >= 0;
        var covered = _forcedArches ?? _arches?.Arches ?? PolicyBuilder.DefaultArchitectures;
        var elsewhere = (covered.Any(Has) ? covered : Architecture.All).Where(Has).Select(a => a.Name).ToList();
        string there = syscall.ArgNames.Count > 0 ? $"its arguments there: {string.Join(", ", syscall.ArgNames)}" : "no argument names are known there";
        if (elsewhere.Count > 0)
            return Fail(arg.Line, arg.Column,
                $"{syscall.Name} has no argument '{arg.Name}' on {arch.Name} ({there}); name it by position (arg0..arg5) or put the rule in an 'arch {string.Join(", ", elsewhere)} {{ ... }}' section");
        var names = Architecture.All.SelectMany(a => a.Syscalls.TryGet(syscall.Name, out var s) ? s.ArgNames : []).Distinct().ToList();
        return Fail(arg.Line, arg.Column, $"{syscall.Name} has no argument '{arg.Name}'{Hint(Suggest.Closest(arg.Name, names, 1))} ({there}; or arg0..arg5)");
    }
}
