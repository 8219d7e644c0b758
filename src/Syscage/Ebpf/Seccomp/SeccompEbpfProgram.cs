using System.Globalization;
using Syscage.Bpf;
using Syscage.Ebpf.Elf;
using Syscage.Ebpf.Helpers;
using Syscage.Ebpf.Maps;
using Syscage.Ebpf.Verifier;
using Syscage.Abi;
using Syscage.Ebpf.Vm;

namespace Syscage.Ebpf.Seccomp;

/// <summary>
/// One eBPF seccomp program ready to run: loaded from a <c>clang -target bpf</c> object, its knobs set, verified as
/// a seccomp filter (context <c>struct seccomp_data</c>, read-only; the result is a <c>SECCOMP_RET_*</c> value) and
/// bound to its own maps. Thread-safe: the maps are, and each run has its own registers and stack.
/// </summary>
public sealed class SeccompEbpfProgram : IDisposable
{
    private SeccompEbpfProgram(string name, string source, EbpfProgram program, EbpfMapSet maps, ExecutorBase executor, EbpfObject? obj)
    {
        Name = name;
        Source = source;
        Program = program;
        Maps = maps;
        _engine = executor;
        Object = obj;
        // A program the verifier did not describe is taken to read the task: the safe assumption.
        ReadsTask = program.Facts is not { } facts || facts.HelpersCalled.Any(HelperPrototypes.ReadsTask);
    }

    /// <summary>
    /// True when the program calls a helper that reads the calling task (<see cref="HelperPrototypes.ReadsTask"/>); a
    /// supervisor runs the others without binding a task to the call.
    /// </summary>
    public bool ReadsTask { get; }

    /// <summary>The name policies use for it (<c>EBPF(name)</c>); by default the program's function name.</summary>
    public string Name { get; }

    /// <summary>Where it came from (<c>file.o:section</c>), for messages.</summary>
    public string Source { get; }

    /// <summary>
    /// The verified program. The hybrid split reads its instructions (it explores them symbolically per architecture),
    /// not the verifier's <see cref="EbpfProgram.Facts"/>.
    /// </summary>
    public EbpfProgram Program { get; }

    /// <summary>Its maps (global variables included), shared by every run.</summary>
    public EbpfMapSet Maps { get; }

    /// <summary>The engine that runs it.</summary>
    public IEbpfExecutor Executor => _engine;

    // The executor as its class: the run of every notified call calls it directly, not through the interface — an
    // indirect call just after the context switch of a notification is mispredicted.
    private readonly ExecutorBase _engine;

    /// <summary>The object it was loaded from (its BTF describes map keys and values), when it came from one.</summary>
    public EbpfObject? Object { get; }

    /// <summary>
    /// Loads <paramref name="spec"/>: <c>FILE.o</c> (its only program), <c>FILE.o:SECTION_OR_NAME</c>, optionally
    /// prefixed with <c>NAME=</c> to name it. <paramref name="knobs"/> set global variables before verification.
    /// Throws <see cref="SyscageException"/> (file, program or knob problems, verifier rejection) with a message
    /// that names the file.
    /// </summary>
    public static SeccompEbpfProgram Load(string spec, IEnumerable<KeyValuePair<string, ulong>>? knobs = null, EbpfEngine engine = EbpfEngine.Auto)
    {
        var (alias, file, section) = ParseSpec(spec);
        if (!File.Exists(file))
            throw new SyscageException($"{file}: no such file");
        var obj = EbpfObject.LoadFile(file);
        var chosen = section is not null ? Try(file, () => obj.GetProgram(section))
            : obj.Programs.Length == 1 ? obj.Programs[0]
            : obj.Programs.Length == 0 ? throw new SyscageException($"{file}: no programs in it")
            : throw new SyscageException($"{file} has {obj.Programs.Length} programs; choose one with {file}:NAME ({string.Join(", ", obj.Programs.Select(p => p.Name))})");
        var applied = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, value) in knobs ?? [])
        {
            if (!obj.Globals.Any(g => g.Name == name))
                continue;
            Try(file, () => { obj.SetGlobal(name, value); return 0; });
            applied.Add(name);
        }
        if (!obj.TryVerify(chosen, out var verified, out var error))
            throw new SyscageException($"{file}: {chosen.Name}: rejected by the verifier: {error}");
        var maps = EbpfMapSet.Create(verified.Maps);
        return new SeccompEbpfProgram(alias ?? chosen.Name, $"{file}:{chosen.Section}", verified, maps, EbpfVm.Bind(verified, maps, engine), obj)
        {
            KnobsApplied = applied,
        };
    }

    /// <summary>
    /// Splits <c>[NAME=]FILE[:SECTION]</c>: a <c>=</c> before any <c>/</c> ends the name; a <c>:</c> starts the section
    /// unless the whole rest is an existing file.
    /// </summary>
    public static (string? Name, string File, string? Section) ParseSpec(string spec)
    {
        ArgumentException.ThrowIfNullOrEmpty(spec);
        string? name = null;
        int eq = spec.IndexOf('=', StringComparison.Ordinal);
        if (eq > 0 && spec.IndexOf('/', StringComparison.Ordinal) is var slash && (slash < 0 || slash > eq))
        {
            name = spec[..eq];
            spec = spec[(eq + 1)..];
        }
        int colon = spec.LastIndexOf(':');
        return colon > 0 && !File.Exists(spec) ? (name, spec[..colon], spec[(colon + 1)..]) : (name, spec, null);
    }

    /// <summary>
    /// Wraps an already verified program (tests, generated programs, one verified by the caller) with fresh maps;
    /// <paramref name="source"/> is the object it came from, whose BTF types its maps.
    /// </summary>
    public static SeccompEbpfProgram FromVerified(EbpfProgram program, string? name = null, EbpfEngine engine = EbpfEngine.Auto, EbpfObject? source = null)
    {
        ArgumentNullException.ThrowIfNull(program);
        var maps = EbpfMapSet.Create(program.Maps);
        return new SeccompEbpfProgram(name ?? program.Name, program.Name, program, maps, EbpfVm.Bind(program, maps, engine), source);
    }

    /// <summary>The knob names <see cref="Load"/> found and set in this object (a knob no program has is a caller's error to report).</summary>
    public IReadOnlySet<string> KnobsApplied { get; private init; } = new HashSet<string>();

    /// <summary>
    /// Runs the program on one call and returns its 32-bit verdict (the low half of r0, as the patch set does). The
    /// program reads <c>struct seccomp_data</c> in its own byte order (it is <c>bpfel</c>, so little-endian) whatever the
    /// call's architecture, and as the syscall sees the call (<see cref="SeccompData.AsSyscallSeesIt"/>: on a 32-bit ABI
    /// the arguments' low halves), which is what the kernel half of a hybrid split compares too.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public uint Run(in SeccompData data, HelperContext helpers)
    {
        Span<byte> ctx = stackalloc byte[SeccompData.Size];
        data.AsSyscallSeesIt().WriteTo(ctx);
        return (uint)_engine.Run(ctx, helpers);
    }

    /// <summary>
    /// Runs the program on <paramref name="data"/>: <c>struct seccomp_data</c> already in the program's layout
    /// (little-endian) and as the syscall sees the call — which is how the kernel writes it for a 64-bit ABI on a
    /// little-endian machine, so a supervisor hands the bytes it received straight to the VM (read-only: the context of a
    /// seccomp program is).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    internal unsafe uint RunOnKernelData(byte* data, HelperContext helpers) =>
        (uint)_engine.Run(data, SeccompData.Size, helpers);

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Name} ({Source})");

    /// <inheritdoc/>
    public void Dispose() => Maps.Dispose();

    private static T Try<T>(string file, Func<T> f)
    {
        try
        {
            return f();
        }
        catch (EbpfLoadException e)
        {
            throw new SyscageException($"{file}: {e.Message}");
        }
    }
}
