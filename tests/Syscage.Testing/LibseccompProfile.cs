using Syscage.Policy;
using Syscage.Policy.Oci;
using Syscage.Abi;

namespace Syscage.Testing;

/// <summary>What libseccomp made of a profile: its BPF, or the error runc would have reported.</summary>
/// <param name="Bpf">
/// The program runc installs (raw <c>sock_filter</c> bytes): libseccomp's export with runc's ENOSYS stub in front
/// when one was asked for (<see cref="RuncEnosysStub"/>); null when a rule was refused.
/// </param>
/// <param name="Error">libseccomp's refusal (<c>seccomp_rule_add: -17</c>), null on success.</param>
/// <param name="RulesAdded">How many <c>seccomp_rule_add</c> calls were made.</param>
public sealed record LibseccompBuild(byte[]? Bpf, string? Error, int RulesAdded)
{
    /// <summary>libseccomp's export alone, without runc's stub (what libseccomp's own behaviour is judged on).</summary>
    public byte[]? LibseccompBpf { get; init; }

    /// <summary>runc's ENOSYS stub put in front of <see cref="LibseccompBpf"/>, null when none.</summary>
    public byte[]? Stub { get; init; }
}

/// <summary>
/// Builds a loaded OCI profile in libseccomp 2.5 the way runc's <c>InitSeccomp</c>/<c>matchCall</c> do, and exports
/// the BPF: the oracle the differential tests compare Syscage's IR (and its compiler) against.
/// </summary>
/// <remarks>
/// Follows runc: <c>seccomp_init(default)</c> (which covers the native architecture), <c>seccomp_arch_add</c> for
/// the others, no_new_privs off, <c>SCMP_FLTATR_CTL_OPTIMIZE</c> as asked (runc uses 2 above 32 syscalls); per entry
/// and name: skip when the action is the default action, resolve the name on the native architecture (skip
/// <c>__NR_SCMP_ERROR</c>), then <c>seccomp_rule_add_array</c> with all comparisons — or one rule per comparison when
/// two name the same argument. Includes/excludes were already applied by <see cref="OciProfileLoader"/>.
/// With <c>runcStub</c>, runc's ENOSYS stub goes in front (<see cref="RuncEnosysStub"/>), as runc's <c>PatchAndLoad</c>
/// installs the program.
/// </remarks>
public static class LibseccompProfile
{
    /// <summary>libseccomp's token for an architecture (<c>SCMP_ARCH_*</c>): the audit value, except x32.</summary>
    public static uint Token(Architecture arch)
    {
        ArgumentNullException.ThrowIfNull(arch);
        return arch == Architecture.X32 ? Libseccomp.SCMP_ARCH_X32 : arch.AuditArch;
    }

    /// <summary>Builds <paramref name="profile"/> in libseccomp and exports its BPF.</summary>
    /// <param name="profile">A profile loaded for the native architecture of this process.</param>
    /// <param name="optimize"><c>SCMP_FLTATR_CTL_OPTIMIZE</c>: 1 (priority order) or 2 (binary tree).</param>
    /// <param name="architectures">
    /// libseccomp's tokens (<see cref="Libseccomp.ArchToken"/>) for the architectures to cover instead of the profile's
    /// own, so that architectures Syscage has no table for can be covered too: the profile's <c>architectures</c> as
    /// runc on their first one would cover them. When they leave out this process's architecture it is removed, as
    /// on a host of another architecture (libseccomp refuses to mix byte orders in one filter).
    /// </param>
    /// <param name="runcStub">Put runc's ENOSYS stub in front of the program (runc's meaning); false for libseccomp's alone.</param>
    public static LibseccompBuild Build(OciProfile profile, uint optimize = 1, IReadOnlyList<uint>? architectures = null, bool runcStub = true)
    {
        ArgumentNullException.ThrowIfNull(profile);
        if (architectures is null && (profile.Architectures.Count == 0 || profile.Architectures[0] != Architecture.Native))
            throw new ArgumentException("libseccomp builds for the native architecture of this process; load the profile for it", nameof(profile));
        uint defaultAction = profile.Policy.DefaultAction.Value;
        Libseccomp filter;
        try
        {
            filter = new Libseccomp(defaultAction);
        }
        catch (InvalidOperationException)
        {
            // seccomp_init refuses what db_col_action_valid refuses, e.g. ERRNO data of MAX_ERRNO (4095) or more.
            return new LibseccompBuild(null, $"seccomp_init({profile.Policy.DefaultAction}) failed", 0);
        }
        using var owned = filter;
        if (architectures is null)
        {
            foreach (var arch in profile.Architectures.Skip(1))
                filter.AddArch(Token(arch));
        }
        else
        {
            if (!architectures.Contains(Token(Architecture.Native)))
                filter.RemoveArch(Libseccomp.SCMP_ARCH_NATIVE);
            foreach (uint token in architectures)
                filter.AddArch(token);
        }
        filter.SetAttr(Libseccomp.SCMP_FLTATR_CTL_OPTIMIZE, optimize);
        int added = 0;
        foreach (var entry in profile.Entries)
        {
            if (entry.Action.Value == defaultAction)
                continue;
            var args = entry.Args.Select(a => new Libseccomp.ArgCmp
            {
                Arg = (uint)a.Index,
                Op = a.Op switch
                {
                    ComparisonOp.Ne => Libseccomp.SCMP_CMP_NE,
                    ComparisonOp.Lt => Libseccomp.SCMP_CMP_LT,
                    ComparisonOp.Le => Libseccomp.SCMP_CMP_LE,
                    ComparisonOp.Eq => Libseccomp.SCMP_CMP_EQ,
                    ComparisonOp.Ge => Libseccomp.SCMP_CMP_GE,
                    ComparisonOp.Gt => Libseccomp.SCMP_CMP_GT,
                    _ => Libseccomp.SCMP_CMP_MASKED_EQ,
                },
                // As in the profile: for MASKED_EQ, value is the mask (datum_a) and valueTwo the datum (datum_b).
                DatumA = a.Value,
                DatumB = a.ValueTwo,
            }).ToArray();
            Libseccomp.ArgCmp[][] rules = entry.ArgsAreOred ? args.Select(a => new[] { a }).ToArray() : [args];
            foreach (string name in entry.Names)
            {
                int nr = Libseccomp.ResolveNative(name);
                if (nr == Libseccomp.NR_SCMP_ERROR)
                    continue;
                foreach (var rule in rules)
                {
                    int rc = filter.AddRule(entry.Action.Value, nr, rule);
                    added++;
                    if (rc < 0)
                        return new LibseccompBuild(null, $"seccomp_rule_add({name}, {entry.Action}): {rc}", added);
                }
            }
        }
        byte[] exported = filter.ExportBpf();
        var tokens = architectures ?? profile.Architectures.Select(Token).ToList();
        byte[]? stub = runcStub ? RuncEnosysStub.Build(profile, tokens) : null;
        return new LibseccompBuild(RuncEnosysStub.Prepend(stub, exported), null, added) { LibseccompBpf = exported, Stub = stub };
    }
}
