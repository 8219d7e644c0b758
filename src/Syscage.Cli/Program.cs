namespace Syscage.Cli;

/// <summary>Entry point of the <c>syscage</c> tool.</summary>
public static class Program
{
    /// <summary>Runs the command line.</summary>
    public static int Main(string[] args) => CliApp.Run(args, ConsoleWriter.Out, ConsoleWriter.Error);
}
