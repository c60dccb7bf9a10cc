/*
 * test_config.c - the config reader: every error names file:line, key
 * and what was expected; unknown keys and sections are errors.
 */
#include "zb-build.h"

#include <sys/stat.h>

#include "cron.h"
#include "plugin.h"
#include "retention.h"
#include "testlib.h"

TestSuite(config, .init = test_log_start);

#define LOAD(text) config_load_buf("test.ini", (text), strlen(text), 0)

Test(config, good_file_parses)
{
	struct zb_config	*cfg = LOAD(
	    "; a comment\n"
	    "[daemon]\n"
	    "plugin_dir = /tmp/p   ; inline comment\n"
	    "max_buffer_mb = 32\n"
	    "compression = gzip:9\n"
	    "[source:etc]\n"
	    "plugin = files\n"
	    "[sink:a]\nplugin = local\n[sink:b]\nplugin = local\n"
	    "timeout = 2m\n"
	    "[job:etc]\nsource = etc\nsinks = a, b\nmax_streams = 3\n");

	cr_assert_not_null(cfg, "log: %s", test_logged());
	cr_assert_str_eq(cfg->plugin_dir, "/tmp/p");
	cr_assert_eq(cfg->max_buffer, 32 << 20);
	cr_assert_eq(cfg->comp.algo, COMP_GZIP);
	cr_assert_eq(cfg->comp.level, 9);
	cr_assert_eq(config_kv(config_section(cfg, "sink:b"), "timeout")->num,
	    120000);
	struct cfg_job *job = config_job(cfg, "etc");
	cr_assert_not_null(job);
	cr_assert_eq(job->nsinks, 2);
	cr_assert_str_eq(job->sinks[1]->name, "b");
	cr_assert_eq(job->max_streams, 3);
	cr_assert_eq(job->comp.algo, COMP_GZIP, "jobs inherit compression");
	config_free(cfg);
}

/*
 * docs/configuration.md section 5: the daemon splits max_buffer_mb across
 * max_parallel_jobs x max_streams; a one-off run of fewer jobs lends its
 * streams the idle shares, up to 16 MiB a stream, never less than the
 * split.
 */
Test(config, stream_budget_split_and_borrowed)
{
	struct zb_config	*cfg = LOAD(
	    "[daemon]\nmax_buffer_mb = 64\nmax_parallel_jobs = 4\n");

	cr_assert_not_null(cfg, "log: %s", test_logged());
	cr_assert_eq(config_stream_budget(cfg, 2), 8 << 20, "64 / (4 x 2)");
	cr_assert_eq(config_stream_budget(cfg, 1), 16 << 20, "64 / 4");
	cr_assert_eq(config_stream_budget(cfg, 0), 16 << 20,
	    "no stream count: one");
	cfg->budget_jobs = 1;
	cr_assert_eq(config_stream_budget(cfg, 2), 16 << 20,
	    "64 / (1 x 2) = 32, at most 16 borrowed");
	cr_assert_eq(config_stream_budget(cfg, 8), 8 << 20, "64 / 8");
	cfg->budget_jobs = 2;
	cr_assert_eq(config_stream_budget(cfg, 4), 8 << 20, "64 / (2 x 4)");
	cr_assert_eq(config_stream_budget(cfg, 16), 2 << 20,
	    "64 / (2 x 16)");
	cfg->budget_jobs = 4;
	cr_assert_eq(config_stream_budget(cfg, 2), 8 << 20, "all jobs: the "
	    "split");
	cfg->budget_jobs = 9;
	cr_assert_eq(config_stream_budget(cfg, 2), 8 << 20, "more jobs than "
	    "run at once: the split");
	config_free(cfg);

	/* A large budget: the split alone may exceed what is borrowed. */
	cfg = LOAD("[daemon]\nmax_buffer_mb = 1024\nmax_parallel_jobs = 2\n");
	cr_assert_not_null(cfg, "log: %s", test_logged());
	cr_assert_eq(config_stream_budget(cfg, 2), 256 << 20);
	cfg->budget_jobs = 1;
	cr_assert_eq(config_stream_budget(cfg, 2), 256 << 20,
	    "never below the split");
	config_free(cfg);
}

Test(config, unknown_key_names_file_line_and_choices)
{
	cr_assert_null(LOAD("[daemon]\nmax_parallel_jobs = 2\n"
	    "max_paralel_jobs = 3\n"));
	assert_logged("test.ini:3: [daemon] max_paralel_jobs: unknown key "
	    "(expected one of: plugin_dir,");
	assert_logged("max_parallel_jobs");
}

Test(config, unknown_job_key)
{
	cr_assert_null(LOAD("[source:s]\nplugin=command\n[sink:k]\n"
	    "plugin=local\n[job:j]\nsource = s\nsinks = k\nsink = k\n"));
	assert_logged("test.ini:8: [job:j] sink: unknown key");
}

Test(config, unknown_section_kind)
{
	cr_assert_null(LOAD("[deamon]\nlisten = x\n"));
	assert_logged("test.ini:1: [deamon] unknown section kind");
}

Test(config, bad_section_name)
{
	cr_assert_null(LOAD("[sink:a/b]\nplugin = local\n"));
	assert_logged("test.ini:1: [sink:a/b] bad name");
}

Test(config, duplicate_key_and_section)
{
	cr_assert_null(LOAD("[daemon]\nlisten = a\nlisten = b\n"
	    "[sink:x]\nplugin = local\n[sink:x]\nplugin = local\n"));
	assert_logged("test.ini:3: [daemon] listen: set twice (first at "
	    "line 2)");
	assert_logged("test.ini:6: [sink:x] section defined twice (first at "
	    "line 4)");
}

Test(config, integer_out_of_range)
{
	cr_assert_null(LOAD("[daemon]\nmax_buffer_mb = 0\n"));
	assert_logged("test.ini:2: [daemon] max_buffer_mb: '0' is not a whole "
	    "number from 1 to 65536");
}

Test(config, bad_duration_and_compression)
{
	cr_assert_null(LOAD("[daemon]\ncompression = lz4\n[sink:k]\n"
	    "plugin = local\ntimeout = soon\n"));
	assert_logged("test.ini:2: [daemon] compression: 'lz4' is not zstd:N");
	assert_logged("test.ini:5: [sink:k] timeout: 'soon' is not a "
	    "duration");
}

Test(config, job_references)
{
	cr_assert_null(LOAD("[sink:k]\nplugin = local\n[job:j]\n"
	    "source = nope\nsinks = k, gone, k\n"));
	assert_logged("test.ini:4: [job:j] source: no [source:nope] section");
	assert_logged("test.ini:5: [job:j] sinks: no [sink:gone] section");
	assert_logged("test.ini:5: [job:j] sinks: sink 'k' named twice");
}

Test(config, missing_required_keys)
{
	cr_assert_null(LOAD("[sink:k]\npath = /x\n[job:j]\nsinks = k\n"));
	assert_logged("test.ini:1: [sink:k] missing required key 'plugin'");
	assert_logged("test.ini:3: [job:j] missing required key 'source'");
}

Test(config, syntax_error_has_line)
{
	cr_assert_null(LOAD("[daemon]\nlisten = a\nthis is no key\n"));
	assert_logged("test.ini:3: syntax error");
}

Test(config, overlong_line_is_refused_not_split)
{
	char	 text[1024];

	snprintf(text, sizeof(text), "[daemon]\nlisten = %0300d\n", 1);
	cr_assert_null(LOAD(text));
	assert_logged("test.ini:2: line longer than 198 bytes");
}

Test(config, key_outside_section)
{
	cr_assert_null(LOAD("listen = a\n"));
	assert_logged("test.ini:1: key 'listen' outside of any section");
}

Test(config, encryption_needs_recipients)
{
	cr_assert_null(LOAD("[daemon]\nencryption = age\n"));
	assert_logged("test.ini:2: [daemon] encryption: age needs "
	    "age_recipients_file or age_passphrase_file");
	cr_assert_null(LOAD("[daemon]\nencryption = aes\n"));
	assert_logged("test.ini:2: [daemon] encryption: 'aes' is not age or "
	    "none");
}

Test(config, recipients_file_errors_name_the_line)
{
	char	*dir = test_tmpdir(), *path, *text;
	FILE	*f;

	path = xasprintf("%s/recipients.txt", dir);
	f = fopen(path, "w");
	fprintf(f, "# operator\n"
	    "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj\n"
	    "age1notarecipient\n");
	fclose(f);
	text = xasprintf("[daemon]\nencryption = age\nage_recipients_file = "
	    "%s\n", path);
	cr_assert_null(config_load_buf("test.ini", text, strlen(text), 0));
	assert_logged("test.ini:3: [daemon] age_recipients_file:");
	assert_logged("recipients.txt:3");
	free(text);
	free(path);
	rm_rf(dir);
}

Test(config, identity_on_host_must_be_allowed_and_private)
{
	char	*dir = test_tmpdir(), *path, *text;
	FILE	*f;

	path = xasprintf("%s/id.txt", dir);
	f = fopen(path, "w");
	fprintf(f, "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZ"
	    "GFPYYSJZGFPQ4EGAEX\n");
	fclose(f);
	chmod(path, 0644);
	text = xasprintf("[daemon]\nage_identity_file = %s\n", path);
	cr_assert_null(config_load_buf("test.ini", text, strlen(text), 0));
	assert_logged("test.ini:2: [daemon] age_identity_file: an identity on "
	    "the backup host");
	free(text);
	text = xasprintf("[daemon]\nage_identity_file = %s\n"
	    "allow_identity_on_host = yes\n", path);
	cr_assert_null(config_load_buf("test.ini", text, strlen(text), 0));
	assert_logged("is readable by group or others; chmod 600 it");
	chmod(path, 0600);
	struct zb_config *cfg = config_load_buf("test.ini", text, strlen(text),
	    0);
	cr_assert_not_null(cfg, "%s", test_logged());
	cr_assert_not_null(cfg->identities);
	config_free(cfg);
	free(text);
	free(path);
	rm_rf(dir);
}

static const struct zb_option secret_opts[] = {
	{ "password", ZB_OPT_SECRET, NULL, 1, "a secret", 0, 0 },
	{ NULL, 0, NULL, 0, NULL, 0, 0 }
};

Test(config, inline_secret_refused_in_readable_file)
{
	const char		*text = "[source:s]\nplugin = x\n"
	    "password = hunter2\n";
	struct zb_config	*cfg;

	cfg = config_load_buf("test.ini", text, strlen(text), 1);
	cr_assert_not_null(cfg);
	cr_assert_eq(config_check_keys(cfg, config_section(cfg, "source:s"),
	    config_core_options(CFG_SOURCE), secret_opts), 1);
	assert_logged("test.ini:3: [source:s] password:");
	assert_logged("refused: an inline secret in a file readable by group "
	    "or others");
	assert_not_logged("hunter2");
	config_free(cfg);
}

Test(config, secret_from_env_or_file_is_fine)
{
	const char		*text = "[source:s]\nplugin = x\n"
	    "password = env:PGPASS\n[source:t]\nplugin = x\n"
	    "password_file = /etc/secret\n[source:u]\nplugin = x\n"
	    "password_file = relative\n";
	struct zb_config	*cfg;

	cfg = config_load_buf("test.ini", text, strlen(text), 1);
	cr_assert_not_null(cfg);
	cr_assert_eq(config_check_keys(cfg, config_section(cfg, "source:s"),
	    config_core_options(CFG_SOURCE), secret_opts), 0);
	cr_assert_eq(config_check_keys(cfg, config_section(cfg, "source:t"),
	    config_core_options(CFG_SOURCE), secret_opts), 0);
	cr_assert_eq(config_check_keys(cfg, config_section(cfg, "source:u"),
	    config_core_options(CFG_SOURCE), secret_opts), 1);
	assert_logged("test.ini:9: [source:u] password_file: 'relative' is "
	    "not an absolute path");
	config_free(cfg);
}

Test(config, all_errors_are_reported_not_just_the_first)
{
	cr_assert_null(LOAD("[daemon]\nbogus1 = 1\nbogus2 = 2\n"));
	assert_logged("test.ini:2:");
	assert_logged("test.ini:3:");
	assert_logged("test.ini: 2 errors");
}

Test(config, file_errors_name_the_path)
{
	cr_assert_null(config_load("/nonexistent/zb.ini"));
	assert_logged("/nonexistent/zb.ini: cannot open the configuration");
}

Test(config, bom_is_skipped_and_its_section_checked)
{
	cr_assert_null(LOAD("\xef\xbb\xbf[daemon]\nbogus = 1\n"));
	assert_logged("test.ini:2: [daemon] bogus: unknown key");
}

Test(config, continuation_lines_are_refused)
{
	cr_assert_null(LOAD("[daemon]\nlisten = a\n  b\n"));
	assert_logged("test.ini:3: indented line after a key");
	test_log.len = 0;
	cr_assert_null(LOAD("[daemon]\nlisten = a\n\n; note\n  b\n"));
	assert_logged("test.ini:5: indented line after a key");
}

Test(config, secret_given_twice_and_vault_refs)
{
	const char		*text = "[source:s]\nplugin = x\n"
	    "password = env:X\npassword_file = /etc/x\n[source:t]\n"
	    "plugin = x\npassword = vault:kv/pg#password\n[source:u]\n"
	    "plugin = x\npassword_file = vault:kv/pg#password\n"
	    "[source:v]\nplugin = x\npassword = vault:kv#password\n";
	struct zb_config	*cfg;

	/* group-readable: vault: references are no inline secret */
	cfg = config_load_buf("test.ini", text, strlen(text), 1);
	cr_assert_not_null(cfg, "log: %s", test_logged());
	cr_assert_eq(config_check_keys(cfg, config_section(cfg, "source:s"),
	    config_core_options(CFG_SOURCE), secret_opts), 1);
	assert_logged("test.ini:4: [source:s] password_file: password is set "
	    "too");
	cr_assert_eq(config_check_keys(cfg, config_section(cfg, "source:t"),
	    config_core_options(CFG_SOURCE), secret_opts), 0,
	    "log: %s", test_logged());
	cr_assert(config_kv(config_section(cfg, "source:t"),
	    "password")->vault);
	cr_assert_eq(config_check_keys(cfg, config_section(cfg, "source:u"),
	    config_core_options(CFG_SOURCE), secret_opts), 0,
	    "log: %s", test_logged());
	cr_assert(config_kv(config_section(cfg, "source:u"),
	    "password_file")->vault, "the _file form takes a reference too");
	cr_assert_eq(config_check_keys(cfg, config_section(cfg, "source:v"),
	    config_core_options(CFG_SOURCE), secret_opts), 1);
	assert_logged("test.ini:13: [source:v] password: refused: "
	    "vault:MOUNT/PATH#KEY");
	config_free(cfg);
}

Test(config, budget_must_hold_two_chunks_per_stream)
{
	cr_assert_null(LOAD("[daemon]\nmax_buffer_mb = 2\n[source:s]\n"
	    "plugin = x\n[sink:k]\nplugin = y\n[job:j]\nsource = s\n"
	    "sinks = k\nmax_streams = 8\n"));
	assert_logged("[job:j] max_streams: [daemon] max_buffer_mb is too "
	    "small");
}

Test(config, names_may_not_start_with_a_dot)
{
	cr_assert_null(LOAD("[sink:.hidden]\nplugin = local\n"));
	assert_logged("test.ini:1: [sink:.hidden] bad name");
}

Test(config, overlong_section_name_is_refused_with_the_limit)
{
	char	 name[64];

	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	cr_assert_null(test_config("[daemon]\n\n[sink:%s]\nplugin = local\n"
	    "path = /tmp\n", name));
	assert_logged("test.ini:3: section name longer than 49 characters");
	assert_not_logged("could not be read");
	/* 49 characters are fine. */
	name[49 - strlen("sink:")] = '\0';
	cr_assert_not_null(test_config("[sink:%s]\nplugin = local\n", name),
	    "%s", test_logged());
}

Test(config, control_bytes_in_messages_are_escaped)
{
	const char	*p;

	cr_assert_null(test_config("[daemon]\ncompression = zs\rtd\x1b[2J\x7f\n"
	    "[so\x1burce:a\rb]\nplugin = command\n"));
	assert_logged("compression: 'zs\\x0dtd\\x1b[2J\\x7f' is not zstd:N");
	assert_logged("test.ini:3: [so\\x1burce:a\\x0db] unknown section "
	    "kind");
	for (p = test_logged(); *p != '\0'; p++)
		cr_assert(((unsigned char)*p >= 0x20 && *p != 0x7f) ||
		    *p == '\n', "raw byte 0x%02x at offset %td of:\n%s",
		    (unsigned char)*p, p - test_logged(), test_logged());
}

static const struct zb_option conninfo_opts[] = {
	{ "conninfo", ZB_OPT_STRING, NULL, 1, "libpq connection", 0, 0 },
	{ NULL, 0, NULL, 0, NULL, 0, 0 }
};

/* 1 if conninfo = value is refused in a group-readable file. */
static int
conninfo_refused(const char *value, int group_readable)
{
	struct zb_config	*cfg;
	char			*text;
	int			 n;

	text = xasprintf("[source:s]\nplugin = x\nconninfo = %s\n", value);
	cfg = config_load_buf("test.ini", text, strlen(text), group_readable);
	free(text);
	cr_assert_not_null(cfg, "%s", test_logged());
	n = config_check_keys(cfg, config_section(cfg, "source:s"),
	    config_core_options(CFG_SOURCE), conninfo_opts);
	config_free(cfg);
	return n;
}

Test(config, password_inside_a_connection_string_is_an_inline_secret)
{
	static const char *const with[] = {
		"host=db password=s3cret",
		"host=db password = s3cret dbname=x",
		"password='s3 cret' host=db",
		"host=db\tpassword\t=\ts3cret",
		"host=db PASSWORD=s3cret",
		"postgresql://backup:s3cret@db.example/app",
		"postgres://backup:s3cret@db:5432",
		"postgresql://db/app?sslmode=require&password=s3cret",
		"postgresql://db/app?pass%77ord=s3cret",
		"postgresql://db/app?%70assword=s3cret",
	};
	static const char *const without[] = {
		"host=db user=backup dbname=app",
		"host=db passfile=/etc/zb/pgpass",
		"postgresql://backup@db.example/app",
		"postgresql://backup:@db/app",
		"postgresql://db/app?user=x",
		"host=db mypassword=not_a_keyword",
	};
	size_t	 i;

	for (i = 0; i < ZB_NELEM(with); i++) {
		cr_assert_eq(conninfo_refused(with[i], 1), 1, "accepted: %s",
		    with[i]);
		cr_assert_eq(conninfo_refused(with[i], 0), 0, "refused in a "
		    "private file: %s\n%s", with[i], test_logged());
	}
	assert_logged("test.ini:3: [source:s] conninfo: refused: a password "
	    "inside the value, in a file readable by group or others");
	assert_not_logged("s3cret");
	assert_not_logged("s3 cret");
	for (i = 0; i < ZB_NELEM(without); i++)
		cr_assert_eq(conninfo_refused(without[i], 1), 0, "refused: "
		    "%s\n%s", without[i], test_logged());
}

/* ---- generations: config_reload() ------------------------------------- */

/* A file in a fresh directory with the fixture plugins: one source, two
 * sinks. */
static char *
reload_write(const char *dir, const char *lead, const char *slow_b_delay,
    const char *extra)
{
	char	*path, *text;
	FILE	*f;

	path = xasprintf("%s/zb.ini", dir);
	text = xasprintf("%s[daemon]\nplugin_dir = %s\nstate_dir = %s/state\n"
	    "[source:gen]\nplugin = src_gen\nsize = 1K\n"
	    "[sink:a]\nplugin = sink_slow\n"
	    "[sink:b]\nplugin = sink_slow\ndelay_ms = %s\n"
	    "[job:j]\nsource = gen\nsinks = a, b\n%s", lead,
	    test_plugin_dir(), dir, slow_b_delay, extra);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fputs(text, f) >= 0, 1);
	cr_assert_eq(fclose(f), 0);
	free(text);
	return path;
}

static struct zb_inst *
inst_of(struct zb_config *cfg, const char *title)
{
	struct cfg_section	*sec = config_section(cfg, title);

	cr_assert_not_null(sec, "%s", title);
	cr_assert_not_null(sec->inst, "%s has no instance", title);
	return sec->inst;
}

Test(config, reload_keeps_unchanged_instances_and_renews_changed_ones)
{
	struct zb_config	*g1, *g2, *g3;
	struct zb_inst		*a1, *b1, *gen1;
	char			*dir = test_tmpdir(), *path;

	path = reload_write(dir, "", "0", "");
	g1 = config_reload(NULL, path);
	cr_assert_not_null(g1, "%s", test_logged());
	a1 = inst_of(g1, "sink:a");
	b1 = inst_of(g1, "sink:b");
	gen1 = inst_of(g1, "source:gen");
	cr_assert_eq(a1->refs, 1);
	cr_assert(a1->initialised);
	/* A plugin reading a key it does not set (as sink_slow does on each
	 * put): the default goes into the instance's copy only. */
	cr_assert_eq(hostapi_get()->cfg_int(a1, "delay_ms"), 0);
	cr_assert_not_null(config_kv(a1->sec, "delay_ms"));
	cr_assert_null(config_kv(config_section(g1, "sink:a"), "delay_ms"));

	/* The same file again, with a line added above: every instance
	 * carries over, and now names the new line numbers. */
	cr_assert_eq(config_kv(a1->sec, "plugin")->line, 8);
	free(path);
	path = reload_write(dir, "; moved down\n", "0", "");
	g2 = config_reload(g1, path);
	cr_assert_not_null(g2, "%s", test_logged());
	cr_assert_eq(config_kv(a1->sec, "plugin")->line, 9);
	cr_assert_eq(inst_of(g2, "sink:a"), a1, "unchanged sink: new instance");
	cr_assert_eq(inst_of(g2, "sink:b"), b1);
	cr_assert_eq(inst_of(g2, "source:gen"), gen1);
	cr_assert_eq(a1->refs, 2, "held by both generations");
	cr_assert_neq(g1, g2);

	/* One key of sink:b changes: b gets a new instance, a does not. */
	free(path);
	path = reload_write(dir, "", "5", "");
	g3 = config_reload(g2, path);
	cr_assert_not_null(g3, "%s", test_logged());
	cr_assert_eq(inst_of(g3, "sink:a"), a1);
	cr_assert_neq(inst_of(g3, "sink:b"), b1, "changed key: same instance");
	cr_assert(inst_of(g3, "sink:b")->initialised);
	cr_assert_eq(config_kv(inst_of(g3, "sink:b")->sec, "delay_ms")->num, 5);
	cr_assert_eq(a1->refs, 3);
	cr_assert_eq(b1->refs, 2);

	/* Generations go in any order; an instance lives while one holds
	 * it (ASan's leak check sees the rest). */
	config_unref(g2);
	cr_assert_eq(a1->refs, 2);
	cr_assert_eq(b1->refs, 1);
	config_unref(g1);	/* b1 is finished here */
	cr_assert_eq(a1->refs, 1);
	config_unref(g3);
	free(path);
	free(dir);
}

Test(config, reload_takes_a_changed_value_even_when_keys_are_equal)
{
	struct cfg_section	*s1, *s2;
	struct zb_config	*c1 = LOAD("[sink:a]\nplugin = local\npath = /x\n");
	struct zb_config	*c2 = LOAD("[sink:a]\npath = /x\nplugin = local\n");
	struct zb_config	*c3 = LOAD("[sink:a]\nplugin = local\npath = /x/\n");
	struct zb_config	*c4 = LOAD("[sink:a]\nplugin = local\npath = /x\n"
	    "timeout = 300\n");

	cr_assert(c1 && c2 && c3 && c4, "%s", test_logged());
	s1 = config_section(c1, "sink:a");
	s2 = config_section(c2, "sink:a");
	cr_assert(config_section_same(s1, s2), "order does not matter");
	cr_assert_not(config_section_same(s1, config_section(c3, "sink:a")),
	    "values are compared exactly");
	cr_assert_not(config_section_same(s1, config_section(c4, "sink:a")),
	    "a key written out with its default value is a change");
	config_unref(c1);
	config_unref(c2);
	config_unref(c3);
	config_unref(c4);
}

Test(config, reload_of_a_broken_file_leaves_the_old_generation)
{
	struct zb_config	*g1, *g2;
	struct zb_inst		*a1;
	char			*dir = test_tmpdir(), *path;

	path = reload_write(dir, "", "0", "");
	g1 = config_reload(NULL, path);
	cr_assert_not_null(g1, "%s", test_logged());
	a1 = inst_of(g1, "sink:a");

	/* A core error: the file's line is named. */
	free(path);
	path = reload_write(dir, "", "0", "max_streams = 0\n");
	g2 = config_reload(g1, path);
	cr_assert_null(g2);
	assert_logged("/zb.ini:15: [job:j] max_streams: '0' is not");

	/* A plugin key error, found after sink:a was taken over. */
	free(path);
	path = reload_write(dir, "", "-1", "");
	g2 = config_reload(g1, path);
	cr_assert_null(g2);
	assert_logged("/zb.ini:11: [sink:b] delay_ms: '-1' is not");
	cr_assert_eq(a1->refs, 1, "the refused generation's reference "
	    "was dropped");
	cr_assert_eq(inst_of(g1, "sink:a"), a1);
	cr_assert(a1->initialised);
	cr_assert_eq(g1->refs, 1);

	/* A file that is gone. */
	free(path);
	path = xasprintf("%s/missing.ini", dir);
	cr_assert_null(config_reload(g1, path));
	assert_logged("missing.ini: cannot open the configuration");
	config_unref(g1);
	free(path);
	free(dir);
}

Test(config, reference_counts)
{
	struct zb_config	*cfg = LOAD("[sink:a]\nplugin = local\n");

	cr_assert_not_null(cfg);
	cr_assert_eq(cfg->refs, 1);
	cr_assert_eq(config_ref(cfg), cfg);
	cr_assert_eq(cfg->refs, 2);
	config_unref(cfg);
	cr_assert_eq(cfg->refs, 1);
	cr_assert_null(config_ref(NULL));
	config_unref(NULL);
	config_free(cfg);
}

/* ---- [daemon] timezone, shutdown_timeout, pid_file -------------------- */

#define JOB_TAIL "[source:s]\nplugin = command\n[sink:k]\nplugin = local\n" \
	"[job:j]\nsource = s\nsinks = k\n"

Test(config, daemon_defaults_for_the_new_keys)
{
	struct zb_config	*cfg = LOAD(JOB_TAIL);

	cr_assert_not_null(cfg, "%s", test_logged());
	cr_assert_not_null(cfg->tz);
	cr_assert_eq(cfg->tz->kind, CRON_TZ_UTC);
	cr_assert_null(config_retention_tz(cfg), "UTC is retention's NULL");
	cr_assert_eq(cfg->shutdown_timeout_ms, 30000);
	cr_assert_null(cfg->pid_file);
	cr_assert_eq(config_job(cfg, "j")->nschedules, 0);
	cr_assert_eq(config_job(cfg, "j")->jitter_ms, 0);
	cr_assert(TAILQ_EMPTY(&cfg->checks));
	config_unref(cfg);
}

Test(config, daemon_timezone_shutdown_timeout_pid_file)
{
	struct zb_config	*cfg;

	cfg = LOAD("[daemon]\ntimezone = Europe/Amsterdam\n"
	    "shutdown_timeout = 2m\npid_file = /run/zb.pid\n" JOB_TAIL);
	cr_assert_not_null(cfg, "%s", test_logged());
	cr_assert_eq(cfg->tz->kind, CRON_TZ_NAMED);
	cr_assert_str_eq(cfg->tz->name, "Europe/Amsterdam");
	cr_assert_eq(config_retention_tz(cfg)->kind, RETENTION_TZ_LOCAL,
	    "retention counts in the named zone, which is now TZ");
	cr_assert_str_eq(getenv("TZ"), ":Europe/Amsterdam");
	cr_assert_eq(cfg->shutdown_timeout_ms, 120000);
	cr_assert_str_eq(cfg->pid_file, "/run/zb.pid");
	config_unref(cfg);

	cfg = LOAD("[daemon]\ntimezone = +02:00\nshutdown_timeout = 0\n"
	    JOB_TAIL);
	cr_assert_not_null(cfg, "%s", test_logged());
	cr_assert_eq(cfg->tz->kind, CRON_TZ_FIXED);
	cr_assert_eq(config_retention_tz(cfg)->kind, RETENTION_TZ_FIXED);
	cr_assert_eq(config_retention_tz(cfg)->offset, 7200);
	cr_assert_eq(cfg->shutdown_timeout_ms, 0);
	config_unref(cfg);
}

Test(config, daemon_new_keys_errors_name_file_line)
{
	cr_assert_null(LOAD("[daemon]\nlisten = x\n"
	    "timezone = Europe/Amsterdm\nshutdown_timeout = soon\n"
	    "shutdown_timeout = 3s\npid_file =\n" JOB_TAIL));
	assert_logged("test.ini:3: [daemon] timezone: unknown zone "
	    "'Europe/Amsterdm'");
	assert_logged("test.ini:4: [daemon] shutdown_timeout: 'soon' is not");
	assert_logged("test.ini:5: [daemon] shutdown_timeout: set twice "
	    "(first at line 4)");
	assert_logged("test.ini:6: [daemon] pid_file: '' is not a path");
	cr_assert_null(LOAD("[daemon]\nshutdown_timeout = 2d\n" JOB_TAIL));
	assert_logged("test.ini:2: [daemon] shutdown_timeout: '2d' is not a "
	    "value from 0 to 86400000 milliseconds");
}

/* ---- [job:*] schedule, tags, jitter ------------------------------------- */

Test(config, job_schedules_comma_separated_and_repeated)
{
	struct zb_config	*cfg;
	struct cfg_job		*job;

	cfg = LOAD("[source:s]\nplugin = command\n[sink:k]\nplugin = local\n"
	    "[job:j]\nsource = s\nsinks = k\n"
	    "schedule = 0 * * * * tag=hourly, 0 2 * * * tag=daily\n"
	    "jitter = 5m\n"
	    "schedule = 0 3 * * sun tag=weekly\n"
	    "schedule = @every 6h, 0,30 1 * * *\n");
	cr_assert_not_null(cfg, "%s", test_logged());
	job = config_job(cfg, "j");
	cr_assert_eq(job->nschedules, 5);
	cr_assert_str_eq(job->schedules[0].text, "0 * * * * tag=hourly");
	cr_assert_str_eq(job->schedules[0].tag, "hourly");
	cr_assert_eq(job->schedules[0].line, 8);
	cr_assert_str_eq(job->schedules[1].text, "0 2 * * * tag=daily");
	cr_assert_str_eq(job->schedules[1].tag, "daily");
	cr_assert_eq(job->schedules[1].line, 8);
	cr_assert_eq(job->schedules[1].cron->hour, 1U << 2);
	cr_assert_str_eq(job->schedules[2].tag, "weekly");
	cr_assert_eq(job->schedules[2].line, 10);
	cr_assert_eq(job->schedules[2].cron->dow, 1U << 0, "Sunday");
	cr_assert_eq(job->schedules[3].cron->every, 6 * 3600);
	cr_assert_null(job->schedules[3].tag);
	cr_assert_str_eq(job->schedules[4].text, "0,30 1 * * *",
	    "a comma without a blank belongs to a field");
	cr_assert_eq(job->schedules[4].cron->minute, 1ULL | 1ULL << 30);
	cr_assert_eq(job->schedules[4].line, 11);
	cr_assert_eq(job->schedules[2].cron, &job->crons[2],
	    "one array for cron_next_any()");
	cr_assert_eq(job->jitter_ms, 300000);
	config_unref(cfg);
}

Test(config, job_schedule_errors_name_file_line_and_the_line)
{
	cr_assert_null(LOAD("[source:s]\nplugin = command\n[sink:k]\n"
	    "plugin = local\n[job:j]\nsource = s\nsinks = k\n"
	    "schedule = 0 * * * *, 0 25 * * *\n"
	    "schedule = @every 30\n"
	    "schedule = 0 * * * *,\n"
	    "jitter = -1s\n"
	    "source = s\n"));
	assert_logged("test.ini:8: [job:j] schedule: '0 25 * * *': hour: 25 "
	    "is out of range");
	assert_logged("test.ini:9: [job:j] schedule: '@every 30': @every: ");
	assert_logged("test.ini:10: [job:j] schedule: empty schedule");
	assert_logged("test.ini:11: [job:j] jitter: '-1s' is not");
	assert_logged("test.ini:12: [job:j] source: set twice (first at line "
	    "6)");
}

Test(config, a_schedule_key_elsewhere_is_still_unknown_or_twice)
{
	cr_assert_null(LOAD("[daemon]\nschedule = @daily\n"
	    "[sink:k]\nplugin = local\nplugin = local\n"));
	assert_logged("test.ini:2: [daemon] schedule: unknown key");
	assert_logged("test.ini:5: [sink:k] plugin: set twice");
}

/* ---- [job:*] rpo --------------------------------------------------------- */

#define JOB_HEAD "[source:s]\nplugin = command\n[sink:k]\nplugin = local\n" \
	"[job:j]\nsource = s\nsinks = k\n"

Test(config, rpo_set_or_derived_from_the_schedule)
{
	struct zb_config	*cfg;

	cfg = LOAD(JOB_HEAD "schedule = @daily\nrpo = 90m\n"
	    "[job:d]\nsource = s\nsinks = k\nschedule = 0 2 * * *\n"
	    "[job:n]\nsource = s\nsinks = k\n");
	cr_assert_not_null(cfg, "%s", test_logged());
	cr_assert_eq(config_job_rpo(config_job(cfg, "j")), 90 * 60000);
	cr_assert_eq(config_job_rpo(config_job(cfg, "d")), 26 * 3600000LL,
	    "daily: 24 h + 2 h, the reference BackupAgeWarning");
	cr_assert_eq(config_job_rpo(config_job(cfg, "n")), 26 * 3600000LL,
	    "no schedule: 26 h");
	config_unref(cfg);
}

Test(config, rpo_out_of_range_names_file_line)
{
	cr_assert_null(LOAD(JOB_HEAD "rpo = 0\n"));
	assert_logged("test.ini:8: [job:j] rpo: '0' is not a value from 1000 "
	    "to 31622400000 milliseconds");
	cr_assert_null(LOAD(JOB_HEAD "rpo = soon\n"));
	assert_logged("test.ini:8: [job:j] rpo: 'soon' is not");
}

static int64_t
rpo_of(const char *sched, int64_t jitter_ms, time_t from)
{
	struct cron_sched	*crons;
	size_t			 n;
	char			 err[256];
	int64_t			 rpo;

	cr_assert_eq(cron_parse_list(sched, &crons, &n, err, sizeof(err)), 0,
	    "%s: %s", sched, err);
	rpo = config_rpo_default(crons, n, jitter_ms, NULL, from);
	free(crons);
	return rpo;
}

Test(config, rpo_default_is_the_longest_gap_of_the_week_plus_grace)
{
	/* 2026-12-02 12:00:00 UTC, a Wednesday */
	time_t	 wed = 1796212800;

	cr_assert_eq(rpo_of("@every 30s", 0, wed), 45000, "30 s + 15 s");
	cr_assert_eq(rpo_of("@hourly", 0, wed), 90 * 60000LL, "1 h + 30 m");
	cr_assert_eq(rpo_of("@every 6h", 60000, wed), 8 * 3600000LL + 60000,
	    "6 h + 2 h + the jitter");
	cr_assert_eq(rpo_of("30 2 * * 1-5", 0, wed), 74 * 3600000LL,
	    "weekdays: Friday to Monday is 72 h, + 2 h");
	cr_assert_eq(rpo_of("0 * * * *, 0 3 * * sun", 0, wed),
	    90 * 60000LL, "the hourly line closes every gap");
	cr_assert_eq(rpo_of("@weekly", 0, wed), (7 * 24 + 2) * 3600000LL);
	cr_assert_eq(rpo_of("@monthly", 0, wed), (31 * 24 + 2) * 3600000LL,
	    "at least one gap: Jan 1 to Feb 1");
	cr_assert_eq(config_rpo_default(NULL, 0, 0, NULL, wed),
	    26 * 3600000LL);
}

/* ---- [check:NAME] ------------------------------------------------------- */

#define CHECK_BASE "[source:pg]\nplugin = command\n[source:redis]\n" \
	"plugin = command\n[sink:local]\nplugin = local\n" \
	"[sink:offsite]\nplugin = local\n" \
	"[job:pg]\nsource = pg\nsinks = local, offsite\n" \
	"[job:redis]\nsource = redis\nsinks = local\n"

Test(config, check_sections)
{
	struct zb_config	*cfg;
	struct cfg_check	*c;

	cfg = LOAD(CHECK_BASE
	    "[check:restore-weekly]\nschedule = 0 4 * * sun\n"
	    "kind = test-restore\njobs = pg, redis\nsinks = local\n"
	    "[check:newest]\nschedule = @daily\nschedule = 0 12 * * *\n"
	    "kind = verify\n"
	    "[check:quarterly]\nschedule = 0 5 1 1,4,7,10 *\n"
	    "kind = deep-verify\n");
	cr_assert_not_null(cfg, "%s", test_logged());
	c = config_check(cfg, "restore-weekly");
	cr_assert_not_null(c);
	cr_assert_eq(c->kind, CFG_CHECK_TEST_RESTORE);
	cr_assert_eq(c->nschedules, 1);
	cr_assert_eq(c->njobs, 2);
	cr_assert_eq(c->jobs[0], config_job(cfg, "pg"));
	cr_assert_eq(c->jobs[1], config_job(cfg, "redis"));
	cr_assert_eq(c->nsinks, 1);
	cr_assert_eq(c->sinks[0], config_section(cfg, "sink:local"));
	c = config_check(cfg, "newest");
	cr_assert_eq(c->kind, CFG_CHECK_VERIFY);
	cr_assert_eq(c->nschedules, 2);
	cr_assert_eq(c->njobs, 0, "default: every job");
	cr_assert_eq(c->nsinks, 0, "default: every sink");
	cr_assert_eq(config_check(cfg, "quarterly")->kind,
	    CFG_CHECK_DEEP_VERIFY);
	cr_assert_null(config_check(cfg, "nope"));
	config_unref(cfg);
}

Test(config, check_section_errors_name_file_line)
{
	cr_assert_null(LOAD(CHECK_BASE
	    "[check:c]\nschedule = 0 4 * * sun\nkind = restore\n"
	    "jobs = pg, qdrant, pg\nsinks = local, s3\nretries = 2\n"
	    "[check:d]\nkind = verify\n"));
	assert_logged("test.ini:17: [check:c] kind: 'restore' is not verify, "
	    "deep-verify or test-restore");
	assert_logged("test.ini:18: [check:c] jobs: no [job:qdrant] section");
	assert_logged("test.ini:18: [check:c] jobs: job 'pg' named twice");
	assert_logged("test.ini:19: [check:c] sinks: no [sink:s3] section");
	assert_logged("test.ini:20: [check:c] retries: unknown key (expected "
	    "one of: schedule, kind, jobs, sinks)");
	assert_logged("test.ini:21: [check:d] missing required key "
	    "'schedule'");
}

static char *
write_file(const char *dir, const char *text)
{
	char	*path = xasprintf("%s/zb.ini", dir);
	FILE	*f = fopen(path, "w");

	cr_assert_not_null(f);
	cr_assert_eq(fputs(text, f) >= 0, 1);
	cr_assert_eq(fclose(f), 0);
	return path;
}

Test(config, a_refused_reload_puts_tz_back)
{
	struct zb_config	*cfg;
	char			*dir = test_tmpdir(), *path;

	cr_assert_eq(setenv("TZ", ":America/New_York", 1), 0);
	tzset();
	path = write_file(dir, "[daemon]\ntimezone = Europe/Amsterdam\n"
	    "bogus = 1\n");
	cr_assert_null(config_reload(NULL, path));
	assert_logged("zb.ini:3: [daemon] bogus: unknown key");
	cr_assert_str_eq(getenv("TZ"), ":America/New_York");
	free(path);

	path = write_file(dir, "[daemon]\ntimezone = Europe/Amsterdam\n");
	cfg = config_reload(NULL, path);
	cr_assert_not_null(cfg, "%s", test_logged());
	cr_assert_str_eq(getenv("TZ"), ":Europe/Amsterdam");
	config_unref(cfg);
	free(path);
	free(dir);
}
