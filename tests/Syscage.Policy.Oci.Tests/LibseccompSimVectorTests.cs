using System.Text.Json;
using Syscage.Bpf;
using Syscage.Policy.Compiler;
using Syscage.Policy.Oci;
using Syscage.Abi;
using Syscage.Testing;
using Xunit.Abstractions;

namespace Syscage.Policy.Oci.Tests;

/// <summary>
/// libseccomp's own <c>bpf-sim</c> regression vectors (tests/vectors/libseccomp: each test program's filter as an OCI
/// profile, its vectors expanded per architecture), run against three judges: Syscage's reference evaluator of the
/// loaded profile, Syscage's compiled filter in the interpreter (optimised and not), and libseccomp 2.5.4 with the
/// profile built as runc builds it (priority order and binary tree) run in <see cref="ReferenceBpf"/>. Every
/// architecture of the vectors is one Syscage has, big-endian ones included (their filters read the high half of an
/// argument first: <see cref="ReferenceBpf.DataBigEndian"/> lays the data out so), so none is skipped; the machinery
/// that skips a vector for an architecture Syscage lacks stays for the next one libseccomp adds. A known difference
/// is listed, with its class, in tests/vectors/libseccomp/expected-differences, and a listed line whose vectors do
/// not all differ fails the test.
/// </summary>
public class LibseccompSimVectorTests(ITestOutputHelper output)
{
    private static readonly string Dir = Path.Combine(AppContext.BaseDirectory, "vectors", "libseccomp");

    /// <summary>
    /// libseccomp's big-endian architectures (its regression script's GLBL_ARCH_BE_SUPPORT): a host of one of them
    /// lays <c>seccomp_data</c> out in that byte order, and libseccomp writes their filters in it. Syscage's
    /// <see cref="Architecture.IsBigEndian"/> must say the same.
    /// </summary>
    private static readonly HashSet<string> BigEndian = new(
        ["mips", "mips64", "mips64n32", "parisc", "parisc64", "ppc", "ppc64", "s390", "s390x"], StringComparer.Ordinal);

    [Fact]
    public void LibseccompsBigEndianArchitecturesAreSyscages()
    {
        var syscage = Architecture.All.Where(a => a.IsBigEndian && !Libseccomp.NewerArchitectures.Contains(a.Name)).Select(a => a.Name);
        Assert.Equal(BigEndian.Order(StringComparer.Ordinal), syscage.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void EveryVectorPassesOrIsAListedDifference()
    {
        var list = ExpectedDifferences.Parse(File.ReadAllText(Path.Combine(Dir, "expected-differences")), "expected-differences");
        var vectors = Directory.GetFiles(Dir, "*.vectors").Order(StringComparer.Ordinal)
            .SelectMany(f => SimVectorLine.Parse(File.ReadAllText(f), Path.GetFileName(f))).ToList();
        var outcomes = new List<SimOutcome>();
        foreach (var byProfile in vectors.GroupBy(v => v.Profile))
        {
            var judges = new ProfileJudges(Path.Combine(Dir, byProfile.Key));
            foreach (var vector in byProfile)
                outcomes.AddRange(judges.Run(vector));
        }
        var report = SimReport.Judge(vectors, outcomes, list);
        var profiles = vectors.Select(v => v.Profile).ToHashSet(StringComparer.Ordinal);
        foreach (string orphan in Directory.GetFiles(Dir, "*.json").Select(f => Path.GetFileName(f)).Where(p => !profiles.Contains(p)))
            report.Problems.Add($"{orphan}: no vectors file runs against this profile");

        output.WriteLine($"{vectors.Select(v => v.File).Distinct().Count()} libseccomp sim tests, {profiles.Count} profiles, {vectors.Count} vector lines");
        output.WriteLine(report.Summary());
        Assert.True(outcomes.Count >= 20_000, $"only {outcomes.Count} vectors: is tests/vectors/libseccomp copied to the output?");
        Assert.True(report.Skipped.Values.Sum() == 0, "vectors skipped for an architecture Syscage lacks: " + string.Join(", ", report.Skipped.Select(kv => $"{kv.Key}: {kv.Value}")));
        Assert.True(report.Problems.Count == 0, $"{report.Problems.Count} problems:\n" + string.Join('\n', report.Problems.Take(60)));
    }

    /// <summary>The three judges for one profile file.</summary>
    private sealed class ProfileJudges
    {
        private readonly string _name;
        private readonly string[] _arches;
        private readonly OciProfile _profile;
        private readonly Architecture? _host;
        private readonly BpfProgram[] _compiled;
        private readonly byte[][] _libseccomp;
        private readonly bool _bigEndian;

        public ProfileJudges(string path)
        {
            _name = Path.GetFileName(path);
            using (var json = JsonDocument.Parse(File.ReadAllBytes(path)))
                _arches = json.RootElement.GetProperty("architectures").EnumerateArray()
                    .Select(a => a.GetString()!["SCMP_ARCH_".Length..].ToLowerInvariant()).ToArray();
            // The first architecture is the host the profile is for (runc covers the host's always); Syscage loads
            // it for the first one it has, which covers the same architectures.
            _host = _arches.Select(a => Architecture.TryParse(a, out var arch) && Architecture.All.Contains(arch) ? arch : null)
                .FirstOrDefault(a => a is not null);
            // libseccomp's meaning, without runc's ENOSYS stub: the vectors are bpf-sim's.
            _profile = OciProfileLoader.Load(path, new OciOptions { NativeArchitecture = _host ?? Architecture.X86_64, KernelVersion = "6.1.0", RuncEnosysStub = false });
            _compiled = _host is null
                ? []
                : [PolicyCompiler.Compile(_profile.Policy), PolicyCompiler.Compile(_profile.Policy, new CompileOptions { Optimize = false })];
            _bigEndian = BigEndian.Contains(_arches[0]);
            Assert.True(_arches.All(a => BigEndian.Contains(a) == _bigEndian), $"{_name}: architectures of both byte orders");
            var tokens = _arches.Select(Token).ToArray();
            _libseccomp = [.. new[] { 1u, 2u }.Select(optimize =>
            {
                var build = LibseccompProfile.Build(_profile, optimize, tokens, runcStub: false);
                Assert.True(build.Bpf is not null, $"{_name}: libseccomp refuses the profile: {build.Error}");
                return _bigEndian ? ReferenceBpf.FromBigEndian(build.Bpf) : build.Bpf;
            })];
        }

        private uint Token(string arch)
        {
            uint token = Libseccomp.ArchToken(arch);
            Assert.True(token != 0, $"{_name}: libseccomp does not know the architecture {arch}");
            return token;
        }

        public IEnumerable<SimOutcome> Run(SimVectorLine vector)
        {
            uint token = Token(vector.Arch);
            // seccomp_data.arch: libseccomp's token is the AUDIT_ARCH_* value, except x32's (its calls carry x86-64's).
            uint audit = token == Libseccomp.SCMP_ARCH_X32 ? Architecture.X32.AuditArch : token;
            // Syscage is not asked when the call's architecture is one the profile covers and Syscage lacks, or when
            // Syscage has none of the profile's architectures (a big-endian host's profile).
            string? missing = _arches.Contains(vector.Arch) && !_profile.Architectures.Any(a => a.Name == vector.Arch) ? vector.Arch
                : _host is null ? _arches[0]
                : null;
            foreach (var (nr, args) in vector.Calls(name => Resolve(token, name, vector)))
            {
                var data = new SeccompData(nr, audit, 0, args);
                SeccompAction? syscage = missing is null ? _profile.Policy.Evaluate(data).Action : null;
                var compiled = missing is null ? _compiled.Select(p => Interpreter.Run(p, data).Action).ToArray() : [];
                byte[] image = _bigEndian ? ReferenceBpf.DataBigEndian(nr, audit, 0, args) : data.ToBytes();
                var libseccomp = _libseccomp.Select(p => new SeccompAction(ReferenceBpf.Run(p, image))).ToArray();
                yield return new SimOutcome(vector, nr, args, missing, syscage, compiled, libseccomp);
            }
        }

        /// <summary>A syscall name as the regression script resolves it: <c>scmp_sys_resolver -a ARCH -t NAME</c>.</summary>
        private static int Resolve(uint token, string name, SimVectorLine vector)
        {
            int nr = Libseccomp.ResolveRewrite(token, name);
            Assert.True(nr != Libseccomp.NR_SCMP_ERROR, $"{vector.Where}: libseccomp 2.5.4 does not know the syscall {name} on {vector.Arch}");
            return nr;
        }
    }
}
