# ZB_CHECK_CFLAG(FLAG, [ACTION-IF-OK], [ACTION-IF-NOT])
# Does the C compiler accept FLAG (with warnings as errors)?
AC_DEFUN([ZB_CHECK_CFLAG], [
	AC_MSG_CHECKING([whether $CC accepts $1])
	zb_save_CFLAGS="$CFLAGS"
	CFLAGS="$CFLAGS -Werror $1"
	AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
	    [AC_MSG_RESULT([yes]); $2],
	    [AC_MSG_RESULT([no]); $3])
	CFLAGS="$zb_save_CFLAGS"
])

# ZB_PTHREAD: POSIX threads through -pthread (glibc and musl).
AC_DEFUN([ZB_PTHREAD], [
	PTHREAD_CFLAGS="-pthread"
	PTHREAD_LIBS="-pthread"
	AC_SUBST([PTHREAD_CFLAGS])
	AC_SUBST([PTHREAD_LIBS])
])

# ZB_RM_CORE_DIR_SAFE: call before AC_INIT.
# Autoconf and automake clean up core dumps after their tests with
# "rm -f core ...".  This tree has a core/ directory (in the source tree,
# and in a build tree once config.status made it): rm prints "cannot
# remove 'core': Is a directory" and fails, and in configure's exit trap
# the "&&" after it then skips removing conftest* and confdefs.h.  Have
# those commands leave "core" out when it is a directory (a core dump
# named core is still removed).  A macro that is not defined, or no
# longer holds the text, is left alone.
m4_define([_ZB_RM_CORE_PATCH],
[m4_ifdef([$1], [m4_define([$1], m4_bpatsubst(m4_dquote(m4_defn([$1])),
    [rm -f core ], [rm -f `test -d core || echo core` ]))])])
m4_define([ZB_RM_CORE_DIR_SAFE],
[_ZB_RM_CORE_PATCH([_AC_INIT_PREPARE])dnl
_ZB_RM_CORE_PATCH([_AC_COMPILE_IFELSE])dnl
_ZB_RM_CORE_PATCH([_AC_LINK_IFELSE])dnl
_ZB_RM_CORE_PATCH([_AC_RUN_IFELSE])dnl
_ZB_RM_CORE_PATCH([_AM_PROG_CC_C_O])])
