using System.CommandLine;
using System.Globalization;
using Syscage.Abi;
using Syscage.Bpf;
using Syscage.Policy;
using Syscage.Policy.Compiler;

namespace Syscage.Cli.Commands;

/// <summary><c>syscage check FILE.bpf</c>: would the kernel accept this program? <c>syscage check POLICY</c>: does its filter do what it says?</summary>
public static class CheckCommand
{
    /// <summary>The command definition; it only unpacks the parse result.</summary>
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "A raw .bpf filter or assembler text (validated), or a POLICY (compiled, then compared with the policy on every architecture, syscall number and argument edge)" };
        var arch = new Option<string?>("--arch") { Description = "Architecture for syscall names in assembler text (default: native)" };
        var json = JsonOutput.Option("the verdict (for a policy: each filter's comparison and the lint's warnings)");
        var oci = new OciInputs.Arguments();
        var cmd = oci.AddTo(new Command("check", "Validate a program as seccomp(SECCOMP_SET_MODE_FILTER) would, or check a policy's compiled filter against the policy; exit 0 if they agree, 1 if not") { file, arch, json });
        cmd.SetAction(p => CliApp.Guard(p, (o, e) => Run(o, e, p.GetValue(file)!, p.GetValue(arch), oci.Read(p), p.GetValue(json))));
        return cmd;
    }

    /// <summary>Prints the verdict; 0 when the kernel would accept the program, 1 when not.</summary>
    public static int Run(TextWriter stdout, TextWriter stderr, string file, string? arch = null, OciInputs? oci = null, bool json = false)
    {
        if (!PolicyInputs.IsProgram(file))
            return CheckPolicy(stdout, stderr, file, oci, json);
        if (oci is { Given: true })
            throw new CliException(ExitCode.Usage, $"{file}: --cap-add, --cap-drop and --kernel-version are for OCI/Docker profiles (.json)");
        var insns = ProgramFiles.ReadInstructions(file, ProgramFiles.ParseArch(arch));
        var error = Validator.Check(insns);
        if (json)
        {
            JsonOutput.WriteLine(stdout, w =>
            {
                w.WriteStartObject();
                w.WriteString("file", file);
                w.WriteString("kind", "program");
                w.WriteBoolean("valid", error is null);
                w.WriteNumber("instructions", insns.Length);
                if (error is not null)
                {
                    w.WriteString("errno", error.Errno);
                    w.WriteNumber("pc", error.Pc);
                    w.WriteString("reason", error.Reason);
                    w.WriteString("message", error.ToString());
                }
                w.WriteEndObject();
            });
            return error is null ? (int)ExitCode.Ok : (int)ExitCode.Rejected;
        }
        if (error is not null)
        {
            stdout.WriteLine($"{file}: rejected ({error.Errno}): {error}");
            return (int)ExitCode.Rejected;
        }
        stdout.WriteLine($"{file}: ok, {insns.Length} instructions");
        return (int)ExitCode.Ok;
    }

    /// <summary>
    /// Compiles the policy (optimised and not) and compares each program with the policy's reference evaluator
    /// on every architecture, syscall number and predicate edge (<see cref="EquivalenceChecker"/>); says when a
    /// syscall's argument combinations were too many and only a sample of them was compared.
    /// </summary>
    private static int CheckPolicy(TextWriter stdout, TextWriter stderr, string policyName, OciInputs? oci, bool json)
    {
        var policy = PolicyInputs.LoadPolicy(policyName, null, stderr, oci);
        int status = (int)ExitCode.Ok;
        var results = new List<(bool Optimize, BpfProgram Program, EquivalenceReport Report)>();
        IReadOnlyList<LintFinding> findings = [];
        foreach (bool optimize in new[] { true, false })
        {
            var program = PolicyCompiler.Compile(policy, new CompileOptions { Optimize = optimize });
            // Once it compiles: the lint's findings, as 'compile' and 'lint' print them. They do not change the verdict.
            if (optimize)
            {
                findings = PolicyLinter.Lint(policy);
                if (!json)
                    LintOutput.WriteText(stderr, findings);
            }
            var report = EquivalenceChecker.Check(policy, program);
            results.Add((optimize, program, report));
            if (!report.Equivalent)
                status = (int)ExitCode.Rejected;
            if (json)
                continue;
            string kind = optimize ? "optimised" : "unoptimised";
            if (report.Equivalent)
            {
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{policyName}: {kind} filter of {program.Length} instructions matches the policy on {Inputs(report)}"));
                continue;
            }
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{policyName}: {kind} filter differs from the policy on {report.MismatchCount} of {Inputs(report)}; first ones:"));
            foreach (var m in report.Mismatches.Take(10))
                stdout.WriteLine($"  {m.Data}: policy {m.Expected}, filter {m.Actual}");
        }
        if (json)
        {
            JsonOutput.WriteLine(stdout, w =>
            {
                w.WriteStartObject();
                w.WriteString("policy", policyName);
                w.WriteString("kind", "policy");
                w.WriteBoolean("equivalent", results.All(r => r.Report.Equivalent));
                w.WriteStartArray("filters");
                foreach (var (optimize, program, report) in results)
                {
                    w.WriteStartObject();
                    w.WriteBoolean("optimized", optimize);
                    w.WriteNumber("instructions", program.Length);
                    w.WriteBoolean("equivalent", report.Equivalent);
                    w.WriteNumber("vectors", report.Vectors);
                    w.WriteString("combinations", report.Combinations.ToString(CultureInfo.InvariantCulture));
                    w.WriteNumber("sampledSyscalls", report.SampledSyscalls);
                    w.WriteNumber("mismatchCount", report.MismatchCount);
                    w.WriteStartArray("mismatches");
                    foreach (var m in report.Mismatches.Take(10))
                    {
                        w.WriteStartObject();
                        w.WriteString("call", ArgumentDecoder.Call(m.Data));
                        w.WriteString("auditArch", JsonOutput.Hex(m.Data.Arch));
                        w.WriteNumber("nr", m.Data.Nr);
                        w.WriteStartArray("args");
                        for (int i = 0; i < 6; i++)
                            w.WriteStringValue(JsonOutput.Hex(m.Data.Arg(i)));
                        w.WriteEndArray();
                        w.WriteString("policy", m.Expected.ToString());
                        w.WriteString("filter", m.Actual.ToString());
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteStartArray("warnings");
                foreach (var f in findings)
                    LintOutput.WriteJson(w, f);
                w.WriteEndArray();
                w.WriteEndObject();
            });
        }
        return status;
    }

    /// <summary>"all N input combinations", or "N sampled input combinations of M (...)" when some were left out.</summary>
    private static string Inputs(EquivalenceReport report) => report.Sampled
        ? string.Create(CultureInfo.InvariantCulture,
            $"{report.Vectors} sampled input combinations of {report.Combinations} ({(report.SampledSyscalls == 1 ? "one syscall has" : $"{report.SampledSyscalls} syscalls (counted per architecture) have")} more than {EquivalenceChecker.MaxCombinationsPerSyscall} argument combinations, tried in part)")
        : string.Create(CultureInfo.InvariantCulture, $"all {report.Vectors} input combinations");
}
