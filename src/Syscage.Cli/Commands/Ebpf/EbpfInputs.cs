using Syscage.Ebpf;
using Syscage.Ebpf.Seccomp;

namespace Syscage.Cli.Commands.Ebpf;

/// <summary>eBPF objects named on the command line: <c>[NAME=]FILE.o[:SECTION]</c>, with <c>--set</c> knobs.</summary>
internal static class EbpfInputs
{
    /// <summary>True when <paramref name="path"/> names an eBPF object: a <c>.o</c> file, or any file with the ELF magic.</summary>
    public static bool IsObject(string path)
    {
        string file = SeccompEbpfProgram.ParseSpec(path).File;
        if (!File.Exists(file) || file.EndsWith(".o", StringComparison.Ordinal))
            return file.EndsWith(".o", StringComparison.Ordinal); // an object by name: the loader says what is wrong with it
        Span<byte> magic = stackalloc byte[4];
        using var s = File.OpenRead(file);
        return s.Read(magic) == 4 && magic.SequenceEqual("\u007fELF"u8);
    }

    /// <summary>Loads each program; a knob that none of them has is a usage error.</summary>
    public static List<SeccompEbpfProgram> Load(IEnumerable<string> specs, IEnumerable<string> knobs)
    {
        var parsed = Knobs.Parse(knobs);
        var programs = new List<SeccompEbpfProgram>();
        try
        {
            foreach (var spec in specs)
                programs.Add(SeccompEbpfProgram.Load(spec, parsed));
            foreach (var (name, _) in parsed)
                if (!programs.Any(p => p.KnobsApplied.Contains(name)))
                    throw new CliException(ExitCode.Usage, $"--set {name}: no --ebpf program has a global named '{name}'");
            return programs;
        }
        catch
        {
            foreach (var p in programs)
                p.Dispose();
            throw;
        }
    }
}
