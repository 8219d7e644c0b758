using Syscage.Generator;

namespace Syscage.Syscalls.Tests;

/// <summary>The generator's pieces on small inputs, so a change in the headers' style fails close to its cause.</summary>
public class GeneratorPartsTests
{
    private static readonly Dictionary<string, MacroDefinition> NoMacros = new();

    [Theory]
    [InlineData("1 + 2 * 3", 7)]
    [InlineData("(1 + 2) * 3", 9)]
    [InlineData("0x40000000 + 520", 0x40000000 + 520)]
    [InlineData("010", 8)]
    [InlineData("1UL << 4", 16)]
    [InlineData("!0 && (3 == 3) || 0", 1)]
    [InlineData("2 != 2 ? 5 : 6", 6)]
    [InlineData("0xC000003E | 0", 0xC000003E)]
    [InlineData("-1 + ~0", -2)]
    public void IntegerExpressionsEvaluateLikeC(string text, long expected)
        => Assert.Equal(expected, IntegerExpression.Evaluate(text, NoMacros, inCondition: false, "test"));

    [Theory]
    [InlineData("_IO(0xAA, 0x00)", 0xAA00)]                              // USERFAULTFD_IOC_NEW
    [InlineData("_IOR('T', 0x30, unsigned int)", 0x80045430)]           // TIOCGPTN: a character, sizeof
    [InlineData("SECCOMP_IOWR(0, struct seccomp_notif)", 0xC0502100)]   // a macro calling a macro; a structure's size
    public void FunctionLikeMacrosExpandAsThePreprocessorDoes(string text, long expected)
    {
        var p = new HeaderPreprocessor();
        p.Process(
            """
            #define _IOC(dir,type,nr,size) (((dir) << 30) | ((type) << 8) | ((nr) << 0) | ((size) << 16))
            #define _IO(type,nr) _IOC(0,(type),(nr),0)
            #define _IOR(type,nr,size) _IOC(2,(type),(nr),(sizeof(size)))
            #define _IOWR(type,nr,size) _IOC(3,(type),(nr),(sizeof(size)))
            #define SECCOMP_IOC_MAGIC '!'
            #define SECCOMP_IOWR(nr, type) _IOWR(SECCOMP_IOC_MAGIC, nr, type)
            """, "test.h");
        TypeSizes.Learn("struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; };\n" +
                        "struct seccomp_notif { __u64 id; __u32 pid; __u32 flags; struct seccomp_data data; };");
        Assert.Equal(expected, IntegerExpression.Evaluate(text, p.Macros, inCondition: false, "test"));
    }

    [Fact]
    public void ConditionsUseDefinedAndTreatUnknownNamesAsZero()
    {
        var p = new HeaderPreprocessor();
        p.Define("__BITS_PER_LONG", "64");
        p.Define("__ARCH_WANT_NEW_STAT");
        p.Process(
            """
            #if defined(__ARCH_WANT_TIME32_SYSCALLS) || __BITS_PER_LONG != 32
            #define __NR_a 1
            #endif
            #if __BITS_PER_LONG == 32 || defined(__SYSCALL_COMPAT)
            #define __NR_b 2
            #elif defined __ARCH_WANT_NEW_STAT
            #define __NR_c 3
            #else
            #define __NR_d 4
            #endif
            #ifdef __NR_c
            #undef __NR_c
            #define __NR_e (__NR_a + \
                            4) /* continued */
            #endif
            #if UNDEFINED_THING
            #define __NR_f 6
            #endif
            __SYSCALL(__NR_a, sys_a)
            """,
            "test.h");
        var numbers = SyscallTableGenerator.Numbers(p.Macros, "test");
        Assert.Equal(new[] { ("a", 1), ("e", 5) }, numbers);
    }

    [Fact]
    public void NestedInactiveBranchesStayInactive()
    {
        var p = new HeaderPreprocessor();
        p.Process(
            """
            #ifdef NOPE
            #if 1
            #define __NR_x 1
            #else
            #define __NR_y 2
            #endif
            #else
            #define __NR_z 3
            #endif
            """,
            "test.h");
        Assert.Equal(new[] { ("z", 3) }, SyscallTableGenerator.Numbers(p.Macros, "test"));
    }

    [Fact]
    public void UnbalancedConditionalsAreErrors()
    {
        Assert.Throws<FormatException>(() => new HeaderPreprocessor().Process("#if 1\n#define A 1\n", "test.h"));
        Assert.Throws<FormatException>(() => new HeaderPreprocessor().Process("#endif\n", "test.h"));
    }

    [Fact]
    public void BookkeepingMacrosAreNotSyscalls()
    {
        var p = new HeaderPreprocessor();
        p.Process(
            """
            #define __NR3264_fcntl 25
            #define __NR_fcntl __NR3264_fcntl
            #define __NR_arch_specific_syscall 244
            #define __NR_riscv_flush_icache (__NR_arch_specific_syscall + 15)
            #define __NR_syscalls 451
            """,
            "test.h");
        Assert.Equal(new[] { ("fcntl", 25), ("riscv_flush_icache", 259) }, SyscallTableGenerator.Numbers(p.Macros, "test"));
    }

    [Fact]
    public void TroffEscapesAreRemoved()
    {
        Assert.Equal("int openat(int dirfd, ...)", ManPages.Unescape(@"int \fBopenat\fP(int \fIdirfd\fR, \&...\/)"));
        Assert.Equal("a-b ~c", ManPages.Unescape(@"a\-b \[ti]c\,"));
        Assert.Equal("x", ManPages.Unescape(@"x\"" a comment"));
    }

    private static List<Prototype> Parse(string synopsis)
        => ManPages.Prototypes("test.2", ".TH test 2 2023-01-01 \"Linux man-pages 6.03\"\n.SH SYNOPSIS\n.nf\n" + synopsis + "\n.fi\n.SH DESCRIPTION\nText.\n").ToList();

    private static string[] Names(Prototype p) => p.Parameters.Select(q => q.Name).ToArray();

    [Fact]
    public void AlternatingFontMacrosAndContinuationLinesMakeOnePrototype()
    {
        List<Prototype> found = Parse(
            """
            .B #include <fcntl.h>
            .PP
            .BI "int openat(int " dirfd ", const char *" pathname ", int " flags \
            ", mode_t " mode );
            """);
        Prototype openat = Assert.Single(found);
        Assert.Equal("openat", openat.Function);
        Assert.Equal(new[] { "dirfd", "pathname", "flags", "mode" }, Names(openat));
        Assert.Equal("SYNOPSIS", openat.Section);
        Assert.False(openat.IsRawSyscall);
    }

    [Fact]
    public void MultiLinePrototypesArraysAndQualifiers()
    {
        List<Prototype> found = Parse(
            """
            .BI "ssize_t read(int " fd ", void " buf [. count "], size_t " count );
            .BI "int prlimit(pid_t "  pid ", int " resource ,
            .BI "            const struct rlimit *_Nullable " new_limit ,
            .BI "            struct rlimit *_Nullable restrict " old_limit );
            .BI "[[deprecated]] int ustat(dev_t " dev ", struct ustat *" ubuf );
            .B pid_t getpid(void);
            """);
        Assert.Equal(new[] { "read", "prlimit", "ustat", "getpid" }, found.Select(p => p.Function));
        Assert.Equal(new[] { "fd", "buf", "count" }, Names(found[0]));
        Assert.Equal(new[] { "pid", "resource", "new_limit", "old_limit" }, Names(found[1]));
        Assert.Equal(new[] { "dev", "ubuf" }, Names(found[2]));
        Assert.Empty(found[3].Parameters);
        Assert.False(found[0].Parameters[1].IsByValue);
        Assert.True(found[0].Parameters[2].IsByValue);
    }

    [Fact]
    public void OptionalArgumentsInACommentAfterTheEllipsisAreRead()
    {
        List<Prototype> found = Parse(
            """
            .BI "int fcntl(int " fd ", int " cmd ", ... /* " arg " */ );"
            .BI "int ioctl(int " fd ", unsigned long " request ", ...);"
            .BI "long syscall(SYS_futex, uint32_t *" uaddr ", int " futex_op ", uint32_t " val ,
            .BI "             const struct timespec *" timeout ,   \fR/* or: \fBuint32_t \fIval2\fP */
            .BI "             uint32_t *" uaddr2 ", uint32_t " val3 );
            """);
        Assert.Equal(new[] { "fd", "cmd", "arg" }, Names(found[0]));
        Assert.Equal(new[] { "fd", "request" }, Names(found[1]));
        Assert.Equal("futex", found[2].Function);
        Assert.True(found[2].IsRawSyscall);
        Assert.Equal(new[] { "uaddr", "futex_op", "val", "timeout", "uaddr2", "val3" }, Names(found[2]));
    }

    [Fact]
    public void FunctionPointerParametersAreNamed()
    {
        Prototype clone = Assert.Single(Parse(
            """
            .BI "int clone(int (*" "fn" ")(void *_Nullable), void *" stack ", int " flags ,
            .BI "          void *_Nullable " "arg" ", ..." "  \fR/*\fP" " pid_t *_Nullable " parent_tid ,
            .BI "                                       void *_Nullable " tls ,
            .BI "                                       pid_t *_Nullable " child_tid " \fR*/\fP );"
            """));
        Assert.Equal(new[] { "fn", "stack", "flags", "arg", "parent_tid", "tls", "child_tid" }, Names(clone));
    }

    [Fact]
    public void ConstantsInPlaceOfParametersAndProseAreNotPrototypes()
    {
        List<Prototype> found = Parse(
            """
            .BI "int ioctl(int " fd ", FICLONE, int " src_fd );
            glibc provides no wrapper for
            .BR clone3 (),
            necessitating the use of
            .BR syscall (2).
            .BI "long syscall(long " number ", ...);"
            """);
        Assert.Empty(found);
    }

    [Theory]
    [InlineData("int", 32)]
    [InlineData("unsigned int", 32)]
    [InlineData("unsigned", 32)]
    [InlineData("const int", 32)]
    [InlineData("pid_t", 32)]
    [InlineData("key_serial_t", 32)]
    [InlineData("timer_t", 32)]            // the kernel's int, not glibc's pointer
    [InlineData("enum landlock_rule_type", 32)]
    [InlineData("const enum landlock_rule_type", 32)]
    [InlineData("umode_t", 16)]
    [InlineData("old_uid_t", 16)]
    [InlineData("long", 64)]
    [InlineData("unsigned long int", 64)]
    [InlineData("size_t", 64)]
    [InlineData("loff_t", 64)]
    [InlineData("const char *", 64)]
    [InlineData("struct iocb **", 64)]
    [InlineData("char *const *", 64)]
    public void ArgumentTypeWidths(string type, int bits)
    {
        Assert.True(ArgumentTypes.TryGetBits(type, out int actual), type);
        Assert.Equal(bits, actual);
    }

    [Fact]
    public void AnUnknownArgumentTypeIsAnErrorThatNamesWhereItIs()
    {
        Assert.False(ArgumentTypes.TryGetBits("frobnicator_t", out _));
        var e = Assert.Throws<InvalidDataException>(() => ArgumentTypes.Bits("frobnicator_t", "p.csv:7"));
        Assert.StartsWith("p.csv:7: ", e.Message, StringComparison.Ordinal);
        Assert.Contains("frobnicator_t", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("const char *_Nullable", "const char *")]
    [InlineData("char *const []", "char *const *")]
    [InlineData("int[]", "int *")]
    [InlineData("struct iocb * *", "struct iocb **")]
    [InlineData("struct rlimit *_Nullable restrict", "struct rlimit *")]
    public void ManPageTypesAreNormalised(string type, string expected)
    {
        Assert.Equal(expected, ManPagePrototypes.NormalizeType(type));
    }

    private const string Header = "#syscall,abis,arg0,arg1,arg2,arg3,arg4,arg5,source\n";

    [Fact]
    public void PrototypeRowsRoundTrip()
    {
        string text = Header
            + "ioctl,,int fd,unsigned long request,,,,,man ioctl.2\n"
            + "ioctl,,unsigned int fd,unsigned int request,unsigned long arg,,,,kernel fs/ioctl.c SYSCALL_DEFINE3(ioctl)\n"
            + "clone,x86 aarch64,unsigned long flags,void *stack,int *parent_tid,unsigned long tls,int *child_tid,,\"man clone.2 NOTES, CONFIG_CLONE_BACKWARDS\"\n"
            + "getpid,,,,,,,,man getpid.2\n"
            + "fcntl,,int fd,int cmd,arg,,,,man fcntl.2\n";
        IReadOnlyList<PrototypeRow> rows = PrototypeFile.Parse(text, "p.csv");
        Assert.Equal(5, rows.Count);
        Assert.Equal(PrototypeSource.Kernel, rows[1].Source);
        Assert.Equal("fs/ioctl.c SYSCALL_DEFINE3(ioctl)", rows[1].Origin);
        Assert.Equal(new[] { "x86", "aarch64" }, rows[2].Abis);
        Assert.Equal("unsigned long", rows[2].Arguments[3].Type);
        Assert.Equal("tls", rows[2].Arguments[3].Name);
        Assert.Equal("man clone.2 NOTES, CONFIG_CLONE_BACKWARDS", "man " + rows[2].Origin);
        Assert.Empty(rows[3].Arguments);
        Assert.Equal(new Parameter("", "arg"), rows[4].Arguments[2]);   // fcntl(2)'s untyped "... /* arg */"
        Assert.Equal(4, rows[2].Line);   // line 1 is the column line
        Assert.Equal(text, PrototypeFile.Render(rows, []));
    }

    [Theory]
    [InlineData("read,,int fd,,,,,man read.2", "p.csv:2: expected 9 fields")]
    [InlineData("read,,int fd,,const char *buf,,,,man read.2", "p.csv:2: arg2 follows an empty argument")]
    [InlineData("read,,int  fd,,,,,,man read.2", "p.csv:2: arg0: write 'int  fd' as 'int fd'")]
    [InlineData("read,,int fd,,,,,,book read", "p.csv:2: the source must start with 'man' or 'kernel'")]
    [InlineData(",,int fd,,,,,,man read.2", "p.csv:2: the syscall name is empty")]
    [InlineData("read,,\"int fd,,,,,,,man read.2", "p.csv:2: a quoted field is not closed")]
    public void MalformedPrototypeRowsAreErrorsWithTheirLine(string row, string message)
    {
        var e = Assert.Throws<InvalidDataException>(() => PrototypeFile.Parse(Header + row + "\n", "p.csv"));
        Assert.StartsWith(message, e.Message, StringComparison.Ordinal);
    }

    private static ArchitectureSpec Spec(string name) => ArchitectureSpec.All.Single(a => a.Name == name);

    [Fact]
    public void AKernelRowWinsOverAManRowAndAnArchitectureRowOverAnAllRow()
    {
        var set = new PrototypeSet(PrototypeFile.Parse(Header
            + "chown,,const char *pathname,uid_t owner,gid_t group,,,,man chown.2\n"
            + "chown,x86,const char *pathname,old_uid_t owner,old_gid_t group,,,,kernel kernel/uid16.c\n"
            + "chmod,,const char *pathname,mode_t mode,,,,,man chmod.2\n"
            + "chmod,,const char *pathname,umode_t mode,,,,,kernel fs/open.c\n"
            + "pread64,,int fd,void *buf,size_t count,off_t offset,,,man pread.2\n", "p.csv"), "p.csv");
        Assert.Equal("uid_t", set.Arguments(Spec("x86_64"), "chown")[1].Type);
        Assert.Equal("old_uid_t", set.Arguments(Spec("x86"), "chown")[1].Type);
        Assert.Equal("umode_t", set.Arguments(Spec("x86_64"), "chmod")[1].Type);
        Assert.Equal("umode_t", set.Arguments(Spec("x86"), "chmod")[1].Type);
        // On a 32-bit ABI the arguments stop before the first one that takes two registers.
        Assert.Equal(4, set.Arguments(Spec("x86_64"), "pread64").Count);
        Assert.Equal(3, set.Arguments(Spec("x86"), "pread64").Count);
        Assert.Empty(set.Arguments(Spec("x86_64"), "nothing_known"));
    }

    [Theory]
    [InlineData("read,sparc,int fd,,,,,,man read.2\n", "p.csv:2: unknown architecture 'sparc'")]
    [InlineData("read,,widget_t fd,,,,,,man read.2\n", "p.csv:2: the width of the type 'widget_t' is not known")]
    [InlineData("read,,int fd,,,,,,man read.2\nread,,unsigned int fd,,,,,,man read.2\n", "p.csv:3: read already has a man row for these architectures at line 2")]
    [InlineData("read,x86 x32,int fd,,,,,,kernel a.c\nread,x32,unsigned int fd,,,,,,kernel b.c\n", "p.csv:3: read already has a kernel row")]
    public void InconsistentPrototypeRowsAreErrors(string rows, string message)
    {
        var e = Assert.Throws<InvalidDataException>(() => new PrototypeSet(PrototypeFile.Parse(Header + rows, "p.csv"), "p.csv"));
        Assert.StartsWith(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnArgumentWithoutATypeNeedsAKernelRow()
    {
        var set = new PrototypeSet(PrototypeFile.Parse(Header + "fcntl,,int fd,int cmd,arg,,,,man fcntl.2\n", "p.csv"), "p.csv");
        var e = Assert.Throws<InvalidDataException>(() => set.Arguments(Spec("x86_64"), "fcntl"));
        Assert.Contains("'arg' has no type", e.Message, StringComparison.Ordinal);
        var stray = new PrototypeSet(PrototypeFile.Parse(Header + "frobnicate,,int fd,,,,,,kernel x.c\n", "p.csv"), "p.csv");
        Assert.Contains("no architecture's table has a syscall called frobnicate",
            Assert.Throws<InvalidDataException>(() => stray.CheckEveryRowIsUsed(["read"])).Message, StringComparison.Ordinal);
    }
}
