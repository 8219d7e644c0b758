using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Syscage.Generator;

/// <summary>A source the generator needs is not on this machine.</summary>
public sealed class MissingSourceException : Exception
{
    /// <summary>Creates the exception; the message says what is missing and which Debian package provides it.</summary>
    public MissingSourceException(string message) : base(message) { }
}

/// <summary>
/// Writes <c>src/Syscage/Abi/SyscallTables.g.cs</c>: the syscall numbers of each architecture, read from
/// the kernel uapi headers of Debian's linux-libc-dev, with argument names and types from the repository's
/// <c>facts/syscall-prototypes.csv</c> (see <see cref="PrototypeFile"/>), and the <c>AUDIT_ARCH_*</c> values from
/// linux/audit.h and linux/elf-em.h. The output depends only on those files: sorted, invariant culture, no timestamps.
/// </summary>
public sealed partial class SyscallTableGenerator
{
    /// <summary>Where the output goes, relative to the repository root.</summary>
    public const string OutputRelativePath = "src/Syscage/Abi/SyscallTables.g.cs";

    /// <summary>The command that regenerates the output, for messages.</summary>
    public const string RegenerateCommand = "dotnet run --project tools/Syscage.Generator -- <repo-root>";

    /// <summary>Macros named <c>__NR_*</c> that are not system calls.</summary>
    private static readonly HashSet<string> NotSyscalls = new(StringComparer.Ordinal) { "__NR_syscalls", "__NR_arch_specific_syscall" };

    /// <summary>Creates a generator reading <paramref name="prototypesFile"/> and the headers under <paramref name="includeDirectory"/>.</summary>
    public SyscallTableGenerator(string prototypesFile, string includeDirectory = "/usr/include")
    {
        PrototypesFile = prototypesFile;
        IncludeDirectory = includeDirectory;
    }

    /// <summary>The root of the kernel uapi headers (linux-libc-dev).</summary>
    public string IncludeDirectory { get; }

    /// <summary>The argument names and types (<see cref="PrototypeFile.RelativePath"/>).</summary>
    public string PrototypesFile { get; }

    /// <summary>Reads the sources and returns the C# text of the output file.</summary>
    /// <exception cref="MissingSourceException">A header or the man pages are not installed.</exception>
    public string Generate() => Render(Read());

    /// <summary>
    /// One line per architecture: its syscall count, how many have argument names, and how many arguments the kernel
    /// reads narrower than the ABI's registers (32 or 16 bits on a 64-bit ABI, 16 on a 32-bit one).
    /// </summary>
    public IReadOnlyList<string> Summarize()
    {
        Snapshot snapshot = Read();
        return snapshot.Tables.Select(t =>
        {
            int register = t.Spec.Is64Bit ? 64 : 32;
            var narrowed = t.Syscalls.SelectMany(s => s.ArgTypes).Select(type => snapshot.TypeBits[type]).Where(bits => bits < register).ToList();
            return string.Create(
                CultureInfo.InvariantCulture,
                $"{t.Spec.Name}: {t.Syscalls.Count} syscalls, {t.Syscalls.Count(s => s.ArgNames.Count > 0)} with argument names; "
                + $"arguments narrower than the registers: {narrowed.Count(b => b == 32)} of 32 bits, {narrowed.Count(b => b == 16)} of 16 bits");
        }).ToList();
    }

    /// <summary>Everything read from the machine.</summary>
    internal sealed record Snapshot(
        IReadOnlyList<GeneratedTable> Tables,
        IReadOnlyList<(string Macro, uint Value, string Definition)> AuditArches,
        string KernelHeadersVersion,
        IReadOnlyList<string> Sources,
        IReadOnlyDictionary<string, int> TypeBits);

    /// <summary>One architecture's table.</summary>
    internal sealed record GeneratedTable(ArchitectureSpec Spec, IReadOnlyList<GeneratedSyscall> Syscalls, long NumberBit);

    /// <summary>One syscall as generated: its arguments' names and C types, in register order.</summary>
    internal sealed record GeneratedSyscall(string Name, int Number, IReadOnlyList<string> ArgNames, IReadOnlyList<string> ArgTypes);

    private Snapshot? snapshot;

    /// <summary>Reads the sources once per generator.</summary>
    internal Snapshot Read() => snapshot ??= ReadSources();

    /// <summary>What the headers give: per architecture its syscall numbers, the audit values, the kernel version.</summary>
    private sealed record Headers(
        IReadOnlyList<(ArchitectureSpec Spec, IReadOnlyList<(string Name, int Number)> Numbers, long Bit)> Tables,
        IReadOnlyList<(string Macro, uint Value, string Definition)> AuditArches,
        string KernelHeadersVersion,
        IReadOnlyList<string> Sources);

    private Headers? headers;

    /// <summary>Every syscall name of every architecture's table, from the headers alone (the prototypes file is not read).</summary>
    internal IReadOnlyList<string> SyscallNames()
        => (headers ??= ReadHeaders()).Tables.SelectMany(t => t.Numbers.Select(n => n.Name)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

    private Snapshot ReadSources()
    {
        Headers read = headers ??= ReadHeaders();
        var prototypes = new PrototypeSet(PrototypeFile.Read(PrototypesFile), PrototypesFile);
        var tables = read.Tables.Select(t => new GeneratedTable(
            t.Spec,
            t.Numbers.Select(n =>
            {
                IReadOnlyList<Parameter> arguments = prototypes.Arguments(t.Spec, n.Name);
                return new GeneratedSyscall(n.Name, n.Number, arguments.Select(a => a.Name).ToList(), arguments.Select(a => a.Type).ToList());
            }).ToList(),
            t.Bit)).ToList();
        prototypes.CheckEveryRowIsUsed(tables.SelectMany(t => t.Syscalls.Select(s => s.Name)));
        var typeBits = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (string type in tables.SelectMany(t => t.Syscalls).SelectMany(s => s.ArgTypes))
        {
            typeBits[type] = ArgumentTypes.Bits(type, PrototypesFile);
        }

        return new Snapshot(tables, read.AuditArches, read.KernelHeadersVersion, read.Sources, typeBits);
    }

    private Headers ReadHeaders()
    {
        var sources = new List<string>();
        string Require(string relativePath)
        {
            string path = Path.Combine(IncludeDirectory, relativePath);
            if (!File.Exists(path))
            {
                string package = relativePath.StartsWith(ArchitectureSpec.X86AsmDirectory, StringComparison.Ordinal)
                    ? "linux-libc-dev:amd64 (apt-get install linux-libc-dev on amd64; it holds the x86, x32 and x86_64 asm headers)"
                    : "linux-libc-dev (apt-get install linux-libc-dev)";
                throw new MissingSourceException(
                    $"kernel uapi header {path} is missing: install Debian's {package}, which the syscall tables are generated from");
            }

            if (!sources.Contains(path))
            {
                sources.Add(path);
            }

            return path;
        }

        var tables = new List<(ArchitectureSpec, IReadOnlyList<(string, int)>, long)>();
        foreach (ArchitectureSpec spec in ArchitectureSpec.All)
        {
            if (spec.Steps is null)
            {
                tables.Add((spec, [], 0));
                continue;
            }

            var preprocessor = new HeaderPreprocessor();
            foreach (HeaderStep step in spec.Steps)
            {
                switch (step)
                {
                    case DefineStep define:
                        preprocessor.Define(define.Name, define.Value);
                        break;
                    case FileStep file:
                        string path = Require(file.RelativePath);
                        preprocessor.Process(File.ReadAllText(path), path);
                        break;
                    case SnippetStep snippet:
                        preprocessor.Process(snippet.Text, snippet.Source);
                        break;
                }
            }

            long bit = spec.NumberBitMacro is null ? 0
                : IntegerExpression.Evaluate(spec.NumberBitMacro, preprocessor.Macros, inCondition: false, $"{spec.NumberBitMacro} ({spec.Name})");
            var numbers = Numbers(preprocessor.Macros, spec.Name);
            if (numbers.Count == 0)
            {
                throw new InvalidDataException($"no __NR_* macros found for {spec.Name}");
            }

            tables.Add((spec, numbers, bit));
        }

        // AUDIT_ARCH_* (linux/audit.h) are built from EM_* (linux/elf-em.h), which audit.h #includes.
        var audit = new HeaderPreprocessor();
        foreach (string header in new[] { "linux/elf-em.h", "linux/audit.h" })
        {
            string path = Require(header);
            audit.Process(File.ReadAllText(path), path);
        }

        var auditArches = new List<(string, uint, string)>();
        foreach (string macro in ArchitectureSpec.All.Select(s => s.AuditArchMacro).Distinct())
        {
            if (!audit.Macros.TryGetValue(macro, out MacroDefinition? definition))
            {
                throw new InvalidDataException($"{macro} is not defined in linux/audit.h");
            }

            long value = IntegerExpression.Evaluate(definition.Body, audit.Macros, inCondition: false, macro);
            auditArches.Add((macro, checked((uint)value), WhiteSpace().Replace(definition.Body, " ")));
        }

        var version = new HeaderPreprocessor();
        string versionPath = Require("linux/version.h");
        version.Process(File.ReadAllText(versionPath), versionPath);
        string kernel = string.Create(
            CultureInfo.InvariantCulture,
            $"{IntegerExpression.Evaluate("LINUX_VERSION_CODE >> 16", version.Macros, false, "LINUX_VERSION_CODE")}."
            + $"{IntegerExpression.Evaluate("(LINUX_VERSION_CODE >> 8) & 255", version.Macros, false, "LINUX_VERSION_CODE")}");

        return new Headers(tables, auditArches, kernel, sources);
    }

    /// <summary>
    /// The system calls among <paramref name="macros"/>: every object-like <c>__NR_name</c> except the bookkeeping ones
    /// (<c>__NR_syscalls</c>, <c>__NR_arch_specific_syscall</c>; <c>__NR3264_*</c> do not match the prefix), each
    /// expanded and evaluated, sorted by number then name.
    /// </summary>
    internal static IReadOnlyList<(string Name, int Number)> Numbers(IReadOnlyDictionary<string, MacroDefinition> macros, string arch)
    {
        var numbers = new List<(string, int)>();
        foreach (MacroDefinition macro in macros.Values)
        {
            if (!macro.Name.StartsWith("__NR_", StringComparison.Ordinal) || macro.IsFunctionLike || NotSyscalls.Contains(macro.Name))
            {
                continue;
            }

            string name = macro.Name[5..];
            if (!SyscallName().IsMatch(name))
            {
                throw new InvalidDataException($"unexpected syscall macro {macro.Name} ({arch})");
            }

            long value = IntegerExpression.Evaluate(macro.Body, macros, inCondition: false, $"{macro.Name} ({arch})");
            if (value < 0 || value > int.MaxValue)
            {
                throw new InvalidDataException($"{macro.Name} ({arch}) = {value} is out of range");
            }

            numbers.Add((name, (int)value));
        }

        return numbers.OrderBy(n => n.Item2).ThenBy(n => n.Item1, StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// The input a real C preprocessor would need to define the same macros as the generator's steps for
    /// <paramref name="spec"/> (used by the tests to cross-check with <c>cpp -dM</c>); null for an empty table.
    /// Includes of <c>&lt;asm/...&gt;</c> inside the headers must resolve to empty files.
    /// </summary>
    internal string? CppInput(ArchitectureSpec spec)
    {
        if (spec.Steps is null)
        {
            return null;
        }

        var text = new StringBuilder();
        foreach (HeaderStep step in spec.Steps)
        {
            text.Append(step switch
            {
                DefineStep define => $"#define {define.Name} {define.Value}\n",
                FileStep file => $"#include \"{Path.Combine(IncludeDirectory, file.RelativePath)}\"\n",
                SnippetStep snippet => snippet.Text + "\n",
                _ => "",
            });
        }

        return text.ToString();
    }

    private string Render(Snapshot snapshot)
    {
        var w = new StringBuilder();
        w.Append("// <auto-generated>\n");
        w.Append("//   Generated by tools/Syscage.Generator from the kernel uapi headers (linux-libc-dev, Linux ")
            .Append(snapshot.KernelHeadersVersion).Append("):\n");
        foreach (string source in snapshot.Sources)
        {
            w.Append("//     ").Append(source).Append('\n');
        }

        w.Append("//   and, for argument names and types, ").Append(PrototypeFile.RelativePath).Append(".\n");
        w.Append("//   Do not edit; regenerate with: ").Append(RegenerateCommand).Append('\n');
        w.Append("// </auto-generated>\n\n");
        w.Append("#nullable enable\n\n");
        w.Append("namespace Syscage.Abi;\n\n");

        w.Append("/// <summary>\n");
        w.Append("/// The <c>AUDIT_ARCH_*</c> values of linux/audit.h that Syscage knows, in the kernel's spelling: what\n");
        w.Append("/// <c>seccomp_data.arch</c> holds for a system call made through that ABI. x32 shares <see cref=\"AUDIT_ARCH_X86_64\"/>\n");
        w.Append("/// and is told apart by bit 0x40000000 of the syscall number.\n");
        w.Append("/// </summary>\n");
        w.Append("public static class AuditArch\n{\n");
        bool first = true;
        foreach ((string macro, uint value, string definition) in snapshot.AuditArches)
        {
            if (!first)
            {
                w.Append('\n');
            }

            first = false;
            w.Append("    /// <summary><c>").Append(macro).Append("</c> = <c>").Append(definition).Append("</c>.</summary>\n");
            w.Append("    public const uint ").Append(macro).Append(" = 0x").Append(value.ToString("X8", CultureInfo.InvariantCulture)).Append(";\n");
        }

        w.Append("}\n\n");

        w.Append("/// <summary>The syscall numbers of each architecture, as the kernel headers define them.</summary>\n");
        w.Append("internal static class SyscallTables\n{\n");
        w.Append("    /// <summary>The kernel version of the headers the tables were read from.</summary>\n");
        w.Append("    internal const string KernelHeadersVersion = \"").Append(snapshot.KernelHeadersVersion).Append("\";\n\n");
        w.Append("    /// <summary>\n");
        w.Append("    /// The width in bits of each argument type of the tables, as the kernel's syscall wrappers read the register on a\n");
        w.Append("    /// 64-bit ABI: they cast it to the declared type, so an <c>int</c> is the low 32 bits (tools/Syscage.Generator/ArgumentTypes.cs).\n");
        w.Append("    /// </summary>\n");
        w.Append("    internal static Dictionary<string, int> ArgumentTypeBits() => new(StringComparer.Ordinal)\n");
        w.Append("    {\n");
        foreach ((string type, int bits) in snapshot.TypeBits)
        {
            w.Append("        [\"").Append(type).Append("\"] = ").Append(bits.ToString(CultureInfo.InvariantCulture)).Append(",\n");
        }

        w.Append("    };\n");
        foreach (GeneratedTable table in snapshot.Tables.Where(t => t.NumberBit != 0))
        {
            w.Append('\n');
            w.Append("    /// <summary><c>").Append(table.Spec.NumberBitMacro).Append("</c>: carried by every ").Append(table.Spec.Name).Append(" syscall number.</summary>\n");
            w.Append("    internal const int ").Append(BitConstant(table)).Append(" = 0x")
                .Append(table.NumberBit.ToString("X8", CultureInfo.InvariantCulture)).Append(";\n");
        }

        foreach (GeneratedTable table in snapshot.Tables)
        {
            ArchitectureSpec spec = table.Spec;
            w.Append('\n');
            w.Append("    /// <summary>\n");
            if (spec.Steps is null)
            {
                w.Append("    /// ").Append(spec.Name).Append(": empty. ").Append(spec.Note).Append(".\n");
            }
            else
            {
                w.Append("    /// ").Append(spec.Name).Append(": ").Append(table.Syscalls.Count.ToString(CultureInfo.InvariantCulture))
                    .Append(" system calls (").Append(table.Syscalls.Count(s => s.ArgNames.Count > 0).ToString(CultureInfo.InvariantCulture))
                    .Append(" with argument names), from\n");
                foreach (HeaderStep step in spec.Steps)
                {
                    w.Append("    /// ").Append(step switch
                    {
                        DefineStep d => $"<c>#define {d.Name} {d.Value}</c>,",
                        FileStep f => $"{f.RelativePath},",
                        SnippetStep s => $"<c>{Xml(WhiteSpace().Replace(s.Text, " "))}</c> ({s.Source}),",
                        _ => "",
                    }).Append('\n');
                }

                w.Append("    /// evaluated in that order.\n");
            }

            w.Append("    /// </summary>\n");
            w.Append("    internal static Syscall[] ").Append(spec.Identifier).Append("() =>\n");
            if (table.Syscalls.Count == 0)
            {
                w.Append("        [];\n");
                continue;
            }

            w.Append("    [\n");
            foreach (GeneratedSyscall syscall in table.Syscalls)
            {
                w.Append("        new(\"").Append(syscall.Name).Append("\", ");
                if (table.NumberBit != 0)
                {
                    w.Append(BitConstant(table)).Append(" + ")
                        .Append((syscall.Number - table.NumberBit).ToString(CultureInfo.InvariantCulture));
                }
                else
                {
                    w.Append(syscall.Number.ToString(CultureInfo.InvariantCulture));
                }

                w.Append(", [").Append(string.Join(", ", syscall.ArgNames.Select(a => $"\"{a}\""))).Append("]");
                if (syscall.ArgTypes.Count > 0)
                {
                    w.Append(", [").Append(string.Join(", ", syscall.ArgTypes.Select(a => $"\"{a}\""))).Append(']');
                }

                w.Append("),\n");
            }

            w.Append("    ];\n");
        }

        w.Append("}\n");
        return w.ToString();
    }

    private static string BitConstant(GeneratedTable table) => table.Spec.Identifier + "SyscallBit";

    private static string Xml(string text)
        => text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);

    [GeneratedRegex(@"^[a-z_][a-z0-9_]*$", RegexOptions.CultureInvariant)]
    private static partial Regex SyscallName();

    [GeneratedRegex(@"\s+", RegexOptions.CultureInvariant)]
    private static partial Regex WhiteSpace();
}
