/*
 * zentoria/plugin.h - the plugin ABI of zentoria-backupd.
 *
 * This is the only header a plugin includes.  A plugin is a shared object
 * that exports exactly one symbol, `zb_plugin', a const struct
 * zb_plugin_desc.  It reaches the daemon only through the struct
 * zb_host_api table handed to init(); it never links against daemon
 * symbols and never creates its own event loop.
 *
 * Compatibility rules (see docs/internals/PLUGIN-ABI.md):
 *  - ZB_PLUGIN_ABI_VERSION changes on any incompatible change; the host
 *    refuses a plugin built for another version.
 *  - Compatible growth only appends fields to the end of a struct.  Both
 *    sides carry struct_size; the host copies min(struct_size, sizeof)
 *    bytes into a zeroed struct, so fields a plugin does not know read as
 *    NULL/0, and a plugin must check host->struct_size before using a
 *    host function added after ABI version 1.0.
 *  - abi_sig encodes type sizes and the libevent major version.
 *
 * Threading: every callback runs on the daemon's single event-loop thread,
 * and every host function must be called from it, except inside the
 * work() function given to host->offload(), which may call nothing of the
 * host at all.
 *
 * Asynchronous operations: an operation that is handed a `struct zb_io'
 * finishes by calling host->done(io, status, message) exactly once, which
 * may happen before the call that started it returns.  A start call
 * (plan, list, remove) that returns ZB_ERR has not called done and must
 * not call it later; one that calls done returns ZB_OK.  After done() (or
 * after the host calls the operation's abort/close), the plugin must not
 * touch the io again.
 *
 * Re-entrancy: the host never calls a producer's close() from inside that
 * producer's own push() or done(), nor a writer's abort() from inside
 * that writer's write() or commit(); it may call them from inside calls
 * of other plugins and instances.  A commit() that returned ZB_ERR, or
 * ended with done(ZB_ERR), is not followed by abort(): the writer cleans
 * up after its own failed commit.
 *
 * Lifetime: fini() is called only after every stream, writer and
 * operation of the instance has ended and every offload() job it started
 * has run its done callback.
 */
#ifndef ZENTORIA_PLUGIN_H
#define ZENTORIA_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <event2/event.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZB_PLUGIN_ABI_VERSION		1
#define ZB_PLUGIN_ABI_MINOR		9	/* 1: http_*; 2: facts, test restore;
					   3: pending puts; 4: ZB_ERR_RETAINED;
					   5: toolkit adapters (fd, HTTP);
					   6: put_size, put_sha256;
					   7: get_file, put_file;
					   8: zb_http_spec.body_kept;
					   9: put_in_place */

/* Type sizes and libevent major version the plugin was built with. */
#define ZB_ABI_SIG	((uint32_t)(sizeof(void *) |			\
			    (sizeof(off_t) << 8) |			\
			    (sizeof(time_t) << 16) |			\
			    ((uint32_t)(LIBEVENT_VERSION_NUMBER >> 24) << 24)))

#if defined(__GNUC__)
#define ZB_EXPORT	__attribute__((visibility("default")))
#define ZB_PRINTF(f, a)	__attribute__((format(printf, f, a)))
#else
#define ZB_EXPORT
#define ZB_PRINTF(f, a)
#endif

enum zb_status {
	ZB_OK = 0,	/* done */
	ZB_AGAIN = 1,	/* not now: wait for host->ready() or host->done() */
	ZB_RETRY = 2,	/* transient failure, the caller may retry later */
	ZB_ERR = -1,	/* failed; a message was given or logged */
	/*
	 * Since ABI 1.4, only as the status of a remove's done(): the sink
	 * refused to delete the object because a retention rule protects it
	 * (S3 Object Lock: a retention period or a legal hold).  The message
	 * says until when, as "retained until 2027-01-01T00:00:00Z (COMPLIANCE)"
	 * or "retained by a legal hold" (see docs/plugin-guide.md).  A host
	 * that predates it sees a failure, as for any status but ZB_OK.
	 */
	ZB_ERR_RETAINED = -2
};

/* What a plugin can be (desc.kind). */
#define ZB_KIND_SOURCE		0x1
#define ZB_KIND_SINK		0x2

/*
 * Capabilities (desc.caps).  Bits inside ZB_CAP_REQUIRED_MASK are ones a
 * host must understand; a host refuses a plugin with an unknown bit there.
 */
#define ZB_CAP_PAUSE		0x01	/* producers honour pause()/resume() */
#define ZB_CAP_SEEKABLE		0x02	/* reserved: restart at an offset */
#define ZB_CAP_REQUIRED_MASK	0xffff0000u

enum zb_log_level {
	ZB_LOG_ERROR = 0,
	ZB_LOG_WARN,
	ZB_LOG_INFO,
	ZB_LOG_DEBUG
};

/*
 * Options: the core checks every key of a plugin's section against this
 * table before init(), so a typo is an error naming file:line, and values
 * of the typed kinds are parsed and range-checked there as well.
 */
enum zb_opt_type {
	ZB_OPT_STRING = 1,	/* any text */
	ZB_OPT_INT,		/* decimal integer, optional min/max */
	ZB_OPT_BOOL,		/* yes/no/true/false/on/off/1/0 */
	ZB_OPT_SIZE,		/* bytes with optional k/M/G suffix (1024) */
	ZB_OPT_DURATION,	/* seconds with optional ms/s/m/h/d suffix */
	ZB_OPT_LIST,		/* comma separated words */
	ZB_OPT_PATH,		/* a file system path */
	ZB_OPT_SECRET		/* inline (refused in a group/world readable
				 * file), env:NAME, or read from KEY_file */
};

struct zb_option {
	const char	*key;
	int		 type;		/* enum zb_opt_type */
	const char	*def;		/* default as text, or NULL */
	int		 required;
	const char	*help;		/* one line, shown by `plugins' */
	int64_t		 min, max;	/* INT/SIZE/DURATION range; 0,0: none */
};

/* Opaque handles owned by the host. */
struct zb_inst;		/* one configured [source:NAME] or [sink:NAME] */
struct zb_io;		/* one asynchronous operation or stream */

/*
 * A chunk of stream bytes.  Chunks are shared between all sinks of a
 * stream; a sink's write() borrows the chunk for the duration of the call
 * unless it takes a reference with host->chunk_ref(), which it must drop
 * with host->chunk_unref() before it reports commit done or returns from
 * abort().  Data held by references counts against the stream's buffer
 * budget.
 */
struct zb_chunk {
	const unsigned char	*data;
	size_t			 len;
};

/*
 * A producer pushes bytes into a stream with host->push() and finishes it
 * with host->done().  The host calls pause() when the stream's buffer
 * budget is used up and resume() when it has drained; both are idempotent
 * from the host's side (the host never calls pause twice in a row).
 * close() is called exactly once: after the producer called done(), or
 * to abort it early; the producer must then stop all activity (kill its
 * child, cancel its transfer) and free its context.
 */
struct zb_producer_ops {
	void	(*pause)(void *pctx);
	void	(*resume)(void *pctx);
	void	(*close)(void *pctx);
};

/*
 * A writer consumes a stream: a sink's put of one object, or a source's
 * restore.  write() returns ZB_OK once it has taken the chunk, ZB_AGAIN if
 * it cannot take it now (the host offers the same chunk again after the
 * writer calls host->ready(io)), or ZB_ERR.  commit() makes the written
 * bytes durable and visible under their final name and returns ZB_OK, or
 * ZB_AGAIN and later host->done(io, ...); abort() discards everything
 * written (remove the temporary file, abort the multipart upload) and
 * must not call done().  After a successful commit the host does not call
 * abort.  Exactly one of commit (to completion) or abort ends a writer,
 * and the writer frees its context then.
 */
struct zb_writer_ops {
	int	(*write)(void *wctx, const struct zb_chunk *chunk);
	int	(*commit)(void *wctx);
	void	(*abort)(void *wctx);
};

/* What a restore is asked to do (source restore_open). */
struct zb_restore_req {
	const char	*artifact_id;	/* source/stream@timestamp */
	const char	*stream;	/* stream name */
	const char	*target;	/* --to TARGET as given, or NULL */
	int		 force;		/* --force */
};

/* Keys a sink list() reports: one per stored object. */
struct zb_list_entry {
	const char	*key;		/* relative to the sink's prefix */
	uint64_t	 size;
	time_t		 mtime;
};

/*
 * ABI 1.3: a put that has not been committed (yet): a running or an
 * interrupted one (a temporary file, an S3 multipart upload).
 */
struct zb_pending_entry {
	const char	*key;		/* the object it would become */
	const char	*handle;	/* the sink's own name for it */
	uint64_t	 size;		/* bytes written so far; 0: unknown */
	time_t		 mtime;		/* when it was last written to, or
					   started if the sink cannot tell */
};

/* A child process started with host->spawn(). */
struct zb_spawn_req {
	const char	*path;		/* program; searched in PATH if no '/' */
	char *const	*argv;		/* argv[0] included; NULL terminated */
	char *const	*envp_add;	/* "NAME=value" added to the environment,
					 * or NULL */
	int		 want_stdin;	/* create a pipe for the child's stdin */
	int		 want_stdout;	/* create a pipe for the child's stdout */
	/*
	 * Called on the loop once the child has exited and its stderr is
	 * drained.  status is as from waitpid().  The child handle is freed
	 * after this returns.
	 */
	void		(*on_exit)(void *arg, int status, const char *last_err);
	void		*arg;
};

struct zb_child_fds {
	int	 stdin_fd;	/* write end, O_NONBLOCK, or -1; caller closes */
	int	 stdout_fd;	/* read end, O_NONBLOCK, or -1; caller closes */
	pid_t	 pid;
};


/*
 * ABI 1.5: a JSON document parsed by the host (host->json_parse).  The
 * tree is read-only and lives until host->json_free(root).  raw_off and
 * raw_len locate each value's text in the parsed input, so that a
 * subtree can be copied verbatim into a new document.
 */
enum zb_json_type {
	ZB_JSON_NULL = 0,
	ZB_JSON_BOOL,
	ZB_JSON_NUMBER,
	ZB_JSON_STRING,
	ZB_JSON_ARRAY,
	ZB_JSON_OBJECT
};

struct zb_json {
	int			 type;		/* enum zb_json_type */
	const char		*key;		/* member name in an object */
	const char		*str;		/* STRING, unescaped; NUMBER as
						 * written */
	double			 num;		/* NUMBER */
	int			 boolean;	/* BOOL */
	const struct zb_json	*child;		/* ARRAY/OBJECT: first item */
	const struct zb_json	*next;		/* next sibling */
	size_t			 raw_off;	/* the value's text in the input */
	size_t			 raw_len;
};

/*
 * ABI 1.5: a growable byte buffer with a hard cap (host->buf_*).  Zero it
 * or buf_init() it; data is NUL terminated when not NULL.  An append
 * beyond max fails, and the failure is sticky (failed), so a series of
 * appends can be checked once.  Free with host->buf_free().
 */
struct zb_buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
	size_t	 max;
	int	 failed;
};

struct zb_timer;
struct zb_http_req;	/* ABI 1.5: one request of http_request() */

/*
 * ---- ABI 1.5: the toolkit -----------------------------------------------
 *
 * Host adapters for the work most plugins share (docs/plugin-guide.md,
 * "The toolkit"): a producer that reads a file descriptor, a writer that
 * writes into one, an HTTP request with a retry policy, a producer that
 * downloads an HTTP body (resuming with a Range request after a broken
 * connection), and a writer that uploads a stream as an HTTP request body.
 * Every spec struct starts with struct_size (set it to sizeof the struct
 * you were built with): a spec can grow by appending fields.  Check
 * host->struct_size before using any of them.
 *
 * The producer adapters hand back ops and a context that a plugin may
 * return from stream_open()/get_open() as they are, or wrap.  The writer
 * adapters likewise for put_open()/restore_open().
 */

/*
 * Read fd into stream s, pausing with backpressure: no read() from pause()
 * to resume(), so a child writing the other end blocks on its full pipe.
 * A regular file (not pollable) is read one slice per loop turn.
 */
struct zb_fd_producer_spec {
	uint32_t	 struct_size;
	int		 fd;		/* read end; O_NONBLOCK is set by the
					 * adapter, which owns and closes it
					 * (also when the call fails, and as
					 * soon as the bytes ended) */
	size_t		 slice;		/* bytes per read(); 0 or more than
					 * the stream's chunk size: the chunk
					 * size */
	/*
	 * Optional: sees every slice before it is pushed (a parser, a
	 * digest, a byte count).  Returns ZB_OK, or ZB_ERR with a message in
	 * err (up to errlen bytes) to fail the stream.
	 */
	int		(*on_data)(void *arg, const unsigned char *p, size_t n,
			    char *err, size_t errlen);
	/*
	 * Optional: called once when the bytes ended: status ZB_OK at end of
	 * file, ZB_ERR after a read error or a failed on_data (msg says
	 * which).  The plugin then calls host->done(s, ...) itself, when it
	 * is ready (after its child exited, say).  Without on_end the
	 * adapter calls host->done(s, status, msg) itself.
	 */
	void		(*on_end)(void *arg, int status, const char *msg);
	/* Optional: called from the ops' close() before the adapter frees
	 * itself (kill the child, free the plugin's context). */
	void		(*on_close)(void *arg);
	void		*arg;
};

/*
 * Write a stream into fd (a child's stdin, a socket, a pipe): write()
 * answers ZB_AGAIN while fd is full and calls host->ready() once it is
 * writable; a reader that closed its end fails the writer (EPIPE, logged).
 */
struct zb_fd_writer_spec {
	uint32_t	 struct_size;
	int		 fd;		/* write end; O_NONBLOCK is set by the
					 * adapter, which owns and closes it
					 * (also when the call fails; at
					 * commit: end of file) */
	/*
	 * Optional: after commit closed fd (the reader sees end of file),
	 * decide the outcome: call host->done(w, ...) now or later (once the
	 * child exited), on THIS w: a handle of the adapter's that passes
	 * the outcome on to the writer and frees the adapter.  Until then
	 * the host may still abort the writer (on_abort; no done() after
	 * it).  Without on_commit, commit succeeds once fd is closed.
	 */
	void		(*on_commit)(void *arg, struct zb_io *w);
	/*
	 * Optional: the writer was aborted: stop the child, remove what was
	 * written.  Called BEFORE the adapter closes fd, so that a child
	 * killed here (SIGKILL) never sees a clean end of a bad stream.
	 * Must not call done().  Not called after a failed commit.
	 */
	void		(*on_abort)(void *arg);
	void		*arg;
};

/* A header for an HTTP request ("Name", "value"); copied by the host. */
struct zb_http_header {
	const char	*name;
	const char	*value;
};

/*
 * The outcome of an HTTP request (the last attempt), borrowed by the
 * done/on_response callback until it returns.
 */
struct zb_http_resp {
	uint32_t	 struct_size;
	int		 curlcode;	/* CURLcode; 0: a response came */
	long		 status;	/* HTTP status, 0 when none */
	const char	*body;		/* collected body (see resp_max), NUL
					 * terminated, or NULL */
	size_t		 body_len;
	int		 attempts;	/* 1 + retries made */
	/*
	 * One line for logs: "HTTP 404 Not Found: <first line of the
	 * body>" or "connection refused (after 5 attempts, 31 s)".  Never
	 * contains request headers.  Empty for a 2xx answer.
	 */
	const char	*error;
	/* Response headers of the last attempt, by name (case-insensitive),
	 * or NULL. */
	const char	*(*header)(const struct zb_http_resp *,
			    const char *name);
	const void	*priv;		/* the host's */
	/* All response headers in order: the name of the i-th, its value
	 * in *value; NULL past the last. */
	const char	*(*header_at)(const struct zb_http_resp *, size_t i,
			    const char **value);
};

/*
 * The retry policy (all zero: the defaults in brackets).  A request is
 * retried on connection errors, timeouts, 408, 429, 500, 502, 503 and
 * 504, after backoff with full jitter (base_ms * 2^attempt, capped at
 * cap_ms) or after the server's Retry-After (seconds or an HTTP date)
 * when it gave one, as long as the next attempt would start before the
 * deadline.  Only idempotent methods (GET HEAD PUT DELETE OPTIONS) are
 * retried, unless retry_unsafe; a request whose streamed body or
 * response body has been partly handed over is retried only when it can
 * be rewound (on_rewind) or resumed (downloads).
 */
struct zb_http_retry {
	int		 max_attempts;	/* [5] 1: no retry */
	uint32_t	 base_ms;	/* [200] */
	uint32_t	 cap_ms;	/* [10000] */
	uint32_t	 deadline_ms;	/* [120000] from the first attempt */
	uint32_t	 timeout_ms;	/* per attempt, no progress for this
					 * long; [60000] */
	int		 retry_unsafe;	/* retry POST/PATCH too */
};

struct zb_http_spec {
	uint32_t	 struct_size;
	const char	*method;	/* "GET", "POST", ...; NULL: GET */
	const char	*url;		/* copied */
	const struct zb_http_header *headers;	/* copied */
	size_t		 nheaders;
	/* Request body from memory, copied (but see body_kept); or NULL. */
	const void	*body;
	size_t		 body_len;
	struct zb_http_retry retry;
	int		 follow_redirects; /* follow 301/302/303/307/308 (the
					   * headers go along to the new
					   * location) */
	/*
	 * Optional, before each attempt: add or replace headers for this
	 * attempt only (a fresh signature, a renewed token) with
	 * host->http_set_header(req, name, value).  Returns ZB_OK, or ZB_ERR
	 * to end the request (done sees curlcode -1, error "...").
	 */
	int		(*on_attempt)(void *arg, struct zb_http_req *req,
			    int attempt);
	/*
	 * Collect at most resp_max bytes of a 2xx body into resp->body (a
	 * larger body fails the request: "response over N bytes"; 0: a 2xx
	 * body is read and dropped, resp->body is NULL).  Error
	 * bodies (non-2xx) are always collected up to 64 KiB for the error
	 * line.
	 */
	size_t		 resp_max;
	/* Called once with the outcome, on the loop, never before
	 * http_request() returned. */
	void		(*done)(void *arg, const struct zb_http_resp *resp);
	void		*arg;
	/*
	 * Optional: what the request is, for the host's log lines (a retry
	 * is logged as a warning "WHAT: ERROR; retry N of M in S s"), e.g.
	 * "PUT s3://bucket/key".  NULL: the method and the URL without its
	 * query string and user info.
	 */
	const char	*what;
	/* Optional: an attempt's bound in all, connect to last byte, in
	 * ms (a listing that trickles); 0: none. */
	uint32_t	 total_ms;
	/*
	 * ABI 1.8, optional: 1 when the caller keeps body unchanged and
	 * valid until done is called or the request is cancelled; the host
	 * then sends it from there and does not copy it (a 16 MiB upload
	 * part is not held twice).  0: copied.  A host older than 1.8 does
	 * not read it and copies.
	 */
	int		 body_kept;
};

/*
 * Download url into stream s (a source's stream_open, a sink's get_open).
 * Only a 2xx body is pushed; a broken transfer is resumed with
 * "Range: bytes=N-" (and If-Range with the first answer's ETag or
 * Last-Modified) when the server answered with Accept-Ranges or a
 * Content-Length, within the retry policy; a server that then answers
 * 200 instead of 206 has its first N bytes skipped only when the ETag is
 * unchanged, else the stream fails.  A body shorter than its
 * Content-Length fails the stream.
 */
struct zb_http_download_spec {
	uint32_t	 struct_size;
	const char	*url;
	const struct zb_http_header *headers;
	size_t		 nheaders;
	struct zb_http_retry retry;
	int		 follow_redirects;
	int		(*on_attempt)(void *arg, struct zb_http_req *req,
			    int attempt);
	/* Optional: the response headers of the first 2xx answer (a size,
	 * an ETag, a checksum header); ZB_ERR with err fails the stream. */
	int		(*on_response)(void *arg, const struct zb_http_resp *r,
			    char *err, size_t errlen);
	/* Optional, as in struct zb_fd_producer_spec. */
	int		(*on_data)(void *arg, const unsigned char *p, size_t n,
			    char *err, size_t errlen);
	void		(*on_end)(void *arg, int status, const char *msg);
	void		(*on_close)(void *arg);
	void		*arg;
	const char	*what;		/* as in struct zb_http_spec */
	uint32_t	 total_ms;	/* as in struct zb_http_spec */
};

/*
 * Upload a stream as the body of one request (a sink's put_open, a
 * source's restore_open).  The body is streamed: chunked transfer
 * encoding, or Content-Length when size is known.  With form_field set
 * the body is a multipart/form-data document with one file part
 * (Content-Disposition: form-data; name="FIELD"; filename="FILENAME",
 * Content-Type: form_type or application/octet-stream).  A streamed body
 * is not retried once bytes went out; connection errors before that
 * are.  At commit the body ends; the writer's commit finishes when the
 * response came: on_response decides (ZB_OK, or ZB_ERR with err), and
 * without it any 2xx succeeds and anything else fails with resp->error.
 * on_response may also return ZB_AGAIN: the plugin has more to do first
 * (a follow-up request) and ends the writer itself, later, with
 * host->done(w, status, msg); the adapter no longer touches w.
 */
struct zb_http_upload_spec {
	uint32_t	 struct_size;
	const char	*method;	/* NULL: PUT */
	const char	*url;
	const struct zb_http_header *headers;
	size_t		 nheaders;
	struct zb_http_retry retry;
	int64_t		 size;		/* body bytes, or -1: unknown */
	const char	*form_field;	/* NULL: the raw body */
	const char	*form_filename;
	const char	*form_type;
	int		(*on_attempt)(void *arg, struct zb_http_req *req,
			    int attempt);
	size_t		 resp_max;	/* collect the 2xx body, as above */
	int		(*on_response)(void *arg, const struct zb_http_resp *r,
			    char *err, size_t errlen);
	void		(*on_abort)(void *arg);
	void		*arg;
	const char	*what;		/* as in struct zb_http_spec */
	uint32_t	 total_ms;	/* as in struct zb_http_spec */
};

struct zb_host_api {
	uint32_t	 abi_version;
	uint32_t	 struct_size;

	/* Logging; the host prefixes the instance, like [sink:local]. */
	void		(*log)(struct zb_inst *, int level, const char *fmt, ...)
			    ZB_PRINTF(3, 4);
	void		(*vlog)(struct zb_inst *, int level, const char *fmt,
			    va_list ap);
	const char	*(*inst_name)(const struct zb_inst *); /* "source:x" */

	/*
	 * Configuration of the instance's section, already checked against
	 * the option table.  cfg_str returns the value or the default, or
	 * NULL when neither exists; the string lives as long as the
	 * instance.  cfg_error logs "file:line: [kind:name] key: message"
	 * and returns ZB_ERR, for checks that only the plugin can make.
	 */
	const char	*(*cfg_str)(struct zb_inst *, const char *key);
	int64_t		 (*cfg_int)(struct zb_inst *, const char *key);
	int		 (*cfg_bool)(struct zb_inst *, const char *key);
	/* Number of items of a LIST option; items by index. */
	size_t		 (*cfg_list_len)(struct zb_inst *, const char *key);
	const char	*(*cfg_list_item)(struct zb_inst *, const char *key,
			    size_t i);
	int		 (*cfg_error)(struct zb_inst *, const char *key,
			    const char *fmt, ...) ZB_PRINTF(3, 4);
	/*
	 * Resolve a SECRET option (inline, env:NAME or KEY_file) into a
	 * fresh NUL-terminated buffer in *out, *outlen bytes, that the caller
	 * wipes with host->secret_free().  Never logs the value.  An
	 * optional secret that is not configured gives ZB_OK and *out NULL.
	 */
	int		 (*secret)(struct zb_inst *, const char *key,
			    char **out, size_t *outlen);
	void		 (*secret_free)(char *buf, size_t len);

	/* The loop.  Plugins may add events to it, never run it. */
	struct event_base *(*evbase)(void);

	/* Sources: declare the streams of a run from plan(). */
	int		 (*add_stream)(struct zb_io *run, const char *name,
			    const char *ext);
	/* Streams: name, facts for the manifest, push. */
	const char	*(*stream_name)(const struct zb_io *s);
	const char	*(*artifact_id)(const struct zb_io *s);
	void		 (*fact_str)(struct zb_io *s, const char *group,
			    const char *key, const char *val);
	void		 (*fact_int)(struct zb_io *s, const char *group,
			    const char *key, int64_t val);
	/*
	 * Push bytes into a stream.  The host copies them.  Returns ZB_OK, or
	 * ZB_AGAIN when the stream is now paused (the bytes were still
	 * taken, and pause() has already been called: stop producing until
	 * resume()), or ZB_ERR when the stream is being torn down (stop;
	 * close() follows, later).  Push at most one chunk (256 KiB by
	 * default) per call for the buffer budget to hold exactly.
	 */
	int		 (*push)(struct zb_io *s, const void *buf, size_t len);

	/* Completion of io: see the header comment.  msg may be NULL. */
	void		 (*done)(struct zb_io *io, int status, const char *msg);
	/* A writer that returned ZB_AGAIN can take data again. */
	void		 (*ready)(struct zb_io *io);

	/* Sinks: report one object from list(). */
	void		 (*list_add)(struct zb_io *l,
			    const struct zb_list_entry *e);

	/* Chunk references (see struct zb_chunk). */
	void		 (*chunk_ref)(const struct zb_chunk *);
	void		 (*chunk_unref)(const struct zb_chunk *);

	/*
	 * Start a child process with non-blocking pipes.  Its stderr is
	 * read by the host and logged line by line under the instance; the
	 * last lines are passed to on_exit.  Returns ZB_OK and fills *fds,
	 * or ZB_ERR (logged).
	 */
	int		 (*spawn)(struct zb_inst *, const struct zb_spawn_req *,
			    struct zb_child_fds *fds);
	/* Send a signal to a child started with spawn(), if still alive. */
	void		 (*kill_child)(pid_t pid, int sig);

	/*
	 * Run work(arg) on a worker thread of its own (one thread per call,
	 * so work may block for as long as it needs, e.g. for a whole
	 * stream), then done(arg, result) on the loop, never before offload
	 * returns.  For blocking library calls (disk walks, fsync).  work
	 * may not call any host function.
	 */
	int		 (*offload)(struct zb_inst *, int (*work)(void *arg),
			    void (*done)(void *arg, int result), void *arg);

	/* One-shot timer; cancel with timer_del (also frees it). */
	struct zb_timer	*(*timer_add)(uint64_t ms, void (*cb)(void *arg),
			    void *arg);
	void		 (*timer_del)(struct zb_timer *);

	/*
	 * A writer, provided by the host, that puts a stream into the file
	 * at path: written under a temporary name beside it, fsync'd and
	 * renamed into place at commit, mode 0600.  An existing path is
	 * refused unless force.  A source's restore_open may hand it out
	 * for targets that are plain files.  ZB_OK, or ZB_ERR (logged).
	 */
	int		 (*file_writer)(struct zb_io *w, const char *path,
			    int force, const struct zb_writer_ops **ops,
			    void **wctx);

	/*
	 * ABI 1.1: the shared libcurl multi.  easy is a CURL * the plugin set
	 * up (URL, callbacks, headers); the host keeps TLS verification on
	 * and applies [daemon] ca_file and tls_min_version.  done runs on
	 * the loop once the transfer ended (curlcode is a CURLcode, status
	 * the HTTP status or 0); the plugin then owns the handle again.  A
	 * write or read callback may return CURL_*FUNC_PAUSE; http_resume()
	 * continues it later (never call curl_easy_pause yourself from a
	 * curl callback).  http_cancel() removes a transfer without done.
	 * Check host->struct_size before using these.
	 */
	int		 (*http_submit)(struct zb_inst *, void *easy,
			    void (*done)(void *arg, int curlcode, long status),
			    void *arg);
	void		 (*http_cancel)(void *easy);
	void		 (*http_resume)(void *easy);

	/*
	 * ABI 1.2: the facts the backup recorded in the artifact's manifest
	 * (decrypted, for an encrypted artifact), for a restore writer w.
	 * fact_get returns one as text (integers in decimal), or NULL;
	 * group NULL means the top level.  fact_each calls cb for every fact
	 * of a group in manifest order and returns how many there were.
	 * Always present when the host calls test_restore_open.
	 */
	const char	*(*fact_get)(struct zb_io *w, const char *group,
			    const char *key);
	size_t		 (*fact_each)(struct zb_io *w, const char *group,
			    void (*cb)(void *arg, const char *key,
			    const char *val), void *arg);

	/* ABI 1.3: list_pending() reports each entry through this. */
	void		 (*pending_add)(struct zb_io *l,
			    const struct zb_pending_entry *e);

	/* ABI 1.5: the toolkit (see the spec structs above). */
	int		 (*fd_producer)(struct zb_io *s,
			    const struct zb_fd_producer_spec *,
			    const struct zb_producer_ops **ops, void **pctx);
	int		 (*fd_writer)(struct zb_io *w,
			    const struct zb_fd_writer_spec *,
			    const struct zb_writer_ops **ops, void **wctx);
	/*
	 * Start a request; NULL when it could not be started (logged).
	 * Cancel with http_request_cancel (done is not called); the request
	 * frees itself after done returns.
	 */
	struct zb_http_req *(*http_request)(struct zb_inst *,
			    const struct zb_http_spec *);
	void		 (*http_request_cancel)(struct zb_http_req *);
	/* From on_attempt only: set a header for this attempt. */
	void		 (*http_set_header)(struct zb_http_req *,
			    const char *name, const char *value);
	int		 (*http_download)(struct zb_io *s,
			    const struct zb_http_download_spec *,
			    const struct zb_producer_ops **ops, void **pctx);
	int		 (*http_upload)(struct zb_io *w,
			    const struct zb_http_upload_spec *,
			    const struct zb_writer_ops **ops, void **wctx);

	/*
	 * ABI 1.5: JSON.  json_parse returns the root, or NULL with a
	 * message ("offset 12: expected ':'") in err.  Documents nest at most
	 * 32 deep; duplicate member names are refused.  json_get finds an
	 * object's member; json_int reads a NUMBER that is an exact integer
	 * (ZB_OK) or fails (ZB_ERR).
	 */
	const struct zb_json *(*json_parse)(const char *text, size_t len,
			    char *err, size_t errlen);
	void		 (*json_free)(const struct zb_json *root);
	const struct zb_json *(*json_get)(const struct zb_json *obj,
			    const char *key);
	int		 (*json_int)(const struct zb_json *v, int64_t *out);

	/* ABI 1.5: buffers (struct zb_buf).  Appends return 0 or -1. */
	void		 (*buf_init)(struct zb_buf *, size_t max);
	void		 (*buf_free)(struct zb_buf *);
	int		 (*buf_add)(struct zb_buf *, const void *, size_t);
	int		 (*buf_printf)(struct zb_buf *, const char *fmt, ...)
			    ZB_PRINTF(2, 3);
	/* Append s as a JSON string literal, quotes included. */
	int		 (*buf_json_str)(struct zb_buf *, const char *s);

	/*
	 * ABI 1.6, sinks: what the host knows of a put (a writer w from
	 * put_open).  put_size returns the exact number of bytes w will
	 * receive when the host knows it before the first byte (a copy job
	 * moves a committed object of known size; sidecars and manifests
	 * are written from memory), or -1 (a backup's stream: its size is
	 * known only at its end).  A plugin may pass it on to a service
	 * that streams only what it can size up front (rclone rcat --size).
	 * put_sha256 returns the lower-case hex SHA-256 of every byte
	 * offered to w, from the call of commit on (NULL until the stream
	 * ended; a slow writer may see it earlier), so that
	 * a sink that checks the remote's digest need not hash the stream
	 * a second time on the loop thread.  Both are valid until the put
	 * ends; check host->struct_size before using them.
	 */
	int64_t		 (*put_size)(struct zb_io *w);
	const char	*(*put_sha256)(struct zb_io *w);

	/*
	 * ABI 1.7, sinks: the put's bytes as a file.  When the host copies
	 * a committed object from a sink that keeps it in a local regular
	 * file (the origin's get_file), put_file returns a new read-only
	 * descriptor of that file at offset 0, exactly put_size(w) bytes
	 * long, which the caller owns (close it, or give it to a child as
	 * its stdin); else -1.  Every byte is still offered to w's write
	 * and checked against the manifest before commit, as for any put:
	 * a sink that uploads from the file (rclone rcat reads it as its
	 * stdin) takes the written bytes without sending them, and should
	 * answer ZB_AGAIN while its upload lags far behind them, so that
	 * the host's check and timeout follow the upload.  check
	 * host->struct_size before using it.
	 */
	int		 (*put_file)(struct zb_io *w);

	/*
	 * ABI 1.9, sinks: 1 when the object of put w need not appear whole
	 * at once under its name, else 0.  The host never takes such an
	 * object alone for a committed copy: an in-progress marker (a torn
	 * one reads as no marker: its directory is judged by age, as any
	 * without a manifest) and a .sha256 sidecar (it counts only once the manifest, written after
	 * its put committed, exists).  A sink whose all-at-once put costs a
	 * temporary and a rename (rclone: five more requests to the remote)
	 * may write it under its final name instead; it must still refuse to
	 * replace an object of that name, and fail a put that was not
	 * written whole.  Data and manifests are never in place.  Check
	 * host->struct_size before using it.
	 */
	int		 (*put_in_place)(struct zb_io *w);
};

struct zb_plugin_desc {
	uint32_t		 abi_version;	/* ZB_PLUGIN_ABI_VERSION */
	uint32_t		 struct_size;	/* sizeof(struct zb_plugin_desc) */
	uint32_t		 abi_sig;	/* ZB_ABI_SIG */
	uint32_t		 kind;		/* ZB_KIND_* bits */
	uint32_t		 caps;		/* ZB_CAP_* bits */
	const char		*name;		/* [a-z0-9_]+, the config name */
	const char		*version;	/* the plugin's own version */
	const char		*description;	/* one line */
	const struct zb_option	*options;	/* { NULL } terminated */

	/* Instance life: read config, check it, allocate *ctx. */
	int	(*init)(const struct zb_host_api *, struct zb_inst *,
		    void **ctx);
	void	(*fini)(void *ctx);

	/*
	 * Source: declare the run's streams with host->add_stream(run, ...),
	 * then host->done(run, status, msg).
	 */
	int	(*plan)(void *ctx, struct zb_io *run);
	/* Source: start producing stream s (declared by plan). */
	int	(*stream_open)(void *ctx, struct zb_io *s,
		    const struct zb_producer_ops **ops, void **pctx);
	/*
	 * Source: open a writer that puts a stream's plaintext back.  The
	 * host calls commit only after the stored and plaintext SHA-256 of
	 * everything written matched the manifest; otherwise abort.
	 */
	int	(*restore_open)(void *ctx, struct zb_io *w,
		    const struct zb_restore_req *req,
		    const struct zb_writer_ops **ops, void **wctx);

	/* Sink: open a writer for object key (relative to the prefix). */
	int	(*put_open)(void *ctx, struct zb_io *w, const char *key,
		    const struct zb_writer_ops **ops, void **wctx);
	/* Sink: produce object key's bytes into stream s. */
	int	(*get_open)(void *ctx, struct zb_io *s, const char *key,
		    const struct zb_producer_ops **ops, void **pctx);
	/*
	 * Sink: report every committed object whose key starts with prefix
	 * through host->list_add, then host->done(l, ...).
	 */
	int	(*list)(void *ctx, struct zb_io *l, const char *prefix);
	/*
	 * Sink: delete one object; host->done(op, ...).  An object the
	 * storage refuses to delete because of a retention rule ends with
	 * done(op, ZB_ERR_RETAINED, "retained until ...") (ABI 1.4).
	 */
	int	(*remove)(void *ctx, struct zb_io *op, const char *key);

	/*
	 * ABI 1.2, source, optional: `test-restore'.  Like restore_open,
	 * but the writer restores into a scratch place of its own choosing
	 * (req->target is NULL), and its commit checks what it restored
	 * against the manifest's facts (host->fact_get/fact_each), removes
	 * the scratch place again, and ends with done(ZB_OK) when
	 * everything matched or done(ZB_ERR, "what differed").  abort()
	 * removes the scratch place too.
	 */
	int	(*test_restore_open)(void *ctx, struct zb_io *w,
		    const struct zb_restore_req *req,
		    const struct zb_writer_ops **ops, void **wctx);
	/*
	 * ABI 1.2, sink, optional: remove what interrupted puts left behind
	 * that list() does not show (an S3 multipart upload that was never
	 * completed or aborted), if it was started more than older_than_s
	 * seconds ago; then host->done(op, ...).  Called at the start of a
	 * run (with a day, so that concurrent uploads are safe) and by
	 * `prune'.
	 */
	int	(*cleanup)(void *ctx, struct zb_io *op, int64_t older_than_s);

	/*
	 * ABI 1.3, sink, optional (both or neither): the puts under prefix
	 * that were not committed, running or interrupted ones alike,
	 * through host->pending_add(l, ...), then host->done(l, ...); and
	 * the removal of one of them, named by the key and handle
	 * list_pending reported.  The host decides what is garbage: a sink
	 * that has these is never asked for cleanup().
	 */
	int	(*list_pending)(void *ctx, struct zb_io *l, const char *prefix);
	int	(*remove_pending)(void *ctx, struct zb_io *op, const char *key,
		    const char *handle);

	/*
	 * ABI 1.7, sink, optional: a new read-only descriptor (O_CLOEXEC)
	 * of committed object key when the sink keeps it as a local regular
	 * file holding exactly its bytes, or -1 (with errno).  Called on
	 * the loop and must not block for long (an open(2)); the host owns
	 * the descriptor.  It lets a copy to another sink hand the file to
	 * a tool that reads it itself (host->put_file).
	 */
	int	(*get_file)(void *ctx, const char *key);
};

#ifdef __cplusplus
}
#endif

#endif /* ZENTORIA_PLUGIN_H */
