using System.Globalization;
using Syscage.Abi;

namespace Syscage.Policy.Tests;

/// <summary>One expectation line of a vector case; <see cref="Where"/> is its <c>file:line</c>.</summary>
public abstract record VectorExpectation(string Where);

/// <summary><c>&gt;&gt;&gt; ARCH SYSCALL [ARGS...] = ACTION</c>: the call <see cref="Data"/> gets <see cref="Expected"/>.</summary>
/// <param name="Where">The line's <c>file:line</c>.</param>
/// <param name="Call">The call as written (<c>x86_64 openat 0 0 2</c>).</param>
/// <param name="Architecture">Its architecture.</param>
/// <param name="Data">The <c>seccomp_data</c> of the call (instruction pointer 0).</param>
/// <param name="Expected">The action the policy must give it.</param>
public sealed record VectorCall(string Where, string Call, Architecture Architecture, SeccompData Data, SeccompAction Expected) : VectorExpectation(Where);

/// <summary><c>!!! LINE:COL: MESSAGE</c>: the policy fails with exactly <see cref="Message"/>.</summary>
/// <param name="Where">The line's <c>file:line</c>.</param>
/// <param name="Message">The error, without the policy's file name (<c>2:13: unknown syscall 'opneat'; ...</c>).</param>
public sealed record VectorError(string Where, string Message) : VectorExpectation(Where);

/// <summary>One case: a title, a policy, and what it must do.</summary>
/// <param name="File">The vector file, relative to the repository (<c>tests/vectors/policy/language.vectors</c>).</param>
/// <param name="Line">The line of the <c>###</c> title.</param>
/// <param name="Title">The title.</param>
/// <param name="Policy">The policy text; its line 1 is the line after the title.</param>
/// <param name="Expectations">The expectation lines, in file order.</param>
public sealed record VectorCase(string File, int Line, string Title, string Policy, IReadOnlyList<VectorExpectation> Expectations)
{
    /// <summary>The case's <c>file:line (title)</c>.</summary>
    public string Where => string.Create(CultureInfo.InvariantCulture, $"{File}:{Line} ({Title})");

    /// <summary>The <c>&gt;&gt;&gt;</c> lines.</summary>
    public IEnumerable<VectorCall> Calls => Expectations.OfType<VectorCall>();

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Path.GetFileName(File)}:{Line} {Title}");
}

/// <summary>
/// The one parser of <c>tests/vectors/policy/*.vectors</c>. A case starts with <c>### title</c>; the policy text
/// follows (its line 1 is the line after the title); then expectations, <see cref="VectorCall"/> lines
/// (<c>&gt;&gt;&gt; ARCH SYSCALL [ARGS...] = ACTION</c>: syscall by name or number, arguments decimal or 0x hex,
/// the action as the policy language writes it) and <see cref="VectorError"/> lines (<c>!!! LINE:COL: MESSAGE</c>).
/// Lines before the first title are comments. A malformed expectation throws <see cref="FormatException"/> with its
/// <c>file:line</c>.
/// </summary>
public static class PolicyVectors
{
    /// <summary>Every case of every vector file copied next to the tests, files in ordinal order.</summary>
    public static IReadOnlyList<VectorCase> All()
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "vectors", "policy");
        return [.. Directory.GetFiles(dir, "*.vectors").Order(StringComparer.Ordinal)
            .SelectMany(f => Parse($"tests/vectors/policy/{Path.GetFileName(f)}", File.ReadAllLines(f)))];
    }

    /// <summary>The cases of one file, named <paramref name="file"/> in messages.</summary>
    public static IReadOnlyList<VectorCase> Parse(string file, IReadOnlyList<string> lines)
    {
        ArgumentNullException.ThrowIfNull(lines);
        var cases = new List<VectorCase>();
        for (int i = 0; i < lines.Count; i++)
        {
            if (!lines[i].StartsWith("### ", StringComparison.Ordinal))
                continue;
            int start = i;
            var policy = new List<string>();
            var expectations = new List<VectorExpectation>();
            for (i++; i < lines.Count && !lines[i].StartsWith("### ", StringComparison.Ordinal); i++)
            {
                string where = string.Create(CultureInfo.InvariantCulture, $"{file}:{i + 1}");
                if (lines[i].StartsWith(">>> ", StringComparison.Ordinal))
                    expectations.Add(ParseCall(where, lines[i][4..]));
                else if (lines[i].StartsWith("!!! ", StringComparison.Ordinal))
                    expectations.Add(new VectorError(where, lines[i][4..]));
                else if (expectations.Count == 0)
                    policy.Add(lines[i]);
            }
            i--;
            cases.Add(new VectorCase(file, start + 1, lines[start][4..], string.Join('\n', policy), expectations));
        }
        return cases;
    }

    private static VectorCall ParseCall(string where, string text)
    {
        string[] sides = text.Split(" = ");
        if (sides.Length != 2)
            throw new FormatException($"{where}: expected 'ARCH SYSCALL [ARGS...] = ACTION', not '{text}'");
        string[] call = sides[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (call.Length < 2 || call.Length > 8)
            throw new FormatException($"{where}: expected an architecture, a syscall and at most 6 arguments in '{sides[0]}'");
        if (!Architecture.TryParse(call[0], out var arch))
            throw new FormatException($"{where}: unknown architecture '{call[0]}'");
        int nr = TryNumber(call[1], out ulong n) ? unchecked((int)n)
            : arch.Syscalls.TryGetNumber(call[1], out int named) ? named
            : throw new FormatException($"{where}: no syscall '{call[1]}' on {arch.Name}");
        var args = new ulong[call.Length - 2];
        for (int a = 0; a < args.Length; a++)
            if (!TryNumber(call[a + 2], out args[a]))
                throw new FormatException($"{where}: argument {a} '{call[a + 2]}' is not a number (decimal or 0x hex)");
        if (!SeccompAction.TryParse(sides[1], out var expected, Errno.Number))
            throw new FormatException($"{where}: bad action '{sides[1]}'");
        return new VectorCall(where, sides[0], arch, new SeccompData(nr, arch.AuditArch, 0, args), expected);
    }

    private static bool TryNumber(string s, out ulong value) => s.StartsWith("0x", StringComparison.Ordinal)
        ? ulong.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value)
        : ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out value);
}
