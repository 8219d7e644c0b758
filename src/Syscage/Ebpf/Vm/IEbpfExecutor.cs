using Syscage.Ebpf.Helpers;
using Syscage.Ebpf.Maps;
using Syscage.Ebpf.Verifier;

namespace Syscage.Ebpf.Vm;

/// <summary>
/// Runs one verified program bound to its maps. Both engines (<see cref="EbpfEngine"/>) give the same results.
/// Instances are immutable and thread-safe: several supervisor threads may run the same executor at once, each run
/// with its own registers and stack.
/// </summary>
public interface IEbpfExecutor
{
    /// <summary>The program.</summary>
    EbpfProgram Program { get; }

    /// <summary>The maps the program's <c>lddw</c> map references resolve to.</summary>
    EbpfMapSet Maps { get; }

    /// <summary>Which engine runs the program.</summary>
    EbpfEngine Engine { get; }

    /// <summary>
    /// Runs the program with <c>r1</c> = the context (a copy when the program may write it) and <c>r2</c> = its length;
    /// returns <c>r0</c>. <paramref name="context"/> must hold at least <see cref="ContextDescription.Size"/> bytes.
    /// </summary>
    ulong Run(ReadOnlySpan<byte> context, HelperContext helpers);

    /// <summary>Runs the program on <paramref name="memory"/> in place (<c>r1</c> points at it, <c>r2</c> = its length); stores stay in it.</summary>
    ulong RunOnMemory(Span<byte> memory, HelperContext helpers);

    /// <summary>Runs the program with <c>r1</c> = <paramref name="context"/>, <c>r2</c> = <paramref name="length"/>.</summary>
    unsafe ulong Run(byte* context, int length, HelperContext helpers);
}

/// <summary>The two engines.</summary>
public enum EbpfEngine
{
    /// <summary>Compiles the program to IL (<see cref="System.Reflection.Emit.DynamicMethod"/>), which RyuJIT turns into native code.</summary>
    Jit,
    /// <summary>Interprets the instructions one by one.</summary>
    Interpreter,
    /// <summary>
    /// The JIT where the runtime supports dynamic code, the interpreter where it doesn't (NativeAOT):
    /// <see cref="EbpfVm.DefaultEngine"/>. An executor's <see cref="IEbpfExecutor.Engine"/> is never this.
    /// </summary>
    Auto,
}
