using Syscage.Ebpf;
using Syscage.Ebpf.Elf;
using Syscage.Ebpf.Isa;
using Syscage.Ebpf.Maps;
using Syscage.Ebpf.Verifier;
using static Syscage.Ebpf.Isa.EbpfOpcode;

namespace Syscage.EbpfLoader.Tests;

/// <summary>
/// Programs that must not run: each is rejected with the expected reason at the expected instruction. Written in C
/// where clang produces them, else as instruction lists.
/// </summary>
public class HostileProgramTests
{
    private const string Prelude = """
        #include "common.h"
        struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 16); __type(key, __u32); __type(value, __u64); } counts SEC(".maps");
        struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64[4]); } table SEC(".maps");
        struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } events SEC(".maps");
        char LICENSE[] SEC("license") = "GPL";

        """;

    /// <summary>Compiles, loads and verifies; returns the error and the program (for locating the expected pc).</summary>
    private static (VerificationError Error, EbpfObjectProgram Program) RejectC(string body)
    {
        var o = EbpfObject.Load(Clang.Compile(Prelude + body));
        var p = Assert.Single(o.Programs);
        Assert.False(o.TryVerify(p, out _, out var error), "the verifier accepted a hostile program:\n" + Listing(p.Instructions));
        return (error, p);
    }

    private static VerificationError RejectAsm(string asm, VerifierOptions? options = null)
    {
        var insns = EbpfAssembler.Assemble(asm);
        Assert.False(EbpfVerifier.TryVerify(insns, options, out _, out var error), "the verifier accepted:\n" + asm);
        return error;
    }

    private static string Listing(IEnumerable<EbpfInstruction> insns) => string.Join('\n', insns.Select((i, pc) => $"{pc}: {i}"));

    private static int FirstPc(EbpfObjectProgram p, Func<EbpfInstruction, bool> match)
    {
        for (int pc = 0; pc < p.Instructions.Length; pc++)
            if (match(p.Instructions[pc]))
                return pc;
        throw new InvalidOperationException("instruction not found:\n" + Listing(p.Instructions));
    }

    private static void AssertError(VerificationError e, string reasonStart, int pc)
    {
        Assert.True(e.Reason.StartsWith(reasonStart, StringComparison.Ordinal), $"expected '{reasonStart}...', got: {e}");
        Assert.Equal(pc, e.Pc);
        Assert.Matches(@" at pc \d+: \S", e.ToString());
    }

    [Fact]
    public void Out_of_bounds_context_read()
    {
        var (e, p) = RejectC("""
            SEC("seccomp") int prog(struct seccomp_data *ctx) { return ((volatile __u64 *)ctx)[8] ? SECCOMP_RET_KILL_PROCESS : SECCOMP_RET_ALLOW; }
            """);
        AssertError(e, "out-of-bounds context access: offset 64, size 8", FirstPc(p, i => i.Opcode == (BPF_LDX | BPF_MEM | BPF_DW) && i.Offset == 64));
    }

    [Fact]
    public void Write_to_context()
    {
        var (e, p) = RejectC("""
            SEC("seccomp") int prog(struct seccomp_data *ctx) { ctx->nr = 39; return SECCOMP_RET_ALLOW; }
            """);
        AssertError(e, "write into the context (struct seccomp_data is read-only)", FirstPc(p, i => Class(i.Opcode) is BPF_ST or BPF_STX));
    }

    [Fact]
    public void Unaligned_context_access()
    {
        var (e, p) = RejectC("""
            SEC("seccomp") int prog(struct seccomp_data *ctx) { return *(volatile __u16 *)((char *)ctx + 2) ? SECCOMP_RET_KILL_PROCESS : SECCOMP_RET_ALLOW; }
            """);
        AssertError(e, "invalid context access: offset 2, size 2", FirstPc(p, i => Class(i.Opcode) == BPF_LDX));
    }

    [Fact]
    public void Wrong_size_context_access()
    {
        var (e, p) = RejectC("""
            SEC("seccomp") int prog(struct seccomp_data *ctx) { return *(volatile __u8 *)&ctx->arch == 0x3e ? SECCOMP_RET_ALLOW : SECCOMP_RET_KILL_PROCESS; }
            """);
        AssertError(e, "invalid context access: offset 4, size 1", FirstPc(p, i => Class(i.Opcode) == BPF_LDX));
    }

    [Fact]
    public void Null_map_value_dereference()
    {
        var (e, p) = RejectC("""
            SEC("seccomp") int prog(struct seccomp_data *ctx) {
                __u32 nr = ctx->nr;
                __u64 *count = bpf_map_lookup_elem(&counts, &nr);
                return *count > 10 ? SECCOMP_RET_KILL_PROCESS : SECCOMP_RET_ALLOW;
            }
            """);
        AssertError(e, "possible null pointer dereference: r0 is map_value_or_null", FirstPc(p, i => i.Opcode == (BPF_LDX | BPF_MEM | BPF_DW) && i.Src == 0));
    }

    [Fact]
    public void Map_value_out_of_bounds_with_a_variable_index()
    {
        var (e, p) = RejectC("""
            SEC("seccomp") int prog(struct seccomp_data *ctx) {
                __u32 zero = 0;
                __u64 *row = bpf_map_lookup_elem(&table, &zero);
                if (!row) return SECCOMP_RET_ALLOW;
                return row[ctx->nr & 7] ? SECCOMP_RET_KILL_PROCESS : SECCOMP_RET_ALLOW; /* 8 slots, the value has 4 */
            }
            """);
        AssertError(e, "out-of-bounds access to map value of 'table' (32 bytes): bytes 0..63", FirstPc(p, i => i.Opcode == (BPF_LDX | BPF_MEM | BPF_DW)));
    }

    [Fact]
    public void Map_value_out_of_bounds_with_a_constant_offset()
    {
        var (e, p) = RejectC("""
            SEC("seccomp") int prog(struct seccomp_data *ctx) {
                __u32 nr = ctx->nr;
                __u64 *count = bpf_map_lookup_elem(&counts, &nr);
                if (!count) return SECCOMP_RET_ALLOW;
                return ((volatile __u32 *)count)[2] ? SECCOMP_RET_KILL_PROCESS : SECCOMP_RET_ALLOW;
            }
            """);
        AssertError(e, "out-of-bounds access to map value of 'counts' (8 bytes): bytes 8..11", FirstPc(p, i => i.Opcode == (BPF_LDX | BPF_MEM | BPF_W) && i.Offset == 8));
    }

    [Fact]
    public void Read_of_uninitialised_stack_by_a_helper()
    {
        var (e, p) = RejectC("""
            SEC("seccomp") int prog(struct seccomp_data *ctx) {
                __u32 key;
                asm volatile("" : "=m"(key)); /* keep clang from noticing the key is never written */
                return bpf_map_lookup_elem(&counts, &key) ? SECCOMP_RET_KILL_PROCESS : SECCOMP_RET_ALLOW;
            }
            """);
        AssertError(e, "helper bpf_map_lookup_elem#1: r2 (the map key, 4 bytes): read of uninitialised stack", FirstPc(p, i => i.Opcode == (BPF_JMP | BPF_CALL)));
    }

    [Fact]
    public void Read_of_uninitialised_stack()
    {
        var e = RejectAsm("""
            ldxdw %r0, [%r10-8]
            exit
            """);
        AssertError(e, "read of uninitialised stack at fp-8", 0);
    }

    [Fact]
    public void Stack_overflow()
    {
        var e = RejectAsm("""
            stdw [%r10-520], 0
            mov %r0, 0
            exit
            """);
        AssertError(e, "stack access out of bounds: bytes fp-520..fp-513", 0);
        AssertError(RejectAsm("stdw [%r10+0], 0\nmov %r0, 0\nexit"), "stack access out of bounds", 0);
    }

    [Fact]
    public void Infinite_loop()
    {
        AssertError(RejectAsm("""
            mov %r0, 0
            loop:
            ja loop
            """), "infinite loop detected", 1);
        AssertError(RejectAsm("""
            ldxw %r0, [%r1+0]
            loop:
            jne %r0, 39, loop
            exit
            """), "infinite loop detected", 1);
    }

    [Fact]
    public void Loop_that_does_not_end_within_the_limit()
    {
        var e = RejectAsm("""
            mov %r0, 0
            loop:
            add %r0, 1
            jne %r0, 0, loop
            exit
            """, new VerifierOptions { MaxInstructionsProcessed = 100_000 });
        Assert.StartsWith("program is too complex: more than 100000 instructions simulated", e.Reason);
    }

    [Fact]
    public void Bounded_loop_is_accepted()
    {
        var insns = EbpfAssembler.Assemble("""
            mov %r0, 0
            mov %r2, 0
            loop:
            add %r0, %r2
            add %r2, 1
            jlt %r2, 100, loop
            exit
            """);
        var v = EbpfVerifier.Verify(insns);
        Assert.True(v.Facts!.InstructionsProcessed < 1000);
    }

    [Fact]
    public void Uninitialised_register()
    {
        AssertError(RejectAsm("""
            mov %r0, 1
            add %r0, %r3
            exit
            """), "read of uninitialised register r3", 1);
    }

    [Fact]
    public void Missing_r0_at_exit()
    {
        AssertError(RejectAsm("exit"), "r0 is not set at exit", 0);
        // r0 set on one path only.
        AssertError(RejectAsm("""
            ldxw %r2, [%r1+0]
            jeq %r2, 39, out
            mov %r0, 0
            out:
            exit
            """), "r0 is not set at exit", 3);
    }

    [Fact]
    public void Leaked_ring_buffer_reservation()
    {
        var (e, p) = RejectC("""
            SEC("seccomp") int prog(struct seccomp_data *ctx) {
                __u64 *e = bpf_ringbuf_reserve(&events, 8, 0);
                if (!e) return SECCOMP_RET_ALLOW;
                *e = ctx->nr;
                if (ctx->nr == 59) return SECCOMP_RET_KILL_PROCESS; /* forgets to submit on this path */
                bpf_ringbuf_submit(e, 0);
                return SECCOMP_RET_ALLOW;
            }
            """);
        int reservePc = FirstPc(p, i => i.Opcode == (BPF_JMP | BPF_CALL) && i.Imm == 131);
        Assert.StartsWith($"ring-buffer reservation made at pc {reservePc} is neither submitted nor discarded", e.Reason);
        Assert.Equal(BPF_JMP | BPF_EXIT, p.Instructions[e.Pc].Opcode);
    }

    [Fact]
    public void Bad_helper_argument()
    {
        var (e, p) = RejectC("""
            SEC("seccomp") int prog(struct seccomp_data *ctx) {
                return bpf_map_lookup_elem(&counts, ctx) ? SECCOMP_RET_KILL_PROCESS : SECCOMP_RET_ALLOW;
            }
            """);
        AssertError(e, "helper bpf_map_lookup_elem#1: r2 (the map key, 4 bytes): must point to the stack, a map value or a ring-buffer record, not ctx",
            FirstPc(p, i => i.Opcode == (BPF_JMP | BPF_CALL)));
        AssertError(RejectAsm("mov %r1, 0\nmov %r2, 0\ncall 1\nmov %r0, 0\nexit"), "helper bpf_map_lookup_elem#1: r1 must be a map reference, not scalar", 2);
        AssertError(RejectAsm("call 999\nexit"), "unknown helper function id 999", 0);
    }

    [Fact]
    public void Ring_buffer_helpers_on_the_wrong_map_type()
    {
        var (e, _) = RejectC("""
            SEC("seccomp") int prog(struct seccomp_data *ctx) {
                __u64 *e = bpf_ringbuf_reserve(&counts, 8, 0);
                if (e) bpf_ringbuf_discard(e, 0);
                return SECCOMP_RET_ALLOW;
            }
            """);
        Assert.StartsWith("helper bpf_ringbuf_reserve#131 does not work on map 'counts' of type Hash", e.Reason);
    }

    [Fact]
    public void Write_to_read_only_global()
    {
        var (e, p) = RejectC("""
            const volatile __u32 knob = 1;
            SEC("seccomp") int prog(struct seccomp_data *ctx) { *(volatile __u32 *)&knob = 2; return SECCOMP_RET_ALLOW; }
            """);
        AssertError(e, "write into read-only map '.rodata'", FirstPc(p, i => Class(i.Opcode) is BPF_ST or BPF_STX));
    }

    [Fact]
    public void Frame_pointer_is_read_only()
    {
        AssertError(RejectAsm("mov %r10, 0\nmov %r0, 0\nexit"), "r10 (the frame pointer) is read-only", 0);
        AssertError(RejectAsm("add %r10, -8\nmov %r0, 0\nexit"), "r10 (the frame pointer) is read-only", 0);
    }

    [Fact]
    public void Pointer_returned_from_the_program()
    {
        AssertError(RejectAsm("mov %r0, %r10\nexit"), "r0 at exit is a pointer (fp)", 1);
    }

    [Fact]
    public void Pointer_stored_into_a_map_value()
    {
        var maps = new VerifierOptions { Maps = [new MapDefinition("m", MapType.Array, 4, 8, 1)] };
        var insns = new List<EbpfInstruction>
        {
            new(BPF_ST | BPF_MEM | BPF_W, 10, 0, -4, 0),             // *(u32 *)(fp-4) = 0
            new(BPF_LD | BPF_DW | BPF_IMM, 1, BPF_PSEUDO_MAP_FD, 0, 0), new(0, 0, 0, 0, 0),
            new(BPF_ALU64 | BPF_MOV | BPF_X, 2, 10, 0, 0),
            new(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -4),
            new(BPF_JMP | BPF_CALL, 0, 0, 0, 1),                       // map_lookup_elem
            new(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1, 0),
            new(BPF_STX | BPF_MEM | BPF_DW, 0, 10, 0, 0),              // *(u64 *)r0 = r10: leaks the stack address
            new(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0),
            new(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
        };
        Assert.False(EbpfVerifier.TryVerify(insns, maps, out _, out var e));
        AssertError(e, "storing a pointer (fp) into a map value would leak an address", 7);
    }

    [Fact]
    public void Unbounded_recursion()
    {
        AssertError(RejectAsm("""
            call local f
            exit
            f:
            call local f
            exit
            """), "call stack too deep: more than 8 frames", 2);
    }

    [Fact]
    public void Structural_errors()
    {
        AssertError(RejectAsm("ja +5\nexit"), "jump out of range", 0);
        AssertError(RejectAsm("mov %r0, 0"), "the last instruction of a function must be exit or ja", 0);
        Assert.Equal("empty program", EbpfVerifier.TryVerify([], null, out _, out var e) ? "" : e.ToString());
        var jumpIntoLddw = new EbpfInstruction[] { new(BPF_JMP | BPF_JA, 0, 0, 1, 0), new(BPF_LD | BPF_DW | BPF_IMM, 0, 0, 0, 1), new(0, 0, 0, 0, 0), new(BPF_JMP | BPF_EXIT, 0, 0, 0, 0) };
        Assert.False(EbpfVerifier.TryVerify(jumpIntoLddw, null, out _, out e));
        AssertError(e, "jump into the middle of lddw", 0);
        Assert.False(EbpfVerifier.TryVerify([new(0xff, 0, 0, 0, 0), new(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)], null, out _, out e));
        AssertError(e, "unknown opcode 0xff", 0);
    }

    [Fact]
    public void Verify_throws_with_the_same_message()
    {
        var insns = EbpfAssembler.Assemble("exit");
        var ex = Assert.Throws<EbpfVerificationException>(() => EbpfVerifier.Verify(insns));
        Assert.Equal("r0 is not set at exit (read of uninitialised register r0) at pc 0: exit", ex.Message);
        Assert.IsAssignableFrom<SyscageException>(ex);
    }

    [Fact]
    public void Counter_from_a_loop_used_as_an_index_is_tracked_exactly()
    {
        // The counter reaches 16 only when every byte is '/': the verifier must not prune that path away.
        var (e, p) = RejectC("""
            SEC("seccomp") int prog(struct seccomp_data *ctx) {
                char buf[16];
                __u32 n = 0;
                if (bpf_probe_read_user(buf, sizeof(buf), (const void *)ctx->args[0]) < 0) return SECCOMP_RET_ALLOW;
                #pragma clang loop unroll(disable)
                for (int i = 0; i < 16; i++)
                    if (buf[i] == '/') n++;
                return ((volatile char *)buf)[n] == 'x' ? SECCOMP_RET_KILL_PROCESS : SECCOMP_RET_ALLOW;
            }
            """);
        Assert.StartsWith("stack access out of bounds: bytes fp0..fp0", e.Reason);
        Assert.Equal(BPF_LDX | BPF_MEM | BPF_B, p.Instructions[e.Pc].Opcode);
    }
}
