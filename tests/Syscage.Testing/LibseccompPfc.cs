using System.Globalization;
using System.Text.RegularExpressions;
using Syscage.Abi;

namespace Syscage.Testing;

/// <summary>
/// libseccomp's pseudo filter code (<see cref="Libseccomp.ExportPfc"/>) read back and run: what libseccomp's rule
/// database decides for a call, apart from its BPF generator. The text nests the tests of each syscall as libseccomp
/// keeps them (<c>if ($a2.hi32 &gt; 0)</c> … <c>else</c> …), in the order its filter tries them; a test whose branch
/// decides nothing falls through to the next statement, and the end of a syscall's block to the default action.
/// Build the filter with <c>SCMP_FLTATR_CTL_OPTIMIZE</c> 1 (the binary tree prints number ranges this reader skips).
/// </summary>
public sealed partial class LibseccompPfc
{
    private abstract record Statement;
    private sealed record Test(int Arg, string? Half, ulong? Mask, string Op, ulong Datum, IReadOnlyList<Statement> Then, IReadOnlyList<Statement>? Else) : Statement;
    private sealed record Act(SeccompAction Action) : Statement;

    private readonly Dictionary<(string Arch, int Nr), IReadOnlyList<Statement>> _syscalls = [];
    private readonly Dictionary<string, SeccompAction> _defaults = new(StringComparer.Ordinal);

    [GeneratedRegex(@"^\(\$a(\d)(?:\.(hi32|lo32))?(?: & 0x([0-9a-f]+))? (==|!=|>=|<=|>|<) (\d+)\)$")]
    private static partial Regex Condition();

    [GeneratedRegex(@"^# filter for arch (\S+) ")]
    private static partial Regex ArchComment();

    [GeneratedRegex(@"^if \(\$syscall == (-?\d+)\)$")]
    private static partial Regex SyscallTest();

    /// <summary>Reads the text <see cref="Libseccomp.ExportPfc"/> returns.</summary>
    public LibseccompPfc(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var lines = text.Split('\n').Where(l => l.Trim().Length > 0).ToList();
        string? arch = null;
        int archIndent = -1;
        for (int i = 0; i < lines.Count; i++)
        {
            string line = lines[i], s = line.Trim();
            int indent = Indent(line);
            if (ArchComment().Match(s) is { Success: true } a)
            {
                arch = a.Groups[1].Value;
                archIndent = -1;
                continue;
            }
            if (s.StartsWith('#') || arch is null)
                continue;
            if (s.StartsWith("if ($arch == ", StringComparison.Ordinal))
            {
                archIndent = indent;
                continue;
            }
            if (indent != archIndent + 2)
                continue;
            if (SyscallTest().Match(s) is { Success: true } m)
            {
                int pos = i + 1;
                _syscalls[(arch, int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))] = Block(lines, ref pos, indent + 2);
                i = pos - 1;
            }
            else if (s.StartsWith("action ", StringComparison.Ordinal))
                _defaults[arch] = Action(s);
        }
    }

    /// <summary>The architectures read, by libseccomp's name (<c>x86_64</c>, <c>x32</c>, <c>x86</c> …).</summary>
    public IEnumerable<string> Architectures => _defaults.Keys;

    /// <summary>What libseccomp's database decides for syscall <paramref name="nr"/> of <paramref name="arch"/> (its default when no rule decides).</summary>
    public SeccompAction Decide(string arch, int nr, ReadOnlySpan<ulong> args)
    {
        if (!_defaults.TryGetValue(arch, out var fallback))
            throw new ArgumentException($"no filter for arch {arch}", nameof(arch));
        return _syscalls.TryGetValue((arch, nr), out var block) ? Run(block, args) ?? fallback : fallback;
    }

    private static SeccompAction? Run(IReadOnlyList<Statement> block, ReadOnlySpan<ulong> args)
    {
        foreach (var s in block)
        {
            if (s is Act act)
                return act.Action;
            var t = (Test)s;
            ulong v = args[t.Arg];
            v = t.Half switch { "hi32" => v >> 32, "lo32" => v & uint.MaxValue, _ => v };
            if (t.Mask is { } m)
                v &= m;
            bool holds = t.Op switch
            {
                "==" => v == t.Datum,
                "!=" => v != t.Datum,
                ">" => v > t.Datum,
                ">=" => v >= t.Datum,
                "<" => v < t.Datum,
                _ => v <= t.Datum,
            };
            if ((holds ? t.Then : t.Else) is { } branch && Run(branch, args) is { } decided)
                return decided;
        }
        return null;
    }

    private static List<Statement> Block(List<string> lines, ref int pos, int indent)
    {
        var block = new List<Statement>();
        while (pos < lines.Count)
        {
            string line = lines[pos], s = line.Trim();
            int at = Indent(line);
            if (at < indent || s.StartsWith('#'))
                break;
            if (at > indent)
                throw new FormatException($"pfc: unexpected indentation: {line}");
            pos++;
            if (s.StartsWith("action ", StringComparison.Ordinal))
            {
                block.Add(new Act(Action(s)));
                continue;
            }
            if (!s.StartsWith("if ", StringComparison.Ordinal) || Condition().Match(s[3..]) is not { Success: true } c)
                throw new FormatException($"pfc: cannot read: {line}");
            var then = Block(lines, ref pos, indent + 2);
            List<Statement>? otherwise = null;
            if (pos < lines.Count && lines[pos].Trim() == "else" && Indent(lines[pos]) == indent)
            {
                pos++;
                otherwise = Block(lines, ref pos, indent + 2);
            }
            block.Add(new Test(
                int.Parse(c.Groups[1].Value, CultureInfo.InvariantCulture),
                c.Groups[2].Success ? c.Groups[2].Value : null,
                c.Groups[3].Success ? ulong.Parse(c.Groups[3].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture) : null,
                c.Groups[4].Value,
                ulong.Parse(c.Groups[5].Value, CultureInfo.InvariantCulture),
                then, otherwise));
        }
        return block;
    }

    private static SeccompAction Action(string statement)
    {
        string a = statement["action ".Length..].TrimEnd(';');
        static ushort Data(string s) => ushort.Parse(s[(s.IndexOf('(', StringComparison.Ordinal) + 1)..^1], CultureInfo.InvariantCulture);
        return a switch
        {
            "ALLOW" => SeccompAction.Allow,
            "KILL" => SeccompAction.KillThread,
            "KILL_PROCESS" => SeccompAction.KillProcess,
            "TRAP" => SeccompAction.Trap(0),
            "LOG" => SeccompAction.Log,
            _ when a.StartsWith("ERRNO(", StringComparison.Ordinal) => SeccompAction.Errno(Data(a)),
            _ when a.StartsWith("TRACE(", StringComparison.Ordinal) => SeccompAction.Trace(Data(a)),
            _ when a.StartsWith("0x", StringComparison.Ordinal) => new SeccompAction(uint.Parse(a[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture)),
            _ => throw new FormatException($"pfc: unknown action: {statement}"),
        };
    }

    private static int Indent(string line) => line.Length - line.TrimStart(' ').Length;
}
