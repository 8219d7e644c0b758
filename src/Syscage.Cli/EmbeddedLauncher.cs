using Syscage.Supervision;

namespace Syscage.Cli;

/// <summary>
/// The launcher <c>syscage-exec</c> built into the tool (<see cref="EmbeddedData.Launcher"/>, for the RID it was built
/// for), so that a published <c>syscage</c> is one file: the verbs that start commands load it into a sealed memfd
/// (<see cref="CommandRun.UseLauncher"/>). <c>$SYSCAGE_EXEC</c> still names another copy.
/// </summary>
internal static class EmbeddedLauncher
{
    /// <summary>Makes the embedded launcher the default one; without it (a build that has none), the library looks for the file.</summary>
    public static void Use()
    {
        if (!EmbeddedData.Launcher.IsEmpty)
            CommandRun.UseLauncher(EmbeddedData.Launcher);
    }
}
