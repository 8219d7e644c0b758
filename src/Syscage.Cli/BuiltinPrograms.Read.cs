using System.Diagnostics.CodeAnalysis;
using System.Text;
using Syscage.Bpf;
using Syscage.Policy;
using Syscage.Policy.Builtin;
using Syscage.Supervision;

namespace Syscage.Cli;

/// <summary>The reader of the built-in programs cache the tool was compiled with (BuiltinPrograms.cs says what it holds).</summary>
internal static partial class BuiltinPrograms
{
    /// <summary>The cache's entries this build may use (base64, decoded when asked for), and its guards; null without a cache.</summary>
    private static readonly Lazy<(Dictionary<string, string> Programs, string? Guards)?> Cache = new(Read);

    /// <summary>
    /// The compiled form of built-in policy <paramref name="input"/>, when <paramref name="input"/> names a built-in
    /// policy (as <see cref="PolicyLoader"/> reads it: not a <c>.json</c> or <c>.policy</c> path, no <c>/</c>, no such
    /// file) and this build holds it for this machine.
    /// </summary>
    public static bool TryGet(string input, [NotNullWhen(true)] out BpfProgram? program)
    {
        program = null;
        if (input.Length == 0 || input.Contains('/', StringComparison.Ordinal) || input.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ||
            input.EndsWith(".policy", StringComparison.Ordinal) || File.Exists(input))
            return false;
        if (Cache.Value?.Programs.TryGetValue(input, out string? base64) != true)
            return false;
        // Through the validator, like every program that leaves the library.
        program = BpfProgram.FromBytes(Convert.FromBase64String(base64!));
        return true;
    }

    /// <summary>
    /// Hands the guards compiled with this build to the library (<see cref="SandboxSession.ImportCompiledGuards"/>), so that
    /// a run does not compile them at its start; false when this build holds none, or the library refuses them (they
    /// come from another build of it) and compiles its own.
    /// </summary>
    public static bool UseCompiledGuards() =>
        Cache.Value?.Guards is { } guards && SandboxSession.ImportCompiledGuards(Encoding.UTF8.GetString(Convert.FromBase64String(guards)));

    private static (Dictionary<string, string> Programs, string? Guards)? Read()
    {
        if (EmbeddedData.BuiltinCache.IsEmpty)
            return null;
        string[] lines = Encoding.UTF8.GetString(EmbeddedData.BuiltinCache).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines[0] != Header)
            return null;
        string? fingerprint = null, architectures = null, guards = null;
        var programs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in lines.AsSpan(1))
        {
            string[] fields = line.Split('\t');
            if (fields.Length == 2 && fields[0] == GuardsKey)
                guards = fields[1];
            else if (fields.Length == 4 && fields[1] == (architectures ??= DefaultArchitectures()) && fields[2] == (fingerprint ??= Fingerprint()))
                programs[fields[0]] = fields[3];
        }
        return (programs, guards);
    }
}
