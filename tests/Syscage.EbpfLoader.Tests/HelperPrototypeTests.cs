using System.Text.RegularExpressions;
using Syscage.Ebpf.Helpers;

namespace Syscage.EbpfLoader.Tests;

public partial class HelperPrototypeTests
{
    /// <summary>The helper ids come from the kernel's uapi header on the machine: __BPF_FUNC_MAPPER lists them in id order.</summary>
    [Fact]
    public void Helper_ids_match_linux_bpf_h()
    {
        const string header = "/usr/include/linux/bpf.h";
        Assert.True(File.Exists(header), $"{header} is missing (install linux-libc-dev)");
        var text = File.ReadAllText(header);
        int start = text.IndexOf("#define __BPF_FUNC_MAPPER", StringComparison.Ordinal);
        Assert.True(start >= 0, "no __BPF_FUNC_MAPPER in " + header);
        var ids = new Dictionary<string, int>();
        int next = 0;
        foreach (var line in text[start..].Split('\n').Skip(1))
        {
            var m = FnRx().Match(line);
            if (!m.Success)
            {
                if (!line.TrimEnd().EndsWith('\\'))
                    break;
                continue;
            }
            // Newer headers spell the id out: FN(name, id, ##ctx); older ones list helpers in id order.
            int id = m.Groups[2].Success ? int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture) : next;
            ids[m.Groups[1].Value] = id;
            next = id + 1;
        }
        Assert.True(ids.Count > 150, "the mapper list looks truncated");
        foreach (var p in HelperPrototypes.Default.Values)
        {
            Assert.True(ids.TryGetValue(p.Name, out int id), $"{p.Name} is not in {header}");
            Assert.Equal(id, p.Id);
        }
    }

    [GeneratedRegex(@"^\s*FN\((\w+)(?:,\s*(\d+))?")]
    private static partial Regex FnRx();
}
