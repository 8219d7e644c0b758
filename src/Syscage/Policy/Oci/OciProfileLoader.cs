using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Syscage.Bpf;
using Syscage.Abi;

namespace Syscage.Policy.Oci;

/// <summary>
/// Loads OCI runtime-spec / Docker seccomp profiles (JSON) into the policy IR with the meaning they have for
/// Docker (moby <c>profiles/seccomp</c>) + runc (<c>libcontainer/seccomp</c>) + libseccomp 2.5.
/// </summary>
/// <remarks>
/// <para>What a profile means, step by step, as those programs do it:</para>
/// <list type="number">
/// <item>Covered architectures: the native one (libseccomp's <c>seccomp_init</c> always adds it), plus
/// <c>architectures</c>, or — Docker — the <c>archMap</c> entry whose <c>architecture</c> is the native one,
/// with its <c>subArchitectures</c>. Giving both is an error (moby). Other architectures get libseccomp's
/// default bad-arch action, <c>SCMP_ACT_KILL</c> (KILL_THREAD).</item>
/// <item>An entry applies unless <c>excludes.arches</c> names the host (moby's Go name: amd64, arm64, x86 ...),
/// <c>excludes.caps</c> names a capability the container has, or the kernel is at least
/// <c>excludes.minKernel</c>; and only if <c>includes.arches</c> (when given) names the host, every
/// <c>includes.caps</c> is held and the kernel is at least <c>includes.minKernel</c>.</item>
/// <item>Actions as runc's <c>getAction</c>: SCMP_ACT_KILL is KILL_THREAD; ERRNO and TRACE take <c>errnoRet</c>,
/// by default EPERM (1) — for the default action <c>defaultErrnoRet</c>. An entry whose action equals the
/// default action is skipped (runc: "this rule is redundant").</item>
/// <item>Names: looked up per covered architecture; a name an architecture lacks is skipped there (libseccomp);
/// a name no Syscage table knows is a warning (Docker profiles name calls of other architectures).</item>
/// <item><c>args</c> are ANDed, except when two name the same argument: runc then adds one rule per comparison,
/// so they are ORed. Each is compared at the width the kernel reads the argument (the low 32 bits of an
/// <c>int</c>); libseccomp compares 64 bits, so there <c>socket((1 &lt;&lt; 32) | AF_VSOCK)</c> passes Docker's
/// <c>domain != AF_VSOCK</c>. The plain meaning wins; a value that does not fit the width is a warning and is reduced
/// to it (docs/libseccomp-differences.md).</item>
/// <item>Several rules for one syscall: libseccomp keeps the first rule without argument checks and drops all
/// others — before or after it (<c>db_rule_add</c>: a new unconditional rule replaces the existing chains; an
/// existing one makes later rules redundant). So does the IR. Conditional rules with different actions that can match
/// the same call are decided in libseccomp's order, not the profile's: libseccomp merges them into one decision tree
/// whose levels are sorted by argument, operator and value (<see cref="LibseccompTree"/>), and the IR lists the tree's
/// paths in the order its filter tries them (<see cref="LibseccompOrder"/>) — where libseccomp's tree gives a call the
/// action of no entry that matches it, or none although one does, an entry that matches decides. An entry libseccomp
/// refuses (<c>-EEXIST</c>) or loops on is a warning (runc would not start the container) and is tried after the
/// others. See docs/libseccomp-differences.md, "Overlapping entries".</item>
/// <item>runc's ENOSYS stub (<c>libcontainer/seccomp/patchbpf</c>): when the default action is not ALLOW, LOG or
/// TRACE, a call whose number is above the largest number the profile names on its architecture gets
/// ERRNO(ENOSYS), so programs built for a newer kernel fall back from syscalls the profile could not name
/// (<see cref="SeccompPolicy.Newer"/>; <see cref="OciOptions.RuncEnosysStub"/> turns it off). The names are
/// resolved with Syscage's tables, runc resolves them with libseccomp's.</item>
/// <item>socketcall/ipc multiplexing: on the ABIs with <c>socketcall(2)</c> or <c>ipc(2)</c> (x86, ppc, s390, mips o32
/// ...) a rule for <c>socket</c>, <c>connect</c>, <c>semop</c> ... also decides that call made through its multiplexer
/// (<see cref="PolicyBuilder"/>), as libseccomp's <c>*_rule_add</c> does; a name the ABI has only there (<c>accept</c> on
/// x86) is a rule on the multiplexer alone. A multiplexer's own unconditional rule wins over them. Where the entry
/// has <c>args</c>, the multiplexed form hides them in memory: libseccomp then drops the comparison on argument 0 and
/// compares the others with the multiplexer's registers; the IR takes the most restrictive action the entry could lead
/// to (docs/libseccomp-differences.md).</item>
/// </list>
/// </remarks>
public static class OciProfileLoader
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { CommentHandling = JsonCommentHandling.Skip, MaxDepth = InputLimits.MaxJsonDepth };
    private static readonly JsonReaderOptions ReaderOptions = new() { CommentHandling = JsonCommentHandling.Skip, MaxDepth = InputLimits.MaxJsonDepth };

    /// <summary>The <c>SCMP_ARCH_*</c> names of every architecture libseccomp knows (<see cref="Architecture.ScmpName"/>).</summary>
    private static readonly Dictionary<string, Architecture> ScmpArches =
        Architecture.All.ToDictionary(a => a.ScmpName, StringComparer.Ordinal);

    /// <summary>
    /// The filter flags the runtime spec defines. runc 1.1–1.3 knows TSYNC (and ignores it), LOG and SPEC_ALLOW, and
    /// refuses WAIT_KILLABLE_RECV ("is not known to runc", <c>libcontainer/seccomp/seccomp_linux.go</c>: <c>setFlag</c>);
    /// Syscage applies it (it needs a NOTIFY entry: the kernel wants a listener with it).
    /// </summary>
    private static readonly string[] KnownFlags =
    [
        "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    ];

    private static readonly string[] TopLevelFields =
        ["defaultAction", "defaultErrnoRet", "architectures", "archMap", "syscalls", "flags", "listenerPath", "listenerMetadata"];
    private static readonly string[] SyscallFields = ["name", "names", "action", "errnoRet", "args", "includes", "excludes", "comment"];
    private static readonly string[] ArgFields = ["index", "value", "valueTwo", "op"];
    private static readonly string[] FilterFields = ["caps", "arches", "minKernel"];
    private static readonly string[] ArchMapFields = ["architecture", "subArchitectures"];

    /// <summary>Loads a profile file; <see cref="OciOptions.FileName"/> defaults to <paramref name="path"/>.</summary>
    /// <exception cref="OciProfileException">The profile is malformed or means nothing runc would accept.</exception>
    /// <exception cref="InputTooLargeException">The file is larger than <see cref="InputLimits.MaxTextBytes"/>.</exception>
    public static OciProfile Load(string path, OciOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= new OciOptions();
        if (options.FileName == new OciOptions().FileName)
            options = options with { FileName = path };
        return Parse(InputFile.ReadTextBytes(path), options);
    }

    /// <summary>Loads a profile from its JSON text.</summary>
    /// <exception cref="OciProfileException">The profile is malformed or means nothing runc would accept.</exception>
    public static OciProfile Parse(string json, OciOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        return Parse(Encoding.UTF8.GetBytes(json), options);
    }

    /// <summary>Loads a profile from its UTF-8 JSON bytes.</summary>
    /// <exception cref="OciProfileException">The profile is malformed or means nothing runc would accept.</exception>
    public static OciProfile Parse(byte[] utf8, OciOptions? options = null) =>
        TryParse(utf8, options, out var profile, out var error) ? profile : throw error.ToException();

    /// <summary>Like <see cref="Parse(string, OciOptions?)"/>, but returns the error message instead of throwing.</summary>
    public static bool TryParse(string json, OciOptions? options, [NotNullWhen(true)] out OciProfile? profile, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(json);
        error = null;
        if (TryParse(Encoding.UTF8.GetBytes(json), options, out profile, out var failure))
            return true;
        error = failure.ToString();
        return false;
    }

    /// <summary>Loads a profile from its UTF-8 JSON bytes; on failure <paramref name="error"/> is the first error.</summary>
    internal static bool TryParse(byte[] utf8, OciOptions? options, [NotNullWhen(true)] out OciProfile? profile, [NotNullWhen(false)] out OciProfileError? error)
    {
        ArgumentNullException.ThrowIfNull(utf8);
        options ??= new OciOptions();
        profile = null;
        int invalid = JsonPositions.FirstInvalidUtf8(utf8);
        if (invalid >= 0)
        {
            var (line, column) = JsonPositions.At(utf8, invalid);
            error = new OciProfileError(options.FileName, line, column, "",
                string.Create(CultureInfo.InvariantCulture, $"not valid UTF-8: byte 0x{utf8[invalid]:x2} (a profile is UTF-8 text)"));
            return false;
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8, DocumentOptions);
        }
        catch (JsonException e)
        {
            // System.Text.Json has no Try method: malformed JSON (or nesting past MaxJsonDepth) is only ever thrown.
            var (line, column) = JsonPositions.At(utf8, e.LineNumber ?? 0, e.BytePositionInLine ?? 0);
            error = new OciProfileError(options.FileName, line, column, "", $"not valid JSON: {FirstSentence(e.Message)}");
            return false;
        }
        using (document)
        {
            var positions = JsonPositions.Scan(utf8, ReaderOptions);
            return new Lowering(options, positions).TryRun(document.RootElement, out profile, out error);
        }
    }

    /// <summary>The reader's message without the position and path it appends (the error says file:line:col).</summary>
    private static string FirstSentence(string message)
    {
        foreach (string tail in (string[])[" LineNumber:", " Path:"])
        {
            int cut = message.IndexOf(tail, StringComparison.Ordinal);
            if (cut > 0)
                message = message[..cut];
        }
        return message.TrimEnd();
    }

    /// <summary>
    /// One load: the options, positions, warnings, and the walk over the document. Try-first: a step that finds the
    /// profile wrong records it (<see cref="Fail"/>) and returns false, and so does every caller.
    /// </summary>
    private sealed class Lowering(OciOptions options, JsonPositions positions)
    {
        /// <summary>How many unknown syscall names get a did-you-mean hint; the CLI shows the first three warnings.</summary>
        private const int MaxSyscallHints = 16;
        private readonly FirstError<OciProfileError> _errors = new();
        private readonly List<OciWarning> _warnings = [];
        private readonly HashSet<(string Path, string Message)> _misfits = [];
        private readonly string _file = options.FileName;
        private int _hinted;
        /// <summary>Rules resolved in libseccomp's order so far (bounded by <see cref="LibseccompOrder.MaxRulesPerProfile"/>).</summary>
        private int _ordered;

        public bool TryRun(JsonElement root, [NotNullWhen(true)] out OciProfile? profile, [NotNullWhen(false)] out OciProfileError? error) =>
            _errors.Outcome(Run(root, out profile), out error);

        private bool Run(JsonElement root, [NotNullWhen(true)] out OciProfile? profile)
        {
            profile = null;
            if (root.ValueKind != JsonValueKind.Object)
                return Fail("", "a seccomp profile is a JSON object");
            var fields = Fields(root, "", TopLevelFields);

            // Default action.
            if (!OptionalUInt16(fields, "defaultErrnoRet", "defaultErrnoRet", out uint? defaultErrnoRet)
                || !OptionalString(fields, "defaultAction", "defaultAction", out string? defaultName))
                return false;
            if (defaultName is not { Length: > 0 })
                return Fail("defaultAction", "missing: a profile needs a defaultAction (e.g. SCMP_ACT_ERRNO)");
            if (!Action(defaultName, "defaultAction", defaultErrnoRet, out var defaultAction))
                return false;
            if (defaultAction.Kind == SeccompActionKind.UserNotif)
                return Fail("defaultAction", "SCMP_ACT_NOTIFY cannot be the default action (runc refuses it: write(2) would be notified too)");

            // Architectures.
            var native = options.NativeArchitecture;
            var arches = new List<Architecture> { native };
            bool Cover(JsonElement name, string path)
            {
                if (!ScmpArch(name, path, out var arch))
                    return false;
                if (!arches.Contains(arch))
                    arches.Add(arch);
                return true;
            }
            if (!NonEmptyArray(fields, "architectures", "architectures", out var archList)
                || !NonEmptyArray(fields, "archMap", "archMap", out var archMap))
                return false;
            if (archList is not null && archMap is not null)
                return Fail("archMap", "'architectures' and 'archMap' were both given; use one of them (Docker refuses both)");
            if (archList is { } list)
            {
                int i = 0;
                foreach (var a in list.EnumerateArray())
                    if (!Cover(a, Indexed("architectures", i++)))
                        return false;
            }
            else if (archMap is { } map)
            {
                int i = 0;
                string nativeScmp = ScmpName(native);
                foreach (var entry in map.EnumerateArray())
                {
                    string path = Indexed("archMap", i++);
                    if (entry.ValueKind != JsonValueKind.Object)
                        return Fail(path, "an archMap entry is an object with 'architecture' and 'subArchitectures'");
                    var ef = Fields(entry, path, ArchMapFields);
                    if (Optional(ef, "architecture") is not { } mainEl)
                        return Fail(path + ".architecture", "missing: the SCMP_ARCH_* name this entry is for");
                    if (!String(mainEl, path + ".architecture", out string main))
                        return false;
                    if (!ScmpArches.ContainsKey(main))
                        Warn(path + ".architecture", UnknownName("architecture", main, ScmpArches.Keys));
                    if (main != nativeScmp)
                        continue;
                    // Docker takes the first entry for the native architecture only.
                    if (Optional(ef, "subArchitectures") is { } subs)
                    {
                        if (!Array(subs, path + ".subArchitectures", out var subList))
                            return false;
                        int j = 0;
                        foreach (var sub in subList)
                            if (!Cover(sub, Indexed(path + ".subArchitectures", j++)))
                                return false;
                    }
                    break;
                }
            }

            // Flags and the listener.
            var flags = new List<string>();
            if (Optional(fields, "flags") is { } flagList)
            {
                if (!Array(flagList, "flags", out var flagItems))
                    return false;
                int i = 0;
                foreach (var f in flagItems)
                {
                    string path = Indexed("flags", i++);
                    if (!String(f, path, out string name))
                        return false;
                    if (!KnownFlags.Contains(name, StringComparer.Ordinal))
                        return Fail(path, UnknownName("seccomp flag", name, KnownFlags));
                    flags.Add(name);
                }
            }
            if (!OptionalString(fields, "listenerPath", "listenerPath", out string? listenerPath)
                || !OptionalString(fields, "listenerMetadata", "listenerMetadata", out string? listenerMetadata))
                return false;

            // Syscall entries.
            var entries = new List<OciSyscallEntry>();
            if (Optional(fields, "syscalls") is { } syscalls)
            {
                if (!Array(syscalls, "syscalls", out var syscallItems))
                    return false;
                int i = 0;
                foreach (var s in syscallItems)
                {
                    if (!Entry(s, i++, out var entry))
                        return false;
                    if (entry is not null)
                        entries.Add(entry);
                }
            }
            if (entries.FirstOrDefault(e => e.Action.Kind == SeccompActionKind.UserNotif && e.Names.Contains("write")) is { } bad)
                return Fail(Indexed("syscalls", bad.Index), "SCMP_ACT_NOTIFY cannot be used for write (runc refuses it: it writes the notification fd with it)");

            var policy = Lower(defaultAction, arches, entries);
            profile = new OciProfile(policy, arches, entries, flags, listenerPath, listenerMetadata, _warnings);
            return true;
        }

        /// <summary>Builds the IR: per covered architecture and syscall, the rules in the order that keeps runc + libseccomp's meaning.</summary>
        private SeccompPolicy Lower(SeccompAction defaultAction, List<Architecture> arches, List<OciSyscallEntry> entries)
        {
            var perCall = new Dictionary<(Architecture Arch, int Nr), List<RuncRule>>();
            var order = new List<(Architecture Arch, int Nr)>();
            var multiplexedOnly = new Dictionary<(Architecture Arch, MultiplexedCall Call), List<Rule>>();
            foreach (var entry in entries)
            {
                // runc: "This rule is redundant, silently skip it" (libseccomp refuses a rule with the default action).
                if (entry.Action == defaultAction)
                    continue;
                for (int n = 0; n < entry.Names.Count; n++)
                {
                    string name = entry.Names[n];
                    bool known = false;
                    foreach (var arch in arches)
                    {
                        if (!arch.Syscalls.TryGet(name, out var syscall))
                        {
                            // A call the ABI makes only through socketcall(2)/ipc(2), such as accept on x86: libseccomp
                            // puts the rule on the multiplexer alone.
                            if (arch.TryGetMultiplexed(name, out var call))
                                MultiplexedOnly(multiplexedOnly, arch, call, entry);
                            continue;
                        }
                        known = true;
                        int nr = syscall.Number;
                        if (!perCall.TryGetValue((arch, nr), out var list))
                        {
                            perCall[(arch, nr)] = list = [];
                            order.Add((arch, nr));
                        }
                        // runc: one seccomp_rule_add per name, or one per comparison when two name the same argument.
                        foreach (var comparisons in Comparisons(entry, syscall))
                            list.Add(new RuncRule(list.Count, [.. comparisons.Select(c => c.At(arch.Is64Bit))], entry.Action, entry.Source));
                    }
                    if (!known && !Architecture.All.Any(a => a.Syscalls.TryGetNumber(name, out _)))
                    {
                        string path = entry.Names.Count == 1 && entry.Source.Text?.EndsWith(".name", StringComparison.Ordinal) == true
                            ? entry.Source.Text : Indexed(Indexed("syscalls", entry.Index) + ".names", n);
                        // A hint searches every table: only the first few unknown names get one, so that a profile of a
                        // million made-up names loads in linear time.
                        var hint = _hinted++ < MaxSyscallHints
                            ? Architecture.All.SelectMany(a => a.Syscalls.SuggestNames(name, 1)).Distinct().FirstOrDefault() : null;
                        Warn(path, $"unknown syscall '{name}' on every architecture Syscage knows; skipped" + (hint is null ? "" : $" (did you mean {hint}?)"));
                    }
                }
            }

            var builder = new PolicyBuilder(defaultAction, arches) { BadArchAction = SeccompAction.KillThread, Name = _file, Newer = RuncEnosys(defaultAction, arches, entries) };
            // A multiplexer's own rule without argument checks wins over the rules the calls it makes put on it (which all
            // compare argument 0), whatever the order: added first, it decides before them.
            foreach (var key in order.OrderBy(k => IsMultiplexer(k.Arch, k.Nr) && perCall[k].Any(r => r.Checks.Count == 0) ? 0 : 1))
                foreach (var rule in Resolve(key.Arch, key.Nr, perCall[key]))
                    builder.Add(key.Arch, key.Nr, rule);
            foreach (var ((arch, call), rules) in multiplexedOnly)
            {
                var unconditional = rules.FirstOrDefault(r => IsUnconditional(r.Condition, arch));
                foreach (var rule in unconditional is null ? rules : [unconditional])
                    builder.AddMultiplexed(arch, call, rule);
            }
            return builder.Build();
        }

        /// <summary>Collects the rules of <paramref name="entry"/> for a call <paramref name="arch"/> makes only through its multiplexer.</summary>
        private void MultiplexedOnly(Dictionary<(Architecture Arch, MultiplexedCall Call), List<Rule>> rules, Architecture arch, MultiplexedCall call, OciSyscallEntry entry)
        {
            if (!rules.TryGetValue((arch, call), out var list))
                rules[(arch, call)] = list = [];
            foreach (var comparisons in Comparisons(entry, call.On(arch)!))
                list.Add(new Rule(new RuncRule(list.Count, [.. comparisons.Select(c => c.At(arch.Is64Bit))], entry.Action, entry.Source).Condition,
                    entry.Action, entry.Source));
        }

        /// <summary>True when <paramref name="nr"/> is <c>socketcall(2)</c> or <c>ipc(2)</c> on <paramref name="arch"/>.</summary>
        private static bool IsMultiplexer(Architecture arch, int nr) => nr == arch.SocketcallNumber || nr == arch.IpcNumber;

        /// <summary>
        /// runc's ENOSYS stub (<c>libcontainer/seccomp/patchbpf/enosys_linux.go</c>: <c>generatePatch</c>,
        /// <c>findLastSyscalls</c>), as the IR's <see cref="NewerSyscalls"/>: unless the default action is ALLOW, LOG or
        /// TRACE (<c>isAllowAction</c>: "a good tracer should support future syscalls"), a call past the largest syscall
        /// number the profile names on its architecture gets ERRNO(ENOSYS) before the filter. The largest number is
        /// taken over every entry that reached runc — whatever its action, the default's included — with each name
        /// resolved on that architecture as libseccomp resolves it (so not the socket and IPC calls of the ABIs with
        /// socketcall(2) and ipc(2), which it multiplexes) and unknown names ignored; an architecture where it is 0 (no name found, or
        /// only number 0) gets no check. x86_64 and x32 keep their own largest numbers, told apart by the x32 bit. null
        /// when <see cref="OciOptions.RuncEnosysStub"/> is off, the default action allows, or no architecture has a number.
        /// </summary>
        private NewerSyscalls? RuncEnosys(SeccompAction defaultAction, List<Architecture> arches, List<OciSyscallEntry> entries)
        {
            if (!options.RuncEnosysStub || defaultAction.Kind is SeccompActionKind.Allow or SeccompActionKind.Log or SeccompActionKind.Trace)
                return null;
            var newest = new Dictionary<Architecture, uint>();
            foreach (var arch in arches)
            {
                uint largest = 0;
                foreach (var name in entries.SelectMany(e => e.Names))
                    // libseccomp resolves a call the ABI's multiplexer makes to a negative pseudo number (__PNR_socket ...,
                    // abi_syscall_resolve_name_munge; in 2.5 x86_syscall_resolve_name_munge and its copies for ppc, s390
                    // and mips), direct number or not: runc's largest number never comes from one.
                    if (arch.Syscalls.TryGetNumber(name, out int nr) && !arch.TryGetMultiplexed(name, out _))
                        largest = Math.Max(largest, unchecked((uint)nr));
                if (largest != 0)
                    newest[arch] = largest;
            }
            return newest.Count == 0 ? null : new NewerSyscalls(SeccompAction.Errno(Errno.ENOSYS), newest, "the profile names",
                new PolicySource(_file, 0, 0, "as runc does (its ENOSYS stub, libcontainer/seccomp/patchbpf)"));
        }

        /// <summary>
        /// The IR rules of one syscall on one architecture, decided as libseccomp decides them. libseccomp
        /// (<c>db_rule_add</c>) keeps the first rule without argument checks and drops every other rule, before or after
        /// it. When rules with different actions can match the same call, which one decides is libseccomp's tree order,
        /// not the profile's (<see cref="LibseccompOrder"/>); otherwise profile order says the same and is kept.
        /// </summary>
        private IEnumerable<Rule> Resolve(Architecture arch, int nr, List<RuncRule> rules)
        {
            if (rules.FirstOrDefault(r => r.Checks.Count == 0) is { } unconditional)
                return [new Rule(Condition.True, unconditional.Action, unconditional.Source)];
            var inOrder = rules.Select(r => new Rule(r.Condition, r.Action, r.Source));
            if (rules.Select(r => r.Action).Distinct().Count() < 2)
                return inOrder;
            string call = arch.Syscalls.TryGetName(nr, out var name) ? name : nr.ToString(CultureInfo.InvariantCulture);
            if (rules.Count > LibseccompOrder.MaxRules)
            {
                Warn(rules[0].Source?.Text ?? "syscalls", string.Create(CultureInfo.InvariantCulture,
                    $"{rules.Count} rules for {call} on {arch.Name}, more than the {LibseccompOrder.MaxRules} whose overlaps Syscage resolves in libseccomp's order; they are tried in profile order"));
                return inOrder;
            }
            if ((_ordered += rules.Count) > LibseccompOrder.MaxRulesPerProfile)
            {
                Warn(rules[0].Source?.Text ?? "syscalls", string.Create(CultureInfo.InvariantCulture,
                    $"the profile has more than {LibseccompOrder.MaxRulesPerProfile} conditional rules with different actions for one syscall in all, more than Syscage resolves in libseccomp's order; those for {call} on {arch.Name} are tried in profile order"));
                return inOrder;
            }
            // The tree is built even when no two rules can match one call: libseccomp may still refuse or loop on them.
            var result = LibseccompOrder.Lower(rules, halves: arch.Is64Bit && arch != Architecture.X32);
            foreach (var (rule, what) in result.NotAdded)
            {
                string path = rule.Source?.Text ?? "syscalls";
                if (what == TreeAddResult.Refused)
                    Warn(path, $"libseccomp refuses this entry for {call} on {arch.Name} (seccomp_rule_add: -EEXIST, a test it shares with an earlier entry has another action there): runc would not start the container; Syscage tries it after the entries libseccomp accepts");
                else if (what == TreeAddResult.Loops)
                    Warn(path, $"libseccomp never returns from adding this entry for {call} on {arch.Name} (its lists become circular): runc would hang; Syscage tries it after the entries libseccomp accepts");
                else if (what == TreeAddResult.Redundant)
                    Warn(path, $"libseccomp drops this entry for {call} on {arch.Name}, taking it for covered by a shorter entry with the same test: under runc its calls go to other entries or the default action; Syscage keeps it");
            }
            if (result.Failure is { } failure)
                Warn(rules[0].Source?.Text ?? "syscalls", $"the entries for {call} on {arch.Name} cannot be put in libseccomp's order ({failure}); Syscage tries them in profile order");
            // Where no two rules with different actions can match one call, the order cannot matter: profile order
            // reads as the profile does.
            if (!Overlap(rules))
                return inOrder;
            return result.Rules;
        }

        /// <summary>True when two rules with different actions may match the same call (conservatively: unless some argument tells them apart).</summary>
        private static bool Overlap(List<RuncRule> rules)
        {
            for (int i = 0; i < rules.Count; i++)
                for (int j = i + 1; j < rules.Count; j++)
                    if (rules[i].Action != rules[j].Action && !Disjoint(rules[i], rules[j]))
                        return true;
            return false;
        }

        private static bool Disjoint(RuncRule a, RuncRule b) =>
            a.Checks.Any(x => b.Checks.Any(y => x.Arg == y.Arg && Exclusive(x, y)));

        /// <summary>True when no argument value satisfies both comparisons (false when unsure).</summary>
        private static bool Exclusive(ArgPredicate x, ArgPredicate y)
        {
            if (x.Width != y.Width)
                return false;
            if (x.Op == ComparisonOp.MaskedEq && y.Op == ComparisonOp.MaskedEq)
                return ((x.Value ^ y.Value) & x.Mask & y.Mask) != 0;
            if (x.Op == ComparisonOp.MaskedEq || y.Op == ComparisonOp.MaskedEq)
            {
                var (m, e) = x.Op == ComparisonOp.MaskedEq ? (x, y) : (y, x);
                return e.Op == ComparisonOp.Eq && ((e.Value ^ m.Value) & m.Mask) != 0;
            }
            if (x.Op == ComparisonOp.Ne || y.Op == ComparisonOp.Ne)
            {
                var (ne, other) = x.Op == ComparisonOp.Ne ? (x, y) : (y, x);
                return other.Op == ComparisonOp.Eq && other.Value == ne.Value;
            }
            var (xl, xh) = Range(x);
            var (yl, yh) = Range(y);
            return xl > xh || yl > yh || xh < yl || yh < xl;
        }

        /// <summary>The values a comparison (EQ, LT, LE, GT, GE) accepts, as an interval (empty when low &gt; high).</summary>
        private static (ulong Low, ulong High) Range(ArgPredicate p)
        {
            ulong max = ArgPredicate.WidthMask(p.Width);
            return p.Op switch
            {
                ComparisonOp.Eq => (p.Value, p.Value),
                ComparisonOp.Lt => p.Value == 0 ? (1UL, 0UL) : (0UL, p.Value - 1),
                ComparisonOp.Le => (0UL, p.Value),
                ComparisonOp.Gt => p.Value >= max ? (1UL, 0UL) : (p.Value + 1, max),
                _ => (p.Value, max),
            };
        }

        /// <summary>
        /// The entry's comparisons for <paramref name="syscall"/>, as the rules runc adds (one, ANDed; or one per comparison
        /// when two name the same argument), each at the width the kernel reads its argument. A value that does not fit
        /// the width is a warning, once per value and syscall; the comparison uses the bits the kernel reads, the
        /// profile's plain meaning (libseccomp compares all 64 bits, so <c>socket((1 &lt;&lt; 32) | AF_VSOCK)</c> passes
        /// <c>domain != AF_VSOCK</c> there; see docs/libseccomp-differences.md).
        /// </summary>
        private IReadOnlyList<IReadOnlyList<ArgPredicate>> Comparisons(OciSyscallEntry entry, Syscall syscall)
        {
            if (entry.Args.Count == 0)
                return [[]];
            var predicates = new List<ArgPredicate>();
            for (int j = 0; j < entry.Args.Count; j++)
            {
                var p = entry.Args[j].ToPredicate(syscall, out string? misfit);
                string path = Indexed(Indexed("syscalls", entry.Index) + ".args", j) + ".value";   // for MASKED_EQ, the mask
                if (misfit is not null && _misfits.Add((path, misfit)))
                    Warn(path, misfit + "; compared on those bits, as the kernel reads them");
                predicates.Add(p);
            }
            return entry.ArgsAreOred ? [.. predicates.Select(p => (IReadOnlyList<ArgPredicate>)[p])] : [predicates];
        }

        /// <summary>
        /// True when no argument check is left of the condition on <paramref name="arch"/> (libseccomp's test for a rule
        /// that wins over the syscall's other rules): no predicates, or only MASKED_EQ with a mask that is zero at the
        /// width the comparison is made at.
        /// </summary>
        private static bool IsUnconditional(Condition condition, Architecture arch) =>
            condition.IsTrue
            || condition is Condition.AllOf or Condition.Predicate
            && condition.Predicates().All(p => p.Op == ComparisonOp.MaskedEq && p.At(arch.Is64Bit).Mask == 0);

        /// <summary>One <c>syscalls[i]</c>; <paramref name="entry"/> is null when its includes/excludes leave it out.</summary>
        private bool Entry(JsonElement s, int index, out OciSyscallEntry? entry)
        {
            entry = null;
            string path = Indexed("syscalls", index);
            if (s.ValueKind != JsonValueKind.Object)
                return Fail(path, "a syscalls entry is an object with 'names' and 'action'");
            var f = Fields(s, path, SyscallFields);

            // Includes and excludes, in moby's order; an entry they leave out is no error, and no entry.
            if (Optional(f, "excludes") is { } ex)
            {
                if (!Filter(ex, path + ".excludes", exclude: true, out bool excluded))
                    return false;
                if (excluded)
                    return true;
            }
            if (Optional(f, "includes") is { } inc)
            {
                if (!Filter(inc, path + ".includes", exclude: false, out bool included))
                    return false;
                if (!included)
                    return true;
            }

            if (!OptionalString(f, "name", path + ".name", out string? single) || !NonEmptyArray(f, "names", path + ".names", out var namesEl))
                return false;
            if (single is { Length: > 0 } && namesEl is not null)
                return Fail(path + ".name", "'name' and 'names' were both given; use one of them");
            var names = new List<string>();
            string sourcePath = path;
            if (single is { Length: > 0 })
            {
                names.Add(single);
                sourcePath = path + ".name";
            }
            else if (namesEl is { } namesArray)
            {
                int j = 0;
                foreach (var n in namesArray.EnumerateArray())
                {
                    string np = Indexed(path + ".names", j++);
                    if (!String(n, np, out string name))
                        return false;
                    if (name.Length == 0)
                        return Fail(np, "empty string is not a valid syscall");
                    names.Add(name);
                }
            }
            else
                return Fail(path, "missing: 'names' (the syscalls this entry is for)");

            if (!OptionalUInt16(f, "errnoRet", path + ".errnoRet", out uint? errnoRet))
                return false;
            if (Optional(f, "action") is not { } act)
                return Fail(path, "missing: 'action' (e.g. SCMP_ACT_ALLOW)");
            if (!String(act, path + ".action", out string actionName) || !Action(actionName, path + ".action", errnoRet, out var action))
                return false;
            if (errnoRet is not null && action.Kind is not (SeccompActionKind.Errno or SeccompActionKind.Trace))
                Warn(path + ".errnoRet", $"errnoRet is only used with SCMP_ACT_ERRNO and SCMP_ACT_TRACE; ignored for {action}");

            var args = new List<OciArg>();
            if (Optional(f, "args") is { } argList)
            {
                if (!Array(argList, path + ".args", out var argItems))
                    return false;
                int j = 0;
                foreach (var a in argItems)
                {
                    if (!Arg(a, Indexed(path + ".args", j++), out var arg))
                        return false;
                    args.Add(arg);
                }
            }
            var (line, col) = positions.Find(path);
            entry = new OciSyscallEntry(index, names, action, args, new PolicySource(_file, line, col, sourcePath));
            return true;
        }

        private bool Arg(JsonElement a, string path, [NotNullWhen(true)] out OciArg? arg)
        {
            arg = null;
            if (a.ValueKind != JsonValueKind.Object)
                return Fail(path, "an argument comparison is an object with 'index', 'value', 'op'");
            var f = Fields(a, path, ArgFields);
            if (!f.TryGetValue("index", out var idx))
                return Fail(path, "missing: 'index' (0..5)");
            if (!UInt64(idx, path + ".index", out ulong index))
                return false;
            if (index > 5)
                return Fail(path + ".index", string.Create(CultureInfo.InvariantCulture, $"argument index {index} is out of range: a syscall has arguments 0..5"));
            if (!f.TryGetValue("op", out var opEl))
                return Fail(path, "missing: 'op' (e.g. SCMP_CMP_EQ)");
            if (!String(opEl, path + ".op", out string opName))
                return false;
            if (!OciNames.TryParseOperator(opName, out var op))
                return Fail(path + ".op", UnknownName("operator", opName, OciNames.OperatorNames));
            if (!OptionalUInt64(f, "value", path + ".value", out ulong value) || !OptionalUInt64(f, "valueTwo", path + ".valueTwo", out ulong valueTwo))
                return false;
            arg = new OciArg((int)index, op, value, valueTwo);
            return true;
        }

        /// <summary>
        /// For excludes: <paramref name="holds"/> is true when any of its conditions holds (the entry is left out). For
        /// includes: true when all of them hold (the entry applies).
        /// </summary>
        private bool Filter(JsonElement filter, string path, bool exclude, out bool holds)
        {
            holds = false;
            if (filter.ValueKind != JsonValueKind.Object)
                return Fail(path, "includes/excludes is an object with 'caps', 'arches', 'minKernel'");
            var f = Fields(filter, path, FilterFields);
            string host = OciOptions.DockerArchName(options.NativeArchitecture);

            bool archHit = false, archGiven = false;
            if (Optional(f, "arches") is { } arches)
            {
                if (!Array(arches, path + ".arches", out var archItems))
                    return false;
                int i = 0;
                foreach (var a in archItems)
                {
                    archGiven = true;
                    if (!String(a, Indexed(path + ".arches", i++), out string arch))
                        return false;
                    archHit |= arch == host;
                }
            }
            bool capsAny = false, capsAll = true;
            if (Optional(f, "caps") is { } caps)
            {
                if (!Array(caps, path + ".caps", out var capItems))
                    return false;
                int i = 0;
                foreach (var c in capItems)
                {
                    if (!String(c, Indexed(path + ".caps", i++), out string cap))
                        return false;
                    bool held = options.Capabilities.Contains(cap);
                    capsAny |= held;
                    capsAll &= held;
                }
            }
            bool? kernelAtLeast = null;
            if (!OptionalString(f, "minKernel", path + ".minKernel", out string? min))
                return false;
            if (min is { Length: > 0 })
            {
                if (!KernelVersion.TryParse(min, out var wanted))
                    return Fail(path + ".minKernel", $"'{min}' is not a kernel version (e.g. \"4.8\" or \"5.10.0\")");
                if (!KernelVersion.TryParse(options.KernelVersion, out var current))
                    return Fail(path + ".minKernel", $"the kernel version to compare with, '{options.KernelVersion}', is not a kernel version");
                kernelAtLeast = current >= wanted;
            }
            holds = exclude
                ? (archGiven && archHit) || capsAny || kernelAtLeast == true
                : (!archGiven || archHit) && capsAll && kernelAtLeast != false;
            return true;
        }

        private bool Action(string name, string path, uint? errnoRet, out SeccompAction action)
        {
            // runc: actErrno / actTrace are SetReturnCode(EPERM) unless errnoRet is given.
            return OciNames.TryParseAction(name, errnoRet, out action) || Fail(path, UnknownName("action", name, OciNames.ActionNames));
        }

        /// <summary>An <c>SCMP_ARCH_*</c> name (every architecture libseccomp knows has a table).</summary>
        private bool ScmpArch(JsonElement element, string path, [NotNullWhen(true)] out Architecture? arch)
        {
            arch = null;
            if (!String(element, path, out string name))
                return false;
            if (name == "SCMP_ARCH_NATIVE")
            {
                arch = options.NativeArchitecture;
                return true;
            }
            return ScmpArches.TryGetValue(name, out arch) || Fail(path, UnknownName("architecture", name, ScmpArches.Keys));
        }

        private static string ScmpName(Architecture arch) => arch.ScmpName;

        /// <summary>The object's fields by name, ignoring case as Go does; unknown fields are a warning (Go ignores them).</summary>
        private Dictionary<string, JsonElement> Fields(JsonElement obj, string path, string[] known)
        {
            var result = new Dictionary<string, JsonElement>(StringComparer.OrdinalIgnoreCase);
            foreach (var p in obj.EnumerateObject())
            {
                string? match = known.FirstOrDefault(k => string.Equals(k, p.Name, StringComparison.OrdinalIgnoreCase));
                if (match is null)
                {
                    string at = path.Length == 0 ? p.Name : $"{path}.{p.Name}";
                    var hint = Suggest.Closest(p.Name, known);
                    Warn(at, $"unknown field '{p.Name}' ignored" + (hint is null ? "" : $" (did you mean {hint}?)"));
                    continue;
                }
                result[match] = p.Value;   // the last of duplicate keys wins, as in Go
            }
            return result;
        }

        /// <summary>A field's value, or null when it is absent or JSON null (Go leaves such a field at its zero value).</summary>
        private static JsonElement? Optional(Dictionary<string, JsonElement> fields, string name) =>
            fields.TryGetValue(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

        /// <summary>A string field, or null when it is absent or JSON null.</summary>
        private bool OptionalString(Dictionary<string, JsonElement> fields, string name, string path, out string? value)
        {
            value = null;
            return Optional(fields, name) is not { } element || String(element, path, out value);
        }

        /// <summary>A number field, or 0 when it is absent or JSON null.</summary>
        private bool OptionalUInt64(Dictionary<string, JsonElement> fields, string name, string path, out ulong value)
        {
            value = 0;
            return Optional(fields, name) is not { } element || UInt64(element, path, out value);
        }

        /// <summary>A field holding a seccomp return value (0..65535), or null when it is absent or JSON null.</summary>
        private bool OptionalUInt16(Dictionary<string, JsonElement> fields, string name, string path, out uint? value)
        {
            value = null;
            if (Optional(fields, name) is not { } element)
                return true;
            if (!UInt16(element, path, out uint v))
                return false;
            value = v;
            return true;
        }

        /// <summary>A field that must be an array when given; <paramref name="value"/> is null when it is absent, JSON null or empty.</summary>
        private bool NonEmptyArray(Dictionary<string, JsonElement> fields, string name, string path, out JsonElement? value)
        {
            value = null;
            if (Optional(fields, name) is not { } element)
                return true;
            if (!Array(element, path, out var items))
                return false;
            if (items.Any())
                value = element;
            return true;
        }

        private bool Array(JsonElement element, string path, out JsonElement.ArrayEnumerator items)
        {
            items = default;
            if (element.ValueKind != JsonValueKind.Array)
                return Fail(path, $"expected an array, found {Kind(element)}");
            items = element.EnumerateArray();
            return true;
        }

        private bool String(JsonElement element, string path, out string value)
        {
            value = "";
            if (element.ValueKind != JsonValueKind.String)
                return Fail(path, $"expected a string, found {Kind(element)}");
            value = element.GetString()!;
            return true;
        }

        private bool UInt64(JsonElement element, string path, out ulong value)
        {
            value = 0;
            return element.ValueKind == JsonValueKind.Number && element.TryGetUInt64(out value)
                || Fail(path, element.ValueKind == JsonValueKind.Number
                    ? $"{element.GetRawText()} is not an unsigned 64-bit integer (write negative values as their two's complement, e.g. 18446744073709551615 for -1)"
                    : $"expected a number, found {Kind(element)}");
        }

        private bool UInt16(JsonElement element, string path, out uint value)
        {
            value = 0;
            if (!UInt64(element, path, out ulong v))
                return false;
            value = (uint)v;
            return v <= ushort.MaxValue
                || Fail(path, string.Create(CultureInfo.InvariantCulture, $"{v} does not fit the 16 data bits of a seccomp return value (0..65535)"));
        }

        private static string Kind(JsonElement e) => e.ValueKind switch
        {
            JsonValueKind.Object => "an object",
            JsonValueKind.Array => "an array",
            JsonValueKind.String => $"the string {e.GetRawText()}",
            JsonValueKind.Number => $"the number {e.GetRawText()}",
            JsonValueKind.True or JsonValueKind.False => e.GetRawText(),
            _ => "null",
        };

        private static string UnknownName(string what, string name, IEnumerable<string> known)
        {
            var hint = Suggest.Closest(name, known);
            return $"unknown {what} '{name}'" + (hint is not null ? $" (did you mean {hint}?)" : $"; expected one of {string.Join(", ", known)}");
        }

        private static string Indexed(string path, int i) => string.Create(CultureInfo.InvariantCulture, $"{path}[{i}]");

        /// <summary>Records the error at <paramref name="path"/> (its line and column); false.</summary>
        private bool Fail(string path, string message)
        {
            var (line, col) = positions.Find(path);
            return _errors.Fail(new OciProfileError(_file, line, col, path, message));
        }

        private void Warn(string path, string message)
        {
            var (line, col) = positions.Find(path);
            _warnings.Add(new OciWarning(_file, line, col, path, message));
        }
    }
}
