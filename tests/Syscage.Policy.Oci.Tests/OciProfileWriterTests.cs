using System.Text.Json.Nodes;
using Syscage.Abi;
using Syscage.Policy;
using Syscage.Policy.Builtin;
using Syscage.Policy.Compiler;
using Syscage.Policy.Language;
using Syscage.Policy.Oci;
using Syscage.Testing;
using Xunit.Abstractions;

namespace Syscage.Policy.Oci.Tests;

/// <summary>
/// policy → OCI profile (and Kubernetes SeccompProfile) → policy, read back by <see cref="OciProfileLoader"/>: on every
/// input the equivalence checker uses for either policy (and random calls), the profile decides as the policy does,
/// or — where the writer says it approximates — never lets a call get further. Over the built-in policies, the
/// sample policies and profile, and random policies. The writer's own exact check (decision diagrams) is not trusted
/// here: these tests evaluate both policies call by call with the reference evaluator.
/// </summary>
public sealed class OciProfileWriterTests(ITestOutputHelper output)
{
    private static readonly OciOptions Host = new() { NativeArchitecture = Architecture.X86_64 };
    private static readonly OciWriteOptions Oci = new() { NativeArchitecture = Architecture.X86_64 };
    private static readonly OciWriteOptions K8s = new() { NativeArchitecture = Architecture.X86_64, Format = ProfileFormat.Kubernetes, Name = "Test Profile" };

    private static string Samples(params string[] parts) => Path.Combine([NativeProbe.RepositoryRoot, "samples", .. parts]);

    public static TheoryData<string> NamedPolicies()
    {
        var data = new TheoryData<string>();
        foreach (var name in BuiltinPolicies.Names)
            data.Add("builtin:" + name);
        // Files that are policies of their own (fragments for 'include' have no default action).
        foreach (var file in Directory.GetFiles(Samples("policies"), "*.policy").Order(StringComparer.Ordinal))
            if (File.ReadLines(file).Any(l => l.TrimStart().StartsWith("default ", StringComparison.Ordinal)))
                data.Add("policies/" + Path.GetFileName(file));
        data.Add("profiles/docker-default.json");
        return data;
    }

    private static SeccompPolicy LoadNamed(string name) => name.StartsWith("builtin:", StringComparison.Ordinal)
        ? BuiltinPolicies.Load(name["builtin:".Length..])
        : name.EndsWith(".json", StringComparison.Ordinal)
            ? OciProfileLoader.Load(Samples(name.Split('/')), Host).Policy
            : PolicyLanguage.ParseFile(Samples(name.Split('/')));

    /// <summary>What the writer must refuse in a named policy, and why: a NOTIFY rule with a handler name.</summary>
    private static readonly Dictionary<string, string> Refused = new(StringComparer.Ordinal)
    {
        ["policies/static-web-server.policy"] = "NOTIFY(log) execve",
    };

    /// <summary>The policy with its named handlers made the supervisor's default handler, which a profile can say (SCMP_ACT_NOTIFY).</summary>
    private static SeccompPolicy WithoutHandlerNames(SeccompPolicy policy) =>
        new(policy.DefaultAction, policy.BadArchAction, policy.Sections.Select(s => new ArchitecturePolicy(s.Architecture,
            s.Syscalls.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<Rule>)[.. kv.Value.Select(r => r.Route is NotifyRoute ? r with { Route = RuleRoute.Notify() } : r)]))),
            policy.Name) { Newer = policy.Newer };

    /// <summary>The profile's meaning to runc, as the loader reads it (a Kubernetes object is read as the node's JSON file).</summary>
    internal static SeccompPolicy ReadBack(OciWriteResult written, ProfileFormat format) =>
        OciProfileLoader.Parse(format == ProfileFormat.Oci ? written.Text : KubernetesSpecAsJson(written.Text), Host).Policy;

    /// <summary>The spec of a SeccompProfile object (JSON; the CLI writes it as YAML) as the JSON profile the operator installs on the node.</summary>
    internal static string KubernetesSpecAsJson(string json)
    {
        var doc = JsonNode.Parse(json)!;
        Assert.Equal("security-profiles-operator.x-k8s.io/v1beta1", (string)doc["apiVersion"]!);
        Assert.Equal("SeccompProfile", (string)doc["kind"]!);
        return doc["spec"]!.ToJsonString();
    }

    /// <summary>Every input the equivalence checker uses for either policy, and random calls at both.</summary>
    private static IEnumerable<SeccompData> Inputs(SeccompPolicy a, SeccompPolicy b, int seed) =>
        EquivalenceChecker.Vectors(a).Take(100_000)
            .Concat(EquivalenceChecker.Vectors(b).Take(100_000))
            .Concat(Enumerable.Range(0, 2000).Select(i => RandomPolicies.Call(new Random(seed * 7919 + i), i % 2 == 0 ? a : b)));

    /// <summary>
    /// Checks the round trip: equal on every input when the writer says nothing; never looser when it approximates.
    /// Returns how many inputs differed.
    /// </summary>
    internal static int CheckRoundTrip(SeccompPolicy policy, OciWriteResult written, ProfileFormat format, string what, int seed = 0)
    {
        var back = ReadBack(written, format);
        int compared = 0, differ = 0;
        foreach (var call in Inputs(policy, back, seed))
        {
            compared++;
            var e = Verdict.Of(policy.Evaluate(call));
            var a = Verdict.Of(back.Evaluate(call));
            if (e == a)
                continue;
            differ++;
            var kind = DecisionDiagramClassify(e, a);
            Assert.True(written.Approximations.Count > 0, $"{what}: {call}: the policy says {e}, the profile {a}, and the writer said nothing\n{written.Text}");
            Assert.True(kind != "looser", $"{what}: {call}: the policy says {e}, the profile lets it further: {a}\n{string.Join("\n", written.Approximations)}\n{written.Text}");
        }
        Assert.True(compared > 1000, $"{what}: only {compared} inputs");
        return differ;
    }

    private static string DecisionDiagramClassify(Verdict e, Verdict a) => Policy.DecisionDiagram.Classify(e, a) switch
    {
        null => "equal",
        DifferenceKind.Stricter => "stricter",
        _ => "looser",
    };

    [Theory]
    [MemberData(nameof(NamedPolicies))]
    public void Named_policies_round_trip_through_an_OCI_profile_and_a_SeccompProfile(string name)
    {
        var policy = LoadNamed(name);
        if (Refused.TryGetValue(name, out string? why))
        {
            Assert.False(OciProfileWriter.TryWrite(policy, Oci, out _, out string? error));
            Assert.Contains(why, error);
            Assert.Contains("no handler names", error);
            policy = WithoutHandlerNames(policy);
        }
        foreach (var options in new[] { Oci, K8s })
        {
            var written = OciProfileWriter.Write(policy, options);
            int differ = CheckRoundTrip(policy, written, options.Format, $"{name} ({options.Format})");
            output.WriteLine($"{name} as {options.Format}: {written.Architectures.Count} architectures ({string.Join(", ", written.Architectures.Select(a => a.Name))}), " +
                             $"{differ} inputs decided otherwise (never looser); the writer said:\n  {string.Join("\n  ", written.Approximations)}");
        }
    }

    /// <summary>
    /// A random policy as a profile can hold it: comparisons at the width the kernel reads each argument (the width a
    /// profile's comparisons are made at), no NOTIFY default, covering x86_64.
    /// </summary>
    internal static SeccompPolicy Normalized(SeccompPolicy policy)
    {
        var sections = policy.Sections.Select(s => new ArchitecturePolicy(s.Architecture, s.Syscalls.ToDictionary(kv => kv.Key, kv =>
        {
            s.Architecture.Syscalls.TryGet(kv.Key, out var syscall);
            return (IReadOnlyList<Rule>)[.. kv.Value.Select(r => r with { Condition = AtTableWidth(r.Condition, syscall) })];
        }))).ToList();
        if (sections.All(s => s.Architecture != Architecture.X86_64))
            sections.Insert(0, new ArchitecturePolicy(Architecture.X86_64, new Dictionary<int, IReadOnlyList<Rule>>()));
        var defaultAction = policy.DefaultAction.Kind == SeccompActionKind.UserNotif ? SeccompAction.Errno(Errno.EPERM) : policy.DefaultAction;
        return new SeccompPolicy(defaultAction, policy.BadArchAction, sections, policy.Name) { Newer = policy.Newer };
    }

    private static Condition AtTableWidth(Condition condition, Syscall? syscall) => condition switch
    {
        Condition.Predicate p => Condition.Of(p.Value with { Width = syscall?.ArgWidth(p.Value.Arg) ?? ArgPredicate.FullWidth }),
        Condition.AllOf a => Condition.All(a.Conditions.Select(c => AtTableWidth(c, syscall))),
        Condition.AnyOf a => Condition.Any(a.Conditions.Select(c => AtTableWidth(c, syscall))),
        Condition.NotOf n => Condition.Not(AtTableWidth(n.Inner, syscall)),
        _ => condition,
    };

    /// <summary>
    /// A random policy a profile can say exactly, shaped as profiles are: x86_64 (or x86_64 and x32, with the same rules
    /// by name), the bad-arch action a profile has (KILL_THREAD), actions a profile spells (no handler names, no trap
    /// data, no errno or trace data of 0 for Kubernetes), conditions that are conjunctions of comparisons of different
    /// arguments or alternatives of one argument's values, at the kernel's width; a refusing default with
    /// newer-syscalls ERRNO(ENOSYS), or a default that lets calls run without it.
    /// </summary>
    internal static SeccompPolicy ProfileShaped(Random rng, bool kubernetes)
    {
        Architecture[] arches = rng.Next(2) == 0 ? [Architecture.X86_64] : [Architecture.X86_64, Architecture.X32];
        SeccompAction Action()
        {
            var a = RandomPolicies.Action(rng);
            return a.Kind switch
            {
                SeccompActionKind.Trap => SeccompAction.Trap(0),
                SeccompActionKind.Trace or SeccompActionKind.Errno when a.Data == 0 => new SeccompAction(a.Value | 1),
                _ => a,
            };
        }
        var defaultAction = Action();
        // A SeccompProfile has no defaultErrnoRet: its default ERRNO and TRACE carry 1.
        if (defaultAction.Kind == SeccompActionKind.UserNotif || kubernetes && defaultAction.Kind is SeccompActionKind.Errno or SeccompActionKind.Trace)
            defaultAction = kubernetes ? SeccompAction.Errno(Errno.EPERM) : SeccompAction.KillProcess;
        var b = new PolicyBuilder(defaultAction, arches) { BadArchAction = SeccompAction.KillThread, Name = "shaped" };
        // Names whose arguments are the same on each architecture (x32's preadv2 splits its offset in two).
        var names = Architecture.X86_64.Syscalls.All
            .Where(s => s.Name != "write" && arches.All(a => a.Syscalls.TryGet(s.Name, out var o) &&
                        Enumerable.Range(0, 6).All(i => o.ArgWidth(i) == s.ArgWidth(i)) && o.ArgNames.SequenceEqual(s.ArgNames)))
            .Select(s => s.Name).ToArray();
        // Comparisons as profiles make them: mostly values and flag masks, some ranges and exclusions of small numbers.
        ArgPredicate Compare(int arg)
        {
            ulong Small() => rng.Next(4) == 0 ? RandomPolicies.Value(rng) : (ulong)rng.Next(64);
            return rng.Next(20) switch
            {
                < 9 => new ArgPredicate(arg, ComparisonOp.Eq, RandomPolicies.Value(rng)),
                < 16 => new ArgPredicate(arg, ComparisonOp.MaskedEq, rng.Next(2) == 0 ? 0 : 1UL << rng.Next(40), (1UL << rng.Next(40)) | (1UL << rng.Next(40))),
                < 17 => new ArgPredicate(arg, ComparisonOp.Ne, Small()),
                _ => new ArgPredicate(arg, (ComparisonOp)rng.Next(2, 6), Small()),
            };
        }
        for (int i = rng.Next(1, 12); i > 0; i--)
        {
            string name = names[rng.Next(names.Length)];
            for (int r = rng.Next(1, 3); r > 0; r--)
            {
                int arg = rng.Next(6);
                var cond = rng.Next(4) switch
                {
                    0 => Condition.True,
                    1 => Condition.Of(Compare(arg)),
                    2 => Condition.All(Condition.Of(Compare(arg)), Condition.Of(Compare((arg + 1 + rng.Next(5)) % 6))),
                    _ => Condition.Any(Enumerable.Range(0, rng.Next(1, 4)).Select(_ => Condition.Of(new ArgPredicate(arg, ComparisonOp.Eq, RandomPolicies.Value(rng))))),
                };
                var action = Action();
                foreach (var arch in arches)
                {
                    arch.Syscalls.TryGet(name, out var syscall);
                    b.Add(arch, syscall!.Number, new Rule(AtTableWidth(cond, syscall), action));
                }
            }
        }
        if (defaultAction.Kind is not (SeccompActionKind.Allow or SeccompActionKind.Log or SeccompActionKind.Trace))
            b.PastNewestKnown(SeccompAction.Errno(Errno.ENOSYS));
        return b.Build();
    }

    [Fact]
    public void Random_policies_a_profile_can_say_round_trip_exactly()
    {
        int exact = 0, refused = 0;
        var reasons = new List<string>();
        for (int seed = 0; seed < 80; seed++)
        {
            var format = seed % 4 == 3 ? ProfileFormat.Kubernetes : ProfileFormat.Oci;
            var policy = ProfileShaped(new Random(seed), format == ProfileFormat.Kubernetes);
            if (!OciProfileWriter.TryWrite(policy, format == ProfileFormat.Oci ? Oci : K8s, out var result, out string? error))
            {
                // Conditions on several narrow arguments with != or ranges need a masked comparison per value block.
                Assert.Contains("entries", error);
                refused++;
                reasons.Add($"seed {seed}: {error}");
                continue;
            }
            if (CheckRoundTrip(policy, result, format, $"seed {seed}", seed) == 0 && result.Approximations.Count == 0)
                exact++;
            else
                reasons.Add($"seed {seed}: {string.Join("; ", result.Approximations)}");
        }
        output.WriteLine($"{exact} of 80 exact; {refused} refused for their size\n{string.Join("\n", reasons)}");
        Assert.True(exact + refused == 80, $"profile-shaped policies written with approximations:\n{string.Join("\n", reasons)}");
        Assert.True(exact >= 50, $"only {exact} of 80 profile-shaped policies written:\n{string.Join("\n", reasons)}");
    }

    [Fact]
    public void Random_policies_round_trip_or_are_refused_with_a_reason()
    {
        int written = 0, exact = 0, refused = 0, differ = 0;
        var reasons = new SortedDictionary<string, int>(StringComparer.Ordinal);
        for (int seed = 0; seed < 60; seed++)
        {
            var rng = new Random(seed);
            var raw = RandomPolicies.Policy(rng, maxSyscalls: 12);
            var policy = seed % 2 == 0 ? Normalized(raw) : raw;
            var format = seed % 5 == 4 ? ProfileFormat.Kubernetes : ProfileFormat.Oci;
            if (!OciProfileWriter.TryWrite(policy, format == ProfileFormat.Oci ? Oci : K8s, out var result, out string? error))
            {
                refused++;
                Assert.False(string.IsNullOrWhiteSpace(error));
                string reason = error.Contains("would get", StringComparison.Ordinal) ? "a call would get further"
                    : error.Contains("default action NOTIFY", StringComparison.Ordinal) ? "default NOTIFY"
                    : error.Contains("does not cover x86_64", StringComparison.Ordinal) ? "x86_64 not covered"
                    : error.Contains("entries", StringComparison.Ordinal) ? "too many entries"
                    : error.Contains("too complex", StringComparison.Ordinal) ? "too complex"
                    : error.Contains("NOTIFY write", StringComparison.Ordinal) ? "NOTIFY write"
                    : "other: " + error;
                reasons[reason] = reasons.GetValueOrDefault(reason) + 1;
                Assert.DoesNotContain("other:", reason, StringComparison.Ordinal);
                continue;
            }
            written++;
            int d = CheckRoundTrip(policy, result, format, $"seed {seed}", seed);
            differ += d;
            if (d == 0)
                exact++;
        }
        output.WriteLine($"{written} written ({exact} deciding every input as the policy), {refused} refused: " +
                         string.Join(", ", reasons.Select(kv => $"{kv.Key} {kv.Value}")) + $"; {differ} inputs decided otherwise, never looser");
        Assert.True(written >= 20, $"only {written} of 60 random policies written");
    }

    private static OciWriteResult WriteText(string policyText, OciWriteOptions? options = null) =>
        OciProfileWriter.Write(PolicyLanguage.Parse(policyText, "test.policy"), options ?? Oci);

    [Fact]
    public void A_recorded_kind_of_policy_is_written_exactly_with_comparisons_libseccomp_reads_as_the_kernel()
    {
        string text = """
            default ERRNO(EPERM)
            bad-arch KILL_THREAD
            arch x86_64
            newer-syscalls ERRNO(ENOSYS)
            ALLOW read, write, close, exit_group, rt_sigreturn
            ALLOW socket if domain == AF_INET && type == (SOCK_STREAM | SOCK_CLOEXEC)
            ALLOW socket if domain == AF_UNIX
            ALLOW ioctl if request == TCGETS
            ALLOW clone if (flags & ~(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID)) == 0
            ALLOW mmap if arg0 == 0
            """;
        var policy = PolicyLanguage.Parse(text, "recorded.policy");
        var written = OciProfileWriter.Write(policy, Oci);
        Assert.Empty(written.Approximations);
        Assert.Equal(0, CheckRoundTrip(policy, written, ProfileFormat.Oci, "recorded"));
        // With KILL_PROCESS for other architectures, that is said: a profile has no spelling for it.
        var killProcess = OciProfileWriter.Write(PolicyLanguage.Parse(text.Replace("bad-arch KILL_THREAD", "bad-arch KILL_PROCESS", StringComparison.Ordinal), "r"), Oci);
        Assert.Contains("SCMP_ACT_KILL_THREAD", Assert.Single(killProcess.Approximations));
        var json = JsonNode.Parse(written.Text)!;
        Assert.Equal("SCMP_ACT_ERRNO", (string)json["defaultAction"]!);
        Assert.Equal(1, (int)json["defaultErrnoRet"]!);
        Assert.Equal(["SCMP_ARCH_X86_64"], json["architectures"]!.AsArray().Select(a => (string)a!));
        foreach (var entry in json["syscalls"]!.AsArray())
            foreach (var arg in entry!["args"]?.AsArray() ?? [])
            {
                string op = (string)arg!["op"]!;
                string name = (string)entry["names"]![0]!;
                Architecture.X86_64.Syscalls.TryGet(name, out var syscall);
                int width = syscall!.ArgWidth((int)arg["index"]!);
                // Within the width the kernel reads: libseccomp's 64-bit comparison then means the same. Only masked
                // comparisons on narrower arguments.
                Assert.True(op == "SCMP_CMP_MASKED_EQ" ? (ulong)arg["value"]! <= ArgPredicate.WidthMask(width) : width == 64, arg.ToJsonString());
            }
        Assert.Equal("SCMP_CMP_EQ", (string)json["syscalls"]!.AsArray().Single(e => (string)e!["names"]![0]! == "mmap")!["args"]![0]!["op"]!);
        // socket: AF_UNIX on its own, AF_INET with the type.
        var sockets = json["syscalls"]!.AsArray().Where(e => e!["names"]!.AsArray().Any(n => (string)n! == "socket")).ToList();
        Assert.Equal(2, sockets.Count);
        Assert.Contains(sockets, e => e!["args"]!.AsArray().Count == 2);
        // The newest syscall of the table is named with the default action, so runc's ENOSYS starts where the policy's does.
        Assert.Contains(json["syscalls"]!.AsArray(), e => (string?)e!["comment"] is { } c && c.Contains("ENOSYS", StringComparison.Ordinal) &&
                                                         e["names"]!.AsArray().Any(n => (string)n! == Architecture.X86_64.Syscalls.Newest!.Name));
    }

    [Fact]
    public void What_a_profile_cannot_say_is_an_error_naming_it()
    {
        string Error(string text, OciWriteOptions? options = null)
        {
            Assert.False(OciProfileWriter.TryWrite(PolicyLanguage.Parse(text, "t.policy"), options ?? Oci, out _, out string? error));
            return error;
        }
        Assert.Contains("default action NOTIFY", Error("default NOTIFY\nALLOW read"));
        Assert.Contains("NOTIFY(log) mkdir (t.policy:2)", Error("default ERRNO(EPERM)\nNOTIFY(log) mkdir"));
        Assert.Contains("EBPF(exec_once) execve", Error("default ERRNO(EPERM)\nEBPF(exec_once) execve"));
        Assert.Contains("NOTIFY write", Error("default ERRNO(EPERM)\nNOTIFY write"));
        Assert.Contains("does not cover x86_64", Error("default ERRNO(EPERM)\narch aarch64\nALLOW read"));
        // A number the tables don't name has no entry: refusing it when the default allows can't be written.
        Assert.Contains("has no name", Error("default ALLOW\narch x86_64\nERRNO(EPERM) ptrace, 999"));
        // With a default that allows, runc has no ENOSYS stub: refusing newer syscalls can't be said past the tables.
        Assert.Contains("would get ALLOW", Error("default ALLOW\narch x86_64\nnewer-syscalls ERRNO(ENOSYS)\nERRNO(EPERM) ptrace"));
        // Compared on 64 bits where the kernel reads 32: a profile compares at the kernel's width. (Written through the IR.)
        var b = new PolicyBuilder(SeccompAction.Errno(Errno.EPERM), Architecture.X86_64);
        b.Add("socket", new Rule(Condition.Of(new ArgPredicate(0, ComparisonOp.Eq, 0x1_0000_0002)), SeccompAction.Allow));
        Assert.False(OciProfileWriter.TryWrite(b.Build(), Oci, out _, out string? wide));
        Assert.Contains("x86_64 socket(arg0=", wide);
        Assert.Contains("would get", wide);
    }

    [Fact]
    public void Approximations_are_said_and_never_looser()
    {
        OciWriteResult Checked(string text)
        {
            var policy = PolicyLanguage.Parse(text, "t.policy");
            var written = OciProfileWriter.Write(policy, Oci);
            CheckRoundTrip(policy, written, ProfileFormat.Oci, text);
            return written;
        }
        // TRAP's data: SCMP_ACT_TRAP has none.
        var trap = Checked("default ERRNO(EPERM)\narch x86_64\nALLOW read\nTRAP(3) ptrace");
        Assert.Contains(trap.Approximations, a => a.Contains("ptrace", StringComparison.Ordinal) && a.Contains("no data", StringComparison.Ordinal));
        // Allowing a number the tables don't name: refused (ENOSYS) by the profile.
        var unnamed = Checked("default ERRNO(EPERM)\narch x86_64\nALLOW read, 999");
        Assert.Contains(unnamed.Approximations, a => a.Contains("syscall 999", StringComparison.Ordinal));
        // Without newer-syscalls and a KILL default, runc still answers ENOSYS past the tables.
        var kill = Checked("default KILL_PROCESS\narch x86_64\nALLOW read");
        Assert.Contains(kill.Approximations, a => a.Contains("runc's ENOSYS", StringComparison.Ordinal));
        // x86 rules that differ by name from x86_64's: x86 is left out (its calls are killed).
        var split = Checked("default ERRNO(EPERM)\narch x86_64, x86\nALLOW read\narch x86 { ALLOW set_thread_area }");
        Assert.Equal([Architecture.X86_64], split.Architectures);
        Assert.Contains(split.Approximations, a => a.StartsWith("x86: not in the profile", StringComparison.Ordinal));
        // The same rules by name: both are in.
        var same = Checked("default ERRNO(EPERM)\narch x86_64, x86\nALLOW read, write\nALLOW socket if domain == AF_UNIX");
        Assert.Equal([Architecture.X86_64, Architecture.X86], same.Architectures);
    }

    [Fact]
    public void A_SeccompProfile_has_the_schema_the_operator_accepts()
    {
        var written = WriteText("default ERRNO(EACCES)\narch x86_64, loongarch64\nALLOW read\nERRNO(0) getpid", K8s);
        var doc = JsonNode.Parse(written.Text)!;
        Assert.Equal("test-profile", (string)doc["metadata"]!["name"]!);
        var spec = doc["spec"]!.AsObject();
        Assert.False(spec.ContainsKey("defaultErrnoRet"));
        Assert.Equal(["SCMP_ARCH_X86_64"], spec["architectures"]!.AsArray().Select(a => (string)a!));
        // No defaultErrnoRet, no errnoRet of 0: EPERM instead, said.
        Assert.Contains(written.Approximations, a => a.Contains("defaultErrnoRet", StringComparison.Ordinal));
        Assert.Contains(written.Approximations, a => a.StartsWith("loongarch64: not in the profile (a SeccompProfile cannot name", StringComparison.Ordinal));
        CheckRoundTrip(PolicyLanguage.Parse("default ERRNO(EACCES)\narch x86_64, loongarch64\nALLOW read\nERRNO(0) getpid", "k"), written, ProfileFormat.Kubernetes, "k8s");
    }

    [Theory]
    [InlineData("My_Profile", "my-profile")]
    [InlineData("Foo Bar!!baz", "foo-bar-baz")]
    [InlineData("-.A.-", "a")]
    [InlineData("web.v2-x", "web.v2-x")]
    [InlineData("\u00c4\u00d6-x", "x")]
    [InlineData("a\U0001F600b", "a-b")]
    [InlineData("__--..__", "syscage-profile")]
    [InlineData("", "syscage-profile")]
    public void A_SeccompProfile_name_is_a_Kubernetes_object_name(string name, string expected)
    {
        // Lower case; each run of characters outside [a-z0-9.-] (a surrogate pair included) is one '-'; no '-' or '.' at
        // either end (RFC 1123 subdomain).
        Assert.Equal(expected, OciProfileWriter.KubernetesName(name));
    }

    [Fact]
    public void A_long_SeccompProfile_name_is_cut_to_253_characters()
    {
        Assert.Equal(new string('a', 252), OciProfileWriter.KubernetesName(new string('a', 252) + "-" + new string('b', 10)));
        Assert.Equal(253, OciProfileWriter.KubernetesName(new string('a', 300)).Length);
    }

    /// <summary>
    /// What the writer promises runc: its profiles mean to libseccomp 2.5 (the BPF runc installs, stub included) what
    /// they mean to the loader, but for libseccomp's own generator bugs that no profile can avoid (numbers past
    /// 0x40000000 on x86_64, x32's low halves, a missing load): never because of the two things the writer shapes its
    /// entries against — comparisons on the whole register of a narrower argument, and the order of overlapping rules.
    /// </summary>
    [Fact]
    public void Libseccomp_reads_written_profiles_as_the_loader_does()
    {
        Assert.Equal(Architecture.X86_64, Architecture.Native);
        var policies = new List<(string Name, SeccompPolicy Policy)>
        {
            ("builtin:default", LoadNamed("builtin:default")),
            ("profiles/docker-default.json", LoadNamed("profiles/docker-default.json")),
            ("policies/static-web-server.policy", WithoutHandlerNames(LoadNamed("policies/static-web-server.policy"))),
        };
        for (int seed = 0; seed < 40; seed++)
            policies.Add(($"shaped seed {seed}", ProfileShaped(new Random(seed), kubernetes: false)));
        var rng = new Random(77);
        long vectors = 0;
        var classes = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var bad = new List<string>();
        var examples = new Dictionary<string, string>(StringComparer.Ordinal);
        int built = 0, refusedByLibseccomp = 0;
        foreach (var (name, policy) in policies)
        {
            if (!OciProfileWriter.TryWrite(policy, Oci, out var written, out _))
                continue;
            var profile = OciProfileLoader.Parse(written.Text, Host);
            LibseccompBuild? build = null;
            var worker = new Thread(() => build = LibseccompProfile.Build(profile, optimize: (uint)(1 + rng.Next(2)))) { IsBackground = true };
            worker.Start();
            Assert.True(worker.Join(TimeSpan.FromSeconds(30)), $"{name}: libseccomp did not return\n{written.Text}");
            if (build!.Bpf is null)
            {
                // libseccomp refuses a rule whose comparisons it takes for another rule's with another action (EEXIST):
                // runc then does not start the container. Known for random profiles (docs/libseccomp-differences.md).
                Assert.True(build.Error!.EndsWith(": -17", StringComparison.Ordinal) && name.StartsWith("shaped", StringComparison.Ordinal),
                    $"{name}: libseccomp refused the written profile: {build.Error}\n{written.Text}");
                refusedByLibseccomp++;
                continue;
            }
            built++;
            // runc's stub starts past the newest syscall libseccomp 2.5.4 can name (it knows fewer than the tables).
            int RuncNewest(Architecture a) => profile.Entries.SelectMany(e => e.Names).Max(n => Libseccomp.Resolve(LibseccompProfile.Token(a), n));
            foreach (var data in DifferentialTests.Vectors(profile.Policy, rng, 3000))
            {
                vectors++;
                uint mine = profile.Policy.Evaluate(data).Action.Value;
                uint theirs = ReferenceBpf.Run(build.Bpf, data.ToBytes());
                if (mine == theirs)
                    continue;
                // -1 on x86_64: runc's stub tests the x32 bit alone and leaves -1 to libseccomp (docs/libseccomp-differences.md).
                string why = (data.Nr == -1 && data.Arch == Architecture.X86_64.AuditArch ? "-1: runc's stub leaves it to libseccomp" : null)
                    ?? LibseccompMultiplexing.Explain(profile, data, theirs) ?? LibseccompBehaviour.Explain(profile, data, theirs, build.LibseccompBpf!)
                    ?? (profile.Policy.SectionFor(data) is not { } sec ? null
                        : theirs == SeccompAction.Errno(Errno.ENOSYS).Value && (uint)data.Nr > (uint)RuncNewest(sec.Architecture)
                        ? "newer than the newest syscall libseccomp 2.5.4 names: ENOSYS from runc's stub"
                        : sec.Architecture.Syscalls.TryGetName(data.Nr, out var n) && Libseccomp.Resolve(LibseccompProfile.Token(sec.Architecture), n) < 0
                        && theirs == profile.Policy.DefaultAction.Value
                        ? "a name libseccomp 2.5.4 does not know: runc skips its entry (the default action)" : null)
                    ?? "unexplained";
                if (!examples.ContainsKey(why))
                    examples[why] = $"{name}: {data}: loader {new SeccompAction(mine)}, libseccomp {new SeccompAction(theirs)}";
                classes[why] = classes.GetValueOrDefault(why) + 1;
                if (why is LibseccompBehaviour.Width or "unexplained" && bad.Count < 10)
                    bad.Add($"{name}: {data}: loader {new SeccompAction(mine)}, libseccomp {new SeccompAction(theirs)} ({why})");
            }
        }
        output.WriteLine($"{built} written profiles built by libseccomp ({refusedByLibseccomp} refused: EEXIST), {vectors} vectors; differences: " +
                         (classes.Count == 0 ? "none" : string.Join("\n", classes.Select(kv => $"{kv.Key}: {kv.Value}, e.g. {examples[kv.Key]}"))));
        Assert.True(bad.Count == 0, string.Join("\n", bad));
        Assert.True(built >= 20 && refusedByLibseccomp * 5 <= built, $"{built} profiles built, {refusedByLibseccomp} refused");
    }
}
