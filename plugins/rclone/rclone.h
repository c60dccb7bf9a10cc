/*
 * rclone.h - the `rclone' sink's shared declarations: the instance, the
 * rclone child runner (rclone_run.c), the lsjson line parser
 * (rclone_json.c) and the operations (put, get, list, remove).
 */
#ifndef ZB_RCLONE_H
#define ZB_RCLONE_H

#include <sys/queue.h>
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <zentoria/plugin.h>

#define RCLONE_ARGS_MAX		48	/* argv slots of one child */
#define RCLONE_ONEDRIVE_UNIT	(320 * 1024)	/* chunk size multiple */
#define RCLONE_TMP_TAG		".zb-"	/* .NAME.zb-XXXXXXXX temporaries */

struct rc_cmd;
struct rcd;

/* A put waiting for an upload slot (max_uploads). */
struct rc_waiter {
	TAILQ_ENTRY(rc_waiter)	 entry;
	void			(*start)(void *arg);
	void			*arg;
	int			 queued;
};
TAILQ_HEAD(rc_waiters, rc_waiter);

struct rclone {
	const struct zb_host_api *host;
	struct zb_inst		*inst;
	char			*remote;	/* "name:path", no trailing / */
	char			*config;	/* rclone_config */
	char			*binary;	/* resolved rclone path */
	char			*temp_dir;
	char			*bwlimit;
	char			*log_level;	/* NOTICE, INFO or DEBUG */
	char			*pass;		/* RCLONE_CONFIG_PASS=..., or
						   NULL */
	size_t			 pass_len;
	char			**unset;	/* inherited RCLONE_* names */
	size_t			 nunset;
	int64_t			 chunk_size;	/* onedrive_chunk_size; 0 */
	int64_t			 timeout_ms;	/* core `timeout' */
	int			 max_uploads;
	int			 uploads;	/* running rcat children */
	int			 busy;		/* puts and gets open: the rcd
						   stays up */
	struct rc_waiters	 waiters;
	struct rcd		*rcd;		/* rclone rcd, once started */
	int			 refs;		/* instance + operations */
	int			 finished;	/* fini() was called */
};

/* ---- rclone.c ------------------------------------------------------------ */
void	 rclone_unref(struct rclone *);
/* "remote/key" as rclone's argument (malloc'ed). */
char	*rclone_path(struct rclone *, const char *key);
int	 rclone_key_ok(const char *key);
/* Upload slots: start() runs now or when a slot frees. */
void	 rclone_slot_wait(struct rclone *, struct rc_waiter *);
void	 rclone_slot_cancel(struct rclone *, struct rc_waiter *);
void	 rclone_slot_release(struct rclone *);

/* ---- rclone_run.c -------------------------------------------------------- */
/*
 * One rclone child.  argv holds the subcommand and its arguments only;
 * the runner adds the binary, --config, logging and the common flags,
 * and runs it under `env -u' for every inherited RCLONE_* variable.
 * Its log lines (its stderr, a pipe of ours) are logged at the level
 * rclone gave them.  on_line, when set, gets each stdout line
 * (want_stdout is implied).  on_exit runs once the child exited and its
 * stdout (if read here) and log reached end of file: ok is 1 for exit 0;
 * code the exit status (or 128 + signal); err the last ERROR line or "".
 * The command frees itself after on_exit returns.
 */
struct rc_cmd_spec {
	const char	*const *argv;
	int		 want_stdin;
	int		 want_stdout;
	void		(*on_line)(void *arg, char *line);
	void		(*on_exit)(void *arg, int ok, int code,
			    const char *err);
	void		*arg;
	const char	*what;		/* for log lines: "put KEY" */
	int		 quiet;		/* errors are expected: log them at
					   debug level (list, remove) */
	const char	*const *env;	/* NAME=value entries to add, or NULL */
	/* Optional: each log line's text (after it was logged). */
	void		(*on_log)(void *arg, const char *msg);
	int		 watchdog;	/* a server (rcd): it lives as long as
					   the stdin pipe the caller holds */
};

struct rc_cmd	*rc_cmd_start(struct rclone *, const struct rc_cmd_spec *,
		    int *stdin_fd, int *stdout_fd);
/* Stop the child (SIGTERM); on_exit still runs. */
void		 rc_cmd_kill(struct rc_cmd *);
/* Forget the callbacks: on_exit will not run. */
void		 rc_cmd_detach(struct rc_cmd *);
/* rclone's log level word ("ERROR", "NOTICE"...) to ours; -1: none. */
int		 rc_log_level(const char *line, const char **msg);

/* ---- rclone_rcd.c -------------------------------------------------------- */
/*
 * One call of rclone's rc API on the sink's `rclone rcd' (started on
 * first use): method like "operations/movefile", body a JSON object
 * (taken over and freed, also on failure).  done gets ok 1 and the
 * parsed answer (borrowed until it returns), or ok 0 and the error
 * (rclone's own text for an rc error).  Never before the call returned.
 */
typedef void	(*rcd_done_fn)(void *arg, int ok, const struct zb_json *root,
		    const char *err);
void	 rclone_rcd_call(struct rclone *, const char *method,
	    struct zb_buf *body, const char *what, rcd_done_fn, void *arg);
/* The same with a query string ("?a=b") and a body of another type. */
void	 rclone_rcd_post(struct rclone *, const char *method,
	    const char *query, const char *content_type, struct zb_buf *body,
	    const char *what, rcd_done_fn, void *arg);
/* Append s percent-encoded for a query string; 0 or -1. */
int	 rclone_rcd_query_str(struct rclone *, struct zb_buf *, const char *s);
/* Append "member":"<the sink's remote>" to a JSON object being built. */
int	 rclone_rcd_fs(struct rclone *, struct zb_buf *, const char *member);
/* Start a body {"fs":"<remote>","remote":"<rel>" (the caller adds the
 * rest and the closing brace; a failed append is sticky in b). */
void	 rclone_rcd_body(struct rclone *, struct zb_buf *b, const char *rel);
/* operations/deletefile of rel (below the sink's remote). */
void	 rclone_rcd_deletefile(struct rclone *, const char *rel,
	    const char *what, rcd_done_fn, void *arg);
/*
 * When the server is up: the URL of object key (below the sink's remote)
 * as the server serves it (--rc-serve: GET /[REMOTE]/KEY) appended to
 * url, and its Authorization header value in *auth (valid while the
 * server runs); 0.  -1: the server is not up (the caller runs `rclone
 * cat'), or a buffer failed.
 */
int	 rclone_rcd_object_url(struct rclone *, const char *key,
	    struct zb_buf *url, const char **auth);
/* n bytes as lower-case hex into out (2n + 1 bytes). */
void	 rclone_hex(const unsigned char *p, size_t n, char *out);
/* A call or a put ended: stop the server once nothing is left to do. */
void	 rclone_rcd_idle(struct rclone *);
void	 rclone_rcd_stop(struct rclone *);	/* fini */
void	 rclone_rcd_free(struct rclone *);	/* last unref */

/* ---- rclone_job.c -------------------------------------------------------- */
/*
 * operations/copyfile of the local file SRC_DIR/SRC_NAME to dst_rel
 * (below the sink's remote) as an asynchronous job of the sink's rclone
 * rcd, polled until it finished.  on_progress gets the bytes rclone has
 * read while progress is wanted; on_end comes once (never before this
 * returned), when the job finished or could not be followed, and the job
 * is freed after it.  NULL: out of memory (no callback).
 */
struct rc_job;
typedef void	(*rc_job_progress_fn)(void *arg, uint64_t bytes);
typedef void	(*rc_job_end_fn)(void *arg, int ok, const char *err);
struct rc_job	*rclone_job_copyfile(struct rclone *, const char *src_dir,
		    const char *src_name, const char *dst_rel,
		    const char *what, rc_job_progress_fn, rc_job_end_fn,
		    void *arg);
void		 rclone_job_want_progress(struct rc_job *, int on);
/* Ask rclone to stop the job; on_end still comes when it has. */
void		 rclone_job_stop(struct rc_job *);

/* ---- rclone_json.c ------------------------------------------------------- */
/* One object of `rclone lsjson' output (pointers into the line). */
struct rc_entry {
	char		*path;
	int64_t		 size;
	time_t		 mtime;
	int		 is_dir;
	char		*sha256;	/* lower-case hex, or NULL */
};
/* Parse one line of lsjson output; 1: an entry, 0: not one ("[", "]"),
 * -1: malformed.  Decodes strings in place. */
int	 rc_json_entry(char *line, struct rc_entry *);
time_t	 rc_json_time(const char *rfc3339);

/* ---- operations ---------------------------------------------------------- */
int	 rclone_put_open(void *, struct zb_io *, const char *,
	    const struct zb_writer_ops **, void **);
int	 rclone_get_open(void *, struct zb_io *, const char *,
	    const struct zb_producer_ops **, void **);
int	 rclone_list(void *, struct zb_io *, const char *);
int	 rclone_list_pending(void *, struct zb_io *, const char *);
int	 rclone_remove(void *, struct zb_io *, const char *);
int	 rclone_remove_pending(void *, struct zb_io *, const char *,
	    const char *);
/* ".NAME.zb-XXXXXXXX": the length of NAME, or 0. */
size_t	 rclone_tmp_target_len(const char *base);

#endif /* ZB_RCLONE_H */
