using System.Collections.Frozen;
using System.Globalization;
using Syscage.Abi;

namespace Syscage.Policy.Oci;

/// <summary>
/// The facts about the container and the host that an OCI/Docker profile's <c>includes</c>/<c>excludes</c>
/// and <c>archMap</c> are decided against (moby <c>profiles/seccomp</c>: the bounding capability set, the kernel
/// release, <c>runtime.GOARCH</c>).
/// </summary>
public sealed record OciOptions
{
    /// <summary>
    /// Docker's default capability set (the capabilities a container gets without <c>--cap-add</c>/<c>--cap-drop</c>):
    /// CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER, CAP_MKNOD, CAP_NET_RAW, CAP_SETGID, CAP_SETUID,
    /// CAP_SETFCAP, CAP_SETPCAP, CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_KILL, CAP_AUDIT_WRITE.
    /// </summary>
    public static IReadOnlySet<string> DockerDefaultCapabilities { get; } = new[]
    {
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    }.ToFrozenSet(StringComparer.Ordinal);

    /// <summary>
    /// Every capability the kernel defines (<c>CAP_CHOWN</c> ... from linux/capability.h, <see cref="KernelConstants"/>):
    /// what <c>--cap-add ALL</c> gives.
    /// </summary>
    public static IReadOnlySet<string> AllCapabilities { get; } = KernelConstants.All
        .Select(c => c.Name)
        .Where(n => n.StartsWith("CAP_", StringComparison.Ordinal) && n != "CAP_LAST_CAP")
        .ToFrozenSet(StringComparer.Ordinal);

    /// <summary>
    /// The capabilities a container gets with Docker's <c>--cap-add</c> and <c>--cap-drop</c> (moby
    /// <c>oci/caps.TweakCapabilities</c>): names are upper-cased and given a <c>CAP_</c> prefix when they lack one
    /// (<c>sys_ptrace</c> is <c>CAP_SYS_PTRACE</c>); <c>ALL</c> in the adds gives every capability but the dropped ones;
    /// <c>ALL</c> in the drops leaves only the added ones; otherwise <paramref name="basics"/> (default:
    /// <see cref="DockerDefaultCapabilities"/>) without the dropped ones, with the added ones.
    /// </summary>
    /// <exception cref="ArgumentException">A name is not a capability (the message names it, with a hint).</exception>
    public static IReadOnlySet<string> DockerCapabilities(IEnumerable<string> add, IEnumerable<string> drop, IReadOnlySet<string>? basics = null)
    {
        ArgumentNullException.ThrowIfNull(add);
        ArgumentNullException.ThrowIfNull(drop);
        var adds = Normalize(add);
        var drops = Normalize(drop);
        IEnumerable<string> caps = adds.Contains("ALL") ? AllCapabilities.Where(c => !drops.Contains(c))
            : drops.Contains("ALL") ? adds
            : (basics ?? DockerDefaultCapabilities).Where(c => !drops.Contains(c)).Concat(adds);
        return caps.Where(c => c != "ALL").ToFrozenSet(StringComparer.Ordinal);

        static List<string> Normalize(IEnumerable<string> names)
        {
            var result = new List<string>();
            foreach (string raw in names)
            {
                string c = raw.Trim().ToUpperInvariant();
                if (c != "ALL" && !c.StartsWith("CAP_", StringComparison.Ordinal))
                    c = "CAP_" + c;
                if (c != "ALL" && !AllCapabilities.Contains(c))
                {
                    string? hint = Suggest.Closest(c, AllCapabilities);
                    throw new ArgumentException($"unknown capability '{raw}'" + (hint is null ? "" : $" (did you mean {hint}?)"), nameof(names));
                }
                result.Add(c);
            }
            return result;
        }
    }

    /// <summary>
    /// The container's bounding capabilities, spelt <c>CAP_*</c> as in the profile (moby compares case-sensitively).
    /// Default: <see cref="DockerDefaultCapabilities"/>.
    /// </summary>
    public IReadOnlySet<string> Capabilities { get; init; } = DockerDefaultCapabilities;

    /// <summary>
    /// The kernel release <c>minKernel</c> is compared with, e.g. <c>6.1.0-13-amd64</c>. Default: this machine's
    /// (<c>uname -r</c>, read from <c>/proc/sys/kernel/osrelease</c>).
    /// </summary>
    public string KernelVersion { get; init; } = CurrentKernelRelease();

    /// <summary>
    /// The architecture the container runs on: it is always covered (libseccomp's <c>seccomp_init</c> adds it),
    /// it selects the <c>archMap</c> entry, and <c>includes/excludes.arches</c> are compared with its Docker
    /// name (<see cref="DockerArchName"/>). Default: <see cref="Architecture.Native"/>.
    /// </summary>
    public Architecture NativeArchitecture { get; init; } = Architecture.Native;

    /// <summary>
    /// Whether calls past the largest syscall number the profile names on their architecture get ERRNO(ENOSYS), as runc
    /// makes them (its ENOSYS stub, <c>libcontainer/seccomp/patchbpf</c>) unless the default action is ALLOW, LOG or
    /// TRACE: <see cref="SeccompPolicy.Newer"/>. Default true, runc's meaning; false gives the profile the meaning it has
    /// to libseccomp alone (what <c>bpf-sim</c> and other libseccomp users see).
    /// </summary>
    public bool RuncEnosysStub { get; init; } = true;

    /// <summary>The file name used in messages and rule sources (default <c>profile.json</c>).</summary>
    public string FileName { get; init; } = "profile.json";

    /// <summary>
    /// The name moby gives an architecture in <c>includes/excludes.arches</c> (its <c>goToNative</c> map):
    /// <c>amd64</c>, <c>x86</c>, <c>arm64</c>, <c>arm</c>, <c>riscv64</c>. x32 is never a host architecture, so
    /// an <c>arches</c> list naming <c>x32</c> matches nothing by that name.
    /// </summary>
    public static string DockerArchName(Architecture architecture)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        return architecture.Name switch
        {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            _ => architecture.Name,
        };
    }

    /// <summary>This machine's kernel release, or <c>0.0.0</c> when it can't be read.</summary>
    public static string CurrentKernelRelease()
    {
        try
        {
            return File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        }
        catch (IOException)
        {
            return "0.0.0";
        }
        catch (UnauthorizedAccessException)
        {
            return "0.0.0";
        }
    }
}

/// <summary>
/// A kernel release as moby's <c>pkg/parsers/kernel</c> reads it: <c>kernel.major.minor</c> numbers, the rest (the
/// flavour, <c>-13-amd64</c>) ignored when comparing.
/// </summary>
/// <param name="Kernel">The first number (6 in 6.1.0).</param>
/// <param name="Major">The second number.</param>
/// <param name="Minor">The third number, 0 when absent.</param>
public readonly record struct KernelVersion(int Kernel, int Major, int Minor) : IComparable<KernelVersion>
{
    /// <summary>Parses <c>4.8</c>, <c>5.10.0</c>, <c>6.18.44-fc-v769</c>.</summary>
    public static bool TryParse(string? text, out KernelVersion version)
    {
        version = default;
        if (string.IsNullOrWhiteSpace(text))
            return false;
        var numbers = new List<int>();
        int i = 0;
        string s = text.Trim();
        while (numbers.Count < 3)
        {
            int start = i;
            while (i < s.Length && char.IsAsciiDigit(s[i]))
                i++;
            if (i == start || !int.TryParse(s.AsSpan(start, i - start), NumberStyles.None, CultureInfo.InvariantCulture, out int n))
                break;
            numbers.Add(n);
            if (i < s.Length && s[i] == '.')
                i++;
            else
                break;
        }
        if (numbers.Count < 2)
            return false;
        version = new KernelVersion(numbers[0], numbers[1], numbers.Count > 2 ? numbers[2] : 0);
        return true;
    }

    /// <inheritdoc/>
    public int CompareTo(KernelVersion other) =>
        Kernel != other.Kernel ? Kernel.CompareTo(other.Kernel) : Major != other.Major ? Major.CompareTo(other.Major) : Minor.CompareTo(other.Minor);

    /// <summary>Ordering.</summary>
    public static bool operator <(KernelVersion a, KernelVersion b) => a.CompareTo(b) < 0;
    /// <summary>Ordering.</summary>
    public static bool operator >(KernelVersion a, KernelVersion b) => a.CompareTo(b) > 0;
    /// <summary>Ordering.</summary>
    public static bool operator <=(KernelVersion a, KernelVersion b) => a.CompareTo(b) <= 0;
    /// <summary>Ordering.</summary>
    public static bool operator >=(KernelVersion a, KernelVersion b) => a.CompareTo(b) >= 0;

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Kernel}.{Major}.{Minor}");
}
