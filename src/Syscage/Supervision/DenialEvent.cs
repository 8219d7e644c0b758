using System.Text;
using System.Text.Json;
using Syscage.Abi;
using Syscage.Kernel.Notify;
using Syscage.Policy;

namespace Syscage.Supervision;

/// <summary>
/// A denied call as one JSON object, for <c>syscage run --log-denials --json</c>: one line per call, for programs that
/// read the log.
/// </summary>
/// <example>
/// <code>
/// {"pid":4711,"syscall":"openat","call":"openat(AT_FDCWD, \"/etc/shadow\", O_RDONLY)",
///  "args":[{"name":"dirfd","value":"0xffffffffffffff9c","text":"AT_FDCWD"}, ...],
///  "action":"ERRNO(1)","errno":"EPERM","reason":"rule","file":"my.policy","line":12,"column":1,"text":"..."}
/// </code>
/// </example>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public static class DenialEvent
{
    /// <summary>
    /// The object: the thread, the call decoded (strings read through <paramref name="context"/>), each argument
    /// (its value in hex, which JSON keeps whole, and its text), the action (with the errno's name), why it was taken
    /// (<c>rule</c>, <c>default</c>, <c>newer-syscalls</c>, <c>bad-arch</c>) and, for a rule, where it was written.
    /// </summary>
    public static string Json(Notification notification, NotificationContext? context, SeccompPolicy policy, PolicyDecision decision, SeccompAction action)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(decision);
        var args = SyscallDecoder.Arguments(notification.Data, context);
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteNumber("pid", notification.Pid);
            if (SyscallDecoder.ArchitectureOf(notification.Data) is { } arch)
                w.WriteString("arch", arch.Name);
            w.WriteNumber("nr", notification.Data.Nr);
            w.WriteString("syscall", SyscallDecoder.Name(notification.Data));
            w.WriteString("call", $"{SyscallDecoder.Name(notification.Data)}({string.Join(", ", args.Select(a => a.Text))})");
            DecodedArgument.WriteJson(w, args);
            w.WriteString("action", action.ToString());
            if (action.Kind == SeccompActionKind.Errno && Errno.Name(action.Data) is { } errno)
                w.WriteString("errno", errno);
            w.WriteString("reason", decision.Reason switch
            {
                DecisionReason.Rule => "rule",
                DecisionReason.Default => "default",
                DecisionReason.Newer => "newer-syscalls",
                _ => "bad-arch",
            });
            w.WriteString("policy", policy.Name);
            if (decision.Rule?.Source is { } source)
            {
                w.WriteString("file", source.File);
                if (source.Line > 0)
                    w.WriteNumber("line", source.Line);
                if (source.Column > 0)
                    w.WriteNumber("column", source.Column);
                if (source.Text is { } text)
                    w.WriteString("text", text);
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}
