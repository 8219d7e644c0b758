using System.Reflection;
using System.Text.RegularExpressions;
using Syscage.Abi;

namespace Syscage.Layering.Tests;

/// <summary>
/// One owner per fact: a kernel number appears as a literal only in the generated tables of Abi/ (DESIGN.md,
/// "Layers"). Elsewhere a constant named like a kernel constant, a number labelled with a kernel name in a comment,
/// or an enum member documented as a kernel constant must take its value from Abi, not from a literal.
/// </summary>
public partial class KernelNumberTests
{
    /// <summary>Every name the generated tables know: constants, errno, signals, helper ids, syscalls (as SYS_x and __NR_x), architectures.</summary>
    private static readonly Lazy<HashSet<string>> KernelNames = new(() =>
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var uapi = typeof(Errno).Assembly.GetType("Syscage.Abi.Uapi", throwOnError: true)!;
        foreach (var f in uapi.GetFields(BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public))
            names.Add(f.Name);
        foreach (var t in new[] { typeof(Errno), typeof(Signals), typeof(HelperIds), typeof(AuditArch) })
            foreach (var f in t.GetFields(BindingFlags.Static | BindingFlags.Public).Where(f => f.IsLiteral && KernelName().IsMatch(f.Name)))
                names.Add(f.Name);
        foreach (var arch in Architecture.All)
            foreach (var s in arch.Syscalls.All)
            {
                names.Add("SYS_" + s.Name);
                names.Add("__NR_" + s.Name);
            }
        return names;
    });

    [Fact]
    public void The_tables_know_the_names_this_test_looks_for() =>
        Assert.True(new[] { "EPERM", "SIGSYS", "PR_SET_NO_NEW_PRIVS", "SECCOMP_IOCTL_NOTIF_RECV", "BPF_ALU64", "BPF_FUNC_map_lookup_elem", "SYS_seccomp" }
            .All(KernelNames.Value.Contains));

    [Fact]
    public void No_kernel_number_is_a_literal_outside_the_generated_tables()
    {
        var bad = new List<string>();
        foreach (var (file, _, text) in LayeringTests.Sources())
        {
            string relative = LayeringTests.Relative(file);
            // Abi/ owns the facts (its tables are generated; a few are written there beside them).
            if (relative.StartsWith("src/Syscage/Abi/", StringComparison.Ordinal))
                continue;
            string[] lines = text.Split('\n');
            for (int i = 0; i < lines.Length; i++)
            {
                string line = lines[i];
                foreach (Match m in ConstantDeclaration().Matches(line))
                    if (KernelNames.Value.Contains(m.Groups[1].Value) && HasLiteral(m.Groups[2].Value))
                        bad.Add($"{relative}:{i + 1}: {m.Groups[1].Value} = {m.Groups[2].Value.Trim()}");
                foreach (Match m in LabelledNumber().Matches(line))
                    if (KernelNames.Value.Contains(m.Groups[2].Value))
                        bad.Add($"{relative}:{i + 1}: {m.Value.Trim()}");
                var member = EnumMember().Match(line);
                if (member.Success && HasLiteral(member.Groups[2].Value) && i > 0 && DocumentedName().Match(lines[i - 1]) is { Success: true } doc
                    && KernelNames.Value.Contains(doc.Groups[1].Value))
                    bad.Add($"{relative}:{i + 1}: {member.Groups[1].Value} = {member.Groups[2].Value.Trim()} (documented as {doc.Groups[1].Value})");
            }
        }
        Assert.True(bad.Count == 0, $"{bad.Count} kernel numbers written as literals (take them from Syscage.Abi):\n{string.Join("\n", bad)}");
    }

    private static bool HasLiteral(string expression) => NumberLiteral().IsMatch(expression);

    // EPERM = 1,   SYS_seccomp = Arm64 ? 277 : 317;   (a declaration or an initializer naming a kernel constant)
    [GeneratedRegex(@"\b([A-Z_][A-Za-z0-9_]*)\s*=(?![=>])\s*([^,;=]*[0-9][^,;]*)[,;]")]
    private static partial Regex ConstantDeclaration();

    // 4 /* EINTR */   or   0x80000 // O_CLOEXEC
    [GeneratedRegex(@"\b(0x[0-9A-Fa-f_]+|\d[\d_]*)[uUlL]*\s*(?:/\*|//)\s*([A-Z_][A-Z0-9_]+)\b")]
    private static partial Regex LabelledNumber();

    // Member = 1,
    [GeneratedRegex(@"^\s*([A-Z][A-Za-z0-9_]*)\s*=\s*([^,;]+),?\s*$")]
    private static partial Regex EnumMember();

    // /// <summary><c>BPF_ANY</c>: ...
    [GeneratedRegex(@"///.*?<c>([A-Z_][A-Z0-9_]+)</c>")]
    private static partial Regex DocumentedName();

    // SIGSYS, EPERM, BPF_FUNC_map_lookup_elem: an upper-case first part (not a C# name such as Signals.Last).
    [GeneratedRegex(@"^[A-Z][A-Z0-9]*(_[A-Za-z0-9_]+)?$")]
    private static partial Regex KernelName();

    [GeneratedRegex(@"(?<![A-Za-z0-9_.])(0x[0-9A-Fa-f_]+|\d[\d_]*)(?![A-Za-z0-9_])")]
    private static partial Regex NumberLiteral();
}
