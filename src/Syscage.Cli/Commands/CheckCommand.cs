using System.CommandLine;
using System.Globalization;
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
        var oci = new OciInputs.Arguments();
        var cmd = oci.AddTo(new Command("check", "Validate a program as seccomp(SECCOMP_SET_MODE_FILTER) would, or check a policy's compiled filter against the policy; exit 0 if they agree, 1 if not") { file, arch });
        cmd.SetAction(p => CliApp.Guard(p, (o, e) => Run(o, e, p.GetValue(file)!, p.GetValue(arch), oci.Read(p))));
        return cmd;
    }

    /// <summary>Prints the verdict; 0 when the kernel would accept the program, 1 when not.</summary>
    public static int Run(TextWriter stdout, TextWriter stderr, string file, string? arch = null, OciInputs? oci = null)
    {
        if (!PolicyInputs.IsProgram(file))
            return CheckPolicy(stdout, stderr, file, oci);
        if (oci is { Given: true })
            throw new CliException(ExitCode.Usage, $"{file}: --cap-add, --cap-drop and --kernel-version are for OCI/Docker profiles (.json)");
        var insns = ProgramFiles.ReadInstructions(file, ProgramFiles.ParseArch(arch));
        if (Validator.Check(insns) is { } error)
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
    private static int CheckPolicy(TextWriter stdout, TextWriter stderr, string policyName, OciInputs? oci)
    {
        var policy = PolicyInputs.LoadPolicy(policyName, null, stderr, oci);
        int status = (int)ExitCode.Ok;
        foreach (bool optimize in new[] { true, false })
        {
            var program = PolicyCompiler.Compile(policy, new CompileOptions { Optimize = optimize });
            // Once it compiles: the lint's findings, as 'compile' and 'lint' print them. They do not change the verdict.
            if (optimize)
                LintOutput.WriteText(stderr, PolicyLinter.Lint(policy));
            var report = EquivalenceChecker.Check(policy, program);
            string kind = optimize ? "optimised" : "unoptimised";
            if (report.Equivalent)
            {
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{policyName}: {kind} filter of {program.Length} instructions matches the policy on {Inputs(report)}"));
                continue;
            }
            status = (int)ExitCode.Rejected;
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{policyName}: {kind} filter differs from the policy on {report.MismatchCount} of {Inputs(report)}; first ones:"));
            foreach (var m in report.Mismatches.Take(10))
                stdout.WriteLine($"  {m.Data}: policy {m.Expected}, filter {m.Actual}");
        }
        return status;
    }

    /// <summary>"all N input combinations", or "N sampled input combinations of M (...)" when some were left out.</summary>
    private static string Inputs(EquivalenceReport report) => report.Sampled
        ? string.Create(CultureInfo.InvariantCulture,
            $"{report.Vectors} sampled input combinations of {report.Combinations} ({(report.SampledSyscalls == 1 ? "one syscall has" : $"{report.SampledSyscalls} syscalls (counted per architecture) have")} more than {EquivalenceChecker.MaxCombinationsPerSyscall} argument combinations, tried in part)")
        : string.Create(CultureInfo.InvariantCulture, $"all {report.Vectors} input combinations");
}
