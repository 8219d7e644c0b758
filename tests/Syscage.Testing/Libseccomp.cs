using System.Runtime.InteropServices;

namespace Syscage.Testing;

/// <summary>
/// libseccomp 2.5 (Debian's libseccomp2, <c>libseccomp.so.2</c>) as an oracle: build filters with its API and
/// export the classic BPF it generates. Nothing here loads a filter into the kernel.
/// </summary>
public sealed partial class Libseccomp : IDisposable
{
    /// <summary>seccomp.h: <c>SCMP_ARCH_X86_64</c>, <c>SCMP_ARCH_X86</c>, <c>SCMP_ARCH_X32</c> (its own token, 0x4000003e), <c>SCMP_ARCH_AARCH64</c>.</summary>
    public const uint SCMP_ARCH_X86_64 = 0xC000003E, SCMP_ARCH_X86 = 0x40000003, SCMP_ARCH_X32 = 0x4000003E, SCMP_ARCH_AARCH64 = 0xC00000B7;

    /// <summary>
    /// The architectures Syscage knows that libseccomp 2.5.4 (Debian 12) does not: loongarch64, m68k, sh and sheb came
    /// with 2.6.0. Its resolver answers 0 for them, and cross-checks with libseccomp leave them out.
    /// </summary>
    public static readonly IReadOnlySet<string> NewerArchitectures = new HashSet<string>(["loongarch64", "m68k", "sh", "sheb"], StringComparer.Ordinal);
    /// <summary>enum scmp_compare.</summary>
    public const int SCMP_CMP_NE = 1, SCMP_CMP_LT = 2, SCMP_CMP_LE = 3, SCMP_CMP_EQ = 4, SCMP_CMP_GE = 5, SCMP_CMP_GT = 6, SCMP_CMP_MASKED_EQ = 7;
    /// <summary>enum scmp_filter_attr.</summary>
    public const int SCMP_FLTATR_ACT_DEFAULT = 1, SCMP_FLTATR_ACT_BADARCH = 2, SCMP_FLTATR_CTL_NNP = 3, SCMP_FLTATR_CTL_OPTIMIZE = 8;

    private const string Lib = "libseccomp.so.2";
    private IntPtr _ctx;

    /// <summary>The argument comparison struct (<c>struct scmp_arg_cmp</c>).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct ArgCmp
    {
        /// <summary>Argument index.</summary>
        public uint Arg;
        /// <summary>SCMP_CMP_*.</summary>
        public int Op;
        /// <summary>First datum.</summary>
        public ulong DatumA;
        /// <summary>Second datum (MASKED_EQ: the value).</summary>
        public ulong DatumB;
    }

    [LibraryImport(Lib)] private static partial IntPtr seccomp_init(uint defAction);
    [LibraryImport(Lib)] private static partial void seccomp_release(IntPtr ctx);
    [LibraryImport(Lib)] private static partial int seccomp_arch_add(IntPtr ctx, uint arch);
    [LibraryImport(Lib)] private static partial int seccomp_arch_remove(IntPtr ctx, uint arch);
    [LibraryImport(Lib)] private static partial int seccomp_attr_set(IntPtr ctx, int attr, uint value);
    [LibraryImport(Lib)] private static unsafe partial int seccomp_rule_add_exact_array(IntPtr ctx, uint action, int syscall, uint argCount, ArgCmp* args);
    [LibraryImport(Lib)] private static unsafe partial int seccomp_rule_add_array(IntPtr ctx, uint action, int syscall, uint argCount, ArgCmp* args);
    [LibraryImport(Lib)] private static partial int seccomp_export_bpf(IntPtr ctx, int fd);
    [LibraryImport(Lib)] private static partial int seccomp_export_pfc(IntPtr ctx, int fd);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] private static partial int seccomp_syscall_resolve_name_arch(uint arch, string name);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] private static partial int seccomp_syscall_resolve_name(string name);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] private static partial int seccomp_syscall_resolve_name_rewrite(uint arch, string name);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] private static partial uint seccomp_arch_resolve_name(string name);

    /// <summary>Starts a filter with a default action (a SECCOMP_RET_* value).</summary>
    public Libseccomp(uint defaultAction)
    {
        _ctx = seccomp_init(defaultAction);
        if (_ctx == IntPtr.Zero)
            throw new InvalidOperationException("seccomp_init failed");
        // Building only: never ask libseccomp to set no_new_privs (it would, at load time).
        Check(seccomp_attr_set(_ctx, SCMP_FLTATR_CTL_NNP, 0), "seccomp_attr_set(CTL_NNP)");
    }

    /// <summary>Adds an architecture.</summary>
    public void AddArch(uint arch)
    {
        int rc = seccomp_arch_add(_ctx, arch);
        if (rc != 0 && rc != -17) // -EEXIST: the native arch is already there
            Check(rc, "seccomp_arch_add");
    }

    /// <summary>Removes an architecture.</summary>
    public void RemoveArch(uint arch) => Check(seccomp_arch_remove(_ctx, arch), "seccomp_arch_remove");

    /// <summary>Sets a filter attribute.</summary>
    public void SetAttr(int attr, uint value) => Check(seccomp_attr_set(_ctx, attr, value), "seccomp_attr_set");

    /// <summary>Adds a rule (libseccomp may rewrite it per architecture); returns libseccomp's return code.</summary>
    public unsafe int AddRule(uint action, int syscall, params ArgCmp[] args)
    {
        fixed (ArgCmp* p = args)
            return seccomp_rule_add_array(_ctx, action, syscall, (uint)args.Length, p);
    }

    /// <summary>Adds a rule exactly as given; returns libseccomp's return code.</summary>
    public unsafe int AddRuleExact(uint action, int syscall, params ArgCmp[] args)
    {
        fixed (ArgCmp* p = args)
            return seccomp_rule_add_exact_array(_ctx, action, syscall, (uint)args.Length, p);
    }

    /// <summary>libseccomp's number for a syscall name on an architecture (negative if unknown to it).</summary>
    public static int Resolve(uint arch, string name) => seccomp_syscall_resolve_name_arch(arch, name);

    /// <summary>
    /// libseccomp's number for a syscall name on the native architecture, as runc looks names up
    /// (<c>seccomp_syscall_resolve_name</c>): a negative pseudo-syscall number for a name only other architectures
    /// have, <see cref="NR_SCMP_ERROR"/> for a name libseccomp does not know at all.
    /// </summary>
    public static int ResolveNative(string name) => seccomp_syscall_resolve_name(name);

    /// <summary>
    /// libseccomp's number for a syscall name on an architecture as <c>seccomp_rule_add</c> would filter it
    /// (<c>seccomp_syscall_resolve_name_rewrite</c>, what <c>scmp_sys_resolver -t</c> prints): on the ABIs with
    /// <c>socketcall(2)</c> and <c>ipc(2)</c> the socket and System V IPC calls come out as their multiplexer (2.5.4 on
    /// x86: <c>socket</c> and <c>accept</c> are 102, <c>semop</c> 117). A negative pseudo-syscall number for a name
    /// the architecture lacks, <see cref="NR_SCMP_ERROR"/> for a name libseccomp does not know.
    /// </summary>
    public static int ResolveRewrite(uint arch, string name) => seccomp_syscall_resolve_name_rewrite(arch, name);

    /// <summary>
    /// libseccomp's token for an architecture named as libseccomp names it (<c>x86_64</c>, <c>mipsel64n32</c>,
    /// <c>s390x</c> ...; <c>seccomp_arch_resolve_name</c>), 0 for a name it does not know. The token is the
    /// <c>AUDIT_ARCH_*</c> value, except x32's (<see cref="SCMP_ARCH_X32"/>).
    /// </summary>
    public static uint ArchToken(string name) => seccomp_arch_resolve_name(name);

    /// <summary><c>SCMP_ARCH_NATIVE</c>: the architecture libseccomp was built for (this process's).</summary>
    public const uint SCMP_ARCH_NATIVE = 0;

    /// <summary><c>__NR_SCMP_ERROR</c>: the name is unknown to libseccomp.</summary>
    public const int NR_SCMP_ERROR = -1;

    /// <summary>Exports the generated classic BPF (<c>seccomp_export_bpf</c>) as raw bytes.</summary>
    public byte[] ExportBpf() => Export(seccomp_export_bpf, "seccomp_export_bpf");

    /// <summary>
    /// Exports libseccomp's pseudo filter code (<c>seccomp_export_pfc</c>): its rule database printed as nested tests, in
    /// the order the filter tries them — what it decides, without the BPF generator (<see cref="LibseccompPfc"/> reads it).
    /// </summary>
    public string ExportPfc() => System.Text.Encoding.UTF8.GetString(Export(seccomp_export_pfc, "seccomp_export_pfc"));

    private byte[] Export(Func<IntPtr, int, int> export, string what)
    {
        string path = Path.Combine(Path.GetTempPath(), $"syscage-libseccomp-{Environment.ProcessId}-{Guid.NewGuid():N}.out");
        try
        {
            using (var fs = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite))
            {
                int fd = (int)fs.SafeFileHandle.DangerousGetHandle();
                Check(export(_ctx, fd), what);
            }
            return File.ReadAllBytes(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static void Check(int rc, string what)
    {
        if (rc < 0)
            throw new InvalidOperationException($"{what} failed: {rc}");
    }

    /// <summary>Releases the libseccomp context.</summary>
    public void Dispose()
    {
        if (_ctx != IntPtr.Zero)
        {
            seccomp_release(_ctx);
            _ctx = IntPtr.Zero;
        }
    }
}
