using Syscage.Ebpf.Helpers;
using Syscage.Ebpf.Isa;
using Syscage.Ebpf.Maps;
using Syscage.Ebpf.Vm;
using Syscage.Ebpf.Verifier;

namespace Syscage.Ebpf.Tests;

/// <summary>Builds executors from assembler text for tests (through <see cref="EbpfProgram.Unverified"/>).</summary>
internal static class TestPrograms
{
    public static IEbpfExecutor Build(string asm, EbpfEngine engine, EbpfMapSet? maps = null, ContextDescription? context = null)
    {
        var insns = EbpfAssembler.Assemble(asm);
        var program = EbpfProgram.Unverified(insns, context ?? ContextDescription.Memory(64), maps?.Select(m => m.Definition));
        return EbpfVm.Create(program, maps, engine);
    }

    public static ulong Run(this IEbpfExecutor vm, HelperContext? helpers = null, byte[]? memory = null) =>
        vm.RunOnMemory(memory ?? new byte[64], helpers ?? HelperContext.None);
}
