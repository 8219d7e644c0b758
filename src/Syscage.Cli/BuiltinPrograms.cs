using System.Text;
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
/// this build carries (the library's <see cref="BuiltinPolicies.BuildIdentity"/>, which covers its <c>.policy</c> resources) for exactly the architectures a
/// policy covers here by default; otherwise the policy is read and compiled as before. Only policies whose every
/// decision is the kernel's (no NOTIFY, no EBPF rules) are cached: a compiled program is all such a run needs.
/// This file, the cache's writer and format, is compiled into both the tool and tools/Syscage.BuiltinCache;
/// BuiltinPrograms.Read.cs, its reader, into the tool, which carries the cache as data it was compiled with
/// (<c>EmbeddedData.BuiltinCache</c>, written by tools/Syscage.BuiltinCache).
/// </summary>
internal static partial class BuiltinPrograms
{
    private const string Header = "syscage builtin programs 2";

    private const string GuardsKey = "guards";

    /// <summary>Writes one entry for each built-in policy the kernel alone decides, compiled for this machine.</summary>
    public static void Write(TextWriter output)
    {
        string fingerprint = BuiltinPolicies.BuildIdentity, architectures = DefaultArchitectures();
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

    private static string DefaultArchitectures() => string.Join(",", PolicyBuilder.DefaultArchitectures.Select(a => a.Name));
}
