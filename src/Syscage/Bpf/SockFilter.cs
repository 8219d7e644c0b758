using System.Globalization;

namespace Syscage.Bpf;

/// <summary>
/// The raw program format: <c>struct sock_filter</c> entries back to back, 8 bytes each, little endian,
/// as written by libseccomp's <c>seccomp_export_bpf</c> and read by <c>bwrap --seccomp FD</c>.
/// </summary>
public static class SockFilter
{
    /// <summary>Parses raw bytes into instructions; on failure <paramref name="error"/> says why and where.</summary>
    public static bool TryRead(ReadOnlySpan<byte> bytes, out Instruction[] instructions, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        if (bytes.Length % Instruction.Size != 0)
        {
            int whole = bytes.Length / Instruction.Size;
            error = string.Create(CultureInfo.InvariantCulture,
                $"truncated program: {bytes.Length} bytes is not a whole number of 8-byte instructions ({bytes.Length % Instruction.Size} stray bytes at byte offset {whole * Instruction.Size}, after pc {whole - 1})");
            instructions = [];
            return false;
        }
        if (bytes.Length == 0)
        {
            error = "empty program: a filter needs at least one instruction";
            instructions = [];
            return false;
        }
        instructions = new Instruction[bytes.Length / Instruction.Size];
        for (int i = 0; i < instructions.Length; i++)
            instructions[i] = Instruction.Read(bytes.Slice(i * Instruction.Size, Instruction.Size));
        error = null;
        return true;
    }

    /// <summary>Parses raw bytes into instructions or throws <see cref="BpfFormatException"/>.</summary>
    public static Instruction[] Read(ReadOnlySpan<byte> bytes) =>
        TryRead(bytes, out var instructions, out var error) ? instructions : throw new BpfFormatException(error);

    /// <summary>Serialises instructions to the raw format.</summary>
    public static byte[] Write(ReadOnlySpan<Instruction> instructions)
    {
        var bytes = new byte[instructions.Length * Instruction.Size];
        for (int i = 0; i < instructions.Length; i++)
            instructions[i].Write(bytes.AsSpan(i * Instruction.Size, Instruction.Size));
        return bytes;
    }
}

/// <summary>Raised when program bytes or text cannot be read; the message carries the position.</summary>
public class BpfFormatException : SyscageException
{
    /// <summary>Creates the exception with a message that already names the position.</summary>
    public BpfFormatException(string message) : base(message) { }
}
