/*
 * artifact.h - manifests (DESIGN.md section 3); keys and ids: layout.h.
 */
#ifndef ZB_ARTIFACT_H
#define ZB_ARTIFACT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "json.h"

#define MANIFEST_FORMAT		"zentoria-backupd-manifest"
/*
 * 2: the plaintext's SHA-256 is left out when a codec or age changes the
 * bytes; "plaintext" then names the check that covers it ("check").  1 is
 * still read (it always has the plaintext's SHA-256).
 */
#define MANIFEST_VERSION	2
#define MANIFEST_VERSION_MIN	1
#define MANIFEST_MAX		(1 << 20)
/* The in-progress marker's text (layout.h: LAYOUT_MARKER_NAME). */
#define MARKER_FORMAT		"zentoria-backupd-in-progress"
#define MARKER_MAX		4096
#define MANIFEST_MAX_STREAMS	4096	/* streams a run may plan */

struct age_keys;

/* One fact a source recorded for the manifest. */
struct fact {
	struct fact	*next;
	char		*group;		/* NULL: top level */
	char		*key;
	char		*str;		/* NULL: a number */
	int64_t		 num;
};

/* What a manifest says (and where it was found). */
struct artifact {
	char			*id;		/* source/stream@stamp */
	char			*job;
	char			*source;
	char			*stream;
	char			*stamp;
	time_t			 time;
	char			*dir;		/* source/stream/stamp */
	char			*data;		/* data.tar.zst */
	char			*source_plugin;
	char			*sink;		/* where this copy was read */
	uint64_t		 stored_size;
	char			 stored_sha[65];
	uint64_t		 plain_size;
	char			 plain_sha[65];	/* "": not recorded, then */
	char			 plain_check[8];	/* zstd, gzip or age */
	struct compression	 comp;
	int			 encrypted;	/* age */
	/*
	 * The run that made it (manifest "run"): its stamp and the streams
	 * it planned, in plan order, and its tag (the schedule line's
	 * tag=, `run --tag'), or NULL.  An old manifest has none (run_stamp
	 * NULL) and is a run of its own.
	 */
	char			*run_stamp;
	char			**run_streams;
	size_t			 run_nstreams;
	char			*run_tag;
	struct json		*doc;		/* the whole manifest */
};

/* Everything a manifest is built from. */
struct manifest_in {
	const char		*id, *job, *source, *stream, *stamp;
	const char		*data;
	const char		*source_plugin, *source_plugin_version;
	const char		*sink, *sink_plugin, *sink_plugin_version;
	time_t			 started, finished;
	uint64_t		 stored_size, plain_size;
	const char		*stored_sha;
	const char		*plain_sha;	/* "": covered by the codec's
						 * or age's own check */
	const struct compression *comp;
	const struct age_keys	*age;		/* encrypted to, or NULL */
	const struct fact	*facts;
	/* the run: its stamp and planned streams (NULL: no "run") */
	const char		*run_stamp;
	const char *const	*run_streams;
	size_t			 run_nstreams;
	const char		*run_tag;	/* or NULL: none */
};

/* The manifest text (caller frees), or NULL if it would be too large. */
char	*manifest_build(const struct manifest_in *);
/* Parse and check; 0, or -1 with *err (static text). */
int	 manifest_parse(const char *, size_t, struct artifact *,
	    const char **err);
void	 artifact_clear(struct artifact *);
/*
 * The facts of a's manifest into *out (caller frees with facts_free);
 * an encrypted artifact's are unsealed with ids.  Every fact has str set
 * (integers as written).  0, or -1 with *err (static text).
 */
int	 artifact_facts(const struct artifact *a, const struct age_keys *ids,
	    struct fact **out, const char **err);
void	 facts_free(struct fact *);
void	 facts_add(struct fact **, const char *group, const char *key,
	    const char *str, int64_t num);

#endif
