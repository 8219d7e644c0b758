/*
 * The kernel facts the syscall tables need besides the numbers of facts/syscalls.csv, restated from the uapi
 * headers of Linux 7.1 so that the tables do not depend on the headers of the machine that generates them
 * (tools/Syscage.Generator evaluates this file; RegenerationTests checks every macro against the machine's headers
 * where they define it). Each line is written as the header it comes from defines it.
 */

/* include/uapi/linux/elf-em.h: the ELF machine of each architecture. */
#define EM_386		3
#define EM_68K		4
#define EM_MIPS		8	/* MIPS R3000 (officially, big-endian only) */
#define EM_PARISC	15	/* HPPA */
#define EM_PPC		20	/* PowerPC */
#define EM_PPC64	21	 /* PowerPC64 */
#define EM_S390		22	/* IBM S/390 */
#define EM_ARM		40	/* ARM 32 bit */
#define EM_SH		42	/* SuperH */
#define EM_X86_64	62	/* AMD x86-64 */
#define EM_AARCH64	183	/* ARM 64 bit */
#define EM_RISCV	243	/* RISC-V */
#define EM_LOONGARCH	258	/* LoongArch */

/* include/uapi/linux/audit.h: what seccomp_data.arch holds (syscall_get_arch() of each architecture). */
#define __AUDIT_ARCH_CONVENTION_MASK 0x30000000
#define __AUDIT_ARCH_CONVENTION_MIPS64_N32 0x20000000
#define __AUDIT_ARCH_64BIT 0x80000000
#define __AUDIT_ARCH_LE	   0x40000000

#define AUDIT_ARCH_AARCH64	(EM_AARCH64|__AUDIT_ARCH_64BIT|__AUDIT_ARCH_LE)
#define AUDIT_ARCH_ARM		(EM_ARM|__AUDIT_ARCH_LE)
#define AUDIT_ARCH_I386		(EM_386|__AUDIT_ARCH_LE)
#define AUDIT_ARCH_LOONGARCH64	(EM_LOONGARCH|__AUDIT_ARCH_64BIT|__AUDIT_ARCH_LE)
#define AUDIT_ARCH_M68K		(EM_68K)
#define AUDIT_ARCH_MIPS		(EM_MIPS)
#define AUDIT_ARCH_MIPSEL	(EM_MIPS|__AUDIT_ARCH_LE)
#define AUDIT_ARCH_MIPS64	(EM_MIPS|__AUDIT_ARCH_64BIT)
#define AUDIT_ARCH_MIPS64N32	(EM_MIPS|__AUDIT_ARCH_64BIT|\
				 __AUDIT_ARCH_CONVENTION_MIPS64_N32)
#define AUDIT_ARCH_MIPSEL64	(EM_MIPS|__AUDIT_ARCH_64BIT|__AUDIT_ARCH_LE)
#define AUDIT_ARCH_MIPSEL64N32	(EM_MIPS|__AUDIT_ARCH_64BIT|__AUDIT_ARCH_LE|\
				 __AUDIT_ARCH_CONVENTION_MIPS64_N32)
#define AUDIT_ARCH_PARISC	(EM_PARISC)
#define AUDIT_ARCH_PARISC64	(EM_PARISC|__AUDIT_ARCH_64BIT)
#define AUDIT_ARCH_PPC		(EM_PPC)
#define AUDIT_ARCH_PPC64	(EM_PPC64|__AUDIT_ARCH_64BIT)
#define AUDIT_ARCH_PPC64LE	(EM_PPC64|__AUDIT_ARCH_64BIT|__AUDIT_ARCH_LE)
#define AUDIT_ARCH_RISCV64	(EM_RISCV|__AUDIT_ARCH_64BIT|__AUDIT_ARCH_LE)
#define AUDIT_ARCH_S390		(EM_S390)
#define AUDIT_ARCH_S390X	(EM_S390|__AUDIT_ARCH_64BIT)
#define AUDIT_ARCH_SH		(EM_SH)
#define AUDIT_ARCH_SHEL		(EM_SH|__AUDIT_ARCH_LE)
#define AUDIT_ARCH_X86_64	(EM_X86_64|__AUDIT_ARCH_64BIT|__AUDIT_ARCH_LE)

/*
 * The syscall number spaces that do not start at 0. seccomp_data.nr holds the number the task passed, so a
 * filter compares these; libseccomp's syscalls.csv lists the numbers without them.
 */

/* arch/x86/include/uapi/asm/unistd.h: every x32 number carries this bit. */
#define __X32_SYSCALL_BIT	0x40000000

/* arch/mips/include/uapi/asm/unistd.h: the first number of the o32, n64 and n32 ABIs. */
#define __NR_O32_Linux			4000
#define __NR_64_Linux			5000
#define __NR_N32_Linux			6000
