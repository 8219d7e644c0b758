using System.Text;
using System.Text.Json;
using Syscage.Abi;

namespace Syscage.Testing;

/// <summary>
/// A seeded generator of OCI/Docker seccomp profiles (JSON text) for differential tests: random default action and
/// errno, a random subset of the x86 family, 1–60 entries of random names and actions with 0–3 argument comparisons
/// whose values sit on the edges that 32-bit code gets wrong (half-word boundaries, sign bits, high-half-only
/// differences), and on purpose several entries for the same syscall with different arguments and actions.
/// </summary>
public sealed class RandomProfiles
{
    private readonly Random _rng;
    private readonly string[] _names;

    /// <summary>Values around 32-bit half boundaries and sign edges.</summary>
    public static readonly ulong[] EdgeValues =
    [
        0, 1, 2, 0x7f, 0xff, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff, 0x1_0000_0000, 0x1_0000_0001,
        0x1_ffff_ffff, 0x2_0000_0000, 0xffff_ffff_0000_0000, 0xffff_ffff_ffff_ffff, 0xffff_ffff_ffff_fffe,
        0x7fff_ffff_ffff_ffff, 0x8000_0000_0000_0000, 0x8000_0000_0000_0001, 0xffff_ffff_8000_0000,
        0x1234_5678_9abc_def0, 0x0000_0001_0000_0005, 0x0000_0002_0000_0003, 38, 40, 0x10000000, 0x7e020000,
    ];

    private static readonly string[] DefaultActions =
        ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"];
    private static readonly string[] Actions =
        ["SCMP_ACT_ALLOW", "SCMP_ACT_ALLOW", "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD",
         "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_NOTIFY"];
    private static readonly string[] Ops =
        ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"];
    private static readonly string[] SubArches = ["SCMP_ARCH_X86", "SCMP_ARCH_X32"];

    /// <summary>Starts the generator; the same seed gives the same profiles.</summary>
    public RandomProfiles(int seed)
    {
        _rng = new Random(seed);
        // Names from the x86 family's tables; each name may be missing on some of the three. Only names the reference
        // libseccomp (2.5.4) gives the same number where Syscage's tables (Linux 7.1) have them: a call newer than it
        // is one it cannot filter, not a difference in meaning. The socket and IPC calls, which both make through
        // socketcall(2)/ipc(2) on x86, are in: libseccomp gives them pseudo-numbers there.
        var family = new[] { Architecture.X86_64, Architecture.X86, Architecture.X32 };
        // seccomp-syscalls.h: __PNR_socket = -101 ... __PNR_shmctl = -224, which also stand for those names where an ABI lacks them.
        static bool Multiplexed(int pseudo) => pseudo is <= -100 and > -1000;
        bool Known(string name) => family.All(a => Libseccomp.Resolve(Libseccomp.ArchToken(a.Name), name) is var theirs
            && (a.TryGetMultiplexed(name, out _) ? Multiplexed(theirs)
                : a.Syscalls.TryGetNumber(name, out int nr) ? theirs == nr : theirs < 0));
        _names = [.. family.SelectMany(a => a.Syscalls.All.Select(s => s.Name)).Distinct().Where(Known).Order(StringComparer.Ordinal)];
    }

    /// <summary>The next profile, as JSON text.</summary>
    public string Next()
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            string def = Pick(DefaultActions);
            w.WriteString("defaultAction", def);
            if (_rng.Next(3) == 0)
                w.WriteNumber("defaultErrnoRet", Errno());
            w.WriteStartArray("architectures");
            foreach (var a in SubArches)
                if (_rng.Next(2) == 0)
                    w.WriteStringValue(a);
            w.WriteEndArray();

            // A few syscalls get several entries: the merging cases.
            string[] hot = [.. Enumerable.Range(0, 1 + _rng.Next(6)).Select(_ => Pick(_names))];
            int count = 1 + _rng.Next(60);
            w.WriteStartArray("syscalls");
            for (int i = 0; i < count; i++)
            {
                w.WriteStartObject();
                int nameCount = _rng.Next(4) == 0 ? 1 + _rng.Next(4) : 1;
                var names = Enumerable.Range(0, nameCount).Select(_ => _rng.Next(2) == 0 ? Pick(hot) : Pick(_names)).Distinct().ToList();
                string action = Pick(Actions);
                if (action == "SCMP_ACT_NOTIFY")
                    names.Remove("write");   // runc refuses NOTIFY for write
                if (names.Count == 0)
                    names.Add("read");
                w.WriteStartArray("names");
                foreach (var n in names)
                    w.WriteStringValue(n);
                w.WriteEndArray();
                w.WriteString("action", action);
                if (action is "SCMP_ACT_ERRNO" or "SCMP_ACT_TRACE" && _rng.Next(2) == 0)
                    w.WriteNumber("errnoRet", Errno());
                int args = _rng.Next(10) switch { < 3 => 0, < 6 => 1, < 9 => 2, _ => 3 };
                if (args > 0)
                {
                    w.WriteStartArray("args");
                    int first = _rng.Next(6);
                    for (int j = 0; j < args; j++)
                    {
                        w.WriteStartObject();
                        // Mostly low argument numbers, sometimes the same argument twice (runc ORs those).
                        w.WriteNumber("index", _rng.Next(4) == 0 ? first : _rng.Next(3) == 0 ? _rng.Next(6) : _rng.Next(2));
                        w.WriteNumber("value", Value());
                        w.WriteNumber("valueTwo", Value());
                        w.WriteString("op", Pick(Ops));
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Syscalls whose arguments mix 64-bit values (lengths, offsets, addresses) with ints and narrower types.</summary>
    private static readonly string[] Overlapped = ["mmap", "read", "pread64", "mprotect", "madvise", "lseek", "sendto", "ioctl", "socket", "fchmod", "personality", "clone"];

    private static readonly string[] OverlapActions =
        ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"];

    /// <summary>
    /// The next profile whose entries overlap on purpose: 2–12 entries on one to three syscalls, each with 0–3
    /// comparisons (any operator, MASKED_EQ included) on the first three arguments, values on edges or on a ladder of
    /// thresholds (as libseccomp's a2_order test), actions with their <c>errnoRet</c> — entries libseccomp merges into
    /// one tree, where the order of the profile and libseccomp's order can disagree.
    /// </summary>
    public string NextOverlapping()
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("defaultAction", _rng.Next(2) == 0 ? "SCMP_ACT_ALLOW" : "SCMP_ACT_ERRNO");
            w.WriteStartArray("architectures");
            foreach (var a in SubArches)
                if (_rng.Next(2) == 0)
                    w.WriteStringValue(a);
            w.WriteEndArray();
            string[] hot = [.. Enumerable.Range(0, 1 + _rng.Next(3)).Select(_ => Pick(Overlapped)).Distinct()];
            int count = 2 + _rng.Next(11);
            w.WriteStartArray("syscalls");
            for (int i = 0; i < count; i++)
            {
                w.WriteStartObject();
                w.WriteStartArray("names");
                foreach (var n in hot.Where(_ => _rng.Next(3) != 0).DefaultIfEmpty(hot[0]))
                    w.WriteStringValue(n);
                w.WriteEndArray();
                string action = Pick(OverlapActions);
                w.WriteString("action", action);
                if (action is "SCMP_ACT_ERRNO" or "SCMP_ACT_TRACE" && _rng.Next(3) != 0)
                    w.WriteNumber("errnoRet", Pick<uint>([1, 2, 5, 6, 13, 38, 95, 4094]));
                int args = _rng.Next(12) switch { 0 => 0, < 6 => 1, < 10 => 2, _ => 3 };
                if (args > 0)
                {
                    w.WriteStartArray("args");
                    foreach (int index in Enumerable.Range(0, 3).OrderBy(_ => _rng.Next()).Take(args))
                    {
                        w.WriteStartObject();
                        w.WriteNumber("index", index);
                        w.WriteNumber("value", _rng.Next(3) == 0 ? 1UL << _rng.Next(4, 16) : Value());
                        w.WriteNumber("valueTwo", Value());
                        w.WriteString("op", Pick(Ops));
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>An errno: mostly common ones, rarely MAX_ERRNO and beyond (libseccomp refuses ERRNO data from 4095 on).</summary>
    private uint Errno() => _rng.Next(60) == 0 ? Pick<uint>([4095, 4096, 65535]) : Pick<uint>([1, 2, 13, 38, 95]);

    /// <summary>An argument value: mostly an edge value, sometimes one next to it, sometimes random.</summary>
    public ulong Value() => _rng.Next(8) switch
    {
        < 5 => Pick(EdgeValues),
        5 => unchecked(Pick(EdgeValues) + (ulong)(_rng.Next(3) - 1)),
        6 => (ulong)_rng.NextInt64(),
        _ => (ulong)_rng.Next(64),
    };

    private T Pick<T>(T[] items) => items[_rng.Next(items.Length)];
}
