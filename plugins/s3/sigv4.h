/*
 * sigv4.h - AWS Signature Version 4 for S3 (header signing and the
 * chunk signatures of STREAMING-AWS4-HMAC-SHA256-PAYLOAD).
 */
#ifndef ZB_SIGV4_H
#define ZB_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "s3_buf.h"

/* Literal payload hashes (the x-amz-content-sha256 values). */
#define SIGV4_UNSIGNED_PAYLOAD	"UNSIGNED-PAYLOAD"
#define SIGV4_STREAMING_PAYLOAD	"STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
#define SIGV4_EMPTY_SHA256	\
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* Caps: the canonical request and each encoded name or value. */
#define SIGV4_MAX_CANONICAL	(64 * 1024)
#define SIGV4_MAX_FIELD		(16 * 1024)
#define SIGV4_MAX_QUERY		256
#define SIGV4_MAX_HEADERS	64

/* How the path becomes the canonical URI. */
enum sigv4_path {
	SIGV4_PATH_S3 = 0,	/* URI-encode once, keep '/', no folding */
	SIGV4_PATH_TWICE,	/* other services: encode the encoded path */
	SIGV4_PATH_VERBATIM	/* already canonical: used as given */
};

/* One query parameter, unencoded; a NULL value is written "name=". */
struct sigv4_param {
	const char	*name;
	const char	*value;
};

/*
 * One extra header to sign.  host, x-amz-date and x-amz-content-sha256
 * are added by sigv4_sign() and refused here, as are authorization and
 * the headers libcurl adds or rewrites (expect, transfer-encoding,
 * user-agent).  Repeated names are joined with ',' in the given order.
 */
struct sigv4_header {
	const char	*name;
	const char	*value;
};

/* A request to sign; every pointer is borrowed for the call only. */
struct sigv4_req {
	const char			*method;	/* "GET" */
	const char			*host;	/* Host as sent, with port */
	const char			*path;	/* "/bucket/key", unencoded */
	enum sigv4_path			 path_mode;
	const struct sigv4_param	*query;
	size_t				 nquery;
	const struct sigv4_header	*headers;
	size_t				 nheaders;
	const char	*payload_hash;	/* lowercase hex or a literal above */
	const char	*region;	/* "us-east-1" */
	const char	*service;	/* NULL means "s3" */
	const char	*access_key;
	const char	*secret_key;
	time_t		 when;
};

/*
 * The result.  The caller initialises it with sigv4_out_init() and frees
 * it with sigv4_out_free(), which also wipes the signing key.  The
 * headers to send are "x-amz-date: <amz_date>", "x-amz-content-sha256:
 * <content_sha256>" and "Authorization: <authorization.data>".
 */
struct sigv4_out {
	char		amz_date[17];		/* 20130524T000000Z */
	char		content_sha256[72];
	char		signature[65];		/* last signature made */
	char		scope[128];		/* date/region/service/... */
	unsigned char	signing_key[32];
	struct zb_buf	canonical;		/* canonical request */
	struct zb_buf	string_to_sign;
	struct zb_buf	signed_headers;
	struct zb_buf	authorization;
};

void	sigv4_out_init(struct sigv4_out *);
void	sigv4_out_free(struct sigv4_out *);

/*
 * Sign a request: 0, or -1 with *errstr set to a static phrase (a bad
 * argument, a cap passed, or a crypto failure).
 */
int	sigv4_sign(const struct sigv4_req *, struct sigv4_out *,
	    const char **errstr);

/*
 * Chunk signature for a streaming upload: chains on out->signature (the
 * seed after sigv4_sign(), then the previous chunk) and replaces it.  The
 * last chunk has len 0.  0 or -1 on a crypto failure.
 */
int	sigv4_chunk_sign(struct sigv4_out *, const void *, size_t);

/*
 * Append the URI encoding of s[0..n) to b: A-Z a-z 0-9 - _ . ~ are kept,
 * '/' too when keep_slash, every other byte is %XX in upper case.
 */
int	sigv4_uri_encode(struct zb_buf *, const char *s, size_t n,
	    int keep_slash);

/* Lowercase hex SHA-256 of data into hex[65]; 0 or -1. */
int	sigv4_sha256_hex(const void *, size_t, char hex[65]);

/* The SigV4 signing key for yyyymmdd/region/service; 0 or -1. */
int	sigv4_signing_key(const char *secret, const char *yyyymmdd,
	    const char *region, const char *service, unsigned char key[32]);

#endif
