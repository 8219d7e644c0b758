using System.Globalization;
using System.Text;
using Syscage.Bpf;

namespace Syscage.Policy.Compiler;

/// <summary>
/// Renders the policy IR as pseudo filter code, the readable form libseccomp calls PFC: per architecture, per
/// syscall, the rules with their argument tests, then the default and bad-arch actions.
/// </summary>
public static class PseudoFilterCode
{
    /// <summary>The PFC text of <paramref name="policy"/>.</summary>
    /// <exception cref="PolicyCompileException">
    /// A syscall's rules hold more argument tests than a filter can (<see cref="InputLimits.MaxArgumentTestsPerSyscall"/>).
    /// </exception>
    public static string Render(SeccompPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        PolicyCompiler.CheckSize(policy);
        var sb = new StringBuilder();
        sb.Append("#\n# pseudo filter code start\n#\n");
        foreach (var section in policy.Sections)
        {
            var arch = section.Architecture;
            sb.Append(CultureInfo.InvariantCulture, $"# filter for arch {arch.Name} ({arch.AuditArchName} 0x{arch.AuditArch:x8})\n");
            if (policy.Newer?.NewestOn(arch) is uint newest)
            {
                string newestName = arch.Syscalls.TryGetName(unchecked((int)newest), out var nn) ? nn : "?";
                string why = policy.Newer.Source is { } src ? $"  # {src}" : "";
                sb.Append(CultureInfo.InvariantCulture, $"# past the newest syscall {policy.Newer.Basis} ({newestName})\nif ($syscall > {newest})\n  action {policy.Newer.Action};{why}\n");
            }
            foreach (var (nr, rules) in section.Syscalls.OrderBy(kv => (uint)kv.Key))
            {
                string name = arch.Syscalls.TryGetName(nr, out var n) ? n : "?";
                sb.Append(CultureInfo.InvariantCulture, $"if ($syscall == {nr})  # {name}\n");
                foreach (var rule in rules)
                {
                    string where = rule.Source is null ? "" : $"  # {rule.Source}";
                    if (rule.Condition.IsTrue)
                        sb.Append(CultureInfo.InvariantCulture, $"  action {rule.Action};{where}\n");
                    else
                        sb.Append(CultureInfo.InvariantCulture, $"  if ({Describe(rule.Condition, arch.Is64Bit)})\n    action {rule.Action};{where}\n");
                }
            }
            sb.Append(CultureInfo.InvariantCulture, $"# default action\naction {policy.DefaultAction};\n");
        }
        sb.Append(CultureInfo.InvariantCulture, $"# invalid architecture action\naction {policy.BadArchAction};\n");
        sb.Append("#\n# pseudo filter code end\n#\n");
        return sb.ToString();
    }

    private static string Describe(Condition c, bool is64Bit) => c switch
    {
        Condition.Predicate p => Predicate(p.Value, is64Bit),
        Condition.AllOf a => string.Join(" && ", a.Conditions.Select(x => x is Condition.AnyOf ? $"({Describe(x, is64Bit)})" : Describe(x, is64Bit))),
        Condition.AnyOf o => string.Join(" || ", o.Conditions.Select(x => Describe(x, is64Bit))),
        Condition.NotOf n => $"!({Describe(n.Inner, is64Bit)})",
        _ => c.ToString(),
    };

    /// <summary>
    /// The predicate as the filter evaluates it (<see cref="ArgPredicate.At"/>): an argument compared on its low bits
    /// only — an <c>int</c>, an <c>umode_t</c>, anything on a 32-bit ABI — is written <c>$a0.lo32</c>, <c>$a1.lo16</c>.
    /// </summary>
    private static string Predicate(ArgPredicate p, bool is64Bit) =>
        p.At(is64Bit).FormatAtWidth(string.Create(CultureInfo.InvariantCulture, $"$a{p.Arg}"));
}
