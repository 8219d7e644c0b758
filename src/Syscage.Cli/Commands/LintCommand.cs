using System.CommandLine;
using System.Globalization;
using Syscage.Policy;

namespace Syscage.Cli.Commands;

/// <summary>
/// <c>syscage lint POLICY [--json] [--arch LIST] [--cap-add CAP] [--cap-drop CAP] [--kernel-version V]</c>: what the
/// policy says that its author probably did not mean (<see cref="PolicyLinter"/>); exit 1 when anything is found.
/// </summary>
public static class LintCommand
{
    /// <summary>The command definition; it only unpacks the parse result.</summary>
    public static Command Create()
    {
        var policy = new Argument<string>("POLICY") { Description = "A .policy file, an OCI/Docker .json profile, or a built-in policy name" };
        var arch = new Option<string?>("--arch") { Description = "Architectures to cover, e.g. x86_64,x86,x32 (default: the policy's own)" };
        var json = JsonOutput.Option("the findings");
        var oci = new OciInputs.Arguments();
        var cmd = oci.AddTo(new Command("lint", "Find rules that never match, duplicates, LOG that allows, a refused execve, allowed container-escape interfaces and " +
            "comparisons wider than the kernel reads; exit 1 when anything is found") { policy, arch, json });
        cmd.SetAction(p => CliApp.Guard(p, (o, e) => Run(o, e, p.GetValue(policy)!, p.GetValue(arch), p.GetValue(json), oci.Read(p))));
        return cmd;
    }

    /// <summary>Prints the findings (text: one per line and a summary; JSON: one object); 0 when there are none, 1 when there are.</summary>
    public static int Run(TextWriter stdout, TextWriter stderr, string policy, string? arch = null, bool json = false, OciInputs? oci = null)
    {
        if (PolicyInputs.IsProgram(policy))
            throw new CliException(ExitCode.Usage, $"{policy}: lint reads policies (.policy, .json, a built-in name); a compiled filter has no rules to lint ('syscage check' validates it)");
        var loaded = PolicyInputs.Load(policy, PolicyInputs.ParseArchList(arch), warnings: null, oci);
        var findings = LintOutput.Findings(loaded);
        if (json)
        {
            JsonOutput.WriteLine(stdout, w =>
            {
                w.WriteStartObject();
                w.WriteString("policy", policy);
                w.WriteNumber("count", findings.Count);
                w.WriteStartArray("findings");
                foreach (var f in findings)
                    LintOutput.WriteJson(w, f);
                w.WriteEndArray();
                w.WriteEndObject();
            });
        }
        else
        {
            LintOutput.WriteText(stdout, findings);
            stdout.WriteLine(findings.Count == 0 ? $"{policy}: no warnings"
                : string.Create(CultureInfo.InvariantCulture, $"{policy}: {findings.Count} warning{(findings.Count == 1 ? "" : "s")}"));
        }
        return findings.Count == 0 ? (int)ExitCode.Ok : (int)ExitCode.Rejected;
    }
}
