using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using Syscage.Bpf;
using Syscage.Policy;
using Syscage.Policy.Builtin;
using Syscage.Policy.Compiler;

namespace Syscage.Cli;

/// <summary>
/// The built-in policies compiled when the tool is built, so that <c>syscage run</c> under one of them starts without
/// parsing its text and compiling it (about 3 ms of a start of a few ms). The policies stay the only owner of what
/// they allow: tools/Syscage.BuiltinCache runs <see cref="Write"/> at build time — the same loader and compiler as at
/// run time — and the tool embeds what it writes. An entry is used only when it was made from exactly the policy text
/// this build carries (a fingerprint of every <c>.policy</c> resource of the library) for exactly the architectures a
/// policy covers here by default; otherwise the policy is read and compiled as before. Only policies whose every
/// decision is the kernel's (no NOTIFY, no EBPF rules) are cached: a compiled program is all such a run needs.
/// This file is compiled into both the tool and tools/Syscage.BuiltinCache.
/// </summary>
internal static class BuiltinPrograms
{
    /// <summary>The manifest resource name of the cache in Syscage.Cli.</summary>
    public const string ResourceName = "Syscage.Cli.builtin-programs.txt";

    private const string Header = "syscage builtin programs 1";

    private static readonly Lazy<Dictionary<string, BpfProgram>?> Entries = new(Read);

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
        return Entries.Value?.TryGetValue(input, out program) == true;
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
    }

    private static Dictionary<string, BpfProgram>? Read()
    {
        using var stream = typeof(BuiltinPrograms).Assembly.GetManifestResourceStream(ResourceName);
        if (stream is null)
            return null;
        using var reader = new StreamReader(stream, Encoding.UTF8);
        if (reader.ReadLine() != Header)
            return null;
        string fingerprint = Fingerprint(), architectures = DefaultArchitectures();
        var entries = new Dictionary<string, BpfProgram>(StringComparer.Ordinal);
        while (reader.ReadLine() is { } line)
        {
            string[] fields = line.Split('\t');
            if (fields.Length != 4 || fields[1] != architectures || fields[2] != fingerprint)
                continue;
            // Through the validator, like every program that leaves the library.
            entries[fields[0]] = BpfProgram.FromBytes(Convert.FromBase64String(fields[3]));
        }
        return entries;
    }

    private static string DefaultArchitectures() => string.Join(",", PolicyBuilder.DefaultArchitectures.Select(a => a.Name));

    /// <summary>FNV-1a (64 bits) over the name and bytes of every <c>.policy</c> resource of the library, in name order.</summary>
    private static string Fingerprint()
    {
        var assembly = typeof(BuiltinPolicies).Assembly;
        ulong hash = 0xcbf29ce484222325;
        void Add(ReadOnlySpan<byte> bytes)
        {
            foreach (byte b in bytes)
                hash = (hash ^ b) * 0x100000001b3;
        }
        foreach (string name in assembly.GetManifestResourceNames().Where(n => n.EndsWith(".policy", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            Add(Encoding.UTF8.GetBytes(name + "\n"));
            using var stream = assembly.GetManifestResourceStream(name)!;
            var buffer = new byte[stream.Length];
            stream.ReadExactly(buffer);
            Add(buffer);
            Add("\n"u8);
        }
        return hash.ToString("x16", CultureInfo.InvariantCulture);
    }
}
