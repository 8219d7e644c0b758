using System.Globalization;
using System.Text;
using Syscage.Bpf;
using Syscage.Abi;

namespace Syscage.Policy;

/// <summary>
/// Says why a policy decides what it does for one call (<c>syscage explain POLICY SYSCALL [ARGS]</c>): which
/// architecture section was consulted, which rules of the syscall were tried with the truth of every predicate (and,
/// for a comparison made on the low bits of its argument only, why: <c>domain is int: compared on its low 32 bits</c>),
/// which rule decided and where it was written (<see cref="PolicySource"/>), or that the default or bad-arch action applied,
/// or that the number is past the newest syscall the policy knows on the architecture (<see cref="SeccompPolicy.Newer"/>).
/// The verdict is the reference evaluator's (<see cref="SeccompPolicy.Evaluate"/>).
/// </summary>
/// <example>
/// <code>
/// var policy = BuiltinPolicies.Load("default");
/// Console.Write(PolicyExplainer.Explain(policy, "ioctl", [0, 0x5412]));
/// // ioctl(fd=0x0, request=0x5412) on x86_64: nr 16
/// // section x86_64: 2 rules for ioctl
/// //   rule 1 at default.policy:26: ERRNO(EPERM) ioctl if (request &amp; 0xffffffff) == TIOCSTI || (request &amp; 0xffffffff) == TIOCLINUX
/// //     true   any of
/// //       true   (arg1.lo32 &amp; 0xffffffff) == 0x5412     request = 0x5412 (request is unsigned int: compared on its low 32 bits)
/// //       false  (arg1.lo32 &amp; 0xffffffff) == 0x541c     request = 0x5412 (request is unsigned int: compared on its low 32 bits)
/// //     => matches: ERRNO(1) (EPERM)
/// //   rule 2 at default.policy:32: not tried
/// // decision: ERRNO(1) (EPERM) by rule 1 at default.policy:26
/// </code>
/// </example>
public static class PolicyExplainer
{
    /// <summary>Explains the policy's verdict for <paramref name="data"/>, one line per fact.</summary>
    public static string Explain(SeccompPolicy policy, in SeccompData data)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var w = new StringBuilder();
        var decision = policy.Evaluate(data);
        var section = policy.SectionFor(data);
        var arch = section?.Architecture ?? Architecture.FromAuditArch(data.Arch);
        Syscall? syscall = null;
        if (section is not null)
            section.Architecture.Syscalls.TryGet(data.Nr, out syscall);
        string name = syscall?.Name ?? Invariant($"syscall {data.Nr}");

        // The call, with argument names where the table knows them.
        var args = new List<string>();
        int shown = syscall is { ArgNames.Count: > 0 } ? syscall.ArgNames.Count : 6;
        var seen = data.AsSyscallSeesIt();
        for (int i = 0; i < shown; i++)
        {
            // In the kernel's names when the value is one of the argument's type; bits above it are shown, in hex.
            string? names = ArgumentDecoder.Symbolic(arch, syscall, i, seen.Arg(i));
            bool fits = data.Arg(i) == seen.Arg(i) && (syscall is null || ArgPredicate.Fits(data.Arg(i), syscall.ArgWidth(i)));
            args.Add(names is not null && fits ? $"{ArgLabel(syscall, i)}={names}"
                : names is not null ? Invariant($"{ArgLabel(syscall, i)}=0x{data.Arg(i):x} ({names} in the bits the syscall reads)")
                : Invariant($"{ArgLabel(syscall, i)}=0x{data.Arg(i):x}"));
        }
        w.Append(name).Append('(').Append(string.Join(", ", args)).Append(") on ")
            .Append(arch?.Name ?? Invariant($"arch 0x{data.Arch:x8}"))
            .Append(Invariant($": nr {data.Nr}"));
        if (data.Arch == Architecture.X86_64.AuditArch && Architecture.IsX32Number(data.Nr))
            w.Append(" (the x32 bit is set: an x32 call)");
        w.Append('\n');
        if (section is not null && Multiplexing(section.Architecture, data.Nr) is { } multiplexer)
        {
            var made = MultiplexedCall.FromCode(multiplexer, data.Arg(0));
            w.Append(made is null
                ? Invariant($"  {MultiplexedCall.NameOf(multiplexer)} makes no call for call = 0x{data.Arg(0):x} (the kernel refuses it)\n")
                : Invariant($"  call {made.CodeName} ({made.Code}) makes {made.Name}, whose arguments are {(multiplexer == Multiplexer.Socketcall ? "in memory at args" : "in other registers and in memory")}: a filter cannot check them\n"));
        }

        if (section is null)
        {
            string covered = string.Join(", ", policy.Sections.Select(s => s.Architecture.Name));
            w.Append(Invariant($"architecture 0x{data.Arch:x8}"))
                .Append(arch is null ? "" : $" ({(data.Arch == Architecture.X86_64.AuditArch ? "x32" : arch.Name)})")
                .Append(" is not covered by the policy (it covers ").Append(covered).Append(")\n");
            w.Append("decision: ").Append(Describe(decision.Action)).Append(" (the bad-arch action)\n");
            return w.ToString();
        }

        if (decision.Reason == DecisionReason.Newer)
        {
            var newer = policy.Newer!;
            uint newest = newer.NewestOn(section.Architecture)!.Value;
            string newestName = section.Architecture.Syscalls.TryGetName(unchecked((int)newest), out var nn) ? nn + ", " : "";
            w.Append(Invariant($"section {section.Architecture.Name}: nr {Number(data.Nr)} is past the newest syscall {newer.Basis} on {section.Architecture.Name} ({newestName}nr {Number(unchecked((int)newest))})\n"));
            w.Append("decision: ").Append(Describe(decision.Action));
            if (newer.Source is { } from)
                w.Append(from.Line > 0 ? $" by {from.Text ?? "newer-syscalls"} at {from}" : $", {from.Text ?? "for syscalls newer than the policy"}");
            w.Append('\n');
            return w.ToString();
        }

        var rules = section.RulesFor(data.Nr);
        w.Append("section ").Append(section.Architecture.Name).Append(": ")
            .Append(rules.Count == 0 ? $"no rules for {name}" : Invariant($"{rules.Count} rule{(rules.Count == 1 ? "" : "s")} for {name}"))
            .Append('\n');
        Span<ulong> values = stackalloc ulong[6];
        for (int i = 0; i < 6; i++)
            values[i] = data.Arg(i);
        bool is64 = section.Architecture.Is64Bit;
        for (int r = 0; r < rules.Count; r++)
        {
            var rule = rules[r];
            w.Append(Invariant($"  rule {r + 1}"));
            if (rule.Source is { } source)
                w.Append(" at ").Append(source).Append(": ").Append(source.Text ?? Describe(rule.Action));
            else
                w.Append(": ").Append(Describe(rule.Action));
            w.Append('\n');
            if (rule.Via is { } via)
                w.Append("    ").Append(Made(via, section.Architecture)).Append('\n');
            if (rule.Condition.IsTrue)
                w.Append("    no condition: matches\n");
            else
                WriteCondition(w, rule.Condition, values, is64, section.Architecture, syscall, depth: 2);
            bool matched = rule.Condition.Evaluate(values, is64);
            w.Append("    => ").Append(matched ? $"matches: {Describe(rule.Action)}" : "does not match").Append('\n');
            if (matched && rule.Via is { Unchecked: true } unchecked_)
                w.Append("    ").Append(Outcome(unchecked_, rule.Action)).Append('\n');
            if (matched)
            {
                for (int rest = r + 1; rest < rules.Count; rest++)
                    w.Append(Invariant($"  rule {rest + 1}")).Append(rules[rest].Source is { } s ? $" at {s}" : "").Append(": not tried\n");
                break;
            }
        }
        w.Append("decision: ").Append(Describe(decision.Action));
        if (decision.Reason == DecisionReason.Rule)
        {
            w.Append(Invariant($" by rule {IndexOf(rules, decision.Rule!) + 1}"));
            if (decision.Rule!.Source is { } s)
                w.Append(" at ").Append(s);
            if (decision.Rule.Route is ProgramRoute program)
                w.Append(" (EBPF: the eBPF program '").Append(program.Name).Append("' decides)");
            else if (decision.Rule.Handler is { } h)
                w.Append(" (handler '").Append(h).Append("')");
        }
        else
            w.Append(rules.Count == 0 ? " (the default action: no rule names this syscall)" : " (the default action: no rule matched)");
        w.Append('\n');
        if (section.Architecture.MultiplexedCallOf(data.Nr) is { } call && section.Architecture.MultiplexerNumber(call.Multiplexer) is int m)
        {
            // The same call made through the multiplexer: its arguments out of the filter's reach.
            var through = policy.Evaluate(new SeccompData(m, data.Arch, data.InstructionPointer, [(ulong)call.Code]));
            w.Append(Invariant($"also made as {call.MultiplexerName}({call.CodeName}, ...) on {section.Architecture.Name} (nr {m}), whose arguments the filter cannot read: "))
                .Append(Describe(through.Action));
            if (through.Reason == DecisionReason.Rule && through.Rule!.Source is { } via)
                w.Append(" by ").Append(through.Rule.Via is null ? $"{MultiplexedCall.NameOf(call.Multiplexer)}'s rule at {via}" : $"rule at {via}");
            else if (through.Reason != DecisionReason.Rule)
                w.Append(" (the default action)");
            w.Append(Invariant($"; explain '{call.MultiplexerName} {call.Code}' for why\n"));
        }
        return w.ToString();
    }

    /// <summary>The multiplexer <paramref name="nr"/> is on <paramref name="arch"/>, or null.</summary>
    private static Multiplexer? Multiplexing(Architecture arch, int nr) =>
        nr == arch.SocketcallNumber ? Multiplexer.Socketcall : nr == arch.IpcNumber ? Multiplexer.Ipc : null;

    /// <summary><c>socket's rule, made on socketcall(SYS_SOCKET, ...); its condition 'domain == AF_VSOCK' cannot be checked here</c>.</summary>
    private static string Made(MultiplexedOrigin via, Architecture arch)
    {
        string made = $"{via.Call.Name}'s rule, made on {via.Call}";
        if (!via.Unchecked)
            return made;
        string condition = via.Call.On(arch) is { } prototype ? Named(via.Written.Condition, prototype) : via.Written.Condition.ToString();
        return $"{made}; its condition '{condition}' cannot be checked here ({via.Call.Name}'s arguments are out of the filter's reach)";
    }

    /// <summary>What an unchecked rule decides instead of its written action.</summary>
    private static string Outcome(MultiplexedOrigin via, SeccompAction action)
    {
        string whose = via.TakenFrom is { } from ? $" (from {from.Source?.ToString() ?? "a later rule"}, which could decide otherwise)"
            : via.DefaultTaken ? " (the default action, which a call it does not match would get)" : "";
        return action == via.Written.Action
            ? $"as written: {Describe(action)}, the most restrictive action such a call could get"
            : $"not its {Describe(via.Written.Action)}: {Describe(action)}{whose}, the most restrictive action such a call could get";
    }

    /// <summary>A condition with the call's argument names (<c>domain == 0x28</c>) in place of <c>argN</c>.</summary>
    private static string Named(Condition condition, Syscall syscall) => condition switch
    {
        Condition.Predicate { Value: var p } => p.Format(ArgLabel(syscall, p.Arg)),
        Condition.AllOf { Conditions.Count: 0 } => "true",
        Condition.AllOf all => string.Join(" && ", all.Conditions.Select(c => c is Condition.AnyOf ? $"({Named(c, syscall)})" : Named(c, syscall))),
        Condition.AnyOf any => any.Conditions.Count == 0 ? "false" : string.Join(" || ", any.Conditions.Select(c => Named(c, syscall))),
        Condition.NotOf not => $"!({Named(not.Inner, syscall)})",
        _ => condition.ToString(),
    };

    /// <summary>
    /// The rules whose condition cannot be checked where they decide: a rule on a call that a multiplexer makes, with a
    /// condition on the call's arguments, which the multiplexed form keeps out of the filter's reach
    /// (<see cref="MultiplexedOrigin"/>). On such calls the rule takes the most restrictive action it could lead to;
    /// <c>syscage check</c> and <c>compile</c> warn about each.
    /// </summary>
    public static IReadOnlyList<UncheckedCondition> UncheckedConditions(SeccompPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var result = new List<UncheckedCondition>();
        foreach (var section in policy.Sections)
        {
            var arch = section.Architecture;
            foreach (var (nr, rules) in section.Syscalls.OrderBy(kv => kv.Key))
            {
                foreach (var rule in rules)
                {
                    if (rule.Via is not { Unchecked: true } via)
                        continue;
                    // What such a call gets: this rule's verdict, unless an earlier rule (the multiplexer's own) decides first.
                    var decision = policy.Evaluate(new SeccompData(nr, arch.AuditArch, 0, [(ulong)via.Call.Code]));
                    string condition = via.Call.On(arch) is { } p ? Named(via.Written.Condition, p) : via.Written.Condition.ToString();
                    result.Add(new UncheckedCondition(arch, via.Call, condition, rule, decision.Rule is { } by && !ReferenceEquals(by, rule) ? by : null, decision.Action));
                }
            }
        }
        return result;
    }

    /// <summary>
    /// Explains a call given by name (or number) and arguments on <paramref name="architecture"/> (default: the
    /// policy's first section's architecture).
    /// </summary>
    /// <exception cref="ArgumentException">The syscall is not known on that architecture (with a hint).</exception>
    public static string Explain(SeccompPolicy policy, string syscall, IReadOnlyList<ulong> args, Architecture? architecture = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(syscall);
        ArgumentNullException.ThrowIfNull(args);
        var arch = architecture ?? policy.Sections.FirstOrDefault()?.Architecture ?? Architecture.Native;
        if (!arch.Syscalls.TryGetNumber(syscall, out int nr))
        {
            if (arch.TryGetMultiplexed(syscall, out var call))
                throw new ArgumentException(
                    $"{arch.Name} makes {syscall} only through {call.MultiplexerName}(2): explain '{call.MultiplexerName}' with first argument {call.Code} ({call.CodeName})", nameof(syscall));
            if (!int.TryParse(syscall, NumberStyles.None, CultureInfo.InvariantCulture, out nr))
            {
                string? close = arch.Syscalls.SuggestNames(syscall, 1).FirstOrDefault();
                throw new ArgumentException($"unknown syscall '{syscall}' on {arch.Name}{(close is null ? "" : $"; did you mean '{close}'?")}", nameof(syscall));
            }
            nr |= (int)arch.SyscallNumberBit;
        }
        if (args.Count > 6)
            throw new ArgumentException("a system call has at most 6 arguments", nameof(args));
        return Explain(policy, new SeccompData(nr, arch.AuditArch, 0, args.ToArray()));
    }

    /// <summary>
    /// The rules that never decide because earlier rules of the same syscall and architecture decide every call they
    /// match, at least one of them with a different action or handler: usually a rule written after a broad
    /// <c>ALLOW @group</c>. Decided exactly (<see cref="PolicyLinter"/> reports these and more). Repeats of the same
    /// verdict (a syscall in two allowed groups) are harmless and not reported.
    /// </summary>
    public static IReadOnlyList<UnreachableRule> UnreachableRules(SeccompPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var result = new List<UnreachableRule>();
        var budget = new SolverBudget(SolverBudget.PerPolicy);
        foreach (var section in policy.Sections)
        {
            foreach (var (nr, rules) in section.Syscalls.OrderBy(kv => kv.Key))
            {
                foreach (var fate in RuleReachability.Analyse(policy, section, nr, budget))
                {
                    if (fate.Decides || fate.NeverHolds || fate.PastNewest)
                        continue;
                    var by = fate.DecidedFirstBy.Select(i => rules[i]).FirstOrDefault(r => r.Action != fate.Rule.Action || r.Route != fate.Rule.Route);
                    if (by is not null)
                    {
                        string name = fate.Rule.Via is { } via ? $"{via.Call.Name} made as {via.Call}"
                            : section.Architecture.Syscalls.TryGetName(nr, out var n) ? n : Invariant($"syscall {nr}");
                        result.Add(new UnreachableRule(section.Architecture, nr, name, fate.Rule, by) { DecidedBy = [.. fate.DecidedFirstBy.Select(i => rules[i])] });
                    }
                }
            }
        }
        return result;
    }

    private static int IndexOf(IReadOnlyList<Rule> rules, Rule rule)
    {
        for (int i = 0; i < rules.Count; i++)
            if (ReferenceEquals(rules[i], rule))
                return i;
        return -1;
    }

    private static void WriteCondition(StringBuilder w, Condition c, ReadOnlySpan<ulong> args, bool is64, Architecture arch, Syscall? syscall, int depth)
    {
        string truth = c.Evaluate(args, is64) ? "true " : "false";
        w.Append(' ', depth * 2).Append(truth).Append("  ");
        switch (c)
        {
            case Condition.Predicate { Value: var p }:
            {
                var made = p.At(is64);
                string label = ArgLabel(syscall, p.Arg);
                ulong arg = args[p.Arg];
                w.Append(made).Append("     ").Append(label).Append(Invariant($" = 0x{arg:x}"));
                var notes = new List<string>();
                // The value in the kernel's names (CLONE_NEWUSER, TIOCSTI, AF_VSOCK), as the syscall sees it.
                if (ArgumentDecoder.Symbolic(arch, syscall, p.Arg, is64 ? arg : arg & uint.MaxValue) is { } names)
                    notes.Add(names);
                int register = is64 ? ArgPredicate.FullWidth : ArgPredicate.RegisterWidth32;
                if (made.Width < register)
                {
                    // Narrowed by the argument's type: the kernel's wrapper casts the register to it.
                    string? type = syscall?.ArgWidth(p.Arg) == made.Width ? syscall.ArgType(p.Arg) : null;
                    ulong reduced = arg & ArgPredicate.WidthMask(made.Width);
                    notes.Add((type is null ? "" : $"{label} is {type}: ") + Invariant($"compared on its low {made.Width} bits") + (reduced != arg ? Invariant($", 0x{reduced:x}") : ""));
                }
                else if (!is64 && arg > uint.MaxValue)
                    notes.Add("32-bit ABI: compared on the low 32 bits");
                if (notes.Count > 0)
                    w.Append(" (").Append(string.Join("; ", notes)).Append(')');
                w.Append('\n');
                break;
            }
            case Condition.AllOf all:
                w.Append("all of\n");
                foreach (var x in all.Conditions)
                    WriteCondition(w, x, args, is64, arch, syscall, depth + 1);
                break;
            case Condition.AnyOf any:
                w.Append("any of\n");
                foreach (var x in any.Conditions)
                    WriteCondition(w, x, args, is64, arch, syscall, depth + 1);
                break;
            case Condition.NotOf not:
                w.Append("not\n");
                WriteCondition(w, not.Inner, args, is64, arch, syscall, depth + 1);
                break;
        }
    }

    /// <summary>A syscall number as the kernel's <c>int</c> and, when large or negative, as the filter's <c>u32</c> in hex.</summary>
    private static string Number(int nr) => nr is >= 0 and < 0x1000 ? Invariant($"{nr}") : Invariant($"{nr} (0x{unchecked((uint)nr):x})");

    private static string ArgLabel(Syscall? syscall, int index) =>
        syscall is not null && index < syscall.ArgNames.Count ? syscall.ArgNames[index] : Invariant($"arg{index}");

    /// <summary>The action, with the errno name for ERRNO (<c>ERRNO(13) (EACCES)</c>).</summary>
    private static string Describe(SeccompAction action) =>
        action.Kind == SeccompActionKind.Errno && Errno.Name(action.Data) is { } e ? $"{action} ({e})" : action.ToString();

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A rule whose condition cannot be checked on a multiplexed call (see <see cref="PolicyExplainer.UncheckedConditions"/>).</summary>
/// <param name="Architecture">The section.</param>
/// <param name="Call">The call the rule was written for, made there through its multiplexer.</param>
/// <param name="Condition">The rule's condition, with the call's argument names.</param>
/// <param name="Rule">The rule on the multiplexer.</param>
/// <param name="DecidedBy">An earlier rule that decides such calls before <paramref name="Rule"/> (the multiplexer's own), or null.</param>
/// <param name="Action">What such a call gets (with the multiplexer's other registers 0).</param>
public sealed record UncheckedCondition(Architecture Architecture, MultiplexedCall Call, string Condition, Rule Rule, Rule? DecidedBy, SeccompAction Action)
{
    /// <summary>
    /// <c>t.policy:3: on x86, socket is also made as socketcall(SYS_SOCKET, ...), whose arguments a filter cannot read: the
    /// condition 'domain == 0x28' cannot be checked there, and every such call gets ERRNO(1)</c>.
    /// </summary>
    public override string ToString() => $"{Rule.Via!.Written.Source?.ToString() ?? "<rule>"}: {Message}";

    /// <summary>What <see cref="ToString"/> says after the rule's place: <c>on x86, socket is also made as ...</c>.</summary>
    public string Message
    {
        get
        {
            var written = Rule.Via!.Written;
            string also = Architecture.Syscalls.TryGet(Call.Name, out _) ? "also made" : "made only";
            string gets = DecidedBy is { } by
                ? $"{(by.Via is { } v ? $"{v.Call.Name}'s rule" : $"{Call.MultiplexerName}'s own rule")} at {by.Source?.ToString() ?? "an earlier rule"} decides every such call first: {Action}"
                : Action == written.Action ? $"every such call gets {Action}"
                : $"every such call gets {Action}, not {written.Action}, as a call the rule does not match could";
            // A condition can be as long as the policy: the message shows its start.
            string condition = Condition.Length <= MaxConditionText ? Condition : Condition[..MaxConditionText] + " ...";
            return $"on {Architecture.Name}, {Call.Name} is {also} as {Call}, whose arguments a filter cannot read: the condition '{condition}' cannot be checked there; {gets}";
        }
    }

    /// <summary>The most characters of the condition a message shows.</summary>
    private const int MaxConditionText = 160;
}

/// <summary>A rule that never decides (see <see cref="PolicyExplainer.UnreachableRules"/>).</summary>
/// <param name="Architecture">The section.</param>
/// <param name="Nr">The syscall number.</param>
/// <param name="Syscall">The syscall's name (or <c>syscall N</c>).</param>
/// <param name="Rule">The rule never reached.</param>
/// <param name="ShadowedBy">An earlier rule that decides first some of the calls it matches, with another verdict.</param>
public sealed record UnreachableRule(Architecture Architecture, int Nr, string Syscall, Rule Rule, Rule ShadowedBy)
{
    /// <summary>Every earlier rule that decides some of the calls it matches (<see cref="ShadowedBy"/> among them).</summary>
    public IReadOnlyList<Rule> DecidedBy { get; init; } = [ShadowedBy];

    /// <summary><c>file:line: the rule for read on x86_64 is never reached: file:line, file:line decide first every call it matches</c>.</summary>
    public override string ToString() =>
        $"{Rule.Source?.ToString() ?? "<rule>"}: the rule for {Syscall} on {Architecture.Name} is never reached: " +
        $"{string.Join(", ", DecidedBy.Select(r => r.Source?.ToString() ?? "an earlier rule"))} decide{(DecidedBy.Count == 1 ? "s" : "")} first every call it matches";
}
