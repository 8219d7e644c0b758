namespace Syscage.Cli.Tests;

/// <summary>
/// The YAML of <c>--format k8s</c> (<see cref="PolicyOutputs"/>): block style, strings quoted wherever a YAML reader
/// could take them for something else. Record.Tests reads the whole document back with YamlDotNet's reader.
/// </summary>
public class YamlOutputTests
{
    [Fact]
    public void Mappings_and_sequences_are_blocks_with_the_dash_at_the_key_column()
    {
        string json = """{"kind":"SeccompProfile","spec":{"architectures":["SCMP_ARCH_X86_64"],"syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1}]}]}}""";
        Assert.Equal("""
            kind: SeccompProfile
            spec:
              architectures:
              - SCMP_ARCH_X86_64
              syscalls:
              - names:
                - read
                - write
                action: SCMP_ACT_ALLOW
                args:
                - index: 0
                  value: 1

            """.Replace("\r", "", StringComparison.Ordinal), PolicyOutputs.Yaml(json));
    }

    [Fact]
    public void Empty_collections_nested_sequences_and_literals_keep_their_meaning()
    {
        Assert.Equal("a: []\nb: {}\nc:\n- - 1\n  - x\n- []\nd: true\ne: null\nf: -3.5\n",
            PolicyOutputs.Yaml("""{"a":[],"b":{},"c":[[1,"x"],[]],"d":true,"e":null,"f":-3.5}"""));
    }

    [Theory]
    [InlineData("read", "read")]
    [InlineData("security-profiles-operator.x-k8s.io/v1beta1", "security-profiles-operator.x-k8s.io/v1beta1")]
    [InlineData("_x", "_x")]
    [InlineData("", "\"\"")]
    [InlineData("123", "\"123\"")]
    [InlineData("1_000", "\"1_000\"")]
    [InlineData(".inf", "\".inf\"")]
    [InlineData("-x", "\"-x\"")]
    [InlineData("yes", "\"yes\"")]
    [InlineData("Null", "\"Null\"")]
    [InlineData("a: b", "\"a: b\"")]
    [InlineData("#c", "\"#c\"")]
    [InlineData("q\"\\\n\t\u0001\u0085\u00e9", "\"q\\\"\\\\\\n\\t\\u0001\\u0085\u00e9\"")]
    public void A_string_is_plain_only_where_it_reads_back_as_itself(string value, string expected)
    {
        string json = "{\"k\":\"" + System.Text.Json.JsonEncodedText.Encode(value) + "\"}";
        Assert.Equal("k: " + expected + "\n", PolicyOutputs.Yaml(json));
    }
}
