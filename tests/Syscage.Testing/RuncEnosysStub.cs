using Syscage.Abi;
using Syscage.Bpf;
using Syscage.Policy.Oci;
using static Syscage.Bpf.Opcode;

namespace Syscage.Testing;

/// <summary>
/// runc's ENOSYS stub, made the way runc makes it (<c>libcontainer/seccomp/patchbpf/enosys_linux.go</c>), for the oracle
/// that runs libseccomp's program as runc installs it: the stub in front of it. Independent of Syscage's own model
/// (<see cref="OciProfileLoader"/>'s <c>NewerSyscalls</c>): the largest numbers come from libseccomp's resolver, the
/// program is laid out here.
/// </summary>
/// <remarks>
/// What runc does, and so what this does:
/// <list type="bullet">
/// <item>No stub when the default action is ALLOW, LOG or TRACE (<c>isAllowAction</c>).</item>
/// <item>Per architecture the filter covers (libseccomp token), the largest number
/// <c>seccomp_syscall_resolve_name_arch</c> gives a name of any entry (<c>findLastSyscalls</c>: every entry, whatever
/// its action; unknown names and the negative pseudo numbers of names the architecture lacks never win); an
/// architecture where that is 0 gets nothing.</item>
/// <item>Per <c>AUDIT_ARCH_*</c> value: load the number; under <c>AUDIT_ARCH_X86_64</c> the x32 bit alone (no exception
/// for -1) picks x32's largest number or x86_64's, and a mode whose architecture has none goes to the filter; a number
/// above the largest (unsigned <c>jgt</c>) returns <c>ERRNO(ENOSYS)</c>; anything else, and any other architecture,
/// goes on to the filter (<c>generateEnosysStub</c>).</item>
/// </list>
/// </remarks>
public static class RuncEnosysStub
{
    /// <summary>The stub runc puts in front of the filter for <paramref name="profile"/> covering <paramref name="tokens"/>, as raw <c>sock_filter</c>s; null when runc adds none.</summary>
    public static byte[]? Build(OciProfile profile, IReadOnlyList<uint> tokens)
    {
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentNullException.ThrowIfNull(tokens);
        if (profile.Policy.DefaultAction.Kind is SeccompActionKind.Allow or SeccompActionKind.Log or SeccompActionKind.Trace)
            return null;
        var names = profile.Entries.SelectMany(e => e.Names).Distinct(StringComparer.Ordinal).ToList();
        // Per audit value: the largest number of the plain mode and of x32 (null when none).
        var largest = new Dictionary<uint, (uint? Plain, uint? X32)>();
        foreach (uint token in tokens.Distinct())
        {
            int max = 0;
            foreach (string name in names)
                max = Math.Max(max, Libseccomp.Resolve(token, name));
            if (max == 0)
                continue;
            bool x32 = token == Libseccomp.SCMP_ARCH_X32;
            uint audit = x32 ? AuditArch.AUDIT_ARCH_X86_64 : token;
            var (plain, x) = largest.GetValueOrDefault(audit);
            largest[audit] = x32 ? (plain, (uint)max) : ((uint)max, x);
        }
        if (largest.Count == 0)
            return null;

        var code = new List<(ushort Code, string? True, string? False, uint K)>();
        var labels = new Dictionary<string, int>(StringComparer.Ordinal);
        void Emit(ushort op, uint k, string? jt = null, string? jf = null) => code.Add((op, jt, jf, k));
        void Label(string name) => labels[name] = code.Count;

        Emit(BPF_LD | BPF_W | BPF_ABS, SeccompData.ArchOffset);
        foreach (uint audit in largest.Keys)
            Emit(BPF_JMP | BPF_JEQ | BPF_K, audit, "arch" + audit);
        Emit(BPF_JMP | BPF_JA, 0, "filter");
        foreach (var (audit, (plain, x32)) in largest)
        {
            Label("arch" + audit);
            Emit(BPF_LD | BPF_W | BPF_ABS, SeccompData.NrOffset);
            if (audit == AuditArch.AUDIT_ARCH_X86_64)
                Emit(BPF_JMP | BPF_JSET | BPF_K, Architecture.X32.SyscallNumberBit, x32 is null ? "filter" : "x32" + audit, plain is null ? "filter" : null);
            if (plain is uint p)
            {
                Emit(BPF_JMP | BPF_JGT | BPF_K, p, "enosys");
                Emit(BPF_JMP | BPF_JA, 0, "filter");
            }
            if (x32 is uint x)
            {
                Label("x32" + audit);
                Emit(BPF_JMP | BPF_JGT | BPF_K, x, "enosys");
                Emit(BPF_JMP | BPF_JA, 0, "filter");
            }
        }
        Label("enosys");
        Emit(BPF_RET | BPF_K, SeccompAction.Errno(Errno.ENOSYS).Value);
        Label("filter");

        var bytes = new byte[code.Count * 8];
        for (int pc = 0; pc < code.Count; pc++)
        {
            var (op, jt, jf, k) = code[pc];
            int Offset(string? label) => label is null ? 0 : labels[label] - pc - 1;
            bool ja = op == (BPF_JMP | BPF_JA);
            var insn = new Instruction(op, ja ? (byte)0 : checked((byte)Offset(jt)), ja ? (byte)0 : checked((byte)Offset(jf)), ja ? (uint)Offset(jt) : k);
            insn.Write(bytes.AsSpan(pc * 8));
        }
        return bytes;
    }

    /// <summary>The stub in front of <paramref name="program"/> (its last jumps land on the program's first instruction).</summary>
    public static byte[] Prepend(byte[]? stub, byte[] program) => stub is null ? program : [.. stub, .. program];
}
