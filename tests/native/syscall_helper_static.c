/*
 * syscall_helper_static: tests/native/syscall_helper.c, built with -static so that it runs in a container whose
 * root file system holds nothing but busybox (RuncAgreementTests).
 */
#include "syscall_helper.c"
