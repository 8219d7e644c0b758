using Syscage.Cli.Commands;
using Syscage.Kernel;
using Syscage.Kernel.Notify;
using Syscage.Policy;
using Syscage.Policy.Language;
using Syscage.Abi;
using Syscage.Supervision;

namespace Syscage.Notify.Tests;

public class PolicyHandlerTests
{
    private static SeccompPolicy Parse(string text) => PolicyLanguage.Parse(text, "test.policy");

    [Fact]
    public void Log_decodes_the_call_with_the_path_and_lets_it_run()
    {
        var log = new StringWriter();
        string dir = Path.Combine(Path.GetTempPath(), "syscage-log-" + Guid.NewGuid().ToString("N"));
        var policy = Parse("default ALLOW\nNOTIFY(log) mkdir\n");
        var outcome = Notified.Run(policy, new NotificationRouter(policy, log).HandleAsync, null, "mkdir", dir);
        try
        {
            Assert.Equal("ret 0 errno 0", outcome.Stdout);
            Assert.True(Directory.Exists(dir));
            Assert.StartsWith($"syscage: mkdir(\"{dir}\", 0700) (pid ", log.ToString());
        }
        finally
        {
            Directory.Delete(dir);
        }
    }

    [Theory]
    [InlineData("deny", "ret -1 errno 1")]
    [InlineData("deny_EACCES", "ret -1 errno 13")]
    [InlineData("\"deny(EROFS)\"", "ret -1 errno 30")]
    [InlineData("nosuchhandler", "ret -1 errno 38")]
    public void Deny_handlers_fail_the_call(string handler, string expected)
    {
        var policy = Parse($"default ALLOW\nNOTIFY({handler}) mkdir\n");
        var log = new StringWriter();
        var outcome = Notified.Run(policy, new NotificationRouter(policy, log).HandleAsync, null, "mkdir", "/tmp/syscage-never-made");
        Assert.Equal(expected, outcome.Stdout);
        if (handler == "nosuchhandler")
            Assert.Contains("no handler named 'nosuchhandler'", log.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Registered_and_emulate_hooks_are_routed_by_name()
    {
        var policy = Parse("default ALLOW\nNOTIFY(answer) 1000\nNOTIFY(log) mkdir\n");
        var router = new NotificationRouter(policy)
            .Register("answer", (n, _) => ValueTask.FromResult(NotificationResponse.Return(4242)))
            .Emulate("mkdir", (n, ctx) => ValueTask.FromResult(ctx.ReadString(n.Data.Arg(0)) == "/emulated"
                ? NotificationResponse.Return(0) : NotificationResponse.Error(2)));
        Assert.Equal("ret 4242 errno 0", Notified.Run(policy, router.HandleAsync, null, "call", "1000").Stdout);
        Assert.Equal("ret 0 errno 0", Notified.Run(policy, router.HandleAsync, null, "mkdir", "/emulated").Stdout);
        Assert.Equal("ret -1 errno 2", Notified.Run(policy, router.HandleAsync, null, "mkdir", "/other").Stdout);
    }

    [Fact]
    public void Denials_are_reported_with_the_deciding_rule_and_get_their_errno()
    {
        var policy = Parse("default ALLOW\n# the loader opens with O_CLOEXEC, so it is not caught\nERRNO(EPERM) openat if flags == O_RDONLY\n");
        var log = new StringWriter();
        var reporter = new DenialReporter(policy, log);
        var outcome = Notified.Run(DenialReporter.NotifyDenials(policy), reporter.HandleAsync, null, "openat", "/etc/shadow");
        Assert.Equal("ret -1 errno 1", outcome.Stdout);
        Assert.Equal("syscage: openat(AT_FDCWD, \"/etc/shadow\", O_RDONLY) -> EPERM by test.policy:3\n", log.ToString().ReplaceLineEndings("\n"));
        Assert.Equal(1, reporter.Denials);
    }

    [Fact]
    public void A_default_denial_is_reported_as_the_default_action()
    {
        var policy = Parse("default ALLOW\nERRNO(EACCES) 1000\n");
        var variant = DenialReporter.NotifyDenials(policy);
        Assert.Equal(Abi.SeccompActionKind.UserNotif, variant.Evaluate(new Abi.SeccompData(1000, Abi.Architecture.Native.AuditArch)).Action.Kind);
        var log = new StringWriter();
        var outcome = Notified.Run(variant, new DenialReporter(policy, log).HandleAsync, null, "call", "1000", "5");
        Assert.Equal("ret -1 errno 13", outcome.Stdout);
        Assert.Equal("syscage: syscall_1000(5, 0, 0, 0, 0, 0) -> EACCES by test.policy:2\n", log.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public void A_syscall_newer_than_the_policy_is_reported_with_its_line_and_gets_ENOSYS()
    {
        var policy = Parse("default ALLOW\nnewer-syscalls ERRNO(ENOSYS)\nERRNO(EACCES) 1000\n");
        var log = new StringWriter();
        var outcome = Notified.Run(DenialReporter.NotifyDenials(policy), new DenialReporter(policy, log).HandleAsync, null, "call", "1001", "5");
        Assert.Equal("ret -1 errno 38", outcome.Stdout);
        Assert.Equal("syscage: syscall_1001(5, 0, 0, 0, 0, 0) -> ENOSYS by test.policy:2 (past the newest syscall Syscage's tables know or a rule names on x86_64)\n",
            log.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Kill_verdicts_kill_the_target_with_SIGKILL()
    {
        // SIGKILL, not SIGSYS: a SIGSYS from user space can be caught or blocked (KillFinalityTests race it).
        var policy = Parse("default ALLOW\nKILL_PROCESS 1000\n");
        var log = new StringWriter();
        var reporter = new DenialReporter(policy, log);
        var outcome = Notified.Run(DenialReporter.NotifyDenials(policy), reporter.HandleAsync, null, "call", "1000");
        Assert.Equal(9, outcome.Exit.Signal);
        Assert.Single(reporter.Applier.Kills);
        Assert.Equal("", outcome.Stdout);
        Assert.Contains("-> KILL_PROCESS by test.policy:2: killing pid", log.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Trap_verdicts_fail_the_call_and_send_SIGSYS()
    {
        var policy = Parse("default ALLOW\nTRAP(7) 1000\n");
        var log = new StringWriter();
        var outcome = Notified.Run(DenialReporter.NotifyDenials(policy), new DenialReporter(policy, log).HandleAsync, null, "trap", "1000");
        // SI_TKILL (-6): an ordinary tgkill, not the kernel's SYS_SECCOMP siginfo (see DenialReporter).
        Assert.Equal("sigsys code -6\nret -1 errno 38", outcome.Stdout);
        Assert.Contains("-> TRAP(7) by test.policy:2", log.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Syscage_run_log_denials_shows_the_call_and_its_verdict()
    {
        using var dir = new TempDir();
        string file = dir.File("deny.policy");
        File.WriteAllText(file, "default ALLOW\n\nERRNO(EPERM) openat if flags == O_RDONLY\nERRNO(EACCES) 1000\n");
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int status = RunCommand.Run(stdout, stderr, file, [Notified.Helper, "openat", "/etc/shadow"], logDenials: true);
        Assert.Equal(0, status);
        Assert.Equal($"syscage: openat(AT_FDCWD, \"/etc/shadow\", O_RDONLY) -> EPERM by {file}:3\n", stderr.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Syscage_run_log_denials_json_writes_one_decoded_object_per_denied_call()
    {
        // The real tools under the built-in policy: unshare(CLONE_NEWUSER) and mount(2) are refused; their arguments
        // come back in the kernel's names, and mount's strings (the file system type too) read from the command.
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int status = RunCommand.Run(stdout, stderr, "default", ["/bin/sh", "-c", "unshare -U true; mount -t tmpfs none /mnt; exit 0"],
            logDenials: true, ebpf: null, oci: null, json: true);
        Assert.Equal(0, status);
        var lines = stderr.ToString().ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');
        var objects = lines.Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToList();
        var unshare = Assert.Single(objects, o => o.GetProperty("syscall").GetString() == "unshare");
        Assert.Equal("unshare(CLONE_NEWUSER)", unshare.GetProperty("call").GetString());
        Assert.Equal("EPERM", unshare.GetProperty("errno").GetString());
        Assert.Equal("default", unshare.GetProperty("reason").GetString());
        var mount = Assert.Single(objects, o => o.GetProperty("syscall").GetString() == "mount");
        Assert.Equal("mount(\"none\", \"/mnt\", \"tmpfs\", 0, NULL)", mount.GetProperty("call").GetString());
        var args = mount.GetProperty("args").EnumerateArray().ToList();
        Assert.Equal("filesystemtype", args[2].GetProperty("name").GetString());
        Assert.Equal("\"tmpfs\"", args[2].GetProperty("text").GetString());
        Assert.StartsWith("0x", args[2].GetProperty("value").GetString(), StringComparison.Ordinal);
        Assert.Equal(2, objects.Count);
    }

    [Fact]
    public void A_command_killed_by_a_signal_is_said_with_the_signal_s_name()
    {
        var stderr = new StringWriter();
        int status = RunCommand.Run(new StringWriter(), stderr, "default", ["/bin/sh", "-c", "kill -SEGV $$"]);
        Assert.Equal(128 + Signals.SIGSEGV, status);
        Assert.Contains("sh was killed by SIGSEGV", stderr.ToString(), StringComparison.Ordinal);
        Assert.Equal("killed by SIGSEGV (core dumped)", new SandboxExit(null, Signals.SIGSEGV, true, null).ToString());
        Assert.Equal("killed by signal 40", new SandboxExit(null, 40, false, null).ToString());
    }

    [Fact]
    public void Syscage_run_log_denials_reports_a_kill()
    {
        using var dir = new TempDir();
        string file = dir.File("kill.policy");
        File.WriteAllText(file, "default ALLOW\nKILL_PROCESS 1000\n");
        var stderr = new StringWriter();
        int status = RunCommand.Run(new StringWriter(), stderr, file, [Notified.Helper, "call", "1000"], logDenials: true);
        Assert.Equal(128 + 9, status);
        Assert.Contains("syscall_1000(0, 0, 0, 0, 0, 0) -> KILL_PROCESS by " + file + ":2", stderr.ToString(), StringComparison.Ordinal);
        Assert.Contains("was killed by the supervisor for a KILL_PROCESS verdict", stderr.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Syscage_run_serves_NOTIFY_rules_without_log_denials()
    {
        using var dir = new TempDir();
        string file = dir.File("notify.policy");
        File.WriteAllText(file, "default ALLOW\nNOTIFY(deny_EROFS) mkdir\n");
        var stderr = new StringWriter();
        int status = RunCommand.Run(new StringWriter(), stderr, file, [Notified.Helper, "mkdir", dir.File("x")]);
        Assert.Equal(0, status);
        Assert.False(Directory.Exists(dir.File("x")));
    }

    [Fact]
    public void Syscage_run_logs_SCMP_ACT_NOTIFY_calls_of_an_OCI_profile()
    {
        using var dir = new TempDir();
        string file = dir.File("profile.json");
        File.WriteAllText(file, """{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}""");
        var stderr = new StringWriter();
        string made = dir.File("made");
        int status = RunCommand.Run(new StringWriter(), stderr, file, [Notified.Helper, "mkdir", made]);
        Assert.Equal(0, status);
        Assert.True(Directory.Exists(made));   // log lets the call run
        Assert.StartsWith($"syscage: mkdir(\"{made}\", 0700) (pid ", stderr.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Open_flags_decode_multi_bit_flags_first()
    {
        Assert.Equal("O_RDONLY", SyscallDecoder.OpenFlags(0));
        Assert.Equal("O_WRONLY|O_CREAT|O_TRUNC", SyscallDecoder.OpenFlags(0x241));
        Assert.Equal("O_RDWR|O_TMPFILE", SyscallDecoder.OpenFlags(0x410002));
        Assert.Equal("O_RDONLY|O_SYNC", SyscallDecoder.OpenFlags(0x101000));
    }

    [Fact]
    public void Clone_flags_decode_by_name()
    {
        Assert.Equal("CLONE_NEWNS|CLONE_NEWUSER", SyscallDecoder.CloneFlags(0x10020000));
        Assert.Equal("CLONE_NEWUSER|0x11", SyscallDecoder.CloneFlags(0x10000011));
    }

    private sealed class TempDir : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("syscage-notify-").FullName;
        public string File(string name) => System.IO.Path.Combine(Path, name);
        public void Dispose() => Directory.Delete(Path, true);
    }
}
