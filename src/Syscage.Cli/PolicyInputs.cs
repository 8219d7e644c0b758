using Syscage.Bpf;
using Syscage.Policy;
using Syscage.Policy.Compiler;
using Syscage.Policy.Language;
using Syscage.Policy.Oci;
using Syscage.Abi;
using Syscage.Policy.Builtin;

namespace Syscage.Cli;

/// <summary>
/// What a verb's POLICY argument can be: a <c>.policy</c> file, an OCI/Docker <c>.json</c> profile, a built-in
/// policy name — or, where a program will do, a raw <c>.bpf</c> filter or assembler text.
/// </summary>
public static class PolicyInputs
{
    /// <summary>True when <paramref name="input"/> names a program rather than a policy.</summary>
    public static bool IsProgram(string input) =>
        input.EndsWith(".bpf", StringComparison.OrdinalIgnoreCase) || ProgramFiles.IsText(input);

    /// <summary>
    /// Loads a policy, covering <paramref name="arches"/> instead of its own architectures when given. An OCI
    /// profile's warnings (syscalls this machine's tables don't know, ignored fields) go to <paramref name="warnings"/>,
    /// the first few in full.
    /// </summary>
    public static SeccompPolicy LoadPolicy(string input, IReadOnlyList<Architecture>? arches = null, TextWriter? warnings = null)
    {
        if (!input.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            return PolicyLoader.Load(input, new PolicyParseOptions { Architectures = arches });
        if (arches is not null)
            throw new CliException(ExitCode.Usage, $"{input}: an OCI profile chooses its architectures (architectures, archMap); --arch is for .policy files");
        if (!File.Exists(input))
            throw new CliException(ExitCode.IoError, $"{input}: no such file");
        var profile = OciProfileLoader.Load(input, new OciOptions { FileName = input });
        if (warnings is not null && profile.Warnings.Count > 0)
        {
            const int shown = 3;
            foreach (var w in profile.Warnings.Take(shown))
                warnings.WriteLine($"syscage: {w}");
            if (profile.Warnings.Count > shown)
                warnings.WriteLine($"syscage: ... and {profile.Warnings.Count - shown} more warnings like these");
        }
        return profile.Policy;
    }

    /// <summary>A program from <paramref name="input"/>: read as is, or compiled from the policy it names.</summary>
    public static BpfProgram LoadProgram(string input, Architecture arch, bool optimize = true)
    {
        if (IsProgram(input))
            return ProgramFiles.ReadProgram(input, arch);
        return PolicyCompiler.Compile(LoadPolicy(input), new CompileOptions { Optimize = optimize });
    }

    /// <summary>Parses <c>--arch x86_64,x86</c>.</summary>
    public static IReadOnlyList<Architecture>? ParseArchList(string? list) =>
        list is null ? null : list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(ProgramFiles.ParseArch).ToList();
}
