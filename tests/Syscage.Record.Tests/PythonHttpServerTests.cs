using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Syscage.Record.Tests;

/// <summary>
/// The issue's example, as a user does it: record <c>python3 -m http.server</c> serving two requests and stopped with
/// Ctrl-C (SIGINT to syscage, passed on), then run the same under the recorded policy: the same pages, the same
/// output, a clean exit on Ctrl-C, and no call refused — by <c>--log-denials</c> and by <c>--audit</c>.
/// </summary>
/// <remarks>
/// Minimality is tested on a static program (<see cref="RecordKernelTests"/>): CPython probes for features and takes
/// another path when a call fails (a terminal's TCGETS, a cached file's stat), so "without any one recorded call it
/// fails" does not hold of it, and of most programs with a runtime, for every call.
/// </remarks>
public sealed partial class PythonHttpServerTests(ITestOutputHelper output)
{
    private const string Python = "/usr/bin/python3";

    [GeneratedRegex(@"^syscage: (audit: )?.* -> ", RegexOptions.Multiline)]
    private static partial Regex Denial();

    [GeneratedRegex(@"\[[^\]]*\]")]
    private static partial Regex Timestamp();

    private sealed record Served(SyscageProcess.Result Result, string Listing, string File, IReadOnlyList<string> Requests);

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>Starts the server under syscage, makes two requests once it listens, then Ctrl-C.</summary>
    private static async Task<Served> Serve(string[] syscageArgs, string www, int port)
    {
        string[] server = [Python, "-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory", www, port.ToString(CultureInfo.InvariantCulture)];
        using var p = SyscageProcess.Start([.. syscageArgs, "--", .. server]);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (true)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port);
                break;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
        string listing = await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/"));
        string file = await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/index.txt"));
        p.Signal("INT");
        var result = p.Wait();
        var requests = result.Stderr.Split('\n').Where(l => l.Contains("\"GET ", StringComparison.Ordinal)).Select(l => Timestamp().Replace(l, "[time]")).ToList();
        return new Served(result, listing, file, requests);
    }

    [Fact]
    public async Task The_recorded_http_server_serves_the_same_under_its_policy_with_no_call_refused()
    {
        Assert.True(File.Exists(Python), $"{Python} is needed (Debian's python3)");
        using var dir = new TempDir();
        string www = Directory.CreateDirectory(dir.File("www")).FullName;
        File.WriteAllText(Path.Combine(www, "index.txt"), "served under a recorded policy\n");
        string policy = dir.File("http-server.policy");
        int port = FreePort();

        var recorded = await Serve(["record", "-o", policy], www, port);
        Assert.True(recorded.Result.ExitCode == 0, recorded.Result.ToString());
        Assert.Contains("Keyboard interrupt received, exiting.", recorded.Result.Stdout);
        Assert.Equal("served under a recorded policy\n", recorded.File);
        Assert.Contains("index.txt", recorded.Listing);
        Assert.Equal(2, recorded.Requests.Count);   // the readiness probe is a bare connect: no request line
        string text = File.ReadAllText(policy);
        output.WriteLine(text);
        var rules = RecordKernelTests.Rules(text);
        foreach (string name in (string[])["rt_sigreturn", "exit_group", "socket", "bind", "listen", "accept4", "execve"])
            Assert.Contains(name, rules.Select(r => r.Name));

        var enforced = await Serve(["run", "--log-denials", "--policy", policy], www, port);
        Assert.True(enforced.Result.ExitCode == 0, enforced.Result.ToString());
        Assert.DoesNotMatch(Denial(), enforced.Result.Stderr);
        Assert.Equal(recorded.Result.Stdout, enforced.Result.Stdout);
        Assert.Equal(recorded.Listing, enforced.Listing);
        Assert.Equal(recorded.File, enforced.File);
        Assert.Equal(recorded.Requests, enforced.Requests);

        var audited = await Serve(["run", "--audit", policy], www, port);
        Assert.True(audited.Result.ExitCode == 0, audited.Result.ToString());
        Assert.Contains("audit: no call would have been refused", audited.Result.Stderr);
        Assert.Equal(recorded.Result.Stdout, audited.Result.Stdout);
        output.WriteLine($"{rules.Count(r => r.Seen)} syscalls recorded; {recorded.Result.Stderr.Split('\n').LastOrDefault(l => l.StartsWith("syscage: recorded", StringComparison.Ordinal))}");
    }
}
