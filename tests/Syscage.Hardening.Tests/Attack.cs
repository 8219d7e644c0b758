using System.Diagnostics;
using System.Globalization;
using Syscage.Abi;
using Syscage.Testing;

namespace Syscage.Hardening.Tests;

/// <summary>
/// Runs the real <c>syscage</c> tool on tests/native/attacker — as root, or as an unprivileged user (nobody), which is
/// the case the promises are about: the command runs as the same user as syscage. Everything nobody needs (the tool,
/// the attacker, the policies) is copied once into a world-readable directory, since the build tree may sit in root's
/// home.
/// </summary>
internal static class Attack
{
    public const int Nobody = 65534;

    private static readonly Lazy<string> Dir = new(() =>
    {
        var dir = Directory.CreateTempSubdirectory("syscage-attack-");
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { dir.Delete(recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        };
        File.Copy(SyscageTool.Path, Path.Combine(dir.FullName, "syscage"));
        File.Copy(NativeBuild.Compile("attacker.c", "the hardening tests", "-pthread"), Path.Combine(dir.FullName, "attacker"));
        var open = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead |
                   UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
        File.SetUnixFileMode(dir.FullName, open);
        foreach (var file in Directory.GetFiles(dir.FullName))
            File.SetUnixFileMode(file, open);
        return dir.FullName;
    });

    /// <summary>The published native syscage, copied into the shared directory.</summary>
    public static string Tool => Path.Combine(Dir.Value, "syscage");

    /// <summary>The world-readable directory with the tool and the attacker.</summary>
    public static string SharedDir => Dir.Value;

    /// <summary>A program of tests/native, built and copied into the shared directory.</summary>
    public static string Helper(string source, params string[] flags) => Objects.GetOrAdd("helper\0" + source, _ => new Lazy<string>(() =>
    {
        // Copied once, whole, before any test sees the path (a File.Exists check let a parallel caller run a half-copied file).
        string path = Path.Combine(Dir.Value, Path.GetFileNameWithoutExtension(source));
        File.Copy(NativeBuild.Compile(source, "the hardening tests", flags), path, overwrite: true);
        File.SetUnixFileMode(path, (UnixFileMode)0x1ed); // rwxr-xr-x
        return path;
    })).Value;

    /// <summary>The attacker's path.</summary>
    public static string Attacker => Path.Combine(Dir.Value, "attacker");

    public static int Nr(string name) => Architecture.Native.Syscalls.TryGetNumber(name, out int nr) ? nr : throw new ArgumentException(name);

    /// <summary>Writes a world-readable file (a policy, an object) into the directory and returns its path.</summary>
    public static string Share(string name, string text)
    {
        // Written aside and renamed into place: tests running in parallel share names (allow.policy), and a reader
        // must never see the file truncated by another writer.
        string path = Path.Combine(Dir.Value, name);
        string temp = path + "." + Guid.NewGuid().ToString("N");
        File.WriteAllText(temp, text);
        File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        File.Move(temp, path, overwrite: true);
        return path;
    }

    /// <summary>A world-writable scratch directory for the attacker's evidence.</summary>
    public static string Scratch()
    {
        var dir = Directory.CreateTempSubdirectory("syscage-attack-scratch-").FullName;
        File.SetUnixFileMode(dir, (UnixFileMode)0x1ff);
        return dir;
    }

    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}--- stderr\n{Stderr}";
    }

    /// <summary>Starts <c>syscage ARGS</c> as <paramref name="uid"/> (null: as this process's user), stdio redirected.</summary>
    public static Process Start(int? uid, params string[] args)
    {
        ProcessStartInfo psi;
        if (uid is int u)
        {
            string setpriv = NativeBuild.FindOnPath("setpriv") ?? throw new InvalidOperationException("setpriv (util-linux) is missing");
            psi = new ProcessStartInfo(setpriv);
            foreach (var a in new[] { $"--reuid={u}", $"--regid={u}", "--clear-groups", "--", Tool })
                psi.ArgumentList.Add(a);
            psi.Environment["HOME"] = Path.GetTempPath();
        }
        else
            psi = new ProcessStartInfo(Tool);
        psi.RedirectStandardOutput = psi.RedirectStandardError = psi.RedirectStandardInput = true;
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        return Process.Start(psi) ?? throw new InvalidOperationException("could not start syscage");
    }

    /// <summary>Runs <c>syscage ARGS</c> as <paramref name="uid"/> to its end (60 s at most).</summary>
    public static Result Run(int? uid, params string[] args)
    {
        using var p = Start(uid, args);
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000))
        {
            p.Kill(true);
            throw new TimeoutException($"syscage {string.Join(' ', args)} did not end in 60 s");
        }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>The attacker's "vector result" lines.</summary>
    public static Dictionary<string, string> Lines(string stdout) => stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
        .Select(l => l.Split(' ', 2)).Where(p => p.Length == 2).GroupBy(p => p[0]).ToDictionary(g => g.Key, g => g.Last()[1], StringComparer.Ordinal);

    /// <summary>True while process <paramref name="pid"/> exists and is not a zombie.</summary>
    public static bool IsAlive(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z') is false;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Waits until none of <paramref name="pids"/> is alive, or <paramref name="deadline"/>; returns those still alive.</summary>
    public static int[] WaitDead(IEnumerable<int> pids, TimeSpan deadline)
    {
        var watch = Stopwatch.StartNew();
        int[] alive;
        while ((alive = [.. pids.Where(IsAlive)]).Length > 0 && watch.Elapsed < deadline)
            Thread.Sleep(10);
        return alive;
    }

    /// <summary>The pids written one a line in <paramref name="file"/> (other lines ignored).</summary>
    public static int[] Pids(string file) => [.. File.ReadAllLines(file)
        .Select(l => int.TryParse(l, NumberStyles.None, CultureInfo.InvariantCulture, out int p) ? p : 0).Where(p => p > 0)];

    /// <summary>Waits until <paramref name="file"/> has a line starting with <paramref name="marker"/> (60 s at most: liveness only).</summary>
    public static void WaitFor(string file, string marker)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (File.Exists(file) && File.ReadAllLines(file).Any(l => l.StartsWith(marker, StringComparison.Ordinal)))
                return;
            Thread.Sleep(10);
        }
        throw new TimeoutException($"{file} never said '{marker}'");
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<string>> Objects = new(StringComparer.Ordinal);

    /// <summary>
    /// clang -O2 -g -target bpf on samples/ebpf/NAME.c (or on C text), into the shared directory: once per name and
    /// text, so that test classes running in parallel (ReachTests and TakeoverTests both use exec_once) never rewrite
    /// an object another one's syscage is reading.
    /// </summary>
    public static string Ebpf(string name, string? source = null) =>
        Objects.GetOrAdd(name + "\0" + source, _ => new Lazy<string>(() => CompileEbpf(name, source))).Value;

    private static string CompileEbpf(string name, string? source)
    {
        string samples = Path.Combine(NativeProbe.RepositoryRoot, "samples", "ebpf");
        string c = source is null ? Path.Combine(samples, name + ".c") : Share(name + ".c", source);
        string obj = Path.Combine(Dir.Value, name + ".o");
        var psi = new ProcessStartInfo(NativeBuild.FindOnPath("clang") ?? throw new InvalidOperationException("clang is missing (scripts/ensure-deps.sh installs it)"))
        {
            RedirectStandardError = true,
        };
        foreach (var a in new[] { "-O2", "-g", "-target", "bpf", "-I/usr/include/x86_64-linux-gnu", "-I" + samples, "-c", c, "-o", obj })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"clang failed on {c}:\n{err}");
        File.SetUnixFileMode(obj, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        return obj;
    }
}
