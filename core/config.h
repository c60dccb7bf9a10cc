/*
 * config.h - the INI configuration: parsing, checking, lookup.
 */
#ifndef ZB_CONFIG_H
#define ZB_CONFIG_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "zentoria/plugin.h"

#define CFG_MAX_SECTIONS	256
#define CFG_MAX_KEYS		128	/* per section */
#define CFG_MAX_FILE		(1 << 20)
#define CFG_MAX_SINKS		16	/* per job */
#define CFG_MAX_SCHEDULES	64	/* per job or check */

struct age_keys;
struct cron_sched;
struct cron_tz;
struct retention_policy;
struct retention_tz;

struct cfg_kv {
	TAILQ_ENTRY(cfg_kv)	 entry;
	char			*key;
	char			*value;
	int			 line;
	char			**items;	/* LIST options, after checking */
	size_t			 nitems;
	int64_t			 num;		/* INT/SIZE/DURATION/BOOL */
	/*
	 * A secret key (or its _file form) whose value is a
	 * vault:MOUNT/PATH#KEY reference: vault is set by the check, secret
	 * holds the value once vault_kv_resolve() read it (NUL-terminated,
	 * secretlen bytes).  Wiped when the section is freed; never logged.
	 */
	int			 vault;
	char			*secret;
	size_t			 secretlen;
};

enum cfg_kind { CFG_DAEMON, CFG_SOURCE, CFG_SINK, CFG_JOB, CFG_CHECK,
	CFG_NOTIFY, CFG_VAULT };

struct cfg_section {
	TAILQ_ENTRY(cfg_section) entry;
	enum cfg_kind		 kind;
	char			*title;		/* "sink:local" */
	char			*name;		/* "local"; "daemon" */
	int			 line;
	TAILQ_HEAD(, cfg_kv)	 kvs;
	size_t			 nkvs;
	/*
	 * The plugin instance of a source or sink section: a reference
	 * (plugin_inst_ref), shared with the other generations whose
	 * section has the same plugin and keys.  The instance has its own
	 * copy of the section (plugin.h); this one is never changed after
	 * loading.
	 */
	struct zb_inst		*inst;
	/* A sink's or job's keep_* keys; NULL: none (keep everything). */
	struct retention_policy	*retention;
	/* Its keys failed the plugin's check (plugin_check_config). */
	int			 check_failed;
};

struct compression {
	enum { COMP_NONE, COMP_ZSTD, COMP_GZIP } algo;
	int		 level;
	/*
	 * zstd's own compression threads (ZSTD_c_nbWorkers), 0: none.  Not
	 * configured: a backup sets the worker pool's size (codec.c).
	 */
	int		 threads;
};

/*
 * One schedule line of a `schedule =' key (several per key, separated by
 * ", "; the key may be repeated in [job:*] and [check:*]).
 */
struct cfg_schedule {
	struct cron_sched	*cron;	/* into the owner's crons array */
	char			*text;	/* the line as written, trimmed */
	char			*tag;	/* its tag=NAME, or NULL */
	int			 line;	/* of its `schedule =' key */
};

struct cfg_job {
	TAILQ_ENTRY(cfg_job)	 entry;
	struct cfg_section	*sec;
	const char		*name;
	struct cfg_section	*source;	/* NULL: a copy job */
	/*
	 * A copy job (copy_from =): the sink copied from, and its filters
	 * (sources =, newest_per_stream =, since =; 0 and NULL: none).
	 */
	struct cfg_section	*copy_from;
	const char *const	*copy_sources;
	size_t			 ncopy_sources;
	int			 newest_per_stream;
	int64_t			 since_ms;
	struct cfg_section	*sinks[CFG_MAX_SINKS];
	size_t			 nsinks;
	struct compression	 comp;
	int			 max_streams;
	/* schedule =, in file order; none: the daemon never starts it */
	struct cfg_schedule	*schedules;
	size_t			 nschedules;
	struct cron_sched	*crons;	/* the same, for cron_next_any() */
	int64_t			 jitter_ms;	/* jitter = */
	int64_t			 rpo_ms;	/* rpo =, or from the schedules */
};

/* [check:NAME] kind =; the values of enum check_kind (core/check.h). */
enum cfg_check_kind {
	CFG_CHECK_VERIFY = 0,
	CFG_CHECK_DEEP_VERIFY = 1,
	CFG_CHECK_TEST_RESTORE = 2
};

/* One [check:NAME] section. */
struct cfg_check {
	TAILQ_ENTRY(cfg_check)	 entry;
	struct cfg_section	*sec;
	const char		*name;
	int			 kind;		/* enum cfg_check_kind */
	struct cfg_schedule	*schedules;
	size_t			 nschedules;
	struct cron_sched	*crons;
	struct cfg_job		**jobs;		/* jobs =; njobs 0: every job */
	size_t			 njobs;
	struct cfg_section	**sinks;	/* sinks =; nsinks 0: every sink */
	size_t			 nsinks;
};

/*
 * One generation: what one load of the file produced.  It is not changed
 * after config_load()/plugin_bind_config() (config_reload() does both),
 * and lives while anyone holds a reference: whoever loaded it, and every
 * run started with it (config_ref/config_unref).
 */
struct zb_config {
	int			 refs;
	char			*path;
	int			 group_readable;	/* mode & 077 */
	TAILQ_HEAD(, cfg_section) sections;
	size_t			 nsections;
	TAILQ_HEAD(, cfg_job)	 jobs;
	TAILQ_HEAD(, cfg_check)	 checks;
	/* [vault]: where vault: references are read (NULL: no section) */
	struct cfg_section	*vault;

	/* [daemon] */
	const char		*plugin_dir;
	const char		*state_dir;
	int			 max_parallel_jobs;
	int			 workers;	/* [daemon] workers (threads) */
	int64_t			 max_buffer;		/* bytes */
	int64_t			 chunk_size;		/* bytes */
	/*
	 * Not from the file: how many jobs share max_buffer at once.  0
	 * (the daemon): max_parallel_jobs.  A one-off run of fewer jobs
	 * (zentoria-backupctl run, copy) sets how many it runs, so that its
	 * streams may borrow the shares no job will use (config_stream_budget).
	 */
	int			 budget_jobs;
	struct compression	 comp;
	int			 log_level;
	/* TLS for every HTTP transfer (http.c) */
	const char		*ca_file;
	int			 tls_min_13;	/* tls_min_version = 1.3 */
	/* age: recipients to encrypt to; identities this host may hold */
	int			 encrypt;
	struct age_keys		*recipients;
	struct age_keys		*identities;
	/*
	 * timezone: what schedules are read in (never NULL once loaded:
	 * UTC by default), and the same zone for retention's calendar
	 * periods (config_retention_tz).
	 */
	struct cron_tz		*tz;
	struct retention_tz	*retention_tz;	/* NULL: UTC */
	int64_t			 shutdown_timeout_ms;
	const char		*pid_file;	/* NULL: none */
	const char		*metrics_textfile;	/* NULL: none */
};

/*
 * Parse and check the file: syntax, section kinds, keys the core owns,
 * references between sections.  Every problem is logged as
 * "FILE:LINE: [section] key: ...".  Returns NULL when there was any.
 * Plugin keys are checked later, by plugin_bind_config().
 */
struct zb_config	*config_load(const char *path);
/* The same from memory, for tests and the fuzzer; name is for messages. */
struct zb_config	*config_load_buf(const char *name, const char *data,
			    size_t len, int group_readable);
/* Another reference to cfg (returned).  NULL stays NULL. */
struct zb_config	*config_ref(struct zb_config *);
/*
 * Drop a reference; the last one frees the generation and drops its
 * references to plugin instances (an instance no other generation holds
 * is finished with the plugin's fini()).  NULL is ignored.
 */
void			 config_unref(struct zb_config *);
/* The same as config_unref(), under its old name. */
void			 config_free(struct zb_config *);
/*
 * Load path as a new generation with its plugins bound and initialised.
 * A source or sink section whose plugin and keys (every key and value,
 * compared exactly) are those of the same section in old (may be NULL)
 * takes over old's plugin instance instead of creating one: its plugin's
 * init() does not run again.  Other sections get new instances.  NULL
 * when anything in the file is wrong (each problem logged with file:line);
 * old is then untouched (also the process's TZ, which a named
 * [daemon] timezone sets).
 */
struct zb_config	*config_reload(struct zb_config *old, const char *path);
/*
 * config_reload() in two halves, so that the daemon reads the vault:
 * secrets off its event loop: config_reload_start() loads path and
 * checks every section (plugin keys included); *plan is then NULL (no
 * vault: reference, or the load failed) or the fetch to run
 * (vault_kv_fetch(), on any thread) before config_reload_finish(), which
 * applies the secrets, binds the instances and returns the generation
 * or NULL, like config_reload().  config_reload_cancel() drops a started
 * reload (its fetch must be over).
 */
struct config_reloading;
struct config_reloading	*config_reload_start(const char *path,
			    void **plan);
struct zb_config	*config_reload_finish(struct config_reloading *,
			    struct zb_config *old);
void			 config_reload_cancel(struct config_reloading *);

/*
 * Sections as plugin instances keep them: a deep copy of one (keys,
 * values, lines, parsed forms; no instance, no retention), its free, and
 * whether two sections have the same kind, title and keys with the same
 * values (1) or not (0).
 */
struct cfg_section	*config_section_dup(const struct cfg_section *);
void			 config_section_free(struct cfg_section *);
int			 config_section_same(const struct cfg_section *,
			    const struct cfg_section *);

struct cfg_section	*config_section(struct zb_config *, const char *title);
struct cfg_kv		*config_kv(const struct cfg_section *, const char *key);
struct cfg_job		*config_job(struct zb_config *, const char *name);
/*
 * The buffer budget of one stream of a job running up to streams streams
 * at once (docs/configuration.md section 5).
 */
size_t			 config_stream_budget(const struct zb_config *,
			    int streams);
struct cfg_check	*config_check(struct zb_config *, const char *name);
/*
 * A job's recovery point objective in ms: its `rpo =', or else
 * config_rpo_default() of its schedules at load time.
 */
int64_t			 config_job_rpo(const struct cfg_job *);
/*
 * The default rpo of a job with these schedules: the longest gap between
 * two consecutive fires in the week after `from' (at least one gap), plus
 * half of it but at most 2 h, plus jitter_ms; 26 h without a schedule.
 */
int64_t			 config_rpo_default(const struct cron_sched *,
			    size_t n, int64_t jitter_ms, const struct cron_tz *,
			    time_t from);
/*
 * [daemon] timezone as retention_apply() takes it: NULL for UTC; a named
 * zone, which loading made the process's TZ, is "local".
 */
const struct retention_tz *config_retention_tz(const struct zb_config *);
/*
 * Check the keys of sec against core options and opts (plugin), parse the
 * typed ones.  Logs each problem; returns the number of problems.
 */
int			 config_check_keys(struct zb_config *,
			    struct cfg_section *, const struct zb_option *core,
			    const struct zb_option *opts);
const struct zb_option	*config_core_options(enum cfg_kind);
int			 config_parse_compression(const char *,
			    struct compression *, const char **errstr);
void			 config_compression_str(const struct compression *,
			    char *, size_t);
/* Log "FILE:LINE: [title] key: message". */
void			 config_error(const struct zb_config *,
			    const struct cfg_section *, const struct cfg_kv *,
			    const char *key, const char *fmt, ...)
			    ZB_PRINTF(5, 6);
/* The same with the file named by path (for a plugin instance). */
void			 config_error_at(const char *path,
			    const struct cfg_section *, const struct cfg_kv *,
			    const char *key, const char *fmt, ...)
			    ZB_PRINTF(5, 6);

#endif
