using Syscage.Bpf;
using static Syscage.Bpf.Opcode;
using Syscage.Abi;

namespace Syscage.Policy.Compiler;

/// <summary>
/// The kernel's action cache check (<c>seccomp_is_const_allow</c>, kernel/seccomp.c): for a fixed architecture
/// and syscall number, it emulates the filter and caches ALLOW only if the path reaches <c>RET ALLOW</c> using
/// nothing but loads of <c>nr</c>/<c>arch</c>, <c>JA</c>, <c>JEQ/JGE/JGT/JSET</c> with K and <c>AND</c> with K.
/// A cached syscall skips the filter entirely on later calls.
/// </summary>
internal static class ActionCache
{
    /// <summary>Whether the kernel would cache <paramref name="nr"/> on <paramref name="auditArch"/> as always allowed.</summary>
    public static bool IsConstAllow(BpfProgram program, uint auditArch, int nr)
    {
        ArgumentNullException.ThrowIfNull(program);
        var insns = program.Instructions.AsSpan();
        uint a = 0;
        for (int pc = 0; pc < insns.Length; pc++)
        {
            var ins = insns[pc];
            uint k = ins.K;
            switch (ins.Code)
            {
                case BPF_LD | BPF_W | BPF_ABS:
                    if (k == SeccompData.NrOffset)
                        a = unchecked((uint)nr);
                    else if (k == SeccompData.ArchOffset)
                        a = auditArch;
                    else
                        return false;
                    break;
                case BPF_RET | BPF_K:
                    return k == SeccompAction.SECCOMP_RET_ALLOW;
                case BPF_JMP | BPF_JA:
                    pc += (int)k;
                    break;
                case BPF_JMP | BPF_JEQ | BPF_K:
                    pc += a == k ? ins.Jt : ins.Jf;
                    break;
                case BPF_JMP | BPF_JGE | BPF_K:
                    pc += a >= k ? ins.Jt : ins.Jf;
                    break;
                case BPF_JMP | BPF_JGT | BPF_K:
                    pc += a > k ? ins.Jt : ins.Jf;
                    break;
                case BPF_JMP | BPF_JSET | BPF_K:
                    pc += (a & k) != 0 ? ins.Jt : ins.Jf;
                    break;
                case BPF_ALU | BPF_AND | BPF_K:
                    a &= k;
                    break;
                default:
                    return false;
            }
        }
        return false;
    }
}
