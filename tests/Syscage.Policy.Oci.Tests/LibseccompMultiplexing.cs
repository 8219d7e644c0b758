using Syscage.Policy;
using Syscage.Policy.Oci;
using Syscage.Abi;

namespace Syscage.Policy.Oci.Tests;

/// <summary>
/// A model of libseccomp 2.5.4's rules on <c>socketcall(2)</c> and <c>ipc(2)</c> (<c>x86_rule_add</c> and its copies for
/// ppc, s390 and mips; <c>abi_rule_add</c> in 2.6): for an entry naming a call the multiplexer makes, the rule on the
/// multiplexer compares <c>arg0 == call</c> on the whole register in place of the entry's comparison on argument 0 and
/// keeps its comparisons on arguments 1 to 5, made on the multiplexer's registers. Syscage compares <c>call</c> where
/// the kernel reads it and, as the call's arguments are out of the filter's reach there, takes the most restrictive
/// action the call could get (docs/libseccomp-differences.md, "socketcall and ipc"). A mismatch on a multiplexer is this
/// class when the model gives libseccomp's answer.
/// </summary>
internal static class LibseccompMultiplexing
{
    /// <summary>The class name.</summary>
    public const string Multiplexed = "socketcall/ipc: libseccomp replaces a call's argument-0 comparison with arg0 == call (whole register) and makes the others on the multiplexer's registers; Syscage checks no argument of the call there and takes the most restrictive action it could get";

    /// <summary>The class name when only a matching rule other than the first gives libseccomp's answer (its tree order).</summary>
    public const string MultiplexedOverlap = Multiplexed + " + overlapping conditional rules on the multiplexer with different actions: libseccomp's tree order decides";

    /// <summary>The name of the class that explains libseccomp's answer on a multiplexer, or null.</summary>
    public static string? Explain(OciProfile profile, SeccompData data, uint libseccomp)
    {
        var section = profile.Policy.SectionFor(data);
        if (section is null)
            return null;
        var arch = section.Architecture;
        Multiplexer? multiplexer = data.Nr == arch.SocketcallNumber ? Multiplexer.Socketcall : data.Nr == arch.IpcNumber ? Multiplexer.Ipc : null;
        if (multiplexer is not { } m)
            return null;
        var rules = Rules(profile, arch, m);
        Span<ulong> args = stackalloc ulong[6];
        for (int i = 0; i < 6; i++)
            args[i] = data.Arg(i);
        uint first = profile.Policy.DefaultAction.Value;
        foreach (var r in rules)
        {
            if (r.Condition.Evaluate(args, arch.Is64Bit))
            {
                first = r.Action.Value;
                break;
            }
        }
        if (first == libseccomp)
            return Multiplexed;
        foreach (var r in rules)
            if (r.Condition.Evaluate(args, arch.Is64Bit) && r.Action.Value == libseccomp)
                return MultiplexedOverlap;
        return null;
    }

    /// <summary>libseccomp's rules on the multiplexer, in the order of the entries; its own unconditional rule alone when there is one.</summary>
    private static List<Rule> Rules(OciProfile profile, Architecture arch, Multiplexer m)
    {
        var rules = new List<Rule>();
        string name = MultiplexedCall.NameOf(m);
        foreach (var e in profile.Entries)
        {
            if (e.Action == profile.Policy.DefaultAction)
                continue;
            var predicates = e.Args.Select(a => a.ToPredicate()).ToList();   // whole registers, as libseccomp compares
            IEnumerable<List<ArgPredicate>> groups = e.ArgsAreOred ? predicates.Select(p => new List<ArgPredicate> { p }) : [predicates];
            foreach (string n in e.Names)
            {
                if (n == name)
                {
                    foreach (var g in groups)
                        rules.Add(new Rule(Condition.All(g.Select(Condition.Of)), e.Action));
                }
                else if (arch.TryGetMultiplexed(n, out var call) && call.Multiplexer == m)
                {
                    var selects = new ArgPredicate(0, ComparisonOp.Eq, (ulong)call.Code);
                    foreach (var g in groups)
                        rules.Add(new Rule(Condition.All(g.Where(p => p.Arg != 0).Prepend(selects).Select(Condition.Of)), e.Action));
                }
            }
        }
        var unconditional = rules.FirstOrDefault(r => r.Condition.IsTrue);
        return unconditional is null ? rules : [unconditional];
    }
}
