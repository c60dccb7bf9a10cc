/*
 * layout.h - the on-storage layout (docs/layout.md, DESIGN.md section 3):
 * every key, artifact directory and id the core builds or parses.
 */
#ifndef ZB_LAYOUT_H
#define ZB_LAYOUT_H

#include <stddef.h>
#include <time.h>

/*
 * A copy of an artifact on a sink, under the sink's root:
 *	<source>/<stream>/<stamp>/data.<ext>[.zst|.gz][.age]
 *	<source>/<stream>/<stamp>/data.<ext>[...].sha256
 *	<source>/<stream>/<stamp>/manifest.json		written last
 *	<source>/<stream>/<stamp>/in-progress.json	while it is written
 * Its id is "<source>/<stream>@<stamp>".
 */
#define LAYOUT_MANIFEST_NAME	"manifest.json"
/*
 * Written (exclusively) into an artifact directory before a copy's data,
 * removed after its manifest: who is writing the copy, so that prune
 * leaves a live run's directory alone (gc.c).
 */
#define LAYOUT_MARKER_NAME	"in-progress.json"
#define LAYOUT_SIDECAR_SUFFIX	".sha256"
#define LAYOUT_DATA_PREFIX	"data."

/* What a key inside an artifact directory is made of. */
struct layout_key {
	size_t		 dir_len;	/* of "source/stream/stamp" */
	time_t		 time;		/* the stamp's */
	const char	*name;		/* after "source/stream/stamp/" */
};

/* "source/stream@stamp" (caller frees). */
char	*layout_artifact_id(const char *source, const char *stream,
	    const char *stamp);
/* "source/stream/stamp" (caller frees). */
char	*layout_artifact_dir(const char *source, const char *stream,
	    const char *stamp);
/* The prefix of every key of source: "source/" ("" for NULL; caller
 * frees). */
char	*layout_source_prefix(const char *source);
/* "data.<ext><comp_ext>[.age]": comp_ext is codec_ext()'s (caller frees). */
char	*layout_data_name(const char *ext, const char *comp_ext, int age);
/* Whether name can be a data object's name: "data.<...>", a valid name. */
int	 layout_valid_data_name(const char *name);
/* Keys in the artifact directory dir (caller frees). */
char	*layout_data_key(const char *dir, const char *data);
char	*layout_sidecar_key(const char *dir, const char *data);
char	*layout_manifest_key(const char *dir);
char	*layout_marker_key(const char *dir);
/* The sidecar's text: "<sha256 hex>  <data>\n" (sha256sum -c). */
char	*layout_sidecar_text(const char *sha256_hex, const char *data);

/*
 * Split "source/stream@stamp" into its parts (valid names and a valid
 * stamp, caller frees each); 0, or -1 with every part NULL.
 */
int	 layout_parse_id(const char *id, char **source, char **stream,
	    char **stamp);
/*
 * A sink key "source/stream/stamp/name..." into *out (pointers into
 * key); 0, or -1 for a key that is not in the layout (a part empty or
 * missing, or a stamp that does not parse).
 */
int	 layout_parse_key(const char *key, struct layout_key *out);
/* Whether key is "a/b/c/manifest.json" (what a catalog reads). */
int	 layout_is_manifest_key(const char *key);
/*
 * Order of two stamps (<0, 0, >0): the only place that compares them, as
 * a stamp may carry a collision suffix ("...Z-01").
 */
int	 layout_stamp_cmp(const char *, const char *);

#endif
