using System.CommandLine;
using System.Globalization;
using Syscage.Ebpf.Verifier;
using Syscage.Ebpf.Elf;
using Syscage.Ebpf.Helpers;

namespace Syscage.Cli.Commands.Ebpf;

/// <summary><c>syscage ebpf verify OBJ</c>: load an object, list its programs and maps, and verify each program.</summary>
public static class VerifyCommand
{
    /// <summary>The command definition; it only unpacks the parse result.</summary>
    public static Command Create()
    {
        var file = new Argument<string>("OBJ") { Description = "A BPF object from 'clang -O2 -g -target bpf -c'" };
        var program = new Option<string?>("--program", "-p") { Description = "Verify only this program (name or section)" };
        var set = new Option<string[]>("--set") { Description = "Set a global (const volatile knob) before verifying: NAME=VALUE", AllowMultipleArgumentsPerToken = false };
        var cmd = new Command("verify", "Load an eBPF object and verify its programs as seccomp filters; exit 0 if all pass, 1 if any is rejected")
        {
            file, program, set,
        };
        cmd.SetAction(p => CliApp.Guard(p, (o, e) => Run(o, e, p.GetValue(file)!, p.GetValue(program), p.GetValue(set) ?? [])));
        return cmd;
    }

    /// <summary>Prints the object's maps and each program's verdict; 0 when every program verifies, 1 otherwise.</summary>
    public static int Run(TextWriter stdout, TextWriter stderr, string file, string? program = null, IReadOnlyList<string>? set = null)
    {
        var obj = EbpfObject.LoadFile(file);
        Knobs.Apply(obj, set ?? []);
        foreach (var warning in obj.Warnings)
            stderr.WriteLine($"syscage: warning: {file}: {warning}");
        var c = CultureInfo.InvariantCulture;
        stdout.WriteLine($"{file}: license {(obj.License is null ? "(none)" : $"\"{obj.License}\"")}, {obj.Programs.Length} program(s), {obj.Maps.Count} map(s)");
        for (int i = 0; i < obj.Maps.Count; i++)
        {
            var m = obj.Maps[i];
            stdout.WriteLine(string.Create(c, $"  map {i} {m.Name}: {m.Type}, key {m.KeySize}, value {m.ValueSize}, max_entries {m.MaxEntries}{(m.ReadOnlyForProgram ? ", read-only" : "")}"));
        }
        var programs = program is null ? obj.Programs : [obj.GetProgram(program)];
        bool allOk = true;
        foreach (var p in programs)
        {
            if (obj.TryVerify(p, out var verified, out var error))
            {
                var f = verified.Facts!;
                string helpers = f.HelpersCalled.IsEmpty ? "none" : string.Join(", ", f.HelpersCalled.Select(HelperPrototypes.Describe));
                stdout.WriteLine(string.Create(c, $"  program {p.Name} ({p.Section}): ok, {p.Instructions.Length} instructions, {f.InstructionsProcessed} simulated, stack {f.MaxStackDepth} bytes, helpers {helpers}"));
            }
            else
            {
                allOk = false;
                stdout.WriteLine($"  program {p.Name} ({p.Section}): rejected: {error}");
                // The C line the rejection names, quoted as compilers quote it.
                if (error.Source is { Text.Length: > 0 } source)
                    stdout.WriteLine(string.Create(c, $"{source.Line,8} | {source.Text}"));
            }
        }
        return (int)(allOk ? ExitCode.Ok : ExitCode.Rejected);
    }
}
