using Syscage.Bpf;
using Syscage.Abi;

namespace Syscage.Cli;

/// <summary>Reads program files for the verbs: raw <c>sock_filter</c> bytes, or assembler text by extension.</summary>
public static class ProgramFiles
{
    /// <summary>Extensions read as assembler text; everything else is raw bytes.</summary>
    public static readonly string[] TextExtensions = [".asm", ".s", ".bpfasm"];

    /// <summary>True when <paramref name="path"/> names assembler text.</summary>
    public static bool IsText(string path) => TextExtensions.Contains(Path.GetExtension(path), StringComparer.OrdinalIgnoreCase);

    /// <summary>Reads instructions, valid or not; errors carry the file name and position.</summary>
    public static Instruction[] ReadInstructions(string path, Architecture arch)
    {
        if (IsText(path))
        {
            string text = ReadText(path);
            if (!Assembler.TryAssemble(text, out var result, out var error, path, arch))
                throw new CliException(ExitCode.BadInput, error.ToString());
            return result.Instructions;
        }
        byte[] bytes = ReadBytes(path);
        if (!SockFilter.TryRead(bytes, out var insns, out var message))
            throw new CliException(ExitCode.BadInput, $"{path}: {message}");
        return insns;
    }

    /// <summary>Reads and validates a program; a rejection is reported as bad input with its pc.</summary>
    public static BpfProgram ReadProgram(string path, Architecture arch)
    {
        if (IsText(path))
        {
            if (!Assembler.TryAssembleProgram(ReadText(path), out var p, out var error, path, arch))
                throw new CliException(ExitCode.BadInput, error.ToString());
            return p;
        }
        var insns = ReadInstructions(path, arch);
        if (!Validator.TryValidate(insns, out var program, out var invalid))
            throw new CliException(ExitCode.BadInput, $"{path}: {invalid}");
        return program;
    }

    /// <summary>
    /// Reads a binary file (or stdin for <c>-</c>), at most <see cref="InputLimits.MaxBinaryBytes"/>, with a clean error
    /// for a missing file.
    /// </summary>
    public static byte[] ReadBytes(string path)
    {
        if (path == "-")
        {
            using var stdin = Console.OpenStandardInput();
            return InputFile.ReadBinary(stdin, "<stdin>");
        }
        CheckExists(path);
        return InputFile.ReadBinary(path);
    }

    /// <summary>Reads a text file (or stdin for <c>-</c>) as UTF-8, at most <see cref="InputLimits.MaxTextBytes"/>.</summary>
    public static string ReadText(string path)
    {
        if (path == "-")
        {
            using var stdin = Console.OpenStandardInput();
            return System.Text.Encoding.UTF8.GetString(InputFile.ReadTextBytes(stdin, "<stdin>"));
        }
        CheckExists(path);
        return InputFile.ReadText(path);
    }

    private static void CheckExists(string path)
    {
        if (!File.Exists(path))
            throw new CliException(ExitCode.IoError, Directory.Exists(path) ? $"{path}: is a directory" : $"{path}: no such file");
    }

    /// <summary>Parses <c>--arch</c>, with the valid names in the error.</summary>
    public static Architecture ParseArch(string? name)
    {
        if (name is null)
            return Architecture.Native;
        if (Architecture.TryParse(name, out var arch))
            return arch;
        throw new CliException(ExitCode.Usage,
            $"unknown architecture '{name}'; known: {string.Join(", ", Architecture.All.Select(a => a.Name))} (or their SCMP_ARCH_* and AUDIT_ARCH_* names)");
    }
}
