# Benchmarks: built on demand (make bench/crypto_core), never installed.
EXTRA_PROGRAMS += %reldir%/crypto_core
%canon_reldir%_crypto_core_SOURCES = %reldir%/crypto_core.c
%canon_reldir%_crypto_core_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS)
%canon_reldir%_crypto_core_LDADD = core/libzbcore.la $(LIBEVENT_LIBS)
CLEANFILES += %reldir%/crypto_core
# The scripts (the top Makefile.am lists stream.sh, crypto.sh, redis.sh).
EXTRA_DIST += %reldir%/README.md %reldir%/common.sh %reldir%/pg.sh \
	%reldir%/s3.sh
