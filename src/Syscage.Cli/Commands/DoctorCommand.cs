using System.CommandLine;
using System.Globalization;
using Syscage.Abi;
using Syscage.Ebpf.Vm;
using Syscage.Supervision;

namespace Syscage.Cli.Commands;

/// <summary><c>syscage doctor</c>: what this kernel and machine support.</summary>
public static class DoctorCommand
{
    /// <summary>The command definition; it only unpacks the parse result.</summary>
    public static Command Create()
    {
        var json = JsonOutput.Option("the report");
        var cmd = new Command("doctor", "Report what this kernel supports: seccomp actions, filter flags, user notification, helpers Syscage uses") { json };
        cmd.SetAction(p => CliApp.Guard(p, (o, e) => Run(o, e, p.GetValue(json))));
        return cmd;
    }

    /// <summary>Prints one line per feature (or one JSON object); exit 1 if seccomp filtering itself is missing.</summary>
    public static int Run(TextWriter stdout, TextWriter stderr, bool json = false)
    {
        EmbeddedLauncher.Use();
        var k = KernelSupport.Read();
        if (json)
        {
            WriteJson(stdout, k);
            return k.SeccompError is null ? (int)ExitCode.Ok : (int)ExitCode.Rejected;
        }
        stdout.WriteLine($"kernel           {k.Release} ({KernelSupport.MachineArchitecture})");
        stdout.WriteLine("syscall tables   " + TablesLine(k.Release));
        if (k.SeccompError is not null)
        {
            stdout.WriteLine($"seccomp          not available: {k.SeccompError}");
            return (int)ExitCode.Rejected;
        }
        stdout.WriteLine($"seccomp          mode of this process: {k.Mode switch { 0 => "none", 1 => "strict", _ => "filter" }}");
        stdout.WriteLine("actions          " + string.Join(" ", k.Actions.Select(a => a.Available ? a.Name : $"no-{a.Name}")));
        stdout.WriteLine("filter flags     " + string.Join(" ", k.FilterFlags.Select(f => f.Supported ? f.Name : $"no-{f.Name}")));
        stdout.WriteLine(k.NotifSizes is var (notif, resp, data)
            ? $"user notif       struct sizes: seccomp_notif {notif}, seccomp_notif_resp {resp}, seccomp_data {data}"
            : $"user notif       unavailable: {k.NotifError}");
        stdout.WriteLine($"actions logged   {k.ActionsLogged}");
        string launcher = k.LauncherPresent ? k.LauncherPath : "MISSING: " + k.LauncherPath;
        if (k.LauncherPresent && k.LauncherPath.StartsWith("/proc/self/fd/", StringComparison.Ordinal))
            launcher += " (the copy built into syscage, in a sealed memfd)";
        stdout.WriteLine($"launcher         {launcher}");
        stdout.WriteLine("guard filters    " + (BuiltinPrograms.UseCompiledGuards()
            ? "compiled when syscage was built (each run puts its pids in)"
            : "compiled at each run's start (this build holds none made by its own library)"));
        stdout.WriteLine("ebpf engine      " + (EbpfVm.DefaultEngine == EbpfEngine.Jit
            ? "JIT (eBPF compiled to IL, then to native code by the .NET JIT)"
            : "interpreter (this runtime can't compile code at run time: NativeAOT)"));
        stdout.WriteLine($"privileges       {(Environment.UserName == "root" ? "root: CAP_SYS_ADMIN would allow filters without no_new_privs, but Syscage sets it anyway" : "unprivileged: Syscage sets no_new_privs before installing (setuid binaries inside won't gain privileges)")}");
        return (int)ExitCode.Ok;
    }

    private static void WriteJson(TextWriter stdout, KernelSupport k) => JsonOutput.WriteLine(stdout, w =>
    {
        w.WriteStartObject();
        w.WriteString("kernel", k.Release);
        w.WriteString("machine", KernelSupport.MachineArchitecture);
        w.WriteString("tablesKernel", Architecture.KernelVersion);
        w.WriteNumber("architectures", Architecture.All.Count);
        w.WriteBoolean("kernelNewerThanTables", TryMajorMinor(k.Release, out var running) && TryMajorMinor(Architecture.KernelVersion, out var known) && running.CompareTo(known) > 0);
        w.WriteBoolean("seccomp", k.SeccompError is null);
        if (k.SeccompError is not null)
            w.WriteString("seccompError", k.SeccompError);
        else
        {
            w.WriteString("mode", k.Mode switch { 0 => "none", 1 => "strict", _ => "filter" });
            w.WriteStartObject("actions");
            foreach (var (name, available) in k.Actions)
                w.WriteBoolean(name, available);
            w.WriteEndObject();
            w.WriteStartObject("filterFlags");
            foreach (var (name, supported) in k.FilterFlags)
                w.WriteBoolean(name, supported);
            w.WriteEndObject();
            if (k.NotifSizes is var (notif, resp, data))
            {
                w.WriteStartObject("userNotif");
                w.WriteNumber("seccomp_notif", notif);
                w.WriteNumber("seccomp_notif_resp", resp);
                w.WriteNumber("seccomp_data", data);
                w.WriteEndObject();
            }
            else
                w.WriteString("userNotifError", k.NotifError);
        }
        w.WriteString("actionsLogged", k.ActionsLogged);
        w.WriteString("launcher", k.LauncherPath);
        w.WriteBoolean("launcherPresent", k.LauncherPresent);
        w.WriteBoolean("root", Environment.UserName == "root");
        w.WriteEndObject();
    });

    /// <summary>
    /// The kernel version of the syscall tables, and whether <paramref name="release"/> (<c>uname -r</c>) is newer: its
    /// newer syscalls have no name in Syscage, so a policy cannot allow them by name and they get its default action.
    /// </summary>
    public static string TablesLine(string release)
    {
        string tables = $"Linux {Architecture.KernelVersion}, {Architecture.All.Count} architectures";
        if (!TryMajorMinor(release, out var running) || !TryMajorMinor(Architecture.KernelVersion, out var known))
            return $"{tables} (cannot read the version of this kernel, '{release}')";
        return running.CompareTo(known) > 0
            ? $"{tables}: this kernel ({running.Major}.{running.Minor}) is NEWER; its syscalls added since {known.Major}.{known.Minor} have no name here, "
              + "so policies cannot name them and give them their default action (update facts/syscalls.csv and regenerate)"
            : $"{tables}: not older than this kernel ({running.Major}.{running.Minor})";
    }

    private static bool TryMajorMinor(string release, out (int Major, int Minor) version)
    {
        version = default;
        var parts = release.Split('.', 3);
        if (parts.Length < 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int major))
            return false;
        string minorText = new([.. parts[1].TakeWhile(char.IsAsciiDigit)]);
        if (!int.TryParse(minorText, NumberStyles.None, CultureInfo.InvariantCulture, out int minor))
            return false;
        version = (major, minor);
        return true;
    }
}
