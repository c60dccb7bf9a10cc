/*
 * qdrant.h - the `qdrant' source plugin: shared types of its files.
 *
 *	qdrant.c		descriptor, options, init/fini, plan, the
 *				choice of restore target
 *	qdrant_req.c		requests to the server: URLs, the api-key
 *				header, the retry policy, error lines
 *	qdrant_json.c		the JSON envelope and the answers in it
 *				(SnapshotDescription, CollectionInfo, ...)
 *	qdrant_backup.c		one stream: facts, create, download with
 *				SHA-256 check, delete
 *	qdrant_restore.c	restore into a collection by upload, and
 *				test-restore into a scratch collection
 */
#ifndef ZB_QDRANT_H
#define ZB_QDRANT_H

#include <stddef.h>
#include <stdint.h>

#include <zentoria/plugin.h>

#define QD_URL_MAX	4096
#define QD_RESP_MAX	(4 * 1024 * 1024)	/* a JSON answer */
#define QD_FULL		"full"			/* the full-storage stream */

/* One configured [source:NAME]. */
struct qdrant {
	const struct zb_host_api *host;
	struct zb_inst		*inst;
	const char		*name;		/* "source:NAME" */
	char			*url;		/* without a trailing '/' */
	char			*key;		/* api-key, or NULL; wiped */
	size_t			 keylen;
	int			 all;		/* collections = all */
	int			 full;		/* full_snapshot = yes */
	uint32_t		 timeout_ms;	/* per attempt */
	uint32_t		 snap_timeout_ms; /* a create, an upload */
	uint32_t		 deadline_ms;	/* retries of one request */
	struct qd_pending	*pending;	/* deletes outliving a stream */
};

/* What a SnapshotDescription says. */
struct qd_snap {
	char		 name[512];
	int64_t		 size;			/* -1: not given */
	char		 checksum[65];		/* "" when not given */
};

/* What CollectionInfo says (the parts we record). */
struct qd_info {
	int64_t		 points;		/* -1: not given (null) */
	char		 status[16];
	char		*vectors;		/* config.params.vectors as
						 * JSON text, malloc'd, or NULL */
};

/* qdrant.c */
int	 qdrant_valid_name(const char *);

/* qdrant_req.c */
struct zb_http_req *qd_call(struct qdrant *, const char *method,
	    const char *url, uint32_t timeout_ms,
	    void (*done)(void *, const struct zb_http_resp *), void *arg);
void	 qd_headers(struct qdrant *, struct zb_http_header *, size_t *);
void	 qd_retry(struct qdrant *, struct zb_http_retry *);
int	 qd_url(struct qdrant *, char *, size_t, const char *, ...);
void	 qd_delete_detached(struct qdrant *, const char *url,
	    const char *what);
void	 qd_pending_cancel_all(struct qdrant *);

/*
 * qdrant_json.c.  Each takes a response body and its HTTP status and
 * returns ZB_OK, or ZB_ERR with a message in err: the server's own
 * status.error when it sent the envelope, else what was wrong with it.
 */
int	 qj_envelope(const struct zb_host_api *, const char *, size_t,
	    char *, size_t);
int	 qj_true(const struct zb_host_api *, const char *, size_t, char *,
	    size_t);
int	 qj_version(const struct zb_host_api *, const char *, size_t, char *,
	    size_t, char *, size_t);
int	 qj_collections(const struct zb_host_api *, const char *, size_t,
	    char ***, size_t *, char *, size_t);
void	 qj_names_free(char **, size_t);
int	 qj_info(const struct zb_host_api *, const char *, size_t,
	    struct qd_info *, char *, size_t);
void	 qj_info_clear(struct qd_info *);
int	 qj_snapshot(const struct zb_host_api *, const char *, size_t,
	    struct qd_snap *, char *, size_t);

/* qdrant_backup.c */
int	 qdrant_backup_open(struct qdrant *, struct zb_io *,
	    const struct zb_producer_ops **, void **);

/* qdrant_restore.c */
int	 qdrant_restore_open(struct qdrant *, struct zb_io *,
	    const struct zb_restore_req *, int test,
	    const struct zb_writer_ops **, void **);

#endif
