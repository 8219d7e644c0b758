using System.Text.RegularExpressions;
using Syscage.Testing;

namespace Syscage.Layering.Tests;

/// <summary>
/// The layers of DESIGN.md ("Layers") as a test: every type reference in the compiled assemblies and every
/// <c>using</c> in the sources points down. A layer may use any layer below it; inside Policy and Ebpf the parts are
/// ranked too, so no two parts use each other.
/// </summary>
public partial class LayeringTests
{
    /// <summary>Who may use whom: a namespace (or its prefix) and the namespaces it may refer to besides its own.</summary>
    private static readonly (string Namespace, string[] May)[] Rules =
    [
        ("Syscage.Abi", []),
        ("Syscage.Bpf", ["Syscage.Abi"]),
        ("Syscage.Policy.Builtin", ["Syscage.Policy.Language", "Syscage.Policy.Oci", "Syscage.Policy", "Syscage.Bpf", "Syscage.Abi"]),
        ("Syscage.Policy.Fluent", ["Syscage.Policy.Language", "Syscage.Policy", "Syscage.Bpf", "Syscage.Abi"]),
        ("Syscage.Policy.Compiler", ["Syscage.Policy", "Syscage.Bpf", "Syscage.Abi"]),
        ("Syscage.Policy.Recording", ["Syscage.Policy.Language", "Syscage.Policy", "Syscage.Bpf", "Syscage.Abi"]),
        ("Syscage.Policy.Language", ["Syscage.Policy", "Syscage.Bpf", "Syscage.Abi"]),
        ("Syscage.Policy.Oci", ["Syscage.Policy", "Syscage.Bpf", "Syscage.Abi"]),
        ("Syscage.Policy", ["Syscage.Bpf", "Syscage.Abi"]),
        ("Syscage.Ebpf.Seccomp", ["Syscage.Ebpf.Analysis", "Syscage.Ebpf.Vm", "Syscage.Ebpf.Verifier", "Syscage.Ebpf.Elf", "Syscage.Ebpf.Helpers", "Syscage.Ebpf.Maps", "Syscage.Ebpf.Btf", "Syscage.Ebpf.Isa", "Syscage.Ebpf", "Syscage.Bpf", "Syscage.Abi"]),
        ("Syscage.Ebpf.Analysis", ["Syscage.Ebpf.Vm", "Syscage.Ebpf.Verifier", "Syscage.Ebpf.Helpers", "Syscage.Ebpf.Maps", "Syscage.Ebpf.Isa", "Syscage.Ebpf", "Syscage.Bpf", "Syscage.Abi"]),
        ("Syscage.Ebpf.Vm", ["Syscage.Ebpf.Verifier", "Syscage.Ebpf.Helpers", "Syscage.Ebpf.Maps", "Syscage.Ebpf.Isa", "Syscage.Ebpf", "Syscage.Bpf", "Syscage.Abi"]),
        ("Syscage.Ebpf.Verifier", ["Syscage.Ebpf.Elf", "Syscage.Ebpf.Helpers", "Syscage.Ebpf.Maps", "Syscage.Ebpf.Btf", "Syscage.Ebpf.Isa", "Syscage.Ebpf", "Syscage.Bpf", "Syscage.Abi"]),
        ("Syscage.Ebpf.Elf", ["Syscage.Ebpf.Maps", "Syscage.Ebpf.Btf", "Syscage.Ebpf.Isa", "Syscage.Ebpf", "Syscage.Bpf", "Syscage.Abi"]),
        ("Syscage.Ebpf.Helpers", ["Syscage.Ebpf.Maps", "Syscage.Ebpf.Btf", "Syscage.Ebpf.Isa", "Syscage.Ebpf", "Syscage.Bpf", "Syscage.Abi"]),
        ("Syscage.Ebpf.Maps", ["Syscage.Ebpf.Btf", "Syscage.Ebpf", "Syscage.Bpf", "Syscage.Abi"]),
        ("Syscage.Ebpf.Btf", ["Syscage.Ebpf", "Syscage.Bpf", "Syscage.Abi"]),
        ("Syscage.Ebpf.Isa", ["Syscage.Ebpf", "Syscage.Bpf", "Syscage.Abi"]),
        ("Syscage.Ebpf", ["Syscage.Bpf", "Syscage.Abi"]),
        ("Syscage.Kernel.Notify", ["Syscage.Kernel", "Syscage.Bpf", "Syscage.Abi"]),
        ("Syscage.Kernel", ["Syscage.Bpf", "Syscage.Abi"]),
        ("Syscage.Supervision", ["Syscage.Kernel", "Syscage.Policy", "Syscage.Ebpf", "Syscage.Bpf", "Syscage.Abi"]),
        ("Syscage.Cli", ["Syscage.Supervision", "Syscage.Policy", "Syscage.Ebpf", "Syscage.Bpf", "Syscage.Abi"]),
    ];

    /// <summary>The namespace of the root files (exceptions, input limits): usable by all, using none.</summary>
    private const string Root = "Syscage";

    /// <summary>The rule that governs <paramref name="ns"/>: the longest namespace prefix that has one.</summary>
    private static (string Namespace, string[] May)? RuleFor(string ns) =>
        Rules.Where(r => ns == r.Namespace || ns.StartsWith(r.Namespace + ".", StringComparison.Ordinal))
             .OrderByDescending(r => r.Namespace.Length).Cast<(string, string[])?>().FirstOrDefault();

    /// <summary>Null when <paramref name="from"/> may use <paramref name="to"/>, else why not.</summary>
    private static string? Violation(string from, string to)
    {
        if (!to.StartsWith("Syscage", StringComparison.Ordinal) || to == Root)
            return null;
        if (from == Root)
            return $"{Root} (the root files) uses {to}";
        var rule = RuleFor(from) ?? throw new InvalidOperationException($"no layering rule for namespace {from}: add one");
        if (RuleFor(to) is not { } target)
            return null; // outside the library (tests, the generator)
        if (target.Namespace == rule.Namespace)
            return null; // within one part (sub-namespaces of a part, e.g. Syscage.Cli.Commands, go with it)
        // Across layers, a permitted layer comes with all its parts; inside a layer, each part is named.
        bool sameLayer = Layer(rule.Namespace) == Layer(target.Namespace);
        bool permitted = rule.May.Any(m => m == target.Namespace || (!sameLayer && target.Namespace.StartsWith(m + ".", StringComparison.Ordinal)));
        return permitted ? null : $"{from} uses {to}";
    }

    /// <summary>The layer of a namespace: its first two parts (Syscage.Policy for Syscage.Policy.Compiler).</summary>
    private static string Layer(string ns) => string.Join('.', ns.Split('.').Take(2));

    private static string NamespaceOf(string type) => type.Contains('.') ? type[..type.LastIndexOf('.')] : "";

    public static TheoryData<string> Assemblies => ["Syscage.dll", "Syscage.Cli.dll"];

    [Theory]
    [MemberData(nameof(Assemblies))]
    public void Every_type_reference_points_down(string assembly)
    {
        var refs = TypeReferences.Read(Path.Combine(AppContext.BaseDirectory, assembly));
        Assert.True(refs.Count > 20, $"only {refs.Count} types read from {assembly}");
        var bad = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (type, targets) in refs)
            foreach (var target in targets)
                if (Violation(NamespaceOf(type), NamespaceOf(target)) is { } why)
                    bad.Add($"{why}: {type} -> {target}");
        Assert.True(bad.Count == 0, $"{bad.Count} references against the layers:\n{string.Join("\n", bad)}");
    }

    [Fact]
    public void Every_using_points_down()
    {
        var bad = new List<string>();
        foreach (var (file, ns, text) in Sources())
            foreach (Match m in UsingLine().Matches(text))
            {
                // "using static T;" and "using A = T;" name a type: its namespace is what is used.
                string name = m.Groups[3].Value;
                string used = m.Groups[1].Success || m.Groups[2].Success ? NamespaceOf(name) : name;
                if (Violation(ns, used) is { } why)
                    bad.Add($"{Relative(file)}: {why}");
            }
        Assert.True(bad.Count == 0, string.Join("\n", bad));
    }

    [Fact]
    public void The_rules_themselves_have_no_cycle()
    {
        // A rule's permitted namespaces must not permit it back, directly or through others.
        foreach (var (ns, _) in Rules)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var stack = new Stack<string>(Rules.First(r => r.Namespace == ns).May);
            while (stack.Count > 0)
            {
                string next = stack.Pop();
                Assert.NotEqual(ns, next);
                if (seen.Add(next) && Rules.FirstOrDefault(r => r.Namespace == next) is { May: { } may })
                    foreach (var m in may)
                        stack.Push(m);
            }
        }
    }

    [Fact]
    public void Every_folder_is_its_namespace()
    {
        var bad = new List<string>();
        foreach (var (file, ns, text) in Sources())
        {
            if (!NamespaceLine().IsMatch(text))
                continue; // assembly attributes
            string relative = Relative(file);
            string[] parts = relative.Split('/');
            // src/Syscage/A/B/File.cs -> Syscage.A.B; src/Syscage.Cli/A/File.cs -> Syscage.Cli.A. Interop is the Kernel's partial class.
            string expected = string.Join('.', [parts[1], .. parts[2..^1].Where(p => p != "Interop")]);
            if (ns != expected)
                bad.Add($"{relative}: namespace {ns}, folder says {expected}");
        }
        Assert.True(bad.Count == 0, string.Join("\n", bad));
    }

    internal static IEnumerable<(string File, string Namespace, string Text)> Sources()
    {
        foreach (var project in new[] { "Syscage", "Syscage.Cli" })
            foreach (var file in Directory.EnumerateFiles(Path.Combine(NativeProbe.RepositoryRoot, "src", project), "*.cs", SearchOption.AllDirectories))
            {
                if (file.Contains("/obj/", StringComparison.Ordinal) || file.Contains("/bin/", StringComparison.Ordinal))
                    continue;
                string text = File.ReadAllText(file);
                var m = NamespaceLine().Match(text);
                yield return (file, m.Success ? m.Groups[1].Value : Root, text);
            }
    }

    internal static string Relative(string file) => Path.GetRelativePath(NativeProbe.RepositoryRoot, file);

    [GeneratedRegex(@"^using (static )?(?:([A-Za-z]+) = )?(Syscage[A-Za-z0-9_.]*);", RegexOptions.Multiline)]
    private static partial Regex UsingLine();

    [GeneratedRegex(@"^namespace ([A-Za-z0-9_.]+);", RegexOptions.Multiline)]
    private static partial Regex NamespaceLine();
}
