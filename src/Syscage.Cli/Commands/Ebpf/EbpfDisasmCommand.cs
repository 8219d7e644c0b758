using System.CommandLine;
using System.Globalization;
using Syscage.Ebpf.Btf;
using Syscage.Ebpf.Elf;
using Syscage.Ebpf.Isa;

namespace Syscage.Cli.Commands.Ebpf;

/// <summary>
/// <c>syscage ebpf disasm FILE</c>: raw eBPF instruction bytes, or the programs of a clang object (with its C source
/// lines as comments), to text that <c>syscage ebpf asm</c> reads back.
/// </summary>
public static class EbpfDisasmCommand
{
    /// <summary>The command definition; it only unpacks the parse result.</summary>
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "Raw eBPF instructions (8 bytes each, little endian; '-' for stdin), or a BPF object from 'clang -O2 -g -target bpf -c'" };
        var program = new Option<string?>("--program", "-p") { Description = "With an object: only this program (name or section)" };
        var cmd = new Command("disasm", "Disassemble raw eBPF instructions or an object's programs (the text re-assembles to the same bytes; an object's source lines are comments)") { file, program };
        cmd.SetAction(p => CliApp.Guard(p, (o, e) => Run(o, e, p.GetValue(file)!, p.GetValue(program))));
        return cmd;
    }

    /// <summary>Prints the disassembly of <paramref name="file"/>.</summary>
    public static int Run(TextWriter stdout, TextWriter stderr, string file, string? program = null)
    {
        if (file != "-" && EbpfInputs.IsObject(file))
        {
            var obj = EbpfObject.LoadFile(file);
            var programs = program is null ? obj.Programs : [obj.GetProgram(program)];
            foreach (var p in programs)
            {
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# program {p.Name} (section {p.Section}): {p.Instructions.Length} instructions"));
                stdout.Write(EbpfDisassembler.ToText(p.Instructions.AsSpan(), Annotations(p)));
            }
            return (int)ExitCode.Ok;
        }
        if (program is not null)
            throw new CliException(ExitCode.Usage, "--program needs an object file");
        byte[] bytes = ProgramFiles.ReadBytes(file);
        if (bytes.Length % EbpfInstruction.Size != 0)
            throw new CliException(ExitCode.BadInput, $"{file}: {bytes.Length} bytes is not a whole number of 8-byte eBPF instructions");
        stdout.Write(EbpfDisassembler.ToText(EbpfInstruction.ReadAll(bytes)));
        return (int)ExitCode.Ok;
    }

    /// <summary>The source line before the first instruction compiled from it: <c>file:line:col: text</c>.</summary>
    private static Func<int, string?>? Annotations(EbpfObjectProgram program)
    {
        if (program.Lines.IsEmpty)
            return null;
        SourceLine? previous = null;
        return pc =>
        {
            var line = program.SourceAt(pc);
            if (line is null || (previous is not null && line.File == previous.File && line.Line == previous.Line))
                return null;
            previous = line;
            return $"{line}: {line.Text.Trim()}";
        };
    }
}
