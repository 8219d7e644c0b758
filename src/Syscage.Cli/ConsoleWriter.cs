using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Syscage.Cli;

/// <summary>
/// <see cref="Console.Out"/> or <see cref="Console.Error"/>, made at the first write: making the console's writer reads
/// the locale for its encoding (about 20 us of a start), which <c>syscage run</c> never needs when all it prints is the
/// command's own output.
/// </summary>
internal sealed class ConsoleWriter : TextWriter
{
    /// <summary>This process's stdout.</summary>
    public static readonly ConsoleWriter Out = new(error: false);

    /// <summary>This process's stderr.</summary>
    public static readonly ConsoleWriter Error = new(error: true);

    private readonly bool _error;
    private TextWriter? _writer;

    private ConsoleWriter(bool error) => _error = error;

    /// <summary>True when <paramref name="writer"/> writes to this process's stdout.</summary>
    public static bool IsStandardOutput(TextWriter writer) => ReferenceEquals(writer, Out) || ReferenceEquals(writer, Console.Out);

    private TextWriter Writer => _writer ??= _error ? Console.Error : Console.Out;

    /// <inheritdoc/>
    public override Encoding Encoding => Writer.Encoding;

    /// <inheritdoc/>
    public override IFormatProvider FormatProvider => Writer.FormatProvider;

    /// <inheritdoc/>
    [AllowNull]
    public override string NewLine { get => Writer.NewLine; set => Writer.NewLine = value; }

    /// <inheritdoc/>
    public override void Write(char value) => Writer.Write(value);

    /// <inheritdoc/>
    public override void Write(string? value) => Writer.Write(value);

    /// <inheritdoc/>
    public override void Write(char[] buffer, int index, int count) => Writer.Write(buffer, index, count);

    /// <inheritdoc/>
    public override void Write(ReadOnlySpan<char> buffer) => Writer.Write(buffer);

    /// <inheritdoc/>
    public override void WriteLine() => Writer.WriteLine();

    /// <inheritdoc/>
    public override void WriteLine(string? value) => Writer.WriteLine(value);

    /// <inheritdoc/>
    public override void WriteLine(ReadOnlySpan<char> buffer) => Writer.WriteLine(buffer);

    /// <summary>Flushes the console's writer, if anything was written.</summary>
    public override void Flush() => _writer?.Flush();
}
