using System.Diagnostics;
using System.Text;
using Syscage.Abi;
using Syscage.Testing;
using Xunit.Abstractions;

namespace Syscage.Policy.Oci.Tests;

/// <summary>
/// The model of libseccomp's rule tree (<see cref="LibseccompTree"/>) against libseccomp 2.5.4 itself: the same rules
/// built by both, libseccomp's database read back from its pseudo filter code (<see cref="LibseccompPfc"/>, which shows
/// the tree without the BPF generator's own bugs), and their verdicts compared on calls at the edges of the rules. The
/// model takes libseccomp's view of the arguments here (every comparison on 64 bits; 32 on x86 and x32), so any
/// difference is the model's.
/// </summary>
public class LibseccompTreeTests(ITestOutputHelper output)
{
    private static readonly SeccompAction Default = SeccompAction.Errno(99);

    private static readonly SeccompAction[] Actions =
    [
        SeccompAction.Allow, SeccompAction.Errno(1), SeccompAction.Errno(2), SeccompAction.KillThread, SeccompAction.KillProcess,
        SeccompAction.Trap(0), SeccompAction.Log, SeccompAction.Trace(3),
    ];

    private static readonly ComparisonOp[] Ops =
        [ComparisonOp.Eq, ComparisonOp.Ne, ComparisonOp.Lt, ComparisonOp.Le, ComparisonOp.Gt, ComparisonOp.Ge, ComparisonOp.MaskedEq];

    /// <summary>An architecture as libseccomp sees it: its name in the pseudo code, its token, whether it splits arguments in halves.</summary>
    private sealed record Abi(Architecture Arch, string Name, bool Halves);

    private static readonly Abi[] Abis =
    [
        new(Architecture.X86_64, "x86_64", true),
        new(Architecture.X86, "x86", false),
        new(Architecture.X32, "x32", false),
    ];

    /// <summary>Rule sets per run; <c>SYSCAGE_TREE_SETS</c> overrides it for longer soaks.</summary>
    private static readonly int SetCount = int.TryParse(Environment.GetEnvironmentVariable("SYSCAGE_TREE_SETS"), out int n) ? n : 3000;

    [Fact]
    public void TheModelDecidesAsLibseccompsRuleDatabase()
    {
        var rng = new Random(20260301);
        var clock = Stopwatch.StartNew();
        int sets = 0, refusedBoth = 0, hung = 0, calls = 0, unpredictedHangs = 0;
        var problems = new List<string>();
        for (int s = 0; s < SetCount; s++)
        {
            var abi = Abis[rng.Next(Abis.Length)];
            var rules = RandomRules(rng, abi);
            // libseccomp takes the native (x86_64) number and translates it for each architecture it covers.
            Assert.True(Architecture.X86_64.Syscalls.TryGetNumber("read", out int native));
            Assert.True(abi.Arch.Syscalls.TryGetNumber("read", out int nr));

            // The model first: where it says libseccomp loops forever, libseccomp runs in a child process that is killed
            // after a while (in this process the looping thread would spin for the rest of the run).
            var tree = new LibseccompTree(abi.Halves);
            int modelRefused = -1;
            bool modelLoops = false;
            for (int i = 0; i < rules.Count && modelRefused < 0; i++)
            {
                var result = tree.Add(rules[i]);
                if (result is TreeAddResult.Refused or TreeAddResult.Loops)
                {
                    modelRefused = i;
                    modelLoops = result == TreeAddResult.Loops;
                }
            }
            if (!modelLoops && modelRefused < 0)
            {
                try
                {
                    tree.Paths(LibseccompOrder.MaxPaths);
                }
                catch (InvalidOperationException)
                {
                    modelLoops = true;   // circular lists: libseccomp's filter generation would not finish
                }
            }

            // libseccomp, as runc adds the rules.
            int libRefused = -1;
            string? pfcText = null;
            bool libHung;
            if (modelLoops)
                libHung = HangsInAChild(abi, rules);
            else
            {
                var worker = new Thread(() =>
                {
                    using var lib = new Libseccomp(Default.Value);
                    if (abi.Arch != Architecture.X86_64)
                    {
                        lib.AddArch(LibseccompProfile.Token(abi.Arch));
                        lib.RemoveArch(Libseccomp.SCMP_ARCH_NATIVE);
                    }
                    for (int i = 0; i < rules.Count; i++)
                        if (lib.AddRule(rules[i].Action.Value, native, [.. rules[i].Comparisons.Select(ToArg)]) < 0)
                        {
                            libRefused = i;
                            return;
                        }
                    pfcText = lib.ExportPfc();
                }) { IsBackground = true };
                worker.Start();
                libHung = !worker.Join(TimeSpan.FromSeconds(5));
            }

            if (libHung || modelLoops)
            {
                hung++;
                // libseccomp 2.5.4 could loop where the model's lists stay sound: tolerated when rare, counted (the
                // thread stays behind, spinning).
                if (libHung && !modelLoops)
                    unpredictedHangs++;
                else if (libHung != modelLoops)
                    problems.Add($"set {s} ({abi.Name}): libseccomp {(libHung ? "hangs" : $"refuses rule {libRefused}")}, the model {(modelLoops ? (modelRefused < 0 ? "has circular lists" : $"loops on rule {modelRefused}") : $"refuses rule {modelRefused}")}\n{Describe(rules)}");
                continue;
            }
            if (libRefused >= 0 || modelRefused >= 0)
            {
                refusedBoth++;
                if (libRefused != modelRefused)
                    problems.Add($"set {s} ({abi.Name}): libseccomp refuses rule {libRefused}, the model {modelRefused}\n{Describe(rules)}");
                continue;
            }
            sets++;
            var pfc = new LibseccompPfc(pfcText!);
            foreach (var args in Calls(rng, rules, abi, 40))
            {
                calls++;
                var expected = pfc.Decide(abi.Name, nr, args);
                var actual = tree.Decide(args) ?? Default;
                if (expected != actual && problems.Count < 10)
                    problems.Add($"set {s} ({abi.Name}) args [{string.Join(", ", args.Select(a => $"0x{a:x}"))}]: libseccomp {expected}, model {actual}\n{Describe(rules)}\n{pfcText}");
                else if (expected != actual)
                    problems.Add("...");
            }
        }
        output.WriteLine($"{SetCount} rule sets ({sets} built by both, {refusedBoth} refused by both, {hung} looping, of which {unpredictedHangs} in libseccomp only), {calls} calls in {clock.Elapsed.TotalSeconds:F1} s, {problems.Count} problems");
        Assert.True(unpredictedHangs <= Math.Max(1, SetCount / 5000), $"libseccomp loops on {unpredictedHangs} rule sets the model builds");
        Assert.True(problems.Count == 0, string.Join("\n\n", problems.Take(4)) + $"\n({problems.Count} problems)");
    }

    /// <summary>
    /// Whether libseccomp (through python3-seccomp, in a child process) fails to finish adding the rules and exporting
    /// the filter within a few seconds; the child is killed then.
    /// </summary>
    private static bool HangsInAChild(Abi abi, List<RuncRule> rules)
    {
        const string script = """
            import json, sys, seccomp
            spec = json.load(sys.stdin)
            f = seccomp.SyscallFilter(spec["default"])
            if spec["arch"] != "x86_64":
                f.add_arch(seccomp.Arch(spec["arch"]))
                f.remove_arch(seccomp.Arch.NATIVE)
            try:
                for rule in spec["rules"]:
                    f.add_rule(rule["action"], "read", *[seccomp.Arg(a, op, x, y) for a, op, x, y in rule["args"]])
            except RuntimeError:
                sys.exit(3)
            with open("/dev/null", "w") as out:
                f.export_pfc(out)
            """;
        var spec = new
        {
            arch = abi.Name,
            @default = unchecked((int)Default.Value),
            rules = rules.Select(r => new { action = unchecked((int)r.Action.Value), args = r.Comparisons.Select(ToArg).Select(a => new object[] { a.Arg, a.Op, a.DatumA, a.DatumB }) }),
        };
        var start = new ProcessStartInfo("/usr/bin/python3", ["-c", script]) { RedirectStandardInput = true, RedirectStandardError = true };
        using var child = Process.Start(start)!;
        child.StandardInput.Write(System.Text.Json.JsonSerializer.Serialize(spec));
        child.StandardInput.Close();
        if (child.WaitForExit(TimeSpan.FromSeconds(5)))
        {
            Assert.True(child.ExitCode is 0 or 3, $"python3-seccomp: exit {child.ExitCode}: {child.StandardError.ReadToEnd()}");
            return false;
        }
        child.Kill();
        child.WaitForExit();
        return true;
    }

    private static List<RuncRule> RandomRules(Random rng, Abi abi)
    {
        bool is64 = abi.Halves;
        var rules = new List<RuncRule>();
        int count = 2 + rng.Next(6);
        for (int i = 0; i < count; i++)
        {
            var comparisons = new List<ArgPredicate>();
            if (rng.Next(25) != 0)
            {
                int args = 1 + rng.Next(3);
                foreach (int arg in Enumerable.Range(0, 3).OrderBy(_ => rng.Next()).Take(args))
                {
                    var op = Ops[rng.Next(Ops.Length)];
                    ulong value = Value(rng), mask = op == ComparisonOp.MaskedEq ? Value(rng) : ulong.MaxValue;
                    // libseccomp's view: 64-bit comparisons, 32-bit on its 32-bit ABIs (x86 and x32).
                    comparisons.Add(new ArgPredicate(arg, op, value, mask).At(is64));
                }
            }
            rules.Add(new RuncRule(i, comparisons, Actions[rng.Next(Actions.Length)], null));
        }
        return rules;
    }

    private static ulong Value(Random rng) => rng.Next(8) switch
    {
        < 5 => RandomProfiles.EdgeValues[rng.Next(RandomProfiles.EdgeValues.Length)],
        5 => (ulong)rng.Next(12),
        6 => unchecked(RandomProfiles.EdgeValues[rng.Next(RandomProfiles.EdgeValues.Length)] + (ulong)(rng.Next(3) - 1)),
        _ => (ulong)rng.NextInt64(),
    };

    /// <summary>Calls whose arguments sit on the edges of the rules' comparisons.</summary>
    private static IEnumerable<ulong[]> Calls(Random rng, List<RuncRule> rules, Abi abi, int count)
    {
        var interesting = Enumerable.Range(0, 6).Select(a => rules.SelectMany(r => r.Comparisons).Where(c => c.Arg == a)
            .SelectMany(c => c.InterestingValues()).Concat(RandomProfiles.EdgeValues).Distinct().ToArray()).ToArray();
        for (int i = 0; i < count; i++)
        {
            var args = new ulong[6];
            for (int a = 0; a < 6; a++)
            {
                args[a] = interesting[a][rng.Next(interesting[a].Length)];
                if (!abi.Halves)
                    args[a] &= uint.MaxValue;   // libseccomp's 32-bit ABIs see the low halves only
            }
            yield return args;
        }
    }

    private static Libseccomp.ArgCmp ToArg(ArgPredicate p) => new()
    {
        Arg = (uint)p.Arg,
        Op = p.Op switch
        {
            ComparisonOp.Ne => Libseccomp.SCMP_CMP_NE,
            ComparisonOp.Lt => Libseccomp.SCMP_CMP_LT,
            ComparisonOp.Le => Libseccomp.SCMP_CMP_LE,
            ComparisonOp.Eq => Libseccomp.SCMP_CMP_EQ,
            ComparisonOp.Ge => Libseccomp.SCMP_CMP_GE,
            ComparisonOp.Gt => Libseccomp.SCMP_CMP_GT,
            _ => Libseccomp.SCMP_CMP_MASKED_EQ,
        },
        DatumA = p.Op == ComparisonOp.MaskedEq ? p.Mask : p.Value,
        DatumB = p.Op == ComparisonOp.MaskedEq ? p.Value : 0,
    };

    private static string Describe(List<RuncRule> rules)
    {
        var w = new StringBuilder();
        foreach (var r in rules)
            w.Append($"  rule {r.Order}: {(r.Comparisons.Count == 0 ? "always" : string.Join(" && ", r.Comparisons.Select(c => c.Op == ComparisonOp.MaskedEq ? $"(a{c.Arg} & 0x{c.Mask:x}) == 0x{c.Value:x}" : $"a{c.Arg} {c.Op} 0x{c.Value:x}")))} => {r.Action}\n");
        return w.ToString();
    }
}

/// <summary>
/// <see cref="LibseccompOrder"/>'s first-match rules against the model's tree itself, with no libseccomp involved, on
/// many more rule sets: wherever the tree's verdict is the action of an entry that matches the call (or the default
/// when none does), the rules give that verdict; elsewhere (libseccomp's shared lists and dropped rules) they give the
/// action of an entry that matches the call, or the default when none does. And the rules say it as simply as
/// <see cref="RuleSimplifier"/> can without changing a verdict: the same calls against the unsimplified clauses.
/// </summary>
public class LibseccompOrderTests(ITestOutputHelper output)
{
    private static readonly int SetCount = int.TryParse(Environment.GetEnvironmentVariable("SYSCAGE_ORDER_SETS"), out int n) ? n : 6000;

    [Fact]
    public void TheRulesFollowTheTreeWhereverItsVerdictIsAMatchingEntrysAction()
    {
        var rng = new Random(77);
        var clock = Stopwatch.StartNew();
        long calls = 0, sane = 0, corrected = 0, rules = 0, paths = 0;
        var problems = new List<string>();
        for (int s = 0; s < SetCount && problems.Count < 5; s++)
        {
            bool halves = rng.Next(3) != 0;
            var set = RandomRules(rng, halves);
            var tree = new LibseccompTree(halves);
            foreach (var r in set)
                tree.Add(r);
            IReadOnlyList<LibseccompTree.DecisionPath> treePaths;
            try
            {
                treePaths = tree.Paths(LibseccompOrder.MaxPaths);
            }
            catch (InvalidOperationException)
            {
                continue;
            }
            paths += treePaths.Count;
            var lowered = LibseccompOrder.Lower(set, halves);
            rules += lowered.Rules.Count;
            foreach (var args in Calls(rng, set, 40))
            {
                calls++;
                var matching = set.Where(r => r.Condition.Evaluate(args, true)).ToList();
                var raw = tree.Decide(args);
                var ir = lowered.Rules.FirstOrDefault(r => r.Condition.Evaluate(args, true))?.Action;
                bool treeSane = raw is null ? matching.Count == 0 : matching.Any(r => r.Action == raw);
                string? wrong = null;
                if (treeSane)
                {
                    sane++;
                    if (ir != raw)
                        wrong = $"the tree says {Show(raw)}, an action of a matching entry; the rules say {Show(ir)}";
                }
                else
                {
                    corrected++;
                    if (ir is null ? matching.Count != 0 : !matching.Any(r => r.Action == ir))
                        wrong = $"the tree says {Show(raw)}, no matching entry's; the rules say {Show(ir)}, no matching entry's either";
                }
                var clause = lowered.Clauses.FirstOrDefault(c => c.Literals.All(l => l.Predicate.Evaluate(args[l.Predicate.Arg]) == l.Holds));
                if (lowered.Clauses.Count > 0 && clause?.Owner.Action != ir)
                    wrong = (wrong ?? "") + $"; the unsimplified clauses say {Show(clause?.Owner.Action)}";
                if (wrong is not null)
                    problems.Add($"set {s} ({(halves ? "halves" : "whole")}) args [{string.Join(", ", args.Select(a => $"0x{a:x}"))}]: {wrong}\n" +
                        string.Join("\n", set.Select(r => $"  {r.Order}: {r.Condition} => {r.Action}")) + "\nrules:\n" +
                        string.Join("\n", lowered.Rules.Select(r => $"  {r.Condition} => {r.Action}")));
            }
        }
        output.WriteLine($"{SetCount} rule sets, {calls} calls in {clock.Elapsed.TotalSeconds:F1} s: {sane} decided by the tree as libseccomp does, {corrected} where its verdict is no matching entry's; {paths} tree paths became {rules} rules");
        Assert.True(problems.Count == 0, string.Join("\n\n", problems));
    }

    private static readonly SeccompAction[] Actions =
        [SeccompAction.Allow, SeccompAction.Errno(1), SeccompAction.Errno(2), SeccompAction.KillThread, SeccompAction.Log, SeccompAction.Trace(3)];

    private static readonly ComparisonOp[] Ops =
        [ComparisonOp.Eq, ComparisonOp.Ne, ComparisonOp.Lt, ComparisonOp.Le, ComparisonOp.Gt, ComparisonOp.Ge, ComparisonOp.MaskedEq];

    /// <summary>Rules as the loader makes them: each argument at one width (its type's), 32 at most on x86.</summary>
    internal static List<RuncRule> RandomRules(Random rng, bool halves)
    {
        int[] widths = [.. Enumerable.Range(0, 6).Select(_ => rng.Next(4) switch { 0 => 32, 1 => 16, _ => 64 })];
        bool is64 = halves || rng.Next(2) == 0;   // whole tests: x32 (64-bit registers) or x86
        var rules = new List<RuncRule>();
        int count = 2 + rng.Next(7);
        for (int i = 0; i < count; i++)
        {
            var comparisons = new List<ArgPredicate>();
            if (rng.Next(30) != 0)
            {
                int args = 1 + rng.Next(3);
                foreach (int arg in Enumerable.Range(0, 3).OrderBy(_ => rng.Next()).Take(args))
                {
                    var op = Ops[rng.Next(Ops.Length)];
                    ulong value = Value(rng), mask = op == ComparisonOp.MaskedEq ? Value(rng) : ulong.MaxValue;
                    int w = widths[arg];
                    var p = new ArgPredicate(arg, op, value & ArgPredicate.WidthMask(w), mask & ArgPredicate.WidthMask(w), w);
                    comparisons.Add(p.At(is64));
                }
            }
            rules.Add(new RuncRule(i, comparisons, Actions[rng.Next(Actions.Length)], new PolicySource("p.json", 1 + i)));
        }
        return rules;
    }

    private static ulong Value(Random rng) => rng.Next(8) switch
    {
        < 5 => RandomProfiles.EdgeValues[rng.Next(RandomProfiles.EdgeValues.Length)],
        5 => (ulong)rng.Next(12),
        6 => unchecked(RandomProfiles.EdgeValues[rng.Next(RandomProfiles.EdgeValues.Length)] + (ulong)(rng.Next(3) - 1)),
        _ => (ulong)rng.NextInt64(),
    };

    internal static IEnumerable<ulong[]> Calls(Random rng, List<RuncRule> rules, int count)
    {
        var interesting = Enumerable.Range(0, 6).Select(a => rules.SelectMany(r => r.Comparisons).Where(c => c.Arg == a)
            .SelectMany(c => c.InterestingValues()).Concat(RandomProfiles.EdgeValues).Distinct().ToArray()).ToArray();
        for (int i = 0; i < count; i++)
            yield return [.. Enumerable.Range(0, 6).Select(a => interesting[a][rng.Next(interesting[a].Length)])];
    }

    private static string Show(SeccompAction? a) => a?.ToString() ?? "the default";
}
