using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Syscage.Testing;

/// <summary>
/// Real runc containers for the tests: a bundle whose rootfs is the static busybox (with the applets a test names) and
/// the files it adds, its <c>config.json</c> made by <c>runc spec</c> and edited (no terminal, the process's arguments, a
/// writable root, the seccomp profile under test); run with <c>runc --root DIR/runc-state run</c>, stdin closed.
/// </summary>
public static class RuncContainer
{
    /// <summary>The runc executable (Debian's package puts it in /usr/sbin).</summary>
    public static string Runc => NativeBuild.FindOnPath("runc") ?? (File.Exists("/usr/sbin/runc") ? "/usr/sbin/runc"
        : throw new InvalidOperationException("runc is needed (scripts/ensure-deps.sh installs it)"));

    /// <summary>The static busybox the rootfs is made of (Debian's busybox-static).</summary>
    public static string Busybox => File.Exists("/bin/busybox") ? "/bin/busybox"
        : throw new InvalidOperationException("busybox-static is needed (scripts/ensure-deps.sh installs it)");

    /// <summary>What a container's runc run ended with.</summary>
    public sealed record Outcome(int Code, string Stdout, string Stderr)
    {
        /// <summary>For a failed assertion.</summary>
        public override string ToString() => $"runc exit {Code}\nstdout: {Stdout}\nstderr: {Stderr}";
    }

    /// <summary>
    /// Makes the bundle <paramref name="dir"/>/<paramref name="id"/>: busybox at /bin/busybox with <paramref name="applets"/>
    /// linked to it in /bin, a /tmp, each of <paramref name="files"/> (path in the rootfs → file to copy), and a config
    /// whose process is <paramref name="args"/> under <paramref name="seccomp"/> (copied), its root writable;
    /// <paramref name="edit"/> changes the config further. Returns the bundle's path.
    /// </summary>
    public static string Bundle(string dir, string id, JsonNode seccomp, IEnumerable<string> args, IEnumerable<string> applets,
        IReadOnlyDictionary<string, string>? files = null, Action<JsonNode>? edit = null)
    {
        ArgumentNullException.ThrowIfNull(seccomp);
        string bundle = Path.Combine(dir, id);
        string rootfs = Path.Combine(bundle, "rootfs");
        Directory.CreateDirectory(Path.Combine(rootfs, "bin"));
        Directory.CreateDirectory(Path.Combine(rootfs, "tmp"));
        File.Copy(Busybox, Path.Combine(rootfs, "bin", "busybox"));
        foreach (string applet in applets)
            File.CreateSymbolicLink(Path.Combine(rootfs, "bin", applet), "busybox");
        foreach (var (inside, from) in files ?? new Dictionary<string, string>())
        {
            string to = Path.Combine(rootfs, inside.TrimStart('/'));
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(from, to);
        }
        using (var spec = Process.Start(new ProcessStartInfo(Runc, ["spec", "--bundle", bundle]) { RedirectStandardError = true })!)
        {
            spec.StandardError.ReadToEnd();
            spec.WaitForExit();
            if (spec.ExitCode != 0)
                throw new InvalidOperationException($"runc spec --bundle {bundle} exited {spec.ExitCode}");
        }
        string configPath = Path.Combine(bundle, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!;
        config["process"]!["terminal"] = false;
        config["process"]!["args"] = new JsonArray([.. args.Select(a => (JsonNode?)a)]);
        config["root"]!["readonly"] = false;
        config["linux"]!["seccomp"] = seccomp.DeepClone();
        edit?.Invoke(config);
        File.WriteAllText(configPath, config.ToJsonString());
        return bundle;
    }

    /// <summary>Starts <c>runc run</c> of <paramref name="bundle"/> as container <paramref name="id"/>; <see cref="Finish"/> waits for it.</summary>
    public static Process Start(string dir, string bundle, string id)
    {
        var psi = new ProcessStartInfo(Runc) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (string a in (string[])["--root", Path.Combine(dir, "runc-state"), "run", "--bundle", bundle, id])
            psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        p.StandardInput.Close();
        return p;
    }

    /// <summary>Waits for a started container (<paramref name="timeout"/> at most: then its runc is killed and the code is -1).</summary>
    public static Outcome Finish(Process runc, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(runc);
        var stdout = runc.StandardOutput.ReadToEndAsync();
        var stderr = runc.StandardError.ReadToEndAsync();
        if (!runc.WaitForExit(timeout))
        {
            runc.Kill(true);
            runc.WaitForExit();
            return new Outcome(-1, stdout.Result, $"timed out after {timeout.TotalSeconds:0} s; {stderr.Result}");
        }
        runc.WaitForExit();
        return new Outcome(runc.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Runs a container to its end (<see cref="Start"/>, <see cref="Finish"/>).</summary>
    public static Outcome Run(string dir, string bundle, string id, TimeSpan timeout)
    {
        using var runc = Start(dir, bundle, id);
        return Finish(runc, timeout);
    }

    /// <summary>Ends a container a failed test left running (its runc's tree is not the test's to outlive).</summary>
    public static void Kill(string dir, string id, Process runc)
    {
        ArgumentNullException.ThrowIfNull(runc);
        if (runc.HasExited)
            return;
        foreach (var args in (string[][])[["kill", id, "KILL"], ["delete", "--force", id]])
        {
            using var p = Process.Start(new ProcessStartInfo(Runc, ["--root", Path.Combine(dir, "runc-state"), .. args]) { RedirectStandardError = true })!;
            p.StandardError.ReadToEnd();
            p.WaitForExit(30_000);
        }
        if (!runc.WaitForExit(30_000))
            runc.Kill(true);
    }
}
