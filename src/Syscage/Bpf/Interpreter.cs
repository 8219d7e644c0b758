using static Syscage.Bpf.Opcode;
using Syscage.Abi;

namespace Syscage.Bpf;

/// <summary>The outcome of running a filter on one <see cref="SeccompData"/>.</summary>
/// <param name="ReturnValue">The filter's 32-bit return value.</param>
/// <param name="InstructionsExecuted">How many instructions ran, the final RET included.</param>
public readonly record struct ExecutionResult(uint ReturnValue, int InstructionsExecuted)
{
    /// <summary>The return value as a seccomp action.</summary>
    public SeccompAction Action => new(ReturnValue);
}

/// <summary>One executed step, reported to a trace callback before the instruction runs.</summary>
/// <param name="Pc">Index of the instruction.</param>
/// <param name="Instruction">The instruction.</param>
/// <param name="A">The accumulator before it runs.</param>
/// <param name="X">The index register before it runs.</param>
public readonly record struct TraceStep(int Pc, Instruction Instruction, uint A, uint X);

/// <summary>
/// Runs validated classic programs with the kernel's seccomp semantics: 32-bit A and X, 16 scratch words,
/// <c>BPF_LD|BPF_W|BPF_ABS</c> reads <c>seccomp_data</c> in native order, <c>BPF_LD|BPF_W|BPF_LEN</c> is 64
/// (<c>seccomp_check_filter</c> rewrites it so), division by an X of zero ends the program with return
/// value 0 (as <c>bpf_convert_filter</c> emits), shifts by X use the low 5 bits of X (the eBPF
/// interpreter's <c>(u32)SRC &amp; 31</c>, and x86's shift), unsigned jumps.
/// </summary>
public static class Interpreter
{
    /// <summary>Runs <paramref name="program"/> on <paramref name="data"/>.</summary>
    public static ExecutionResult Run(BpfProgram program, in SeccompData data) => Run(program, data, null);

    /// <summary>Runs <paramref name="program"/> on <paramref name="data"/>, calling <paramref name="trace"/> before each instruction.</summary>
    public static ExecutionResult Run(BpfProgram program, in SeccompData data, Action<TraceStep>? trace)
    {
        ArgumentNullException.ThrowIfNull(program);
        var insns = program.Instructions.AsSpan();
        Span<uint> mem = stackalloc uint[BPF_MEMWORDS];
        uint a = 0, x = 0;
        int executed = 0;
        // Validated programs only jump forward and end in RET, so this loop terminates within Length steps.
        for (int pc = 0; ; pc++)
        {
            var ins = insns[pc];
            trace?.Invoke(new TraceStep(pc, ins, a, x));
            executed++;
            uint k = ins.K;
            switch (ins.Code)
            {
                case BPF_LD | BPF_W | BPF_ABS: a = data.ReadWord(k); break;      // A = seccomp_data[k]
                case BPF_LD | BPF_W | BPF_LEN: a = SeccompData.Size; break;       // A = sizeof(seccomp_data)
                case BPF_LDX | BPF_W | BPF_LEN: x = SeccompData.Size; break;
                case BPF_LD | BPF_IMM: a = k; break;
                case BPF_LDX | BPF_IMM: x = k; break;
                case BPF_LD | BPF_MEM: a = mem[(int)k]; break;
                case BPF_LDX | BPF_MEM: x = mem[(int)k]; break;
                case BPF_ST: mem[(int)k] = a; break;
                case BPF_STX: mem[(int)k] = x; break;
                case BPF_MISC | BPF_TAX: x = a; break;
                case BPF_MISC | BPF_TXA: a = x; break;
                case BPF_ALU | BPF_ADD | BPF_K: a += k; break;
                case BPF_ALU | BPF_ADD | BPF_X: a += x; break;
                case BPF_ALU | BPF_SUB | BPF_K: a -= k; break;
                case BPF_ALU | BPF_SUB | BPF_X: a -= x; break;
                case BPF_ALU | BPF_MUL | BPF_K: a *= k; break;
                case BPF_ALU | BPF_MUL | BPF_X: a *= x; break;
                case BPF_ALU | BPF_DIV | BPF_K: a /= k; break;                    // k != 0: validated
                case BPF_ALU | BPF_DIV | BPF_X:
                    if (x == 0)
                        return new ExecutionResult(0, executed);
                    a /= x;
                    break;
                case BPF_ALU | BPF_AND | BPF_K: a &= k; break;
                case BPF_ALU | BPF_AND | BPF_X: a &= x; break;
                case BPF_ALU | BPF_OR | BPF_K: a |= k; break;
                case BPF_ALU | BPF_OR | BPF_X: a |= x; break;
                case BPF_ALU | BPF_XOR | BPF_K: a ^= k; break;
                case BPF_ALU | BPF_XOR | BPF_X: a ^= x; break;
                case BPF_ALU | BPF_LSH | BPF_K: a <<= (int)k; break;             // k < 32: validated
                case BPF_ALU | BPF_LSH | BPF_X: a <<= (int)(x & 31); break;
                case BPF_ALU | BPF_RSH | BPF_K: a >>= (int)k; break;
                case BPF_ALU | BPF_RSH | BPF_X: a >>= (int)(x & 31); break;
                case BPF_ALU | BPF_NEG: a = unchecked(0u - a); break;
                case BPF_JMP | BPF_JA: pc += (int)k; break;
                case BPF_JMP | BPF_JEQ | BPF_K: pc += a == k ? ins.Jt : ins.Jf; break;
                case BPF_JMP | BPF_JEQ | BPF_X: pc += a == x ? ins.Jt : ins.Jf; break;
                case BPF_JMP | BPF_JGT | BPF_K: pc += a > k ? ins.Jt : ins.Jf; break;
                case BPF_JMP | BPF_JGT | BPF_X: pc += a > x ? ins.Jt : ins.Jf; break;
                case BPF_JMP | BPF_JGE | BPF_K: pc += a >= k ? ins.Jt : ins.Jf; break;
                case BPF_JMP | BPF_JGE | BPF_X: pc += a >= x ? ins.Jt : ins.Jf; break;
                case BPF_JMP | BPF_JSET | BPF_K: pc += (a & k) != 0 ? ins.Jt : ins.Jf; break;
                case BPF_JMP | BPF_JSET | BPF_X: pc += (a & x) != 0 ? ins.Jt : ins.Jf; break;
                case BPF_RET | BPF_K: return new ExecutionResult(k, executed);
                case BPF_RET | BPF_A: return new ExecutionResult(a, executed);
                default:
                    // Unreachable for a BpfProgram: the validator admits only the opcodes above.
                    throw new InvalidOperationException($"opcode not runnable at pc {pc}: {ins}");
            }
        }
    }
}
