using System.CommandLine;
using Syscage.Policy.Compiler;
using Syscage.Supervision;

namespace Syscage.Cli.Commands.Ebpf;

/// <summary>
/// <c>syscage ebpf split OBJ[:SECTION]... [--set NAME=VALUE]... [--policy P] [--pfc]</c>: how eBPF seccomp programs split
/// between the kernel (classic BPF) and the supervisor, per architecture.
/// </summary>
public static class EbpfSplitCommand
{
    /// <summary>The command definition; it only unpacks the parse result.</summary>
    public static Command Create()
    {
        var files = new Argument<string[]>("OBJECT") { Description = "eBPF seccomp objects, [NAME=]FILE.o[:SECTION] (several are stacked)", Arity = ArgumentArity.OneOrMore };
        var set = new Option<string[]>("--set") { Description = "Set a global variable (const volatile knob) NAME=VALUE; the value may be a syscall name" };
        var policy = new Option<string?>("--policy", "-p") { Description = "A policy whose EBPF(name) rules hand calls to the programs" };
        var pfc = new Option<bool>("--pfc") { Description = "Also print the kernel half as pseudo filter code (the policy IR)" };
        var cmd = new Command("split", "Show which calls the kernel decides (classic BPF) and which reach the supervisor (eBPF VM)") { files, set, policy, pfc };
        cmd.SetAction(p => CliApp.Guard(p, (o, e) => Run(o, e, p.GetValue(files)!, p.GetValue(set) ?? [], p.GetValue(policy), p.GetValue(pfc))));
        return cmd;
    }

    /// <summary>Prints the split.</summary>
    public static int Run(TextWriter stdout, TextWriter stderr, IReadOnlyList<string> files, IReadOnlyList<string> set, string? policy = null, bool pfc = false)
    {
        var ir = policy is null ? null : PolicyInputs.LoadPolicy(policy, warnings: stderr);
        using var filterSet = new EbpfFilterSet(EbpfInputs.Load(files, set, stderr), ir);
        var hybrid = filterSet.Compile();
        foreach (var p in filterSet.Programs)
            stdout.WriteLine($"# {p.Name} ({p.Source}): {p.Program.Instructions.Length} instructions, {p.Program.Maps.Length} maps" +
                (filterSet.Routed.Contains(p) ? ", sees the calls EBPF(" + p.Name + ") rules hand it" : ", sees every call"));
        stdout.WriteLine($"kernel filter: {hybrid.Filter.Length} classic BPF instructions; " +
            (hybrid.NeedsSupervisor ? "calls marked 'supervisor' go to the eBPF VM in user space" : "no call needs the supervisor: this is a pure classic BPF filter"));
        stdout.WriteLine($"other architectures: {hybrid.Policy.BadArchAction}");
        foreach (var r in hybrid.Report)
        {
            int total = r.InKernel.Count + r.Supervised.Count + r.Mixed.Count;
            stdout.WriteLine($"{r.Architecture.Name}: {r.InKernel.Count} of {total} syscalls decided in the kernel; other numbers: {r.Section}");
            if (r.Supervised.Count > 0)
                stdout.WriteLine($"  supervisor: {string.Join(", ", r.Supervised)}");
            if (r.Mixed.Count > 0)
                stdout.WriteLine($"  supervisor for some arguments: {string.Join(", ", r.Mixed)}");
        }
        if (pfc)
            stdout.Write(PseudoFilterCode.Render(hybrid.Policy));
        return (int)ExitCode.Ok;
    }
}
