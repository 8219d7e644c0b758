using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Syscage.Abi;
using Syscage.Bpf;
using Syscage.Policy.Compiler;
using Syscage.Testing;
using Xunit.Abstractions;

namespace Syscage.Policy.Oci.Tests;

/// <summary>
/// Random OCI profiles whose entries overlap (<see cref="RandomProfiles.NextOverlapping"/>), three judges and a
/// shuffle: Syscage's IR and its compiled filter must agree always; libseccomp 2.5.4, built as runc builds it, must agree
/// with the IR on every call but those a known libseccomp behaviour explains (<see cref="LibseccompBehaviour"/>); and the
/// same profile with its entries shuffled must decide every call alike — except where libseccomp's own tree depends on the
/// order (docs/libseccomp-differences.md, "Overlapping entries").
/// </summary>
public class OverlappingEntriesTests(ITestOutputHelper output)
{
    /// <summary>Profiles per run; <c>SYSCAGE_OVERLAP_PROFILES</c> overrides it for longer soaks.</summary>
    private static readonly int ProfileCount = int.TryParse(Environment.GetEnvironmentVariable("SYSCAGE_OVERLAP_PROFILES"), out int n) ? n : 1500;
    private const int VectorsPerProfile = 60;

    private static readonly OciOptions Host = new() { NativeArchitecture = Architecture.X86_64, KernelVersion = "6.1.0" };

    [Fact]
    public void OverlappingEntriesDecideAsLibseccompDoesWhateverTheirOrder()
    {
        Assert.Equal(Architecture.X86_64, Architecture.Native);
        var generator = new RandomProfiles(20260302);
        var rng = new Random(99);
        var clock = Stopwatch.StartNew();
        long vectors = 0, agree = 0, reordered = 0, orderDependentInLibseccomp = 0;
        int refused = 0, hung = 0;
        var classes = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var reasons = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var problems = new List<string>();

        for (int p = 0; p < ProfileCount && problems.Count < 8; p++)
        {
            string json = generator.NextOverlapping();
            string shuffledJson = Shuffle(json, rng);
            var profile = OciProfileLoader.Parse(json, Host);
            var shuffled = OciProfileLoader.Parse(shuffledJson, Host);
            var compiled = PolicyCompiler.Compile(profile.Policy, new CompileOptions { Optimize = p % 2 == 0 });
            var build = Build(profile, p % 2 == 0 ? 1u : 2u);
            if (build is null)
                hung++;
            else if (build.Bpf is null)
                refused++;

            foreach (var data in DifferentialTests.Vectors(profile.Policy, rng, VectorsPerProfile))
            {
                vectors++;
                var ir = profile.Policy.Evaluate(data).Action;
                var c = Interpreter.Run(compiled, data).Action;
                if (c != ir)
                    problems.Add($"profile {p}: {data}: IR {ir}, compiled {c}\n{json}");

                if (build?.Bpf is { } bpf)
                {
                    uint lib = ReferenceBpf.Run(bpf, data.ToBytes());
                    if (lib == ir.Value)
                        agree++;
                    else
                    {
                        string why = LibseccompMultiplexing.Explain(profile, data, lib) ?? LibseccompBehaviour.Explain(profile, data, lib, bpf) ?? "unexplained";
                        classes[why] = classes.GetValueOrDefault(why) + 1;
                        if (why == "unexplained")
                            problems.Add($"profile {p}: {data}: IR {ir} ({profile.Policy.Evaluate(data).Rule?.Condition}), libseccomp {new SeccompAction(lib)}\n{json}");
                    }
                }

                var other = shuffled.Policy.Evaluate(data).Action;
                if (other == ir)
                    continue;
                reordered++;
                if (OrderMatters(profile, shuffled, data) is { } reason)
                {
                    orderDependentInLibseccomp++;
                    reasons[reason] = reasons.GetValueOrDefault(reason) + 1;
                }
                else
                    problems.Add($"profile {p}: {data}: {ir} in the profile's order, {other} with its entries shuffled, though libseccomp's tree decides alike\n{json}\nshuffled:\n{shuffledJson}");
            }
        }

        var report = new StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture, $"{ProfileCount} profiles with overlapping entries ({refused} refused by libseccomp, {hung} hung it), {vectors} calls in {clock.Elapsed.TotalSeconds:F1} s");
        report.AppendLine(CultureInfo.InvariantCulture, $"IR vs compiled filter: every call; IR vs libseccomp 2.5.4: {agree} agree, {classes.Values.Sum()} differ");
        foreach (var (name, count) in classes)
            report.AppendLine(CultureInfo.InvariantCulture, $"  {count,7}  {name}");
        report.AppendLine(CultureInfo.InvariantCulture, $"entries shuffled: {reordered} calls decided otherwise, all where libseccomp's own tree depends on the order ({orderDependentInLibseccomp}):");
        foreach (var (name, count) in reasons)
            report.AppendLine(CultureInfo.InvariantCulture, $"  {count,7}  {name}");
        output.WriteLine(report.ToString());
        Assert.True(vectors >= 50_000, $"only {vectors} calls");
        Assert.True(problems.Count == 0, string.Join("\n\n", problems.Take(3)));
    }

    /// <summary>libseccomp's build as runc makes it, on a thread of its own (2.5.4 can loop forever); null when it hangs.</summary>
    private static LibseccompBuild? Build(OciProfile profile, uint optimize)
    {
        LibseccompBuild? build = null;
        var worker = new Thread(() => build = LibseccompProfile.Build(profile, optimize)) { IsBackground = true };
        worker.Start();
        return worker.Join(TimeSpan.FromSeconds(5)) ? build : null;
    }

    /// <summary>The profile with its <c>syscalls</c> entries in a random order.</summary>
    private static string Shuffle(string json, Random rng)
    {
        var root = JsonNode.Parse(json)!.AsObject();
        var entries = root["syscalls"]!.AsArray();
        var list = entries.Select(e => e!.DeepClone()).OrderBy(_ => rng.Next()).ToList();
        entries.Clear();
        foreach (var e in list)
            entries.Add(e);
        return root.ToJsonString();
    }

    /// <summary>
    /// Why libseccomp's tree (as Syscage models it, at the widths Syscage compares) depends on the order for this call —
    /// it decides the call otherwise in the two orders, or fails in one of them: refuses or drops an entry, or gives the
    /// call no matching entry's action — or null when it does not.
    /// </summary>
    private static string? OrderMatters(OciProfile a, OciProfile b, SeccompData data)
    {
        var section = a.Policy.SectionFor(data)!;
        var args = Enumerable.Range(0, 6).Select(i => data.Arg(i)).ToArray();
        // Through socketcall(2)/ipc(2), libseccomp (and the IR) give a call the action of its first entry without argument
        // checks, whichever entries come later: which one is first depends on the order.
        var arch = section.Architecture;
        if ((data.Nr == arch.SocketcallNumber || data.Nr == arch.IpcNumber)
            && MultiplexedCall.FromCode(data.Nr == arch.SocketcallNumber ? Multiplexer.Socketcall : Multiplexer.Ipc, data.Arg(0)) is { } call)
        {
            SeccompAction? First(OciProfile p) => p.Entries
                .FirstOrDefault(e => e.Action != p.Policy.DefaultAction && e.Args.Count == 0 && e.Names.Contains(call.Name))?.Action;
            if (First(a) != First(b))
                return "libseccomp keeps the first entry without argument checks of a call made through socketcall/ipc";
        }
        (SeccompAction? Verdict, string? Failure) Judge(OciProfile profile)
        {
            var rules = LibseccompBehaviour.ModelledRules(profile, section.Architecture, data.Nr, LibseccompBehaviour.Model.None);
            var tree = new LibseccompTree(LibseccompBehaviour.Halves(section.Architecture));
            var results = rules.Select(tree.Add).ToList();
            SeccompAction? verdict;
            try
            {
                verdict = tree.Decide(args);
            }
            catch (InvalidOperationException)
            {
                return (null, "libseccomp's lists become circular in one order");
            }
            if (results.Contains(TreeAddResult.Refused) || results.Contains(TreeAddResult.Loops))
                return (verdict, "libseccomp refuses an entry in one order (-EEXIST), not in the other");
            if (results.Contains(TreeAddResult.Redundant))
                return (verdict, "libseccomp drops an entry as redundant in one order");
            var matching = rules.Where(r => r.Condition.Evaluate(args, true)).ToList();
            if (verdict is null ? matching.Count != 0 : !matching.Any(r => r.Action == verdict))
                return (verdict, "libseccomp's tree gives the call no matching entry's action in one order");
            return (verdict, null);
        }
        var (x, xf) = Judge(a);
        var (y, yf) = Judge(b);
        return xf ?? yf ?? (x != y ? "libseccomp's tree decides the call otherwise in the other order" : null);
    }
}
