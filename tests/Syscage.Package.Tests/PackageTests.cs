using System.IO.Compression;
using Syscage.Testing;

namespace Syscage.Package.Tests;

/// <summary>
/// The packages as a user gets them: the library packed, referenced from a local feed by a fresh <c>dotnet new
/// console</c> app that builds with warnings as errors and sandboxes itself; the tool packed, installed by root into a
/// tool path, and run by another user. Offline: the feed is a folder, NuGet's packages go to a folder of the test.
/// </summary>
[Collection("packages")] // one pack or build at a time: they share obj/ folders
public sealed class PackageTests : IDisposable
{
    private const int Nobody = 65534;
    private static string Root => NativeProbe.RepositoryRoot;

    private readonly string _dir = Directory.CreateTempSubdirectory("syscage-package-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private string Sub(string name) => Directory.CreateDirectory(Path.Combine(_dir, name)).FullName;

    /// <summary>A nuget.config that knows only <paramref name="feed"/>: nothing comes from anywhere else.</summary>
    private static void WriteConfig(string directory, string feed) => File.WriteAllText(Path.Combine(directory, "nuget.config"), $"""
        <?xml version="1.0" encoding="utf-8"?>
        <configuration>
          <packageSources>
            <clear />
            <add key="local" value="{feed}" />
          </packageSources>
        </configuration>
        """);

    private const string ConsoleProgram = """
        using System.Runtime.InteropServices;
        using Syscage.Abi;
        using Syscage.Kernel;
        using Syscage.Policy.Compiler;
        using Syscage.Policy.Fluent;

        // Reading and compiling a policy works on any platform: no check needed.
        var policy = FluentPolicy.DefaultAction(SeccompAction.Allow)
            .Deny(["mkdir", "mkdirat"], "EPERM")
            .Build();
        var filter = PolicyCompiler.Compile(policy);
        Console.WriteLine($"compiled: {filter.Length} instructions");

        if (!OperatingSystem.IsLinux())
            return 2;

        // /bin/ls under the filter, its output read through a pipe.
        var info = new SandboxedProcessStartInfo("/bin/ls", args[0]) { RedirectStandardOutput = true };
        using (var ls = SandboxedProcess.Start(filter, info))
        {
            foreach (var line in ls.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries))
                Console.WriteLine($"ls: {line}");
            Console.WriteLine($"ls exit: {ls.WaitForExit().ExitCode}");
        }

        // This process under the same filter, for the rest of its life: mkdir is refused with EPERM.
        Sandbox.Apply(filter);
        int rc = Libc.mkdir(Path.Combine(args[0], "refused"), 0x1ed);
        int errno = Marshal.GetLastPInvokeError();
        Console.WriteLine(rc == -1 && errno == 1 ? "mkdir: EPERM" : $"mkdir: returned {rc}, errno {errno}");
        Console.WriteLine(Directory.Exists(Path.Combine(args[0], "refused")) ? "refused: exists" : "refused: absent");
        return 0;

        static class Libc
        {
            [DllImport("libc", SetLastError = true)]
            public static extern int mkdir(string path, uint mode);
        }
        """;

    [Fact]
    public void A_console_app_with_one_package_reference_sandboxes_itself_and_runs_ls()
    {
        string feed = Sub("feed"), packages = Sub("packages"), work = Sub("work");
        var pack = Dotnet.Cli(Root, null, "pack", Path.Combine(Root, "src", "Syscage", "Syscage.csproj"), "-c", "Release", "--no-build", "-o", feed, "--nologo");
        Assert.True(pack.ExitCode == 0, pack.ToString());

        // What the package holds: the library, its docs, the launcher for both RIDs, the readme; symbols beside it.
        string nupkg = Assert.Single(Directory.GetFiles(feed, "Syscage.*.nupkg"));
        using (var zip = ZipFile.OpenRead(nupkg))
        {
            var entries = zip.Entries.Select(e => e.FullName).ToHashSet();
            Assert.Contains("lib/net10.0/Syscage.dll", entries);
            Assert.Contains("runtimes/linux-x64/native/syscage-exec", entries);
            Assert.Contains("runtimes/linux-arm64/native/syscage-exec", entries);
            Assert.Contains("README.md", entries);
            string nuspec = new StreamReader(zip.GetEntry("Syscage.nuspec")!.Open()).ReadToEnd();
            Assert.Contains("<license type=\"expression\">MIT</license>", nuspec);
            Assert.Contains("<repository type=\"git\"", nuspec);
            // The arm64 launcher is an AArch64 ELF (e_machine 183), built by the cross compiler.
            using var arm = zip.GetEntry("runtimes/linux-arm64/native/syscage-exec")!.Open();
            var header = new byte[20];
            arm.ReadExactly(header);
            Assert.Equal(183, BitConverter.ToUInt16(header, 18));
        }
        Assert.Single(Directory.GetFiles(feed, "Syscage.*.snupkg"));

        WriteConfig(work, feed);
        var created = Dotnet.Cli(work, packages, "new", "console", "-o", "app", "--no-update-check");
        Assert.True(created.ExitCode == 0, created.ToString());
        string app = Path.Combine(work, "app");
        string project = Assert.Single(Directory.GetFiles(app, "*.csproj"));
        string version = Path.GetFileNameWithoutExtension(nupkg)["Syscage.".Length..];
        File.WriteAllText(project, File.ReadAllText(project).Replace("</Project>",
            $"  <ItemGroup>\n    <PackageReference Include=\"Syscage\" Version=\"{version}\" />\n  </ItemGroup>\n</Project>", StringComparison.Ordinal));
        File.WriteAllText(Path.Combine(app, "Program.cs"), ConsoleProgram);

        // Warnings as errors: the platform analyzer (CA1416) must be satisfied by the one OperatingSystem.IsLinux() check.
        var build = Dotnet.Cli(app, packages, "build", "-c", "Release", "-warnaserror", "--nologo", "--disable-build-servers");
        Assert.True(build.ExitCode == 0, build.ToString());
        Assert.DoesNotContain("CA1416", build.Output, StringComparison.Ordinal);

        string listed = Sub("listed");
        File.WriteAllText(Path.Combine(listed, "marker-file"), "");
        string exe = Path.Combine(app, "bin", "Release", "net10.0", "app");
        var run = Dotnet.Run(app, exe, [listed]);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("ls: marker-file", run.Output, StringComparison.Ordinal);
        Assert.Contains("ls exit: 0", run.Output, StringComparison.Ordinal);
        Assert.Contains("mkdir: EPERM", run.Output, StringComparison.Ordinal);
        Assert.Contains("refused: absent", run.Output, StringComparison.Ordinal);

        // Another user: the package's launcher came out of NuGet as 0744 (root's), so it can't be executed by nobody;
        // the library runs a sealed in-memory copy of it instead.
        string launcher = Path.Combine(app, "bin", "Release", "net10.0", "runtimes", "linux-x64", "native", "syscage-exec");
        Assert.True(File.Exists(launcher), "the build did not copy the launcher");
        Assert.Equal(UnixFileMode.None, File.GetUnixFileMode(launcher) & UnixFileMode.OtherExecute);
        Dotnet.OpenToEveryone(_dir);
        File.SetUnixFileMode(listed, (UnixFileMode)0x1ff); // nobody's mkdir must fail on the filter, not on the mode
        var asNobody = Dotnet.Run(app, exe, [listed], uid: Nobody);
        Assert.True(asNobody.ExitCode == 0, asNobody.ToString());
        Assert.Contains("ls: marker-file", asNobody.Output, StringComparison.Ordinal);
        Assert.Contains("mkdir: EPERM", asNobody.Output, StringComparison.Ordinal);
        Assert.Contains("refused: absent", asNobody.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Kernel_calls_without_a_platform_check_are_flagged_and_the_policy_model_is_not()
    {
        // The attribute is on the types that touch the kernel, and only there: a call to SandboxedProcess.Start
        // outside a Linux check is CA1416, the policy and the compiler around it are not.
        string feed = Sub("feed"), packages = Sub("packages"), work = Sub("work");
        var pack = Dotnet.Cli(Root, null, "pack", Path.Combine(Root, "src", "Syscage", "Syscage.csproj"), "-c", "Release", "--no-build", "-o", feed, "--nologo");
        Assert.True(pack.ExitCode == 0, pack.ToString());
        WriteConfig(work, feed);
        string app = Directory.CreateDirectory(Path.Combine(work, "app")).FullName;
        string version = Path.GetFileNameWithoutExtension(Assert.Single(Directory.GetFiles(feed, "Syscage.*.nupkg")))["Syscage.".Length..];
        File.WriteAllText(Path.Combine(app, "app.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Syscage" Version="{version}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using Syscage.Abi;
            using Syscage.Kernel;
            using Syscage.Policy.Compiler;
            using Syscage.Policy.Fluent;

            var filter = PolicyCompiler.Compile(FluentPolicy.DefaultAction(SeccompAction.Allow).Deny("ptrace", "EPERM").Build());
            using var p = SandboxedProcess.Start(filter, new SandboxedProcessStartInfo("/bin/true"));
            """);
        var build = Dotnet.Cli(app, packages, "build", "-c", "Release", "--nologo", "--disable-build-servers");
        Assert.True(build.ExitCode == 0, build.ToString());
        var flagged = build.Output.Split('\n').Where(l => l.Contains("warning CA1416", StringComparison.Ordinal)).Distinct().ToList();
        Assert.True(flagged.Count > 0, build.ToString());
        Assert.All(flagged, l => Assert.Contains("SandboxedProcess", l, StringComparison.Ordinal));
    }

    [Fact]
    public void A_tool_installed_by_root_runs_for_every_user()
    {
        string feed = Sub("feed"), packages = Sub("packages"), publish = Sub("publish"), tools = Path.Combine(_dir, "tools");
        string cli = Path.Combine(Root, "src", "Syscage.Cli", "Syscage.Cli.csproj");
        string rid = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "linux-arm64" : "linux-x64";
        // The pointer package, then this RID's package with the NativeAOT executable (published into a folder of its own).
        var pointer = Dotnet.Cli(Root, null, "pack", cli, "-c", "Release", "-o", feed, "--nologo");
        Assert.True(pointer.ExitCode == 0, pointer.ToString());
        var native = Dotnet.Cli(Root, null, "pack", cli, "-c", "Release", "-r", rid, "-o", feed, "--nologo", $"-p:PublishDir={publish}/");
        Assert.True(native.ExitCode == 0, native.ToString());
        using (var zip = ZipFile.OpenRead(Assert.Single(Directory.GetFiles(feed, $"Syscage.Cli.{rid}.*.nupkg"))))
            Assert.Contains($"tools/any/{rid}/Syscage.Cli", zip.Entries.Select(e => e.FullName));

        WriteConfig(_dir, feed);
        var install = Dotnet.Cli(_dir, packages, "tool", "install", "Syscage.Cli", "--tool-path", tools, "--configfile", Path.Combine(_dir, "nuget.config"));
        Assert.True(install.ExitCode == 0, install.ToString());
        string syscage = Path.Combine(tools, "syscage");
        Assert.True(File.Exists(syscage), install.ToString());
        var mode = File.GetUnixFileMode(syscage); // through the command's link: the executable itself
        Assert.True((mode & UnixFileMode.OtherExecute) != 0 && (mode & UnixFileMode.OtherRead) != 0, $"the installed tool has mode {mode}");

        // The tool path as root would leave a system folder: enterable by all; nothing else is changed.
        foreach (var d in new[] { _dir }.Concat(Directory.EnumerateDirectories(tools, "*", SearchOption.AllDirectories)).Append(tools))
            File.SetUnixFileMode(d, File.GetUnixFileMode(d) | UnixFileMode.OtherRead | UnixFileMode.OtherExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
        var version = Dotnet.Run(_dir, syscage, ["--version"], uid: Nobody);
        Assert.True(version.ExitCode == 0, version.ToString());
        var run = Dotnet.Run(_dir, syscage, ["run", "--", "/bin/sh", "-c", "echo as $(id -u)"], uid: Nobody);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains($"as {Nobody}", run.Output, StringComparison.Ordinal);
    }
}
