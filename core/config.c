/*
 * config.c - the INI configuration: parsing, checking, lookup.
 *
 * inih does the tokenising.  Debian builds it with INI_MAX_LINE 200 and
 * without line numbers in the handler, so ini_parse_stream() is fed by a
 * reader that hands over one physical line at a time: the reader knows
 * the current line number, refuses over-long lines instead of letting
 * inih split them, and notices section headers (so that a section with
 * no keys still exists and has a line).
 *
 * Checking is two-phased: config_load() checks everything the core owns;
 * the keys of a plugin's section are checked against the plugin's option
 * table by plugin_bind_config() once the plugin is loaded.  All problems
 * are reported, not just the first, each as "FILE:LINE: [section] key:".
 *
 * A loaded configuration is a generation: not changed after loading and
 * binding, freed by its last config_unref().  config_reload() builds the
 * next one, taking over the plugin instances of unchanged sections.
 * Besides sections and keys it holds the parsed forms the daemon needs:
 * jobs with their schedules, [check:NAME] sections, the time zone.
 */
#include "zb-build.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "age.h"
#include "buf.h"
#include "log.h"
#include "util.h"
#include "config.h"
#include "cron.h"
#include "plugin.h"
#include "retention.h"
#include "workers.h"
#include "vault_kv.h"

/* ---- core option tables ------------------------------------------------ */

static const struct zb_option daemon_opts[] = {
	{ "plugin_dir", ZB_OPT_PATH, ZB_PLUGIN_DIR, 0,
	    "directory the plugin .so files are loaded from", 0, 0 },
	{ "state_dir", ZB_OPT_PATH, ZB_LOCALSTATEDIR "/lib/zentoria-backupd", 0,
	    "directory for the daemon's local cache", 0, 0 },
	{ "listen", ZB_OPT_STRING, NULL, 0,
	    "HOST:PORT[, [::1]:PORT...] of the control API and /metrics "
	    "(default: no HTTP server)", 0, 0 },
	{ "admin_token_file", ZB_OPT_PATH, NULL, 0,
	    "bearer tokens (one a line) allowed to GET and POST", 0, 0 },
	{ "auditor_token_file", ZB_OPT_PATH, NULL, 0,
	    "bearer tokens (one a line) allowed to GET only", 0, 0 },
	{ "metrics_auth", ZB_OPT_BOOL, "no", 0,
	    "yes: /metrics needs a token too", 0, 0 },
	{ "tls_cert_file", ZB_OPT_PATH, NULL, 0,
	    "serve HTTPS (TLS 1.3) with this certificate chain (PEM)", 0, 0 },
	{ "tls_key_file", ZB_OPT_PATH, NULL, 0,
	    "the private key of tls_cert_file (PEM)", 0, 0 },
	{ "max_parallel_jobs", ZB_OPT_INT, "4", 0,
	    "jobs that may run at once", 1, 64 },
	{ "max_buffer_mb", ZB_OPT_INT, "64", 0,
	    "memory for stream buffers, split across running streams",
	    1, 65536 },
	{ "chunk_kb", ZB_OPT_INT, "256", 0,
	    "size of one stream chunk", 4, 16384 },
	{ "workers", ZB_OPT_STRING, "auto", 0,
	    "threads hashing, compressing and encrypting streams: auto (the "
	    "CPUs) or 0-64 (0: on the event loop's thread)", 0, 0 },
	{ "compression", ZB_OPT_STRING, "zstd:3", 0,
	    "zstd:N (1-19), gzip:N (1-9) or none", 0, 0 },
	{ "encryption", ZB_OPT_STRING, "none", 0,
	    "age or none", 0, 0 },
	{ "age_recipients_file", ZB_OPT_PATH, NULL, 0,
	    "age1... recipients to encrypt to, one per line", 0, 0 },
	{ "age_passphrase_file", ZB_OPT_PATH, NULL, 0,
	    "encrypt to this passphrase (scrypt) instead", 0, 0 },
	{ "age_scrypt_work_factor", ZB_OPT_INT, "18", 0,
	    "log2 of scrypt's N for age_passphrase_file", 10, 22 },
	{ "age_identity_file", ZB_OPT_PATH, NULL, 0,
	    "identities that let this host decrypt (needs "
	    "allow_identity_on_host)", 0, 0 },
	{ "allow_identity_on_host", ZB_OPT_BOOL, "no", 0,
	    "yes: accept age_identity_file (this host can then read its "
	    "backups)", 0, 0 },
	{ "log_level", ZB_OPT_STRING, "info", 0,
	    "error, warning, info or debug", 0, 0 },
	{ "ca_file", ZB_OPT_PATH, NULL, 0,
	    "CA certificates for HTTPS (default: the system's)", 0, 0 },
	{ "tls_min_version", ZB_OPT_STRING, "1.2", 0,
	    "oldest TLS version accepted: 1.2 or 1.3", 0, 0 },
	{ "timezone", ZB_OPT_STRING, "UTC", 0,
	    "zone of schedules and retention periods: UTC, +HH:MM, local or "
	    "a zone name (Europe/Amsterdam)", 0, 0 },
	{ "shutdown_timeout", ZB_OPT_DURATION, "30s", 0,
	    "on SIGTERM, how long runs may go on before they are aborted",
	    0, 86400000 },
	{ "pid_file", ZB_OPT_PATH, NULL, 0,
	    "file the daemon writes its pid to (default: none)", 0, 0 },
	{ "metrics_textfile", ZB_OPT_PATH, NULL, 0,
	    "file the Prometheus metrics are written to after each run and "
	    "check, for node_exporter's textfile collector (default: none)",
	    0, 0 },
	{ NULL, 0, NULL, 0, NULL, 0, 0 }
};

/* The keep_* keys (retention.c), in [sink:NAME] and [job:NAME]. */
#define RETENTION_OPTIONS \
	{ "keep_last", ZB_OPT_STRING, NULL, 0, \
	    "retention: keep the newest N copies (or unlimited)", 0, 0 }, \
	{ "keep_hourly", ZB_OPT_STRING, NULL, 0, \
	    "retention: the newest copy of each of the last N hours", 0, 0 }, \
	{ "keep_daily", ZB_OPT_STRING, NULL, 0, \
	    "retention: the newest copy of each of the last N days", 0, 0 }, \
	{ "keep_weekly", ZB_OPT_STRING, NULL, 0, \
	    "retention: the newest copy of each of the last N weeks", 0, 0 }, \
	{ "keep_monthly", ZB_OPT_STRING, NULL, 0, \
	    "retention: the newest copy of each of the last N months", 0, 0 }, \
	{ "keep_yearly", ZB_OPT_STRING, NULL, 0, \
	    "retention: the newest copy of each of the last N years", 0, 0 }, \
	{ "keep_within", ZB_OPT_STRING, NULL, 0, \
	    "retention: every copy within this long of the newest (7d)", \
	    0, 0 }, \
	{ "keep_last_tag", ZB_OPT_STRING, NULL, 0, \
	    "retention: keep_last counts only copies with this tag", 0, 0 }, \
	{ "keep_hourly_tag", ZB_OPT_STRING, NULL, 0, \
	    "retention: keep_hourly counts only copies with this tag", 0, 0 }, \
	{ "keep_daily_tag", ZB_OPT_STRING, NULL, 0, \
	    "retention: keep_daily counts only copies with this tag", 0, 0 }, \
	{ "keep_weekly_tag", ZB_OPT_STRING, NULL, 0, \
	    "retention: keep_weekly counts only copies with this tag", 0, 0 }, \
	{ "keep_monthly_tag", ZB_OPT_STRING, NULL, 0, \
	    "retention: keep_monthly counts only copies with this tag", 0, 0 }, \
	{ "keep_yearly_tag", ZB_OPT_STRING, NULL, 0, \
	    "retention: keep_yearly counts only copies with this tag", 0, 0 },

static const struct zb_option source_opts[] = {
	{ "plugin", ZB_OPT_STRING, NULL, 1, "plugin that reads the data", 0, 0 },
	{ "require_encryption", ZB_OPT_BOOL, "no", 0,
	    "yes: refuse this source unless [daemon] encryption = age "
	    "(secrets in its data)", 0, 0 },
	{ NULL, 0, NULL, 0, NULL, 0, 0 }
};

static const struct zb_option sink_opts[] = {
	{ "plugin", ZB_OPT_STRING, NULL, 1, "plugin that stores the data", 0, 0 },
	{ "timeout", ZB_OPT_DURATION, "300", 0,
	    "fail this sink's copy after this long without progress",
	    0, 86400000LL * 7 },
	{ "max_copies", ZB_OPT_INT, "0", 0,
	    "copies written to this sink at once by all jobs (0: no limit)",
	    0, 1024 },
	{ "prefix", ZB_OPT_STRING, NULL, 0,
	    "a folder (like Daily or Backups/Weekly) every key of this sink "
	    "lives under (a plugin with its own prefix option applies it "
	    "itself)", 0, 0 },
	RETENTION_OPTIONS
	{ NULL, 0, NULL, 0, NULL, 0, 0 }
};

static const struct zb_option job_opts[] = {
	{ "source", ZB_OPT_STRING, NULL, 0,
	    "the [source:NAME] to back up (or copy_from)", 0, 0 },
	{ "copy_from", ZB_OPT_STRING, NULL, 0,
	    "a copy job: the [sink:NAME] whose committed copies are copied "
	    "to sinks (instead of source)", 0, 0 },
	{ "sources", ZB_OPT_LIST, NULL, 0,
	    "copy job: only the copies of these sources (default: all)",
	    0, 0 },
	{ "newest_per_stream", ZB_OPT_BOOL, "no", 0,
	    "copy job: only the newest complete copy of each stream", 0, 0 },
	{ "since", ZB_OPT_DURATION, NULL, 0,
	    "copy job: only copies made within this long (like 7d)",
	    1000, 3660LL * 86400000 },
	{ "sinks", ZB_OPT_LIST, NULL, 1, "[sink:NAME]s to copy to", 0, 0 },
	{ "schedule", ZB_OPT_STRING, NULL, 0,
	    "when the daemon runs the job (cron, @daily, @every 30s; "
	    "tag=NAME at the end; may be repeated)", 0, 0 },
	{ "jitter", ZB_OPT_DURATION, "0", 0,
	    "start each scheduled run up to this long later, at random",
	    0, 86400000 },
	{ "compression", ZB_OPT_STRING, NULL, 0,
	    "overrides [daemon] compression", 0, 0 },
	{ "max_streams", ZB_OPT_INT, "2", 0,
	    "streams of one run that may run at once", 1, 64 },
	{ "rpo", ZB_OPT_DURATION, NULL, 0,
	    "recovery point objective: the status page shows a copy older "
	    "than this late (default: from the schedule)",
	    1000, 366LL * 86400000 },
	RETENTION_OPTIONS
	{ NULL, 0, NULL, 0, NULL, 0, 0 }
};

static const struct zb_option check_opts[] = {
	{ "schedule", ZB_OPT_STRING, NULL, 1,
	    "when the daemon runs the check (as a job's; may be repeated)",
	    0, 0 },
	{ "kind", ZB_OPT_STRING, NULL, 1,
	    "verify, deep-verify or test-restore", 0, 0 },
	{ "jobs", ZB_OPT_LIST, NULL, 0,
	    "[job:NAME]s whose sources' copies are checked (default: all)",
	    0, 0 },
	{ "sinks", ZB_OPT_LIST, NULL, 0,
	    "[sink:NAME]s to check on (default: all)", 0, 0 },
	{ NULL, 0, NULL, 0, NULL, 0, 0 }
};

/* [vault]: checked by check_vault(); used by vault_kv.c. */
static const struct zb_option vault_opts[] = {
	{ "address", ZB_OPT_STRING, NULL, 1,
	    "http:// or https:// URL of Vault or OpenBao "
	    "(https://127.0.0.1:8200)", 0, 0 },
	{ "token_file", ZB_OPT_PATH, NULL, 0,
	    "a private file whose first line is the Vault token", 0, 0 },
	{ "approle_role_id_file", ZB_OPT_PATH, NULL, 0,
	    "AppRole login instead of a token: a private file holding the "
	    "role_id", 0, 0 },
	{ "approle_secret_id_file", ZB_OPT_PATH, NULL, 0,
	    "a private file holding the AppRole secret_id", 0, 0 },
	{ "approle_mount", ZB_OPT_STRING, "approle", 0,
	    "the path the AppRole auth method is mounted at", 0, 0 },
	{ "ca_file", ZB_OPT_PATH, NULL, 0,
	    "CA certificates for an https:// address (default: [daemon] "
	    "ca_file, else the system's)", 0, 0 },
	{ "timeout", ZB_OPT_DURATION, "10s", 0,
	    "time allowed for each request to Vault", 100, 300000 },
	{ NULL, 0, NULL, 0, NULL, 0, 0 }
};

/* [notify:NAME]: checked by check_notify(); used by daemon/notifier.c. */
static const struct zb_option notify_opts[] = {
	{ "type", ZB_OPT_STRING, NULL, 1, "webhook, slack or email", 0, 0 },
	{ "on", ZB_OPT_LIST, NULL, 1,
	    "events to send: failure, success, check_failure, summary", 0, 0 },
	{ "summary_schedule", ZB_OPT_STRING, NULL, 0,
	    "when the summary is sent (cron syntax, @daily, @every 1h; "
	    "required when on has summary)", 0, 0 },
	{ "url", ZB_OPT_STRING, NULL, 0,
	    "webhook/slack: the http:// or https:// URL to POST to", 0, 0 },
	{ "token_file", ZB_OPT_PATH, NULL, 0,
	    "webhook/slack: a private file whose first line is sent as "
	    "'Authorization: Bearer LINE'", 0, 0 },
	{ "header_file", ZB_OPT_PATH, NULL, 0,
	    "webhook/slack: a private file whose first line is sent as the "
	    "Authorization header's value", 0, 0 },
	{ "smtp_url", ZB_OPT_STRING, NULL, 0,
	    "email: smtp://HOST[:PORT] or smtps://HOST[:PORT]", 0, 0 },
	{ "smtp_tls", ZB_OPT_BOOL, "yes", 0,
	    "email with smtp://: require STARTTLS (no: plain text, for a "
	    "server on the loopback only)", 0, 0 },
	{ "from", ZB_OPT_STRING, NULL, 0, "email: the sender address", 0, 0 },
	{ "to", ZB_OPT_LIST, NULL, 0, "email: the recipients", 0, 0 },
	{ "username", ZB_OPT_STRING, NULL, 0, "email: the SMTP user", 0, 0 },
	{ "password_file", ZB_OPT_PATH, NULL, 0,
	    "email: a private file whose first line is the SMTP password",
	    0, 0 },
	{ "timeout", ZB_OPT_DURATION, "10s", 0,
	    "time allowed for one delivery attempt", 100, 600000 },
	{ "attempts", ZB_OPT_INT, "4", 0,
	    "delivery attempts (1 s, 2 s, 4 s... apart)", 1, 10 },
	{ NULL, 0, NULL, 0, NULL, 0, 0 }
};

const struct zb_option *
config_core_options(enum cfg_kind kind)
{
	switch (kind) {
	case CFG_DAEMON:
		return daemon_opts;
	case CFG_SOURCE:
		return source_opts;
	case CFG_SINK:
		return sink_opts;
	case CFG_JOB:
		return job_opts;
	case CFG_CHECK:
		return check_opts;
	case CFG_NOTIFY:
		return notify_opts;
	case CFG_VAULT:
		return vault_opts;
	}
	return NULL;
}

/* ---- errors ------------------------------------------------------------ */

static void
config_verror(const char *path, const struct cfg_section *sec,
    const struct cfg_kv *kv, const char *key, const char *fmt, va_list ap)
{
	char	 msg[1024], where[512];
	int	 line = kv != NULL ? kv->line : sec != NULL ? sec->line : 0;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (line > 0)
		snprintf(where, sizeof(where), "%s:%d:", path, line);
	else
		snprintf(where, sizeof(where), "%s:", path);
	if (sec != NULL && key != NULL)
		log_warnx("%s [%s] %s: %s", where, sec->title, key, msg);
	else if (sec != NULL)
		log_warnx("%s [%s] %s", where, sec->title, msg);
	else
		log_warnx("%s %s", where, msg);
}

void
config_error(const struct zb_config *cfg, const struct cfg_section *sec,
    const struct cfg_kv *kv, const char *key, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	config_verror(cfg->path, sec, kv, key, fmt, ap);
	va_end(ap);
}

void
config_error_at(const char *path, const struct cfg_section *sec,
    const struct cfg_kv *kv, const char *key, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	config_verror(path, sec, kv, key, fmt, ap);
	va_end(ap);
}

/* ---- lookup ------------------------------------------------------------ */

struct cfg_section *
config_section(struct zb_config *cfg, const char *title)
{
	struct cfg_section *sec;

	TAILQ_FOREACH(sec, &cfg->sections, entry)
		if (strcmp(sec->title, title) == 0)
			return sec;
	return NULL;
}

struct cfg_kv *
config_kv(const struct cfg_section *sec, const char *key)
{
	struct cfg_kv	*kv;

	if (sec == NULL)
		return NULL;
	TAILQ_FOREACH(kv, &sec->kvs, entry)
		if (strcmp(kv->key, key) == 0)
			return kv;
	return NULL;
}

struct cfg_job *
config_job(struct zb_config *cfg, const char *name)
{
	struct cfg_job	*job;

	TAILQ_FOREACH(job, &cfg->jobs, entry)
		if (strcmp(job->name, name) == 0)
			return job;
	return NULL;
}

/*
 * A stream borrows the shares of jobs that cannot run (a one-off run of
 * fewer jobs than max_parallel_jobs) only up to this: bench/stream.sh's
 * zstd:3 case ran 0.99-1.03x zstd -T0 with 4 MiB, 0.90x with 8, 0.87x
 * with 16 and 0.94x with 32 (bench/README.md); beyond it memory is held
 * for nothing.
 */
#define STREAM_BORROW_MAX	(16LL << 20)

size_t
config_stream_budget(const struct zb_config *cfg, int streams)
{
	int64_t	 jobs, own, shared;

	jobs = cfg->max_parallel_jobs > 0 ? cfg->max_parallel_jobs : 1;
	if (streams < 1)
		streams = 1;
	own = cfg->max_buffer / (jobs * streams);
	if (cfg->budget_jobs > 0 && cfg->budget_jobs < jobs) {
		shared = cfg->max_buffer / ((int64_t)cfg->budget_jobs *
		    streams);
		if (shared > STREAM_BORROW_MAX)
			shared = STREAM_BORROW_MAX;
		if (shared > own)
			own = shared;
	}
	return (size_t)own;
}

int64_t
config_job_rpo(const struct cfg_job *job)
{
	return job->rpo_ms;
}

/*
 * The default rpo: the longest gap between two consecutive fires in the
 * week after `from' (at least one gap, at most RPO_MAX_FIRES fires), plus
 * half that gap but at most RPO_GRACE_MS for the run itself, plus the
 * jitter. A daily job gets 24 h + 2 h = 26 h, the reference deployment's
 * BackupAgeWarning; @every 30s gets 45 s. No schedule (runs from cron
 * through the CLI) or no second fire: RPO_UNSCHEDULED_MS (26 h).
 */
#define RPO_GRACE_MS		(2LL * 3600 * 1000)
#define RPO_UNSCHEDULED_MS	(26LL * 3600 * 1000)
#define RPO_WINDOW_S		(7LL * 86400)
#define RPO_MAX_FIRES		20000

int64_t
config_rpo_default(const struct cron_sched *crons, size_t n,
    int64_t jitter_ms, const struct cron_tz *tz, time_t from)
{
	time_t	 prev, next;
	int64_t	 gap = 0, grace;
	int	 fires;

	if (n == 0)
		return RPO_UNSCHEDULED_MS;
	prev = cron_next_any(crons, n, from, tz, NULL);
	if (prev == -1)
		return RPO_UNSCHEDULED_MS;
	for (fires = 1; fires < RPO_MAX_FIRES; fires++) {
		if (gap > 0 && prev > from + RPO_WINDOW_S)
			break;
		next = cron_next_any(crons, n, prev, tz, NULL);
		if (next == -1)
			break;
		if ((int64_t)(next - prev) > gap)
			gap = next - prev;
		prev = next;
	}
	if (gap == 0)
		return RPO_UNSCHEDULED_MS;
	gap *= 1000;
	grace = gap / 2 < RPO_GRACE_MS ? gap / 2 : RPO_GRACE_MS;
	return gap + grace + jitter_ms;
}

struct cfg_check *
config_check(struct zb_config *cfg, const char *name)
{
	struct cfg_check	*chk;

	TAILQ_FOREACH(chk, &cfg->checks, entry)
		if (strcmp(chk->name, name) == 0)
			return chk;
	return NULL;
}

const struct retention_tz *
config_retention_tz(const struct zb_config *cfg)
{
	return cfg->retention_tz;
}

/* ---- parsing ----------------------------------------------------------- */

/*
 * inih copies a section name into a buffer of MAX_SECTION (50) bytes and
 * silently cuts what does not fit; its header does not export the size.
 */
#define CFG_MAX_TITLE	49

struct reader {
	struct zb_config	*cfg;
	const char		*data;
	size_t			 len;
	size_t			 pos;
	int			 line;		/* of the line last handed out */
	int			 errors;
	struct cfg_section	*cur;
	int			 cur_refused;	/* header seen, section refused */
	int			 prev_key;	/* last line was key = value */
};

static void	line_error(struct reader *, const char *, ...) ZB_PRINTF(2, 3);

/* "FILE:LINE: message" for problems of a line outside any key. */
static void
line_error(struct reader *r, const char *fmt, ...)
{
	struct cfg_kv	 at = { .line = r->line };
	char		 msg[1024];
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	config_error(r->cfg, NULL, &at, NULL, "%s", msg);
	r->errors++;
}

static int
section_kind(const char *title, enum cfg_kind *kind, const char **name)
{
	static const struct {
		const char	*prefix;
		enum cfg_kind	 kind;
	} kinds[] = {
		{ "source:", CFG_SOURCE },
		{ "sink:", CFG_SINK },
		{ "job:", CFG_JOB },
		{ "check:", CFG_CHECK },
		{ "notify:", CFG_NOTIFY },
	};
	size_t	 i, n;

	if (strcmp(title, "daemon") == 0 || strcmp(title, "vault") == 0) {
		*kind = title[0] == 'd' ? CFG_DAEMON : CFG_VAULT;
		*name = title;
		return 0;
	}
	for (i = 0; i < ZB_NELEM(kinds); i++) {
		n = strlen(kinds[i].prefix);
		if (strncmp(title, kinds[i].prefix, n) == 0) {
			*kind = kinds[i].kind;
			*name = title + n;
			return 0;
		}
	}
	return -1;
}

/* A "[title]" line: create the section, or complain. */
static void
reader_section(struct reader *r, const char *title)
{
	struct zb_config	*cfg = r->cfg;
	struct cfg_section	*sec, tmp = { .line = r->line };
	enum cfg_kind		 kind;
	const char		*name;

	r->cur = NULL;
	r->cur_refused = 1;
	tmp.title = (char *)title;
	if (strlen(title) > CFG_MAX_TITLE) {
		/* inih would cut it and file its keys under another name. */
		line_error(r, "section name longer than %d characters",
		    CFG_MAX_TITLE);
		return;
	}
	sec = config_section(cfg, title);
	if (sec != NULL) {
		config_error(cfg, &tmp, NULL, NULL,
		    "section defined twice (first at line %d)", sec->line);
		r->errors++;
		return;
	}
	if (section_kind(title, &kind, &name) == -1) {
		config_error(cfg, &tmp, NULL, NULL, "unknown section kind "
		    "(expected [daemon], [vault], [source:NAME], "
		    "[sink:NAME], [job:NAME], [check:NAME] or [notify:NAME]; "
		    "verify: sections are not supported by this version)");
		r->errors++;
		return;
	}
	if (kind != CFG_DAEMON && kind != CFG_VAULT && !valid_name(name)) {
		config_error(cfg, &tmp, NULL, NULL, "bad name '%s' (expected "
		    "letters, digits, '_', '.' and '-', not starting with "
		    "'.')", name);
		r->errors++;
		return;
	}
	if (cfg->nsections == CFG_MAX_SECTIONS) {
		config_error(cfg, &tmp, NULL, NULL, "more than %d sections",
		    CFG_MAX_SECTIONS);
		r->errors++;
		return;
	}
	sec = xcalloc(1, sizeof(*sec));
	sec->kind = kind;
	sec->title = xstrdup(title);
	sec->name = sec->title + (name - title);
	sec->line = r->line;
	TAILQ_INIT(&sec->kvs);
	TAILQ_INSERT_TAIL(&cfg->sections, sec, entry);
	cfg->nsections++;
	r->cur = sec;
	r->cur_refused = 0;
}

/* inih's reader: one physical line per call, like fgets. */
static char *
reader_gets(char *str, int num, void *stream)
{
	struct reader	*r = stream;
	const char	*start, *nl, *p, *e;
	size_t		 n, linelen;
	int		 key_line;

	if (r->pos >= r->len)
		return NULL;
	start = r->data + r->pos;
	nl = memchr(start, '\n', r->len - r->pos);
	linelen = nl != NULL ? (size_t)(nl - start) + 1 : r->len - r->pos;
	r->pos += linelen;
	r->line++;
	if (r->line == 1 && linelen >= 3 && memcmp(start, "\xef\xbb\xbf", 3) ==
	    0) {
		start += 3;	/* UTF-8 byte order mark */
		linelen -= 3;
	}
	if (memchr(start, '\0', linelen) != NULL) {
		line_error(r, "NUL byte in the file");
		linelen = 0;
	}
	n = linelen;
	if (n >= (size_t)num) {
		line_error(r, "line longer than %d bytes: use a *_file key for "
		    "long values", num - 2);
		n = 0;	/* hand inih an empty line instead */
	}
	memcpy(str, start, n);
	str[n] = '\0';

	for (p = str; *p == ' ' || *p == '\t'; p++)
		;
	key_line = *p != '\0' && *p != '\n' && *p != '\r' && *p != ';' &&
	    *p != '#' && *p != '[';
	if (key_line && p > str && r->prev_key) {
		/* inih would append it to the previous value. */
		line_error(r, "indented line after a key: continuation lines "
		    "are not supported, put the value on one line");
		str[0] = '\0';
		key_line = 0;
	}
	/* inih keeps the previous key across blank and comment lines. */
	if (key_line)
		r->prev_key = 1;
	else if (*p == '[')
		r->prev_key = 0;
	/* Section header?  Track it ourselves, with its line. */
	if (*p == '[') {
		e = strchr(p, ']');
		if (e != NULL) {
			char	*title = xstrndup(p + 1, e - p - 1);

			reader_section(r, title);
			free(title);
		}
	}
	return str;
}

static int
reader_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct reader	*r = user;
	struct cfg_kv	*kv, *old;
	struct cfg_section *sec = r->cur;

	if (sec == NULL || strcmp(sec->title, section) != 0) {
		if (section[0] == '\0')
			line_error(r, "key '%s' outside of any section", name);
		else if (!r->cur_refused)
			line_error(r, "key '%s' in section [%s], which could "
			    "not be read", name, section);
		/* Otherwise the section itself was refused already. */
		return 1;
	}
	old = config_kv(sec, name);
	if (old != NULL && !(strcmp(name, "schedule") == 0 &&
	    (sec->kind == CFG_JOB || sec->kind == CFG_CHECK))) {
		struct cfg_kv tmp = { .line = r->line };

		config_error(r->cfg, sec, &tmp, name, "set twice (first at "
		    "line %d)", old->line);
		r->errors++;
		return 1;
	}
	if (sec->nkvs == CFG_MAX_KEYS) {
		config_error(r->cfg, sec, NULL, NULL, "more than %d keys",
		    CFG_MAX_KEYS);
		r->errors++;
		return 1;
	}
	kv = xcalloc(1, sizeof(*kv));
	kv->key = xstrdup(name);
	kv->value = xstrdup(value);
	kv->line = r->line;
	TAILQ_INSERT_TAIL(&sec->kvs, kv, entry);
	sec->nkvs++;
	return 1;
}

/* ---- checking ---------------------------------------------------------- */

static const struct zb_option *
find_option(const struct zb_option *opts, const char *key, int *as_file)
{
	size_t	 n;

	*as_file = 0;
	for (; opts != NULL && opts->key != NULL; opts++) {
		if (strcmp(opts->key, key) == 0)
			return opts;
		n = strlen(opts->key);
		if (opts->type == ZB_OPT_SECRET &&
		    strncmp(opts->key, key, n) == 0 &&
		    strcmp(key + n, "_file") == 0) {
			*as_file = 1;
			return opts;
		}
	}
	return NULL;
}

static void
list_keys(struct buf *b, const struct zb_option *opts)
{
	for (; opts != NULL && opts->key != NULL; opts++) {
		if (b->len > 0 && buf_puts(b, ", ") == -1)
			return;
		if (buf_puts(b, opts->key) == -1 ||
		    (opts->type == ZB_OPT_SECRET &&
		    buf_printf(b, ", %s_file", opts->key) == -1))
			return;
	}
}

/*
 * Does a text value carry a password?  libpq's conninfo and URIs (and
 * other connection strings) can: the keyword form "password = x" (any
 * spacing and quoting; also "?password=" and "&password=" in a URI's
 * query, percent-encoded or not), and a URI's "scheme://user:x@host".
 */
static int
keyword_password(const char *v)
{
	const char	*p, *q;

	for (p = v; *p != '\0'; p++) {
		if (p > v && !isspace((unsigned char)p[-1]) && p[-1] != '?' &&
		    p[-1] != '&' && p[-1] != '\'' && p[-1] != '"')
			continue;
		if (strncasecmp(p, "password", 8) != 0)
			continue;
		for (q = p + 8; isspace((unsigned char)*q); q++)
			;
		if (*q == '=')
			return 1;
	}
	return 0;
}

static int
value_holds_password(const char *v)
{
	const char	*p, *auth, *end, *at, *colon;
	char		*dec;
	size_t		 i, o;
	int		 hi, lo, found;

	/* URI user information with a non-empty password. */
	for (p = strstr(v, "://"); p != NULL; p = strstr(p + 3, "://")) {
		auth = p + 3;
		end = auth + strcspn(auth, "/?# \t");
		at = NULL;
		for (colon = auth; colon < end; colon++)
			if (*colon == '@')
				at = colon;
		if (at == NULL)
			continue;
		colon = memchr(auth, ':', at - auth);
		if (colon != NULL && colon + 1 < at)
			return 1;
	}
	if (keyword_password(v))
		return 1;
	/* libpq percent-decodes a URI's query parameter names too. */
	if (strchr(v, '%') == NULL)
		return 0;
	dec = xstrdup(v);
	for (i = o = 0; v[i] != '\0'; i++) {
		hi = v[i] == '%' ? hex_value((unsigned char)v[i + 1]) : -1;
		lo = hi >= 0 ? hex_value((unsigned char)v[i + 2]) : -1;
		if (lo >= 0) {
			dec[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else
			dec[o++] = v[i];
	}
	dec[o] = '\0';
	found = keyword_password(dec);
	free(dec);
	return found;
}

/* Parse kv's value as opt's type; 0 or -1 with *errstr. */
static int
check_value(struct zb_config *cfg, const struct zb_option *opt,
    struct cfg_kv *kv, int as_file, const char **errstr)
{
	static char	 range[128];
	int64_t		 v;
	int		 b;

	kv->vault = 0;
	if (opt->type == ZB_OPT_SECRET &&
	    strncmp(kv->value, VAULT_REF_PREFIX, VAULT_REF_PREFIX_LEN) == 0) {
		/* KEY and KEY_file alike; resolved by vault_kv_resolve() */
		if (vault_ref_parse(kv->value, NULL, errstr) == -1)
			return -1;
		kv->vault = 1;
		return 0;
	}
	if (as_file) {
		if (kv->value[0] != '/') {
			*errstr = "an absolute path to a file holding the "
			    "secret (or vault:MOUNT/PATH#KEY)";
			return -1;
		}
		return 0;
	}
	switch (opt->type) {
	case ZB_OPT_INT:
		return parse_int(kv->value,
		    opt->min || opt->max ? opt->min : INT64_MIN,
		    opt->min || opt->max ? opt->max : INT64_MAX, &kv->num,
		    errstr);
	case ZB_OPT_SIZE:
	case ZB_OPT_DURATION:
		if ((opt->type == ZB_OPT_SIZE ?
		    parse_size(kv->value, &v, errstr) :
		    parse_duration_ms(kv->value, &v, errstr)) == -1)
			return -1;
		if ((opt->min || opt->max) && (v < opt->min || v > opt->max)) {
			snprintf(range, sizeof(range), "a value from %lld to "
			    "%lld%s", (long long)opt->min, (long long)opt->max,
			    opt->type == ZB_OPT_SIZE ? " bytes" :
			    " milliseconds");
			*errstr = range;
			return -1;
		}
		kv->num = v;
		return 0;
	case ZB_OPT_BOOL:
		if (parse_bool(kv->value, &b, errstr) == -1)
			return -1;
		kv->num = b;
		return 0;
	case ZB_OPT_LIST:
		strv_free(kv->items, kv->nitems);
		kv->items = NULL;
		kv->nitems = 0;
		if (split_list(kv->value, &kv->items, &kv->nitems) == -1) {
			*errstr = "a comma separated list without empty items";
			return -1;
		}
		return 0;
	case ZB_OPT_PATH:
		if (kv->value[0] == '\0') {
			*errstr = "a path";
			return -1;
		}
		return 0;
	case ZB_OPT_SECRET:
		if (strncmp(kv->value, "env:", 4) == 0)
			return 0;
		if (cfg->group_readable) {
			*errstr = "an inline secret in a file readable by group "
			    "or others (use KEY_file, env:NAME or "
			    "vault:MOUNT/PATH#KEY, or chmod 600 the config)";
			return -1;
		}
		return 0;
	default:
		return 0;
	}
}

int
config_check_keys(struct zb_config *cfg, struct cfg_section *sec,
    const struct zb_option *core, const struct zb_option *opts)
{
	const struct zb_option	*opt, *tables[2] = { core, opts };
	struct cfg_kv		*kv;
	struct buf		 b;
	const char		*errstr;
	char			*fkey;
	int			 as_file, errors = 0;
	size_t			 t;

	TAILQ_FOREACH(kv, &sec->kvs, entry) {
		opt = find_option(core, kv->key, &as_file);
		if (opt == NULL)
			opt = find_option(opts, kv->key, &as_file);
		if (opt == NULL) {
			if (opts == NULL && sec->kind != CFG_DAEMON &&
			    sec->kind != CFG_JOB && sec->kind != CFG_CHECK &&
			    sec->kind != CFG_NOTIFY &&
			    sec->kind != CFG_VAULT)
				continue;	/* a plugin key: checked later */
			buf_init(&b, 4096);
			list_keys(&b, core);
			list_keys(&b, opts);
			config_error(cfg, sec, kv, kv->key, "unknown key "
			    "(expected one of: %s)", b.data ? b.data : "");
			buf_free(&b);
			errors++;
			continue;
		}
		if (check_value(cfg, opt, kv, as_file, &errstr) == -1) {
			if (opt->type == ZB_OPT_SECRET && !as_file)
				config_error(cfg, sec, kv, kv->key, "refused: "
				    "%s", errstr);	/* never echo it */
			else
				config_error(cfg, sec, kv, kv->key, "'%s' is "
				    "not %s", kv->value, errstr);
			errors++;
		}
		if (opt->type == ZB_OPT_STRING && cfg->group_readable &&
		    value_holds_password(kv->value)) {
			config_error(cfg, sec, kv, kv->key, "refused: a "
			    "password inside the value, in a file readable by "
			    "group or others (give it through a secret key such "
			    "as password_file, or chmod 600 the config)");
			errors++;	/* never echo it */
		}
		if (opt->type == ZB_OPT_SECRET && as_file &&
		    config_kv(sec, opt->key) != NULL) {
			config_error(cfg, sec, kv, kv->key, "%s is set too; "
			    "give the secret one way only", opt->key);
			errors++;
		}
	}
	for (t = 0; t < ZB_NELEM(tables); t++) {
		for (opt = tables[t]; opt != NULL && opt->key != NULL; opt++) {
			if (!opt->required || config_kv(sec, opt->key) != NULL)
				continue;
			fkey = xasprintf("%s_file", opt->key);
			if (opt->type != ZB_OPT_SECRET ||
			    config_kv(sec, fkey) == NULL) {
				config_error(cfg, sec, NULL, NULL, "missing "
				    "required key '%s' (%s)", opt->key,
				    opt->help ? opt->help : "");
				errors++;
			}
			free(fkey);
		}
	}
	return errors;
}

int
config_parse_compression(const char *s, struct compression *c,
    const char **errstr)
{
	int64_t	 level;
	const char *lvl_err;

	*errstr = "zstd:N (N from 1 to 19), gzip:N (N from 1 to 9) or none";
	if (strcmp(s, "none") == 0) {
		c->algo = COMP_NONE;
		c->level = 0;
		return 0;
	}
	if (strcmp(s, "zstd") == 0 || strcmp(s, "gzip") == 0) {
		c->algo = s[0] == 'z' ? COMP_ZSTD : COMP_GZIP;
		c->level = s[0] == 'z' ? 3 : 6;
		return 0;
	}
	if (strncmp(s, "zstd:", 5) == 0) {
		if (parse_int(s + 5, 1, 19, &level, &lvl_err) == -1)
			return -1;
		c->algo = COMP_ZSTD;
	} else if (strncmp(s, "gzip:", 5) == 0) {
		if (parse_int(s + 5, 1, 9, &level, &lvl_err) == -1)
			return -1;
		c->algo = COMP_GZIP;
	} else
		return -1;
	c->level = (int)level;
	return 0;
}

void
config_compression_str(const struct compression *c, char *buf, size_t len)
{
	switch (c->algo) {
	case COMP_ZSTD:
		snprintf(buf, len, "zstd:%d", c->level);
		break;
	case COMP_GZIP:
		snprintf(buf, len, "gzip:%d", c->level);
		break;
	default:
		snprintf(buf, len, "none");
	}
}

/* Value of a checked key, or the option's default. */
static const char *
core_value(const struct cfg_section *sec, const char *key)
{
	const struct zb_option	*opt;
	struct cfg_kv		*kv = config_kv(sec, key);
	int			 as_file;

	if (kv != NULL)
		return kv->value;
	opt = find_option(config_core_options(sec->kind), key, &as_file);
	return opt != NULL ? opt->def : NULL;
}

static int64_t
core_int(const struct cfg_section *sec, const char *key)
{
	struct cfg_kv	*kv = config_kv(sec, key);
	int64_t		 v = 0;
	const char	*errstr;

	if (kv != NULL)
		return kv->num;
	(void)parse_int(core_value(sec, key), INT64_MIN, INT64_MAX, &v,
	    &errstr);
	return v;
}

/* A checked duration key in ms, or its option's default. */
static int64_t
core_duration(const struct cfg_section *sec, const char *key)
{
	struct cfg_kv	*kv = config_kv(sec, key);
	int64_t		 v = 0;
	const char	*errstr;

	if (kv != NULL)
		return kv->num;
	(void)parse_duration_ms(core_value(sec, key), &v, &errstr);
	return v;
}

/* A key file of identities must be private: refuse group/other bits. */
static int
private_file(struct zb_config *cfg, struct cfg_section *sec,
    struct cfg_kv *kv)
{
	char	 err[512];

	if (age_keys_private_file(kv->value, err, sizeof(err)) == -1) {
		config_error(cfg, sec, kv, kv->key, "%s", err);
		return 1;
	}
	return 0;
}

/* A passphrase file: the first line is the passphrase. */
static int
add_passphrase(struct zb_config *cfg, struct cfg_section *sec,
    struct cfg_kv *kv, struct age_keys *keys, int wf)
{
	char	 buf[1024], err[256];
	FILE	*f;
	size_t	 n;
	int	 rc;

	if (private_file(cfg, sec, kv))
		return 1;
	f = fopen(kv->value, "re");
	if (f == NULL || fgets(buf, sizeof(buf), f) == NULL) {
		config_error(cfg, sec, kv, kv->key, "cannot read %s",
		    kv->value);
		if (f != NULL)
			fclose(f);
		return 1;
	}
	fclose(f);
	n = strcspn(buf, "\r\n");
	rc = n == 0 ? -1 : age_keys_add_passphrase(keys, buf, n, wf, err,
	    sizeof(err));
	OPENSSL_cleanse(buf, sizeof(buf));
	if (rc == -1) {
		config_error(cfg, sec, kv, kv->key, "%s: %s", kv->value,
		    n == 0 ? "empty passphrase" : err);
		return 1;
	}
	return 0;
}

static int
check_encryption(struct zb_config *cfg, struct cfg_section *sec)
{
	struct cfg_kv	*rec = config_kv(sec, "age_recipients_file");
	struct cfg_kv	*pass = config_kv(sec, "age_passphrase_file");
	struct cfg_kv	*id = config_kv(sec, "age_identity_file");
	struct cfg_kv	*enc = config_kv(sec, "encryption");
	struct cfg_kv	*allow = config_kv(sec, "allow_identity_on_host");
	const char	*v = core_value(sec, "encryption");
	char		 err[512];
	int		 errors = 0;

	if (strcmp(v, "age") != 0 && strcmp(v, "none") != 0) {
		config_error(cfg, sec, enc, "encryption", "'%s' is not age or "
		    "none", v);
		return 1;
	}
	if (strcmp(v, "age") == 0) {
		cfg->encrypt = 1;
		if ((rec == NULL) == (pass == NULL)) {
			config_error(cfg, sec, enc, "encryption", "age needs "
			    "age_recipients_file or age_passphrase_file (one "
			    "of them)");
			return 1;
		}
		cfg->recipients = age_keys_new();
		if (rec != NULL && age_keys_load_file(cfg->recipients,
		    rec->value, 0, err, sizeof(err)) < 1) {
			config_error(cfg, sec, rec, rec->key, "%s", err[0] ?
			    err : "no recipient in the file");
			errors++;
		}
		if (pass != NULL)
			errors += add_passphrase(cfg, sec, pass,
			    cfg->recipients, (int)core_int(sec,
			    "age_scrypt_work_factor"));
	}
	if (id != NULL) {
		if (allow == NULL || allow->num == 0) {
			config_error(cfg, sec, id, id->key, "an identity on the "
			    "backup host lets anyone who takes the host read "
			    "every backup: set allow_identity_on_host = yes to "
			    "accept that");
			return errors + 1;
		}
		if (private_file(cfg, sec, id))
			return errors + 1;
		cfg->identities = age_keys_new();
		if (age_keys_load_file(cfg->identities, id->value, 1, err,
		    sizeof(err)) < 1) {
			config_error(cfg, sec, id, id->key, "%s", err[0] ? err :
			    "no identity in the file");
			errors++;
		}
	}
	return errors;
}

/*
 * [daemon] timezone: one zone for schedules (cron_tz_load, which makes a
 * named zone the process's TZ) and for retention's calendar periods,
 * which then count in it as "local".
 */
static int
check_timezone(struct zb_config *cfg, struct cfg_section *sec)
{
	struct cfg_kv	*kv = config_kv(sec, "timezone");
	char		 err[512];

	cfg->tz = cron_tz_load(kv != NULL ? kv->value : NULL, err,
	    sizeof(err));
	if (cfg->tz == NULL) {
		/* err starts with "timezone: ", which config_error adds */
		config_error(cfg, sec, kv, "timezone", "%s",
		    strncmp(err, "timezone: ", 10) == 0 ? err + 10 : err);
		return 1;
	}
	if (cfg->tz->kind == CRON_TZ_UTC)
		return 0;
	cfg->retention_tz = xcalloc(1, sizeof(*cfg->retention_tz));
	if (cfg->tz->kind == CRON_TZ_FIXED) {
		cfg->retention_tz->kind = RETENTION_TZ_FIXED;
		cfg->retention_tz->offset = cfg->tz->offset;
	} else
		cfg->retention_tz->kind = RETENTION_TZ_LOCAL;
	return 0;
}

/* Schedules being parsed: up to CFG_MAX_SCHEDULES of one section. */
struct sched_list {
	struct cfg_schedule	*v;
	struct cron_sched	*crons;
	size_t			 n;
};

/* One schedule line (p, len: trimmed) of kv into l; 0 or 1 error. */
static int
sched_add(struct zb_config *cfg, struct cfg_section *sec, struct cfg_kv *kv,
    const char *p, size_t len, struct sched_list *l)
{
	char	*one, err[256];

	if (len == 0) {
		config_error(cfg, sec, kv, kv->key, "empty schedule (expected "
		    "a cron line, @daily or @every DURATION)");
		return 1;
	}
	if (l->n == CFG_MAX_SCHEDULES) {
		config_error(cfg, sec, kv, kv->key, "more than %d schedules",
		    CFG_MAX_SCHEDULES);
		return 1;
	}
	one = xstrndup(p, len);
	if (cron_parse(one, &l->crons[l->n], err, sizeof(err)) == -1) {
		config_error(cfg, sec, kv, kv->key, "'%s': %s", one, err);
		free(one);
		return 1;
	}
	l->v[l->n].cron = &l->crons[l->n];
	l->v[l->n].text = one;
	l->v[l->n].tag = l->crons[l->n].tag[0] != '\0' ?
	    xstrdup(l->crons[l->n].tag) : NULL;
	l->v[l->n].line = kv->line;
	l->n++;
	return 0;
}

/*
 * Every `schedule =' key of sec (it may be repeated), each value split
 * into lines at a comma followed by a blank, as cron_parse_list() does
 * ("0,30 * * * *" is one line), each line parsed by cron_parse().
 * Errors name the key's file:line and the line.
 */
static int
parse_schedules(struct zb_config *cfg, struct cfg_section *sec,
    struct cfg_schedule **schedp, size_t *np, struct cron_sched **cronsp)
{
	struct sched_list	 l;
	struct cfg_kv		*kv;
	const char		*p, *end;
	size_t			 len;
	int			 errors = 0;

	l.v = xcalloc(CFG_MAX_SCHEDULES, sizeof(*l.v));
	l.crons = xcalloc(CFG_MAX_SCHEDULES, sizeof(*l.crons));
	l.n = 0;
	TAILQ_FOREACH(kv, &sec->kvs, entry) {
		if (strcmp(kv->key, "schedule") != 0)
			continue;
		for (p = kv->value; ; p = end + 1) {
			for (end = p; *end != '\0' && !(*end == ',' &&
			    (end[1] == ' ' || end[1] == '\t' ||
			    end[1] == '\0')); end++)
				;
			len = (size_t)(end - p);
			while (len > 0 && (*p == ' ' || *p == '\t')) {
				p++;
				len--;
			}
			while (len > 0 && (p[len - 1] == ' ' ||
			    p[len - 1] == '\t'))
				len--;
			errors += sched_add(cfg, sec, kv, p, len, &l);
			if (*end == '\0')
				break;
		}
	}
	*schedp = l.v;
	*np = l.n;
	*cronsp = l.crons;
	return errors;
}

static void
free_schedules(struct cfg_schedule *sched, size_t n, struct cron_sched *crons)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(sched[i].text);
		free(sched[i].tag);
	}
	free(sched);
	free(crons);
}

/* [daemon] workers: auto, or a number of threads (workers.h). */
static int
check_workers(struct zb_config *cfg, struct cfg_section *sec)
{
	const char	*v = core_value(sec, "workers"), *errstr;
	int64_t		 n;

	if (strcmp(v, "auto") == 0) {
		cfg->workers = workers_auto();
		return 0;
	}
	if (parse_int(v, 0, 64, &n, &errstr) == -1) {
		config_error(cfg, sec, config_kv(sec, "workers"), "workers",
		    "'%s' is not auto or a number of threads from 0 to 64", v);
		return 1;
	}
	cfg->workers = (int)n;
	return 0;
}

static int
check_daemon(struct zb_config *cfg, struct cfg_section *sec)
{
	struct cfg_kv	*kv;
	const char	*errstr, *v;
	int		 errors = 0;

	cfg->plugin_dir = core_value(sec, "plugin_dir");
	cfg->state_dir = core_value(sec, "state_dir");
	cfg->max_parallel_jobs = (int)core_int(sec, "max_parallel_jobs");
	cfg->max_buffer = core_int(sec, "max_buffer_mb") << 20;
	cfg->chunk_size = core_int(sec, "chunk_kb") << 10;
	if (cfg->chunk_size * 2 > cfg->max_buffer) {
		config_error(cfg, sec, config_kv(sec, "chunk_kb"), "chunk_kb",
		    "must be at most half of max_buffer_mb");
		errors++;
	}
	v = core_value(sec, "compression");
	if (config_parse_compression(v, &cfg->comp, &errstr) == -1) {
		config_error(cfg, sec, config_kv(sec, "compression"),
		    "compression", "'%s' is not %s", v, errstr);
		errors++;
	}
	errors += check_encryption(cfg, sec);
	kv = config_kv(sec, "ca_file");
	cfg->ca_file = kv != NULL ? kv->value : NULL;
	v = core_value(sec, "tls_min_version");
	if (strcmp(v, "1.2") != 0 && strcmp(v, "1.3") != 0) {
		config_error(cfg, sec, config_kv(sec, "tls_min_version"),
		    "tls_min_version", "'%s' is not 1.2 or 1.3", v);
		errors++;
	}
	cfg->tls_min_13 = strcmp(v, "1.3") == 0;
	errors += check_timezone(cfg, sec);
	errors += check_workers(cfg, sec);
	cfg->shutdown_timeout_ms = core_duration(sec, "shutdown_timeout");
	kv = config_kv(sec, "pid_file");
	cfg->pid_file = kv != NULL ? kv->value : NULL;
	kv = config_kv(sec, "metrics_textfile");
	cfg->metrics_textfile = kv != NULL ? kv->value : NULL;
	kv = config_kv(sec, "log_level");
	if (kv != NULL) {
		cfg->log_level = log_level_parse(kv->value);
		if (cfg->log_level == -1) {
			config_error(cfg, sec, kv, kv->key, "'%s' is not error, "
			    "warning, info or debug", kv->value);
			errors++;
		}
	}
	return errors;
}

/* A source whose data holds secrets is never stored in the clear. */
static int
check_source(struct zb_config *cfg, struct cfg_section *sec)
{
	struct cfg_kv	*kv = config_kv(sec, "require_encryption");

	if (kv == NULL || kv->num == 0 || cfg->encrypt)
		return 0;
	config_error(cfg, sec, kv, kv->key, "this source's data must be "
	    "encrypted, but [daemon] encryption is none: set encryption = age "
	    "(with age_recipients_file or age_passphrase_file)");
	return 1;
}

/*
 * A job has source = or copy_from = (a copy job), not both; the copy
 * job's filters (sources, newest_per_stream, since) only with copy_from.
 */
static int
check_copy_job(struct zb_config *cfg, struct cfg_section *sec,
    struct cfg_job *job)
{
	static const char *const filters[] = {
		"sources", "newest_per_stream", "since"
	};
	struct cfg_kv		*src = config_kv(sec, "source");
	struct cfg_kv		*from = config_kv(sec, "copy_from");
	struct cfg_kv		*kv;
	struct cfg_section	*ref;
	char			*title;
	size_t			 i;
	int			 errors = 0;

	if (src != NULL && from != NULL) {
		config_error(cfg, sec, from, from->key, "a job either backs up "
		    "a source (source = %s, line %d) or copies between sinks "
		    "(copy_from), not both", src->value, src->line);
		return 1;
	}
	if (src == NULL && from == NULL) {
		config_error(cfg, sec, NULL, NULL, "missing required key "
		    "'source' (the [source:NAME] to back up) or 'copy_from' "
		    "(the [sink:NAME] to copy from)");
		return 1;
	}
	if (src != NULL) {
		for (i = 0; i < ZB_NELEM(filters); i++) {
			kv = config_kv(sec, filters[i]);
			if (kv == NULL)
				continue;
			config_error(cfg, sec, kv, kv->key, "only for a copy "
			    "job (copy_from =), not with source =");
			errors++;
		}
		return errors;
	}
	title = xasprintf("sink:%s", from->value);
	ref = config_section(cfg, title);
	free(title);
	if (ref == NULL) {
		config_error(cfg, sec, from, from->key, "no [sink:%s] section",
		    from->value);
		return 1;
	}
	job->copy_from = ref;
	kv = config_kv(sec, "sources");
	if (kv != NULL) {
		for (i = 0; i < kv->nitems; i++)
			if (!valid_name(kv->items[i])) {
				config_error(cfg, sec, kv, kv->key, "'%s' is "
				    "not a source name", kv->items[i]);
				errors++;
			}
		job->copy_sources = (const char *const *)kv->items;
		job->ncopy_sources = kv->nitems;
	}
	kv = config_kv(sec, "newest_per_stream");
	job->newest_per_stream = kv != NULL && kv->num != 0;
	kv = config_kv(sec, "since");
	job->since_ms = kv != NULL ? kv->num : 0;
	return errors;
}

static int
check_job(struct zb_config *cfg, struct cfg_section *sec)
{
	struct cfg_job		*job;
	struct cfg_kv		*kv;
	struct cfg_section	*ref;
	const char		*errstr;
	char			*title;
	size_t			 i, j;
	int			 errors = 0;

	job = xcalloc(1, sizeof(*job));
	job->sec = sec;
	job->name = sec->name;
	job->comp = cfg->comp;
	job->max_streams = (int)core_int(sec, "max_streams");
	job->jitter_ms = core_duration(sec, "jitter");
	TAILQ_INSERT_TAIL(&cfg->jobs, job, entry);
	errors += parse_schedules(cfg, sec, &job->schedules, &job->nschedules,
	    &job->crons);
	kv = config_kv(sec, "rpo");
	if (kv != NULL)
		job->rpo_ms = kv->num;
	else
		job->rpo_ms = config_rpo_default(job->crons, job->nschedules,
		    job->jitter_ms, cfg->tz, time(NULL));

	errors += check_copy_job(cfg, sec, job);
	kv = config_kv(sec, "source");
	if (kv != NULL) {
		title = xasprintf("source:%s", kv->value);
		ref = config_section(cfg, title);
		free(title);
		if (ref == NULL) {
			config_error(cfg, sec, kv, kv->key, "no [source:%s] "
			    "section", kv->value);
			errors++;
		}
		job->source = ref;
	}
	kv = config_kv(sec, "sinks");
	for (i = 0; kv != NULL && i < kv->nitems; i++) {
		title = xasprintf("sink:%s", kv->items[i]);
		ref = config_section(cfg, title);
		free(title);
		if (ref == NULL) {
			config_error(cfg, sec, kv, kv->key, "no [sink:%s] "
			    "section", kv->items[i]);
			errors++;
			continue;
		}
		for (j = 0; j < job->nsinks; j++)
			if (job->sinks[j] == ref)
				break;
		if (j < job->nsinks) {
			config_error(cfg, sec, kv, kv->key, "sink '%s' named "
			    "twice", kv->items[i]);
			errors++;
			continue;
		}
		if (job->nsinks == CFG_MAX_SINKS) {
			config_error(cfg, sec, kv, kv->key, "more than %d sinks",
			    CFG_MAX_SINKS);
			errors++;
			break;
		}
		if (ref == job->copy_from) {
			config_error(cfg, sec, kv, kv->key, "sink '%s' is the "
			    "copy_from sink: a copy job copies to other sinks",
			    kv->items[i]);
			errors++;
			continue;
		}
		job->sinks[job->nsinks++] = ref;
	}
	/* (Both are >= 1 unless their own check failed already.) */
	if (cfg->max_parallel_jobs > 0 && job->max_streams > 0 &&
	    (int64_t)config_stream_budget(cfg, job->max_streams) <
	    2 * cfg->chunk_size) {
		config_error(cfg, sec, config_kv(sec, "max_streams"),
		    "max_streams", "[daemon] max_buffer_mb is too small: each "
		    "of max_parallel_jobs x max_streams streams needs two "
		    "chunks (chunk_kb) of buffer");
		errors++;
	}
	kv = config_kv(sec, "compression");
	if (kv != NULL &&
	    config_parse_compression(kv->value, &job->comp, &errstr) == -1) {
		config_error(cfg, sec, kv, kv->key, "'%s' is not %s", kv->value,
		    errstr);
		errors++;
	}
	return errors;
}

/* The [check:NAME] kind = values, by enum cfg_check_kind. */
static const char *const check_kinds[] = {
	"verify", "deep-verify", "test-restore"
};

/* [check:NAME] jobs =: every name a job, none twice. */
static int
check_jobs(struct zb_config *cfg, struct cfg_check *chk)
{
	struct cfg_kv	*kv = config_kv(chk->sec, "jobs");
	struct cfg_job	*job;
	size_t		 i, j;
	int		 errors = 0;

	if (kv == NULL || kv->nitems == 0)
		return 0;
	chk->jobs = xcalloc(kv->nitems, sizeof(*chk->jobs));
	for (i = 0; i < kv->nitems; i++) {
		job = config_job(cfg, kv->items[i]);
		for (j = 0; job != NULL && j < chk->njobs; j++)
			if (chk->jobs[j] == job)
				break;
		if (job == NULL || j < chk->njobs) {
			config_error(cfg, chk->sec, kv, kv->key, job == NULL ?
			    "no [job:%s] section" : "job '%s' named twice",
			    kv->items[i]);
			errors++;
			continue;
		}
		chk->jobs[chk->njobs++] = job;
	}
	return errors;
}

/* [check:NAME] sinks =: every name a sink, none twice. */
static int
check_sinks(struct zb_config *cfg, struct cfg_check *chk)
{
	struct cfg_kv		*kv = config_kv(chk->sec, "sinks");
	struct cfg_section	*ref;
	char			*title;
	size_t			 i, j;
	int			 errors = 0;

	if (kv == NULL || kv->nitems == 0)
		return 0;
	chk->sinks = xcalloc(kv->nitems, sizeof(*chk->sinks));
	for (i = 0; i < kv->nitems; i++) {
		title = xasprintf("sink:%s", kv->items[i]);
		ref = config_section(cfg, title);
		free(title);
		for (j = 0; ref != NULL && j < chk->nsinks; j++)
			if (chk->sinks[j] == ref)
				break;
		if (ref == NULL || j < chk->nsinks) {
			config_error(cfg, chk->sec, kv, kv->key, ref == NULL ?
			    "no [sink:%s] section" : "sink '%s' named twice",
			    kv->items[i]);
			errors++;
			continue;
		}
		chk->sinks[chk->nsinks++] = ref;
	}
	return errors;
}

/* [check:NAME], once every job exists. */
static int
check_check(struct zb_config *cfg, struct cfg_section *sec)
{
	struct cfg_check	*chk;
	struct cfg_kv		*kv;
	size_t			 i;
	int			 errors = 0;

	chk = xcalloc(1, sizeof(*chk));
	chk->sec = sec;
	chk->name = sec->name;
	chk->kind = -1;
	TAILQ_INSERT_TAIL(&cfg->checks, chk, entry);
	errors += parse_schedules(cfg, sec, &chk->schedules, &chk->nschedules,
	    &chk->crons);
	kv = config_kv(sec, "kind");
	for (i = 0; kv != NULL && i < ZB_NELEM(check_kinds); i++)
		if (strcmp(kv->value, check_kinds[i]) == 0)
			chk->kind = (int)i;
	if (kv != NULL && chk->kind == -1) {
		config_error(cfg, sec, kv, kv->key, "'%s' is not verify, "
		    "deep-verify or test-restore", kv->value);
		errors++;
	}
	errors += check_jobs(cfg, chk);
	errors += check_sinks(cfg, chk);
	return errors;
}

/* ---- [notify:NAME] ---------------------------------------------------- */

static const char *const notify_events[] = {
	"failure", "success", "check_failure", "summary"
};

/* Refuse kv (a key that only a type uses) in a section of another type. */
static int
notify_only(struct zb_config *cfg, struct cfg_section *sec, const char *key,
    const char *type, const char *for_type)
{
	struct cfg_kv	*kv = config_kv(sec, key);

	if (kv == NULL || strcmp(type, for_type) == 0 ||
	    (strcmp(for_type, "webhook") == 0 && strcmp(type, "slack") == 0))
		return 0;
	config_error(cfg, sec, kv, key, "not a key of type = %s", type);
	return 1;
}

static int
notify_required(struct zb_config *cfg, struct cfg_section *sec,
    const char *key, const char *type)
{
	if (config_kv(sec, key) != NULL)
		return 0;
	config_error(cfg, sec, NULL, NULL, "missing required key '%s' "
	    "(type = %s needs it)", key, type);
	return 1;
}

/* smtp://HOST[:PORT][/...] with HOST on the loopback. */
static int
loopback_smtp(const char *u)
{
	static const char *const hosts[] = {
		"smtp://127.0.0.1", "smtp://[::1]", "smtp://localhost"
	};
	size_t	 i, n;

	for (i = 0; i < ZB_NELEM(hosts); i++) {
		n = strlen(hosts[i]);
		if (strncmp(u, hosts[i], n) == 0 &&
		    (u[n] == '\0' || u[n] == ':' || u[n] == '/'))
			return 1;
	}
	return 0;
}

/* [notify:NAME]: type, events, schedule, URLs, private secret files. */
static int
check_notify(struct zb_config *cfg, struct cfg_section *sec)
{
	static const char *const only[][2] = {
		{ "url", "webhook" }, { "token_file", "webhook" },
		{ "header_file", "webhook" }, { "smtp_url", "email" },
		{ "smtp_tls", "email" }, { "from", "email" },
		{ "to", "email" }, { "username", "email" },
		{ "password_file", "email" },
	};
	static const char *const secrets[] = {
		"token_file", "header_file", "password_file"
	};
	struct cfg_kv		*kv, *tkv = config_kv(sec, "type");
	struct cron_sched	 cs;
	const char		*type, *u;
	char			 err[256];
	size_t			 i, j;
	int			 errors = 0, summary = 0;

	if (tkv == NULL)
		return 0;	/* (reported as missing) */
	type = tkv->value;
	if (strcmp(type, "webhook") != 0 && strcmp(type, "slack") != 0 &&
	    strcmp(type, "email") != 0) {
		config_error(cfg, sec, tkv, "type", "'%s' is not webhook, "
		    "slack or email", type);
		return 1;
	}
	kv = config_kv(sec, "on");
	for (i = 0; kv != NULL && i < kv->nitems; i++) {
		for (j = 0; j < ZB_NELEM(notify_events); j++)
			if (strcmp(kv->items[i], notify_events[j]) == 0)
				break;
		if (j == ZB_NELEM(notify_events)) {
			config_error(cfg, sec, kv, "on", "'%s' is not failure, "
			    "success, check_failure or summary", kv->items[i]);
			errors++;
		} else if (j == 3)
			summary = 1;
	}
	kv = config_kv(sec, "summary_schedule");
	if (kv != NULL && cron_parse(kv->value, &cs, err, sizeof(err)) == -1) {
		config_error(cfg, sec, kv, kv->key, "%s", err);
		errors++;
	} else if (kv == NULL && summary) {
		config_error(cfg, sec, config_kv(sec, "on"), "on", "summary "
		    "needs summary_schedule (such as 0 7 * * *)");
		errors++;
	}
	for (i = 0; i < ZB_NELEM(only); i++)
		errors += notify_only(cfg, sec, only[i][0], type, only[i][1]);
	if (strcmp(type, "email") != 0) {
		errors += notify_required(cfg, sec, "url", type);
		kv = config_kv(sec, "url");
		if (kv != NULL && strncmp(kv->value, "http://", 7) != 0 &&
		    strncmp(kv->value, "https://", 8) != 0) {
			config_error(cfg, sec, kv, kv->key, "not an http:// or "
			    "https:// URL");
			errors++;
		}
		if (config_kv(sec, "token_file") != NULL &&
		    config_kv(sec, "header_file") != NULL) {
			config_error(cfg, sec, config_kv(sec, "header_file"),
			    "header_file", "token_file is set too; give the "
			    "Authorization one way only");
			errors++;
		}
	} else {
		errors += notify_required(cfg, sec, "smtp_url", type);
		errors += notify_required(cfg, sec, "from", type);
		errors += notify_required(cfg, sec, "to", type);
		kv = config_kv(sec, "smtp_url");
		u = kv != NULL ? kv->value : NULL;
		if (u != NULL && strncmp(u, "smtp://", 7) != 0 &&
		    strncmp(u, "smtps://", 8) != 0) {
			config_error(cfg, sec, kv, kv->key, "not an smtp:// or "
			    "smtps:// URL");
			errors++;
		}
		kv = config_kv(sec, "smtp_tls");
		if (kv != NULL && kv->num == 0 && u != NULL &&
		    !loopback_smtp(u)) {
			config_error(cfg, sec, kv, kv->key, "no is only for a "
			    "server on the loopback (smtp://127.0.0.1, "
			    "smtp://[::1], smtp://localhost): mail crosses the "
			    "network in plain text otherwise");
			errors++;
		}
		if ((config_kv(sec, "username") != NULL) !=
		    (config_kv(sec, "password_file") != NULL)) {
			config_error(cfg, sec, NULL, NULL, "username and "
			    "password_file go together");
			errors++;
		}
	}
	for (i = 0; i < ZB_NELEM(secrets); i++) {
		kv = config_kv(sec, secrets[i]);
		if (kv != NULL)
			errors += private_file(cfg, sec, kv);
	}
	return errors;
}

/* ---- [vault] --------------------------------------------------------- */

/*
 * [vault]: an http(s) address; a token file or both AppRole files, each
 * private (no group or other bits: the token or secret_id would leak).
 */
static int
check_vault(struct zb_config *cfg, struct cfg_section *sec)
{
	static const char *const files[] = {
		"token_file", "approle_role_id_file", "approle_secret_id_file"
	};
	struct cfg_kv	*kv, *tok, *rid, *sid;
	size_t		 i;
	int		 errors = 0;

	cfg->vault = sec;
	kv = config_kv(sec, "address");
	if (kv != NULL && strncmp(kv->value, "http://", 7) != 0 &&
	    strncmp(kv->value, "https://", 8) != 0) {
		config_error(cfg, sec, kv, kv->key, "'%s' is not an http:// or "
		    "https:// URL", kv->value);
		errors++;
	}
	tok = config_kv(sec, "token_file");
	rid = config_kv(sec, "approle_role_id_file");
	sid = config_kv(sec, "approle_secret_id_file");
	if ((rid != NULL) != (sid != NULL)) {
		config_error(cfg, sec, rid != NULL ? rid : sid, NULL,
		    "approle_role_id_file and approle_secret_id_file go "
		    "together");
		errors++;
	} else if (tok != NULL && rid != NULL) {
		config_error(cfg, sec, tok, tok->key, "the AppRole files are "
		    "set too; log in one way only");
		errors++;
	} else if (tok == NULL && rid == NULL) {
		config_error(cfg, sec, NULL, NULL, "missing token_file (or "
		    "approle_role_id_file and approle_secret_id_file)");
		errors++;
	}
	for (i = 0; i < ZB_NELEM(files); i++) {
		kv = config_kv(sec, files[i]);
		if (kv != NULL)
			errors += private_file(cfg, sec, kv);
	}
	return errors;
}

/*
 * The keep_* keys of a sink or job section into *out (NULL when it has
 * none).  Errors name file:line.
 */
static int
check_retention(struct zb_config *cfg, struct cfg_section *sec,
    struct retention_policy **out)
{
	struct retention_policy	 p;
	struct cfg_kv		*kv;
	char			 err[256];
	size_t			 n;
	int			 errors = 0, any = 0;

	retention_policy_init(&p);
	TAILQ_FOREACH(kv, &sec->kvs, entry) {
		if (!retention_is_key(kv->key))
			continue;
		any = 1;
		if (retention_policy_parse_key(&p, kv->key, kv->value, err,
		    sizeof(err)) == -1) {
			/* err starts with the key, which config_error adds */
			n = strlen(kv->key);
			config_error(cfg, sec, kv, kv->key, "%s",
			    strncmp(err, kv->key, n) == 0 && err[n] == ':' ?
			    err + n + 1 + (err[n + 1] == ' ') : err);
			errors++;
		}
	}
	*out = NULL;
	if (any && errors == 0) {
		*out = xmalloc(sizeof(**out));
		**out = p;
	}
	return errors;
}

struct zb_config *
config_load_buf(const char *name, const char *data, size_t len,
    int group_readable)
{
	struct zb_config	*cfg;
	struct cfg_section	*sec, daemon_default;
	struct reader		 r;
	int			 rc, errors;

	cfg = xcalloc(1, sizeof(*cfg));
	cfg->refs = 1;
	cfg->path = xstrdup(name);
	cfg->group_readable = group_readable;
	cfg->log_level = -1;
	TAILQ_INIT(&cfg->sections);
	TAILQ_INIT(&cfg->jobs);
	TAILQ_INIT(&cfg->checks);

	memset(&r, 0, sizeof(r));
	r.cfg = cfg;
	r.data = data;
	r.len = len;
	rc = ini_parse_stream(reader_gets, &r, reader_handler, &r);
	errors = r.errors;
	if (rc > 0) {
		log_warnx("%s:%d: syntax error (expected '[section]', "
		    "'key = value' or a comment)", cfg->path, rc);
		errors++;
	} else if (rc < 0) {
		log_warnx("%s: cannot parse (inih error %d)", cfg->path, rc);
		errors++;
	}

	/* [daemon] first: jobs inherit its compression. */
	sec = config_section(cfg, "daemon");
	if (sec == NULL) {
		memset(&daemon_default, 0, sizeof(daemon_default));
		daemon_default.kind = CFG_DAEMON;
		daemon_default.title = daemon_default.name = "daemon";
		TAILQ_INIT(&daemon_default.kvs);
		sec = &daemon_default;
	}
	errors += config_check_keys(cfg, sec, daemon_opts, NULL);
	errors += check_daemon(cfg, sec);
	if (sec == &daemon_default) {
		/* Defaults are static strings; nothing points into it. */
		cfg->plugin_dir = ZB_PLUGIN_DIR;
		cfg->state_dir = ZB_LOCALSTATEDIR "/lib/zentoria-backupd";
	}
	TAILQ_FOREACH(sec, &cfg->sections, entry) {
		if (sec->kind == CFG_DAEMON)
			continue;
		errors += config_check_keys(cfg, sec,
		    config_core_options(sec->kind), NULL);
		if (sec->kind == CFG_SINK || sec->kind == CFG_JOB)
			errors += check_retention(cfg, sec, &sec->retention);
		if (sec->kind == CFG_JOB)
			errors += check_job(cfg, sec);
		if (sec->kind == CFG_SOURCE)
			errors += check_source(cfg, sec);
	}
	/* Checks name jobs, which exist now. */
	TAILQ_FOREACH(sec, &cfg->sections, entry)
		if (sec->kind == CFG_CHECK)
			errors += check_check(cfg, sec);
		else if (sec->kind == CFG_NOTIFY)
			errors += check_notify(cfg, sec);
		else if (sec->kind == CFG_VAULT)
			errors += check_vault(cfg, sec);
	if (errors > 0) {
		log_warnx("%s: %d error%s", cfg->path, errors,
		    errors == 1 ? "" : "s");
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

struct zb_config *
config_load(const char *path)
{
	struct zb_config	*cfg;
	struct stat		 st;
	char			*data;
	ssize_t			 n;
	size_t			 len = 0;
	int			 fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		log_warn("%s: cannot open the configuration", path);
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		log_warnx("%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	data = xmalloc(CFG_MAX_FILE + 1);
	for (;;) {
		n = read(fd, data + len, CFG_MAX_FILE + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
		if (len > CFG_MAX_FILE)
			break;
	}
	close(fd);
	if (n == -1) {
		log_warn("%s: read", path);
		free(data);
		return NULL;
	}
	if (len > CFG_MAX_FILE) {
		log_warnx("%s: larger than %d bytes", path, CFG_MAX_FILE);
		free(data);
		return NULL;
	}
	cfg = config_load_buf(path, data, len, (st.st_mode & 077) != 0);
	free(data);
	return cfg;
}

/* ---- generations -------------------------------------------------------- */

struct cfg_section *
config_section_dup(const struct cfg_section *sec)
{
	struct cfg_section	*d;
	struct cfg_kv		*kv, *k;
	size_t			 i;

	d = xcalloc(1, sizeof(*d));
	d->kind = sec->kind;
	d->title = xstrdup(sec->title);
	d->name = d->title + (sec->name - sec->title);
	d->line = sec->line;
	TAILQ_INIT(&d->kvs);
	TAILQ_FOREACH(kv, &sec->kvs, entry) {
		k = xcalloc(1, sizeof(*k));
		k->key = xstrdup(kv->key);
		k->value = xstrdup(kv->value);
		k->line = kv->line;
		k->num = kv->num;
		k->vault = kv->vault;
		if (kv->secret != NULL) {
			k->secret = xmalloc(kv->secretlen + 1);
			memcpy(k->secret, kv->secret, kv->secretlen + 1);
			k->secretlen = kv->secretlen;
		}
		if (kv->nitems > 0) {
			k->items = xcalloc(kv->nitems, sizeof(*k->items));
			for (i = 0; i < kv->nitems; i++)
				k->items[i] = xstrdup(kv->items[i]);
			k->nitems = kv->nitems;
		}
		TAILQ_INSERT_TAIL(&d->kvs, k, entry);
		d->nkvs++;
	}
	return d;
}

void
config_section_free(struct cfg_section *sec)
{
	struct cfg_kv	*kv;

	if (sec == NULL)
		return;
	for (;;) {
		kv = TAILQ_FIRST(&sec->kvs);
		if (kv == NULL)
			break;
		TAILQ_REMOVE(&sec->kvs, kv, entry);
		free(kv->key);
		free(kv->value);
		strv_free(kv->items, kv->nitems);
		vault_kv_wipe(kv->secret, kv->secretlen);
		free(kv);
	}
	free(sec->retention);
	free(sec->title);
	free(sec);
}

int
config_section_same(const struct cfg_section *a, const struct cfg_section *b)
{
	struct cfg_kv	*kv, *other;

	if (a->kind != b->kind || strcmp(a->title, b->title) != 0 ||
	    a->nkvs != b->nkvs)
		return 0;
	/* Keys are unique in a source or sink section. */
	TAILQ_FOREACH(kv, &a->kvs, entry) {
		other = config_kv(b, kv->key);
		if (other == NULL || strcmp(kv->value, other->value) != 0)
			return 0;
		/* a secret read from Vault that changed: a new instance */
		if ((kv->secret == NULL) != (other->secret == NULL) ||
		    (kv->secret != NULL && (kv->secretlen != other->secretlen ||
		    CRYPTO_memcmp(kv->secret, other->secret,
		    kv->secretlen) != 0)))
			return 0;
	}
	return 1;
}

struct zb_config *
config_ref(struct zb_config *cfg)
{
	if (cfg != NULL)
		cfg->refs++;
	return cfg;
}

void
config_unref(struct zb_config *cfg)
{
	struct cfg_section	*sec;
	struct cfg_job		*job;
	struct cfg_check	*chk;

	if (cfg == NULL || --cfg->refs > 0)
		return;
	for (;;) {
		chk = TAILQ_FIRST(&cfg->checks);
		if (chk == NULL)
			break;
		TAILQ_REMOVE(&cfg->checks, chk, entry);
		free_schedules(chk->schedules, chk->nschedules, chk->crons);
		free(chk->jobs);
		free(chk->sinks);
		free(chk);
	}
	for (;;) {
		job = TAILQ_FIRST(&cfg->jobs);
		if (job == NULL)
			break;
		TAILQ_REMOVE(&cfg->jobs, job, entry);
		free_schedules(job->schedules, job->nschedules, job->crons);
		free(job);
	}
	for (;;) {
		sec = TAILQ_FIRST(&cfg->sections);
		if (sec == NULL)
			break;
		TAILQ_REMOVE(&cfg->sections, sec, entry);
		plugin_inst_unref(sec->inst);
		config_section_free(sec);
	}
	age_keys_free(cfg->recipients);
	age_keys_free(cfg->identities);
	cron_tz_free(cfg->tz);
	free(cfg->retention_tz);
	free(cfg->path);
	free(cfg);
}

void
config_free(struct zb_config *cfg)
{
	config_unref(cfg);
}

/* Put TZ back as it was (a refused file's named zone may have set it). */
static void
restore_tz(const char *saved)
{
	const char	*cur = getenv("TZ");

	if (saved == NULL && cur == NULL)
		return;
	if (saved != NULL && cur != NULL && strcmp(saved, cur) == 0)
		return;
	if (saved != NULL)
		(void)setenv("TZ", saved, 1);
	else
		(void)unsetenv("TZ");
	tzset();
}

/* A reload between its two halves: loaded and checked, secrets planned. */
struct config_reloading {
	struct zb_config	*cfg;		/* NULL: the load failed */
	struct vault_plan	*plan;		/* NULL: nothing to read */
	int			 errors;
	char			*saved_tz;
};

struct config_reloading *
config_reload_start(const char *path, void **plan)
{
	struct config_reloading	*r;
	const char		*tz = getenv("TZ");
	int			 verrors;

	r = xcalloc(1, sizeof(*r));
	r->saved_tz = tz != NULL ? xstrdup(tz) : NULL;
	r->cfg = config_load(path);
	if (r->cfg != NULL) {
		r->errors = plugin_check_config(r->cfg);
		r->plan = vault_kv_plan(r->cfg, &verrors);
		r->errors += verrors;
	}
	*plan = r->plan;
	return r;
}

static void
reloading_free(struct config_reloading *r, struct zb_config *cfg)
{
	if (cfg == NULL)
		restore_tz(r->saved_tz);
	free(r->saved_tz);
	free(r);
}

struct zb_config *
config_reload_finish(struct config_reloading *r, struct zb_config *old)
{
	struct zb_config	*cfg = r->cfg;

	if (cfg != NULL) {
		r->errors += vault_kv_apply(cfg, r->plan);
		r->errors = plugin_bind_checked(cfg, old, 1, r->errors);
		if (r->errors > 0) {
			config_unref(cfg);
			cfg = NULL;
		}
	}
	reloading_free(r, cfg);
	return cfg;
}

void
config_reload_cancel(struct config_reloading *r)
{
	struct zb_config	*cfg = r->cfg;

	vault_kv_plan_free(r->plan);
	config_unref(cfg);
	reloading_free(r, NULL);
}

struct zb_config *
config_reload(struct zb_config *old, const char *path)
{
	struct config_reloading	*r;
	void			*plan;

	r = config_reload_start(path, &plan);
	if (plan != NULL)
		(void)vault_kv_fetch(plan);
	return config_reload_finish(r, old);
}
