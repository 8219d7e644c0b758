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
/// Writes <c>src/Syscage/Abi/SyscallTables.g.cs</c> from the repository's facts alone, so that every machine makes the
/// same file: the syscall numbers of every architecture libseccomp knows from <c>facts/syscalls.csv</c> (plus the number
/// base of x32 and the mips ABIs), the <c>AUDIT_ARCH_*</c> values from <c>facts/architectures.h</c>, and the argument names
/// and types from <c>facts/syscall-prototypes.csv</c> (see <see cref="PrototypeFile"/>). Sorted, invariant culture, no
/// timestamps. The machine's uapi headers serve only as a cross-check (<see cref="MachineNumbers"/>).
/// </summary>
public sealed partial class SyscallTableGenerator
{
    /// <summary>Where the output goes, relative to the repository root.</summary>
    public const string OutputRelativePath = "src/Syscage/Abi/SyscallTables.g.cs";

    /// <summary>The facts file of the architectures, relative to the repository root.</summary>
    public const string ArchitecturesRelativePath = "facts/architectures.h";

    /// <summary>The command that regenerates the output, for messages.</summary>
    public const string RegenerateCommand = "dotnet run --project tools/Syscage.Generator -- <repo-root>";

    /// <summary>Macros named <c>__NR_*</c> that are not system calls.</summary>
    private static readonly HashSet<string> NotSyscalls = new(StringComparer.Ordinal) { "__NR_syscalls", "__NR_arch_specific_syscall" };

    /// <summary>The C# names of the number-base macros of facts/architectures.h.</summary>
    private static readonly Dictionary<string, string> BaseConstants = new(StringComparer.Ordinal)
    {
        [ArchitectureSpec.X32BitMacro] = "X32SyscallBit",
        ["__NR_O32_Linux"] = "MipsO32Base",
        ["__NR_64_Linux"] = "Mips64Base",
        ["__NR_N32_Linux"] = "MipsN32Base",
    };

    /// <summary>Creates a generator reading the facts of the repository at <paramref name="repositoryRoot"/>.</summary>
    public SyscallTableGenerator(string repositoryRoot)
    {
        SyscallsFile = Path.Combine(repositoryRoot, SyscallCsv.RelativePath);
        ArchitecturesFile = Path.Combine(repositoryRoot, ArchitecturesRelativePath);
        PrototypesFile = Path.Combine(repositoryRoot, PrototypeFile.RelativePath);
    }

    /// <summary>The syscall numbers (<see cref="SyscallCsv.RelativePath"/>).</summary>
    public string SyscallsFile { get; }

    /// <summary>The <c>AUDIT_ARCH_*</c> values and number bases (<see cref="ArchitecturesRelativePath"/>).</summary>
    public string ArchitecturesFile { get; }

    /// <summary>The argument names and types (<see cref="PrototypeFile.RelativePath"/>).</summary>
    public string PrototypesFile { get; }

    /// <summary>Reads the facts and returns the C# text of the output file.</summary>
    /// <exception cref="MissingSourceException">A facts file is missing.</exception>
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

    /// <summary>Everything read from the facts.</summary>
    internal sealed record Snapshot(
        IReadOnlyList<GeneratedTable> Tables,
        IReadOnlyList<(string Macro, uint Value, string Definition)> AuditArches,
        IReadOnlyList<(string Macro, long Value)> Bases,
        (uint Bits64, uint LittleEndian) AuditFlags,
        SyscallCsv Numbers,
        IReadOnlyDictionary<string, int> TypeBits);

    /// <summary>One architecture's table.</summary>
    internal sealed record GeneratedTable(ArchitectureSpec Spec, IReadOnlyList<GeneratedSyscall> Syscalls);

    /// <summary>One syscall as generated: its number as <c>seccomp_data.nr</c> holds it, its arguments' names and C types, in register order.</summary>
    internal sealed record GeneratedSyscall(string Name, int Number, IReadOnlyList<string> ArgNames, IReadOnlyList<string> ArgTypes);

    private Snapshot? snapshot;

    /// <summary>Reads the facts once per generator.</summary>
    internal Snapshot Read() => snapshot ??= ReadSources();

    /// <summary>Every syscall name of facts/syscalls.csv (the prototypes file is not read).</summary>
    internal IReadOnlyList<string> SyscallNames()
        => SyscallCsv.Read(SyscallsFile).Rows.Select(r => r.Name).Order(StringComparer.Ordinal).ToList();

    /// <summary>The architectures' facts: the evaluated macros of facts/architectures.h.</summary>
    internal IReadOnlyDictionary<string, MacroDefinition> ArchitectureMacros()
    {
        if (!File.Exists(ArchitecturesFile))
        {
            throw new MissingSourceException($"the architectures facts file {ArchitecturesFile} is missing: it is part of the repository ({ArchitecturesRelativePath})");
        }

        var facts = new HeaderPreprocessor();
        facts.Process(File.ReadAllText(ArchitecturesFile), ArchitecturesRelativePath);
        return facts.Macros;
    }

    private Snapshot ReadSources()
    {
        SyscallCsv csv = SyscallCsv.Read(SyscallsFile);
        var macros = ArchitectureMacros();
        long Value(string macro) => macros.ContainsKey(macro)
            ? IntegerExpression.Evaluate(macro, macros, inCondition: false, $"{macro} ({ArchitecturesRelativePath})")
            : throw new InvalidDataException($"{ArchitecturesRelativePath} does not define {macro}");

        uint bits64 = checked((uint)Value("__AUDIT_ARCH_64BIT")), littleEndian = checked((uint)Value("__AUDIT_ARCH_LE"));
        var auditArches = new List<(string, uint, string)>();
        foreach (string macro in ArchitectureSpec.All.Select(s => s.AuditArchMacro).Distinct().Order(StringComparer.Ordinal))
        {
            auditArches.Add((macro, checked((uint)Value(macro)), WhiteSpace().Replace(macros[macro].Body, " ")));
        }

        var bases = ArchitectureSpec.All.Select(s => s.NumberBaseMacro).OfType<string>().Distinct()
            .Select(m => (m, Value(m))).ToList();

        var prototypes = new PrototypeSet(PrototypeFile.Read(PrototypesFile), PrototypesFile);
        var tables = new List<GeneratedTable>();
        foreach (ArchitectureSpec spec in ArchitectureSpec.All)
        {
            uint audit = auditArches.First(a => a.Item1 == spec.AuditArchMacro).Item2;
            if (spec.Is64Bit != ((audit & bits64) != 0) || spec.BigEndian != ((audit & littleEndian) == 0))
            {
                throw new InvalidDataException(
                    $"{spec.Name}: ArchitectureSpec says {(spec.Is64Bit ? 64 : 32)}-bit {(spec.BigEndian ? "big" : "little")}-endian, {spec.AuditArchMacro} (0x{audit:x8}) says otherwise");
            }

            long numberBase = spec.NumberBaseMacro is null ? 0 : Value(spec.NumberBaseMacro);
            var syscalls = new List<GeneratedSyscall>();
            foreach ((string name, int number) in csv.Column(spec.Column))
            {
                // x32 ORs its bit in (the kernel's __X32_SYSCALL_BIT | n); mips adds its ABI's first number.
                long nr = spec.NumberBaseMacro == ArchitectureSpec.X32BitMacro ? (uint)number | numberBase : number + numberBase;
                if (nr > int.MaxValue)
                {
                    throw new InvalidDataException($"{SyscallCsv.RelativePath}: {name} on {spec.Name} = {nr} does not fit seccomp_data.nr");
                }

                IReadOnlyList<Parameter> arguments = prototypes.Arguments(spec, name);
                syscalls.Add(new GeneratedSyscall(name, (int)nr, arguments.Select(a => a.Name).ToList(), arguments.Select(a => a.Type).ToList()));
            }

            if (syscalls.Count == 0)
            {
                throw new InvalidDataException($"{SyscallCsv.RelativePath} has no syscall for {spec.Name} (column {spec.Column})");
            }

            var duplicate = syscalls.GroupBy(s => s.Number).FirstOrDefault(g => g.Count() > 1);
            if (duplicate is not null)
            {
                throw new InvalidDataException(
                    $"{SyscallCsv.RelativePath}: {spec.Name} gives {duplicate.Key} to {string.Join(" and ", duplicate.Select(s => s.Name))}");
            }

            tables.Add(new GeneratedTable(spec, syscalls.OrderBy(s => s.Number).ThenBy(s => s.Name, StringComparer.Ordinal).ToList()));
        }

        prototypes.CheckEveryRowIsUsed(tables.SelectMany(t => t.Syscalls.Select(s => s.Name)));
        var typeBits = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (string type in tables.SelectMany(t => t.Syscalls).SelectMany(s => s.ArgTypes))
        {
            typeBits[type] = ArgumentTypes.Bits(type, PrototypesFile);
        }

        return new Snapshot(tables, auditArches, bases, (bits64, littleEndian), csv, typeBits);
    }

    /// <summary>
    /// The syscall numbers this machine's uapi headers under <paramref name="includeDirectory"/> give an architecture of
    /// <see cref="ArchitectureSpec.MachineHeaders"/> (a cross-check of facts/syscalls.csv, not an input of the tables).
    /// </summary>
    /// <exception cref="MissingSourceException">A header is not installed.</exception>
    internal static IReadOnlyList<(string Name, int Number)> MachineNumbers(string arch, string includeDirectory = "/usr/include")
    {
        var preprocessor = new HeaderPreprocessor();
        foreach (HeaderStep step in ArchitectureSpec.MachineHeaders[arch])
        {
            switch (step)
            {
                case DefineStep define:
                    preprocessor.Define(define.Name, define.Value);
                    break;
                case FileStep file:
                    string path = Path.Combine(includeDirectory, file.RelativePath);
                    if (!File.Exists(path))
                    {
                        throw new MissingSourceException($"kernel uapi header {path} is missing: install Debian's linux-libc-dev (apt-get install linux-libc-dev)");
                    }

                    preprocessor.Process(File.ReadAllText(path), path);
                    break;
                case SnippetStep snippet:
                    preprocessor.Process(snippet.Text, snippet.Source);
                    break;
            }
        }

        return Numbers(preprocessor.Macros, arch);
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
    /// The input a real C preprocessor would need to define the same macros as <see cref="MachineNumbers"/> for
    /// <paramref name="arch"/> (the tests cross-check with <c>cpp -dM</c>). Includes of <c>&lt;asm/...&gt;</c> inside
    /// the headers must resolve to empty files.
    /// </summary>
    internal static string CppInput(string arch, string includeDirectory = "/usr/include")
    {
        var text = new StringBuilder();
        foreach (HeaderStep step in ArchitectureSpec.MachineHeaders[arch])
        {
            text.Append(step switch
            {
                DefineStep define => $"#define {define.Name} {define.Value}\n",
                FileStep file => $"#include \"{Path.Combine(includeDirectory, file.RelativePath)}\"\n",
                SnippetStep snippet => snippet.Text + "\n",
                _ => "",
            });
        }

        return text.ToString();
    }

    /// <summary>An argument list as a table line writes it: C parameters separated by <c>", "</c>.</summary>
    private static string Arguments(GeneratedSyscall s) =>
        string.Join(", ", s.ArgNames.Select((name, i) => PrototypeFile.FormatArgument(new Parameter(s.ArgTypes[i], name))));

    private string Render(Snapshot snapshot)
    {
        var w = new StringBuilder();
        w.Append("// <auto-generated>\n");
        w.Append("//   Generated by tools/Syscage.Generator from the repository's facts, whatever the machine:\n");
        w.Append("//     ").Append(SyscallCsv.RelativePath).Append(" (libseccomp's syscalls.csv, ").Append(snapshot.Numbers.Version).Append("): the numbers,\n");
        w.Append("//     ").Append(ArchitecturesRelativePath).Append(" (linux/audit.h, linux/elf-em.h, the number bases): AUDIT_ARCH_* and the x32 and mips bases,\n");
        w.Append("//     ").Append(PrototypeFile.RelativePath).Append(": argument names and types.\n");
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

        w.Append("/// <summary>The syscall numbers of each architecture, as <c>seccomp_data.nr</c> holds them, with their arguments.</summary>\n");
        w.Append("internal static class SyscallTables\n{\n");
        w.Append("    /// <summary>The kernel version the numbers are from (").Append(Xml(snapshot.Numbers.Version)).Append(").</summary>\n");
        w.Append("    internal const string KernelVersion = \"").Append(snapshot.Numbers.KernelVersion).Append("\";\n\n");
        w.Append("    /// <summary><c>__AUDIT_ARCH_64BIT</c>: set in the <c>AUDIT_ARCH_*</c> of an ABI with 64-bit registers.</summary>\n");
        w.Append("    internal const uint AuditArch64Bit = 0x").Append(snapshot.AuditFlags.Bits64.ToString("X8", CultureInfo.InvariantCulture)).Append(";\n\n");
        w.Append("    /// <summary><c>__AUDIT_ARCH_LE</c>: set in the <c>AUDIT_ARCH_*</c> of a little-endian ABI.</summary>\n");
        w.Append("    internal const uint AuditArchLittleEndian = 0x").Append(snapshot.AuditFlags.LittleEndian.ToString("X8", CultureInfo.InvariantCulture)).Append(";\n");
        foreach ((string macro, long value) in snapshot.Bases)
        {
            w.Append('\n');
            w.Append("    /// <summary><c>").Append(macro).Append("</c>: ")
                .Append(macro == ArchitectureSpec.X32BitMacro ? "carried by every x32 syscall number" : "the first syscall number of its mips ABI")
                .Append(".</summary>\n");
            w.Append("    internal const int ").Append(BaseConstants[macro]).Append(" = ")
                .Append(macro == ArchitectureSpec.X32BitMacro
                    ? "0x" + value.ToString("X8", CultureInfo.InvariantCulture)
                    : value.ToString(CultureInfo.InvariantCulture))
                .Append(";\n");
        }

        w.Append('\n');
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

        w.Append("    };\n\n");

        // The argument list most architectures give a call is written once; a table line repeats it only where it differs.
        var common = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var byName in snapshot.Tables.SelectMany(t => t.Syscalls).GroupBy(s => s.Name))
        {
            string chosen = byName.GroupBy(Arguments).OrderByDescending(g => g.Count()).First().Key;
            if (chosen.Length > 0)
            {
                common[byName.Key] = chosen;
            }
        }

        w.Append("    /// <summary>\n");
        w.Append("    /// The arguments of each call as most architectures take them, one call a line: the name, then the C parameters in\n");
        w.Append("    /// the order of <c>seccomp_data.args</c>. A table line that gives <c>=</c> and a list (perhaps empty) overrides it.\n");
        w.Append("    /// </summary>\n");
        w.Append("    internal const string Prototypes = \"\"\"\n");
        foreach ((string name, string arguments) in common)
        {
            w.Append("        ").Append(name).Append(' ').Append(arguments).Append('\n');
        }

        w.Append("        \"\"\";\n");

        // Architectures that share a column of the CSV and its number base (mips and mipsel, ppc64 and ppc64le...) have the
        // same table: it is written once, and the others name it.
        var written = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (GeneratedTable table in snapshot.Tables)
        {
            ArchitectureSpec spec = table.Spec;
            string body = TableBody(table, common);
            bool repeated = written.TryGetValue(body, out string? same);
            w.Append('\n');
            w.Append("    /// <summary>\n");
            w.Append("    /// ").Append(spec.Name).Append(": ").Append(table.Syscalls.Count.ToString(CultureInfo.InvariantCulture))
                .Append(" system calls (").Append(table.Syscalls.Count(s => s.ArgNames.Count > 0).ToString(CultureInfo.InvariantCulture))
                .Append(" with argument names), the ").Append(spec.Column).Append(" column of ").Append(SyscallCsv.RelativePath);
            if (spec.NumberBaseMacro is not null)
            {
                w.Append(spec.NumberBaseMacro == ArchitectureSpec.X32BitMacro ? " with " : " plus ").Append("<c>").Append(spec.NumberBaseMacro).Append("</c>");
            }

            w.Append("; ").Append(spec.Is64Bit ? "64-bit" : "32-bit").Append(", ").Append(spec.BigEndian ? "big-endian" : "little-endian").Append(".\n");
            if (repeated)
            {
                w.Append("    /// The same table as <see cref=\"").Append(same).Append("\"/>.\n");
                w.Append("    /// </summary>\n");
                w.Append("    internal const string ").Append(spec.Identifier).Append(" = ").Append(same).Append(";\n");
                continue;
            }

            written.Add(body, spec.Identifier);
            w.Append("    /// One call a line: name, number, and <c>=</c> with the arguments where they differ from <see cref=\"Prototypes\"/>.\n");
            w.Append("    /// </summary>\n");
            w.Append("    internal const string ").Append(spec.Identifier).Append(" = \"\"\"\n");
            w.Append(body);
            w.Append("        \"\"\";\n");
        }

        w.Append("}\n");
        return w.ToString();
    }

    /// <summary>The lines of <paramref name="table"/>'s constant: name, number, and the arguments where they differ from <paramref name="common"/>.</summary>
    private static string TableBody(GeneratedTable table, SortedDictionary<string, string> common)
    {
        var w = new StringBuilder();
        foreach (GeneratedSyscall syscall in table.Syscalls)
        {
            w.Append("        ").Append(syscall.Name).Append(' ');
            w.Append(table.Spec.NumberBaseMacro == ArchitectureSpec.X32BitMacro
                ? "0x" + syscall.Number.ToString("x8", CultureInfo.InvariantCulture)
                : syscall.Number.ToString(CultureInfo.InvariantCulture));
            string arguments = Arguments(syscall);
            if (arguments != common.GetValueOrDefault(syscall.Name, ""))
            {
                w.Append(" =").Append(arguments.Length > 0 ? " " + arguments : "");
            }

            w.Append('\n');
        }

        return w.ToString();
    }

    private static string Xml(string text)
        => text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);

    [GeneratedRegex(@"^[a-z_][a-z0-9_]*$", RegexOptions.CultureInvariant)]
    private static partial Regex SyscallName();

    [GeneratedRegex(@"\s+", RegexOptions.CultureInvariant)]
    private static partial Regex WhiteSpace();
}
