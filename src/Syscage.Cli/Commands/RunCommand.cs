using System.CommandLine;
using System.Runtime.InteropServices;
using Syscage.Kernel;
using Syscage.Policy.Compiler;

namespace Syscage.Cli.Commands;

/// <summary><c>syscage run [--policy POLICY] -- CMD [ARGS...]</c>: run a command under a policy.</summary>
public static class RunCommand
{
    /// <summary>The command definition; it only unpacks the parse result.</summary>
    public static Command Create()
    {
        var policy = new Option<string>("--policy", "-p") { Description = "A .policy file, an OCI/Docker .json profile, a built-in policy name, or a raw .bpf filter", DefaultValueFactory = _ => "default" };
        var command = new Argument<string[]>("COMMAND") { Description = "The command and its arguments (put them after --)", Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("run", "Run a command under a seccomp policy (built-in 'default' unless --policy is given). " +
            "The exit status is the command's; if the filter kills it, 128+signal.") { policy, command };
        cmd.SetAction(p => CliApp.Guard(p, (o, e) => Run(o, e, p.GetValue(policy)!, p.GetValue(command)!)));
        return cmd;
    }

    /// <summary>Runs the command with inherited stdio and returns its status.</summary>
    public static int Run(TextWriter stdout, TextWriter stderr, string policy, string[] command)
    {
        if (command.Length == 0)
            throw new CliException(ExitCode.Usage, "no command given: syscage run [--policy POLICY] -- CMD [ARGS...]");
        var program = PolicyInputs.LoadProgram(policy, Policy.Syscalls.Architecture.Native);
        var info = new SandboxedProcessStartInfo(command[0], command.Skip(1));
        SandboxedProcess process;
        try
        {
            process = SandboxedProcess.Start(program, info);
        }
        catch (SyscageException e)
        {
            stderr.WriteLine($"syscage: {e.Message}");
            return 127;
        }
        using (process)
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
