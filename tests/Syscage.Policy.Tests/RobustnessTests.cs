using Syscage.Bpf;
using Syscage.Policy.Language;
using Syscage.Abi;
using Syscage.Policy.Builtin;

namespace Syscage.Policy.Tests;

/// <summary>Damaged policies fail with a positioned error, never with another exception.</summary>
public class RobustnessTests
{
    private static readonly string[] Seeds =
    [
        BuiltinPolicies.Source("default")!,
        """
        default ERRNO(EPERM)
        group @g = read, @basic-io
        ALLOW openat if (flags & O_ACCMODE) != O_RDONLY && !(dirfd == AT_FDCWD || arg0 < 3)
        allow { read, write
          close if fd > (1 << 3 | 0x4) + ~0 }
        arch x86 { TRAP(3) socketcall; NOTIFY(log) mkdir }
        """,
    ];

    private static readonly string Alphabet = "()&|!~=<>{},;@\"#\n -_0x1aAzZ\tERRNO";

    [Fact]
    public void MutatedPoliciesFailCleanly()
    {
        var random = new Random(20261122);
        for (int round = 0; round < 1000; round++)
        {
            var text = new System.Text.StringBuilder(Seeds[round % Seeds.Length]);
            int edits = 1 + random.Next(4);
            for (int e = 0; e < edits && text.Length > 0; e++)
            {
                int at = random.Next(text.Length);
                switch (random.Next(3))
                {
                    case 0: text.Remove(at, Math.Min(1 + random.Next(3), text.Length - at)); break;
                    case 1: text.Insert(at, Alphabet[random.Next(Alphabet.Length)]); break;
                    default: text[at] = Alphabet[random.Next(Alphabet.Length)]; break;
                }
            }
            string policy = text.ToString();
            try
            {
                if (!PolicyLanguage.TryParse(policy, out _, out var error, "m.policy"))
                {
                    int lines = policy.Split('\n').Length;
                    Assert.True(error.Line >= 1 && error.Line <= lines + 1 && error.Column >= 1, $"bad position {error} for:\n{policy}");
                    Assert.False(string.IsNullOrWhiteSpace(error.Message));
                }
            }
            catch (Exception x)
            {
                Assert.Fail($"round {round}: {x.GetType().Name}: {x.Message}\n{policy}");
            }
        }
    }

    [Theory]
    [InlineData("", "(", "arg0 == 1", ")", 15)]    // parentheses around a condition
    [InlineData("arg0 == ", "(", "1", ")", 23)]     // parentheses in a constant
    [InlineData("", "!", "arg0", "", 15)]           // negations
    [InlineData("arg0 == ", "~", "1", "", 23)]      // unary operators in a constant
    [InlineData("arg0 == ", "-", "1", "", 23)]
    public void SixteenThousandNestingLevelsAreAPositionedErrorNotAStackOverflow(string prefix, string open, string inner, string close, int firstColumn)
    {
        const int levels = 16_000;
        string policy = "default ALLOW\nALLOW read if " + prefix + Repeat(open, levels) + inner + Repeat(close, levels) + "\n";
        var error = PolicyAssert.Error(policy, "deep.policy");
        // The error points at the first opening token past the limit.
        Assert.Equal($"deep.policy:2:{firstColumn + InputLimits.MaxNesting}: nested too deeply: more than {InputLimits.MaxNesting} levels of parentheses and unary operators",
            error.ToString());
    }

    [Fact]
    public void NestingUpToTheLimitIsRead()
    {
        int levels = InputLimits.MaxNesting - 1;
        string condition = Repeat("(", levels) + "!arg0" + Repeat(")", levels);
        var policy = PolicyAssert.Parse("default ALLOW\nERRNO(EPERM) read if " + condition + "\n");
        Assert.Equal(SeccompAction.Errno(1), PolicyAssert.Eval(policy, "read", 0));
        Assert.Equal(SeccompAction.Allow, PolicyAssert.Eval(policy, "read", 1));
        PolicyAssert.Error("default ALLOW\nALLOW read if (" + condition + ")\n");
    }

    [Fact]
    public void GroupsOfGroupsHoldEachSyscallOnce()
    {
        // Each group twice the one before: forty such lines used to ask for 2^40 list entries (24 GB before the kernel
        // said no). Twenty levels keep a regression affordable: a million entries instead of three.
        var text = new System.Text.StringBuilder("group @g0 = read, write, 1\n");
        for (int i = 1; i <= 20; i++)
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"group @g{i} = @g{i - 1}, @g{i - 1}, read\n");
        var parser = new Parser(NoIncludes, null, SyscallGroups.Definitions, groupsOnly: true);
        Assert.True(parser.TryParseGroups(text.ToString(), "groups.policy", out var error), error?.ToString());
        Assert.Equal(["read", "write", "1"], parser.Groups["@g20"].Members.Select(m => m.Name));

        var policy = PolicyAssert.Parse("default ERRNO(EPERM)\n" + text + "ALLOW @g20, @g20, write\n");
        Assert.Equal(SeccompAction.Allow, PolicyAssert.Eval(policy, "read"));
        // Number 1 is write on x86_64: one rule per syscall, as if each had been named once.
        var section = policy.Sections.Single(s => s.Architecture == Abi.Architecture.X86_64);
        Assert.Equal(2, section.Syscalls.Count);
        Assert.All(section.Syscalls.Values, rules => Assert.Single(rules));
    }

    [Fact]
    public void AConditionIsResolvedOncePerPlacementOfItsArgumentsAndShared()
    {
        // A long condition over many syscalls was copied for each: 60,000 tests on 900 (arch, syscall) pairs took 5 GB.
        var policy = PolicyAssert.Parse("""
            default ALLOW
            ERRNO(1) read, write, close, dup if arg0 == 7 || !(arg1 & 3)
            ERRNO(2) openat, mkdirat, unlinkat if dirfd == 3
            ERRNO(3) open, mkdir if pathname == 0
            """);
        var x64 = policy.Sections.Single(s => s.Architecture == Abi.Architecture.X86_64);
        Condition ConditionOf(string name) =>
            x64.Syscalls[Abi.Architecture.X86_64.Syscalls.TryGetNumber(name, out int nr) ? nr : throw new ArgumentException(name)].Single().Condition;
        // Positional arguments: one condition for every syscall and architecture.
        var byPosition = ConditionOf("read");
        Assert.All(policy.Sections.SelectMany(s => s.Syscalls.Values).Select(r => r.Single()).Where(r => r.Action == SeccompAction.Errno(1)),
            r => Assert.Same(byPosition, r.Condition));
        // Named arguments: one per placement. dirfd is argument 0 of each *at call; pathname is 0 of open, 0 of mkdir.
        Assert.Same(ConditionOf("openat"), ConditionOf("unlinkat"));
        Assert.Same(ConditionOf("open"), ConditionOf("mkdir"));
        Assert.NotSame(ConditionOf("openat"), ConditionOf("open"));
        // And each still means what it says.
        Assert.Equal(SeccompAction.Errno(2), PolicyAssert.Eval(policy, "mkdirat", 3));
        Assert.Equal(SeccompAction.Allow, PolicyAssert.Eval(policy, "mkdirat", 4));
        Assert.Equal(SeccompAction.Errno(1), PolicyAssert.Eval(policy, "dup", 9, 4));
    }

    [Fact]
    public void RulesForMoreSyscallsThanTheLimitAreAnErrorAtTheRuleThatCrossesIt()
    {
        // Numbers outside the tables are syscalls too: 150,000 of them on five architectures took 550 MB.
        int limit = InputLimits.MaxSyscallsPerArchitecture;
        string numbers = string.Join(", ", Enumerable.Range(0, limit));
        PolicyAssert.Parse($"default ERRNO(EPERM)\nALLOW {numbers}\nALLOW read\n");
        var error = PolicyAssert.Error($"default ERRNO(EPERM)\nALLOW {numbers}\n  ALLOW {limit}\n", "many.policy");
        Assert.Equal($"many.policy:3:3: rules for more than {limit} different syscalls on x86_64, whose table has {Syscage.Abi.Architecture.X86_64.Syscalls.Count}", error.ToString());
    }

    private static bool NoIncludes(string includingFile, string path, out string displayName, out string key, out string text, out string error)
    {
        (displayName, key, text, error) = (path, path, "", "no includes here");
        return false;
    }

    private static string Repeat(string s, int n) => string.Concat(Enumerable.Repeat(s, n));
}
