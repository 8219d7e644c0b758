using System.Diagnostics;
using System.Globalization;
using Syscage.Bpf;
using Syscage.Policy;
using Syscage.Policy.Compiler;
using Syscage.Policy.Oci;
using Syscage.Abi;
using Syscage.Testing;

namespace Syscage.Bench;

/// <summary>
/// What a filter costs per system call, as the interpreter counts executed instructions for every x86_64
/// syscall number 0..462 (arguments zero): Syscage's filter (optimised and not) against libseccomp 2.5's output
/// for the same profile, with its default layout and with <c>SCMP_FLTATR_CTL_OPTIMIZE=2</c> (binary tree).
/// Also: how many of the profile's always-allowed syscalls the kernel's action cache can skip the filter for.
/// </summary>
public static class FilterCost
{
    private const int MaxNr = 462;

    /// <summary>Prints the table; the profile defaults to Docker's.</summary>
    public static int Run(string[] args)
    {
        string path = args.Length > 0 ? args[0] : Program.DockerDefault;
        var profile = OciProfileLoader.Load(path, new OciOptions { NativeArchitecture = Architecture.X86_64, FileName = Path.GetFileName(path) });
        var policy = profile.Policy;
        var section = policy.Sections.First(s => s.Architecture == Architecture.X86_64);
        var alwaysAllowed = section.Syscalls.Where(kv => kv.Value.Any(r => r.Condition.IsTrue && r.Action == SeccompAction.Allow) &&
                                                         kv.Value.TakeWhile(r => !r.Condition.IsTrue).All(r => r.Action == SeccompAction.Allow))
            .Select(kv => kv.Key).ToList();

        var sw = Stopwatch.StartNew();
        var optimised = PolicyCompiler.Compile(policy);
        double compileMs = sw.Elapsed.TotalMilliseconds;
        var rows = new List<(string Name, BpfProgram Program)>
        {
            ("Syscage", optimised),
            ("Syscage --no-optimize", PolicyCompiler.Compile(policy, new CompileOptions { Optimize = false })),
        };
        foreach (uint level in new uint[] { 1, 2 })
        {
            var built = LibseccompProfile.Build(profile, level);
            if (built.Bpf is null)
            {
                Console.WriteLine($"libseccomp (optimize={level}): {built.Error}");
                continue;
            }
            rows.Add((level == 1 ? "libseccomp 2.5 default" : "libseccomp 2.5 optimize=2", BpfProgram.FromBytes(built.Bpf)));
        }

        Console.WriteLine($"profile: {path}");
        Console.WriteLine($"x86_64 syscall numbers 0..{MaxNr}, arguments zero; {alwaysAllowed.Count} syscalls always allowed");
        Console.WriteLine();
        Console.WriteLine($"{"filter",-28} {"insns",6} {"mean",7} {"max",5} {"vs Syscage",11} {"cacheable",12}");
        double baseline = 0;
        foreach (var (name, program) in rows)
        {
            var counts = Enumerable.Range(0, MaxNr + 1)
                .Select(nr => Interpreter.Run(program, new SeccompData(nr, AuditArch.AUDIT_ARCH_X86_64)).InstructionsExecuted).ToArray();
            double mean = counts.Average();
            if (baseline == 0)
                baseline = mean;
            int cached = alwaysAllowed.Count(nr => ActionCache.IsConstAllow(program, AuditArch.AUDIT_ARCH_X86_64, nr));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name,-28} {program.Length,6} {mean,7:F2} {counts.Max(),5} {mean / baseline,10:F2}x {cached,5}/{alwaysAllowed.Count} {100.0 * cached / alwaysAllowed.Count,4:F0}%"));
        }
        Console.WriteLine();
        var report = EquivalenceChecker.Check(policy, optimised);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Syscage filter vs the policy: {report.Vectors} inputs, {report.MismatchCount} mismatches; first compile {compileMs:F1} ms (cold; see CompileBenchmarks for the steady state)"));
        return report.Equivalent ? 0 : 1;
    }
}
