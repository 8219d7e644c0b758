using System.CommandLine;
using System.Globalization;
using Syscage.Abi;
using Syscage.Bpf;
using Syscage.Policy;

namespace Syscage.Cli.Commands;

/// <summary><c>syscage explain POLICY SYSCALL [ARGS]</c>: which rule decides, and why.</summary>
public static class ExplainCommand
{
    /// <summary>The command definition; it only unpacks the parse result.</summary>
    public static Command Create()
    {
        var policy = new Argument<string>("POLICY") { Description = "A .policy file, an OCI/Docker .json profile, a built-in policy name, or a compiled filter (.bpf, .asm: from 'syscage dump', say), whose path is shown" };
        var syscall = new Argument<string>("SYSCALL") { Description = "Syscall name (for --arch) or number" };
        var args = new Argument<string[]>("ARGS") { Description = "Up to six arguments", Arity = new ArgumentArity(0, 6) };
        var arch = new Option<string?>("--arch") { Description = "Architecture of the call (default: native)" };
        var json = JsonOutput.Option("the call, each rule tried and the decision");
        var oci = new OciInputs.Arguments();
        var cmd = oci.AddTo(new Command("explain", "Show which rule of a policy decides a call, with its file:line") { policy, syscall, args, arch, json });
        cmd.SetAction(p => CliApp.Guard(p, (o, e) => Run(o, e, p.GetValue(policy)!, p.GetValue(syscall)!, p.GetValue(args) ?? [], p.GetValue(arch), oci.Read(p), p.GetValue(json))));
        return cmd;
    }

    /// <summary>Prints the explanation; the last line is the action. With <paramref name="json"/>, one JSON object instead.</summary>
    public static int Run(TextWriter stdout, TextWriter stderr, string policy, string syscall, string[] args, string? arch = null, OciInputs? oci = null, bool json = false)
    {
        var architecture = ProgramFiles.ParseArch(arch);
        if (PolicyInputs.IsProgram(policy))
        {
            var program = PolicyInputs.LoadProgram(policy, architecture, oci: oci);
            ExplainProgram(stdout, policy, program, CallInputs.MakeData(architecture, syscall, args, null), architecture, json);
            return (int)ExitCode.Ok;
        }
        var ir = PolicyInputs.LoadPolicy(policy, null, stderr, oci);
        var data = CallInputs.MakeData(architecture, syscall, args, null);
        if (json)
            WriteJson(stdout, ir, data);
        else
            stdout.Write(PolicyExplainer.Explain(ir, data));
        return (int)ExitCode.Ok;
    }

    /// <summary>
    /// The call (decoded), the section, each rule of the syscall with whether it matches and whether it was tried, and
    /// the decision with its reason and rule: what the text says, for programs.
    /// </summary>
    private static void WriteJson(TextWriter stdout, SeccompPolicy policy, SeccompData data)
    {
        var decision = policy.Evaluate(data);
        var section = decision.Section;
        var arch = section?.Architecture ?? Architecture.Of(data.Arch, data.Nr);
        Syscall? call = null;
        arch?.Syscalls.TryGet(data.Nr, out call);
        JsonOutput.WriteLine(stdout, w =>
        {
            w.WriteStartObject();
            w.WriteString("policy", policy.Name);
            if (arch is not null)
                w.WriteString("arch", arch.Name);
            w.WriteString("auditArch", JsonOutput.Hex(data.Arch));
            w.WriteNumber("nr", data.Nr);
            if (call is not null)
                w.WriteString("syscall", call.Name);
            w.WriteString("call", ArgumentDecoder.Call(data));
            DecodedArgument.WriteJson(w, ArgumentDecoder.Arguments(data));
            if (section is not null && decision.Reason != DecisionReason.Newer)
            {
                var rules = section.RulesFor(data.Nr);
                var values = new ulong[6];
                for (int i = 0; i < 6; i++)
                    values[i] = data.Arg(i);
                int decided = decision.Rule is null ? rules.Count : IndexOf(rules, decision.Rule);
                w.WriteStartArray("rules");
                for (int r = 0; r < rules.Count; r++)
                {
                    w.WriteStartObject();
                    w.WriteNumber("index", r + 1);
                    if (rules[r].Source is { } source)
                        LintOutput.WriteSource(w, source);
                    w.WriteString("action", rules[r].Action.ToString());
                    w.WriteString("route", rules[r].Route.ToString());
                    w.WriteString("condition", rules[r].Condition.ToString());
                    w.WriteBoolean("tried", r <= decided);
                    if (r <= decided)
                        w.WriteBoolean("matches", rules[r].Condition.Evaluate(values, section.Architecture.Is64Bit));
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteStartObject("decision");
            w.WriteString("action", decision.Action.ToString());
            if (decision.Action.Kind == SeccompActionKind.Errno && Errno.Name(decision.Action.Data) is { } errno)
                w.WriteString("errno", errno);
            w.WriteString("reason", decision.Reason switch
            {
                DecisionReason.BadArch => "bad-arch",
                DecisionReason.Rule => "rule",
                DecisionReason.Default => "default",
                _ => "newer-syscalls",
            });
            if (decision.Rule is { } rule)
            {
                if (section is not null)
                    w.WriteNumber("rule", IndexOf(section.RulesFor(data.Nr), rule) + 1);
                if (rule.Source is { } at)
                    LintOutput.WriteSource(w, at);
                if (rule.Route is not KernelRoute)
                    w.WriteString("route", rule.Route.ToString());
            }
            w.WriteEndObject();
            w.WriteEndObject();
        });
    }

    /// <summary>
    /// A compiled filter has no rules to name: the call, decoded, then the instructions it runs (the arguments each load
    /// reads, decoded) and the action it returns, from where.
    /// </summary>
    private static void ExplainProgram(TextWriter stdout, string file, BpfProgram program, SeccompData data, Architecture architecture, bool json)
    {
        var steps = new List<TraceStep>();
        var result = Interpreter.Run(program, data, steps.Add);
        var text = Disassembler.FormatEach(program.Instructions.AsSpan(), architecture);
        var action = result.Action.Effective;
        string? errno = action.Kind == SeccompActionKind.Errno ? Errno.Name(action.Data) : null;
        int last = steps.Count > 0 ? steps[^1].Pc : 0;
        if (json)
        {
            JsonOutput.WriteLine(stdout, w =>
            {
                w.WriteStartObject();
                w.WriteString("program", file);
                w.WriteNumber("instructions", program.Length);
                w.WriteString("arch", architecture.Name);
                w.WriteNumber("nr", data.Nr);
                w.WriteString("call", ArgumentDecoder.Call(data));
                DecodedArgument.WriteJson(w, ArgumentDecoder.Arguments(data));
                w.WriteStartArray("path");
                foreach (var step in steps)
                    w.WriteNumberValue(step.Pc);
                w.WriteEndArray();
                w.WriteStartObject("decision");
                w.WriteString("action", action.ToString());
                if (errno is not null)
                    w.WriteString("errno", errno);
                w.WriteString("returned", JsonOutput.Hex(result.ReturnValue));
                w.WriteNumber("pc", last);
                w.WriteEndObject();
                w.WriteEndObject();
            });
            return;
        }
        stdout.WriteLine($"{ArgumentDecoder.Call(data)} on {architecture.Name}: nr {data.Nr}");
        stdout.WriteLine($"{file}: a compiled filter of {program.Length} instructions (no rules to name: its path for this call)");
        foreach (var step in steps)
        {
            string loads = "";
            var insn = step.Instruction;
            if (insn.Code == (Opcode.BPF_LD | Opcode.BPF_W | Opcode.BPF_ABS) && insn.K >= SeccompData.ArgsOffset && insn.K < SeccompData.Size)
            {
                int index = (int)(insn.K - SeccompData.ArgsOffset) / 8;
                var arg = ArgumentDecoder.Arguments(data).FirstOrDefault(a => a.Name == ArgName(data, index));
                if (arg is not null)
                    loads = $"  ({arg.Name} = {arg.Text})";
            }
            stdout.WriteLine($"  {step.Pc:D4}: {text[step.Pc].Trim()}{loads}");
        }
        stdout.WriteLine($"decision: {action}{(errno is null ? "" : $" ({errno})")}, returned at pc {last:D4}");
    }

    private static string ArgName(SeccompData data, int index)
    {
        Syscall? call = null;
        Architecture.Of(data.Arch, data.Nr)?.Syscalls.TryGet(data.Nr, out call);
        return call is not null && index < call.ArgNames.Count ? call.ArgNames[index] : $"arg{index}";
    }

    private static int IndexOf(IReadOnlyList<Rule> rules, Rule rule)
    {
        for (int i = 0; i < rules.Count; i++)
            if (ReferenceEquals(rules[i], rule))
                return i;
        return -1;
    }
}
