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
