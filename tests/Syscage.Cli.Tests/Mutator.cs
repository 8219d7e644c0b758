using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Syscage.Cli.Tests;

/// <summary>
/// Seeded mutations of sample inputs, for fuzzing the verbs: the same seed gives the same input on every machine.
/// Text edits aim at what parsers get wrong (structure characters, nesting, truncation, wrong-typed values, bytes that
/// are not UTF-8); byte edits at what binary readers get wrong (sizes, offsets, counts).
/// </summary>
internal static class Mutator
{
    /// <summary>A format's mutation vocabulary: single characters and whole fragments worth inserting.</summary>
    public sealed record TextGrammar(string Alphabet, string[] Fragments);

    /// <summary>One to four edits of <paramref name="seed"/>, as UTF-8 (with, now and then, bytes that are not UTF-8).</summary>
    public static byte[] Text(Random rng, string seed, TextGrammar grammar)
    {
        var text = new StringBuilder(seed);
        int edits = 1 + rng.Next(4);
        for (int e = 0; e < edits; e++)
        {
            int at = text.Length == 0 ? 0 : rng.Next(text.Length + 1);
            switch (rng.Next(11))
            {
                case 0:
                    if (at < text.Length)
                        text.Remove(at, Math.Min(1 + rng.Next(24), text.Length - at));
                    break;
                case 1:
                    text.Insert(at, grammar.Alphabet[rng.Next(grammar.Alphabet.Length)]);
                    break;
                case 2:
                case 3:
                    text.Insert(at, grammar.Fragments[rng.Next(grammar.Fragments.Length)]);
                    break;
                case 4:
                    if (at < text.Length)
                        text[at] = grammar.Alphabet[rng.Next(grammar.Alphabet.Length)];
                    break;
                case 5:
                {
                    // Duplicate a span elsewhere: repeated rules, keys, sections.
                    int from = rng.Next(Math.Max(1, text.Length));
                    int length = Math.Min(1 + rng.Next(200), text.Length - from);
                    if (length > 0)
                        text.Insert(at, text.ToString(from, length));
                    break;
                }
                case 6:
                {
                    // Nesting: a run of one opening character, often past the parsers' depth limits.
                    char open = "([{!~-"[rng.Next(6)];
                    text.Insert(at, new string(open, rng.Next(3) switch { 0 => 8, 1 => 150, _ => 20_000 }));
                    break;
                }
                case 7:
                    text.Length = at;
                    break;
                case 8:
                    text.Insert(at, rng.Next(2) == 0 ? "18446744073709551616" : "-0x8000000000000000");
                    break;
                default:
                {
                    // Whole lines moved, doubled or dropped: each line stays well formed, the whole may not be.
                    var lines = text.ToString().Split('\n').ToList();
                    int a = rng.Next(lines.Count), b = rng.Next(lines.Count);
                    switch (rng.Next(3))
                    {
                        case 0: (lines[a], lines[b]) = (lines[b], lines[a]); break;
                        case 1: lines.Insert(b, lines[a]); break;
                        default: lines.RemoveAt(a); break;
                    }
                    text.Clear().AppendJoin('\n', lines);
                    break;
                }
            }
        }
        byte[] bytes = Encoding.UTF8.GetBytes(text.ToString());
        if (rng.Next(12) == 0 && bytes.Length > 0)
            bytes[rng.Next(bytes.Length)] = (byte)(0x80 + rng.Next(0x80)); // a byte that does not belong where it lands
        return bytes;
    }

    /// <summary>
    /// Replaces one to three values of the JSON document <paramref name="seed"/> (a string, number, literal, array or
    /// object, at any depth) with values of other types: what a profile with a mistyped field looks like.
    /// </summary>
    public static string JsonValues(Random rng, string seed)
    {
        string[] values = ["null", "true", "0", "-1", "18446744073709551616", "2.5", "[]", "{}", "\"\"", "\"x\"", "[\"SCMP_ACT_ALLOW\"]",
            "{\"names\": 7}", new string('[', 100) + new string(']', 100)];
        byte[] utf8 = Encoding.UTF8.GetBytes(seed);
        var spans = new List<(int Start, int End)>();
        var open = new Stack<int>();
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
        while (reader.Read())
        {
            int start = (int)reader.TokenStartIndex;
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject or JsonTokenType.StartArray:
                    open.Push(start);
                    break;
                case JsonTokenType.EndObject or JsonTokenType.EndArray:
                    spans.Add((open.Pop(), start + 1));
                    break;
                case JsonTokenType.PropertyName:
                    break;
                default:
                    spans.Add((start, (int)reader.BytesConsumed));
                    break;
            }
        }
        // Replace from the end, so that earlier spans keep their offsets; skip spans inside one already replaced.
        var chosen = Enumerable.Range(0, 1 + rng.Next(3)).Select(_ => spans[rng.Next(spans.Count)]).OrderByDescending(x => x.Start).ToList();
        var text = new StringBuilder(seed.Length);
        int cut = utf8.Length;
        var pieces = new List<string>();
        foreach (var (start, end) in chosen)
        {
            if (end > cut)
                continue;
            pieces.Add(Encoding.UTF8.GetString(utf8, end, cut - end));
            pieces.Add(values[rng.Next(values.Length)]);
            cut = start;
        }
        pieces.Add(Encoding.UTF8.GetString(utf8, 0, cut));
        pieces.Reverse();
        return text.AppendJoin("", pieces).ToString();
    }

    /// <summary>One to eight edits of <paramref name="seed"/>'s bytes.</summary>
    public static byte[] Bytes(Random rng, byte[] seed, int alignment)
    {
        uint[] interesting = [0, 1, 7, 8, 64, 0xff, 0xffff, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 1u << 26, 4096];
        var bytes = (byte[])seed.Clone();
        int edits = 1 + rng.Next(8);
        for (int e = 0; e < edits && bytes.Length > 0; e++)
        {
            switch (rng.Next(6))
            {
                case 0:
                    bytes[rng.Next(bytes.Length)] ^= (byte)(1 << rng.Next(8));
                    break;
                case 1:
                    bytes[rng.Next(bytes.Length)] = (byte)rng.Next(256);
                    break;
                case 2:
                case 3:
                {
                    // Sizes, counts and offsets live in aligned words: write an interesting one over one.
                    int at = rng.Next(bytes.Length / 4) * 4;
                    if (at + 4 <= bytes.Length)
                        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at), interesting[rng.Next(interesting.Length)]);
                    break;
                }
                case 4:
                    // Truncate, mostly on an instruction boundary.
                    Array.Resize(ref bytes, rng.Next(4) == 0 ? rng.Next(bytes.Length) : rng.Next(bytes.Length / alignment + 1) * alignment);
                    break;
                default:
                {
                    // Splice: a copy of one stretch over another.
                    int from = rng.Next(bytes.Length), to = rng.Next(bytes.Length);
                    int length = Math.Min(1 + rng.Next(64), Math.Min(bytes.Length - from, bytes.Length - to));
                    Array.Copy(bytes, from, bytes, to, length);
                    break;
                }
            }
        }
        return bytes;
    }
}
