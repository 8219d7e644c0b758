namespace Syscage.Abi;

/// <summary>
/// The kernel ids of the eBPF helpers (<c>__BPF_FUNC_MAPPER</c> in <c>include/uapi/linux/bpf.h</c>; the generated
/// <c>HelperIds.g.cs</c> holds every one). The verifier's prototypes and the VM's implementations are in
/// <c>Syscage.Ebpf.Helpers</c>, for the ones Syscage supports.
/// </summary>
public static partial class HelperIds
{
    // In a nested class so that the generated table (another file of this partial class) is initialised first.
    private static class Index
    {
        public static readonly Dictionary<int, string> ByNumber = Table.ToDictionary(h => h.Id, h => h.Name);
        public static readonly Dictionary<string, int> ByName = Table.ToDictionary(h => h.Name, h => h.Id, StringComparer.Ordinal);
    }

    /// <summary>The id of helper <paramref name="name"/> (<c>bpf_map_lookup_elem</c>: 1); false for a name the kernel headers don't know.</summary>
    public static bool TryGetId(string name, out int id) => Index.ByName.TryGetValue(name, out id);

    /// <summary>Every helper name the kernel headers know.</summary>
    public static IEnumerable<string> Names => Index.ByName.Keys;

    /// <summary>The helper's name (<c>bpf_map_lookup_elem</c>), or null for an id the kernel headers don't know.</summary>
    public static string? Name(int id) => Index.ByNumber.TryGetValue(id, out var name) ? name : null;
}
