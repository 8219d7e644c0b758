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
    /// profile is read against <paramref name="oci"/> (capabilities, kernel version); its warnings (syscalls this
    /// machine's tables don't know, ignored fields) go to <paramref name="warnings"/>, the first few in full, or all
    /// with <see cref="OciInputs.AllWarnings"/>.
    /// </summary>
    public static SeccompPolicy LoadPolicy(string input, IReadOnlyList<Architecture>? arches = null, TextWriter? warnings = null, OciInputs? oci = null) =>
        Load(input, arches, warnings, oci).Policy;

    /// <summary>Like <see cref="LoadPolicy"/>, with the filter flags an OCI profile asks for (<c>flags</c>; none for other policies).</summary>
    public static LoadedPolicy Load(string input, IReadOnlyList<Architecture>? arches = null, TextWriter? warnings = null, OciInputs? oci = null)
    {
        oci ??= OciInputs.None;
        if (!input.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            if (oci.Given)
                throw new CliException(ExitCode.Usage, $"{input}: --cap-add, --cap-drop and --kernel-version are for OCI/Docker profiles (.json)");
            return new LoadedPolicy(PolicyLoader.Load(input, new PolicyParseOptions { Architectures = arches }), []);
        }
        if (arches is not null)
            throw new CliException(ExitCode.Usage, $"{input}: an OCI profile chooses its architectures (architectures, archMap); --arch is for .policy files");
        if (!File.Exists(input))
            throw new CliException(ExitCode.IoError, $"{input}: no such file");
        var profile = OciProfileLoader.Load(input, oci.Options(input));
        if (warnings is not null && profile.Warnings.Count > 0)
        {
            int shown = oci.AllWarnings ? profile.Warnings.Count : 3;
            foreach (var w in profile.Warnings.Take(shown))
                warnings.WriteLine($"syscage: {w}");
            if (profile.Warnings.Count > shown)
                warnings.WriteLine($"syscage: ... and {profile.Warnings.Count - shown} more warnings like these (--verbose lists them all)");
        }
        return new LoadedPolicy(profile.Policy, profile.Flags) { Warnings = profile.Warnings };
    }

    /// <summary>A program from <paramref name="input"/>: read as is, or compiled from the policy it names.</summary>
    public static BpfProgram LoadProgram(string input, Architecture arch, bool optimize = true, OciInputs? oci = null, TextWriter? warnings = null)
    {
        if (IsProgram(input))
        {
            if (oci is { Given: true })
                throw new CliException(ExitCode.Usage, $"{input}: --cap-add, --cap-drop and --kernel-version are for OCI/Docker profiles (.json)");
            return ProgramFiles.ReadProgram(input, arch);
        }
        return PolicyCompiler.Compile(LoadPolicy(input, null, warnings, oci), new CompileOptions { Optimize = optimize });
    }

    /// <summary>Parses <c>--arch x86_64,x86</c>.</summary>
    public static IReadOnlyList<Architecture>? ParseArchList(string? list) =>
        list is null ? null : list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(ProgramFiles.ParseArch).ToList();
}

/// <summary>A policy as a verb loaded it.</summary>
/// <param name="Policy">The policy.</param>
/// <param name="FilterFlags">The <c>SECCOMP_FILTER_FLAG_*</c> names an OCI profile's <c>flags</c> gives (empty otherwise).</param>
public sealed record LoadedPolicy(SeccompPolicy Policy, IReadOnlyList<string> FilterFlags)
{
    /// <summary>The warnings of an OCI profile's loader (empty for other policies: their mistakes are errors).</summary>
    public IReadOnlyList<OciWarning> Warnings { get; init; } = [];
}
