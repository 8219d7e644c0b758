using Syscage.Ebpf.Helpers;
using Syscage.Ebpf.Isa;
using Syscage.Ebpf.Maps;
using Syscage.Ebpf.Vm;
using Syscage.Ebpf.Verifier;

namespace Syscage.Ebpf.Tests;

/// <summary>What the VM checks itself (the verifier does not), and how contexts are passed.</summary>
public sealed class VmContractTests
{
    public static TheoryData<EbpfEngine> Engines => [EbpfEngine.Interpreter, EbpfEngine.Jit];

    [Theory, MemberData(nameof(Engines))]
    public void A_context_smaller_than_the_description_is_refused(EbpfEngine engine)
    {
        var program = EbpfProgram.Unverified(EbpfAssembler.Assemble("ldxw %r0, [%r1]\nexit"), ContextDescription.SeccompData);
        var vm = EbpfVm.Create(program, engine: engine);
        Assert.Throws<ArgumentException>(() => vm.Run(new byte[32], HelperContext.None));
        var ctx = new byte[64];
        ctx[0] = 59;
        Assert.Equal(59ul, vm.Run(ctx, HelperContext.None));
    }

    [Theory, MemberData(nameof(Engines))]
    public void Read_only_run_leaves_the_callers_bytes_alone_and_memory_run_changes_them(EbpfEngine engine)
    {
        var vm = TestPrograms.Build("stb [%r1], 7\nmov %r0, %r2\nexit", engine, context: ContextDescription.Memory(4));
        var bytes = new byte[4];
        Assert.Equal(4ul, vm.Run((ReadOnlySpan<byte>)bytes, HelperContext.None));
        Assert.Equal(0, bytes[0]);
        Assert.Equal(4ul, vm.RunOnMemory(bytes, HelperContext.None));
        Assert.Equal(7, bytes[0]);
    }

    [Theory, MemberData(nameof(Engines))]
    public void Calls_nest_at_most_eight_frames(EbpfEngine engine)
    {
        // A chain of n nested calls: f0 calls f1 ... each returns 1 + its callee; r10 moves 512 down per frame.
        static string Chain(int depth)
        {
            var sb = new System.Text.StringBuilder("call local f1\nexit\n");
            for (int i = 1; i <= depth; i++)
            {
                sb.Append($"f{i}:\nstdw [%r10-8], {i}\n");
                if (i < depth) sb.Append($"call local f{i + 1}\n"); else sb.Append("mov %r0, 0\n");
                sb.Append("ldxdw %r1, [%r10-8]\nadd %r0, %r1\nexit\n");
            }
            return sb.ToString();
        }
        Assert.Equal((ulong)(7 * 8 / 2), TestPrograms.Build(Chain(7), engine).Run());
        var e = Assert.Throws<EbpfRuntimeException>(() => TestPrograms.Build(Chain(8), engine).Run());
        Assert.Contains("nested deeper than 8 frames at pc", e.Message);
    }

    [Theory, MemberData(nameof(Engines))]
    public void Unknown_helpers_and_instructions_stop_the_run(EbpfEngine engine)
    {
        Assert.Contains("helper 9999", Assert.Throws<EbpfRuntimeException>(() => TestPrograms.Build("call 9999\nexit", engine).Run()).Message);
        Assert.Contains("at pc 1", Assert.Throws<EbpfRuntimeException>(() => TestPrograms.Build("mov %r0, 1\n.raw 0x00000000000000ff\nexit", engine).Run()).Message);
    }

    [Fact]
    public void Binding_checks_the_maps_against_the_program()
    {
        var insns = EbpfAssembler.Assemble("lddw %r1, map_value[0]+8\nldxb %r0, [%r1]\nexit");
        var program = EbpfProgram.Unverified(insns, ContextDescription.Memory(0), [new MapDefinition("a", MapType.Array, 4, 8, 1)]);
        using var tooSmall = EbpfMapSet.Create([new MapDefinition("a", MapType.Array, 4, 8, 1)]);
        Assert.Contains("not an offset inside an array map's value, at pc 0", Assert.Throws<SyscageException>(() => EbpfVm.Create(program, tooSmall)).Message);
        using var wrongType = EbpfMapSet.Create([new MapDefinition("a", MapType.Hash, 4, 8, 1)]);
        Assert.Throws<SyscageException>(() => EbpfVm.Create(program, wrongType));
        Assert.Throws<SyscageException>(() => EbpfVm.Create(program));
    }
}
