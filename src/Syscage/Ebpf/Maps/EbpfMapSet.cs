namespace Syscage.Ebpf.Maps;

/// <summary>
/// The map instances of one loaded object, in the order of the program's maps (<c>EbpfProgram.Maps</c>) (an <c>lddw</c> map
/// reference's index). Several programs of the same object share one set; several supervisor threads may run them at once.
/// </summary>
public sealed class EbpfMapSet : IReadOnlyList<EbpfMap>, IDisposable
{
    private readonly EbpfMap[] _maps;

    private EbpfMapSet(EbpfMap[] maps) => _maps = maps;

    /// <summary>An empty set, for programs without maps.</summary>
    public static EbpfMapSet Empty { get; } = new([]);

    /// <summary>
    /// Creates one map per definition (global-data maps start with their initial values). Throws
    /// <see cref="SyscageException"/>, naming the map, when together they need more than
    /// <see cref="InputLimits.MaxMapMemoryBytes"/>.
    /// </summary>
    public static EbpfMapSet Create(IEnumerable<MapDefinition> definitions)
    {
        ArgumentNullException.ThrowIfNull(definitions);
        var list = definitions.ToList();
        long total = 0;
        foreach (var d in list)
        {
            if (MapDefinition.MemoryLimitError(d.Name, d.MemoryBytes, total) is { } error)
                throw new SyscageException(error);
            total += d.MemoryBytes;
        }
        var created = new List<EbpfMap>();
        try
        {
            foreach (var d in list)
                created.Add(EbpfMap.Create(d));
        }
        catch
        {
            foreach (var m in created) m.Dispose();
            throw;
        }
        return new EbpfMapSet([.. created]);
    }

    /// <summary>The map at <paramref name="index"/>.</summary>
    public EbpfMap this[int index] => _maps[index];

    /// <summary>The map named <paramref name="name"/>; throws with a hint when there is none.</summary>
    public EbpfMap this[string name] => _maps.FirstOrDefault(m => m.Name == name)
        ?? throw new SyscageException($"no map named '{name}'" +
            (Suggest.Closest(name, _maps.Select(m => m.Name)) is { } hint ? $" (did you mean '{hint}'?)" : ""));

    /// <summary>Number of maps.</summary>
    public int Count => _maps.Length;

    internal EbpfMap[] Array => _maps;

    /// <inheritdoc/>
    public IEnumerator<EbpfMap> GetEnumerator() => ((IEnumerable<EbpfMap>)_maps).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Frees every map (only when no program using them runs).</summary>
    public void Dispose()
    {
        foreach (var m in _maps) m.Dispose();
    }
}
