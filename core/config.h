/*
 * config.h - the INI configuration: parsing, checking, lookup.
 */
#ifndef ZB_CONFIG_H
#define ZB_CONFIG_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include "zentoria/plugin.h"

#define CFG_MAX_SECTIONS	256
#define CFG_MAX_KEYS		128	/* per section */
#define CFG_MAX_FILE		(1 << 20)
#define CFG_MAX_SINKS		16	/* per job */

struct age_keys;
struct retention_policy;

struct cfg_kv {
	TAILQ_ENTRY(cfg_kv)	 entry;
	char			*key;
	char			*value;
	int			 line;
	char			**items;	/* LIST options, after checking */
	size_t			 nitems;
	int64_t			 num;		/* INT/SIZE/DURATION/BOOL */
};

enum cfg_kind { CFG_DAEMON, CFG_SOURCE, CFG_SINK, CFG_JOB };

struct cfg_section {
	TAILQ_ENTRY(cfg_section) entry;
	enum cfg_kind		 kind;
	char			*title;		/* "sink:local" */
	char			*name;		/* "local"; "daemon" */
	int			 line;
	TAILQ_HEAD(, cfg_kv)	 kvs;
	size_t			 nkvs;
	/* The plugin instance built from a source or sink section. */
	struct zb_inst		*inst;
	/* A sink's or job's keep_* keys; NULL: none (keep everything). */
	struct retention_policy	*retention;
};

struct compression {
	enum { COMP_NONE, COMP_ZSTD, COMP_GZIP } algo;
	int		 level;
};

struct cfg_job {
	TAILQ_ENTRY(cfg_job)	 entry;
	struct cfg_section	*sec;
	const char		*name;
	struct cfg_section	*source;
	struct cfg_section	*sinks[CFG_MAX_SINKS];
	size_t			 nsinks;
	struct compression	 comp;
	int			 max_streams;
};

struct zb_config {
	char			*path;
	int			 group_readable;	/* mode & 077 */
	TAILQ_HEAD(, cfg_section) sections;
	size_t			 nsections;
	TAILQ_HEAD(, cfg_job)	 jobs;

	/* [daemon] */
	const char		*plugin_dir;
	const char		*state_dir;
	int			 max_parallel_jobs;
	int64_t			 max_buffer;		/* bytes */
	int64_t			 chunk_size;		/* bytes */
	struct compression	 comp;
	int			 log_level;
	/* TLS for every HTTP transfer (http.c) */
	const char		*ca_file;
	int			 tls_min_13;	/* tls_min_version = 1.3 */
	/* age: recipients to encrypt to; identities this host may hold */
	int			 encrypt;
	struct age_keys		*recipients;
	struct age_keys		*identities;
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
void			 config_free(struct zb_config *);

struct cfg_section	*config_section(struct zb_config *, const char *title);
struct cfg_kv		*config_kv(const struct cfg_section *, const char *key);
struct cfg_job		*config_job(struct zb_config *, const char *name);
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

#endif
