using System.Globalization;
using System.Text.RegularExpressions;
using Syscage.Abi;
using Syscage.Policy;
using Syscage.Policy.Language;
using Syscage.Testing;
using Xunit.Abstractions;

namespace Syscage.Record.Tests;

/// <summary>
/// <c>syscage record</c> and <c>syscage run --audit</c> against the real kernel, as a user runs them: every call of
/// every thread and process is recorded, the recorded policy runs the same program to the same output with no call
/// refused, it is minimal (without any one recorded syscall the program fails), and the recording's output is safe
/// from the command it records.
/// </summary>
public sealed partial class RecordKernelTests(ITestOutputHelper output)
{
    internal static string StaticWorkload => NativeBuild.Compile("static_workload.c", "the record tests",
        "-static", "-nostdlib", "-ffreestanding", "-fno-builtin", "-fno-stack-protector");

    private static string TreeWorkload => NativeBuild.Compile("record_workload.c", "the record tests", "-pthread");

    internal const string StaticOutput = "static workload: pid ok, uname Linux, / listed, pipe ok, signal ok\n";

    /// <summary>A line of <c>run --log-denials</c> or <c>run --audit</c> that reports a refused call.</summary>
    [GeneratedRegex(@"^syscage: (audit: )?.* -> ", RegexOptions.Multiline)]
    private static partial Regex Denial();

    /// <summary>The rules of one architecture's section of a recorded policy: syscall name and whether it was seen.</summary>
    internal static List<(string Name, bool Seen)> Rules(string policyText, string arch = "x86_64")
    {
        var rules = new List<(string, bool)>();
        bool inside = false;
        foreach (string line in policyText.Split('\n'))
        {
            if (line.StartsWith($"arch {arch} {{", StringComparison.Ordinal))
                inside = true;
            else if (line.StartsWith('}'))
                inside = false;
            else if (inside && Regex.Match(line, @"^\s+ALLOW (\S+)") is { Success: true } m)
                rules.Add((m.Groups[1].Value, !line.Contains("not seen", StringComparison.Ordinal)));
        }
        return rules;
    }

    /// <summary>The policy text without the rules of syscall <paramref name="name"/> on x86_64.</summary>
    private static string Without(string policyText, string name)
    {
        bool inside = false;
        var kept = new List<string>();
        foreach (string line in policyText.Split('\n'))
        {
            if (line.StartsWith("arch x86_64 {", StringComparison.Ordinal))
                inside = true;
            else if (line.StartsWith('}'))
                inside = false;
            if (inside && Regex.IsMatch(line, $@"^\s+ALLOW {Regex.Escape(name)}(\s|$)"))
                continue;
            kept.Add(line);
        }
        return string.Join('\n', kept);
    }

    [Fact]
    public void A_static_program_recorded_runs_under_its_policy_and_needs_every_recorded_call()
    {
        using var dir = new TempDir();
        string policy = dir.File("static.policy");
        var recorded = SyscageProcess.Run(["record", "-o", policy, "--", StaticWorkload]);
        Assert.True(recorded.ExitCode == 0, recorded.ToString());
        Assert.Equal(StaticOutput, recorded.Stdout);
        string text = File.ReadAllText(policy);
        output.WriteLine(text);
        var rules = Rules(text);
        // Every call it makes, with counts; the calls of signals and exit; nothing else.
        string[] made = ["write", "getpid", "uname", "openat", "getdents64", "close", "clock_gettime", "mmap", "munmap", "pipe2", "read",
                         "rt_sigaction", "kill", "rt_sigreturn", "exit_group", "execve"];
        foreach (string name in made)
            Assert.Contains((name, true), rules);
        Assert.Contains("ALLOW getpid", text);
        Assert.Matches(@"ALLOW write\s+# 7 calls", text);
        Assert.Contains(("restart_syscall", false), rules);
        // Seen besides the program's own: the launcher's last call under the filter before execve (it unblocks signals).
        Assert.Equal(["rt_sigprocmask"], rules.Where(r => r.Seen).Select(r => r.Name).Except(made));

        // Under the recorded policy: the same output, no call refused, nothing the audit would refuse.
        var run = SyscageProcess.Run(["run", "--log-denials", "--policy", policy, "--", StaticWorkload]);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(StaticOutput, run.Stdout);
        Assert.DoesNotMatch(Denial(), run.Stderr);
        var audit = SyscageProcess.Run(["run", "--audit", policy, "--", StaticWorkload]);
        Assert.Equal(StaticOutput, audit.Stdout);
        Assert.Contains("audit: no call would have been refused", audit.Stderr);

        // Minimal: without any one recorded syscall, the run fails (another status, another output, or a crash).
        var survivors = new List<string>();
        foreach (var (name, seen) in rules.Where(r => r.Seen))
        {
            string without = dir.File($"without-{name}.policy");
            File.WriteAllText(without, Without(text, name));
            Assert.DoesNotContain($"ALLOW {name} ", File.ReadAllText(without).Replace($"ALLOW {name}\n", "", StringComparison.Ordinal));
            var r = SyscageProcess.Run(["run", "--policy", without, "--", StaticWorkload]);
            output.WriteLine($"without {name}: exit {r.ExitCode}, stdout {r.Stdout.Trim()}");
            if (r.ExitCode == 0 && r.Stdout == StaticOutput)
                survivors.Add(name);
        }
        Assert.True(survivors.Count == 0, $"the program still runs without: {string.Join(", ", survivors)}");
        Assert.True(rules.Count(r => r.Seen) >= 16);
    }

    [Fact]
    public void Every_thread_child_exec_and_ABI_is_recorded_and_the_policy_runs_the_tree()
    {
        using var dir = new TempDir();
        string policy = dir.File("tree.policy");
        var recorded = SyscageProcess.Run(["record", "-o", policy, "--", TreeWorkload, "tree"]);
        Assert.True(recorded.ExitCode == 0, recorded.ToString());
        string text = File.ReadAllText(policy);
        output.WriteLine(text);
        // The threads', the child's and the exec'd grandchild's own calls.
        var x86_64 = Rules(text).Select(r => r.Name).ToList();
        foreach (string name in (string[])["getpriority", "times", "getcpu", "getpgid", "getsid", "clone", "execve", "wait4"])
            Assert.Contains(name, x86_64);
        // x32's getpid, seen by the filter whatever the kernel then answers (x32 is usually off: ENOSYS).
        Assert.Contains("getpid", Rules(text, "x32").Select(r => r.Name));
        bool i386 = recorded.Stdout.Contains("i386 ok", StringComparison.Ordinal);
        if (i386)
            Assert.Contains("getpid", Rules(text, "x86").Select(r => r.Name));
        Assert.Matches(@"by \d+ tasks", recorded.Stderr);

        var run = SyscageProcess.Run(["run", "--log-denials", "--policy", policy, "--", TreeWorkload, "tree"]);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(recorded.Stdout, run.Stdout);
        Assert.DoesNotMatch(Denial(), run.Stderr);
        output.WriteLine($"i386 calls {(i386 ? "recorded" : "unavailable here")}; run:\n{run.Stdout}");
    }

    [Fact]
    public void Arguments_are_recorded_as_conditions_the_run_meets()
    {
        using var dir = new TempDir();
        string policy = dir.File("args.policy");
        var recorded = SyscageProcess.Run(["record", "--args", "all", "-o", policy, "--", TreeWorkload, "tree"]);
        Assert.True(recorded.ExitCode == 0, recorded.ToString());
        string text = File.ReadAllText(policy);
        output.WriteLine(text);
        // fork(): clone's flags as the bits seen (the C library's fork), never CLONE_NEWUSER; threads come from clone3,
        // whose flags are in memory: by name.
        ulong Flag(string name) => KernelConstants.All.First(c => c.Name == name).Value;
        ulong fork = Flag("CLONE_CHILD_CLEARTID") | Flag("CLONE_CHILD_SETTID") | (ulong)Signals.SIGCHLD;
        Assert.Matches(@"ALLOW clone if \(flags & ~\([^)]*CLONE_CHILD_SETTID[^)]*\)\) == 0\s+# \d+ calls?", text);
        var parsed = PolicyLanguage.Parse(text, policy);
        var x = Architecture.X86_64;
        Assert.True(x.Syscalls.TryGetNumber("clone", out int clone));
        Assert.Equal(SeccompActionKind.Allow, parsed.Evaluate(new SeccompData(clone, x.AuditArch, 0, [fork, 0, 0, 0, 0, 0])).Action.Kind);
        Assert.NotEqual(SeccompActionKind.Allow, parsed.Evaluate(new SeccompData(clone, x.AuditArch, 0, [fork | Flag("CLONE_NEWUSER"), 0, 0, 0, 0, 0])).Action.Kind);
        // mmap's protections and flags, as the bits seen: never PROT_EXEC|PROT_WRITE together unless asked for.
        Assert.Matches(@"ALLOW mmap if \(prot & ~\(", text);

        var run = SyscageProcess.Run(["run", "--log-denials", "--policy", policy, "--", TreeWorkload, "tree"]);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(recorded.Stdout, run.Stdout);
        Assert.DoesNotMatch(Denial(), run.Stderr);
    }

    [Fact]
    public void Audit_shows_each_call_a_policy_would_refuse_and_lets_it_run()
    {
        using var dir = new TempDir();
        string policy = dir.File("static.policy");
        Assert.Equal(0, SyscageProcess.Run(["record", "-o", policy, "--", StaticWorkload]).ExitCode);
        string without = dir.File("no-uname.policy");
        File.WriteAllText(without, Without(File.ReadAllText(policy), "uname"));

        var enforced = SyscageProcess.Run(["run", "--policy", without, "--", StaticWorkload]);
        Assert.Equal(4, enforced.ExitCode);   // the workload's step: uname refused
        var audit = SyscageProcess.Run(["run", "--audit", without, "--", StaticWorkload]);
        Assert.True(audit.ExitCode == 0, audit.ToString());
        Assert.Equal(StaticOutput, audit.Stdout);
        Assert.Matches(@"syscage: audit: uname\(.*\) -> would be EPERM by the default action of .*; let run", audit.Stderr);
        Assert.Contains("audit: 1 call would have been refused by", audit.Stderr);
        Assert.Contains(": uname 1", audit.Stderr);
    }

    [Fact]
    public void Merge_keeps_the_earlier_calls_in_the_kernel_and_allows_the_union()
    {
        using var dir = new TempDir();
        string first = dir.File("first.policy"), union = dir.File("union.policy");
        Assert.Equal(0, SyscageProcess.Run(["record", "-o", first, "--", StaticWorkload]).ExitCode);
        var second = SyscageProcess.Run(["record", "--merge", first, "-o", union, "--", TreeWorkload, "tree"]);
        Assert.True(second.ExitCode == 0, second.ToString());
        string text = File.ReadAllText(union);
        Assert.Contains($"--merge {first}", text);
        var names = Rules(text).Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var (name, _) in Rules(File.ReadAllText(first)))
            Assert.Contains(name, names);
        Assert.Contains("getpriority", names);
        // The calls the first policy allows ran in the kernel: the tree's writes were not sent to the recorder.
        Assert.DoesNotMatch(@"ALLOW write\s+# \d+ calls?\n\s+ALLOW write", text);
        Assert.Matches(@"ALLOW write\s+# from ", text);
        foreach (var args in new[] { new[] { StaticWorkload }, new[] { TreeWorkload, "tree" } })
        {
            var run = SyscageProcess.Run(["run", "--log-denials", "--policy", union, "--", .. args]);
            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.DoesNotMatch(Denial(), run.Stderr);
        }
    }

    [Fact]
    public void The_output_file_is_the_one_named_whatever_the_command_does_to_its_path()
    {
        using var dir = new TempDir();
        string output = dir.File("out.policy"), victim = dir.File("victim");
        File.WriteAllText(victim, "precious\n");
        var r = SyscageProcess.Run(["record", "-o", output, "--", TreeWorkload, "swap", output, victim]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("precious\n", File.ReadAllText(victim));
    }

    [Fact]
    public void A_command_of_too_many_syscalls_gets_no_policy_and_leaves_no_file()
    {
        using var dir = new TempDir();
        string output = dir.File("flood.policy");
        var r = SyscageProcess.Run(["record", "-o", output, "--", TreeWorkload, "flood", "5000"]);
        Assert.Equal(3, r.ExitCode);
        Assert.Contains("no policy written", r.Stderr);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void Without_o_the_policy_alone_goes_to_stdout()
    {
        var r = SyscageProcess.Run(["record", "--", TreeWorkload, "print", "ALLOW ptrace"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        // The command's stdout went to stderr: it can't add a rule (the command line is quoted in a comment).
        Assert.Contains("ALLOW ptrace", r.Stderr);
        Assert.DoesNotContain(r.Stdout.Split('\n'), l => !l.StartsWith('#') && l.Contains("ptrace", StringComparison.Ordinal));
        var policy = PolicyLanguage.Parse(r.Stdout, "stdout");
        Assert.True(Architecture.X86_64.Syscalls.TryGetNumber("ptrace", out int nr));
        Assert.Empty(policy.Sections.Single(s => s.Architecture == Architecture.X86_64).RulesFor(nr));
    }

    [Fact]
    public void An_OCI_recording_runs_the_program_too()
    {
        using var dir = new TempDir();
        string profile = dir.File("static.json");
        var recorded = SyscageProcess.Run(["record", "--format", "oci", "-o", profile, "--", StaticWorkload]);
        Assert.True(recorded.ExitCode == 0, recorded.ToString());
        Assert.StartsWith("{", File.ReadAllText(profile), StringComparison.Ordinal);
        var run = SyscageProcess.Run(["run", "--log-denials", "--policy", profile, "--", StaticWorkload]);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(StaticOutput, run.Stdout);
        Assert.DoesNotMatch(Denial(), run.Stderr);
    }

    internal static string Invariant(int n) => n.ToString(CultureInfo.InvariantCulture);
}
