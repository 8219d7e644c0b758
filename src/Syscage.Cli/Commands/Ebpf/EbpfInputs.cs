using Syscage.Ebpf;
using Syscage.Ebpf.Seccomp;
using Syscage.Ebpf.Vm;

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

    /// <summary>
    /// The engine <c>--jit</c> and <c>--interpret</c> ask for; neither: the VM's choice (the JIT where the runtime can
    /// compile code at run time, the interpreter in the NativeAOT tool). <c>--jit</c> where there is no JIT is a usage error.
    /// </summary>
    public static EbpfEngine Engine(bool jit, bool interpret)
    {
        if (interpret)
            return EbpfEngine.Interpreter;
        if (!jit)
            return EbpfEngine.Auto;
        if (!System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported)
            throw new CliException(ExitCode.Usage, "--jit: this syscage is a native (NativeAOT) build, which has no JIT for generated code; it runs eBPF programs with the interpreter");
        return EbpfEngine.Jit;
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
