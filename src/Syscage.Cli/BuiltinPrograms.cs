using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using Syscage.Bpf;
using Syscage.Policy;
using Syscage.Policy.Builtin;
using Syscage.Policy.Compiler;
using Syscage.Supervision;

namespace Syscage.Cli;

/// <summary>
/// The built-in policies compiled when the tool is built, so that <c>syscage run</c> under one of them starts without
/// parsing its text and compiling it (about 3 ms of a start of a few ms). The policies stay the only owner of what
/// they allow: tools/Syscage.BuiltinCache runs <see cref="Write"/> at build time — the same loader and compiler as at
/// run time — and the tool embeds what it writes. An entry is used only when it was made from exactly the policy text
/// this build carries (the library's module version id, which covers its <c>.policy</c> resources) for exactly the architectures a
/// policy covers here by default; otherwise the policy is read and compiled as before. Only policies whose every
/// decision is the kernel's (no NOTIFY, no EBPF rules) are cached: a compiled program is all such a run needs.
/// This file is compiled into both the tool and tools/Syscage.BuiltinCache.
/// </summary>
internal static class BuiltinPrograms
{
    /// <summary>The manifest resource name of the cache in Syscage.Cli.</summary>
    public const string ResourceName = "Syscage.Cli.builtin-programs.txt";

    private const string Header = "syscage builtin programs 2";

    /// <summary>The cache's entries this build may use (base64, decoded when asked for), and its guards; null without a cache.</summary>
    private static readonly Lazy<(Dictionary<string, string> Programs, string? Guards)?> Cache = new(Read);

    private const string GuardsKey = "guards";

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

    /// <summary>Writes one entry for each built-in policy the kernel alone decides, compiled for this machine.</summary>
    public static void Write(TextWriter output)
    {
        string fingerprint = Fingerprint(), architectures = DefaultArchitectures();
        output.Write(Header + "\n");
        foreach (string name in BuiltinPolicies.Names)
        {
            var policy = PolicyLoader.Load(name);
            if (policy.UsesNotify || policy.Rules.Any(r => r.Route is not KernelRoute))
                continue;
            byte[] bytes = PolicyCompiler.Compile(policy).ToBytes();
            output.Write($"{name}\t{architectures}\t{fingerprint}\t{Convert.ToBase64String(bytes)}\n");
        }
        // The supervisor's guards (SandboxSession.ExportCompiledGuards), which the library takes only from its own build.
        output.Write($"{GuardsKey}\t{Convert.ToBase64String(Encoding.UTF8.GetBytes(SandboxSession.ExportCompiledGuards()))}\n");
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
        using var stream = typeof(BuiltinPrograms).Assembly.GetManifestResourceStream(ResourceName);
        if (stream is null)
            return null;
        using var reader = new StreamReader(stream, Encoding.UTF8);
        if (reader.ReadLine() != Header)
            return null;
        string? fingerprint = null, architectures = null, guards = null;
        var programs = new Dictionary<string, string>(StringComparer.Ordinal);
        while (reader.ReadLine() is { } line)
        {
            string[] fields = line.Split('\t');
            if (fields.Length == 2 && fields[0] == GuardsKey)
                guards = fields[1];
            else if (fields.Length == 4 && fields[1] == (architectures ??= DefaultArchitectures()) && fields[2] == (fingerprint ??= Fingerprint()))
                programs[fields[0]] = fields[3];
        }
        return (programs, guards);
    }

    private static string DefaultArchitectures() => string.Join(",", PolicyBuilder.DefaultArchitectures.Select(a => a.Name));

    /// <summary>
    /// This build of the library: its module version id, which a deterministic build derives from everything the assembly
    /// holds — its <c>.policy</c> resources and its compiler included (a changed policy is another id).
    /// </summary>
    private static string Fingerprint() => typeof(BuiltinPolicies).Module.ModuleVersionId.ToString("N");
}
