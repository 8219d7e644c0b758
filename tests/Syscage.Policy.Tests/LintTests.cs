using System.Text.RegularExpressions;
using Syscage.Abi;
using Syscage.Policy.Builtin;
using Syscage.Policy.Language;
using Syscage.Policy.Oci;
using static Syscage.Policy.Tests.PolicyAssert;

namespace Syscage.Policy.Tests;

/// <summary><see cref="PolicyLinter"/>: each kind of finding where it belongs, and none where it does not.</summary>
public partial class LintTests
{
    /// <summary>The README's example policy before issue 15, as it was written there.</summary>
    private const string OldReadmeExample = """
        # my.policy
        default ERRNO(EPERM)                  # required: the action when no rule matches
        bad-arch KILL_PROCESS                 # optional (the default)
        newer-syscalls ERRNO(ENOSYS)          # optional: syscalls newer than the tables say they don't exist, so programs fall back
        arch x86_64, x86, x32                 # optional; default: these three on x86_64
        group @mine = read, write, @basic-io

        ALLOW @runtime, @basic-io, @file-system, @memory      # built-in groups: see src/Syscage/Policy/Builtin/groups.policy
        ERRNO(EACCES) openat if (flags & O_ACCMODE) != O_RDONLY
        ALLOW socket if domain == AF_UNIX || domain == AF_INET
        ALLOW ioctl if arg1 == TCGETS && arg0 <= 2
        ERRNO(EPERM) clone if flags & (CLONE_NEWUSER | CLONE_NEWNS)
        KILL_PROCESS ptrace
        NOTIFY(log) mkdir                     # USER_NOTIF for the user-space handler 'log'
        arch x86 { ALLOW socketcall }         # rules for some architectures only
        """;

    /// <summary>A deny-list that closes every escape the lint knows: lines 1 to 4; a test's own rules start at line 5.</summary>
    private const string Closed = """
        default ALLOW
        arch x86_64
        ERRNO(EPERM) @debug, @privileged, @namespace, io_uring_setup, io_uring_enter, io_uring_register, clone3
        ERRNO(EPERM) clone if flags & (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP)

        """;

    private static List<string> Lint(string text) => [.. PolicyLinter.Lint(Parse(text)).Select(f => f.ToString())];

    private static IReadOnlyList<LintFinding> Findings(string text) => PolicyLinter.Lint(Parse(text));

    [Fact]
    public void The_old_README_example_has_two_dead_rules_and_refuses_execve()
    {
        var findings = PolicyLinter.Lint(Parse(OldReadmeExample, "my.policy"));
        var dead = findings.Where(f => f.Kind == LintKind.NeverMatches).ToList();
        Assert.Equal(2, dead.Count);
        Assert.Equal("my.policy:9:1", dead[0].Location);
        Assert.Equal("openat", dead[0].Syscall);
        Assert.Equal("my.policy:14:1", dead[1].Location);
        Assert.Equal("mkdir", dead[1].Syscall);
        Assert.All(dead, f => Assert.Equal([new PolicySource("my.policy", 8, 1, "ALLOW @runtime, @basic-io, @file-system, @memory")], f.DecidedBy));
        Assert.Equal(
            "my.policy:9:1: warning: 'ERRNO(EACCES) openat if (flags & O_ACCMODE) != O_RDONLY' never decides openat: every call it matches is decided first by " +
            "my.policy:8:1 ('ALLOW @runtime, @basic-io, @file-system, @memory') [never-matches]", dead[0].ToString());
        var execve = Assert.Single(findings, f => f.Kind == LintKind.RefusesExecve);
        Assert.Contains("execve is refused on x86_64 (the default action ERRNO(EPERM))", execve.Message, StringComparison.Ordinal);
        // And on x86, socket's condition cannot be checked on socketcall(SYS_SOCKET, ...), which the example allows.
        var unchecked_ = Assert.Single(findings, f => f.Kind == LintKind.UncheckedCondition);
        Assert.Equal(("my.policy:10:1", "socket"), (unchecked_.Location, unchecked_.Syscall));
        Assert.Equal(4, findings.Count);
    }

    [Fact]
    public void The_README_example_lints_clean()
    {
        string readme = File.ReadAllText(Path.Combine(ConstantsTests.RepositoryRoot(), "README.md"));
        var block = ReadmePolicy().Match(readme);
        Assert.True(block.Success, "README.md has no '# my.policy' block");
        string text = block.Groups[1].Value.Replace("include \"base.policy\"", "", StringComparison.Ordinal);
        // On x86, socket's condition cannot be checked through socketcall, but nothing is walked around there: those
        // calls get the default's refusal, and lint says nothing.
        var findings = PolicyLinter.Lint(Parse(text));
        Assert.True(findings.Count == 0, string.Join("\n", findings));
    }

    [GeneratedRegex(@"```\n(# my\.policy\n.*?)```", RegexOptions.Singleline)]
    private static partial Regex ReadmePolicy();

    [Fact]
    public void The_default_policy_and_the_samples_lint_clean()
    {
        // The built-in policy: the vsock refusal's condition is hidden by x86's socketcall(SYS_SOCKET, ...), but every
        // socket made that way is refused, so nothing gets through and lint has nothing to say.
        var builtin = PolicyLinter.Lint(BuiltinPolicies.Load("default"));
        Assert.True(builtin.Count == 0, string.Join("\n", builtin));
        var hidden = Assert.Single(PolicyExplainer.UncheckedConditions(BuiltinPolicies.Load("default")));
        Assert.Equal(("socket", SeccompAction.Errno(Errno.EAFNOSUPPORT)), (hidden.Call.Name, hidden.Action));
        string dir = Path.Combine(ConstantsTests.RepositoryRoot(), "samples", "policies");
        foreach (string file in Directory.GetFiles(dir, "*.policy"))
            if (PolicyLanguage.TryParseFile(file, out var p, out _))
                Assert.True(PolicyLinter.Lint(p).Count == 0, $"{file}:\n{string.Join("\n", PolicyLinter.Lint(p))}");
    }

    [Fact]
    public void A_rule_dead_only_by_the_union_of_earlier_rules_is_found()
    {
        var findings = Findings(Closed + """
            ALLOW read if fd < 10
            ERRNO(EBADF) read if fd >= 10 && fd < 20
            LOG read if fd == 3 || fd == 15
            ERRNO(EIO) read if fd == 25
            """);
        var dead = Assert.Single(findings);
        Assert.Equal(LintKind.NeverMatches, dead.Kind);
        Assert.Equal(7, dead.Source.Line);
        Assert.Equal([5, 6], dead.DecidedBy.Select(s => s.Line));
    }

    [Fact]
    public void Repeats_are_duplicates_and_overrides_of_a_group_are_not_reported()
    {
        var findings = Findings("""
            default ERRNO(EPERM)
            arch x86_64
            ALLOW execve
            ERRNO(EACCES) openat if (flags & O_ACCMODE) != O_RDONLY
            ALLOW @basic-io, @file-system
            ALLOW read
            ALLOW @basic-io
            """);
        // Line 5's openat is overridden by line 4 for writes: the exception a group's rule is written after; not reported.
        Assert.Equal(2, findings.Count);
        Assert.Equal((LintKind.Duplicate, 6, "read"), (findings[0].Kind, findings[0].Source.Line, findings[0].Syscall));
        Assert.Contains("is redundant for read: every call it matches is already decided the same way (ALLOW) by t.policy:5:1", findings[0].Message, StringComparison.Ordinal);
        // A group statement nothing of which ever decides is reported once, for the statement.
        Assert.Equal((LintKind.Duplicate, 7, null), (findings[1].Kind, findings[1].Source.Line, findings[1].Syscall));
        Assert.StartsWith("'ALLOW @basic-io' never decides a call", findings[1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_condition_that_never_holds_is_reported()
    {
        var f = Assert.Single(Findings(Closed + "ERRNO(EPERM) read if fd == 1 && fd == 2\n"));
        Assert.Equal((LintKind.NeverMatches, 5), (f.Kind, f.Source.Line));
        Assert.Contains("never matches read: its condition holds for no arguments", f.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_rule_past_the_newest_syscall_never_decides()
    {
        var arch = Architecture.X86_64;
        var rule = new Rule(Condition.True, SeccompAction.Allow, new PolicySource("p", 3, 1, "ALLOW getpid"));
        var section = new ArchitecturePolicy(arch, new Dictionary<int, IReadOnlyList<Rule>> { [arch.Syscalls.TryGetNumber("getpid", out int nr) ? nr : -1] = [rule] });
        var policy = new SeccompPolicy(SeccompAction.Errno(1), SeccompAction.KillProcess, [section], "p")
        {
            Newer = new NewerSyscalls(SeccompAction.Errno(Errno.ENOSYS), new Dictionary<Architecture, uint> { [arch] = 10 }, "the test names"),
        };
        var f = Assert.Single(PolicyLinter.Lint(policy), f => f.Kind == LintKind.NeverMatches);
        Assert.Contains("it is past the newest syscall the policy knows (the test names), so ERRNO(38) decides it", f.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LOG_that_lets_a_refused_call_run_is_reported()
    {
        var f = Assert.Single(Findings("""
            default ERRNO(EPERM)
            arch x86_64
            ALLOW execve, exit_group
            LOG mkdir
            """));
        Assert.Equal((LintKind.LogAllows, 4, "mkdir"), (f.Kind, f.Source.Line, f.Syscall));
        Assert.Contains("LOG lets mkdir run (it logs the call and allows it), where the default action ERRNO(EPERM) would refuse it", f.Message, StringComparison.Ordinal);
        // Under a default that allows, LOG is how calls are watched: nothing to say.
        Assert.Empty(Findings(Closed + "LOG mkdir\n"));
    }

    [Fact]
    public void A_policy_that_refuses_execve_is_reported()
    {
        Assert.Single(Findings("default ERRNO(EPERM)\nALLOW read"), f => f.Kind == LintKind.RefusesExecve);
        Assert.Single(Findings(Closed + "KILL_PROCESS execve\n"), f => f.Kind == LintKind.RefusesExecve && f.Source.Line == 5);
        // Refused on some arguments only: the command can start.
        Assert.DoesNotContain(Findings("default ERRNO(EPERM)\nERRNO(EACCES) execve if arg0 == 0\nALLOW execve"), f => f.Kind == LintKind.RefusesExecve);
        // NOTIFY: a handler decides, and may let it run.
        Assert.DoesNotContain(Findings("default ERRNO(EPERM)\nNOTIFY(log) execve"), f => f.Kind == LintKind.RefusesExecve);
        // Not covering this machine's architecture kills everything here.
        var f = Assert.Single(Findings("default ALLOW\narch aarch64\nALLOW execve"), f => f.Kind == LintKind.RefusesExecve);
        Assert.Contains("does not cover x86_64", f.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Allowing_a_container_escape_interface_is_reported()
    {
        var findings = Findings("""
            default ERRNO(EPERM)
            ALLOW execve, exit_group
            ALLOW ptrace
            LOG bpf
            ALLOW clone if flags & CLONE_THREAD
            ALLOW unshare if flags == CLONE_FILES
            """);
        Assert.Contains(findings, f => f is { Kind: LintKind.Escape, Syscall: "ptrace", Source.Line: 3 } && f.Architectures.Count == 3 && !f.Message.Contains("(on", StringComparison.Ordinal));
        Assert.Contains(findings, f => f is { Kind: LintKind.Escape, Syscall: "bpf", Source.Line: 4 });
        Assert.Contains(findings, f => f is { Kind: LintKind.Escape, Syscall: "clone", Source.Line: 5 } && f.Message.StartsWith("clone with namespace flags (CLONE_NEW*) is allowed", StringComparison.Ordinal));
        // unshare(CLONE_FILES) has no namespace flag.
        Assert.DoesNotContain(findings, f => f.Syscall == "unshare");

        // A deny-list: allowed by the default action; the refusals before it close each one.
        var denyList = Findings("default ALLOW\nERRNO(EPERM) @debug, @privileged, unshare\nERRNO(EPERM) clone if flags & (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET)");
        var open = denyList.Where(f => f.Kind == LintKind.Escape).Select(f => f.Syscall).Distinct().Order(StringComparer.Ordinal).ToList();
        // @privileged and @debug hold everything on the list but io_uring and clone3; clone misses CLONE_NEWCGROUP.
        Assert.Equal(["clone", "clone3", "io_uring_enter", "io_uring_register", "io_uring_setup"], open);
        Assert.All(denyList.Where(f => f.Syscall == "clone3"), f => Assert.Contains("by the default action ALLOW", f.Message, StringComparison.Ordinal));
    }

    [Fact]
    public void Clone_flags_are_read_where_each_architecture_puts_them()
    {
        // s390x's clone has its flags second: a rule on arg0 there refuses nothing of the namespaces.
        var findings = Findings("""
            default ERRNO(EPERM)
            arch x86_64, s390x
            ALLOW execve
            ERRNO(EPERM) clone if arg0 & (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP)
            ALLOW clone
            """);
        var clone = Assert.Single(findings, f => f.Syscall == "clone");
        Assert.Equal([Architecture.All.Single(a => a.Name == "s390x")], clone.Architectures);
        Assert.EndsWith("(on s390x)", clone.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_arch_action_that_allows_is_reported()
    {
        var f = Assert.Single(Findings("default ERRNO(EPERM)\nbad-arch ALLOW\narch x86_64\nALLOW execve"), f => f.Kind == LintKind.Escape);
        Assert.StartsWith("bad-arch ALLOW lets every call of an architecture the policy does not cover (x86_64) run unfiltered", f.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_comparison_wider_than_the_kernel_reads_is_reported()
    {
        // Built by hand, without ArgPredicate.ForArgument: socket's domain (an int) compared on all 64 bits.
        var arch = Architecture.X86_64;
        Assert.True(arch.Syscalls.TryGet("socket", out var socket));
        ulong vsock = KernelConstants.Value("AF_VSOCK")!.Value;
        var wide = new Rule(Condition.Of(new ArgPredicate(0, ComparisonOp.Eq, vsock)), SeccompAction.Errno(Errno.EAFNOSUPPORT), new PolicySource("p", 2, 1));
        var made = new Rule(Condition.Of(ArgPredicate.ForArgument(socket, 0, ComparisonOp.Eq, vsock, 0, out _)), SeccompAction.Errno(Errno.EAFNOSUPPORT), new PolicySource("p", 3, 1));
        SeccompPolicy With(Rule rule) => new(SeccompAction.Allow, SeccompAction.KillProcess,
            [new ArchitecturePolicy(arch, new Dictionary<int, IReadOnlyList<Rule>> { [socket.Number] = [rule] })], "p");
        var f = Assert.Single(PolicyLinter.Lint(With(wide)), f => f.Kind == LintKind.WideComparison);
        Assert.StartsWith("domain == 0x28 compares 64 bits of socket's domain, but the kernel reads only its low 32 (int)", f.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(PolicyLinter.Lint(With(made)), f => f.Kind == LintKind.WideComparison);
    }

    [Fact]
    public void Docker_s_profile_allows_ptrace_and_process_vm_writev_on_this_kernel()
    {
        // Docker allows both on kernels from 4.8 (its minKernel), where ptrace can no longer bypass seccomp.
        string docker = Path.Combine(ConstantsTests.RepositoryRoot(), "samples", "profiles", "docker-default.json");
        var findings = PolicyLinter.Lint(OciProfileLoader.Load(docker).Policy);
        var escapes = findings.Where(f => f.Kind == LintKind.Escape).ToList();
        Assert.Equal(["process_vm_writev", "ptrace"], escapes.Select(f => f.Syscall!).Order(StringComparer.Ordinal));
        // Besides: socket's domain condition, which x86's socketcall hides (its own rule decides those calls).
        Assert.All(findings.Except(escapes), f => Assert.Equal((LintKind.UncheckedCondition, "socket"), (f.Kind, f.Syscall)));
        var old = PolicyLinter.Lint(OciProfileLoader.Load(docker, new OciOptions { KernelVersion = "4.4" }).Policy);
        Assert.DoesNotContain(old, f => f.Syscall == "ptrace");
    }
}
