using System.Runtime.CompilerServices;
using Syscage.Ebpf.Helpers;
using Syscage.Ebpf.Isa;
using Syscage.Ebpf.Maps;
using Syscage.Ebpf.Verifier;

namespace Syscage.Ebpf.Vm;

/// <summary>
/// Entry point of the eBPF VM: binds a verified <see cref="EbpfProgram"/> to map instances and returns an executor.
/// </summary>
/// <remarks>
/// Memory model (as in the kernel): registers hold real addresses — of the context, of the run's stack, of map values
/// in unmanaged memory — and loads and stores go straight to them, without bounds checks: the verifier has proved
/// every access in bounds before a program gets here. What the VM still checks at run time, because the verifier does
/// not prove it: the context handed to <c>Run</c> is at least as large as the program's context description, and
/// bpf-to-bpf calls nest at most <see cref="MaxCallFrames"/> deep (the verifier rejects recursion, and this bounds
/// the stack memory per run).
/// </remarks>
public static class EbpfVm
{
    /// <summary><c>MAX_CALL_FRAMES</c>: the main program plus at most 7 nested bpf-to-bpf calls.</summary>
    public const int MaxCallFrames = 8;

    /// <summary>Bytes of stack per run: each frame has its own <see cref="EbpfOpcode.MAX_BPF_STACK"/> bytes.</summary>
    internal const int StackBytes = MaxCallFrames * EbpfOpcode.MAX_BPF_STACK;

    /// <summary>
    /// The engine <see cref="EbpfEngine.Auto"/> chooses: the JIT where the runtime can compile code at run time
    /// (<see cref="RuntimeFeature.IsDynamicCodeSupported"/>: the JIT runtime), the interpreter where it can't
    /// (NativeAOT, where the interpreter itself is compiled ahead of time).
    /// </summary>
    public static EbpfEngine DefaultEngine => RuntimeFeature.IsDynamicCodeSupported ? EbpfEngine.Jit : EbpfEngine.Interpreter;

    /// <summary>
    /// Binds <paramref name="program"/> to <paramref name="maps"/> (created with <see cref="EbpfMapSet.Create"/> from
    /// <see cref="EbpfProgram.Maps"/>; null when the program has none) and prepares <paramref name="engine"/>
    /// (<see cref="EbpfEngine.Auto"/>: <see cref="DefaultEngine"/>).
    /// </summary>
    /// <exception cref="NotSupportedException"><see cref="EbpfEngine.Jit"/> where the runtime has no dynamic code (NativeAOT).</exception>
    public static IEbpfExecutor Create(EbpfProgram program, EbpfMapSet? maps = null, EbpfEngine engine = EbpfEngine.Auto) =>
        Bind(program, maps, engine);

    /// <summary><see cref="Create"/>, as the executors' class: what the library's own callers call directly.</summary>
    internal static ExecutorBase Bind(EbpfProgram program, EbpfMapSet? maps = null, EbpfEngine engine = EbpfEngine.Auto)
    {
        ArgumentNullException.ThrowIfNull(program);
        if (!Enum.IsDefined(engine))
            throw new ArgumentOutOfRangeException(nameof(engine), engine, "not an engine");
        var bound = new BoundProgram(program, maps ?? EbpfMapSet.Empty);
        if (engine == EbpfEngine.Interpreter)
            return new InterpreterExecutor(bound);
        if (RuntimeFeature.IsDynamicCodeSupported)
            return new JitExecutor(bound);
        if (engine == EbpfEngine.Jit)
            throw new NotSupportedException("the eBPF JIT compiles programs to IL at run time, which this runtime can't (NativeAOT): use the interpreter");
        return new InterpreterExecutor(bound);
    }
}

/// <summary>A program with its <c>lddw</c> constants resolved against concrete maps.</summary>
internal sealed class BoundProgram
{
    public BoundProgram(EbpfProgram program, EbpfMapSet maps)
    {
        Program = program;
        MapSet = maps;
        Maps = maps.Array;
        Code = [.. program.Instructions];
        Wide = new ulong[Code.Length];
        // One frame unless the program makes bpf-to-bpf calls: short programs then skip probing 4 KiB of stack.
        HasCalls = Code.Any(i => i.Opcode == (EbpfOpcode.BPF_JMP | EbpfOpcode.BPF_CALL) && i.Src == EbpfOpcode.BPF_PSEUDO_CALL);
        StackBytes = HasCalls ? EbpfVm.StackBytes : EbpfOpcode.MAX_BPF_STACK;
        ContextSize = program.Context.Size;
        if (maps.Count < program.Maps.Length)
            throw new SyscageException($"program '{program.Name}' uses {program.Maps.Length} maps but {maps.Count} were supplied");
        for (int i = 0; i < program.Maps.Length; i++)
            if (maps[i].Definition.Type != program.Maps[i].Type)
                throw new SyscageException($"program '{program.Name}': map {i} ('{program.Maps[i].Name}') is a {program.Maps[i].Type}, the supplied map '{maps[i].Name}' a {maps[i].Definition.Type}");
        for (int pc = 0; pc + 1 < Code.Length; pc++)
        {
            var insn = Code[pc];
            if (!EbpfOpcode.IsWide(insn.Opcode))
                continue;
            int hi = Code[pc + 1].Imm;
            Wide[pc] = insn.Src switch
            {
                0 => ((ulong)(uint)hi << 32) | (uint)insn.Imm,
                EbpfOpcode.BPF_PSEUDO_MAP_FD => HelperImplementations.MapHandle(MapIndex(insn.Imm, pc)),
                EbpfOpcode.BPF_PSEUDO_MAP_VALUE => MapValue(MapIndex(insn.Imm, pc), hi, pc),
                _ => throw new SyscageException($"lddw with unknown pseudo source {insn.Src} at pc {pc}"),
            };
            pc++;
        }
    }

    private int MapIndex(int index, int pc) => (uint)index < (uint)Maps.Length
        ? index
        : throw new SyscageException($"lddw refers to map {index}, which does not exist, at pc {pc}");

    private ulong MapValue(int index, int offset, int pc) =>
        Maps[index] is ArrayMap array && (uint)offset < (uint)array.Definition.ValueSize
            ? (ulong)(array.ValueAddress(0) + offset)
            : throw new SyscageException($"lddw map_value[{index}]+{offset}: not an offset inside an array map's value, at pc {pc}");

    public EbpfProgram Program { get; }
    public EbpfMapSet MapSet { get; }
    public EbpfMap[] Maps { get; }
    public EbpfInstruction[] Code { get; }
    /// <summary>Stack bytes a run needs: 512 per possible frame.</summary>
    public int StackBytes { get; }
    /// <summary>Whether the program makes bpf-to-bpf calls (and so needs more than one frame).</summary>
    public bool HasCalls { get; }
    /// <summary>Bytes the context handed to a run must have.</summary>
    public int ContextSize { get; }
    /// <summary>For each <c>lddw</c> slot, the 64-bit value it loads.</summary>
    public ulong[] Wide { get; }
}

/// <summary>The span entry points, shared by both engines.</summary>
internal abstract unsafe class ExecutorBase(BoundProgram bound) : IEbpfExecutor
{
    protected BoundProgram Bound { get; } = bound;
    public EbpfProgram Program => Bound.Program;
    public EbpfMapSet Maps => Bound.MapSet;
    public abstract EbpfEngine Engine { get; }

    [SkipLocalsInit] // the verifier guarantees no stack byte is read before it is written
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public ulong Run(byte* context, int length, HelperContext helpers)
    {
        if (length < Bound.ContextSize || helpers is null)
            ThrowBadArguments(length, helpers);
        if (!Bound.HasCalls)
        {
            byte* frame = stackalloc byte[EbpfOpcode.MAX_BPF_STACK];
            // The interpreter (the only engine without dynamic code) is called directly: its class is sealed, so this is
            // not the virtual call, mispredicted after a context switch, that Execute is.
            return this is InterpreterExecutor interpreter
                ? interpreter.Execute(context, (ulong)length, frame + EbpfOpcode.MAX_BPF_STACK, helpers)
                : Execute(context, (ulong)length, frame + EbpfOpcode.MAX_BPF_STACK, helpers);
        }
        byte* stack = stackalloc byte[EbpfVm.StackBytes];
        return Execute(context, (ulong)length, stack + EbpfVm.StackBytes, helpers);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void ThrowBadArguments(int length, HelperContext? helpers)
    {
        ArgumentNullException.ThrowIfNull(helpers);
        throw new ArgumentException($"the context is {length} bytes; program '{Program.Name}' may read {Program.Context.Size} ({Program.Context.Name})", nameof(length));
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public ulong Run(ReadOnlySpan<byte> context, HelperContext helpers)
    {
        if (Program.Context.Writable)
        {
            var copy = context.ToArray();
            return RunOnMemory(copy, helpers);
        }
        fixed (byte* p = context)
            return Run(p, context.Length, helpers);
    }

    public ulong RunOnMemory(Span<byte> memory, HelperContext helpers)
    {
        fixed (byte* p = memory)
            return Run(p, memory.Length, helpers);
    }

    /// <summary>Runs with <c>r1</c> = context, <c>r2</c> = length, <c>r10</c> = <paramref name="stackTop"/> (frame 0's end).</summary>
    protected abstract ulong Execute(byte* context, ulong length, byte* stackTop, HelperContext helpers);
}
