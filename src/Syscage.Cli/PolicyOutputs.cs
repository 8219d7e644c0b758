using Syscage.Policy;
using Syscage.Policy.Language;
using Syscage.Policy.Oci;

namespace Syscage.Cli;

/// <summary>
/// What a verb writes a policy as besides a filter: the policy language (<see cref="PolicyWriter"/>), an OCI/Docker
/// profile or a Kubernetes SeccompProfile (<see cref="OciProfileWriter"/>). <c>compile --format</c> and
/// <c>record --format</c> write through it.
/// </summary>
public static class PolicyOutputs
{
    /// <summary>
    /// The policy in another language: <c>policy</c>, <c>oci</c> or <c>k8s</c>. What the target cannot say is an error
    /// (exit 3); what it says more strictly is a warning on <paramref name="stderr"/>.
    /// </summary>
    public static string Translate(SeccompPolicy ir, string format, TextWriter stderr, string name)
    {
        ArgumentNullException.ThrowIfNull(ir);
        ArgumentNullException.ThrowIfNull(stderr);
        if (format == "policy")
            return PolicyWriter.TryWrite(ir, out var text, out var why) ? text
                : throw new CliException(ExitCode.BadInput, $"{ir.Name}: cannot be written in the policy language: {why}");
        var options = new OciWriteOptions
        {
            Format = format == "k8s" ? ProfileFormat.Kubernetes : ProfileFormat.Oci,
            Name = Path.GetFileNameWithoutExtension(name),
        };
        if (!OciProfileWriter.TryWrite(ir, options, out var written, out var error))
            throw new CliException(ExitCode.BadInput, $"{ir.Name}: cannot be written as {(format == "k8s" ? "a SeccompProfile" : "an OCI profile")} without letting a call further: {error}");
        foreach (var note in written.Approximations)
            stderr.WriteLine($"syscage: warning: {note}");
        return written.Text;
    }

}
