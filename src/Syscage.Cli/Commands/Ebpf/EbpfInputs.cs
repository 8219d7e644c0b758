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

    /// <summary>
    /// Loads each program; a knob that none of them has is a usage error. What the objects do that the kernel would mind
    /// (<see cref="Syscage.Ebpf.Elf.EbpfObject.Warnings"/>) goes to <paramref name="warnings"/>, once per object file.
    /// </summary>
    public static List<SeccompEbpfProgram> Load(IEnumerable<string> specs, IEnumerable<string> knobs, TextWriter? warnings = null)
    {
        var parsed = Knobs.Parse(knobs);
        var programs = new List<SeccompEbpfProgram>();
        try
        {
            var warned = new HashSet<string>(StringComparer.Ordinal);
            foreach (var spec in specs)
            {
                var program = SeccompEbpfProgram.Load(spec, parsed);
                programs.Add(program);
                string file = SeccompEbpfProgram.ParseSpec(spec).File;
                if (warnings is not null && program.Object is { } obj && warned.Add(file))
                    foreach (var warning in obj.Warnings)
                        warnings.WriteLine($"syscage: warning: {file}: {warning}");
            }
            foreach (var (name, _) in parsed)
                if (!programs.Any(p => p.KnobsApplied.Contains(name)))
                    throw new CliException(ExitCode.Usage, $"--set {name}: no --ebpf program has a global named '{name}'" +
                        (programs.Select(p => p.Object?.SuggestGlobal(name)).FirstOrDefault(n => n is not null) is { } near ? $"; did you mean '{near}'?" : ""));
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
