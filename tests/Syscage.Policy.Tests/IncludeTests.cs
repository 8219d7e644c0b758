using Syscage.Testing;
using Syscage.Bpf;
using Syscage.Policy.Language;
using static Syscage.Policy.Tests.PolicyAssert;
using Syscage.Abi;
using Syscage.Policy.Builtin;

namespace Syscage.Policy.Tests;

public sealed class IncludeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("syscage-include-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string relative, string text)
    {
        string path = Path.Combine(_dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void IncludesAreRelativeToTheIncludingFileAndKeepTheirSources()
    {
        Write("lib/io.policy", "group @io = read, write\ninclude \"more/net.policy\"\n");
        Write("lib/more/net.policy", "ALLOW socket\n");
        string main = Write("main.policy", "default ERRNO(EPERM)\ninclude \"lib/io.policy\"\nALLOW @io\n");
        var p = PolicyLanguage.ParseFile(main);
        Assert.Equal(SeccompAction.Allow, Eval(p, "write"));
        var socket = p.Evaluate(Call(Abi.Architecture.X86_64, "socket")).Rule!.Source!;
        Assert.Equal(Path.Combine(_dir, "lib", "more", "net.policy"), socket.File);
        Assert.Equal(1, socket.Line);
    }

    [Fact]
    public void ACycleIsAnErrorAtTheIncludeThatCloses()
    {
        Write("a.policy", "default ALLOW\ninclude \"b.policy\"\n");
        Write("b.policy", "\n\ninclude \"a.policy\"\n");
        Assert.False(PolicyLanguage.TryParseFile(Path.Combine(_dir, "a.policy"), out _, out var error));
        Assert.Equal($"{Path.Combine(_dir, "b.policy")}:3:9: include cycle: a.policy -> b.policy -> a.policy", error.ToString());
    }

    [Fact]
    public void ASelfIncludeIsACycle()
    {
        string a = Write("a.policy", "include \"a.policy\"\n");
        Assert.False(PolicyLanguage.TryParseFile(a, out _, out var error));
        Assert.Equal($"{a}:1:9: include cycle: a.policy -> a.policy", error.ToString());
    }

    [Fact]
    public void AFileIncludedTwiceIsReadOnce()
    {
        Write("g.policy", "group @g = read\n");
        Write("x.policy", "include \"g.policy\"\n");
        string main = Write("main.policy", "default ERRNO(EPERM)\ninclude \"g.policy\"\ninclude \"x.policy\"\nALLOW @g\n");
        Assert.Equal(SeccompAction.Allow, Eval(PolicyLanguage.ParseFile(main), "read"));
    }

    [Fact]
    public void IncludesNestAtMostMaxIncludeDepthFiles()
    {
        // A chain of files, each including the next: the one past the limit is an error at the include naming it.
        int files = InputLimits.MaxIncludeDepth;
        for (int i = 1; i < files; i++)
            Write($"c{i}.policy", i + 1 < files ? $"include \"c{i + 1}.policy\"\n" : "ALLOW read\n");
        string main = Write("c0.policy", "default ERRNO(EPERM)\ninclude \"c1.policy\"\n");
        Assert.Equal(SeccompAction.Allow, Eval(PolicyLanguage.ParseFile(main), "read"));

        Write($"c{files - 1}.policy", $"include \"c{files}.policy\"\n");
        Write($"c{files}.policy", "ALLOW read\n");
        Assert.False(PolicyLanguage.TryParseFile(main, out _, out var error));
        Assert.Equal($"{Path.Combine(_dir, $"c{files - 1}.policy")}:1:9: includes nest too deeply: more than 32 files, each including the next", error.ToString());
    }

    [Fact]
    public void AMissingIncludeIsAnErrorAtItsName()
    {
        string main = Write("main.policy", "default ALLOW\ninclude   \"nope.policy\"\n");
        Assert.False(PolicyLanguage.TryParseFile(main, out _, out var error));
        Assert.Equal((main, 2, 11), (error.File, error.Line, error.Column));
        Assert.StartsWith("cannot include 'nope.policy': no such file", error.Message);
    }

    [Fact]
    public void ErrorsInAnIncludedFileNameThatFile()
    {
        Write("bad.policy", "\nALLOW reed\n");
        string main = Write("main.policy", "default ALLOW\ninclude \"bad.policy\"\n");
        var e = Assert.Throws<PolicyParseException>(() => PolicyLanguage.ParseFile(main));
        Assert.Equal($"{Path.Combine(_dir, "bad.policy")}:2:7: unknown syscall 'reed'; did you mean 'read'?", e.Message);
    }

    [Fact]
    public void TheLoaderReadsFilesAndBuiltinsAndRefusesJsonUntilTheOciFrontEndIsThere()
    {
        string main = Write("main.policy", "default ALLOW\n");
        Assert.Equal(SeccompAction.Allow, PolicyLoader.Load(main).DefaultAction);
        Assert.Equal("default.policy", PolicyLoader.Load("default").Name);
        var unknown = Assert.Throws<SyscageException>(() => PolicyLoader.Load("defualt"));
        Assert.Contains("did you mean 'default'?", unknown.Message);
        Assert.Throws<PolicyParseException>(() => PolicyLoader.Load(Path.Combine(_dir, "missing.policy")));
        Assert.False(PolicyLoader.TryLoad(Write("bad.policy", "default ALOW\n"), out _, out string? message));
        Assert.Equal($"{Path.Combine(_dir, "bad.policy")}:1:9: unknown action or keyword 'ALOW'; did you mean 'ALLOW'? (actions: ALLOW, KILL_PROCESS, KILL_THREAD, TRAP(n), ERRNO(n), TRACE(n), LOG, NOTIFY, EBPF(program))", message);
        Assert.True(PolicyLoader.TryLoad("default", out var builtin, out _));
        Assert.Equal("default.policy", builtin.Name);
        Assert.Equal(SeccompAction.Errno(1), PolicyLoader.Load(Path.Combine(NativeProbe.RepositoryRoot, "..", "shared", "profiles", "docker-default.json")).DefaultAction);
    }

    [Fact]
    public void TheLoaderFailsAlikeThroughTryLoadAndLoad()
    {
        // Load throws what the front-end that found the problem throws (the exact type), with TryLoad's message.
        FailsAlike<SyscageException>("defualt");
        FailsAlike<PolicyParseException>(Path.Combine(_dir, "missing.policy"));
        FailsAlike<PolicyParseException>(Write("bad.policy", "default ALOW\n"));
        FailsAlike<Oci.OciProfileException>(Write("bad.json", "{\"defaultAction\":\"SCMP_ACT_ALOW\"}"));
        FailsAlike<InputTooLargeException>(Write("huge.json", new string(' ', InputLimits.MaxTextBytes + 1)));
        FailsAlike<SyscageException>(Write("p.json", "{\"defaultAction\":\"SCMP_ACT_ALLOW\"}"), new PolicyParseOptions { Architectures = [Architecture.X86_64] });
        // A file that can't be read is not a malformed policy: both throw.
        Assert.Throws<FileNotFoundException>(() => PolicyLoader.TryLoad(Path.Combine(_dir, "missing.json"), out _, out _));
        Assert.Throws<FileNotFoundException>(() => PolicyLoader.Load(Path.Combine(_dir, "missing.json")));
    }

    private static void FailsAlike<TException>(string nameOrPath, PolicyParseOptions? options = null) where TException : SyscageException
    {
        Assert.False(PolicyLoader.TryLoad(nameOrPath, out var policy, out string? error, options), nameOrPath);
        Assert.Null(policy);
        var e = Assert.Throws<TException>(() => PolicyLoader.Load(nameOrPath, options));
        Assert.Equal(e.Message, error);
    }
}

public class SampleTests
{
    [Fact]
    public void EverySamplePolicyParses()
    {
        string dir = Path.Combine(ConstantsTests.RepositoryRoot(), "samples", "policies");
        var files = Directory.GetFiles(dir, "*.policy");
        Assert.NotEmpty(files);
        var web = PolicyLanguage.ParseFile(Path.Combine(dir, "static-web-server.policy"));
        Assert.Equal(SeccompAction.Errno(13), Eval(web, "openat", 0, 0, 2));
        Assert.Equal(SeccompAction.Allow, Eval(web, "socket", 2, 1 | 0x80000));
        Assert.Equal(SeccompAction.Errno(1), Eval(web, "socket", 2, 3)); // SOCK_RAW
        Assert.Equal(SeccompAction.Allow, Eval(web, "clone", 0x3d0f00));
        Assert.Equal(SeccompAction.Errno(1), Eval(web, "clone", 0x01200011)); // fork
        Assert.Equal(SeccompAction.Allow, Eval(web, "ioctl", 1, 0x5401));
        Assert.Equal(SeccompAction.Allow, Eval(web, "fcntl", 1, 3));
        // It refuses tracing (LOG would let it run).
        foreach (string call in new[] { "ptrace", "kcmp", "process_vm_readv", "process_vm_writev", "pidfd_getfd" })
            Assert.Equal(SeccompAction.Errno(1), Eval(web, call, 0));
        foreach (string file in files)
            Assert.True(PolicyLanguage.TryParseFile(file, out _, out var error) || error.Message.Contains("no default action", StringComparison.Ordinal), error?.ToString());
    }
}
