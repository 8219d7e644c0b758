using System.Globalization;
using Syscage.Bpf;
using Syscage.Policy.Compiler;
using Syscage.Policy.Language;
using Syscage.Abi;

namespace Syscage.Policy.Tests;

/// <summary>
/// Runs <c>tests/vectors/policy/*.vectors</c>. A case starts with <c>### title</c>; the policy text follows (its
/// line 1 is the line after the title); then expectations:
/// <c>&gt;&gt;&gt; ARCH SYSCALL [ARGS...] = ACTION</c> evaluates a call with the reference evaluator, and
/// <c>!!! LINE:COL: MESSAGE</c> expects the policy to fail with exactly that error. A failure names the vector's
/// <c>file:line</c>. Each call is also run through the compiled filter, optimised and not, which must agree.
/// </summary>
public class VectorTests
{
    public sealed record Case(string File, int Line, string Title, string Policy, IReadOnlyList<(int Line, string Text)> Expectations)
    {
        public override string ToString() => $"{Path.GetFileName(File)}:{Line} {Title}";
    }

    public static TheoryData<Case> Cases()
    {
        var data = new TheoryData<Case>();
        string dir = Path.Combine(AppContext.BaseDirectory, "vectors", "policy");
        foreach (string file in Directory.GetFiles(dir, "*.vectors").Order(StringComparer.Ordinal))
        {
            string[] lines = File.ReadAllLines(file);
            for (int i = 0; i < lines.Length; i++)
            {
                if (!lines[i].StartsWith("### ", StringComparison.Ordinal))
                    continue;
                int start = i;
                var policy = new List<string>();
                var expect = new List<(int, string)>();
                for (i++; i < lines.Length && !lines[i].StartsWith("### ", StringComparison.Ordinal); i++)
                {
                    if (lines[i].StartsWith(">>> ", StringComparison.Ordinal) || lines[i].StartsWith("!!! ", StringComparison.Ordinal))
                        expect.Add((i + 1, lines[i]));
                    else if (expect.Count == 0)
                        policy.Add(lines[i]);
                }
                i--;
                data.Add(new Case($"tests/vectors/policy/{Path.GetFileName(file)}", start + 1, lines[start][4..], string.Join('\n', policy), expect));
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Vector(Case c)
    {
        string where = $"{c.File}:{c.Line} ({c.Title})";
        Assert.True(c.Expectations.Count > 0, $"{where}: a case needs >>> or !!! lines");
        bool parsed = PolicyLanguage.TryParse(c.Policy, out var policy, out var error, "t.policy");
        BpfProgram[] programs = parsed
            ? [PolicyCompiler.Compile(policy!), PolicyCompiler.Compile(policy!, new CompileOptions { Optimize = false })]
            : [];
        foreach (var (line, text) in c.Expectations)
        {
            string at = $"{c.File}:{line}";
            if (text.StartsWith("!!! ", StringComparison.Ordinal))
            {
                Assert.True(!parsed, $"{at}: the policy parses, but the vector expects: {text[4..]}");
                Assert.True($"t.policy:{text[4..]}" == error!.ToString(), $"{at}: expected t.policy:{text[4..]}\n   but got {error}");
                continue;
            }
            Assert.True(parsed, $"{at}: the policy does not parse: {error}");
            string[] sides = text[4..].Split(" = ");
            string[] call = sides[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var arch = Architecture.Parse(call[0]);
            int nr = call[1].StartsWith("0x", StringComparison.Ordinal) ? int.Parse(call[1].AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture)
                : int.TryParse(call[1], CultureInfo.InvariantCulture, out int n) ? n
                : arch.Syscalls.TryGetNumber(call[1], out n) ? n : throw new InvalidOperationException($"{at}: no syscall {call[1]} on {arch}");
            ulong[] args = call.Skip(2).Select(a => a.StartsWith("0x", StringComparison.Ordinal)
                ? ulong.Parse(a.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture)
                : ulong.Parse(a, CultureInfo.InvariantCulture)).ToArray();
            Assert.True(SeccompAction.TryParse(sides[1], out var expected, Errno.Number), $"{at}: bad action '{sides[1]}'");
            var data = new SeccompData(nr, arch.AuditArch, 0, args);
            var decision = policy!.Evaluate(data);
            Assert.True(expected == decision.Action,
                $"{at}: {sides[0]} gives {decision.Action} ({decision.Reason}{(decision.Rule?.Source is { } s ? $" at {s}" : "")}), expected {expected}");
            foreach (var program in programs)
            {
                var compiled = Interpreter.Run(program, data).Action;
                Assert.True(expected == compiled, $"{at}: {sides[0]}: the compiled filter gives {compiled}, the evaluator {expected}\n{Disassembler.ToText(program.Instructions.AsSpan())}");
            }
        }
    }
}
