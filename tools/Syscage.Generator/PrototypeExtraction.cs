using System.Globalization;

namespace Syscage.Generator;

/// <summary>
/// Rewrites <c>facts/syscall-prototypes.csv</c>: the <c>man</c> rows extracted afresh from the section-2 man pages for
/// every syscall of the tables, the <c>kernel</c> rows kept as they are (they are written by hand from the kernel's
/// <c>SYSCALL_DEFINEn</c> and <c>COMPAT_SYSCALL_DEFINEn</c> declarations, which this machine does not have).
/// </summary>
internal static class PrototypeExtraction
{
    /// <summary>The command that re-extracts the file, for messages.</summary>
    public const string Command = "dotnet run --project tools/Syscage.Generator -- <repo-root> --extract-prototypes";

    /// <summary>The new text of the file at <paramref name="prototypesFile"/>.</summary>
    /// <param name="prototypesFile">The current file, whose kernel rows are kept (it may not exist yet).</param>
    /// <param name="manDirectory">The section-2 man pages (manpages-dev).</param>
    /// <param name="syscalls">Every syscall name of the tables.</param>
    /// <exception cref="MissingSourceException">The man pages are not installed.</exception>
    public static string Extract(string prototypesFile, string manDirectory, IReadOnlyList<string> syscalls)
    {
        if (!Directory.Exists(manDirectory) || !Directory.EnumerateFiles(manDirectory, "*.2*").Any())
        {
            throw new MissingSourceException(
                $"no section-2 man pages in {manDirectory}: install Debian's manpages-dev (apt-get install manpages-dev), "
                + "which the syscall prototypes are extracted from");
        }

        var man = new ManPagePrototypes(manDirectory, ArchitectureSpec.All.Where(a => a.CloneBackwards).Select(a => a.Name).ToList());
        IEnumerable<PrototypeRow> kernel = File.Exists(prototypesFile)
            ? PrototypeFile.Read(prototypesFile).Where(r => r.Source == PrototypeSource.Kernel)
            : [];
        var rows = syscalls.SelectMany(man.RowsFor).Concat(kernel)
            .OrderBy(r => r.Syscall, StringComparer.Ordinal)
            .ThenBy(r => r.Source)
            .ThenBy(r => string.Join(' ', r.Abis), StringComparer.Ordinal)
            .ToList();
        string[] header =
        [
            "Syscall prototypes: the C type and name of each argument, in the order of seccomp_data.args, for",
            "tools/Syscage.Generator, which turns them into the argument names and widths of the syscall tables.",
            "",
            "Rows whose source is 'man' are extracted by the generator from the SYNOPSIS (clone: NOTES) of the section-2",
            string.Create(CultureInfo.InvariantCulture, $"man pages ({man.ManPagesVersion}, {man.PageCount} pages), under the kernel's name of the call (pread64 from"),
            "pread(2)); re-extract with: " + Command + ".",
            "Rows whose source is 'kernel' are written by hand from the kernel's SYSCALL_DEFINEn / COMPAT_SYSCALL_DEFINEn",
            "declarations where the kernel's argument list or an argument's width differs from the man page's, or where no",
            "page has the call; the extraction keeps them. For one call and architecture a kernel row wins over a man row (the",
            "kernel's syscall wrapper casts each register to the declared type; a man page may show the glibc wrapper's",
            "type), and a row for listed architectures over a row for all (abis empty). A kernel row that only corrects",
            "types keeps the man page's names, which policies use.",
            "",
            "Argument widths come from the types (tools/Syscage.Generator/ArgumentTypes.cs). On a 32-bit ABI the names",
            "stop before the first argument that takes two registers (loff_t, u64): after it, where an argument lands",
            "depends on how the architecture splits and aligns the pair.",
            "",
            "The rows were reviewed call by call for x86_64, x86, x32, aarch64 and riscv64. On the other architectures a",
            "call that has rows for named architectures (its arguments differ between architectures: clone, mmap, the",
            "16-bit uid calls ...) gets names only from a row that names the architecture; without one it has none, and",
            "rules compare its arguments at full width (tools/Syscage.Generator/PrototypeFile.cs, PrototypeSet.For).",
        ];
        return PrototypeFile.Render(rows, header);
    }
}
