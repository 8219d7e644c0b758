using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Syscage.Abi;
using static Syscage.Kernel.Interop.Libc;

namespace Syscage.Kernel;

/// <summary>
/// Where the launcher <c>syscage-exec</c> is: a path set by the application, <c>$SYSCAGE_EXEC</c>, a file shipped
/// with the application, or an in-memory copy of an image the application carries (a single-file executable).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class Launcher
{
    public const string FileName = "syscage-exec";
    public const string Variable = "SYSCAGE_EXEC";

    private static volatile string? s_path, s_imagePath;

    // The in-memory copy: kept open (and so executable as /proc/self/fd/N) for the life of the process.
    private static SafeFileHandle? s_image;
    private static readonly Lock ImageLock = new();

    /// <summary>The path set by the application (<see cref="SandboxedProcess.LauncherPath"/>); null: the default.</summary>
    public static string? Explicit
    {
        get => s_path;
        set => s_path = value;
    }

    /// <summary>
    /// The launcher to run: the path the application set, else <c>$SYSCAGE_EXEC</c> (the user's choice), else the
    /// in-memory copy the application loaded, else the first file found.
    /// </summary>
    public static string Path => s_path ?? FromEnvironment() ?? s_imagePath ?? Find();

    /// <summary>
    /// Whether <paramref name="path"/> is the launcher found by default (<see cref="Find"/>): neither set by the
    /// application nor by <c>$SYSCAGE_EXEC</c>, nor an in-memory copy.
    /// </summary>
    public static bool IsFoundFile(string path) =>
        s_path is null && FromEnvironment() is null && s_imagePath is null && string.Equals(path, Find(), StringComparison.Ordinal);

    /// <summary>
    /// A sealed in-memory copy of the launcher file <paramref name="path"/> (<see cref="Load"/>), for a launcher this
    /// process may read but not execute: NuGet extracts package files with mode 0744, so an application run by another
    /// user than the one who restored and built it gets the package's launcher without the right to execute it.
    /// </summary>
    public static string CopyOf(string path) => Load(File.ReadAllBytes(path));

    private static string? FromEnvironment() => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } path ? path : null;

    /// <summary>
    /// The first <c>syscage-exec</c> of: the application's folder (a RID-specific build or a publish copies the package's
    /// native asset there, a project reference copies the file), the folders of native assets the host resolved for
    /// this machine (a portable build of a package reference: <c>runtimes/linux-x64/native/</c>), and
    /// <c>runtimes/linux-ARCH/native/</c> under the application's folder. None: the first of them, for the message.
    /// </summary>
    public static string Find()
    {
        string first = System.IO.Path.Combine(AppContext.BaseDirectory, FileName);
        if (File.Exists(first))
            return first;
        // The host's list of native-asset folders (from the .deps.json, for this RID), separated by ':'.
        if (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") is string folders)
            foreach (var folder in folders.Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            {
                string candidate = System.IO.Path.Combine(folder, FileName);
                if (File.Exists(candidate))
                    return candidate;
            }
        if (RuntimeIdentifier is { } rid)
        {
            string candidate = System.IO.Path.Combine(AppContext.BaseDirectory, "runtimes", rid, "native", FileName);
            if (File.Exists(candidate))
                return candidate;
        }
        return first;
    }

    /// <summary>The package's runtime identifier for this process (<c>linux-x64</c>, <c>linux-arm64</c>), or null.</summary>
    public static string? RuntimeIdentifier => RuntimeInformation.ProcessArchitecture switch
    {
        System.Runtime.InteropServices.Architecture.X64 => "linux-x64",
        System.Runtime.InteropServices.Architecture.Arm64 => "linux-arm64",
        _ => null,
    };

    /// <summary>
    /// Copies <paramref name="image"/> into a sealed memfd (nothing can change it afterwards, the descriptor is
    /// close-on-exec and at 10 or above, clear of the numbers the spawn gives the launcher) and makes it the default
    /// launcher: <c>/proc/self/fd/N</c>, which execve opens before it closes the close-on-exec descriptors. Once per
    /// process; later calls return the first copy's path.
    /// </summary>
    public static string Load(ReadOnlySpan<byte> image)
    {
        if (image.Length < 4 || image[0] != 0x7f || image[1] != (byte)'E' || image[2] != (byte)'L' || image[3] != (byte)'F')
            throw new ArgumentException("not an ELF executable", nameof(image));
        lock (ImageLock)
        {
            if (s_image is { } loaded)
                return s_imagePath = ProcPath(loaded);
            // memfd_create(2): "MFD_EXEC ... the memfd is executable"; kernels before 6.3 know no such flag (EINVAL) and
            // make every memfd executable.
            uint flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
            int fd = memfd_create(FileName, flags | MFD_EXEC);
            if (fd < 0 && Marshal.GetLastPInvokeError() == Errno.EINVAL)
                fd = memfd_create(FileName, flags);
            if (fd < 0)
                throw KernelException.FromLastError("memfd_create(syscage-exec)");
            int high = fcntl(fd, F_DUPFD_CLOEXEC, 10);
            var dupError = high < 0 ? KernelException.FromLastError("fcntl(F_DUPFD_CLOEXEC)") : null;
            close(fd);
            if (dupError is not null)
                throw dupError;
            var handle = new SafeFileHandle(high, ownsHandle: true);
            try
            {
                int done = 0;
                while (done < image.Length)
                {
                    nint n = write(high, image[done..], image.Length - done);
                    if (n < 0 && Marshal.GetLastPInvokeError() == Errno.EINTR)
                        continue;
                    if (n <= 0)
                        throw KernelException.FromLastError("write(syscage-exec memfd)");
                    done += (int)n;
                }
                // fcntl(2): "F_SEAL_WRITE: If this seal is set, you cannot modify the contents of the file".
                if (fcntl(high, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0)
                    throw KernelException.FromLastError("fcntl(F_ADD_SEALS)");
            }
            catch
            {
                handle.Dispose();
                throw;
            }
            s_image = handle;
            return s_imagePath = ProcPath(handle);
        }
    }

    private static string ProcPath(SafeFileHandle handle) => $"/proc/self/fd/{(int)handle.DangerousGetHandle()}";
}
