using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Syscage.Abi;

namespace Syscage.Policy.Oci;

/// <summary>What <see cref="OciProfileWriter"/> writes.</summary>
public enum ProfileFormat
{
    /// <summary>An OCI runtime-spec / Docker seccomp profile (JSON): <c>linux.seccomp</c> of runc's config.json, <c>docker run --security-opt seccomp=FILE</c>.</summary>
    Oci,

    /// <summary>
    /// A Kubernetes Security Profiles Operator <c>SeccompProfile</c> (<c>security-profiles-operator.x-k8s.io/v1beta1</c>)
    /// as a JSON object — which YAML reads too; <c>syscage compile --format k8s</c> writes it as YAML: the same entries,
    /// without what its schema has no field for (<c>defaultErrnoRet</c>; <c>errnoRet: 0</c>, which it omits) and only the
    /// architectures it lists.
    /// </summary>
    Kubernetes,
}

/// <summary>Options of <see cref="OciProfileWriter"/>.</summary>
public sealed record OciWriteOptions
{
    /// <summary>What to write.</summary>
    public ProfileFormat Format { get; init; } = ProfileFormat.Oci;

    /// <summary>
    /// The architecture of the machines the profile is for: runc (libseccomp's <c>seccomp_init</c>) always covers it, so
    /// the policy must. Default: this machine's.
    /// </summary>
    public Architecture NativeArchitecture { get; init; } = Architecture.Native;

    /// <summary>
    /// <see cref="ProfileFormat.Kubernetes"/>: the object's <c>metadata.name</c> (made a valid Kubernetes name: lower
    /// case, letters, digits, '-' and '.').
    /// </summary>
    public string Name { get; init; } = "syscage-profile";

    /// <summary>
    /// Entries of one syscall at most (argument conditions are written as disjoint masked comparisons: <c>size != 7</c>
    /// on a 64-bit argument is 64 of them). libseccomp makes about four instructions of each, and a filter has at most
    /// 4096.
    /// </summary>
    public int MaxEntriesPerSyscall { get; init; } = 256;
}

/// <summary>A written profile.</summary>
/// <param name="Text">The profile as JSON (for <see cref="ProfileFormat.Kubernetes"/>, the whole object), ending with a line break.</param>
/// <param name="Architectures">The architectures it covers, native first.</param>
/// <param name="Approximations">
/// Where it decides otherwise than the policy — each time stricter: the call is refused where the policy let it run
/// or deferred it, or it is refused in another way (another errno, a kill of the thread instead of the process). Empty
/// when it decides every call as the policy does.
/// </param>
public sealed record OciWriteResult(string Text, IReadOnlyList<Architecture> Architectures, IReadOnlyList<string> Approximations);

/// <summary>
/// Writes a <see cref="SeccompPolicy"/> as an OCI/Docker seccomp profile or a Kubernetes <c>SeccompProfile</c> with the
/// same decisions, as runc + libseccomp (and <see cref="OciProfileLoader"/>) read it — or a clear error, or a documented
/// approximation that is never more permissive (<see cref="OciWriteResult.Approximations"/>).
/// </summary>
/// <remarks>
/// <para>How: for each syscall of the policy, its rules are turned into an exact decision diagram over the argument
/// bits (<see cref="DecisionDiagram"/>) and each part that does not get the default action becomes an entry whose
/// comparisons are <c>SCMP_CMP_EQ</c> (a whole 64-bit register) or <c>SCMP_CMP_MASKED_EQ</c> (never the others, on
/// which libseccomp 2.5.4 can loop forever): the parts are disjoint,
/// so neither runc's ORing of comparisons on one argument nor libseccomp's order of overlapping rules can change what
/// they mean, and every mask stays within the width the kernel reads the argument at, where libseccomp's 64-bit
/// comparison and the kernel's agree.</para>
/// <para>What a profile cannot say: one set of entries, by name, applies to every architecture it lists — an
/// architecture whose rules differ is left out and gets the bad-arch action; that action is always
/// <c>SCMP_ACT_KILL_THREAD</c> (libseccomp's); runc answers ENOSYS past the newest syscall the profile names (an entry
/// with the default action names the newest syscall of each architecture, or the one <c>newer-syscalls</c> starts
/// after, so this only changes calls past the tables); <c>TRAP</c> has no data; a syscall number without a name has
/// no entry. Handler names (<c>NOTIFY(log)</c>) and eBPF programs are an error: <c>SCMP_ACT_NOTIFY</c> goes to the
/// runtime's seccomp agent, which knows neither.</para>
/// <para>The writer checks its own output: it reads it back with <see cref="OciProfileLoader"/> and compares it with
/// the policy for every call, exactly (<see cref="PolicyComparison"/>); a looser decision anywhere is an error, never a
/// profile.</para>
/// </remarks>
public static class OciProfileWriter
{
    /// <summary>The <c>SCMP_ARCH_*</c> names the Security Profiles Operator's <c>SeccompProfile</c> schema accepts.</summary>
    private static readonly HashSet<string> KubernetesArchitectures = new(StringComparer.Ordinal)
    {
        "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS",
        "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32",
        "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC",
        "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",
    };

    /// <summary>Writes the profile; false with the reason when the policy cannot be written without letting a call get further.</summary>
    public static bool TryWrite(SeccompPolicy policy, OciWriteOptions? options, [NotNullWhen(true)] out OciWriteResult? result, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(policy);
        options ??= new OciWriteOptions();
        result = null;
        try
        {
            return new Writing(policy, options).TryRun(out result, out error);
        }
        catch (DiagramTooLargeException e)
        {
            error = $"{e.Message}: too complex to write as a profile";
            return false;
        }
    }

    /// <summary>Writes the profile.</summary>
    /// <exception cref="ArgumentException">The policy cannot be written without letting some call get further (the message says which).</exception>
    public static OciWriteResult Write(SeccompPolicy policy, OciWriteOptions? options = null) =>
        TryWrite(policy, options, out var result, out var error) ? result : throw new ArgumentException(error, nameof(policy));

    /// <summary>One comparison of an entry: the argument's bits under <paramref name="Mask"/> equal <paramref name="Value"/>'s.</summary>
    private readonly record struct Test(int Index, ulong Mask, ulong Value);

    /// <summary>An entry: its names share one verdict and the same comparisons.</summary>
    private sealed record Entry(Verdict Verdict, Test[] Tests)
    {
        public SortedSet<string> Names { get; } = new(StringComparer.Ordinal);

        public string Key => $"{Verdict.Action.Value:x8}|{string.Join(';', Tests.Select(t => $"{t.Index}:{t.Mask:x}:{t.Value:x}"))}";
    }

    private sealed class Writing(SeccompPolicy policy, OciWriteOptions options)
    {
        private readonly DecisionDiagram _dd = new();
        private readonly Architecture _native = options.NativeArchitecture;
        private readonly bool _k8s = options.Format == ProfileFormat.Kubernetes;
        private string? _error;

        /// <summary>
        /// runc's ENOSYS stub is on unless the default action lets calls run or hands them to a tracer
        /// (<see cref="OciProfileLoader"/>: <c>RuncEnosys</c>).
        /// </summary>
        private bool StubOn => policy.DefaultAction.Effective.Kind is not (SeccompActionKind.Allow or SeccompActionKind.Log or SeccompActionKind.Trace);

        public bool TryRun([NotNullWhen(true)] out OciWriteResult? result, [NotNullWhen(false)] out string? error)
        {
            result = null;
            if (!Check())
            {
                error = _error!;
                return false;
            }
            var sections = policy.Sections.Where(s => !_k8s || KubernetesArchitectures.Contains(s.Architecture.ScmpName)).ToList();
            var covered = new List<Architecture> { _native };
            var entries = new Dictionary<string, List<Entry>>(StringComparer.Ordinal);
            if (!TryEntries(_native, entries))
            {
                error = _error!;
                return false;
            }
            var dropped = new List<Architecture>();
            var baseline = Differences(covered, entries);
            foreach (var section in sections.Where(s => s.Architecture != _native))
            {
                var arch = section.Architecture;
                var candidate = entries.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
                if (!TryEntries(arch, candidate))
                {
                    dropped.Add(arch);
                    continue;
                }
                var with = new List<Architecture>(covered) { arch };
                var differences = Differences(with, candidate);
                // The architecture joins when nothing becomes looser, and the ones already in decide as before.
                bool looser = differences.Any(d => d.Kind == DifferenceKind.Looser && with.Contains(d.Architecture!));
                bool changed = covered.Any(a => Kinds(differences, a) != Kinds(baseline, a));
                if (looser || changed)
                {
                    dropped.Add(arch);
                    continue;
                }
                covered = with;
                entries = candidate;
                baseline = differences;
            }
            dropped.AddRange(policy.Sections.Select(s => s.Architecture).Where(a => !covered.Contains(a) && !dropped.Contains(a)));

            string verifyJson = Json(covered, entries, forVerification: true);
            if (!OciProfileLoader.TryParse(verifyJson, new OciOptions { NativeArchitecture = _native, FileName = "the written profile" }, out var loaded, out string? loadError))
            {
                error = $"internal error: the written profile does not load: {loadError}";
                return false;
            }
            var final = PolicyComparison.Compare(policy, loaded.Policy);
            if (final.FirstOrDefault(d => d.Kind == DifferenceKind.Looser) is { } bad)
            {
                error = $"{bad.Describe()} would get {Spell(bad.Actual)} from the profile, where the policy says {Spell(bad.Expected)}{Why(bad)}";
                return false;
            }
            var notes = new List<string>();
            foreach (var arch in dropped)
                notes.Add(_k8s && !KubernetesArchitectures.Contains(arch.ScmpName)
                    ? $"{arch.Name}: not in the profile (a SeccompProfile cannot name {arch.ScmpName}): its calls get the bad-arch action, SCMP_ACT_KILL_THREAD"
                    : $"{arch.Name}: not in the profile (its rules differ from {_native.Name}'s for syscalls of the same name, and a profile's entries apply to every architecture it lists): its calls get the bad-arch action, SCMP_ACT_KILL_THREAD");
            bool badArchSaid = false;
            foreach (var d in final)
            {
                if (d.Architecture is { } a && dropped.Contains(a))
                    continue;
                if (d.Architecture is null || !covered.Contains(d.Architecture) && policy.Sections.All(s => s.Architecture != d.Architecture))
                {
                    if (!badArchSaid)
                        notes.Add($"architectures the policy does not cover get SCMP_ACT_KILL_THREAD (libseccomp's bad-arch action; a profile has no other), not {Spell(d.Expected)}");
                    badArchSaid = true;
                    continue;
                }
                notes.Add($"{d.Describe()} gets {Spell(d.Actual)}, where the policy says {Spell(d.Expected)}{Why(d)}");
            }
            string text = Json(covered, entries, forVerification: false);
            result = new OciWriteResult(text, covered, notes);
            error = null;
            return true;
        }

        private static string Kinds(IReadOnlyList<PolicyDifference> differences, Architecture arch) =>
            string.Join(',', differences.Where(d => d.Architecture == arch).Select(d => d.Kind).Order());

        /// <summary>The differences between the policy and the profile these entries make, on the architectures that matter.</summary>
        private IReadOnlyList<PolicyDifference> Differences(List<Architecture> covered, Dictionary<string, List<Entry>> entries)
        {
            string json = Json(covered, entries, forVerification: true);
            if (!OciProfileLoader.TryParse(json, new OciOptions { NativeArchitecture = _native, FileName = "the written profile" }, out var loaded, out string? loadError))
                throw new InvalidOperationException($"the written profile does not load: {loadError}");
            return PolicyComparison.Compare(policy, loaded.Policy, covered);
        }

        /// <summary>What no profile can say, with the rule that says it.</summary>
        private bool Check()
        {
            if (policy.DefaultAction.Effective.Kind == SeccompActionKind.UserNotif)
                return Fail("the default action NOTIFY cannot be written: runc refuses SCMP_ACT_NOTIFY as the default action (write(2) would be notified too)");
            if (policy.Sections.All(s => s.Architecture != _native))
                return Fail($"the policy does not cover {_native.Name}, which runc always covers (libseccomp adds the machine's own architecture): " +
                            $"its calls would get the profile's rules and default instead of the bad-arch action");
            foreach (var section in policy.Sections)
                foreach (var (nr, rules) in section.Syscalls)
                    foreach (var rule in rules)
                    {
                        string where = rule.Source is { } s ? $" ({s})" : "";
                        string name = section.Architecture.Syscalls.TryGetName(nr, out var n) ? n : nr.ToString(CultureInfo.InvariantCulture);
                        switch (rule.Route)
                        {
                            case ProgramRoute p:
                                return Fail($"EBPF({p.Name}) {name}{where}: a profile cannot run an eBPF program (SCMP_ACT_NOTIFY goes to the runtime's seccomp agent)");
                            case NotifyRoute { Handler: { } h }:
                                return Fail($"NOTIFY({h}) {name}{where}: a profile's SCMP_ACT_NOTIFY goes to the runtime's seccomp agent (listenerPath), which has no handler names; write NOTIFY without a name");
                            case NotifyRoute when name == "write":
                                return Fail($"NOTIFY write{where}: runc refuses SCMP_ACT_NOTIFY for write (it writes the notification fd with it)");
                        }
                    }
            return true;
        }

        private bool Fail(string message)
        {
            _error ??= message;
            return false;
        }

        /// <summary>
        /// Adds the entries of <paramref name="arch"/>'s syscalls whose names no entry has yet: one per disjoint part of the
        /// argument space that does not get the default action.
        /// </summary>
        private bool TryEntries(Architecture arch, Dictionary<string, List<Entry>> entries)
        {
            var section = policy.Sections.First(s => s.Architecture == arch);
            int defaultLeaf = _dd.Leaf(Verdict.Of(policy.DefaultAction));
            var mine = new Dictionary<string, List<Entry>>(StringComparer.Ordinal);
            foreach (var (nr, rules) in section.Syscalls)
            {
                if (!arch.Owns(nr) || !arch.Syscalls.TryGetName(nr, out var name) || entries.ContainsKey(name))
                    continue;
                // Past newer-syscalls' start the rules are never reached.
                if (policy.Newer is { } newer && newer.Covers(arch, nr))
                    continue;
                // A multiplexer's rules that came from the calls it makes are made again from their entries.
                if ((nr == arch.SocketcallNumber || nr == arch.IpcNumber) && rules.All(r => r.Via is not null))
                    continue;
                int f = _dd.Rules(rules, arch.Is64Bit, defaultLeaf);
                if (f == defaultLeaf)
                    continue;
                var found = new List<Entry>();
                if (!Decompose(f, 0, [], defaultLeaf, found))
                    return Fail($"{arch.Name} {name}: its conditions need more than {options.MaxEntriesPerSyscall} entries");
                mine[name] = found;
            }
            // With a default that lets calls run, runc has no stub: newer-syscalls' numbers that have names get entries.
            if (!StubOn && policy.Newer is { } n2 && Verdict.Of(n2.Action) != Verdict.Of(policy.DefaultAction))
                foreach (var s in arch.Syscalls.All.Where(s => n2.Covers(arch, s.Number) && !entries.ContainsKey(s.Name) && !mine.ContainsKey(s.Name)))
                    mine[s.Name] = [new Entry(Verdict.Of(n2.Action), [])];
            foreach (var (name, list) in mine)
                entries[name] = list;
            return true;
        }

        /// <summary>
        /// The entries of a syscall's diagram, argument by argument: the values of argument <paramref name="arg"/> that
        /// lead to each way the diagram goes on (a set of that argument's values), each set as few comparisons as
        /// possible (<see cref="Express"/>), then the next argument below each. The entries are disjoint: each call
        /// meets one at most. False past <see cref="OciWriteOptions.MaxEntriesPerSyscall"/>.
        /// </summary>
        private bool Decompose(int f, int arg, List<Test> prefix, int defaultLeaf, List<Entry> found)
        {
            if (f == defaultLeaf)
                return true;
            if (DecisionDiagram.IsLeaf(f))
            {
                if (found.Count >= options.MaxEntriesPerSyscall)
                    return false;
                found.Add(new Entry(_dd.VerdictOf(f), [.. prefix]));
                return true;
            }
            int first = arg * DecisionDiagram.Bits, past = first + DecisionDiagram.Bits;
            if (_dd[f].Var >= past)
                return Decompose(f, arg + 1, prefix, defaultLeaf, found);
            // Where the diagram leaves this argument's bits.
            var exits = new List<int>();
            var seen = new HashSet<int>();
            void Exits(int n)
            {
                if (!seen.Add(n))
                    return;
                if (DecisionDiagram.IsLeaf(n) || _dd[n].Var >= past)
                {
                    exits.Add(n);
                    return;
                }
                Exits(_dd[n].Lo);
                Exits(_dd[n].Hi);
            }
            Exits(f);
            foreach (int exit in exits)
            {
                if (exit == defaultLeaf)
                    continue;
                var memo = new Dictionary<int, int>();
                int Set(int n)
                {
                    if (DecisionDiagram.IsLeaf(n) || _dd[n].Var >= past)
                        return n == exit ? DecisionDiagram.True : DecisionDiagram.False;
                    if (memo.TryGetValue(n, out int r))
                        return r;
                    var (v, lo, hi) = _dd[n];
                    r = _dd.Node(v, Set(lo), Set(hi));
                    memo[n] = r;
                    return r;
                }
                if (Express(Set(f), arg) is not { } tests)
                    return false;
                foreach (var test in tests)
                {
                    if (test is { } t)
                        prefix.Add(t);
                    bool ok = Decompose(exit, arg + 1, prefix, defaultLeaf, found);
                    if (test is not null)
                        prefix.RemoveAt(prefix.Count - 1);
                    if (!ok)
                        return false;
                }
            }
            return true;
        }

        /// <summary>
        /// A set of one argument's values as disjoint comparisons: none (every value), else one masked comparison per path
        /// of its diagram (null when that is more than <see cref="OciWriteOptions.MaxEntriesPerSyscall"/>). Only EQ and
        /// MASKED_EQ: after a rule whose first comparison is NE, LT, LE, GT or GE on a 64-bit argument, libseccomp 2.5.4
        /// never returns from adding one that compares another argument with a value of another high half
        /// (docs/libseccomp-differences.md), and runc would hang loading the profile.
        /// </summary>
        private List<Test?>? Express(int set, int arg)
        {
            if (set == DecisionDiagram.True)
                return [null];
            if (!_dd.TryPaths(set, DecisionDiagram.False, options.MaxEntriesPerSyscall, out var paths, boolean: true))
                return null;
            return [.. paths.Select(p => (Test?)new Test(arg, p.Masks[arg], p.Values[arg]))];
        }

        /// <summary>
        /// With runc's stub on: the names that make the newest number the profile names on each covered architecture the
        /// one the policy's decisions change at (its newer-syscalls start, or the newest syscall of its table).
        /// </summary>
        private SortedSet<string> NewestNames(List<Architecture> covered, Dictionary<string, List<Entry>> entries)
        {
            var names = new SortedSet<string>(StringComparer.Ordinal);
            if (!StubOn)
                return names;
            foreach (var arch in covered)
            {
                uint? want = policy.Newer?.NewestOn(arch) ?? (arch.Syscalls.Newest is { } s ? unchecked((uint)s.Number) : null);
                if (want is uint w && arch.Syscalls.TryGetName(unchecked((int)w), out var name) && !arch.TryGetMultiplexed(name, out _) && !entries.ContainsKey(name))
                    names.Add(name);
            }
            return names;
        }

        private List<Entry> Grouped(Dictionary<string, List<Entry>> entries)
        {
            var byKey = new Dictionary<string, Entry>(StringComparer.Ordinal);
            foreach (var (name, list) in entries)
                foreach (var e in list)
                {
                    if (!byKey.TryGetValue(e.Key, out var group))
                        byKey[e.Key] = group = new Entry(e.Verdict, e.Tests);
                    group.Names.Add(name);
                }
            return [.. byKey.Values
                .OrderBy(e => e.Verdict.Permissiveness == Permissiveness.Runs ? 0 : 1).ThenBy(e => e.Verdict.Action.Value)
                .ThenBy(e => e.Tests.Length).ThenBy(e => e.Names.First(), StringComparer.Ordinal).ThenBy(e => e.Key, StringComparer.Ordinal)];
        }

        private static (string Name, uint? ErrnoRet) Action(Verdict verdict) => verdict.Action.Kind switch
        {
            // libseccomp refuses an errno of MAX_ERRNO (4095) or more (runc fails to load the profile): 4094 is the largest.
            SeccompActionKind.Errno => (OciNames.ActionName(SeccompActionKind.Errno), Math.Min(verdict.Action.Data, (uint)SeccompAction.MAX_ERRNO - 1)),
            SeccompActionKind.Trace => (OciNames.ActionName(SeccompActionKind.Trace), verdict.Action.Data),
            // An action value the kernel doesn't define is KILL_PROCESS there.
            SeccompActionKind.Unknown => (OciNames.ActionName(SeccompActionKind.KillProcess), null),
            // TRAP's data has no place in a profile: runc's TRAP is SECCOMP_RET_TRAP with 0.
            var kind => (OciNames.ActionName(kind), null),
        };

        /// <summary>
        /// A comparison: a test of every bit of a 64-bit argument is <c>SCMP_CMP_EQ</c>; any other is
        /// <c>SCMP_CMP_MASKED_EQ</c> (value: the mask, valueTwo: the bits). Both are exact in libseccomp too: a mask
        /// within the width the kernel reads the argument leaves its 64-bit comparison nothing else to see.
        /// </summary>
        private static (string Op, ulong Value, ulong ValueTwo) Comparison(Test t) =>
            t.Mask == ulong.MaxValue ? (OciNames.OperatorName(ComparisonOp.Eq), t.Value, 0) : (OciNames.OperatorName(ComparisonOp.MaskedEq), t.Mask, t.Value);

        /// <summary>
        /// The profile as JSON. For verification, as the runtime gets it: for Kubernetes, without what the
        /// SeccompProfile schema drops (<c>defaultErrnoRet</c>, an <c>errnoRet</c> of 0).
        /// </summary>
        private string Json(List<Architecture> covered, Dictionary<string, List<Entry>> entries, bool forVerification)
        {
            using var stream = new MemoryStream();
            using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = !forVerification }))
            {
                var (defaultName, defaultErrno) = Action(Verdict.Of(policy.DefaultAction));
                // A SeccompProfile: the profile is its spec.
                bool wrapped = _k8s && !forVerification;
                if (wrapped)
                {
                    w.WriteStartObject();
                    w.WriteString("apiVersion", "security-profiles-operator.x-k8s.io/v1beta1");
                    w.WriteString("kind", "SeccompProfile");
                    w.WriteStartObject("metadata");
                    w.WriteString("name", KubernetesName(options.Name));
                    w.WriteEndObject();
                    w.WritePropertyName("spec");
                }
                w.WriteStartObject();
                w.WriteString("defaultAction", defaultName);
                if (defaultErrno is uint de && !_k8s)
                    w.WriteNumber("defaultErrnoRet", de);
                w.WriteStartArray("architectures");
                foreach (var arch in covered)
                    w.WriteStringValue(arch.ScmpName);
                w.WriteEndArray();
                w.WriteStartArray("syscalls");
                foreach (var e in Grouped(entries))
                {
                    w.WriteStartObject();
                    w.WriteStartArray("names");
                    foreach (var name in e.Names)
                        w.WriteStringValue(name);
                    w.WriteEndArray();
                    var (action, errnoRet) = Action(e.Verdict);
                    w.WriteString("action", action);
                    if (errnoRet is uint er && (!_k8s || er != 0))
                        w.WriteNumber("errnoRet", er);
                    if (e.Tests.Length > 0)
                    {
                        w.WriteStartArray("args");
                        foreach (var t in e.Tests)
                        {
                            var (op, value, valueTwo) = Comparison(t);
                            w.WriteStartObject();
                            w.WriteNumber("index", t.Index);
                            w.WriteNumber("value", value);
                            w.WriteNumber("valueTwo", valueTwo);
                            w.WriteString("op", op);
                            w.WriteEndObject();
                        }
                        w.WriteEndArray();
                    }
                    w.WriteEndObject();
                }
                var newest = NewestNames(covered, entries);
                if (newest.Count > 0)
                {
                    w.WriteStartObject();
                    w.WriteStartArray("names");
                    foreach (var name in newest)
                        w.WriteStringValue(name);
                    w.WriteEndArray();
                    w.WriteString("action", defaultName);
                    if (defaultErrno is uint d2 && (!_k8s || d2 != 0))
                        w.WriteNumber("errnoRet", d2);
                    if (!_k8s)
                        w.WriteString("comment", "The newest syscall of each architecture, with the default action (runc adds no rule for it): runc's ENOSYS for syscalls newer than the profile starts past it.");
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
                if (wrapped)
                    w.WriteEndObject();
            }
            return Encoding.UTF8.GetString(stream.ToArray()) + (forVerification ? "" : "\n");
        }

        /// <summary>Why a profile decides a call otherwise, when it is one of the things a profile cannot say.</summary>
        private string Why(PolicyDifference d)
        {
            if (d.Architecture is not { } arch)
                return "";
            var newestKnown = arch.Syscalls.Newest;
            if (d.Actual.Action == SeccompAction.Errno(Errno.ENOSYS) && newestKnown is not null && unchecked((uint)d.Call.Nr > (uint)newestKnown.Number))
                return $" (runc's ENOSYS for syscalls newer than the profile: past {newestKnown.Name}, the newest Syscage knows on {arch.Name})";
            if (!arch.Syscalls.TryGetName(d.Call.Nr, out _))
                return " (a profile names syscalls, and this number has no name)";
            if (d.Expected.Action.Kind == SeccompActionKind.Trap && d.Actual.Action.Kind == SeccompActionKind.Trap)
                return " (SCMP_ACT_TRAP has no data)";
            if (_k8s && d.Expected.Action.Kind == SeccompActionKind.Errno && d.Actual.Action == SeccompAction.Errno(Errno.EPERM))
                return " (a SeccompProfile has no defaultErrnoRet, and drops an errnoRet of 0)";
            return "";
        }

        private static string Spell(Verdict v) => v.Action.Kind switch
        {
            SeccompActionKind.Errno => $"ERRNO({Errno.Name(v.Action.Data) ?? v.Action.Data.ToString(CultureInfo.InvariantCulture)})",
            _ => v.ToString(),
        };
    }

    /// <summary>A Kubernetes object name (RFC 1123 subdomain) made from <paramref name="name"/>.</summary>
    internal static string KubernetesName(string name)
    {
        // Lower case; each run of characters other than a-z, 0-9, '.' and '-' becomes one '-'.
        var kept = new StringBuilder(name.Length);
        bool inRun = false;
        foreach (char c in name.ToLowerInvariant())
        {
            bool allowed = char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '-';
            if (allowed || !inRun)
                kept.Append(allowed ? c : '-');
            inRun = !allowed;
        }
        string lower = kept.ToString().Trim('-', '.');
        if (lower.Length > 253)
            lower = lower[..253].Trim('-', '.');
        return lower.Length == 0 ? "syscage-profile" : lower;
    }
}
