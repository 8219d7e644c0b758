using System.Globalization;
using Syscage.Abi;
using Syscage.Bpf;

namespace Syscage.Cli;

/// <summary>
/// A system call as the verbs take it on the command line (<c>emu</c>, <c>explain</c>, <c>ebpf run</c>): a syscall
/// name or number, up to six arguments, an instruction pointer — and the integers they are written in, which
/// <c>syscalls</c> and <c>--set</c> read too.
/// </summary>
public static class CallInputs
{
    /// <summary>Builds the <c>seccomp_data</c> for a call as the kernel would fill it on <paramref name="arch"/>.</summary>
    public static SeccompData MakeData(Architecture arch, string syscall, string[] args, string? ip)
    {
        int nr;
        if (TryParseInteger(syscall, out ulong raw))
        {
            // Numbers are taken as the int the kernel puts in seccomp_data.nr: -1 and 0xffffffff alike.
            if (raw > uint.MaxValue && (long)raw < int.MinValue)
                throw new CliException(ExitCode.BadInput, $"syscall number '{syscall}' does not fit in 32 bits");
            nr = unchecked((int)(uint)raw);
        }
        else if (arch.TryParseSyscall(syscall, out int number))
            nr = number;
        else if (arch.TryGetMultiplexed(syscall, out var call))
            throw new CliException(ExitCode.BadInput,
                $"{arch.Name} makes {syscall} only through {call.MultiplexerName}(2): give '{call.MultiplexerName} {call.Code}' ({call.CodeName}), whose other arguments are in memory");
        else
        {
            var hint = arch.Syscalls.SuggestNames(syscall).FirstOrDefault();
            throw new CliException(ExitCode.BadInput, $"unknown syscall '{syscall}' on {arch.Name}{(hint is null ? "" : $"; did you mean '{hint}'?")}");
        }
        var values = new ulong[args.Length];
        for (int i = 0; i < args.Length; i++)
        {
            // Kept whole on a 32-bit ABI too: the kernel hands the filter the full registers (a 64-bit process can make
            // an i386 call with int 0x80 and anything in the high halves); only the syscall reads just the low half.
            if (!TryParseInteger(args[i], out values[i]))
                throw new CliException(ExitCode.BadInput, $"argument {i} '{args[i]}' is not a number (decimal, 0x hex, or negative)");
        }
        ulong ipValue = 0;
        if (ip is not null && !TryParseInteger(ip, out ipValue))
            throw new CliException(ExitCode.BadInput, $"--ip '{ip}' is not a number");
        return new SeccompData(nr, arch.AuditArch, ipValue, values);
    }

    /// <summary>Parses decimal, <c>0x</c> hex, or a negative decimal (as 64-bit two's complement).</summary>
    public static bool TryParseInteger(string s, out ulong value)
    {
        s = s.Trim();
        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return ulong.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
        if (s.StartsWith('-') && long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long neg))
        {
            value = unchecked((ulong)neg);
            return true;
        }
        return ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }
}
