using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using Syscage.Abi;

namespace Syscage.Policy.Language;

/// <summary>What <see cref="PolicyWriter"/> adds to the rules: comments, and names for the values the rules compare.</summary>
public sealed class PolicyWriterOptions
{
    /// <summary>Comment lines written at the top (each prefixed with <c># </c>).</summary>
    public IReadOnlyList<string> Header { get; init; } = [];

    /// <summary>
    /// The comment at the end of a rule's line, or null: given the architecture, the syscall number (as the kernel sees
    /// it) and the rule's index among that syscall's rules.
    /// </summary>
    public Func<Architecture, int, int, string?>? RuleComment { get; init; }

    /// <summary>
    /// A comment line written before an architecture's rules of one syscall (e.g. why a call is there), or null.
    /// </summary>
    public Func<Architecture, int, string?>? SyscallNote { get; init; }

    /// <summary>
    /// A constant expression of the policy language for a value compared with an argument (<c>AF_INET</c>,
    /// <c>~(CLONE_VM|CLONE_FS)</c>), or null for a number. It must evaluate to the value at the comparison's width:
    /// <see cref="PolicyWriter.TryWrite"/> checks it and writes the number when it does not.
    /// </summary>
    public Func<WrittenValue, string?>? ValueName { get; init; }

    /// <summary>The column rule comments start at (when the rule is shorter).</summary>
    public int CommentColumn { get; init; } = 56;
}

/// <summary>A value <see cref="PolicyWriter"/> writes in a comparison, for <see cref="PolicyWriterOptions.ValueName"/>.</summary>
/// <param name="Syscall">The syscall (null when the tables have none for the number).</param>
/// <param name="Argument">The argument's index.</param>
/// <param name="Value">The value, reduced to <paramref name="Width"/>.</param>
/// <param name="IsMask">True for the mask of a masked comparison.</param>
/// <param name="Width">The width of the comparison on the architecture, in bits.</param>
public readonly record struct WrittenValue(Syscall? Syscall, int Argument, ulong Value, bool IsMask, int Width);

/// <summary>
/// Writes a <see cref="SeccompPolicy"/> in the policy language (docs/policy-language.md), so that reading the text back
/// gives a policy with the same decision for every call: the default and bad-arch actions, the covered architectures,
/// and each architecture's rules in an <c>arch NAME { ... }</c> section, syscalls by name (numbers for those the tables
/// don't name), each syscall's rules in their order, conditions with the arguments' man-page names.
/// </summary>
/// <remarks>
/// Not every IR can be written: a comparison made at another width than the one the language gives its argument (the
/// width the kernel reads, from the tables), a negative syscall number, an empty <c>||</c> (false), or a handler name
/// with a quote. <see cref="TryWrite"/> says which and where; <see cref="Write"/> throws
/// <see cref="ArgumentException"/>. Rule sources and <c>group</c>/<c>include</c> statements are not kept: groups are
/// written expanded.
/// </remarks>
public static class PolicyWriter
{
    /// <summary>Writes <paramref name="policy"/>; false with a message when some part of it has no spelling in the language.</summary>
    public static bool TryWrite(SeccompPolicy policy, [NotNullWhen(true)] out string? text, [NotNullWhen(false)] out string? error, PolicyWriterOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        options ??= new PolicyWriterOptions();
        text = null;
        // A multiplexer's rules made from the calls it makes are written out (first, so that those the reading makes
        // again come after them and decide nothing), or, when that can't be said (ipc's call is compared on 16 bits),
        // left for the reading to make.
        string? firstError = null;
        foreach (bool madeRules in new[] { true, false })
        {
            if (!TryWriteText(policy, options, madeRules, out var written, out error) || !Means(policy, written, out error))
            {
                firstError ??= error;
                continue;
            }
            text = written;
            return true;
        }
        error = firstError!;
        return false;
    }

    /// <summary>
    /// True when <paramref name="text"/>, read back, decides every call as <paramref name="policy"/> does (compared as a
    /// decision diagram of each syscall).
    /// </summary>
    private static bool Means(SeccompPolicy policy, string text, [NotNullWhen(false)] out string? error)
    {
        error = null;
        if (!PolicyLanguage.TryParse(text, out var back, out var parseError, "the written policy"))
        {
            error = $"internal error: the written policy does not parse: {parseError}";
            return false;
        }
        IReadOnlyList<PolicyDifference> differences;
        try
        {
            differences = PolicyComparison.Compare(policy, back);
        }
        catch (DiagramTooLargeException)
        {
            return true;
        }
        if (differences.Count == 0)
            return true;
        var d = differences[0];
        error = $"{d.Describe()} would get {d.Actual} from the policy language, where the policy says {d.Expected}: the language has no spelling for it";
        return false;
    }

    private static bool TryWriteText(SeccompPolicy policy, PolicyWriterOptions options, bool madeRules, [NotNullWhen(true)] out string? text, [NotNullWhen(false)] out string? error)
    {
        text = null;
        if (!TryNewer(ref policy, out string? newer, out error))
            return false;
        var sb = new StringBuilder();
        foreach (var line in options.Header)
            foreach (var part in line.Split('\n'))
                sb.Append(part.Length == 0 ? "#" : "# " + part.TrimEnd('\r')).Append('\n');
        if (!TryAction(policy.DefaultAction, null, out string? defaultAction, out error) ||
            !TryAction(policy.BadArchAction, null, out string? badArch, out error))
            return false;
        sb.Append("default ").Append(defaultAction).Append('\n');
        sb.Append("bad-arch ").Append(badArch).Append('\n');
        if (newer is not null)
            sb.Append("newer-syscalls ").Append(newer).Append('\n');
        if (policy.Sections.Count == 0)
        {
            error = "a policy without architectures has no spelling in the policy language (it covers the machine's by default)";
            return false;
        }
        sb.Append("arch ").Append(string.Join(", ", policy.Sections.Select(s => s.Architecture.Name))).Append('\n');
        foreach (var section in policy.Sections)
        {
            if (section.Syscalls.Count == 0)
                continue;
            var arch = section.Architecture;
            sb.Append('\n').Append("arch ").Append(arch.Name).Append(" {\n");
            // A multiplexer's rules first, all of them, those made from the calls it makes (socket as
            // socketcall(SYS_SOCKET)) included: reading the text makes those again from the calls' rules, and puts them
            // after these, where they decide nothing these did not.
            foreach (var (nr, all) in section.Syscalls.Select(kv => (kv.Key, kv.Value))
                         .OrderBy(e => e.Key == arch.SocketcallNumber || e.Key == arch.IpcNumber ? 0 : 1).ThenBy(e => SortKey(arch, e.Key), StringComparer.Ordinal))
            {
                if (!madeRules && all.All(r => r.Via is not null))
                    continue;
                if (!TryItem(arch, nr, out string? item, out error))
                    return false;
                arch.Syscalls.TryGet(nr, out var syscall);
                if (options.SyscallNote?.Invoke(arch, nr) is { Length: > 0 } note)
                    foreach (var part in note.Split('\n'))
                        sb.Append("    # ").Append(part.TrimEnd('\r')).Append('\n');
                for (int i = 0; i < all.Count; i++)
                {
                    var rule = all[i];
                    if (!madeRules && rule.Via is not null)
                        continue;
                    if (!TryAction(rule.Action, rule.Route, out string? action, out error))
                        return false;
                    var line = new StringBuilder("    ").Append(action).Append(' ').Append(item);
                    if (!rule.Condition.IsTrue)
                    {
                        if (!TryCondition(rule.Condition, arch, syscall, options, topLevel: true, out string? cond, out error))
                        {
                            error = $"{arch.Name} {item}, rule {i + 1}: {error}";
                            return false;
                        }
                        line.Append(" if ").Append(cond);
                    }
                    if (options.RuleComment?.Invoke(arch, nr, i) is { Length: > 0 } comment)
                    {
                        if (line.Length < options.CommentColumn)
                            line.Append(' ', options.CommentColumn - line.Length);
                        else
                            line.Append("  ");
                        line.Append("# ").Append(comment.ReplaceLineEndings(" "));
                    }
                    sb.Append(line).Append('\n');
                }
            }
            sb.Append("}\n");
        }
        text = sb.ToString();
        error = null;
        return true;
    }

    /// <summary>Writes <paramref name="policy"/> in the policy language.</summary>
    /// <exception cref="ArgumentException">Some part of the policy has no spelling in the language (the message says which).</exception>
    public static string Write(SeccompPolicy policy, PolicyWriterOptions? options = null) =>
        TryWrite(policy, out var text, out var error, options) ? text : throw new ArgumentException(error, nameof(policy));

    /// <summary>Syscalls at most that a <c>newer-syscalls</c> starting before the newest the tables know is written out as.</summary>
    private const int MaxNewerRules = 4096;

    /// <summary>
    /// <c>newer-syscalls ACTION</c> starts past the newest syscall the tables know on each architecture, or past the
    /// highest number a rule names there. A policy whose newer syscalls start elsewhere (an OCI profile's, past the newest
    /// it names) is written with a rule of that action for each number up to the tables' newest, its rules past its
    /// start left out (they are never reached), and where it starts past the tables' newest, a rule with the default
    /// action at its start.
    /// </summary>
    private static bool TryNewer(ref SeccompPolicy policy, out string? newer, [NotNullWhen(false)] out string? error)
    {
        newer = null;
        error = null;
        if (policy.Newer is not { } n)
            return true;
        if (!TryAction(n.Action, null, out newer, out error))
            return false;
        var sections = new List<ArchitecturePolicy>();
        int added = 0;
        foreach (var section in policy.Sections)
        {
            var arch = section.Architecture;
            uint? tables = arch.Syscalls.Newest is { } s ? unchecked((uint)s.Number) : null;
            if (n.NewestOn(arch) is not uint start)
            {
                if (tables is not null || section.Syscalls.Keys.Any(arch.Owns))
                {
                    error = $"newer-syscalls applies to every architecture of a policy in the language, and this one has no such check on {arch.Name}";
                    return false;
                }
                sections.Add(section);
                continue;
            }
            var syscalls = section.Syscalls.Where(kv => !arch.Owns(kv.Key) || unchecked((uint)kv.Key) <= start).ToDictionary(kv => kv.Key, kv => kv.Value);
            var rule = new Rule(Condition.True, n.Action, n.Source);
            for (ulong m = (ulong)start + 1; tables is uint t && m <= t; m++)
            {
                if (!arch.Owns(unchecked((int)(uint)m)))
                    continue;
                if (++added > MaxNewerRules)
                {
                    error = $"newer-syscalls starts {tables - start} numbers before the newest syscall the tables know on {arch.Name}: too many to write out";
                    return false;
                }
                syscalls[unchecked((int)(uint)m)] = [rule];
            }
            if (tables is not uint known || start > known)
            {
                int at = unchecked((int)start);
                if (!syscalls.ContainsKey(at))
                    syscalls[at] = [new Rule(Condition.True, policy.DefaultAction)];
            }
            sections.Add(new ArchitecturePolicy(arch, syscalls));
        }
        policy = new SeccompPolicy(policy.DefaultAction, policy.BadArchAction, sections, policy.Name);
        return true;
    }

    /// <summary>Names first, in order; then numbers the tables don't name, by value.</summary>
    private static string SortKey(Architecture arch, int nr) =>
        arch.Syscalls.TryGetName(nr, out var name) ? "0" + name : string.Create(CultureInfo.InvariantCulture, $"1{(uint)nr:x8}");

    private static bool TryItem(Architecture arch, int nr, [NotNullWhen(true)] out string? item, [NotNullWhen(false)] out string? error)
    {
        error = null;
        if (arch.Syscalls.TryGetName(nr, out item))
            return true;
        // A number is written without the architecture's number bit: the parser adds it (x32's 0x40000000).
        int plain = nr & ~(int)arch.SyscallNumberBit;
        if (nr < 0 || (arch.SyscallNumberBit != 0 && (nr & (int)arch.SyscallNumberBit) == 0))
        {
            item = null;
            error = string.Create(CultureInfo.InvariantCulture, $"syscall number {nr} of {arch.Name} has no spelling in the policy language (numbers are written as non-negative values)");
            return false;
        }
        item = plain.ToString(CultureInfo.InvariantCulture);
        return true;
    }

    private static bool TryAction(SeccompAction raw, RuleRoute? route, [NotNullWhen(true)] out string? text, [NotNullWhen(false)] out string? error)
    {
        // The kernel's meaning is what is kept: data on an action that takes none is dropped, an unknown action kills.
        var action = raw.Effective;
        error = null;
        text = action.Kind switch
        {
            SeccompActionKind.Allow => "ALLOW",
            SeccompActionKind.KillProcess => "KILL_PROCESS",
            SeccompActionKind.KillThread => "KILL_THREAD",
            SeccompActionKind.Log => "LOG",
            SeccompActionKind.Trap => string.Create(CultureInfo.InvariantCulture, $"TRAP({action.Data})"),
            SeccompActionKind.Trace => string.Create(CultureInfo.InvariantCulture, $"TRACE({action.Data})"),
            SeccompActionKind.Errno => $"ERRNO({Errno.Name(action.Data) ?? action.Data.ToString(CultureInfo.InvariantCulture)})",
            _ => null,
        };
        if (text is not null)
            return true;
        switch (route)
        {
            case ProgramRoute p when IsName(p.Name):
                text = $"EBPF({p.Name})";
                return true;
            case ProgramRoute p when IsQuotable(p.Name):
                text = $"EBPF(\"{p.Name}\")";
                return true;
            case NotifyRoute { Handler: null } or null or KernelRoute:
                text = "NOTIFY";
                return true;
            case NotifyRoute n when IsName(n.Handler!):
                text = $"NOTIFY({n.Handler})";
                return true;
            case NotifyRoute n when IsQuotable(n.Handler!):
                text = $"NOTIFY(\"{n.Handler}\")";
                return true;
            default:
                error = $"the handler or program name of {route} has no spelling in the policy language";
                return false;
        }
    }

    private static bool IsName(string s) =>
        s.Length > 0 && (char.IsAsciiLetter(s[0]) || s[0] == '_') && s.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    private static bool IsQuotable(string s) => s.Length > 0 && !s.Contains('"') && !s.Contains('\n');

    private static bool TryCondition(Condition condition, Architecture arch, Syscall? syscall, PolicyWriterOptions options, bool topLevel,
                                     [NotNullWhen(true)] out string? text, [NotNullWhen(false)] out string? error)
    {
        text = null;
        error = null;
        switch (condition)
        {
            case Condition.Predicate p:
                return TryPredicate(p.Value, arch, syscall, options, out text, out error);
            case Condition.NotOf n:
                if (!TryCondition(n.Inner, arch, syscall, options, topLevel: false, out var inner, out error))
                    return false;
                text = n.Inner.IsTrue ? null : $"!({inner})";
                if (text is null)
                {
                    error = "a condition that never holds (!true) has no spelling in the policy language";
                    return false;
                }
                return true;
            case Condition.AllOf all:
            {
                var parts = new List<string>();
                foreach (var c in all.Conditions.Where(c => !c.IsTrue))
                {
                    if (!TryCondition(c, arch, syscall, options, topLevel: false, out var part, out error))
                        return false;
                    parts.Add(c is Condition.AnyOf { Conditions.Count: > 1 } ? $"({part})" : part);
                }
                if (parts.Count == 0)
                {
                    error = "an empty && (true) inside a condition has no spelling in the policy language";
                    return false;
                }
                text = string.Join(" && ", parts);
                return true;
            }
            case Condition.AnyOf any:
            {
                if (any.Conditions.Count == 0)
                {
                    error = "an empty || (false) has no spelling in the policy language";
                    return false;
                }
                var parts = new List<string>();
                foreach (var c in any.Conditions)
                {
                    if (c.IsTrue)
                    {
                        error = "an || with an empty && (true) has no spelling in the policy language";
                        return false;
                    }
                    if (!TryCondition(c, arch, syscall, options, topLevel: false, out var part, out error))
                        return false;
                    parts.Add(part);
                }
                text = string.Join(" || ", parts);
                if (!topLevel && parts.Count > 1)
                    text = $"({text})";
                return true;
            }
            default:
                error = $"unknown condition {condition.GetType().Name}";
                return false;
        }
    }

    private static bool TryPredicate(ArgPredicate p, Architecture arch, Syscall? syscall, PolicyWriterOptions options,
                                     [NotNullWhen(true)] out string? text, [NotNullWhen(false)] out string? error)
    {
        text = null;
        // The parser gives an argument the width the tables give its type (ArgPredicate.ForArgument); on a 32-bit ABI
        // every comparison is then made on at most 32 bits (ArgPredicate.At). A predicate made at the tables' width is
        // written whole, so it reads back the same; one made at another width is written as this architecture compares
        // it, when that is the same width the parsed one would be compared at.
        int tableWidth = syscall?.ArgWidth(p.Arg) ?? ArgPredicate.FullWidth;
        // The man-page name, unless the parser would read it as another argument: argN is always position N (prctl's
        // fifth argument is called arg5, and is arg4).
        string positional = string.Create(CultureInfo.InvariantCulture, $"arg{p.Arg}");
        string argument = syscall is not null && p.Arg < syscall.ArgNames.Count && syscall.ArgNames[p.Arg].Length > 0 &&
                          syscall.IndexOfArg(syscall.ArgNames[p.Arg]) == p.Arg && !IsPositional(syscall.ArgNames[p.Arg])
            ? syscall.ArgNames[p.Arg]
            : positional;
        int width = p.Width;
        if (width != tableWidth)
        {
            width = p.WidthOn(arch.Is64Bit);
            int parsed = arch.Is64Bit ? tableWidth : Math.Min(tableWidth, ArgPredicate.RegisterWidth32);
            if (width != parsed)
            {
                error = string.Create(CultureInfo.InvariantCulture,
                    $"{argument} is compared on {width} bits, but the language compares it on {parsed} (the width the kernel reads it)");
                return false;
            }
        }
        ulong m = ArgPredicate.WidthMask(width);
        if (p.Op == ComparisonOp.MaskedEq)
        {
            // A mask of 0 tests no bit: (arg & 0) == 0 always holds, as the IR's comparison does.
            ulong mask = p.Mask & m, value = p.Value & mask;
            text = $"({argument} & {Value(options, new WrittenValue(syscall, p.Arg, mask, true, width))}) == {Value(options, new WrittenValue(syscall, p.Arg, value, false, width))}";
        }
        else
        {
            string op = p.Op switch
            {
                ComparisonOp.Eq => "==",
                ComparisonOp.Ne => "!=",
                ComparisonOp.Lt => "<",
                ComparisonOp.Le => "<=",
                ComparisonOp.Gt => ">",
                _ => ">=",
            };
            text = $"{argument} {op} {Value(options, new WrittenValue(syscall, p.Arg, p.Value & m, false, width))}";
        }
        error = null;
        return true;
    }

    private static bool IsPositional(string name) => name.Length == 4 && name.StartsWith("arg", StringComparison.Ordinal) && name[3] is >= '0' and <= '5';

    private static string Value(PolicyWriterOptions options, WrittenValue v)
    {
        // The parser keeps a constant that fits the argument's type at that width; the comparison reads it at v.Width.
        if (options.ValueName?.Invoke(v) is { Length: > 0 } name &&
            PolicyLanguage.TryEvaluateConstant(name, out ulong named, out _) &&
            ArgPredicate.Fits(named, v.Syscall?.ArgWidth(v.Argument) ?? ArgPredicate.FullWidth) &&
            (named & ArgPredicate.WidthMask(v.Width)) == v.Value)
            return name;
        return v.Value < 10 ? v.Value.ToString(CultureInfo.InvariantCulture) : string.Create(CultureInfo.InvariantCulture, $"0x{v.Value:x}");
    }
}
