using System.CommandLine;
using System.Runtime.InteropServices;
using Syscage.Bpf;
using Syscage.Kernel;
using Syscage.Kernel.Notify;
using Syscage.Policy;
using Syscage.Policy.Compiler;

namespace Syscage.Cli.Commands;

/// <summary>
/// <c>syscage run [--policy POLICY] [--log-denials] -- CMD [ARGS...]</c>: run a command under a policy. A policy with
/// <c>NOTIFY</c> rules runs with a supervisor in this process (built-in handlers <c>log</c> and <c>deny</c>);
/// <c>--log-denials</c> shows each denied call on stderr as it happens, then gives it its real verdict.
/// </summary>
public static class RunCommand
{
    /// <summary>The command definition; it only unpacks the parse result.</summary>
    public static Command Create()
    {
        var policy = new Option<string>("--policy", "-p") { Description = "A .policy file, an OCI/Docker .json profile, a built-in policy name, or a raw .bpf filter", DefaultValueFactory = _ => "default" };
        var logDenials = new Option<bool>("--log-denials") { Description = "Show each denied call on stderr, decoded, with the rule that denied it, then apply the verdict" };
        var command = new Argument<string[]>("COMMAND") { Description = "The command and its arguments (put them after --)", Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("run", "Run a command under a seccomp policy (built-in 'default' unless --policy is given). " +
            "The exit status is the command's; if the filter kills it, 128+signal.") { policy, logDenials, command };
        cmd.SetAction(p => CliApp.Guard(p, (o, e) => Run(o, e, p.GetValue(policy)!, p.GetValue(command)!, p.GetValue(logDenials))));
        return cmd;
    }

    /// <summary>Runs the command with inherited stdio and returns its status.</summary>
    public static int Run(TextWriter stdout, TextWriter stderr, string policy, string[] command, bool logDenials = false)
    {
        if (command.Length == 0)
            throw new CliException(ExitCode.Usage, "no command given: syscage run [--policy POLICY] -- CMD [ARGS...]");
        BpfProgram program;
        NotificationHandler? handler = null;
        if (PolicyInputs.IsProgram(policy))
        {
            if (logDenials)
                throw new CliException(ExitCode.Usage, $"{policy}: --log-denials needs a policy (its rules name the verdicts), not a compiled program");
            program = PolicyInputs.LoadProgram(policy, Policy.Syscalls.Architecture.Native);
        }
        else
        {
            var loaded = PolicyInputs.LoadPolicy(policy, warnings: stderr);
            var router = new NotificationRouter(loaded, stderr);
            if (logDenials)
            {
                handler = new DenialReporter(loaded, stderr, router).HandleAsync;
                program = PolicyCompiler.Compile(DenialReporter.NotifyDenials(loaded));
            }
            else
            {
                if (UsesNotify(loaded))
                    handler = router.HandleAsync;
                program = PolicyCompiler.Compile(loaded);
            }
        }
        var info = new SandboxedProcessStartInfo(command[0], command.Skip(1)) { Flags = handler is null ? FilterFlags.None : FilterFlags.NewListener };
        SandboxedProcess process;
        NotificationSupervisor? supervisor = null;
        try
        {
            process = SandboxedProcess.Start(program, info);
            if (handler is not null && process.Listener is not null)
                supervisor = new NotificationSupervisor(process.Listener, handler,
                    new SupervisorOptions { OnError = (n, e) => stderr.WriteLine($"syscage: handling {SyscallDecoder.Name(n.Data)} of pid {n.Pid}: {e.Message}") }).Start();
        }
        catch (SyscageException e)
        {
            stderr.WriteLine($"syscage: {e.Message}");
            return 127;
        }
        using (process)
        using (supervisor)
        {
            // Ctrl-C goes to the whole foreground group: let the command decide; SIGTERM/SIGHUP to us go on to it.
            using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => c.Cancel = true);
            using var onQuit = PosixSignalRegistration.Create(PosixSignal.SIGQUIT, c => c.Cancel = true);
            using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; Forward(process, 15); });
            using var onHup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, c => { c.Cancel = true; Forward(process, 1); });
            var exit = process.WaitForExit();
            if (exit.Failure is not null)
            {
                stderr.WriteLine($"syscage: {command[0]}: {exit.Failure}");
                return exit.Failure.StartsWith("execve", StringComparison.Ordinal) ? 126 : 127;
            }
            if (exit.KilledBySeccomp)
                stderr.WriteLine($"syscage: {command[0]} was killed by seccomp (SIGSYS): a system call hit a KILL action of policy '{policy}'" +
                                 "; 'syscage explain' shows which rule decides a call");
            else if (exit.Signal is int s)
                stderr.WriteLine($"syscage: {command[0]} was killed by signal {s}{(exit.CoreDumped ? " (core dumped)" : "")}");
            return exit.ShellStatus;
        }
    }

    private static bool UsesNotify(SeccompPolicy policy) =>
        policy.DefaultAction.Kind == SeccompActionKind.UserNotif ||
        policy.Sections.Any(s => s.Syscalls.Values.Any(rules => rules.Any(r => r.Action.Kind == SeccompActionKind.UserNotif)));

    private static void Forward(SandboxedProcess process, int signal)
    {
        try
        {
            process.SendSignal(signal);
        }
        catch (SyscageException)
        {
            // The command is already gone.
        }
    }
}
