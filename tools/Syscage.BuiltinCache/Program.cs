using Syscage.Cli;

// dotnet Syscage.BuiltinCache.dll OUTPUT: writes the compiled built-in policies (BuiltinPrograms.Write) to OUTPUT.
if (args.Length != 1)
{
    Console.Error.WriteLine("usage: Syscage.BuiltinCache OUTPUT");
    return 2;
}
string output = args[0];
Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
string temporary = output + ".tmp";
using (var writer = new StreamWriter(temporary, append: false, new System.Text.UTF8Encoding(false)))
    BuiltinPrograms.Write(writer);
File.Move(temporary, output, overwrite: true);
return 0;
