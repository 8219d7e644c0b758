using System.CommandLine;
using Syscage.Policy.Oci;

namespace Syscage.Cli;

/// <summary>
/// What an OCI/Docker profile is read against on the command line (<c>--cap-add</c>, <c>--cap-drop</c>,
/// <c>--kernel-version</c>, as Docker decides its <c>includes</c>/<c>excludes</c>), and whether to show every warning
/// (<c>--verbose</c>) rather than the first few.
/// </summary>
/// <param name="CapAdd">Capabilities added to Docker's default set (<c>--cap-add</c>, as Docker spells them: <c>SYS_PTRACE</c>, <c>CAP_SYS_PTRACE</c>, <c>ALL</c>).</param>
/// <param name="CapDrop">Capabilities dropped from it (<c>--cap-drop</c>).</param>
/// <param name="KernelVersion">The kernel release <c>minKernel</c> is compared with (<c>--kernel-version</c>); null: this machine's.</param>
/// <param name="AllWarnings">List every warning of the profile (every unknown syscall name), not the first three.</param>
public sealed record OciInputs(IReadOnlyList<string> CapAdd, IReadOnlyList<string> CapDrop, string? KernelVersion, bool AllWarnings = false)
{
    /// <summary>No option given.</summary>
    public static OciInputs None { get; } = new([], [], null);

    /// <summary>True when a profile option was given (they are for .json profiles only).</summary>
    public bool Given => CapAdd.Count > 0 || CapDrop.Count > 0 || KernelVersion is not null;

    /// <summary>The loader's options for <paramref name="file"/>.</summary>
    /// <exception cref="CliException">A capability is unknown, or the kernel version is not one.</exception>
    public OciOptions Options(string file)
    {
        var options = new OciOptions { FileName = file };
        if (CapAdd.Count > 0 || CapDrop.Count > 0)
        {
            try
            {
                options = options with { Capabilities = OciOptions.DockerCapabilities(CapAdd, CapDrop) };
            }
            catch (ArgumentException e)
            {
                throw new CliException(ExitCode.Usage, $"--cap-add/--cap-drop: {e.Message.Split(" (Parameter", 2)[0]}");
            }
        }
        if (KernelVersion is not null)
        {
            if (!Policy.Oci.KernelVersion.TryParse(KernelVersion, out _))
                throw new CliException(ExitCode.Usage, $"--kernel-version '{KernelVersion}' is not a kernel release (e.g. 5.10 or 6.1.0-13-amd64)");
            options = options with { KernelVersion = KernelVersion };
        }
        return options;
    }

    /// <summary>The three options, to add to a verb that reads policies.</summary>
    public sealed class Arguments
    {
        /// <summary><c>--cap-add</c>.</summary>
        public Option<string[]> CapAdd { get; } = new("--cap-add")
        {
            Description = "For an OCI/Docker profile: add a capability to Docker's default set (repeatable; SYS_PTRACE, CAP_SYS_PTRACE or ALL), deciding its includes/excludes.caps",
            AllowMultipleArgumentsPerToken = false,
        };

        /// <summary><c>--cap-drop</c>.</summary>
        public Option<string[]> CapDrop { get; } = new("--cap-drop")
        {
            Description = "For an OCI/Docker profile: drop a capability from Docker's default set (repeatable; ALL drops every one but those added)",
            AllowMultipleArgumentsPerToken = false,
        };

        /// <summary><c>--kernel-version</c>.</summary>
        public Option<string?> KernelVersion { get; } = new("--kernel-version")
        {
            Description = "For an OCI/Docker profile: the kernel release its minKernel is compared with (default: this machine's)",
        };

        /// <summary>Adds the options to <paramref name="command"/>.</summary>
        public Command AddTo(Command command)
        {
            ArgumentNullException.ThrowIfNull(command);
            command.Add(CapAdd);
            command.Add(CapDrop);
            command.Add(KernelVersion);
            return command;
        }

        /// <summary>The values given (and <c>--verbose</c>).</summary>
        public OciInputs Read(ParseResult parse)
        {
            ArgumentNullException.ThrowIfNull(parse);
            return new OciInputs(parse.GetValue(CapAdd) ?? [], parse.GetValue(CapDrop) ?? [], parse.GetValue(KernelVersion), parse.GetValue(CliApp.Verbose));
        }
    }
}
