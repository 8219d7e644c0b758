using System.Diagnostics.CodeAnalysis;
using Syscage.Abi;

namespace Syscage.Policy.Language;

/// <summary>Options for reading a policy.</summary>
public sealed class PolicyParseOptions
{
    /// <summary>
    /// When set, the architectures the policy covers, replacing the policy's own <c>arch</c> statement (what
    /// <c>syscage compile --arch LIST</c> passes). When null: the policy's <c>arch</c> statement, else
    /// <see cref="PolicyBuilder.DefaultArchitectures"/>.
    /// </summary>
    public IReadOnlyList<Architecture>? Architectures { get; init; }
}

/// <summary>
/// The Syscage policy language (<c>*.policy</c>): reads a policy text, its includes and the built-in
/// <see cref="SyscallGroups"/> into a <see cref="SeccompPolicy"/>.
/// </summary>
/// <remarks>
/// <para>A policy is a list of statements, one per line (or separated by <c>;</c>); <c>#</c> starts a comment.</para>
/// <code>
/// default ERRNO(EPERM)                  # required once: the action when no rule matches
/// bad-arch KILL_PROCESS                 # optional (default KILL_PROCESS)
/// newer-syscalls ERRNO(ENOSYS)          # optional: numbers past the newest syscall the tables know (or a rule names)
/// arch x86_64, x86, x32                 # optional, before the first rule; default: PolicyBuilder.DefaultArchitectures
/// include "other.policy"                # relative to this file; cycles are an error; a file is read once
/// group @mine = read, write, @basic-io  # a named list of syscalls
///
/// ALLOW read, write, @file-system       # ACTION syscalls [if CONDITION]
/// ERRNO(EACCES) openat if (flags &amp; O_ACCMODE) != O_RDONLY
/// ALLOW socket if domain == AF_UNIX || domain == AF_INET
/// ALLOW ioctl if arg1 == TCGETS &amp;&amp; arg0 &lt;= 2
/// ALLOW clone if !(flags &amp; CLONE_NEWUSER)
/// NOTIFY(log) mkdir                     # USER_NOTIF, handled in user space by the handler named 'log'
/// allow {                               # block form: one rule per line, same action
///     read, write
///     close
/// }
/// arch x86 { ALLOW socketcall }         # rules only for these architectures
/// </code>
/// <para>
/// Actions (any case): <c>ALLOW</c>, <c>KILL_PROCESS</c>, <c>KILL_THREAD</c> (<c>KILL</c>), <c>TRAP[(n)]</c>,
/// <c>ERRNO(n | ENAME)</c>, <c>TRACE[(n)]</c>, <c>LOG</c>, <c>NOTIFY[(handler)]</c> (<c>USER_NOTIF</c>).
/// Syscalls: names, numbers (<c>seccomp_data.nr</c>; the x32 bit is added for x32) and <c>@groups</c>. A name that
/// a covered architecture lacks is skipped there; a name no architecture has is an error.
/// </para>
/// <para>
/// Conditions: <c>&amp;&amp;</c>, <c>||</c>, <c>!</c> and parentheses over tests of one argument each. An argument is
/// named as the syscall's man page names it (<c>flags</c> — resolved per architecture, so it may be a different
/// position on each) or by position <c>arg0</c>..<c>arg5</c>. Tests: <c>arg OP value</c> with
/// <c>== != &lt; &lt;= &gt; &gt;=</c> (unsigned, at the width the kernel reads the argument: the low 32 bits of an
/// <c>int</c>, 16 of an <c>umode_t</c>, all 64 of a <c>long</c>; a constant that does not fit is an error);
/// <c>(arg &amp; MASK) == value</c> and <c>!=</c> (libseccomp's
/// MASKED_EQ and its negation); a bare <c>arg &amp; MASK</c> (some bit of MASK set); a bare <c>arg</c> (non-zero).
/// Values are constant expressions: numbers, <see cref="KernelConstants"/> names, <c>| &lt;&lt; &gt;&gt; + - ~</c>
/// and parentheses. The first rule of a syscall whose condition holds decides, in file order.
/// </para>
/// </remarks>
public static class PolicyLanguage
{
    /// <summary>Reads <paramref name="text"/>; on failure <paramref name="error"/> is the first error.</summary>
    /// <param name="text">The policy.</param>
    /// <param name="policy">The policy read, on success.</param>
    /// <param name="error">The first error, on failure.</param>
    /// <param name="fileName">The name errors and <see cref="PolicySource"/> show; includes are relative to its directory.</param>
    /// <param name="options">Architecture override.</param>
    public static bool TryParse(string text, [NotNullWhen(true)] out SeccompPolicy? policy, [NotNullWhen(false)] out PolicyError? error,
        string fileName = "<input>", PolicyParseOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParse(text, fileName, FileKey(fileName), FileIncludes, options, out policy, out error);
    }

    /// <summary>Reads <paramref name="text"/> or throws <see cref="PolicyParseException"/> (<c>file:line:col: message</c>).</summary>
    public static SeccompPolicy Parse(string text, string fileName = "<input>", PolicyParseOptions? options = null) =>
        TryParse(text, out var policy, out var error, fileName, options) ? policy : throw new PolicyParseException(error);

    /// <summary>
    /// Reads the policy file at <paramref name="path"/>; a file that cannot be read, or is larger than
    /// <see cref="InputLimits.MaxTextBytes"/>, is an error at <c>path:1:1</c>.
    /// </summary>
    public static bool TryParseFile(string path, [NotNullWhen(true)] out SeccompPolicy? policy, [NotNullWhen(false)] out PolicyError? error,
        PolicyParseOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!TryRead(path, out string text, out string? problem))
        {
            policy = null;
            error = new PolicyError(path, 1, 1, $"cannot read the policy: {problem}");
            return false;
        }
        return TryParse(text, out policy, out error, path, options);
    }

    /// <summary>Reads the policy file at <paramref name="path"/> or throws <see cref="PolicyParseException"/>.</summary>
    public static SeccompPolicy ParseFile(string path, PolicyParseOptions? options = null) =>
        TryParseFile(path, out var policy, out var error, options) ? policy : throw new PolicyParseException(error);

    /// <summary>Reads <paramref name="text"/> of <paramref name="fileName"/> (<paramref name="key"/> names it for include cycles), its includes through <paramref name="reader"/>.</summary>
    internal static bool TryParse(string text, string fileName, string key, IncludeReader reader, PolicyParseOptions? options,
        [NotNullWhen(true)] out SeccompPolicy? policy, [NotNullWhen(false)] out PolicyError? error) =>
        new Parser(reader, options?.Architectures, SyscallGroups.Definitions).TryParsePolicy(text, fileName, key, out policy, out error);

    private static string FileKey(string fileName) => fileName.StartsWith('<') ? fileName : Path.GetFullPath(fileName);

    private static bool FileIncludes(string includingFile, string path, out string displayName, out string key, out string text, out string error)
    {
        string? dir = includingFile.StartsWith('<') ? null : Path.GetDirectoryName(includingFile);
        displayName = Path.IsPathRooted(path) || string.IsNullOrEmpty(dir) ? path : Path.Combine(dir, path);
        key = Path.GetFullPath(displayName);
        if (TryRead(key, out text, out string? problem))
        {
            error = "";
            return true;
        }
        error = $"cannot include '{path}': {problem}";
        return false;
    }

    /// <summary>Reads a policy file within <see cref="InputLimits.MaxTextBytes"/>; <paramref name="problem"/> says why not.</summary>
    private static bool TryRead(string path, out string text, [NotNullWhen(false)] out string? problem)
    {
        text = "";
        problem = null;
        try
        {
            text = InputFile.ReadText(path);
            return true;
        }
        catch (InputTooLargeException e)
        {
            problem = $"larger than {InputLimits.Describe(e.Limit)}, the most Syscage reads of a policy file";
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            problem = $"no such file ({Path.GetFullPath(path)})";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problem = e.Message;
        }
        return false;
    }

    /// <summary>
    /// Evaluates a constant expression as the policy language reads one: numbers (decimal, <c>0x</c>, <c>0b</c>, C octal),
    /// names of this table, <c>| &lt;&lt; &gt;&gt; + - ~</c> and parentheses — e.g. <c>O_WRONLY|O_CREAT</c> or <c>-100</c>,
    /// for command-line arguments such as those of <c>syscage explain</c>. On failure <paramref name="error"/> says why
    /// (<c>1:1: unknown constant 'O_RDONY'; did you mean 'O_RDONLY'?</c>).
    /// </summary>
    public static bool TryEvaluateConstant(string expression, out ulong value, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(expression);
        var parser = new Parser((string _, string _, out string d, out string k, out string t, out string e) => { d = k = t = e = ""; return false; },
            null, new Dictionary<string, GroupDefinition>());
        error = null;
        if (parser.TryEvaluateConstant(expression, "<argument>", out value, out var failure))
            return true;
        error = $"{failure.Line}:{failure.Column}: {failure.Message}";
        return false;
    }
}
