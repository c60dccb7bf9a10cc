/*
 * s3_limits.c - the time bounds of one S3 request, as curl options.
 *
 * The options are durations in milliseconds (the host parses `5s' as
 * 5000); curl gets milliseconds where it takes them (connect, total) and
 * whole seconds, rounded up, for the stall bound, the one curl option
 * that has no _MS form.  Every attempt has:
 *   - a connect bound: `timeout';
 *   - a stall bound: less than 1 byte/s either way for `timeout' (curl
 *     does not count the time a transfer is paused for backpressure);
 *   - a total bound: `request_timeout' for small requests (listings,
 *     HEAD, DELETE, multipart bookkeeping), `transfer_timeout' (default:
 *     none) for data transfers, whose length depends on the data.
 * Retries (s3_req.c) multiply these by up to `retries' + 1 attempts.
 */
#include "zb-build.h"

#include <curl/curl.h>

#include "s3_limits.h"

void
s3_limits_for(const struct s3_timeouts *t, enum s3_req_kind kind,
    struct s3_limits *out)
{
	int64_t	 to = t->timeout_ms > 0 ? t->timeout_ms :
	    S3_TIMEOUT_DEFAULT_MS;
	int64_t	 total = kind == S3_REQ_SMALL ? t->request_ms :
	    t->transfer_ms;

	out->connect_ms = (long)to;
	out->low_speed_limit = 1;
	out->low_speed_time = (long)((to + 999) / 1000);
	out->total_ms = total > 0 ? (long)total : 0;
}

void
s3_limits_apply(void *easy, const struct s3_limits *l)
{
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, l->connect_ms);
	curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, l->low_speed_limit);
	curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, l->low_speed_time);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, l->total_ms);
}
