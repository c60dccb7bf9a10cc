# The core library, linked by the daemon, the CLI and the unit tests.
noinst_LTLIBRARIES += %reldir%/libzbcore.la
%canon_reldir%_libzbcore_la_SOURCES = \
	%reldir%/age.c %reldir%/age.h \
	%reldir%/age_encode.c %reldir%/age_encode.h \
	%reldir%/age_keys.c %reldir%/age_keys.h \
	%reldir%/artifact.c %reldir%/artifact.h \
	%reldir%/buf.c %reldir%/buf.h \
	%reldir%/catalog.c %reldir%/catalog.h \
	%reldir%/check.c %reldir%/check.h \
	%reldir%/child.c %reldir%/child.h \
	%reldir%/codec.c %reldir%/codec.h \
	%reldir%/config.c %reldir%/config.h \
	%reldir%/copy.c %reldir%/copy.h \
	%reldir%/cron.c %reldir%/cron.h \
	%reldir%/forget.c %reldir%/forget.h \
	%reldir%/gc.c %reldir%/gc.h \
	%reldir%/hostapi.c %reldir%/io.h \
	%reldir%/http.c %reldir%/http.h \
	%reldir%/jobq.c %reldir%/jobq.h \
	%reldir%/jobstate.c %reldir%/jobstate.h \
	%reldir%/json.c %reldir%/json.h \
	%reldir%/layout.c %reldir%/layout.h \
	%reldir%/log.c %reldir%/log.h \
	%reldir%/metrics.c %reldir%/metrics.h \
	%reldir%/plugin.c %reldir%/plugin.h \
	%reldir%/progress.c %reldir%/progress.h \
	%reldir%/prune.c %reldir%/prune.h \
	%reldir%/reactor.c %reldir%/reactor.h \
	%reldir%/restore.c %reldir%/restore.h \
	%reldir%/retention.c %reldir%/retention.h \
	%reldir%/run.c %reldir%/run.h \
	%reldir%/sinkio.c %reldir%/sinkio.h \
	%reldir%/state.c %reldir%/state.h \
	%reldir%/stream.c %reldir%/stream.h %reldir%/stream_int.h \
	%reldir%/stream_work.c %reldir%/workers.c %reldir%/workers.h \
	%reldir%/toolkit.h %reldir%/toolkit_fd.c %reldir%/toolkit_http.c \
	%reldir%/toolkit_json.c \
	%reldir%/util.c %reldir%/util.h \
	%reldir%/vault_kv.c %reldir%/vault_kv.h \
	%reldir%/writers.c %reldir%/writers.h
%canon_reldir%_libzbcore_la_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS) \
	$(INIH_CFLAGS) $(ZSTD_CFLAGS) $(ZLIB_CFLAGS) $(PTHREAD_CFLAGS) \
	$(LIBCURL_CFLAGS)
%canon_reldir%_libzbcore_la_LIBADD = $(LIBEVENT_LIBS) $(OPENSSL_LIBS) \
	$(INIH_LIBS) $(ZSTD_LIBS) $(ZLIB_LIBS) $(PTHREAD_LIBS) \
	$(LIBCURL_LIBS)

sbin_PROGRAMS += zentoria-backupd
zentoria_backupd_SOURCES = %reldir%/daemon/backupd.c \
	%reldir%/daemon/notify.c %reldir%/daemon/notify.h \
	%reldir%/daemon/notifier.c %reldir%/daemon/notifier.h \
	%reldir%/daemon/observe.c %reldir%/daemon/observe.h \
	%reldir%/daemon/scheduler.c %reldir%/daemon/scheduler.h \
	%reldir%/daemon/upkeep.c %reldir%/daemon/upkeep.h \
	%reldir%/daemon/httpd.c %reldir%/daemon/httpd.h \
	%reldir%/daemon/api.c %reldir%/daemon/api.h \
	%reldir%/daemon/statuspage.c %reldir%/daemon/statuspage.h
nodist_zentoria_backupd_SOURCES = %reldir%/daemon/statuspage_html.c
zentoria_backupd_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_SSL_CFLAGS)
zentoria_backupd_LDADD = %reldir%/libzbcore.la $(LIBEVENT_LIBS) \
	$(LIBEVENT_SSL_LIBS)

# The status page (GET /) is one HTML file compiled in as a C array:
# od and awk (POSIX) rather than xxd, which is not always installed. The
# array is built here, from $(srcdir), so VPATH builds and distcheck work.
EXTRA_DIST += %reldir%/daemon/statuspage.html
BUILT_SOURCES = %reldir%/daemon/statuspage_html.c
CLEANFILES += %reldir%/daemon/statuspage_html.c
%reldir%/daemon/statuspage_html.c: %reldir%/daemon/statuspage.html \
	%reldir%/local.mk
	$(AM_V_GEN)$(MKDIR_P) %reldir%/daemon && { \
	echo '/* Generated from statuspage.html by core/local.mk. */'; \
	echo '#include <stddef.h>'; \
	echo 'extern const unsigned char statuspage_html[];'; \
	echo 'extern const size_t statuspage_html_len;'; \
	echo 'const unsigned char statuspage_html[] = {'; \
	od -An -v -tx1 < $(srcdir)/%reldir%/daemon/statuspage.html | \
	$(AWK) '{ for (i = 1; i <= NF; i++) { \
	    printf "%s0x%s,", n % 12 == 0 ? "\t" : " ", $$i; \
	    if (++n % 12 == 0) printf "\n" } } \
	    END { if (n % 12 != 0) printf "\n"; \
	    printf "\t0x00\n};\nconst size_t statuspage_html_len = %d;\n", n }'; \
	} > $@-t && mv $@-t $@

bin_PROGRAMS += zentoria-backupctl
zentoria_backupctl_SOURCES = %reldir%/cli/ctl.c %reldir%/cli/ctl.h \
	%reldir%/cli/ctl_list.c %reldir%/cli/ctl_restore.c \
	%reldir%/cli/ctl_run.c %reldir%/cli/ctl_test.c %reldir%/cli/ctl_prune.c \
	%reldir%/cli/ctl_check.c %reldir%/cli/ctl_status.c \
	%reldir%/cli/ctl_copy.c
zentoria_backupctl_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS) $(LIBCURL_CFLAGS)
zentoria_backupctl_LDADD = %reldir%/libzbcore.la $(LIBEVENT_LIBS) \
	$(LIBCURL_LIBS)
