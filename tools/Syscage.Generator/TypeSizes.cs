using System.Text.RegularExpressions;

namespace Syscage.Generator;

/// <summary>
/// <c>sizeof</c> for the ioctl macros (<c>_IOWR('!', 0, struct seccomp_notif)</c>): the sizes x86_64's C compiler gives
/// the uapi integer types and the plain structures the headers define — fields of known types and fixed arrays,
/// each at its natural alignment (the uapi structures are written so that this is their layout). A structure with a
/// field of an unknown type, a bit-field or a union is not learned, and <c>sizeof</c> of it fails.
/// </summary>
internal static partial class TypeSizes
{
    private static readonly Dictionary<string, (long Size, long Align)> Known = new(StringComparer.Ordinal)
    {
        ["char"] = (1, 1), ["signed char"] = (1, 1), ["unsigned char"] = (1, 1), ["__u8"] = (1, 1), ["__s8"] = (1, 1),
        ["short"] = (2, 2), ["unsigned short"] = (2, 2), ["__u16"] = (2, 2), ["__s16"] = (2, 2), ["__le16"] = (2, 2), ["__be16"] = (2, 2),
        ["int"] = (4, 4), ["unsigned int"] = (4, 4), ["unsigned"] = (4, 4), ["__u32"] = (4, 4), ["__s32"] = (4, 4),
        ["__le32"] = (4, 4), ["__be32"] = (4, 4), ["__kernel_pid_t"] = (4, 4), ["__kernel_uid32_t"] = (4, 4),
        ["long"] = (8, 8), ["unsigned long"] = (8, 8), ["long long"] = (8, 8), ["unsigned long long"] = (8, 8),
        ["__u64"] = (8, 8), ["__s64"] = (8, 8), ["__aligned_u64"] = (8, 8), ["__le64"] = (8, 8), ["__be64"] = (8, 8),
        ["__kernel_size_t"] = (8, 8), ["size_t"] = (8, 8), ["__kernel_long_t"] = (8, 8), ["__kernel_ulong_t"] = (8, 8),
    };

    /// <summary>The size of a type written as C tokens (<c>struct seccomp_notif</c>, <c>__u64</c>, <c>int *</c>), or null.</summary>
    public static long? Of(string type) => Layout(Normalize(type))?.Size;

    /// <summary>Learns the plain structures <paramref name="headerText"/> (comments removed) defines.</summary>
    public static void Learn(string headerText)
    {
        foreach (Match m in StructDefinition().Matches(headerText))
        {
            string name = "struct " + m.Groups[1].Value;
            long offset = 0, align = 1;
            bool ok = true;
            foreach (string raw in m.Groups[2].Value.Split(';'))
            {
                string field = raw.Trim();
                if (field.Length == 0)
                    continue;
                var f = Field().Match(field);
                if (!f.Success || f.Groups[3].Value.Contains(':', StringComparison.Ordinal))
                {
                    ok = false;
                    break;
                }
                string type = Normalize(f.Groups[1].Value + (f.Groups[2].Value.Length > 0 ? " *" : ""));
                var layout = Layout(type);
                long count = 1;
                if (f.Groups[4].Success && !long.TryParse(f.Groups[4].Value, System.Globalization.CultureInfo.InvariantCulture, out count))
                    layout = null;
                if (layout is null)
                {
                    ok = false;
                    break;
                }
                offset = (offset + layout.Value.Align - 1) / layout.Value.Align * layout.Value.Align + layout.Value.Size * count;
                align = Math.Max(align, layout.Value.Align);
            }
            if (ok && offset > 0)
                Known[name] = ((offset + align - 1) / align * align, align);
        }
    }

    private static (long Size, long Align)? Layout(string type) =>
        type.EndsWith('*') ? (8, 8) : Known.TryGetValue(type, out var known) ? known : null;

    private static string Normalize(string type) =>
        string.Join(' ', type.Replace("(", " ", StringComparison.Ordinal).Replace(")", " ", StringComparison.Ordinal)
            .Replace("*", " *", StringComparison.Ordinal).Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(w => w is not "const" and not "volatile"));

    // struct name { fields };  (no nested braces: a union or an anonymous member makes it unknown)
    [GeneratedRegex(@"\bstruct\s+([A-Za-z_][A-Za-z0-9_]*)\s*\{([^{}]*)\}\s*(?:__attribute__\s*\(\([^)]*\)\))?\s*;", RegexOptions.CultureInvariant)]
    private static partial Regex StructDefinition();

    // type [*]name[ : bits][[count]]
    [GeneratedRegex(@"^((?:struct\s+)?[A-Za-z_][A-Za-z0-9_ ]*?)\s*(\*?)\s*[A-Za-z_][A-Za-z0-9_]*\s*(:\s*\d+)?\s*(?:\[\s*([A-Za-z0-9_]+)\s*\])?$", RegexOptions.CultureInvariant)]
    private static partial Regex Field();
}
