using System.Text.Json.Nodes;
using Syscage.Abi;
using Syscage.Policy.Language;
using Syscage.Policy.Oci;
using YamlDotNet.Serialization;

namespace Syscage.Record.Tests;

/// <summary>
/// <c>compile --format k8s</c> and <c>record --format k8s</c> write the SeccompProfile as YAML: read back by a YAML
/// reader (YamlDotNet's deserializer, not the writer's emitter), it is the object the library makes, value for value —
/// numbers as numbers, strings as strings, 64-bit masks whole.
/// </summary>
public sealed class KubernetesOutputTests
{
    /// <summary>A YAML document (as YamlDotNet reads it without a schema: strings and collections) as JSON, typed as the object's fields are.</summary>
    private static JsonNode? Json(object? yaml, string key = "") => yaml switch
    {
        Dictionary<object, object> d => new JsonObject(d.Select(kv => KeyValuePair.Create((string)kv.Key, Json(kv.Value, (string)kv.Key)))),
        List<object> l => new JsonArray([.. l.Select(x => Json(x, key))]),
        string s when key is "index" or "value" or "valueTwo" or "errnoRet" => JsonValue.Create(ulong.Parse(s, System.Globalization.CultureInfo.InvariantCulture)),
        string s => JsonValue.Create(s),
        _ => null,
    };

    [Fact]
    public void The_YAML_is_the_object_the_library_writes()
    {
        using var dir = new TempDir();
        string source = """
            default ERRNO(EACCES)
            arch x86_64
            ALLOW read, write, exit_group
            ALLOW clone if (flags & ~(CLONE_VM | CLONE_THREAD)) == 0
            ALLOW mmap if arg0 == 0xffffffffffff0000
            ERRNO(0) getpid
            """;
        string policyFile = dir.File("web-server.policy");
        File.WriteAllText(policyFile, source);
        var r = SyscageProcess.Run(["compile", policyFile, "--format", "k8s"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.StartsWith("apiVersion: security-profiles-operator.x-k8s.io/v1beta1\nkind: SeccompProfile\n", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("no defaultErrnoRet", r.Stderr);

        var read = Json(new DeserializerBuilder().Build().Deserialize<object>(r.Stdout))!;
        var expected = JsonNode.Parse(OciProfileWriter.Write(PolicyLanguage.Parse(source, policyFile),
            new OciWriteOptions { Format = ProfileFormat.Kubernetes, NativeArchitecture = Architecture.X86_64, Name = "web-server" }).Text)!;
        Assert.Equal(expected.ToJsonString(), read.ToJsonString());
        Assert.Equal("web-server", (string)read["metadata"]!["name"]!);
    }

    [Fact]
    public void A_recording_as_a_SeccompProfile_reads_back()
    {
        using var dir = new TempDir();
        string output = dir.File("static.yaml");
        var r = SyscageProcess.Run(["record", "--format", "k8s", "-o", output, "--", RecordKernelTests.StaticWorkload]);
        Assert.True(r.ExitCode == 0, r.ToString());
        var read = Json(new DeserializerBuilder().Build().Deserialize<object>(File.ReadAllText(output)))!;
        Assert.Equal("static", (string)read["metadata"]!["name"]!);
        var names = read["spec"]!["syscalls"]!.AsArray().Where(e => (string)e!["action"]! == "SCMP_ACT_ALLOW")
            .SelectMany(e => e!["names"]!.AsArray().Select(n => (string)n!)).ToHashSet(StringComparer.Ordinal);
        foreach (string name in (string[])["write", "uname", "getdents64", "rt_sigreturn", "exit_group", "execve"])
            Assert.Contains(name, names);
    }
}
