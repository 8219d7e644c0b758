using Syscage.Bpf;
using Syscage.Kernel;
using Syscage.Kernel.Notify;
using Syscage.Policy;
using Syscage.Policy.Compiler;
using Syscage.Abi;
using Syscage.Testing;

namespace Syscage.Notify.Tests;

/// <summary>Runs tests/native/notify_helper under a policy in a child process, with a supervisor in this process.</summary>
internal static class Notified
{
    public const int Unused = 1000; // no syscall has this number: a continued call returns ENOSYS

    public static string Helper => NativeBuild.Compile("notify_helper.c", "the notification tests", "-pthread");

    public static int Nr(string name) => Architecture.Native.Syscalls.TryGetNumber(name, out int nr) ? nr : throw new ArgumentException(name);

    public sealed record Outcome(string Stdout, SandboxExit Exit, NotificationSupervisor Supervisor)
    {
        public override string ToString() => $"{Exit}; stdout: {Stdout}; received {Supervisor.Received}, answered {Supervisor.Answered}, gone {Supervisor.Gone}, failed {Supervisor.Failed}";
    }

    /// <summary>Default ALLOW, USER_NOTIF for <paramref name="nrs"/> on the native architecture.</summary>
    public static SeccompPolicy NotifyPolicy(params int[] nrs)
    {
        var arch = Architecture.Native;
        var b = new PolicyBuilder(SeccompAction.Allow, arch) { BadArchAction = SeccompAction.KillProcess };
        foreach (int nr in nrs)
            b.Add(arch, nr, new Rule(Condition.True, SeccompAction.UserNotif));
        return b.Build();
    }

    public static SandboxedProcess Start(SeccompPolicy policy, params string[] args)
    {
        var info = new SandboxedProcessStartInfo(Helper, args) { RedirectStandardOutput = true, Flags = FilterFlags.NewListener };
        return SandboxedProcess.Start(PolicyCompiler.Compile(policy), info);
    }

    public static Outcome Run(SeccompPolicy policy, NotificationHandler handler, SupervisorOptions? options, params string[] args)
    {
        using var p = Start(policy, args);
        Assert.NotNull(p.Listener);
        var supervisor = new NotificationSupervisor(p.Listener!, handler, options).Start();
        var stdout = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(60_000))
        {
            p.Kill();
            Assert.Fail("the target did not end in 60 s");
        }
        var exit = p.WaitForExit();
        // Every task using the filter is gone: the listener hangs up and the supervisor completes.
        Assert.True(supervisor.Completion.Wait(60_000), "the supervisor did not see the listener hang up");
        // Dispose joins the workers: a synchronous handler has returned and its answer is counted before the counters
        // and whatever the handler wrote are read (Completion alone may end while another worker is still answering).
        supervisor.Dispose();
        return new Outcome(stdout.Result.Trim(), exit, supervisor);
    }
}
