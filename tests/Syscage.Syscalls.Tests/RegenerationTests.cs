using System.Diagnostics;
using System.Text;
using Syscage.Generator;

namespace Syscage.Syscalls.Tests;

/// <summary>
/// The committed SyscallTables.g.cs must be what the generator makes from the repository's facts, and the other
/// generated files what it makes from the headers on this machine (STYLE.md: "a test regenerates and fails on a diff").
/// </summary>
public class RegenerationTests
{
    [Fact]
    public void CommittedTablesMatchTheFacts()
    {
        string expected = GenerateOrFail(new SyscallTableGenerator(RepositoryRoot()));
        string path = Path.Combine(RepositoryRoot(), SyscallTableGenerator.OutputRelativePath);
        Assert.True(File.Exists(path), $"{path} is missing; generate it with: {SyscallTableGenerator.RegenerateCommand}");
        string committed = File.ReadAllText(path);
        if (committed != expected)
        {
            Assert.Fail(DescribeDifference(SyscallTableGenerator.OutputRelativePath, committed, expected));
        }
    }

    [Fact]
    public void CommittedErrnoTableMatchesTheHeadersOnThisMachine()
    {
        string expected;
        try
        {
            expected = new ErrnoTableGenerator().Generate();
        }
        catch (MissingSourceException e)
        {
            Assert.Fail($"cannot check the errno table: {e.Message}");
            throw;
        }
        string path = Path.Combine(RepositoryRoot(), ErrnoTableGenerator.OutputRelativePath);
        string committed = File.ReadAllText(path);
        if (committed != expected)
            Assert.Fail(DescribeDifference(ErrnoTableGenerator.OutputRelativePath, committed, expected));
        Assert.Equal(1, Syscage.Abi.Errno.Number("EPERM"));
        Assert.Equal(13, Syscage.Abi.Errno.Number("EACCES"));
        Assert.Equal(11, Syscage.Abi.Errno.Number("EWOULDBLOCK"));
        Assert.Equal("EAGAIN", Syscage.Abi.Errno.Name(11));
        Assert.Equal(38, Syscage.Abi.Errno.Number("ENOSYS"));
        Assert.Equal(38, Syscage.Abi.Errno.ENOSYS);
    }

    public static TheoryData<string> GeneratedConstantFiles => ["uapi", "signals", "helpers"];

    [Theory]
    [MemberData(nameof(GeneratedConstantFiles))]
    public void CommittedConstantFilesMatchTheHeadersAndTheNewerFacts(string which)
    {
        string root = RepositoryRoot();
        var (relativePath, expected) = which switch
        {
            "uapi" => (ConstantsTableGenerator.UapiOutputRelativePath,
                       new ConstantsTableGenerator(newerFactsFile: Path.Combine(root, ConstantsTableGenerator.NewerFactsRelativePath)).GenerateUapi()),
            "signals" => (SignalTableGenerator.OutputRelativePath, new SignalTableGenerator().Generate()),
            _ => (HelperIdTableGenerator.OutputRelativePath, new HelperIdTableGenerator().Generate()),
        };
        string committed = File.ReadAllText(Path.Combine(root, relativePath));
        if (committed != expected)
            Assert.Fail(DescribeDifference(relativePath, committed, expected));
    }

    [Fact]
    public void GenerationIsDeterministic()
    {
        Assert.Equal(GenerateOrFail(new SyscallTableGenerator(RepositoryRoot())), GenerateOrFail(new SyscallTableGenerator(RepositoryRoot())));
    }

    /// <summary>The tables come from the repository alone: without its facts the generator stops and names the file.</summary>
    [Fact]
    public void MissingFactsFailWithTheFileName()
    {
        string empty = Directory.CreateTempSubdirectory("syscage-no-facts-").FullName;
        try
        {
            var e = Assert.Throws<MissingSourceException>(() => new SyscallTableGenerator(empty).Generate());
            Assert.Contains(Path.Combine(empty, "facts"), e.Message, StringComparison.Ordinal);
            Assert.Contains("part of the repository", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(empty, recursive: true);
        }
    }

    /// <summary>
    /// facts/architectures.h restates linux/audit.h and linux/elf-em.h (Linux 7.1) and the number bases: every macro of
    /// it that this machine's uapi headers define too (Linux 6.1 has them all but the mips ones) has the same value.
    /// </summary>
    [Fact]
    public void ArchitectureFactsAgreeWithTheMachinesHeaders()
    {
        var facts = new SyscallTableGenerator(RepositoryRoot()).ArchitectureMacros();
        var machine = new HeaderPreprocessor();
        foreach (string header in new[] { "linux/elf-em.h", "linux/audit.h", $"{ArchitectureSpec.X86AsmDirectory}/unistd.h" })
        {
            string path = Path.Combine("/usr/include", header);
            Assert.True(File.Exists(path), $"{path} is missing: install Debian's linux-libc-dev");
            machine.Process(File.ReadAllText(path), path);
        }

        int compared = 0;
        foreach (string macro in facts.Keys)
        {
            if (!machine.Macros.ContainsKey(macro))
            {
                Assert.StartsWith("__NR_", macro, StringComparison.Ordinal); // only the mips bases are not on an amd64 machine
                continue;
            }

            long ours = IntegerExpression.Evaluate(macro, facts, inCondition: false, macro);
            long theirs = IntegerExpression.Evaluate(macro, machine.Macros, inCondition: false, macro);
            Assert.True(ours == theirs, $"{macro}: facts/architectures.h says 0x{ours:x}, this machine's headers 0x{theirs:x}");
            compared++;
        }

        Assert.True(compared >= 40, $"only {compared} macros compared");
    }

    [Fact]
    public void MissingManPagesFailWithTheDebianPackageName()
    {
        string empty = Directory.CreateTempSubdirectory("syscage-no-man-").FullName;
        try
        {
            var e = Assert.Throws<MissingSourceException>(() => PrototypeExtraction.Extract(Prototypes, empty, ["read"]));
            Assert.Contains("manpages-dev", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(empty, recursive: true);
        }
    }

    /// <summary>
    /// The committed prototypes file is what extracting the man pages on this machine gives, with its kernel rows kept:
    /// the man rows record the pages faithfully, and re-extraction loses none of the hand-written kernel rows.
    /// </summary>
    [Fact]
    public void CommittedPrototypesAreTheManPagesOnThisMachinePlusTheKernelRows()
    {
        string expected;
        try
        {
            expected = PrototypeExtraction.Extract(Prototypes, "/usr/share/man/man2", new SyscallTableGenerator(RepositoryRoot()).SyscallNames());
        }
        catch (MissingSourceException e)
        {
            Assert.Fail(e.Message);
            throw;
        }

        string committed = File.ReadAllText(Prototypes);
        if (committed != expected)
        {
            Assert.Fail(DescribeDifference(PrototypeFile.RelativePath, committed, expected, PrototypeExtraction.Command));
        }
    }

    /// <summary>
    /// The numbers of facts/syscalls.csv, as the tables hold them, against this machine's uapi headers (Linux 6.1): every
    /// call the headers of x86_64, x86, x32, aarch64 and riscv64 define has the same number in the tables (the csv is
    /// newer, so it may have more). The headers are read twice, by the generator's own preprocessor and by the C
    /// preprocessor, which must agree.
    /// </summary>
    [Fact]
    public void TheMachinesHeadersAgreeWithTheCsv()
    {
        string cpp = Syscage.Testing.NativeBuild.FindOnPath("cpp") ?? throw new InvalidOperationException(
            "the C preprocessor 'cpp' is not on PATH: install Debian's cpp (apt-get install cpp) to cross-check the syscall tables");

        // The headers' own #include <asm/...> lines must find nothing: the cross-check skips them and supplies
        // their one needed definition (__BITS_PER_LONG) itself.
        string stubs = Directory.CreateTempSubdirectory("syscage-cpp-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(stubs, "asm"));
            foreach (string stub in new[] { "bitsperlong.h", "unistd_32.h", "unistd_64.h", "unistd_x32.h" })
            {
                File.WriteAllText(Path.Combine(stubs, "asm", stub), "");
            }

            foreach (string arch in ArchitectureSpec.MachineHeaders.Keys)
            {
                IReadOnlyList<(string Name, int Number)> fromHeaders;
                try
                {
                    fromHeaders = SyscallTableGenerator.MachineNumbers(arch);
                }
                catch (MissingSourceException e)
                {
                    Assert.Fail(e.Message);
                    return;
                }

                string input = SyscallTableGenerator.CppInput(arch);
                string defines = Run(cpp, ["-undef", "-nostdinc", "-dM", "-I", stubs, "-x", "c", "-"], input);
                var preprocessor = new HeaderPreprocessor();
                preprocessor.Process(defines, $"cpp -dM ({arch})");
                var fromCpp = SyscallTableGenerator.Numbers(preprocessor.Macros, arch);
                Assert.True(
                    fromCpp.SequenceEqual(fromHeaders),
                    $"{arch}: cpp and the generator's preprocessor disagree.\n"
                    + $"  only cpp: {string.Join(", ", fromCpp.Except(fromHeaders))}\n"
                    + $"  only the generator: {string.Join(", ", fromHeaders.Except(fromCpp))}\n--- cpp input ---\n{input}");

                var table = Syscage.Abi.Architecture.Parse(arch).Syscalls;
                var differ = fromHeaders
                    .Where(h => !table.TryGetNumber(h.Name, out int n) || n != h.Number)
                    .Select(h => $"{h.Name}: headers {h.Number}, tables {(table.TryGetNumber(h.Name, out int n) ? n.ToString(System.Globalization.CultureInfo.InvariantCulture) : "none")}")
                    .ToList();
                Assert.True(differ.Count == 0, $"{arch}: the tables disagree with this machine's headers:\n  " + string.Join("\n  ", differ));
                Assert.True(fromHeaders.Count > 250, $"{arch}: only {fromHeaders.Count} calls in the headers");
            }
        }
        finally
        {
            Directory.Delete(stubs, recursive: true);
        }
    }

    internal static string GenerateOrFail(SyscallTableGenerator generator)
    {
        try
        {
            return generator.Generate();
        }
        catch (MissingSourceException e)
        {
            Assert.Fail($"cannot check the syscall tables: {e.Message}");
            throw;
        }
    }

    /// <summary>The repository root, as the shared test library finds it.</summary>
    internal static string RepositoryRoot() => Syscage.Testing.NativeProbe.RepositoryRoot;

    /// <summary>The committed prototypes file.</summary>
    internal static string Prototypes => Path.Combine(RepositoryRoot(), PrototypeFile.RelativePath);

    private static string DescribeDifference(string file, string committed, string expected, string command = SyscallTableGenerator.RegenerateCommand)
    {
        string[] a = committed.Split('\n');
        string[] b = expected.Split('\n');
        var message = new StringBuilder();
        message.Append(file).Append(" is not what the sources on this machine give; regenerate it with:\n    ")
            .Append(command).Append("\nand commit the result. First differing lines (- committed, + generated):\n");
        int shown = 0;
        for (int i = 0; i < Math.Max(a.Length, b.Length) && shown < 20; i++)
        {
            string? left = i < a.Length ? a[i] : null;
            string? right = i < b.Length ? b[i] : null;
            if (left == right)
            {
                continue;
            }

            message.Append("  line ").Append(i + 1).Append(":\n");
            message.Append("    - ").Append(left ?? "<end of file>").Append('\n');
            message.Append("    + ").Append(right ?? "<end of file>").Append('\n');
            shown++;
        }

        int differing = Enumerable.Range(0, Math.Max(a.Length, b.Length))
            .Count(i => (i < a.Length ? a[i] : null) != (i < b.Length ? b[i] : null));
        message.Append(differing).Append(" line(s) differ (").Append(a.Length).Append(" committed, ").Append(b.Length).Append(" generated).");
        return message.ToString();
    }

    private static string Run(string program, string[] arguments, string input)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {program}");
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        process.StandardInput.Write(input);
        process.StandardInput.Close();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)} exited {process.ExitCode}: {error.Result}");
        return output.Result;
    }
}
