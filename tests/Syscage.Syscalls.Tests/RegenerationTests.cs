using System.Diagnostics;
using System.Text;
using Syscage.Generator;

namespace Syscage.Syscalls.Tests;

/// <summary>
/// The committed SyscallTables.g.cs must be what the generator makes from the headers on this machine
/// (STYLE.md: "a test regenerates and fails on a diff").
/// </summary>
public class RegenerationTests
{
    [Fact]
    public void CommittedTablesMatchTheHeadersOnThisMachine()
    {
        string expected = GenerateOrFail(new SyscallTableGenerator(Prototypes));
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
        Assert.Equal(GenerateOrFail(new SyscallTableGenerator(Prototypes)), GenerateOrFail(new SyscallTableGenerator(Prototypes)));
    }

    [Fact]
    public void MissingKernelHeadersFailWithTheDebianPackageName()
    {
        string empty = Directory.CreateTempSubdirectory("syscage-no-headers-").FullName;
        try
        {
            var e = Assert.Throws<MissingSourceException>(() => new SyscallTableGenerator(Prototypes, includeDirectory: empty).Generate());
            Assert.Contains("linux-libc-dev", e.Message, StringComparison.Ordinal);
            Assert.Contains(empty, e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(empty, recursive: true);
        }
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
            expected = PrototypeExtraction.Extract(Prototypes, "/usr/share/man/man2", new SyscallTableGenerator(Prototypes).SyscallNames());
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
    /// The generator evaluates the headers' #if conditions itself; the C preprocessor, given the same defines and
    /// files, must leave the same __NR_* macros with the same values.
    /// </summary>
    [Fact]
    public void TheCPreprocessorAgreesOnEveryTable()
    {
        var generator = new SyscallTableGenerator(Prototypes);
        SyscallTableGenerator.Snapshot snapshot;
        try
        {
            snapshot = generator.Read();
        }
        catch (MissingSourceException e)
        {
            Assert.Fail(e.Message);
            return;
        }

        string cpp = Syscage.Testing.NativeBuild.FindOnPath("cpp") ?? throw new InvalidOperationException(
            "the C preprocessor 'cpp' is not on PATH: install Debian's cpp (apt-get install cpp) to cross-check the syscall tables");

        // The headers' own #include <asm/...> lines must find nothing: the generator skips them and supplies
        // their one needed definition (__BITS_PER_LONG) itself.
        string stubs = Directory.CreateTempSubdirectory("syscage-cpp-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(stubs, "asm"));
            foreach (string stub in new[] { "bitsperlong.h", "unistd_32.h", "unistd_64.h", "unistd_x32.h" })
            {
                File.WriteAllText(Path.Combine(stubs, "asm", stub), "");
            }

            int compared = 0;
            foreach (SyscallTableGenerator.GeneratedTable table in snapshot.Tables)
            {
                string? input = generator.CppInput(table.Spec);
                if (input is null)
                {
                    Assert.Empty(table.Syscalls);
                    continue;
                }

                string defines = Run(cpp, ["-undef", "-nostdinc", "-dM", "-I", stubs, "-x", "c", "-"], input);
                var preprocessor = new HeaderPreprocessor();
                preprocessor.Process(defines, $"cpp -dM ({table.Spec.Name})");
                var fromCpp = SyscallTableGenerator.Numbers(preprocessor.Macros, table.Spec.Name)
                    .Select(n => $"{n.Name}={n.Number}").ToList();
                var fromGenerator = table.Syscalls.Select(s => $"{s.Name}={s.Number}").ToList();
                Assert.True(
                    fromCpp.SequenceEqual(fromGenerator),
                    $"{table.Spec.Name}: cpp and the generator disagree.\n"
                    + $"  only cpp: {string.Join(", ", fromCpp.Except(fromGenerator))}\n"
                    + $"  only generator: {string.Join(", ", fromGenerator.Except(fromCpp))}\n--- cpp input ---\n{input}");
                compared++;
            }

            Assert.Equal(5, compared);
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
