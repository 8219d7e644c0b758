using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using Syscage.Bpf;
using Syscage.Policy;
using Syscage.Policy.Builtin;
using Syscage.Supervision;

namespace Syscage.Cli;

/// <summary>
/// The reader of the built-in programs cache the tool was compiled with (BuiltinPrograms.cs says what it holds). It reads
/// the one line it is asked for, in place in the executable's read-only data: a start decodes no other entry.
/// </summary>
internal static partial class BuiltinPrograms
{
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
        // NAME \t ARCHITECTURES \t FINGERPRINT \t BASE64: made for the architectures a policy covers here by default, by
        // this build of the library.
        if (!TryFindLine(input, out var fields) || !NextField(ref fields, out var architectures) || !NextField(ref fields, out var fingerprint) ||
            fields.Contains((byte)'\t') || !Utf8Equals(architectures, DefaultArchitectures()) || !Utf8Equals(fingerprint, BuiltinPolicies.BuildIdentity) ||
            FromBase64(fields) is not { } bytes)
            return false;
        // Through the validator, like every program that leaves the library.
        program = BpfProgram.FromBytes(bytes);
        return true;
    }

    /// <summary>
    /// Hands the guards compiled with this build to the library (<see cref="SandboxSession.ImportCompiledGuards"/>), so that
    /// a run does not compile them at its start; false when this build holds none, or the library refuses them (they
    /// come from another build of it) and compiles its own.
    /// </summary>
    public static bool UseCompiledGuards() =>
        TryFindLine(GuardsKey, out var fields) && !fields.Contains((byte)'\t') && FromBase64(fields) is { } text &&
        SandboxSession.ImportCompiledGuards(Encoding.UTF8.GetString(text));

    /// <summary>The fields after <paramref name="key"/> on the cache's line that starts with it; false without such a line (or a cache).</summary>
    private static bool TryFindLine(string key, out ReadOnlySpan<byte> fields)
    {
        fields = default;
        ReadOnlySpan<byte> cache = EmbeddedData.BuiltinCache;
        ReadOnlySpan<byte> header = Encoding.UTF8.GetBytes(Header + "\n");
        if (key.Length == 0 || key.AsSpan().ContainsAny('\t', '\n') || !cache.StartsWith(header))
            return false;
        // "\nKEY\t": one vectorised search, from the header's newline on.
        byte[] start = Encoding.UTF8.GetBytes("\n" + key + "\t");
        int at = cache[(header.Length - 1)..].IndexOf(start);
        if (at < 0)
            return false;
        fields = cache[(header.Length - 1 + at + start.Length)..];
        int end = fields.IndexOf((byte)'\n');
        if (end >= 0)
            fields = fields[..end];
        return true;
    }

    private static bool NextField(ref ReadOnlySpan<byte> fields, out ReadOnlySpan<byte> field)
    {
        int tab = fields.IndexOf((byte)'\t');
        field = tab < 0 ? default : fields[..tab];
        fields = tab < 0 ? default : fields[(tab + 1)..];
        return tab >= 0;
    }

    private static bool Utf8Equals(ReadOnlySpan<byte> utf8, string s) => utf8.SequenceEqual(Encoding.UTF8.GetBytes(s));

    /// <summary>The bytes <paramref name="base64"/> (UTF-8) stands for; null when it is not base64.</summary>
    private static byte[]? FromBase64(ReadOnlySpan<byte> base64)
    {
        var bytes = new byte[Base64.GetMaxDecodedFromUtf8Length(base64.Length)];
        if (Base64.DecodeFromUtf8(base64, bytes, out int consumed, out int written) != OperationStatus.Done || consumed != base64.Length)
            return null;
        Array.Resize(ref bytes, written);
        return bytes;
    }
}
