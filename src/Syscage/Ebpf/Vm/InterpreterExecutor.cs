using System.Globalization;
using System.Runtime.CompilerServices;
using Syscage.Ebpf.Helpers;
using Syscage.Ebpf.Isa;
using static Syscage.Ebpf.Isa.EbpfOpcode;

namespace Syscage.Ebpf.Vm;

/// <summary>
/// Interprets a verified program: a loop over the slots with one switch per instruction class. Registers live in a
/// stack-allocated array; memory operands are real addresses (see <see cref="EbpfVm"/> for the memory model).
/// </summary>
internal sealed unsafe class InterpreterExecutor(BoundProgram bound) : ExecutorBase(bound)
{
    /// <summary>Saved per call: r6..r9, r10 and the return pc.</summary>
    private const int SaveWords = 6;

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
        ulong* r = stackalloc ulong[MAX_BPF_REG];
        ulong* saves = stackalloc ulong[EbpfVm.MaxCallFrames * SaveWords];
        new Span<ulong>(r, MAX_BPF_REG).Clear();
        r[1] = (ulong)context;
        r[2] = length;
        r[10] = (ulong)stackTop;
        int depth = 0;
        int pc = 0;
        while (true)
        {
            counter.Step();
            var insn = code[pc];
            int at = pc++;
            byte op = insn.Opcode;
            switch (Class(op))
            {
                case BPF_ALU64:
                {
                    ulong s = Src(op) == BPF_X ? r[insn.Src] : (ulong)(long)insn.Imm;
                    ref ulong d = ref r[insn.Dst];
                    switch (Op(op))
                    {
                        case BPF_ADD: d += s; break;
                        case BPF_SUB: d -= s; break;
                        case BPF_MUL: d *= s; break;
                        case BPF_DIV: d = insn.Offset == 1 ? EbpfSemantics.SDiv64(d, s) : EbpfSemantics.Div64(d, s); break;
                        case BPF_MOD: d = insn.Offset == 1 ? EbpfSemantics.SMod64(d, s) : EbpfSemantics.Mod64(d, s); break;
                        case BPF_OR: d |= s; break;
                        case BPF_AND: d &= s; break;
                        case BPF_XOR: d ^= s; break;
                        case BPF_LSH: d <<= (int)(s & 63); break;
                        case BPF_RSH: d >>= (int)(s & 63); break;
                        case BPF_ARSH: d = (ulong)((long)d >> (int)(s & 63)); break;
                        case BPF_NEG: d = 0 - d; break;
                        case BPF_MOV: d = insn.Offset == 0 ? s : EbpfSemantics.SignExtend(s, insn.Offset); break;
                        case BPF_END: d = EbpfSemantics.Endian(d, insn.Imm, toBigEndian: true); break;
                        default: throw Bad(insn, at);
                    }
                    break;
                }
                case BPF_ALU:
                {
                    ulong s = Src(op) == BPF_X ? r[insn.Src] : (ulong)(long)insn.Imm;
                    ref ulong d = ref r[insn.Dst];
                    uint a = (uint)d, b = (uint)s;
                    switch (Op(op))
                    {
                        case BPF_ADD: d = a + b; break;
                        case BPF_SUB: d = a - b; break;
                        case BPF_MUL: d = a * b; break;
                        case BPF_DIV: d = insn.Offset == 1 ? EbpfSemantics.SDiv32(a, b) : EbpfSemantics.Div32(a, b); break;
                        case BPF_MOD: d = insn.Offset == 1 ? EbpfSemantics.SMod32(a, b) : EbpfSemantics.Mod32(a, b); break;
                        case BPF_OR: d = a | b; break;
                        case BPF_AND: d = a & b; break;
                        case BPF_XOR: d = a ^ b; break;
                        case BPF_LSH: d = a << (int)(b & 31); break;
                        case BPF_RSH: d = a >> (int)(b & 31); break;
                        case BPF_ARSH: d = (uint)((int)a >> (int)(b & 31)); break;
                        case BPF_NEG: d = 0u - a; break;
                        case BPF_MOV: d = insn.Offset == 0 ? b : (uint)EbpfSemantics.SignExtend(b, insn.Offset); break;
                        case BPF_END: d = EbpfSemantics.Endian(d, insn.Imm, toBigEndian: Src(op) == BPF_TO_BE); break;
                        default: throw Bad(insn, at);
                    }
                    break;
                }
                case BPF_JMP:
                case BPF_JMP32:
                {
                    byte jop = Op(op);
                    if (jop == BPF_JA)
                    {
                        pc += Class(op) == BPF_JMP ? insn.Offset : insn.Imm;
                        break;
                    }
                    if (jop == BPF_EXIT)
                    {
                        if (depth == 0)
                            return r[0];
                        depth--;
                        ulong* save = saves + depth * SaveWords;
                        r[6] = save[0]; r[7] = save[1]; r[8] = save[2]; r[9] = save[3]; r[10] = save[4];
                        pc = (int)save[5];
                        break;
                    }
                    if (jop == BPF_CALL)
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
                        else if (Src(op) == BPF_K && insn.Src == 0)
                        {
                            r[0] = HelperImplementations.Invoke(insn.Imm, r[1], r[2], r[3], r[4], r[5], Bound.Maps, helpers);
                        }
                        else
                        {
                            throw Bad(insn, at);
                        }
                        break;
                    }
                    ulong left = r[insn.Dst];
                    ulong right = Src(op) == BPF_X ? r[insn.Src] : (ulong)(long)insn.Imm;
                    bool taken = Class(op) == BPF_JMP ? EbpfSemantics.Condition64(jop, left, right) : EbpfSemantics.Condition32(jop, left, right);
                    if (taken)
                        pc += insn.Offset;
                    break;
                }
                case BPF_LDX:
                {
                    byte* p = (byte*)(r[insn.Src] + (ulong)(long)insn.Offset);
                    ulong v;
                    if (Mode(op) == BPF_MEMSX)
                    {
                        v = Size(op) switch
                        {
                            BPF_B => (ulong)(long)*(sbyte*)p,
                            BPF_H => (ulong)(long)Unsafe.ReadUnaligned<short>(p),
                            BPF_W => (ulong)(long)Unsafe.ReadUnaligned<int>(p),
                            _ => throw Bad(insn, at),
                        };
                    }
                    else
                    {
                        v = Size(op) switch
                        {
                            BPF_B => *p,
                            BPF_H => Unsafe.ReadUnaligned<ushort>(p),
                            BPF_W => Unsafe.ReadUnaligned<uint>(p),
                            _ => Unsafe.ReadUnaligned<ulong>(p),
                        };
                    }
                    r[insn.Dst] = v;
                    break;
                }
                case BPF_ST:
                case BPF_STX:
                {
                    byte* p = (byte*)(r[insn.Dst] + (ulong)(long)insn.Offset);
                    if (Mode(op) == BPF_ATOMIC)
                    {
                        Atomic(insn, p, r, at);
                        break;
                    }
                    ulong v = Class(op) == BPF_STX ? r[insn.Src] : (ulong)(long)insn.Imm;
                    switch (Size(op))
                    {
                        case BPF_B: *p = (byte)v; break;
                        case BPF_H: Unsafe.WriteUnaligned(p, (ushort)v); break;
                        case BPF_W: Unsafe.WriteUnaligned(p, (uint)v); break;
                        default: Unsafe.WriteUnaligned(p, v); break;
                    }
                    break;
                }
                case BPF_LD:
                    if (!IsWide(op))
                        throw Bad(insn, at);
                    r[insn.Dst] = wide[at];
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
