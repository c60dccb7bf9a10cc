/*
 * s3_limits.h - the time bounds of one S3 request, as curl options.
 */
#ifndef ZB_S3_LIMITS_H
#define ZB_S3_LIMITS_H

#include <stdint.h>

/* Defaults of the options, in milliseconds. */
#define S3_TIMEOUT_DEFAULT_MS		60000		/* `timeout' */
#define S3_REQUEST_TIMEOUT_DEFAULT_MS	300000		/* `request_timeout' */
/* A request body larger than this makes a request a data transfer. */
#define S3_SMALL_BODY_MAX		(1024 * 1024)

/* The configured bounds, in milliseconds (the options' unit). */
struct s3_timeouts {
	int64_t	 timeout_ms;	/* connect, and longest stall; <= 0: default */
	int64_t	 request_ms;	/* a small request's attempt, in all */
	int64_t	 transfer_ms;	/* a data transfer's attempt; 0: no cap */
};

enum s3_req_kind {
	S3_REQ_SMALL,	/* listing, HEAD, DELETE, multipart bookkeeping */
	S3_REQ_DATA	/* a streamed GET, a streamed or large PUT/POST body */
};

/* What one attempt is given, exactly as handed to curl. */
struct s3_limits {
	long	 connect_ms;		/* CURLOPT_CONNECTTIMEOUT_MS */
	long	 low_speed_limit;	/* CURLOPT_LOW_SPEED_LIMIT, bytes/s */
	long	 low_speed_time;	/* CURLOPT_LOW_SPEED_TIME, seconds */
	long	 total_ms;		/* CURLOPT_TIMEOUT_MS, 0: none */
};

/* The bounds of a request of kind under t. */
void	s3_limits_for(const struct s3_timeouts *t, enum s3_req_kind kind,
	    struct s3_limits *out);
/* Set them on a curl easy handle (a CURL *). */
void	s3_limits_apply(void *easy, const struct s3_limits *);

#endif
