using System.Globalization;
using System.Runtime.CompilerServices;
using Syscage.Ebpf.Helpers;
using Syscage.Ebpf.Isa;
using static Syscage.Ebpf.Isa.EbpfOpcode;

namespace Syscage.Ebpf.Vm;

/// <summary>
/// Interprets a verified program: a loop over the slots with one switch on each opcode byte. Registers live in a
/// stack-allocated array; memory operands are real addresses (see <see cref="EbpfVm"/> for the memory model).
/// </summary>
internal sealed unsafe class InterpreterExecutor(BoundProgram bound) : ExecutorBase(bound)
{
    /// <summary>Saved per call: r6..r9, r10 and the return pc.</summary>
    private const int SaveWords = 6;

    /// <summary>Register slots: the 16 numbers an instruction's 4-bit register fields can hold.</summary>
    private const int RegisterSlots = 16;

    public override EbpfEngine Engine => EbpfEngine.Interpreter;

    protected override ulong Execute(byte* context, ulong length, byte* stackTop, HelperContext helpers)
    {
        var none = default(NoCount);
        return Execute(context, length, stackTop, helpers, ref none);
    }

    /// <summary>Runs on <paramref name="memory"/> and returns how many instructions executed (for ns-per-instruction figures).</summary>
    internal long CountSteps(Span<byte> memory, HelperContext helpers)
    {
        var counter = default(StepCount);
        int stackBytes = Bound.StackBytes;
        byte* stack = stackalloc byte[stackBytes];
        fixed (byte* p = memory)
            Execute(p, (ulong)memory.Length, stack + stackBytes, helpers, ref counter);
        return counter.Steps;
    }

    internal interface IStepCounter { void Step(); }

    /// <summary>Counts nothing; the JIT removes the calls (a struct type argument gets its own specialised code).</summary>
    private struct NoCount : IStepCounter { public readonly void Step() { } }

    private struct StepCount : IStepCounter
    {
        public long Steps;
        public void Step() => Steps++;
    }

    [SkipLocalsInit]
    private ulong Execute<TCounter>(byte* context, ulong length, byte* stackTop, HelperContext helpers, ref TCounter counter)
        where TCounter : struct, IStepCounter
    {
        var code = Bound.Code;
        var wide = Bound.Wide;
        // Room for every register number the 4-bit fields can name, not only r0..r10: an instruction's destination is
        // taken by reference before its opcode is looked at.
        ulong* r = stackalloc ulong[RegisterSlots];
        ulong* saves = stackalloc ulong[EbpfVm.MaxCallFrames * SaveWords];
        new Span<ulong>(r, RegisterSlots).Clear();
        r[1] = (ulong)context;
        r[2] = length;
        r[10] = (ulong)stackTop;
        int depth = 0;
        int pc = 0;
        // One switch on the whole opcode byte: a single jump table per instruction (the nested class, operation and
        // source switches took three, each an indirect branch that a context switch leaves cold). Opcodes the verifier
        // never passes fall to the default and throw, as before.
        while (true)
        {
            counter.Step();
            var insn = code[pc];
            int at = pc++;
            ref ulong d = ref r[insn.Dst];
            switch (insn.Opcode)
            {
                // ALU64: K is the sign-extended immediate, X the source register.
                case BPF_ALU64 | BPF_ADD | BPF_K: d += (ulong)(long)insn.Imm; break;
                case BPF_ALU64 | BPF_ADD | BPF_X: d += r[insn.Src]; break;
                case BPF_ALU64 | BPF_SUB | BPF_K: d -= (ulong)(long)insn.Imm; break;
                case BPF_ALU64 | BPF_SUB | BPF_X: d -= r[insn.Src]; break;
                case BPF_ALU64 | BPF_MUL | BPF_K: d *= (ulong)(long)insn.Imm; break;
                case BPF_ALU64 | BPF_MUL | BPF_X: d *= r[insn.Src]; break;
                case BPF_ALU64 | BPF_DIV | BPF_K: d = EbpfSemantics.Quotient64(d, (ulong)(long)insn.Imm, insn.Offset); break;
                case BPF_ALU64 | BPF_DIV | BPF_X: d = EbpfSemantics.Quotient64(d, r[insn.Src], insn.Offset); break;
                case BPF_ALU64 | BPF_MOD | BPF_K: d = EbpfSemantics.Remainder64(d, (ulong)(long)insn.Imm, insn.Offset); break;
                case BPF_ALU64 | BPF_MOD | BPF_X: d = EbpfSemantics.Remainder64(d, r[insn.Src], insn.Offset); break;
                case BPF_ALU64 | BPF_OR | BPF_K: d |= (ulong)(long)insn.Imm; break;
                case BPF_ALU64 | BPF_OR | BPF_X: d |= r[insn.Src]; break;
                case BPF_ALU64 | BPF_AND | BPF_K: d &= (ulong)(long)insn.Imm; break;
                case BPF_ALU64 | BPF_AND | BPF_X: d &= r[insn.Src]; break;
                case BPF_ALU64 | BPF_XOR | BPF_K: d ^= (ulong)(long)insn.Imm; break;
                case BPF_ALU64 | BPF_XOR | BPF_X: d ^= r[insn.Src]; break;
                case BPF_ALU64 | BPF_LSH | BPF_K: d <<= insn.Imm & 63; break;
                case BPF_ALU64 | BPF_LSH | BPF_X: d <<= (int)(r[insn.Src] & 63); break;
                case BPF_ALU64 | BPF_RSH | BPF_K: d >>= insn.Imm & 63; break;
                case BPF_ALU64 | BPF_RSH | BPF_X: d >>= (int)(r[insn.Src] & 63); break;
                case BPF_ALU64 | BPF_ARSH | BPF_K: d = (ulong)((long)d >> (insn.Imm & 63)); break;
                case BPF_ALU64 | BPF_ARSH | BPF_X: d = (ulong)((long)d >> (int)(r[insn.Src] & 63)); break;
                case BPF_ALU64 | BPF_NEG | BPF_K:
                case BPF_ALU64 | BPF_NEG | BPF_X: d = 0 - d; break;
                case BPF_ALU64 | BPF_MOV | BPF_K: d = insn.Offset == 0 ? (ulong)(long)insn.Imm : EbpfSemantics.SignExtend((ulong)(long)insn.Imm, insn.Offset); break;
                case BPF_ALU64 | BPF_MOV | BPF_X: d = insn.Offset == 0 ? r[insn.Src] : EbpfSemantics.SignExtend(r[insn.Src], insn.Offset); break;
                case BPF_ALU64 | BPF_END | BPF_K:
                case BPF_ALU64 | BPF_END | BPF_X: d = EbpfSemantics.Endian(d, insn.Imm, toBigEndian: true); break;

                // ALU: 32-bit operands, the result zero-extended into the register.
                case BPF_ALU | BPF_ADD | BPF_K: d = (uint)d + (uint)insn.Imm; break;
                case BPF_ALU | BPF_ADD | BPF_X: d = (uint)d + (uint)r[insn.Src]; break;
                case BPF_ALU | BPF_SUB | BPF_K: d = (uint)d - (uint)insn.Imm; break;
                case BPF_ALU | BPF_SUB | BPF_X: d = (uint)d - (uint)r[insn.Src]; break;
                case BPF_ALU | BPF_MUL | BPF_K: d = (uint)d * (uint)insn.Imm; break;
                case BPF_ALU | BPF_MUL | BPF_X: d = (uint)d * (uint)r[insn.Src]; break;
                case BPF_ALU | BPF_DIV | BPF_K: d = EbpfSemantics.Quotient32((uint)d, (uint)insn.Imm, insn.Offset); break;
                case BPF_ALU | BPF_DIV | BPF_X: d = EbpfSemantics.Quotient32((uint)d, (uint)r[insn.Src], insn.Offset); break;
                case BPF_ALU | BPF_MOD | BPF_K: d = EbpfSemantics.Remainder32((uint)d, (uint)insn.Imm, insn.Offset); break;
                case BPF_ALU | BPF_MOD | BPF_X: d = EbpfSemantics.Remainder32((uint)d, (uint)r[insn.Src], insn.Offset); break;
                case BPF_ALU | BPF_OR | BPF_K: d = (uint)d | (uint)insn.Imm; break;
                case BPF_ALU | BPF_OR | BPF_X: d = (uint)d | (uint)r[insn.Src]; break;
                case BPF_ALU | BPF_AND | BPF_K: d = (uint)d & (uint)insn.Imm; break;
                case BPF_ALU | BPF_AND | BPF_X: d = (uint)d & (uint)r[insn.Src]; break;
                case BPF_ALU | BPF_XOR | BPF_K: d = (uint)d ^ (uint)insn.Imm; break;
                case BPF_ALU | BPF_XOR | BPF_X: d = (uint)d ^ (uint)r[insn.Src]; break;
                case BPF_ALU | BPF_LSH | BPF_K: d = (uint)d << (insn.Imm & 31); break;
                case BPF_ALU | BPF_LSH | BPF_X: d = (uint)d << (int)(r[insn.Src] & 31); break;
                case BPF_ALU | BPF_RSH | BPF_K: d = (uint)d >> (insn.Imm & 31); break;
                case BPF_ALU | BPF_RSH | BPF_X: d = (uint)d >> (int)(r[insn.Src] & 31); break;
                case BPF_ALU | BPF_ARSH | BPF_K: d = (uint)((int)d >> (insn.Imm & 31)); break;
                case BPF_ALU | BPF_ARSH | BPF_X: d = (uint)((int)d >> (int)(r[insn.Src] & 31)); break;
                case BPF_ALU | BPF_NEG | BPF_K:
                case BPF_ALU | BPF_NEG | BPF_X: d = 0u - (uint)d; break;
                case BPF_ALU | BPF_MOV | BPF_K: d = insn.Offset == 0 ? (uint)insn.Imm : (uint)EbpfSemantics.SignExtend((uint)insn.Imm, insn.Offset); break;
                case BPF_ALU | BPF_MOV | BPF_X: d = insn.Offset == 0 ? (uint)r[insn.Src] : (uint)EbpfSemantics.SignExtend((uint)r[insn.Src], insn.Offset); break;
                case BPF_ALU | BPF_END | BPF_TO_LE: d = EbpfSemantics.Endian(d, insn.Imm, toBigEndian: false); break;
                case BPF_ALU | BPF_END | BPF_TO_BE: d = EbpfSemantics.Endian(d, insn.Imm, toBigEndian: true); break;

                // Jumps: JA by the offset (JMP) or the immediate (JMP32, gotol); conditions on 64 or 32 bits, each EbpfSemantics'
                // condition for a constant operation, which the compiler reduces to its one comparison.
                case BPF_JMP | BPF_JA | BPF_K:
                case BPF_JMP | BPF_JA | BPF_X: pc += insn.Offset; break;
                case BPF_JMP32 | BPF_JA | BPF_K:
                case BPF_JMP32 | BPF_JA | BPF_X: pc += insn.Imm; break;
                case BPF_JMP | BPF_JEQ | BPF_K: if (EbpfSemantics.Condition64(BPF_JEQ, d, (ulong)(long)insn.Imm)) pc += insn.Offset; break;
                case BPF_JMP | BPF_JEQ | BPF_X: if (EbpfSemantics.Condition64(BPF_JEQ, d, r[insn.Src])) pc += insn.Offset; break;
                case BPF_JMP | BPF_JNE | BPF_K: if (EbpfSemantics.Condition64(BPF_JNE, d, (ulong)(long)insn.Imm)) pc += insn.Offset; break;
                case BPF_JMP | BPF_JNE | BPF_X: if (EbpfSemantics.Condition64(BPF_JNE, d, r[insn.Src])) pc += insn.Offset; break;
                case BPF_JMP | BPF_JGT | BPF_K: if (EbpfSemantics.Condition64(BPF_JGT, d, (ulong)(long)insn.Imm)) pc += insn.Offset; break;
                case BPF_JMP | BPF_JGT | BPF_X: if (EbpfSemantics.Condition64(BPF_JGT, d, r[insn.Src])) pc += insn.Offset; break;
                case BPF_JMP | BPF_JGE | BPF_K: if (EbpfSemantics.Condition64(BPF_JGE, d, (ulong)(long)insn.Imm)) pc += insn.Offset; break;
                case BPF_JMP | BPF_JGE | BPF_X: if (EbpfSemantics.Condition64(BPF_JGE, d, r[insn.Src])) pc += insn.Offset; break;
                case BPF_JMP | BPF_JLT | BPF_K: if (EbpfSemantics.Condition64(BPF_JLT, d, (ulong)(long)insn.Imm)) pc += insn.Offset; break;
                case BPF_JMP | BPF_JLT | BPF_X: if (EbpfSemantics.Condition64(BPF_JLT, d, r[insn.Src])) pc += insn.Offset; break;
                case BPF_JMP | BPF_JLE | BPF_K: if (EbpfSemantics.Condition64(BPF_JLE, d, (ulong)(long)insn.Imm)) pc += insn.Offset; break;
                case BPF_JMP | BPF_JLE | BPF_X: if (EbpfSemantics.Condition64(BPF_JLE, d, r[insn.Src])) pc += insn.Offset; break;
                case BPF_JMP | BPF_JSET | BPF_K: if (EbpfSemantics.Condition64(BPF_JSET, d, (ulong)(long)insn.Imm)) pc += insn.Offset; break;
                case BPF_JMP | BPF_JSET | BPF_X: if (EbpfSemantics.Condition64(BPF_JSET, d, r[insn.Src])) pc += insn.Offset; break;
                case BPF_JMP | BPF_JSGT | BPF_K: if (EbpfSemantics.Condition64(BPF_JSGT, d, (ulong)(long)insn.Imm)) pc += insn.Offset; break;
                case BPF_JMP | BPF_JSGT | BPF_X: if (EbpfSemantics.Condition64(BPF_JSGT, d, r[insn.Src])) pc += insn.Offset; break;
                case BPF_JMP | BPF_JSGE | BPF_K: if (EbpfSemantics.Condition64(BPF_JSGE, d, (ulong)(long)insn.Imm)) pc += insn.Offset; break;
                case BPF_JMP | BPF_JSGE | BPF_X: if (EbpfSemantics.Condition64(BPF_JSGE, d, r[insn.Src])) pc += insn.Offset; break;
                case BPF_JMP | BPF_JSLT | BPF_K: if (EbpfSemantics.Condition64(BPF_JSLT, d, (ulong)(long)insn.Imm)) pc += insn.Offset; break;
                case BPF_JMP | BPF_JSLT | BPF_X: if (EbpfSemantics.Condition64(BPF_JSLT, d, r[insn.Src])) pc += insn.Offset; break;
                case BPF_JMP | BPF_JSLE | BPF_K: if (EbpfSemantics.Condition64(BPF_JSLE, d, (ulong)(long)insn.Imm)) pc += insn.Offset; break;
                case BPF_JMP | BPF_JSLE | BPF_X: if (EbpfSemantics.Condition64(BPF_JSLE, d, r[insn.Src])) pc += insn.Offset; break;
                case BPF_JMP32 | BPF_JEQ | BPF_K: if (EbpfSemantics.Condition32(BPF_JEQ, d, (ulong)(long)insn.Imm)) pc += insn.Offset; break;
                case BPF_JMP32 | BPF_JEQ | BPF_X: if (EbpfSemantics.Condition32(BPF_JEQ, d, r[insn.Src])) pc += insn.Offset; break;
                case BPF_JMP32 | BPF_JNE | BPF_K: if (EbpfSemantics.Condition32(BPF_JNE, d, (ulong)(long)insn.Imm)) pc += insn.Offset; break;
                case BPF_JMP32 | BPF_JNE | BPF_X: if (EbpfSemantics.Condition32(BPF_JNE, d, r[insn.Src])) pc += insn.Offset; break;
                case BPF_JMP32 | BPF_JGT | BPF_K: if (EbpfSemantics.Condition32(BPF_JGT, d, (ulong)(long)insn.Imm)) pc += insn.Offset; break;
                case BPF_JMP32 | BPF_JGT | BPF_X: if (EbpfSemantics.Condition32(BPF_JGT, d, r[insn.Src])) pc += insn.Offset; break;
                case BPF_JMP32 | BPF_JGE | BPF_K: if (EbpfSemantics.Condition32(BPF_JGE, d, (ulong)(long)insn.Imm)) pc += insn.Offset; break;
                case BPF_JMP32 | BPF_JGE | BPF_X: if (EbpfSemantics.Condition32(BPF_JGE, d, r[insn.Src])) pc += insn.Offset; break;
                case BPF_JMP32 | BPF_JLT | BPF_K: if (EbpfSemantics.Condition32(BPF_JLT, d, (ulong)(long)insn.Imm)) pc += insn.Offset; break;
                case BPF_JMP32 | BPF_JLT | BPF_X: if (EbpfSemantics.Condition32(BPF_JLT, d, r[insn.Src])) pc += insn.Offset; break;
                case BPF_JMP32 | BPF_JLE | BPF_K: if (EbpfSemantics.Condition32(BPF_JLE, d, (ulong)(long)insn.Imm)) pc += insn.Offset; break;
                case BPF_JMP32 | BPF_JLE | BPF_X: if (EbpfSemantics.Condition32(BPF_JLE, d, r[insn.Src])) pc += insn.Offset; break;
                case BPF_JMP32 | BPF_JSET | BPF_K: if (EbpfSemantics.Condition32(BPF_JSET, d, (ulong)(long)insn.Imm)) pc += insn.Offset; break;
                case BPF_JMP32 | BPF_JSET | BPF_X: if (EbpfSemantics.Condition32(BPF_JSET, d, r[insn.Src])) pc += insn.Offset; break;
                case BPF_JMP32 | BPF_JSGT | BPF_K: if (EbpfSemantics.Condition32(BPF_JSGT, d, (ulong)(long)insn.Imm)) pc += insn.Offset; break;
                case BPF_JMP32 | BPF_JSGT | BPF_X: if (EbpfSemantics.Condition32(BPF_JSGT, d, r[insn.Src])) pc += insn.Offset; break;
                case BPF_JMP32 | BPF_JSGE | BPF_K: if (EbpfSemantics.Condition32(BPF_JSGE, d, (ulong)(long)insn.Imm)) pc += insn.Offset; break;
                case BPF_JMP32 | BPF_JSGE | BPF_X: if (EbpfSemantics.Condition32(BPF_JSGE, d, r[insn.Src])) pc += insn.Offset; break;
                case BPF_JMP32 | BPF_JSLT | BPF_K: if (EbpfSemantics.Condition32(BPF_JSLT, d, (ulong)(long)insn.Imm)) pc += insn.Offset; break;
                case BPF_JMP32 | BPF_JSLT | BPF_X: if (EbpfSemantics.Condition32(BPF_JSLT, d, r[insn.Src])) pc += insn.Offset; break;
                case BPF_JMP32 | BPF_JSLE | BPF_K: if (EbpfSemantics.Condition32(BPF_JSLE, d, (ulong)(long)insn.Imm)) pc += insn.Offset; break;
                case BPF_JMP32 | BPF_JSLE | BPF_X: if (EbpfSemantics.Condition32(BPF_JSLE, d, r[insn.Src])) pc += insn.Offset; break;

                case BPF_JMP | BPF_EXIT | BPF_K:
                case BPF_JMP | BPF_EXIT | BPF_X:
                case BPF_JMP32 | BPF_EXIT | BPF_K:
                case BPF_JMP32 | BPF_EXIT | BPF_X:
                {
                    if (depth == 0)
                        return r[0];
                    depth--;
                    ulong* save = saves + depth * SaveWords;
                    r[6] = save[0]; r[7] = save[1]; r[8] = save[2]; r[9] = save[3]; r[10] = save[4];
                    pc = (int)save[5];
                    break;
                }
                case BPF_JMP | BPF_CALL | BPF_K:
                case BPF_JMP | BPF_CALL | BPF_X:
                case BPF_JMP32 | BPF_CALL | BPF_K:
                case BPF_JMP32 | BPF_CALL | BPF_X:
                {
                    if (insn.Src == BPF_PSEUDO_CALL)
                    {
                        if (depth == EbpfVm.MaxCallFrames - 1)
                            throw new EbpfRuntimeException(string.Create(CultureInfo.InvariantCulture, $"bpf-to-bpf calls nested deeper than {EbpfVm.MaxCallFrames} frames at pc {at}"));
                        ulong* save = saves + depth * SaveWords;
                        save[0] = r[6]; save[1] = r[7]; save[2] = r[8]; save[3] = r[9]; save[4] = r[10]; save[5] = (ulong)pc;
                        depth++;
                        r[10] -= MAX_BPF_STACK;
                        pc += insn.Imm;
                    }
                    else if (Src(insn.Opcode) == BPF_K && insn.Src == 0)
                    {
                        r[0] = HelperImplementations.Invoke(insn.Imm, r[1], r[2], r[3], r[4], r[5], Bound.Maps, helpers);
                    }
                    else
                    {
                        throw Bad(insn, at);
                    }
                    break;
                }

                // Loads, sign-extending loads (MEMSX) and stores; addresses are real (see EbpfVm).
                case BPF_LDX | BPF_MEM | BPF_B: d = *(byte*)(r[insn.Src] + (ulong)(long)insn.Offset); break;
                case BPF_LDX | BPF_MEM | BPF_H: d = Unsafe.ReadUnaligned<ushort>((byte*)(r[insn.Src] + (ulong)(long)insn.Offset)); break;
                case BPF_LDX | BPF_MEM | BPF_W: d = Unsafe.ReadUnaligned<uint>((byte*)(r[insn.Src] + (ulong)(long)insn.Offset)); break;
                case BPF_LDX | BPF_MEM | BPF_DW: d = Unsafe.ReadUnaligned<ulong>((byte*)(r[insn.Src] + (ulong)(long)insn.Offset)); break;
                case BPF_LDX | BPF_MEMSX | BPF_B: d = (ulong)(long)*(sbyte*)(r[insn.Src] + (ulong)(long)insn.Offset); break;
                case BPF_LDX | BPF_MEMSX | BPF_H: d = (ulong)(long)Unsafe.ReadUnaligned<short>((byte*)(r[insn.Src] + (ulong)(long)insn.Offset)); break;
                case BPF_LDX | BPF_MEMSX | BPF_W: d = (ulong)(long)Unsafe.ReadUnaligned<int>((byte*)(r[insn.Src] + (ulong)(long)insn.Offset)); break;
                case BPF_ST | BPF_MEM | BPF_B: *(byte*)(d + (ulong)(long)insn.Offset) = (byte)insn.Imm; break;
                case BPF_ST | BPF_MEM | BPF_H: Unsafe.WriteUnaligned((byte*)(d + (ulong)(long)insn.Offset), (ushort)insn.Imm); break;
                case BPF_ST | BPF_MEM | BPF_W: Unsafe.WriteUnaligned((byte*)(d + (ulong)(long)insn.Offset), (uint)insn.Imm); break;
                case BPF_ST | BPF_MEM | BPF_DW: Unsafe.WriteUnaligned((byte*)(d + (ulong)(long)insn.Offset), (ulong)(long)insn.Imm); break;
                case BPF_STX | BPF_MEM | BPF_B: *(byte*)(d + (ulong)(long)insn.Offset) = (byte)r[insn.Src]; break;
                case BPF_STX | BPF_MEM | BPF_H: Unsafe.WriteUnaligned((byte*)(d + (ulong)(long)insn.Offset), (ushort)r[insn.Src]); break;
                case BPF_STX | BPF_MEM | BPF_W: Unsafe.WriteUnaligned((byte*)(d + (ulong)(long)insn.Offset), (uint)r[insn.Src]); break;
                case BPF_STX | BPF_MEM | BPF_DW: Unsafe.WriteUnaligned((byte*)(d + (ulong)(long)insn.Offset), r[insn.Src]); break;
                case BPF_STX | BPF_ATOMIC | BPF_W:
                case BPF_STX | BPF_ATOMIC | BPF_DW: Atomic(insn, (byte*)(d + (ulong)(long)insn.Offset), r, at); break;

                // lddw: the 64-bit value (a constant, a map's handle or a map value's address) resolved when bound.
                case BPF_LD | BPF_IMM | BPF_DW:
                    d = wide[at];
                    pc++;
                    break;
                default:
                    throw Bad(insn, at);
            }
        }
    }

    /// <summary>The atomic instructions, through the same <see cref="EbpfAtomics"/> operations the JIT calls.</summary>
    private static void Atomic(EbpfInstruction insn, byte* p, ulong* r, int at)
    {
        if (Size(insn.Opcode) == BPF_DW)
        {
            long* cell = (long*)p;
            long v = (long)r[insn.Src];
            long old = (insn.Imm & ~BPF_FETCH) switch
            {
                BPF_ADD => EbpfAtomics.Add64(cell, v),
                BPF_OR => EbpfAtomics.Or64(cell, v),
                BPF_AND => EbpfAtomics.And64(cell, v),
                BPF_XOR => EbpfAtomics.Xor64(cell, v),
                BPF_XCHG & ~BPF_FETCH => EbpfAtomics.Xchg64(cell, v),
                BPF_CMPXCHG & ~BPF_FETCH => EbpfAtomics.CmpXchg64(cell, v, (long)r[0]),
                _ => throw Bad(insn, at),
            };
            if (insn.Imm == BPF_CMPXCHG) r[0] = (ulong)old;
            else if ((insn.Imm & BPF_FETCH) != 0) r[insn.Src] = (ulong)old;
        }
        else
        {
            int* cell = (int*)p;
            int v = (int)r[insn.Src];
            int old = (insn.Imm & ~BPF_FETCH) switch
            {
                BPF_ADD => EbpfAtomics.Add32(cell, v),
                BPF_OR => EbpfAtomics.Or32(cell, v),
                BPF_AND => EbpfAtomics.And32(cell, v),
                BPF_XOR => EbpfAtomics.Xor32(cell, v),
                BPF_XCHG & ~BPF_FETCH => EbpfAtomics.Xchg32(cell, v),
                BPF_CMPXCHG & ~BPF_FETCH => EbpfAtomics.CmpXchg32(cell, v, (int)r[0]),
                _ => throw Bad(insn, at),
            };
            if (insn.Imm == BPF_CMPXCHG) r[0] = (uint)old;
            else if ((insn.Imm & BPF_FETCH) != 0) r[insn.Src] = (uint)old;
        }
    }

    private static EbpfRuntimeException Bad(EbpfInstruction insn, int pc) =>
        new(string.Create(CultureInfo.InvariantCulture, $"unsupported instruction {EbpfDisassembler.Format(insn)} at pc {pc}"));
}
