using System.CommandLine;
using Syscage.Policy;

namespace Syscage.Cli.Commands;

/// <summary><c>syscage explain POLICY SYSCALL [ARGS]</c>: which rule decides, and why.</summary>
public static class ExplainCommand
{
    /// <summary>The command definition; it only unpacks the parse result.</summary>
    public static Command Create()
    {
        var policy = new Argument<string>("POLICY") { Description = "A .policy file, an OCI/Docker .json profile, or a built-in policy name" };
        var syscall = new Argument<string>("SYSCALL") { Description = "Syscall name (for --arch) or number" };
        var args = new Argument<string[]>("ARGS") { Description = "Up to six arguments", Arity = new ArgumentArity(0, 6) };
        var arch = new Option<string?>("--arch") { Description = "Architecture of the call (default: native)" };
        var oci = new OciInputs.Arguments();
        var cmd = oci.AddTo(new Command("explain", "Show which rule of a policy decides a call, with its file:line") { policy, syscall, args, arch });
        cmd.SetAction(p => CliApp.Guard(p, (o, e) => Run(o, e, p.GetValue(policy)!, p.GetValue(syscall)!, p.GetValue(args) ?? [], p.GetValue(arch), oci.Read(p))));
        return cmd;
    }

    /// <summary>Prints the explanation; the last line is the action.</summary>
    public static int Run(TextWriter stdout, TextWriter stderr, string policy, string syscall, string[] args, string? arch = null, OciInputs? oci = null)
    {
        var architecture = ProgramFiles.ParseArch(arch);
        var ir = PolicyInputs.LoadPolicy(policy, null, stderr, oci);
        var data = CallInputs.MakeData(architecture, syscall, args, null);
        stdout.Write(PolicyExplainer.Explain(ir, data));
        return (int)ExitCode.Ok;
    }
}
