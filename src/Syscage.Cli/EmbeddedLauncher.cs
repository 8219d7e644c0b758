using Syscage.Supervision;

namespace Syscage.Cli;

/// <summary>
/// The launcher <c>syscage-exec</c> built into the tool (an embedded resource of the RID it was built for), so that a
/// published <c>syscage</c> is one file: the verbs that start commands load it into a sealed memfd
/// (<see cref="CommandRun.UseLauncher"/>). <c>$SYSCAGE_EXEC</c> still names another copy.
/// </summary>
internal static class EmbeddedLauncher
{
    /// <summary>Makes the embedded launcher the default one; without it (a build that has none), the library looks for the file.</summary>
    public static unsafe void Use()
    {
        using var stream = typeof(EmbeddedLauncher).Assembly.GetManifestResourceStream("syscage-exec");
        switch (stream)
        {
            case null:
                return;
            case UnmanagedMemoryStream mapped: // the resource as it lies in the executable: no copy
                CommandRun.UseLauncher(new ReadOnlySpan<byte>(mapped.PositionPointer, checked((int)mapped.Length)));
                return;
            default:
                var image = new byte[stream.Length];
                stream.ReadExactly(image);
                CommandRun.UseLauncher(image);
                return;
        }
    }
}
