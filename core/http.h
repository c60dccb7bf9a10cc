/*
 * http.h - the one libcurl multi handle, driven by the reactor.
 */
#ifndef ZB_HTTP_H
#define ZB_HTTP_H

struct zb_config;

/*
 * Called with a transfer's result once it has ended (curl's CURLcode and
 * the HTTP status, 0 when there was no response).  The easy handle is
 * out of the multi by then; the owner frees or reuses it.
 */
typedef void (*http_done_fn)(void *arg, int curlcode, long status);

/* Set up the multi and the global TLS settings ([daemon] ca_file, ...). */
int	http_init(const struct zb_config *);
void	http_free(void);
/*
 * Add an easy handle (a CURL *, set up by the caller) to the multi.  TLS
 * verification stays on; ca_file and tls_min_version are applied.  0, or
 * -1 (logged) when curl refused it.
 */
int	http_submit(void *easy, http_done_fn, void *arg);
/* Take a transfer out without calling its done function. */
void	http_cancel(void *easy);
/*
 * Resume a transfer whose callback returned CURL_WRITEFUNC_PAUSE or
 * CURL_READFUNC_PAUSE.  Deferred to the loop: curl forbids unpausing from
 * inside its own callbacks.
 */
void	http_resume(void *easy);
/* Transfers in the multi (tests, shutdown). */
int	http_running(void);

#endif
