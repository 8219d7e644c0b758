using Syscage.Generator;

// dotnet run --project tools/Syscage.Generator -- <repo-root> [--check] [--extract-prototypes] [--include-dir DIR] [--man-dir DIR]
//   Writes src/Syscage/Abi/SyscallTables.g.cs under <repo-root> from the repository's facts alone (facts/syscalls.csv,
//   facts/architectures.h, facts/syscall-prototypes.csv), and Errno.g.cs, Constants.g.cs, Uapi.g.cs, Signals.g.cs and
//   HelperIds.g.cs from the headers on this machine and facts/uapi-newer.h. With --extract-prototypes, first
//   rewrites the man rows of that file from the man pages (its kernel rows are kept). With --check, writes nothing and
//   exits 1 when a committed file differs from what would be written.
// Exit codes: 0 ok, 1 --check found a difference, 2 usage error or a missing source.
string? root = null;
bool check = false;
bool extract = false;
string includeDirectory = "/usr/include";
string manDirectory = "/usr/share/man/man2";
const string Usage = "usage: Syscage.Generator <repo-root> [--check] [--extract-prototypes] [--include-dir /usr/include] [--man-dir /usr/share/man/man2]";
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--check":
            check = true;
            break;
        case "--extract-prototypes":
            extract = true;
            break;
        case "--include-dir" when i + 1 < args.Length:
            includeDirectory = args[++i];
            break;
        case "--man-dir" when i + 1 < args.Length:
            manDirectory = args[++i];
            break;
        case "-h" or "--help":
            Console.WriteLine(Usage);
            return 0;
        default:
            if (root is not null || args[i].StartsWith('-'))
            {
                Console.Error.WriteLine($"Syscage.Generator: unexpected argument '{args[i]}' (try --help)");
                return 2;
            }

            root = args[i];
            break;
    }
}

if (root is null || !Directory.Exists(root))
{
    Console.Error.WriteLine(Usage);
    return 2;
}

string prototypesFile = Path.Combine(root, PrototypeFile.RelativePath);
var generator = new SyscallTableGenerator(root);
int exit = 0;

bool Emit(string relativePath, string text)
{
    string output = Path.Combine(root, relativePath);
    string? current = File.Exists(output) ? File.ReadAllText(output) : null;
    if (current == text)
    {
        Console.WriteLine($"{relativePath} is up to date");
        return true;
    }

    if (check)
    {
        Console.Error.WriteLine($"{relativePath} differs from what the sources on this machine give; run: "
            + (relativePath == PrototypeFile.RelativePath ? PrototypeExtraction.Command : SyscallTableGenerator.RegenerateCommand));
        exit = 1;
        return false;
    }

    Directory.CreateDirectory(Path.GetDirectoryName(output)!);
    File.WriteAllText(output, text);
    Console.WriteLine($"wrote {output}");
    return true;
}

try
{
    if (extract && !Emit(PrototypeFile.RelativePath, PrototypeExtraction.Extract(prototypesFile, manDirectory, generator.SyscallNames())))
    {
        return exit; // --check: the tables would be made from a file that is about to change
    }

    Emit(SyscallTableGenerator.OutputRelativePath, generator.Generate());
    Emit(ErrnoTableGenerator.OutputRelativePath, new ErrnoTableGenerator(includeDirectory).Generate());
    var constants = new ConstantsTableGenerator(includeDirectory, Path.Combine(root, ConstantsTableGenerator.NewerFactsRelativePath));
    Emit(ConstantsTableGenerator.OutputRelativePath, constants.Generate());
    Emit(ConstantsTableGenerator.UapiOutputRelativePath, constants.GenerateUapi());
    Emit(SignalTableGenerator.OutputRelativePath, new SignalTableGenerator(includeDirectory).Generate());
    Emit(HelperIdTableGenerator.OutputRelativePath, new HelperIdTableGenerator(includeDirectory).Generate());
}
catch (MissingSourceException e)
{
    Console.Error.WriteLine($"Syscage.Generator: {e.Message}");
    return 2;
}
catch (InvalidDataException e)
{
    Console.Error.WriteLine($"Syscage.Generator: {e.Message}");
    return 2;
}

if (!check)
{
    foreach (string line in generator.Summarize())
    {
        Console.WriteLine("  " + line);
    }
}

return exit;
