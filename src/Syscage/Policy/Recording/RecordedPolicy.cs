using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Syscage.Abi;
using Syscage.Policy.Language;

namespace Syscage.Policy.Recording;

/// <summary>
/// The smallest policy that allows what a <see cref="CallRecording"/> saw — the IR every output format is written from
/// (<see cref="Policy"/>; the policy language with <see cref="ToPolicyText"/>) — with a comment per rule saying how many
/// calls it allowed.
/// </summary>
/// <remarks>
/// <para>Per architecture that made calls, one rule per syscall seen, <c>ALLOW name</c>; with kept arguments
/// (<see cref="ArgumentRecording"/>), one rule per combination of the values seen (<c>ALLOW socket if domain ==
/// AF_INET</c>), flags as the set of bits seen (<c>ALLOW clone if (flags &amp; ~(CLONE_VM|...)) == 0</c>). An argument
/// with more than <see cref="RecordedArguments.MaxValues"/> values, or a syscall with more than
/// <see cref="CallRecording.MaxCombinations"/> combinations, is written by name only, and a note says so.</para>
/// <para>Added without being seen, on every architecture that made calls: <see cref="AlwaysAllowed"/>, which any
/// program needs when a signal handler returns, when a call is restarted after a stop, and at exit. Nothing else is
/// added: every other rule is a call the kernel reported.</para>
/// <para>Everything else gets the default action, <c>ERRNO(EPERM)</c> (as Docker's and the Security Profiles
/// Operator's profiles: a program that probes for a feature falls back), and other architectures
/// <c>KILL_PROCESS</c>.</para>
/// <para>With an earlier policy (<c>--merge</c>), the result allows the union: for each syscall, the rules made from
/// this recording come first and the earlier policy's rules follow (left out when a rule of this recording allows the
/// syscall whatever its arguments, since they could no longer decide anything); the earlier default and bad-arch actions
/// stay.</para>
/// </remarks>
public sealed class RecordedPolicy
{
    /// <summary>The handler name of the recording filter's <c>NOTIFY</c> rules.</summary>
    public const string HandlerName = "record";

    /// <summary>
    /// Added on every architecture that made calls, seen or not: <c>rt_sigreturn</c> (and i386's <c>sigreturn</c>) ends
    /// every signal handler, <c>restart_syscall</c> resumes a sleep interrupted by a stop, <c>exit_group</c> ends the
    /// process. Without them a program dies the first time it is interrupted, or at its end.
    /// </summary>
    public static IReadOnlyList<string> AlwaysAllowed { get; } = ["rt_sigreturn", "sigreturn", "restart_syscall", "exit_group"];

    /// <summary>The default action of a recorded policy (an earlier policy's when merging).</summary>
    public static SeccompAction DefaultAction { get; } = SeccompAction.Errno(Errno.EPERM);

    private readonly Dictionary<(Architecture, int), List<string?>> _comments;
    private readonly Dictionary<(Architecture, int), string> _notes;

    private RecordedPolicy(SeccompPolicy policy, CallRecording recording, Dictionary<(Architecture, int), List<string?>> comments,
                           Dictionary<(Architecture, int), string> notes, IReadOnlyList<string> warnings)
    {
        Policy = policy;
        Recording = recording;
        _comments = comments;
        _notes = notes;
        Warnings = warnings;
    }

    /// <summary>The policy: what every writer (policy language, OCI, Kubernetes) writes.</summary>
    public SeccompPolicy Policy { get; }

    /// <summary>The recording it was made from.</summary>
    public CallRecording Recording { get; }

    /// <summary>What was left out and why (calls of an unknown architecture, numbers without a spelling).</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>The comment of rule <paramref name="index"/> of syscall <paramref name="nr"/> on <paramref name="arch"/>: how many calls it allowed, or why it is there.</summary>
    public string? Comment(Architecture arch, int nr, int index) =>
        _comments.TryGetValue((arch, nr), out var list) && index >= 0 && index < list.Count ? list[index] : null;

    /// <summary>A note on syscall <paramref name="nr"/> of <paramref name="arch"/> (e.g. an argument that took too many values to keep), or null.</summary>
    public string? Note(Architecture arch, int nr) => _notes.TryGetValue((arch, nr), out var note) ? note : null;

    /// <summary>
    /// The filter a recording runs under: every call goes to user space (USER_NOTIF, handler
    /// <see cref="HandlerName"/>), on the machine's architectures and on any other, so the recorder sees it and lets it
    /// run — except, with <paramref name="merged"/>, the calls its rules ALLOW or LOG, which stay in the kernel (they are
    /// in the result anyway). Nothing is refused, but by the supervisor's guard.
    /// </summary>
    public static SeccompPolicy Filter(SeccompPolicy? merged = null)
    {
        var notify = SeccompAction.UserNotif;
        var route = RuleRoute.Notify(HandlerName);
        var sections = new List<ArchitecturePolicy>();
        foreach (var arch in Architectures(merged, []))
        {
            var earlier = merged?.Sections.FirstOrDefault(s => s.Architecture == arch);
            var syscalls = new Dictionary<int, IReadOnlyList<Rule>>();
            if (earlier is not null)
                foreach (var (nr, rules) in earlier.Syscalls)
                    syscalls[nr] = [.. rules.Select(r => Runs(r.Action) ? r : r with { Action = notify, Route = route })];
            sections.Add(new ArchitecturePolicy(arch, syscalls));
        }
        return new SeccompPolicy(notify, notify, sections, "recording");
    }

    /// <summary>Makes the policy; false when the recording is <see cref="CallRecording.Incomplete"/>.</summary>
    public static bool TryBuild(CallRecording recording, [NotNullWhen(true)] out RecordedPolicy? result, [NotNullWhen(false)] out string? error,
                                SeccompPolicy? merged = null)
    {
        ArgumentNullException.ThrowIfNull(recording);
        result = null;
        if (recording.Incomplete)
        {
            error = $"the command made calls of more than {InputLimits.MaxSyscallsPerArchitecture} different syscall numbers on one architecture: " +
                    "those past the limit were not recorded, so no policy can allow the run";
            return false;
        }
        var seen = recording.Syscalls;
        var warnings = new List<string>();
        if (recording.UnknownArchitectureCalls > 0)
            warnings.Add(string.Create(CultureInfo.InvariantCulture,
                $"{recording.UnknownArchitectureCalls} calls came from an architecture Syscage does not know: the policy does not allow them (they get its bad-arch action)"));
        var comments = new Dictionary<(Architecture, int), List<string?>>();
        var notes = new Dictionary<(Architecture, int), string>();
        var source = new PolicySource("recording");
        // The recorded rules go through the builder, as the policy language's do: on an ABI with socketcall(2) or ipc(2),
        // a rule for socket also decides socketcall(SYS_SOCKET, ...), so the policy means what its text says.
        var arches = Architectures(merged, seen.Select(s => s.Architecture))
            // An architecture the earlier policy leaves to a bad-arch action that lets calls run already allows all they
            // did: a section would refuse the others.
            .Where(a => merged is null || merged.Sections.Any(s => s.Architecture == a) || !Runs(merged.BadArchAction)).ToList();
        var builder = new PolicyBuilder(merged?.DefaultAction ?? DefaultAction, arches) { BadArchAction = merged?.BadArchAction ?? SeccompAction.KillProcess, Name = "recording" };
        var recorded = new HashSet<(Architecture, int)>();
        foreach (var arch in arches)
        {
            var earlier = merged?.Sections.FirstOrDefault(s => s.Architecture == arch);
            int written = 0;
            foreach (var s in seen.Where(s => s.Architecture == arch))
            {
                if (!Writable(arch, s.Number))
                {
                    warnings.Add(string.Create(CultureInfo.InvariantCulture,
                        $"{arch.Name} syscall number {s.Number} ({Calls(s.Count)}) has no spelling in a policy: left out, such calls get the default action"));
                    continue;
                }
                var (rules, counts, note) = RulesFor(s, recording.Arguments, source);
                foreach (var rule in rules)
                    builder.Add(arch, s.Number, rule);
                recorded.Add((arch, s.Number));
                comments[(arch, s.Number)] = counts;
                if (note is not null)
                    notes[(arch, s.Number)] = note;
                written++;
            }
            // Only where a call was written: an architecture whose calls all had no spelling (x86_64 numbers with the
            // x32 bit that are negative, say) gets nothing it did not do.
            if (written == 0)
                continue;
            foreach (var name in AlwaysAllowed)
            {
                if (!arch.Syscalls.TryGetNumber(name, out int nr) || recorded.Contains((arch, nr)) ||
                    earlier?.RulesFor(nr) is [{ Condition.IsTrue: true } first, ..] && Runs(first.Action))
                    continue;
                builder.Add(arch, nr, new Rule(Condition.True, SeccompAction.Allow, source));
                recorded.Add((arch, nr));
                comments[(arch, nr)] = ["not seen: every program needs it on signals and at exit"];
            }
        }
        var built = builder.Build();
        var sections = new List<ArchitecturePolicy>();
        foreach (var section in built.Sections)
        {
            var arch = section.Architecture;
            var syscalls = section.Syscalls.ToDictionary(kv => kv.Key, kv => kv.Value);
            foreach (var (nr, rules) in syscalls)
                if (!recorded.Contains((arch, nr)))
                    comments[(arch, nr)] = [.. rules.Select(r => r.Via is { } v ? $"{v.Call.Name} through {(v.Call.Multiplexer == Multiplexer.Socketcall ? "socketcall" : "ipc")}" : null)];
            if (merged?.Sections.FirstOrDefault(s => s.Architecture == arch) is { } earlier)
            {
                foreach (var (nr, rules) in earlier.Syscalls)
                {
                    if (!syscalls.TryGetValue(nr, out var mine))
                    {
                        syscalls[nr] = rules;
                        comments[(arch, nr)] = [.. rules.Select(From)];
                    }
                    else if (!mine.Any(r => r.Condition.IsTrue && Runs(r.Action)))
                    {
                        syscalls[nr] = [.. mine, .. rules];
                        comments[(arch, nr)] = [.. comments.GetValueOrDefault((arch, nr)) ?? [.. mine.Select(_ => (string?)null)], .. rules.Select(From)];
                    }
                }
            }
            sections.Add(new ArchitecturePolicy(arch, syscalls));
        }
        // Before the policy is made: it fills the numbers between the old and the new start of newer-syscalls in.
        var newer = Newer(merged?.Newer, recorded, sections, comments, warnings);
        var policy = new SeccompPolicy(built.DefaultAction, built.BadArchAction, sections, "recording") { Newer = newer };
        result = new RecordedPolicy(policy, recording, comments, notes, warnings);
        error = null;
        return true;
    }

    /// <summary>Makes the policy.</summary>
    /// <exception cref="InvalidOperationException">The recording is <see cref="CallRecording.Incomplete"/>.</exception>
    public static RecordedPolicy Build(CallRecording recording, SeccompPolicy? merged = null) =>
        TryBuild(recording, out var result, out var error, merged) ? result : throw new InvalidOperationException(error);

    /// <summary>
    /// The policy in the policy language: <paramref name="header"/> as comments, each rule with its count, kept argument
    /// values by their kernel names (<c>AF_INET</c>, <c>TCGETS</c>, <c>CLONE_VM</c>).
    /// </summary>
    /// <exception cref="ArgumentException">An earlier (merged) policy has a rule the language cannot write.</exception>
    public string ToPolicyText(IReadOnlyList<string>? header = null) => PolicyWriter.Write(Policy, WriterOptions(header));

    /// <summary>The options <see cref="ToPolicyText"/> gives <see cref="PolicyWriter"/>: comments, notes and value names.</summary>
    public PolicyWriterOptions WriterOptions(IReadOnlyList<string>? header = null) => new()
    {
        Header = header ?? [],
        RuleComment = Comment,
        SyscallNote = Note,
        ValueName = ValueName,
    };

    /// <summary>A kernel constant (or an expression of them) for a value of a kept argument, for the policy language.</summary>
    public static string? ValueName(WrittenValue value)
    {
        if (value.Syscall is null || RecordedArguments.Find(value.Syscall, value.Argument) is not { } tracked)
            return null;
        if (!value.IsMask)
            return tracked.Kind == ArgumentKind.Flags && value.Value == 0 ? null : RecordedArguments.Name(tracked, value.Value, value.Width);
        // A mask is written as what it leaves out: the flags seen.
        ulong seen = ~value.Value & ArgPredicate.WidthMask(value.Width);
        return seen == 0 ? null : RecordedArguments.Name(tracked, seen, value.Width) is { } name ? $"~({name})" : null;
    }

    /// <summary>
    /// The earlier policy's newer-syscalls, starting past any number this recording allows too (a call the command made
    /// must not get its action); the numbers between its start and the new one keep its action by a rule each, so the
    /// union changes nothing else. A recorded number further than <see cref="InputLimits.MaxSyscallsPerArchitecture"/>
    /// past the start is left to the action, with a warning.
    /// </summary>
    private static NewerSyscalls? Newer(NewerSyscalls? earlier, HashSet<(Architecture Arch, int Nr)> recorded, List<ArchitecturePolicy> sections,
                                        Dictionary<(Architecture, int), List<string?>> comments, List<string> warnings)
    {
        if (earlier is null)
            return null;
        var newest = new Dictionary<Architecture, uint>();
        foreach (var (arch, n) in earlier.Newest)
        {
            uint top = n;
            foreach (var (a, nr) in recorded)
            {
                if (a != arch || !arch.Owns(nr) || unchecked((uint)nr) <= n)
                    continue;
                if (unchecked((uint)nr) - n > InputLimits.MaxSyscallsPerArchitecture)
                    warnings.Add(string.Create(CultureInfo.InvariantCulture,
                        $"{arch.Name} syscall number {nr} is far past where the merged policy's newer-syscalls starts (after {n}): left to its action, {earlier.Action}"));
                else
                    top = Math.Max(top, unchecked((uint)nr));
            }
            newest[arch] = top;
            int index = sections.FindIndex(s => s.Architecture == arch);
            if (top == n || index < 0)
                continue;
            var syscalls = sections[index].Syscalls.ToDictionary(kv => kv.Key, kv => kv.Value);
            for (ulong m = (ulong)n + 1; m <= top; m++)
            {
                int nr = unchecked((int)(uint)m);
                if (!arch.Owns(nr) || recorded.Contains((arch, nr)))
                    continue;
                syscalls[nr] = [new Rule(Condition.True, earlier.Action, earlier.Source)];
                comments[(arch, nr)] = ["newer-syscalls of the merged policy"];
            }
            sections[index] = new ArchitecturePolicy(arch, syscalls);
        }
        return new NewerSyscalls(earlier.Action, newest, earlier.Basis, earlier.Source);
    }

    private static bool Runs(SeccompAction action) => action.Effective.Kind is SeccompActionKind.Allow or SeccompActionKind.Log;

    private static string? From(Rule rule) => rule.Source is { } s ? $"from {s}" : null;

    private static string Calls(long n) => n == 1 ? "1 call" : string.Create(CultureInfo.InvariantCulture, $"{n:N0} calls");

    /// <summary>A number the policy language can write for <paramref name="arch"/>.</summary>
    private static bool Writable(Architecture arch, int nr) =>
        arch.Syscalls.TryGetName(nr, out _) || (nr >= 0 && (arch.SyscallNumberBit == 0 || (nr & (int)arch.SyscallNumberBit) != 0));

    /// <summary>The earlier policy's architectures, then the machine's, then any other that made calls.</summary>
    private static List<Architecture> Architectures(SeccompPolicy? merged, IEnumerable<Architecture> seen)
    {
        var list = new List<Architecture>();
        foreach (var arch in (merged?.Sections.Select(s => s.Architecture) ?? []).Concat(PolicyBuilder.DefaultArchitectures).Concat(seen))
            if (!list.Contains(arch))
                list.Add(arch);
        return list;
    }

    private static (List<Rule> Rules, List<string?> Comments, string? Note) RulesFor(RecordedSyscall s, ArgumentRecording level, PolicySource source)
    {
        var all = new Rule(Condition.True, SeccompAction.Allow, source);
        var tracked = RecordedArguments.For(s.Architecture, s.Number, level);
        if (tracked.Count == 0 || !s.Architecture.Syscalls.TryGet(s.Number, out var syscall))
            return ([all], [Calls(s.Count)], null);
        if (s.Combinations is null)
            return ([all], [Calls(s.Count)],
                    string.Create(CultureInfo.InvariantCulture, $"{syscall.Name}: more than {CallRecording.MaxCombinations} combinations of {string.Join(", ", tracked.Select(t => t.Argument.Argument))}: by name only"));

        // Arguments with too many values are not "few": dropped, and said so.
        var dropped = new List<string>();
        var kept = new List<int>();
        for (int i = 0; i < tracked.Count; i++)
        {
            int distinct = s.Combinations.Select(c => c.Values[i]).Distinct().Count();
            if (tracked[i].Argument.Kind == ArgumentKind.Value && distinct > RecordedArguments.MaxValues)
                dropped.Add(string.Create(CultureInfo.InvariantCulture, $"{tracked[i].Argument.Argument} took {distinct} values"));
            else
                kept.Add(i);
        }
        string? note = dropped.Count == 0 ? null
            : $"{syscall.Name}: {string.Join(", ", dropped)} (more than {RecordedArguments.MaxValues}): not in the conditions";

        var values = kept.Where(i => tracked[i].Argument.Kind == ArgumentKind.Value).ToList();
        var flags = kept.Where(i => tracked[i].Argument.Kind == ArgumentKind.Flags).ToList();
        var groups = s.Combinations
            .GroupBy(c => string.Join(',', values.Select(i => c.Values[i].ToString("x", CultureInfo.InvariantCulture))))
            .Select(g => (Values: values.Select(i => g.First().Values[i]).ToArray(),
                          Flags: flags.Select(i => g.Aggregate(0UL, (u, c) => u | c.Values[i])).ToArray(),
                          Count: g.Sum(c => c.Count)))
            .OrderByDescending(g => g.Count).ThenBy(g => string.Join(',', g.Values), StringComparer.Ordinal)
            .ToList();

        var rules = new List<Rule>();
        var counts = new List<string?>();
        foreach (var g in groups)
        {
            var tests = new List<Condition>();
            for (int k = 0; k < values.Count; k++)
                tests.Add(Condition.Of(Predicate(syscall, tracked[values[k]].Index, ComparisonOp.Eq, g.Values[k], ulong.MaxValue)));
            for (int k = 0; k < flags.Count; k++)
            {
                int index = tracked[flags[k]].Index;
                ulong width = ArgPredicate.WidthMask(Width(s.Architecture, syscall, index));
                ulong unseen = ~g.Flags[k] & width;
                if (unseen == 0)
                    continue; // every bit was seen: no test
                tests.Add(Condition.Of(g.Flags[k] == 0
                    ? Predicate(syscall, index, ComparisonOp.Eq, 0, ulong.MaxValue)
                    : Predicate(syscall, index, ComparisonOp.MaskedEq, 0, unseen)));
            }
            if (tests.Count == 0)
                return ([all], [Calls(s.Count)], note);
            rules.Add(new Rule(tests.Count == 1 ? tests[0] : Condition.All(tests), SeccompAction.Allow, source));
            counts.Add(Calls(g.Count));
        }
        return (rules, counts, note);
    }

    private static ArgPredicate Predicate(Syscall syscall, int index, ComparisonOp op, ulong value, ulong mask) =>
        ArgPredicate.ForArgument(syscall, index, op, value, mask & ArgPredicate.WidthMask(syscall.ArgWidth(index)), out _);

    private static int Width(Architecture arch, Syscall syscall, int index) =>
        arch.Is64Bit ? syscall.ArgWidth(index) : Math.Min(syscall.ArgWidth(index), ArgPredicate.RegisterWidth32);
}
