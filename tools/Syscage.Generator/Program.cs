using Syscage.Generator;

// dotnet run --project tools/Syscage.Generator -- <repo-root> [--check] [--include-dir DIR] [--man-dir DIR]
//   Writes src/Syscage/Policy/Syscalls/SyscallTables.g.cs, Errno.g.cs and src/Syscage/Policy/Constants.g.cs under <repo-root>; with --check, writes
//   nothing and exits 1 when a committed file differs from what the headers on this machine give.
// Exit codes: 0 ok, 1 --check found a difference, 2 usage error or a missing source.
string? root = null;
bool check = false;
string includeDirectory = "/usr/include";
string manDirectory = "/usr/share/man/man2";
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--check":
            check = true;
            break;
        case "--include-dir" when i + 1 < args.Length:
            includeDirectory = args[++i];
            break;
        case "--man-dir" when i + 1 < args.Length:
            manDirectory = args[++i];
            break;
        case "-h" or "--help":
            Console.WriteLine("usage: Syscage.Generator <repo-root> [--check] [--include-dir /usr/include] [--man-dir /usr/share/man/man2]");
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
    Console.Error.WriteLine("usage: Syscage.Generator <repo-root> [--check] [--include-dir /usr/include] [--man-dir /usr/share/man/man2]");
    return 2;
}

var generator = new SyscallTableGenerator(includeDirectory, manDirectory);
var outputs = new List<(string RelativePath, string Text)>();
try
{
    outputs.Add((SyscallTableGenerator.OutputRelativePath, generator.Generate()));
    outputs.Add((ErrnoTableGenerator.OutputRelativePath, new ErrnoTableGenerator(includeDirectory).Generate()));
    outputs.Add((ConstantsTableGenerator.OutputRelativePath, new ConstantsTableGenerator(includeDirectory).Generate()));
}
catch (MissingSourceException e)
{
    Console.Error.WriteLine($"Syscage.Generator: {e.Message}");
    return 2;
}

int exit = 0;
foreach (var (relativePath, text) in outputs)
{
    string output = Path.Combine(root, relativePath);
    string? current = File.Exists(output) ? File.ReadAllText(output) : null;
    if (current == text)
    {
        Console.WriteLine($"{relativePath} is up to date");
    }
    else if (check)
    {
        Console.Error.WriteLine($"{relativePath} differs from the headers on this machine; run: {SyscallTableGenerator.RegenerateCommand}");
        exit = 1;
    }
    else
    {
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        File.WriteAllText(output, text);
        Console.WriteLine($"wrote {output}");
    }
}

if (!check)
{
    foreach (string line in generator.Summarize())
    {
        Console.WriteLine("  " + line);
    }
}

return exit;
