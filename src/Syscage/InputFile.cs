using System.Text;

namespace Syscage;

/// <summary>
/// Reads input files within <see cref="InputLimits"/>: at most one byte past the limit is ever read, so an endless
/// file (<c>/dev/zero</c>, a pipe that never ends) or a huge one fails at once with
/// <see cref="InputTooLargeException"/>, in the memory of the limit.
/// </summary>
public static class InputFile
{
    private const int Chunk = 64 << 10;

    /// <summary>A text file (policy, profile, assembler) as UTF-8, at most <see cref="InputLimits.MaxTextBytes"/>.</summary>
    /// <exception cref="InputTooLargeException">The file is larger.</exception>
    /// <exception cref="IOException">The file can't be read.</exception>
    public static string ReadText(string path) => Encoding.UTF8.GetString(ReadTextBytes(path));

    /// <summary>The bytes of a text file (a profile is parsed as UTF-8 bytes), at most <see cref="InputLimits.MaxTextBytes"/>.</summary>
    /// <exception cref="InputTooLargeException">The file is larger.</exception>
    /// <exception cref="IOException">The file can't be read.</exception>
    public static byte[] ReadTextBytes(string path) => Read(path, InputLimits.MaxTextBytes, TextKind);

    /// <summary>A binary file (object, raw instructions), at most <see cref="InputLimits.MaxBinaryBytes"/>.</summary>
    /// <exception cref="InputTooLargeException">The file is larger.</exception>
    /// <exception cref="IOException">The file can't be read.</exception>
    public static byte[] ReadBinary(string path) => Read(path, InputLimits.MaxBinaryBytes, BinaryKind);

    /// <summary>Text from a stream (standard input), named <paramref name="name"/> in errors.</summary>
    /// <exception cref="InputTooLargeException">The stream holds more than <see cref="InputLimits.MaxTextBytes"/>.</exception>
    public static byte[] ReadTextBytes(Stream stream, string name) => Read(stream, name, InputLimits.MaxTextBytes, TextKind);

    /// <summary>Binary input from a stream (standard input), named <paramref name="name"/> in errors.</summary>
    /// <exception cref="InputTooLargeException">The stream holds more than <see cref="InputLimits.MaxBinaryBytes"/>.</exception>
    public static byte[] ReadBinary(Stream stream, string name) => Read(stream, name, InputLimits.MaxBinaryBytes, BinaryKind);

    private const string TextKind = "text (policies, profiles, assembler)";
    private const string BinaryKind = "binary input (objects, raw programs)";

    private static byte[] Read(string path, int limit, string kind)
    {
        ArgumentNullException.ThrowIfNull(path);
        // No seeking and no Length: character devices and pipes report none, and a regular file may grow meanwhile.
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
        return Read(stream, path, limit, kind);
    }

    private static byte[] Read(Stream stream, string name, int limit, string kind)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(name);
        using var buffer = new MemoryStream();
        // A file that says how long it is gets a buffer of that size (and one byte, to see the end): a 5 KB object is not
        // read into 64 KB of fresh memory. Only a hint: the loop reads on to the end whatever the length said.
        long known = stream.CanSeek ? stream.Length - stream.Position : 0;
        byte[] chunk = new byte[known is > 0 and < Chunk ? (int)known + 1 : Chunk];
        while (true)
        {
            // Ask for one byte more than the limit allows in total: getting it proves the input too large.
            int want = (int)Math.Min(chunk.Length, (long)limit + 1 - buffer.Length);
            int n = stream.Read(chunk, 0, want);
            if (n == 0)
                return buffer.ToArray();
            buffer.Write(chunk, 0, n);
            if (buffer.Length > limit)
                throw new InputTooLargeException(name, limit, kind);
        }
    }
}

/// <summary>An input is larger than <see cref="InputLimits"/> allows; the message names it and the limit.</summary>
public sealed class InputTooLargeException : SyscageException
{
    /// <summary>Creates the exception for input <paramref name="name"/> over <paramref name="limit"/> bytes of <paramref name="kind"/>.</summary>
    public InputTooLargeException(string name, long limit, string kind)
        : base($"{name}: larger than {InputLimits.Describe(limit)}, the most Syscage reads of {kind}")
    {
        Name = name;
        Limit = limit;
    }

    /// <summary>The input, as named in the message.</summary>
    public string Name { get; }

    /// <summary>The limit it exceeded, in bytes.</summary>
    public long Limit { get; }
}
