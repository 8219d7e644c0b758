using System.CommandLine;
using System.Globalization;
using Syscage.Bpf;
using Syscage.Abi;

namespace Syscage.Cli.Commands;

/// <summary><c>syscage emu FILE SYSCALL [ARG0..ARG5]</c>: what would the filter do with this call?</summary>
public static class EmuCommand
{
    /// <summary>The command definition; it only unpacks the parse result.</summary>
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "A raw .bpf filter, assembler text (.asm, .s), or a POLICY (.policy, .json, built-in name) to compile" };
        var syscall = new Argument<string>("SYSCALL") { Description = "Syscall name (for --arch) or number (decimal or 0x hex)" };
        var args = new Argument<string[]>("ARGS") { Description = "Up to six arguments: decimal, 0x hex, or negative", Arity = new ArgumentArity(0, 6) };
        var arch = new Option<string?>("--arch") { Description = "Architecture of the call (default: native): any of 'syscage syscalls --arches' (x86_64, x86, x32, aarch64, s390x, mips, ...)" };
        var ip = new Option<string?>("--ip") { Description = "seccomp_data.instruction_pointer (default 0)" };
        var trace = new Option<bool>("--trace") { Description = "Print every executed instruction with A and X, and the argument each load reads, decoded" };
        var json = JsonOutput.Option("the call, the verdict (and with --trace the steps)");
        var oci = new OciInputs.Arguments();
        var cmd = oci.AddTo(new Command("emu", "Run a filter on one system call; the last line is the action") { file, syscall, args, arch, ip, trace, json });
        cmd.SetAction(p => CliApp.Guard(p, (o, e) => Run(o, e, p.GetValue(file)!, p.GetValue(syscall)!, p.GetValue(args) ?? [], p.GetValue(arch), p.GetValue(ip), p.GetValue(trace), oci.Read(p), p.GetValue(json))));
        return cmd;
    }

    /// <summary>
    /// Emulates the call and prints the action as the last line: <c>ALLOW</c>, <c>KILL_PROCESS</c>,
    /// <c>KILL_THREAD</c>, <c>TRAP(n)</c>, <c>ERRNO(n)</c>, <c>TRACE(n)</c>, <c>LOG</c> or <c>USER_NOTIF</c> — what the
    /// kernel does, so an unknown action value prints <c>KILL_PROCESS</c> and ERRNO data is clamped to 4095.
    /// </summary>
    public static int Run(TextWriter stdout, TextWriter stderr, string file, string syscall, string[] args, string? arch = null, string? ip = null, bool trace = false,
        OciInputs? oci = null, bool json = false)
    {
        var architecture = ProgramFiles.ParseArch(arch);
        if (args.Length > 6)
            throw new CliException(ExitCode.Usage, $"a system call has at most 6 arguments, got {args.Length}");
        var program = PolicyInputs.LoadProgram(file, architecture, oci: oci, warnings: stderr);
        var data = CallInputs.MakeData(architecture, syscall, args, ip);
        var decoded = ArgumentDecoder.Arguments(data);

        var steps = new List<TraceStep>();
        string[]? text = trace ? Disassembler.FormatEach(program.Instructions.AsSpan(), architecture) : null;
        Action<TraceStep>? tracer = null;
        if (trace && json)
            tracer = steps.Add;
        else if (trace)
            tracer = s => stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{s.Pc:D4}: A=0x{s.A:x8} X=0x{s.X:x8}  {text![s.Pc]}") + LoadNote(s.Instruction, data));
        var result = Interpreter.Run(program, data, tracer);
        string name = architecture.Syscalls.TryGetName(data.Nr, out var n) ? n : "?";
        var action = result.Action;
        if (json)
        {
            JsonOutput.WriteLine(stdout, w =>
            {
                w.WriteStartObject();
                w.WriteString("arch", architecture.Name);
                w.WriteString("syscall", name);
                w.WriteNumber("nr", data.Nr);
                w.WriteString("call", ArgumentDecoder.Call(data));
                DecodedArgument.WriteJson(w, decoded);
                w.WriteNumber("instructions", result.InstructionsExecuted);
                w.WriteString("returned", string.Create(CultureInfo.InvariantCulture, $"0x{result.ReturnValue:x8}"));
                w.WriteString("action", action.Effective.ToString());
                if (action.Effective.Kind == SeccompActionKind.Errno && Errno.Name(action.Effective.Data) is { } errno)
                    w.WriteString("errno", errno);
                if (trace)
                {
                    w.WriteStartArray("trace");
                    foreach (var s in steps)
                    {
                        w.WriteStartObject();
                        w.WriteNumber("pc", s.Pc);
                        w.WriteNumber("a", s.A);
                        w.WriteNumber("x", s.X);
                        w.WriteString("instruction", text![s.Pc]);
                        if (LoadedArgument(s.Instruction, data) is { } loaded)
                        {
                            w.WriteString("argument", loaded.Name);
                            w.WriteString("value", loaded.Text);
                        }
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                }
                w.WriteEndObject();
            });
            return (int)ExitCode.Ok;
        }
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"# {architecture.Name} {ArgumentDecoder.Call(data)} (nr {data.Nr}): {result.InstructionsExecuted} instructions executed, returned 0x{result.ReturnValue:x8}"));
        // The filter saw the whole registers; a 32-bit ABI's syscall reads only their low halves.
        var seen = data.AsSyscallSeesIt();
        for (int i = 0; i < args.Length; i++)
            if (seen.Arg(i) != data.Arg(i))
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"# {architecture.Name} is a 32-bit ABI: the syscall sees args[{i}] = 0x{seen.Arg(i):x} (the filter saw 0x{data.Arg(i):x})"));
        if (action.Kind == SeccompActionKind.Unknown)
            stdout.WriteLine($"# 0x{action.Value:x8} is not a seccomp action; the kernel treats it as KILL_PROCESS");
        else if (action.Effective != action)
            stdout.WriteLine($"# the kernel acts on {action} as {action.Effective}");
        stdout.WriteLine(action.Effective.ToString());
        return (int)ExitCode.Ok;
    }

    /// <summary>The argument an instruction loads a word of (<c>A = args[1]</c>, either half), decoded as the syscall sees it; null for other instructions.</summary>
    private static (string Name, string Text)? LoadedArgument(Instruction insn, SeccompData data)
    {
        if (insn.Code != (Opcode.BPF_LD | Opcode.BPF_W | Opcode.BPF_ABS) || insn.K < SeccompData.ArgsOffset || insn.K >= SeccompData.Size)
            return null;
        int index = (int)(insn.K - SeccompData.ArgsOffset) / 8;
        var arch = Architecture.Of(data.Arch, data.Nr);
        Syscall? call = null;
        arch?.Syscalls.TryGet(data.Nr, out call);
        string name = call is not null && index < call.ArgNames.Count ? call.ArgNames[index] : string.Create(CultureInfo.InvariantCulture, $"arg{index}");
        return (name, ArgumentDecoder.Format(arch, call, index, data.AsSyscallSeesIt().Arg(index)));
    }

    /// <summary><c>  (flags = CLONE_NEWUSER)</c> after a load of an argument's word in the trace.</summary>
    private static string LoadNote(Instruction insn, SeccompData data) =>
        LoadedArgument(insn, data) is { } a ? $"  ({a.Name} = {a.Text})" : "";
}
