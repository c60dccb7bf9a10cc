/*
 * s3.h - the `s3' plugin (a sink, and a source of whole buckets).
 *
 * s3.c         descriptor, options, instance
 * s3_req.c     one signed request: host->http_request (retries there),
 *              or a raw transfer for the streamed kinds
 * s3_xml.c     the few XML elements S3 answers with
 * s3_put.c     sink: put (single PUT or multipart upload)
 * s3_get.c     sink: get (host->http_download)
 * s3_list.c    sink: list (ListObjectsV2), remove (DeleteObjects
 *              batches), cleanup (stale multipart uploads)
 * s3_limits.c  connect, stall and total bounds of a request (curl options)
 * s3_alloc.c   the allocation helpers sigv4.c and buf.c expect
 */
#ifndef ZB_S3_H
#define ZB_S3_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <zentoria/plugin.h>

#include "s3_limits.h"
#include "sigv4.h"

#define S3_MAX_QUERY	6
#define S3_MAX_HEADERS	48	/* sigv4.c adds 3, up to SIGV4_MAX_HEADERS */
#define S3_XML_MAX	(8 * 1024 * 1024)	/* a listing page, an error */
#define S3_DELETE_BATCH	1000			/* DeleteObjects' limit */

struct s3_delq;

struct s3 {
	const struct zb_host_api *host;
	struct zb_inst		*inst;
	char			*scheme;	/* "http" or "https" */
	char			*hostport;	/* Host: as sent */
	char			*base_path;	/* endpoint path, "" or "/x" */
	int			 path_style;
	char			*region;
	char			*bucket;
	char			*prefix;	/* "" or "a/b/" */
	char			*access_key;
	size_t			 aklen;
	char			*secret_key;
	size_t			 sklen;
	uint64_t		 part_size;
	int			 max_uploads;
	struct s3_timeouts	 timeouts;	/* milliseconds */
	int			 retries;
	const char		*lock_mode;	/* NULL: no Object Lock */
	int			 lock_days;
	int			 no_cond;	/* 501 to If-None-Match */
	struct s3_delq		*delq;		/* removes waiting to batch */
};

/* ---- s3_req.c ------------------------------------------------------------- */

/* A response header kept for the caller (x-amz-meta-*, Content-Type). */
struct s3_hdr {
	char	*name;		/* lowercase */
	char	*value;
};

struct s3_resp {
	int		 curlcode;
	long		 status;	/* 0: no response */
	char		*body;		/* collected (resp_max), NUL-terminated */
	size_t		 len;
	char		 etag[128];
	char		 code[64];	/* S3 error code, "" if none */
	char		 error[512];	/* a sentence for messages */
	struct s3_hdr	*hdrs;
	size_t		 nhdrs;
	uint64_t	 content_length;
	int		 has_length;
	int		 attempts;
};

struct s3_req;

struct s3_req_spec {
	const char		*method;	/* GET PUT POST DELETE HEAD */
	const char		*bucket;	/* NULL: the configured one; "":
						 * none (ListBuckets, GET /) */
	const char		*key;		/* full object key, or NULL */
	struct sigv4_param	 query[S3_MAX_QUERY];
	size_t			 nquery;
	struct sigv4_header	 headers[S3_MAX_HEADERS];
	size_t			 nheaders;
	/* request body from memory (borrowed until done); may be NULL */
	const void		*body;
	size_t			 bodylen;
	int			 sign_body;	/* hash it, else UNSIGNED-PAYLOAD */
	/*
	 * Streamed request body (PUT), used instead of body: bodylen bytes
	 * in all, given by on_read as curl asks (returns how many it put in
	 * buf, or CURL_READFUNC_ABORT).  A retry after some bytes went out
	 * first calls on_rewind, which returns 0 once on_read will give the
	 * body from its start again; without on_rewind, or when it returns
	 * -1, such a request is not retried.
	 */
	size_t			(*on_read)(void *arg, char *buf, size_t n);
	int			(*on_rewind)(void *arg);
	size_t			 resp_max;	/* collect up to this, 0: none */
	int			 keep_headers;	/* collect x-amz-meta-* etc. */
	/*
	 * Streamed response body (GET): called with each piece of a 2xx
	 * body; returns n, or CURL_WRITEFUNC_PAUSE (resume with
	 * s3_req_resume), or 0 to fail the transfer.
	 */
	size_t			(*on_data)(void *arg, const char *, size_t);
	/* called once with the outcome; resp is freed after it returns */
	void			(*done)(void *arg, struct s3_resp *resp);
	void			*arg;
};

/*
 * Start a request.  Retried with exponential backoff and full jitter on
 * connection errors, timeouts, 429 and 5xx, up to s3->retries times, as
 * long as no response body went to on_data.  done runs on the loop,
 * never before this returns.  NULL only when it could not be started
 * (logged).
 */
struct s3_req	*s3_req_start(struct s3 *, const struct s3_req_spec *);
/*
 * The sink's get runs on host->http_download: the object's Host, path
 * and URL (caller frees), and the signature of one attempt of its GET.
 */
int		 s3_get_target(struct s3 *, const char *key, char **host,
		    char **path, char **url);
int		 s3_sign_get(struct s3 *, struct zb_http_req *,
		    const char *host, const char *path);
/* Stop a request: done is not called. */
void		 s3_req_cancel(struct s3_req *);
void		 s3_req_resume(struct s3_req *);
/*
 * The response of the attempt in flight as far as it arrived: the kept
 * headers (keep_headers), content_length.  For on_data, which is called
 * after the headers: the caller borrows it until the callback returns.
 */
const struct s3_resp *s3_req_resp(const struct s3_req *);
/* 1 for a 2xx answer. */
int		 s3_ok(const struct s3_resp *);
/* The value of a kept response header, or NULL. */
const char	*s3_resp_header(const struct s3_resp *, const char *name);
/* "bucket/key" style name for messages, into buf. */
const char	*s3_where(const struct s3 *, const char *key, char *buf,
		    size_t len);
/* prefix + rel (caller frees). */
char		*s3_full_key(const struct s3 *, const char *rel);
/* The Content-MD5 (base64) of len bytes into out[25]. */
void		 s3_content_md5(const void *, size_t, char out[25]);
/* Log at level with the instance's prefix. */
void		 s3_log(struct s3 *, int level, const char *fmt, ...)
		    ZB_PRINTF(3, 4);

/* ---- s3_xml.c --------------------------------------------------------------- */

/* Where an element's content is, inside a document. */
struct s3_xml {
	const char	*p;
	size_t		 len;
};

/*
 * The next <tag>...</tag> (or <tag attr=...>...</tag>) at or after *pos
 * in doc: its content in *out, *pos moved past it.  1 found, 0 not.
 */
int	s3_xml_next(const struct s3_xml *doc, const char *tag, size_t *pos,
	    struct s3_xml *out);
/* The first such element's text, unescaped (caller frees), or NULL. */
char	*s3_xml_text(const struct s3_xml *doc, const char *tag);
/* Unescape &amp; &lt; &gt; &quot; &apos; &#N; &#xN; (caller frees). */
char	*s3_xml_unescape(const char *, size_t);
/* Escape for element content into a fresh string. */
char	*s3_xml_escape(const char *);
/* "2026-11-27T09:44:33.000Z" -> time_t; -1 if malformed. */
time_t	 s3_parse_time(const char *);

/* ---- sink operations --------------------------------------------------------- */

int	s3_put_open(struct s3 *, struct zb_io *, const char *key,
	    const struct zb_writer_ops **, void **);
int	s3_get_open(struct s3 *, struct zb_io *, const char *key,
	    const struct zb_producer_ops **, void **);
int	s3_list(struct s3 *, struct zb_io *, const char *prefix);
int	s3_remove(struct s3 *, struct zb_io *, const char *key);
int	s3_cleanup(struct s3 *, struct zb_io *, int64_t older_than_s);
int	s3_list_pending(struct s3 *, struct zb_io *, const char *prefix);
int	s3_remove_pending(struct s3 *, struct zb_io *, const char *key,
	    const char *handle);
void	s3_delq_free(struct s3 *);

#endif
