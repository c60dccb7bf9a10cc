# Tests: Criterion unit tests, fixture plugins, shell integration tests.

# ---- fixture plugins (never installed) -------------------------------------
fixture_plugins = %reldir%/fixtures/plugins/src_gen.la \
	%reldir%/fixtures/plugins/sink_slow.la
bad_plugins = %reldir%/fixtures/plugins/bad_version.la \
	%reldir%/fixtures/plugins/bad_size.la \
	%reldir%/fixtures/plugins/bad_sig.la \
	%reldir%/fixtures/plugins/bad_cap.la \
	%reldir%/fixtures/plugins/bad_name.la \
	%reldir%/fixtures/plugins/bad_pending.la
check_LTLIBRARIES += $(fixture_plugins) $(bad_plugins)

%canon_reldir%_fixtures_plugins_src_gen_la_SOURCES = %reldir%/fixtures/plugins/src_gen.c \
	%reldir%/fixtures/plugins/ledger.h
%canon_reldir%_fixtures_plugins_src_gen_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
%canon_reldir%_fixtures_plugins_src_gen_la_LDFLAGS = $(ZB_TEST_PLUGIN_LINK)
%canon_reldir%_fixtures_plugins_src_gen_la_LIBADD = $(LIBEVENT_LIBS)
%canon_reldir%_fixtures_plugins_sink_slow_la_SOURCES = %reldir%/fixtures/plugins/sink_slow.c \
	%reldir%/fixtures/plugins/ledger.h
%canon_reldir%_fixtures_plugins_sink_slow_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
%canon_reldir%_fixtures_plugins_sink_slow_la_LDFLAGS = $(ZB_TEST_PLUGIN_LINK)
%canon_reldir%_fixtures_plugins_sink_slow_la_LIBADD = $(LIBEVENT_LIBS)

bad_abi_src = %reldir%/fixtures/plugins/bad_abi.c
bad_abi_cflags = $(AM_CFLAGS) -fvisibility=hidden
%canon_reldir%_fixtures_plugins_bad_version_la_SOURCES = $(bad_abi_src)
%canon_reldir%_fixtures_plugins_bad_version_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_VERSION -DPLUGIN_NAME='"bad_version"'
%canon_reldir%_fixtures_plugins_bad_version_la_CFLAGS = $(bad_abi_cflags)
%canon_reldir%_fixtures_plugins_bad_version_la_LDFLAGS = $(ZB_TEST_PLUGIN_LINK)
%canon_reldir%_fixtures_plugins_bad_size_la_SOURCES = $(bad_abi_src)
%canon_reldir%_fixtures_plugins_bad_size_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_SIZE -DPLUGIN_NAME='"bad_size"'
%canon_reldir%_fixtures_plugins_bad_size_la_CFLAGS = $(bad_abi_cflags)
%canon_reldir%_fixtures_plugins_bad_size_la_LDFLAGS = $(ZB_TEST_PLUGIN_LINK)
%canon_reldir%_fixtures_plugins_bad_sig_la_SOURCES = $(bad_abi_src)
%canon_reldir%_fixtures_plugins_bad_sig_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_SIG -DPLUGIN_NAME='"bad_sig"'
%canon_reldir%_fixtures_plugins_bad_sig_la_CFLAGS = $(bad_abi_cflags)
%canon_reldir%_fixtures_plugins_bad_sig_la_LDFLAGS = $(ZB_TEST_PLUGIN_LINK)
%canon_reldir%_fixtures_plugins_bad_cap_la_SOURCES = $(bad_abi_src)
%canon_reldir%_fixtures_plugins_bad_cap_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_CAP -DPLUGIN_NAME='"bad_cap"'
%canon_reldir%_fixtures_plugins_bad_cap_la_CFLAGS = $(bad_abi_cflags)
%canon_reldir%_fixtures_plugins_bad_cap_la_LDFLAGS = $(ZB_TEST_PLUGIN_LINK)
%canon_reldir%_fixtures_plugins_bad_name_la_SOURCES = $(bad_abi_src)
%canon_reldir%_fixtures_plugins_bad_name_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_NAME -DPLUGIN_NAME='"other_name"'
%canon_reldir%_fixtures_plugins_bad_name_la_CFLAGS = $(bad_abi_cflags)
%canon_reldir%_fixtures_plugins_bad_name_la_LDFLAGS = $(ZB_TEST_PLUGIN_LINK)
%canon_reldir%_fixtures_plugins_bad_pending_la_SOURCES = $(bad_abi_src)
%canon_reldir%_fixtures_plugins_bad_pending_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_PENDING -DPLUGIN_NAME='"bad_pending"'
%canon_reldir%_fixtures_plugins_bad_pending_la_CFLAGS = $(bad_abi_cflags)
%canon_reldir%_fixtures_plugins_bad_pending_la_LDFLAGS = $(ZB_TEST_PLUGIN_LINK)

# Plugin directories for the tests: the real plugins and the good
# fixtures in one, the refused fixtures in another.  The loader refuses
# group-writable plugins and directories (core/plugin.c), so a umask of
# 002 must not make the build tree's ones so.
check_DATA = %reldir%/plugindir.stamp
%reldir%/plugindir.stamp: $(plugin_LTLIBRARIES) $(check_LTLIBRARIES)
	$(AM_V_GEN)rm -rf tests/plugindir tests/badplugindir && \
	$(MKDIR_P) tests/plugindir tests/badplugindir && \
	chmod go-w tests/plugindir tests/badplugindir && \
	for la in $(plugin_LTLIBRARIES) $(fixture_plugins); do \
	  d=`dirname $$la`; n=`basename $$la .la`; \
	  chmod go-w "$$d/.libs" "$$d/.libs/$$n.so" && \
	  ln -s "$(abs_top_builddir)/$$d/.libs/$$n.so" tests/plugindir/$$n.so \
	  || exit 1; done && \
	for la in $(bad_plugins); do \
	  d=`dirname $$la`; n=`basename $$la .la`; \
	  chmod go-w "$$d/.libs" "$$d/.libs/$$n.so" && \
	  ln -s "$(abs_top_builddir)/$$d/.libs/$$n.so" tests/badplugindir/$$n.so \
	  || exit 1; done && \
	touch $@
CLEANFILES += %reldir%/plugindir.stamp
clean-local: clean-test-dirs
clean-test-dirs:
	rm -rf tests/plugindir tests/badplugindir mutation-logs
.PHONY: clean-test-dirs

AM_TESTS_ENVIRONMENT = \
	ZB_TEST_PLUGIN_DIR='$(abs_top_builddir)/tests/plugindir'; \
	ZB_TEST_BAD_PLUGIN_DIR='$(abs_top_builddir)/tests/badplugindir'; \
	ZB_BUILDDIR='$(abs_top_builddir)'; ZB_SRCDIR='$(abs_top_srcdir)'; \
	ZB_SHARED="$${ZB_SHARED:-$(abs_top_srcdir)/../shared}"; \
	export ZB_TEST_PLUGIN_DIR ZB_TEST_BAD_PLUGIN_DIR ZB_BUILDDIR ZB_SRCDIR \
	ZB_SHARED; \
	ASAN_OPTIONS="$${ASAN_OPTIONS:-detect_leaks=1}:exitcode=86"; \
	LSAN_OPTIONS="$${LSAN_OPTIONS:+$$LSAN_OPTIONS:}exitcode=86"; \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=86; \
	export ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS;

# The sanitizers exit 86: no expected failure of a test names that code
# (tests/lib/assert.sh).

# ---- unit tests (Criterion) --------------------------------------------------
if HAVE_CRITERION
unit_tests = %reldir%/unit/test_config %reldir%/unit/test_json \
	%reldir%/unit/test_util %reldir%/unit/test_codec \
	%reldir%/unit/test_plugin %reldir%/unit/test_stream \
	%reldir%/unit/test_age %reldir%/unit/test_http \
	%reldir%/unit/test_artifact %reldir%/unit/test_retention \
	%reldir%/unit/test_cron %reldir%/unit/test_reactor \
	%reldir%/unit/test_layout %reldir%/unit/test_jobq \
	%reldir%/unit/test_catalog %reldir%/unit/test_toolkit_json \
	%reldir%/unit/test_toolkit_fd %reldir%/unit/test_toolkit_http
check_PROGRAMS += $(unit_tests)
TESTS += $(unit_tests)
unit_cflags = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(OPENSSL_CFLAGS) \
	-DZB_UNIT_TEST
unit_ldadd = core/libzbcore.la $(CRITERION_LIBS) $(LIBEVENT_LIBS)
%canon_reldir%_unit_test_toolkit_json_SOURCES = \
	%reldir%/unit/test_toolkit_json.c
%canon_reldir%_unit_test_toolkit_json_CFLAGS = $(unit_cflags)
%canon_reldir%_unit_test_toolkit_json_LDADD = $(unit_ldadd)
%canon_reldir%_unit_test_config_SOURCES = %reldir%/unit/test_config.c
%canon_reldir%_unit_test_config_CFLAGS = $(unit_cflags)
%canon_reldir%_unit_test_config_LDADD = $(unit_ldadd)
unit_tests += %reldir%/unit/test_vault_kv
%canon_reldir%_unit_test_vault_kv_SOURCES = %reldir%/unit/test_vault_kv.c
%canon_reldir%_unit_test_vault_kv_CFLAGS = $(unit_cflags)
%canon_reldir%_unit_test_vault_kv_LDADD = $(unit_ldadd)
%canon_reldir%_unit_test_json_SOURCES = %reldir%/unit/test_json.c
%canon_reldir%_unit_test_json_CFLAGS = $(unit_cflags)
%canon_reldir%_unit_test_json_LDADD = $(unit_ldadd)
%canon_reldir%_unit_test_util_SOURCES = %reldir%/unit/test_util.c
%canon_reldir%_unit_test_util_CFLAGS = $(unit_cflags)
%canon_reldir%_unit_test_util_LDADD = $(unit_ldadd)
%canon_reldir%_unit_test_codec_SOURCES = %reldir%/unit/test_codec.c
%canon_reldir%_unit_test_codec_CFLAGS = $(unit_cflags)
%canon_reldir%_unit_test_codec_LDADD = $(unit_ldadd)
%canon_reldir%_unit_test_plugin_SOURCES = %reldir%/unit/test_plugin.c
%canon_reldir%_unit_test_plugin_CFLAGS = $(unit_cflags)
%canon_reldir%_unit_test_plugin_LDADD = $(unit_ldadd)
%canon_reldir%_unit_test_stream_SOURCES = %reldir%/unit/test_stream.c
%canon_reldir%_unit_test_stream_CFLAGS = $(unit_cflags)
%canon_reldir%_unit_test_stream_LDADD = $(unit_ldadd)
%canon_reldir%_unit_test_http_SOURCES = %reldir%/unit/test_http.c
%canon_reldir%_unit_test_http_CFLAGS = $(unit_cflags) $(LIBCURL_CFLAGS)
%canon_reldir%_unit_test_http_LDADD = $(unit_ldadd) $(LIBCURL_LIBS)
%canon_reldir%_unit_test_toolkit_fd_SOURCES = %reldir%/unit/test_toolkit_fd.c
%canon_reldir%_unit_test_toolkit_fd_CFLAGS = $(unit_cflags)
%canon_reldir%_unit_test_toolkit_fd_LDADD = $(unit_ldadd)
%canon_reldir%_unit_test_toolkit_http_SOURCES = %reldir%/unit/test_toolkit_http.c
%canon_reldir%_unit_test_toolkit_http_CFLAGS = $(unit_cflags) $(LIBCURL_CFLAGS)
%canon_reldir%_unit_test_toolkit_http_LDADD = $(unit_ldadd) $(LIBCURL_LIBS) $(OPENSSL_LIBS)
%canon_reldir%_unit_test_catalog_SOURCES = %reldir%/unit/test_catalog.c
%canon_reldir%_unit_test_catalog_CFLAGS = $(unit_cflags)
%canon_reldir%_unit_test_catalog_LDADD = $(unit_ldadd)
%canon_reldir%_unit_test_artifact_SOURCES = %reldir%/unit/test_artifact.c
%canon_reldir%_unit_test_artifact_CFLAGS = $(unit_cflags)
%canon_reldir%_unit_test_artifact_LDADD = $(unit_ldadd)
%canon_reldir%_unit_test_layout_SOURCES = %reldir%/unit/test_layout.c
%canon_reldir%_unit_test_layout_CFLAGS = $(unit_cflags)
%canon_reldir%_unit_test_layout_LDADD = $(unit_ldadd)
%canon_reldir%_unit_test_jobq_SOURCES = %reldir%/unit/test_jobq.c
%canon_reldir%_unit_test_jobq_CFLAGS = $(unit_cflags)
%canon_reldir%_unit_test_jobq_LDADD = $(unit_ldadd)
%canon_reldir%_unit_test_retention_SOURCES = %reldir%/unit/test_retention.c
%canon_reldir%_unit_test_retention_CFLAGS = $(unit_cflags)
%canon_reldir%_unit_test_retention_LDADD = $(unit_ldadd)
%canon_reldir%_unit_test_cron_SOURCES = %reldir%/unit/test_cron.c
%canon_reldir%_unit_test_cron_CFLAGS = $(unit_cflags)
%canon_reldir%_unit_test_cron_LDADD = $(unit_ldadd)
%canon_reldir%_unit_test_reactor_SOURCES = %reldir%/unit/test_reactor.c
%canon_reldir%_unit_test_reactor_CFLAGS = $(unit_cflags)
%canon_reldir%_unit_test_reactor_LDADD = $(unit_ldadd)
%canon_reldir%_unit_test_age_SOURCES = %reldir%/unit/test_age.c
%canon_reldir%_unit_test_age_CFLAGS = $(unit_cflags)
%canon_reldir%_unit_test_age_LDADD = $(unit_ldadd)
endif

# ---- integration tests -------------------------------------------------------
integration_tests = %reldir%/integration/cli.sh \
	%reldir%/integration/command.sh \
	%reldir%/integration/files.sh %reldir%/integration/age.sh \
	%reldir%/integration/files_special.sh %reldir%/integration/files_change.sh \
	%reldir%/integration/files_pipes.sh \
	%reldir%/integration/restore_target.sh %reldir%/integration/local_fsync.sh \
	%reldir%/integration/postgresql.sh %reldir%/integration/s3.sh \
	%reldir%/integration/postgresql_pipes.sh %reldir%/integration/pg_counts.sh \
	%reldir%/integration/s3_interop.sh %reldir%/integration/redis.sh \
	%reldir%/integration/s3_source.sh %reldir%/integration/prune.sh \
	%reldir%/integration/runs.sh %reldir%/integration/runs_pg.sh \
	%reldir%/integration/retention.sh %reldir%/integration/prune_source.sh \
	%reldir%/integration/retention_tags.sh \
	%reldir%/integration/prune_lock.sh \
	%reldir%/integration/verify.sh %reldir%/integration/restore_refusals.sh \
	%reldir%/integration/s3_stall.sh \
	%reldir%/integration/sample_config.sh \
	%reldir%/integration/check.sh \
	%reldir%/integration/queue.sh \
	%reldir%/integration/copy.sh %reldir%/integration/copy_prefix.sh \
	%reldir%/checksrc.sh %reldir%/lib/pg_selftest.sh
# vault: secrets (core/vault_kv.c)
integration_tests += %reldir%/integration/vault_secrets.sh
TESTS += %reldir%/fakes/vault_fake_selftest.py
EXTRA_DIST += %reldir%/fakes/vault_fake_selftest.py
TESTS += $(integration_tests)
# the vault source against tests/fakes/vault_fake.py
TESTS += %reldir%/integration/vault.sh
EXTRA_DIST += %reldir%/integration/vault.sh
# the alert rules and the dashboard (etc/prometheus, etc/grafana)
TESTS += %reldir%/integration/alerts.sh
EXTRA_DIST += %reldir%/integration/alerts.sh %reldir%/prometheus/lint.py \
	%reldir%/prometheus/seed.test.yml %reldir%/prometheus/rpo.test.yml \
	%reldir%/prometheus/checks.test.yml
EXTRA_DIST += $(integration_tests) %reldir%/integration/lib.sh \
	%reldir%/lib/procwatch.sh %reldir%/lib/procwatch.py \
	%reldir%/lib/pg.sh %reldir%/lib/assert.sh %reldir%/lib/README.md \
	%reldir%/lib/s3fake.sh %reldir%/lib/s3rver.sh \
	%reldir%/unit/testlib.h
# the n8n source against its fake (plugins/n8n)
TESTS += %reldir%/integration/n8n.sh %reldir%/integration/n8n_credentials.sh
EXTRA_DIST += %reldir%/integration/n8n.sh %reldir%/fakes/n8n_fake.py \
	%reldir%/integration/n8n_credentials.sh
# configure leaves our core/ directory alone (m4/zb_macros.m4)
TESTS += %reldir%/configure_core.sh
EXTRA_DIST += %reldir%/configure_core.sh
TEST_EXTENSIONS = .sh .py
SH_LOG_COMPILER = $(SHELL)
PY_LOG_COMPILER = $(PYTHON3)

# ---- the daemon (core/daemon/) ----------------------------------------------
if HAVE_CRITERION
check_PROGRAMS += %reldir%/unit/test_jobstate
TESTS += %reldir%/unit/test_jobstate
%canon_reldir%_unit_test_jobstate_SOURCES = %reldir%/unit/test_jobstate.c
%canon_reldir%_unit_test_jobstate_CFLAGS = $(unit_cflags)
%canon_reldir%_unit_test_jobstate_LDADD = $(unit_ldadd)
check_PROGRAMS += %reldir%/unit/test_metrics
TESTS += %reldir%/unit/test_metrics
%canon_reldir%_unit_test_metrics_SOURCES = %reldir%/unit/test_metrics.c
%canon_reldir%_unit_test_metrics_CFLAGS = $(unit_cflags)
%canon_reldir%_unit_test_metrics_LDADD = $(unit_ldadd)
endif
daemon_tests = %reldir%/integration/daemon.sh \
	%reldir%/integration/daemon_catchup.sh \
	%reldir%/integration/daemon_reload.sh \
	%reldir%/integration/daemon_check.sh \
	%reldir%/integration/daemon_stop.sh \
	%reldir%/integration/daemon_sinks.sh \
	%reldir%/integration/daemon_notify.sh \
	%reldir%/integration/daemon_metrics.sh \
	%reldir%/integration/daemon_journal.sh \
	%reldir%/integration/daemon_api.sh \
	%reldir%/integration/status_page.sh \
	%reldir%/integration/status_page_daemon.sh \
	%reldir%/integration/copy_daemon.sh
TESTS += $(daemon_tests)
# packaging: the systemd unit (etc/systemd/) and the man pages (man/)
packaging_tests = %reldir%/integration/systemd_unit.sh \
	%reldir%/integration/man_pages.sh
TESTS += $(packaging_tests)
# the stream core on 1, 2 and 4 worker threads; stream_race.sh is what
# the ThreadSanitizer build runs (scripts/test.sh)
if HAVE_CRITERION
TESTS += %reldir%/integration/stream_workers.sh
endif
TESTS += %reldir%/integration/stream_race.sh \
	%reldir%/integration/old_manifests.sh
EXTRA_DIST += %reldir%/integration/old_manifests.sh \
	%reldir%/old
EXTRA_DIST += %reldir%/integration/stream_workers.sh \
	%reldir%/integration/stream_race.sh
EXTRA_DIST += $(packaging_tests)
EXTRA_DIST += $(daemon_tests) %reldir%/integration/daemon_lib.sh \
	%reldir%/fakes/status_server.py

# ---- S3 SigV4 (plugins/s3/sigv4.c) -------------------------------------------
# The unit test replays AWS's examples; the crosscheck signs random
# requests with sigv4_sign and with botocore (SKIP without botocore).
sigv4_cppflags = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/s3
if HAVE_CRITERION
check_PROGRAMS += %reldir%/unit/test_sigv4
TESTS += %reldir%/unit/test_sigv4
%canon_reldir%_unit_test_sigv4_SOURCES = %reldir%/unit/test_sigv4.c \
	plugins/s3/sigv4.c
%canon_reldir%_unit_test_sigv4_CPPFLAGS = $(sigv4_cppflags)
%canon_reldir%_unit_test_sigv4_CFLAGS = $(unit_cflags)
%canon_reldir%_unit_test_sigv4_LDADD = $(unit_ldadd)
endif
check_PROGRAMS += %reldir%/tools/sigv4_sign
%canon_reldir%_tools_sigv4_sign_SOURCES = %reldir%/tools/sigv4_sign.c \
	plugins/s3/sigv4.c
%canon_reldir%_tools_sigv4_sign_CPPFLAGS = $(sigv4_cppflags)
%canon_reldir%_tools_sigv4_sign_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS)
%canon_reldir%_tools_sigv4_sign_LDADD = core/libzbcore.la $(LIBEVENT_LIBS)
# what GET / serves (the compiled-in status page), for status_page.sh
check_PROGRAMS += %reldir%/tools/statuspage_dump
%canon_reldir%_tools_statuspage_dump_SOURCES = \
	%reldir%/tools/statuspage_dump.c core/daemon/statuspage.c
nodist_%canon_reldir%_tools_statuspage_dump_SOURCES = \
	core/daemon/statuspage_html.c
%canon_reldir%_tools_statuspage_dump_CFLAGS = $(AM_CFLAGS)
%canon_reldir%_tools_statuspage_dump_LDADD = core/libzbcore.la $(LIBEVENT_LIBS)
# the prune service with every parameter (the daemon's call)
check_PROGRAMS += %reldir%/tools/prune_call
%canon_reldir%_tools_prune_call_SOURCES = %reldir%/tools/prune_call.c
%canon_reldir%_tools_prune_call_CFLAGS = $(AM_CFLAGS)
%canon_reldir%_tools_prune_call_LDADD = core/libzbcore.la $(LIBEVENT_LIBS)
TESTS += %reldir%/sigv4_crosscheck.py %reldir%/fakes/s3_fake_selftest.py
EXTRA_DIST += %reldir%/fakes/s3_fake_selftest.py %reldir%/fakes/s3_fake.py \
	%reldir%/fakes/README.md %reldir%/fakes/http_receiver.py \
	%reldir%/fakes/smtp_receiver.py %reldir%/fakes/vault_fake.py \
	%reldir%/fakes/http_faults.py
EXTRA_DIST += %reldir%/sigv4_crosscheck.py plugins/s3/sigv4.h

# ---- S3 request time bounds (plugins/s3/s3_limits.c) ----------------------------
if HAVE_CRITERION
check_PROGRAMS += %reldir%/unit/test_s3_limits
TESTS += %reldir%/unit/test_s3_limits
%canon_reldir%_unit_test_s3_limits_SOURCES = %reldir%/unit/test_s3_limits.c \
	plugins/s3/s3_limits.c
%canon_reldir%_unit_test_s3_limits_CPPFLAGS = $(sigv4_cppflags)
%canon_reldir%_unit_test_s3_limits_CFLAGS = $(unit_cflags) $(LIBCURL_CFLAGS)
%canon_reldir%_unit_test_s3_limits_LDADD = $(unit_ldadd) $(LIBCURL_LIBS)
endif

# ---- fuzz targets ----------------------------------------------------------------
# Every build replays the seed corpora through the targets (replay.c);
# --enable-fuzzers (clang) also builds the libFuzzer binaries.
replay_progs = %reldir%/fuzz/replay_config %reldir%/fuzz/replay_json \
	%reldir%/fuzz/replay_cron
check_PROGRAMS += $(replay_progs)
%canon_reldir%_fuzz_replay_config_SOURCES = %reldir%/fuzz/replay.c \
	%reldir%/fuzz/fuzz_config.c
%canon_reldir%_fuzz_replay_config_LDADD = core/libzbcore.la $(LIBEVENT_LIBS)
%canon_reldir%_fuzz_replay_json_SOURCES = %reldir%/fuzz/replay.c \
	%reldir%/fuzz/fuzz_json.c
%canon_reldir%_fuzz_replay_json_LDADD = core/libzbcore.la $(LIBEVENT_LIBS)
%canon_reldir%_fuzz_replay_cron_SOURCES = %reldir%/fuzz/replay.c \
	%reldir%/fuzz/fuzz_cron.c
%canon_reldir%_fuzz_replay_cron_LDADD = core/libzbcore.la $(LIBEVENT_LIBS)
TESTS += %reldir%/fuzz/replay.sh
EXTRA_DIST += %reldir%/fuzz/replay.sh %reldir%/fuzz/corpus

if FUZZERS
noinst_PROGRAMS += %reldir%/fuzz/fuzz_config %reldir%/fuzz/fuzz_json \
	%reldir%/fuzz/fuzz_cron
%canon_reldir%_fuzz_fuzz_config_SOURCES = %reldir%/fuzz/fuzz_config.c
%canon_reldir%_fuzz_fuzz_config_LDFLAGS = -fsanitize=fuzzer
%canon_reldir%_fuzz_fuzz_config_LDADD = core/libzbcore.la $(LIBEVENT_LIBS)
%canon_reldir%_fuzz_fuzz_json_SOURCES = %reldir%/fuzz/fuzz_json.c
%canon_reldir%_fuzz_fuzz_json_LDFLAGS = -fsanitize=fuzzer
%canon_reldir%_fuzz_fuzz_json_LDADD = core/libzbcore.la $(LIBEVENT_LIBS)
%canon_reldir%_fuzz_fuzz_cron_SOURCES = %reldir%/fuzz/fuzz_cron.c
%canon_reldir%_fuzz_fuzz_cron_LDFLAGS = -fsanitize=fuzzer
%canon_reldir%_fuzz_fuzz_cron_LDADD = core/libzbcore.la $(LIBEVENT_LIBS)
endif

# ---- Redis SYNC reply parser (plugins/redis/rdb_stream.c) ------------------
# Unit test (real redis-server cases SKIP without it), seed-corpus replay,
# and with --enable-fuzzers the libFuzzer binary.
redis_parser_src = plugins/redis/rdb_stream.c plugins/redis/crc64.c
redis_parser_cppflags = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/redis
if HAVE_CRITERION
check_PROGRAMS += %reldir%/unit/test_rdb_stream
TESTS += %reldir%/unit/test_rdb_stream
%canon_reldir%_unit_test_rdb_stream_SOURCES = \
	%reldir%/unit/test_rdb_stream.c $(redis_parser_src)
%canon_reldir%_unit_test_rdb_stream_CPPFLAGS = $(redis_parser_cppflags)
%canon_reldir%_unit_test_rdb_stream_CFLAGS = $(unit_cflags)
%canon_reldir%_unit_test_rdb_stream_LDADD = $(unit_ldadd)
endif
replay_progs += %reldir%/fuzz/replay_rdb
%canon_reldir%_fuzz_replay_rdb_SOURCES = %reldir%/fuzz/replay.c \
	%reldir%/fuzz/fuzz_rdb.c $(redis_parser_src)
%canon_reldir%_fuzz_replay_rdb_CPPFLAGS = $(redis_parser_cppflags)
%canon_reldir%_fuzz_replay_rdb_LDADD = core/libzbcore.la $(LIBEVENT_LIBS)
if FUZZERS
noinst_PROGRAMS += %reldir%/fuzz/fuzz_rdb
%canon_reldir%_fuzz_fuzz_rdb_SOURCES = %reldir%/fuzz/fuzz_rdb.c \
	$(redis_parser_src)
%canon_reldir%_fuzz_fuzz_rdb_CPPFLAGS = $(redis_parser_cppflags)
%canon_reldir%_fuzz_fuzz_rdb_LDFLAGS = -fsanitize=fuzzer
%canon_reldir%_fuzz_fuzz_rdb_LDADD = core/libzbcore.la $(LIBEVENT_LIBS)
endif
EXTRA_DIST += plugins/redis/crc64.h plugins/redis/rdb_stream.h \
	%reldir%/lib/redis.sh %reldir%/fakes/redis_master.py

# ---- pg_dump custom-format archive (plugins/postgresql/pg_archive.c, pg_scan.c) --
pg_archive_src = plugins/postgresql/pg_archive.c plugins/postgresql/pg_scan.c
pg_archive_cppflags = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/postgresql \
	$(LIBPQ_CFLAGS)
if HAVE_CRITERION
check_PROGRAMS += %reldir%/unit/test_pg_archive
TESTS += %reldir%/unit/test_pg_archive
%canon_reldir%_unit_test_pg_archive_SOURCES = \
	%reldir%/unit/test_pg_archive.c $(pg_archive_src)
%canon_reldir%_unit_test_pg_archive_CPPFLAGS = $(pg_archive_cppflags)
%canon_reldir%_unit_test_pg_archive_CFLAGS = $(unit_cflags)
%canon_reldir%_unit_test_pg_archive_LDADD = $(unit_ldadd)
check_PROGRAMS += %reldir%/unit/test_pg_scan
TESTS += %reldir%/unit/test_pg_scan
%canon_reldir%_unit_test_pg_scan_SOURCES = \
	%reldir%/unit/test_pg_scan.c $(pg_archive_src)
%canon_reldir%_unit_test_pg_scan_CPPFLAGS = $(pg_archive_cppflags)
%canon_reldir%_unit_test_pg_scan_CFLAGS = $(unit_cflags)
%canon_reldir%_unit_test_pg_scan_LDADD = $(unit_ldadd)
endif
replay_progs += %reldir%/fuzz/replay_pgdump
%canon_reldir%_fuzz_replay_pgdump_SOURCES = %reldir%/fuzz/replay.c \
	%reldir%/fuzz/fuzz_pgdump.c $(pg_archive_src)
%canon_reldir%_fuzz_replay_pgdump_CPPFLAGS = $(pg_archive_cppflags)
%canon_reldir%_fuzz_replay_pgdump_LDADD = core/libzbcore.la $(LIBEVENT_LIBS)
if FUZZERS
noinst_PROGRAMS += %reldir%/fuzz/fuzz_pgdump
%canon_reldir%_fuzz_fuzz_pgdump_SOURCES = %reldir%/fuzz/fuzz_pgdump.c \
	$(pg_archive_src)
%canon_reldir%_fuzz_fuzz_pgdump_CPPFLAGS = $(pg_archive_cppflags)
%canon_reldir%_fuzz_fuzz_pgdump_LDFLAGS = -fsanitize=fuzzer
%canon_reldir%_fuzz_fuzz_pgdump_LDADD = core/libzbcore.la $(LIBEVENT_LIBS)
endif

# ---- S3 XML answers (plugins/s3/s3_xml.c) -----------------------------------------
s3xml_cppflags = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/s3
replay_progs += %reldir%/fuzz/replay_s3xml
%canon_reldir%_fuzz_replay_s3xml_SOURCES = %reldir%/fuzz/replay.c \
	%reldir%/fuzz/fuzz_s3xml.c plugins/s3/s3_xml.c
%canon_reldir%_fuzz_replay_s3xml_CPPFLAGS = $(s3xml_cppflags)
%canon_reldir%_fuzz_replay_s3xml_LDADD = core/libzbcore.la $(LIBEVENT_LIBS)
if FUZZERS
noinst_PROGRAMS += %reldir%/fuzz/fuzz_s3xml
%canon_reldir%_fuzz_fuzz_s3xml_SOURCES = %reldir%/fuzz/fuzz_s3xml.c \
	plugins/s3/s3_xml.c
%canon_reldir%_fuzz_fuzz_s3xml_CPPFLAGS = $(s3xml_cppflags)
%canon_reldir%_fuzz_fuzz_s3xml_LDFLAGS = -fsanitize=fuzzer
%canon_reldir%_fuzz_fuzz_s3xml_LDADD = core/libzbcore.la $(LIBEVENT_LIBS)
endif

# ---- Vault raft snapshot check (plugins/vault/snapcheck.c) ------------------
vaultsnap_src = plugins/vault/snapcheck.c
vaultsnap_cppflags = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/vault \
	$(OPENSSL_CFLAGS) $(ZLIB_CFLAGS)
vaultsnap_ldadd = $(OPENSSL_LIBS) $(ZLIB_LIBS)
replay_progs += %reldir%/fuzz/replay_vaultsnap
%canon_reldir%_fuzz_replay_vaultsnap_SOURCES = %reldir%/fuzz/replay.c \
	%reldir%/fuzz/fuzz_vaultsnap.c $(vaultsnap_src)
%canon_reldir%_fuzz_replay_vaultsnap_CPPFLAGS = $(vaultsnap_cppflags)
%canon_reldir%_fuzz_replay_vaultsnap_LDADD = $(vaultsnap_ldadd)
TESTS += %reldir%/fuzz/vaultsnap_seeds.sh
EXTRA_DIST += %reldir%/fuzz/vaultsnap_seeds.sh
if FUZZERS
noinst_PROGRAMS += %reldir%/fuzz/fuzz_vaultsnap
%canon_reldir%_fuzz_fuzz_vaultsnap_SOURCES = %reldir%/fuzz/fuzz_vaultsnap.c \
	$(vaultsnap_src)
%canon_reldir%_fuzz_fuzz_vaultsnap_CPPFLAGS = $(vaultsnap_cppflags)
%canon_reldir%_fuzz_fuzz_vaultsnap_LDFLAGS = -fsanitize=fuzzer
%canon_reldir%_fuzz_fuzz_vaultsnap_LDADD = $(vaultsnap_ldadd)
endif
# ---- n8n API pages and workflow bodies (plugins/n8n/n8n_page.c, n8n_body.c) ----
n8npage_src = plugins/n8n/n8n_page.c plugins/n8n/n8n_body.c \
	plugins/n8n/n8n_api.c
n8npage_cppflags = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/n8n
replay_progs += %reldir%/fuzz/replay_n8npage
%canon_reldir%_fuzz_replay_n8npage_SOURCES = %reldir%/fuzz/replay.c \
	%reldir%/fuzz/fuzz_n8npage.c $(n8npage_src)
%canon_reldir%_fuzz_replay_n8npage_CPPFLAGS = $(n8npage_cppflags)
%canon_reldir%_fuzz_replay_n8npage_LDADD = core/libzbcore.la $(LIBEVENT_LIBS)
if FUZZERS
noinst_PROGRAMS += %reldir%/fuzz/fuzz_n8npage
%canon_reldir%_fuzz_fuzz_n8npage_SOURCES = %reldir%/fuzz/fuzz_n8npage.c \
	$(n8npage_src)
%canon_reldir%_fuzz_fuzz_n8npage_CPPFLAGS = $(n8npage_cppflags)
%canon_reldir%_fuzz_fuzz_n8npage_LDFLAGS = -fsanitize=fuzzer
%canon_reldir%_fuzz_fuzz_n8npage_LDADD = core/libzbcore.la $(LIBEVENT_LIBS)
endif

# ---- mutation check (tests/mutation/README.md) ----------------------------------
# Slow, not part of make check: each mutation of mutations.txt is applied
# to a scratch copy of the tree, rebuilt and run against the tests it
# names; any survivor fails.  make mutation-check MUTATION_ONLY='ID ...'
# runs only those.  make check only checks that every mutation applies.
TESTS += %reldir%/mutation/lint.sh
EXTRA_DIST += %reldir%/mutation/lint.sh %reldir%/mutation/run.sh \
	%reldir%/mutation/mutate.py %reldir%/mutation/mutations.txt \
	%reldir%/mutation/README.md
mutation-check:
	MUTATION_LOGDIR='$(abs_top_builddir)/mutation-logs' \
	$(SHELL) $(abs_top_srcdir)/%reldir%/mutation/run.sh \
	$(MUTATION_ONLY:%=--only %)
.PHONY: mutation-check

# ---- the qdrant source (plugins/qdrant) ------------------------------------------
TESTS += %reldir%/integration/qdrant.sh
EXTRA_DIST += %reldir%/integration/qdrant.sh %reldir%/fakes/qdrant_fake.py
# Its JSON envelope reader (plugins/qdrant/qdrant_json.c), seeds replayed
# through the host's JSON reader (hostapi_get()).
qdrant_json_cppflags = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/qdrant
replay_progs += %reldir%/fuzz/replay_qdrant
%canon_reldir%_fuzz_replay_qdrant_SOURCES = %reldir%/fuzz/replay.c \
	%reldir%/fuzz/fuzz_qdrant.c plugins/qdrant/qdrant_json.c
%canon_reldir%_fuzz_replay_qdrant_CPPFLAGS = $(qdrant_json_cppflags)
%canon_reldir%_fuzz_replay_qdrant_LDADD = core/libzbcore.la $(LIBEVENT_LIBS)
if FUZZERS
noinst_PROGRAMS += %reldir%/fuzz/fuzz_qdrant
%canon_reldir%_fuzz_fuzz_qdrant_SOURCES = %reldir%/fuzz/fuzz_qdrant.c \
	plugins/qdrant/qdrant_json.c
%canon_reldir%_fuzz_fuzz_qdrant_CPPFLAGS = $(qdrant_json_cppflags)
%canon_reldir%_fuzz_fuzz_qdrant_LDFLAGS = -fsanitize=fuzzer
%canon_reldir%_fuzz_fuzz_qdrant_LDADD = core/libzbcore.la $(LIBEVENT_LIBS)
endif
# the rclone sink (issue 12): real rclone, servers on the loopback
rclone_tests = %reldir%/integration/rclone.sh \
	%reldir%/integration/rclone_webdav.sh %reldir%/integration/rclone_sftp.sh \
	%reldir%/integration/rclone_copy.sh %reldir%/integration/rclone_uploads.sh
TESTS += $(rclone_tests)
EXTRA_DIST += $(rclone_tests) %reldir%/lib/rclone.sh
