/*
 * rclone_job.c - one operations/copyfile of a local file to the remote,
 * run as an asynchronous job of the sink's `rclone rcd' (rclone_rcd.c).
 *
 * A copy from a `local' sink hands the put the origin's file (ABI 1.7
 * host->put_file).  rclone then reads the file itself, as `rclone
 * copyto' does: with its read-ahead buffer, in the server that is
 * already up, so a big object costs no process start and no pipe.
 * `rclone rcat' reading a pipe of ours, fed by splice(2), ran the upload
 * of bench/rclone.sh's GiB 0.25 to 0.4 s slower than `rclone copyto'
 * of the file (a process start, and 32 KiB reads from a pipe refilled by
 * another process on the same two CPUs).
 *
 * The job is started with _async, then polled every RCLONE_JOB_POLL_MS
 * with job/status until it finished; while the caller wants progress
 * (its check of the same bytes ran ahead), core/stats of the job's
 * group says how many bytes rclone has read.  Stopping is job/stop; the
 * end is still reported once the job says it finished, so that the
 * caller removes the temporary only when nothing writes it any more.
 * The server dies with this process (its watchdog), and the job with it.
 *
 * At most one call to the server is in flight per job; the job frees
 * itself after on_end returned.
 */
#include "zb-build.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rclone.h"

#define RCLONE_JOB_POLL_MS	20

struct rc_job {
	struct rclone		*rc;
	int64_t			 id;		/* 0 until started */
	int			 calling;	/* a call is in flight */
	int			 want_progress;
	int			 stop;		/* asked; stop_sent once sent */
	int			 stop_sent;
	struct zb_timer		*timer;
	rc_job_progress_fn	 on_progress;
	rc_job_end_fn		 on_end;
	void			*arg;
	struct zb_buf		 start;		/* the copyfile call's body */
	char			 what[200];
};

static void	job_poll(struct rc_job *);

static void
job_end(struct rc_job *j, int ok, const char *err)
{
	struct rclone	*rc = j->rc;

	if (j->timer != NULL)
		rc->host->timer_del(j->timer);
	j->timer = NULL;
	rc->host->buf_free(&j->start);
	j->on_end(j->arg, ok, err != NULL ? err : "");
	free(j);
	rclone_unref(rc);
}

static void
on_timer(void *arg)
{
	struct rc_job	*j = arg;

	j->timer = NULL;
	job_poll(j);
}

static void
job_wait(struct rc_job *j)
{
	j->timer = j->rc->host->timer_add(RCLONE_JOB_POLL_MS, on_timer, j);
	if (j->timer == NULL)
		job_poll(j);	/* no timer: ask again at once */
}

static void
stats_done(void *arg, int ok, const struct zb_json *root, const char *err)
{
	struct rc_job		*j = arg;
	const struct zb_json	*v;
	int64_t			 n;

	(void)err;
	j->calling = 0;
	if (ok && (v = j->rc->host->json_get(root, "bytes")) != NULL &&
	    j->rc->host->json_int(v, &n) == ZB_OK && n >= 0)
		j->on_progress(j->arg, (uint64_t)n);
	job_wait(j);
}

static void
stop_done(void *arg, int ok, const struct zb_json *root, const char *err)
{
	struct rc_job	*j = arg;

	(void)root;
	j->calling = 0;
	if (!ok)
		j->rc->host->log(j->rc->inst, ZB_LOG_DEBUG, "%s: job/stop: "
		    "%s", j->what, err);
	job_wait(j);	/* until job/status says it finished */
}

static void
status_done(void *arg, int ok, const struct zb_json *root, const char *err)
{
	struct rc_job		*j = arg;
	const struct zb_host_api *h = j->rc->host;
	const struct zb_json	*fin, *suc, *e;
	struct zb_buf		 b;
	char			 msg[700];

	j->calling = 0;
	if (!ok) {
		/* The server is gone (and the job with it), or knows no
		 * such job any more. */
		snprintf(msg, sizeof(msg), "job/status: %s", err);
		job_end(j, 0, msg);
		return;
	}
	fin = h->json_get(root, "finished");
	if (fin != NULL && fin->type == ZB_JSON_BOOL && fin->boolean) {
		suc = h->json_get(root, "success");
		e = h->json_get(root, "error");
		job_end(j, suc != NULL && suc->type == ZB_JSON_BOOL &&
		    suc->boolean, e != NULL && e->type == ZB_JSON_STRING &&
		    e->str[0] != '\0' ? e->str : "it failed");
		return;
	}
	memset(&b, 0, sizeof(b));
	h->buf_init(&b, 256);
	if (j->stop && !j->stop_sent) {
		j->stop_sent = 1;
		j->calling = 1;
		h->buf_printf(&b, "{\"jobid\":%" PRId64 "}", j->id);
		rclone_rcd_call(j->rc, "job/stop", &b, j->what, stop_done, j);
	} else if (j->want_progress && !j->stop) {
		j->calling = 1;
		h->buf_printf(&b, "{\"group\":\"job/%" PRId64 "\"}", j->id);
		rclone_rcd_call(j->rc, "core/stats", &b, j->what, stats_done,
		    j);
	} else {
		h->buf_free(&b);
		job_wait(j);
	}
}

static void
job_poll(struct rc_job *j)
{
	struct zb_buf	 b;

	memset(&b, 0, sizeof(b));
	j->rc->host->buf_init(&b, 256);
	j->rc->host->buf_printf(&b, "{\"jobid\":%" PRId64 "}", j->id);
	j->calling = 1;
	rclone_rcd_call(j->rc, "job/status", &b, j->what, status_done, j);
}

static void
start_done(void *arg, int ok, const struct zb_json *root, const char *err)
{
	struct rc_job		*j = arg;
	const struct zb_json	*v;
	int64_t			 id;

	j->calling = 0;
	if (!ok) {
		job_end(j, 0, err);
		return;
	}
	v = j->rc->host->json_get(root, "jobid");
	if (v == NULL || j->rc->host->json_int(v, &id) != ZB_OK || id <= 0) {
		job_end(j, 0, "rclone rcd answered no job id");
		return;
	}
	j->id = id;
	job_poll(j);	/* sends job/stop first if asked meanwhile */
}

/* From the loop, so that on_end never comes before the start returned. */
static void
on_start(void *arg)
{
	struct rc_job	*j = arg;

	j->timer = NULL;
	j->calling = 1;
	rclone_rcd_call(j->rc, "operations/copyfile", &j->start, j->what,
	    start_done, j);
}

struct rc_job *
rclone_job_copyfile(struct rclone *rc, const char *src_dir,
    const char *src_name, const char *dst_rel, const char *what,
    rc_job_progress_fn on_progress, rc_job_end_fn on_end, void *arg)
{
	const struct zb_host_api *h = rc->host;
	struct rc_job	*j;
	struct zb_buf	*b;
	char		*src_fs;

	j = calloc(1, sizeof(*j));
	if (j == NULL || asprintf(&src_fs, ":local:%s", src_dir) == -1) {
		free(j);
		return NULL;
	}
	j->rc = rc;
	rc->refs++;
	j->on_progress = on_progress;
	j->on_end = on_end;
	j->arg = arg;
	snprintf(j->what, sizeof(j->what), "%s", what);
	b = &j->start;
	h->buf_init(b, 64 * 1024);
	h->buf_printf(b, "{\"srcFs\":");
	h->buf_json_str(b, src_fs);
	h->buf_printf(b, ",\"srcRemote\":");
	h->buf_json_str(b, src_name);
	h->buf_add(b, ",", 1);
	rclone_rcd_fs(rc, b, "dstFs");
	h->buf_printf(b, ",\"dstRemote\":");
	h->buf_json_str(b, dst_rel);
	h->buf_printf(b, ",\"_async\":true}");
	free(src_fs);
	j->timer = b->failed || b->data == NULL ? NULL :
	    h->timer_add(0, on_start, j);
	if (j->timer == NULL) {
		h->buf_free(b);
		free(j);
		rclone_unref(rc);
		return NULL;
	}
	return j;
}

void
rclone_job_want_progress(struct rc_job *j, int on)
{
	j->want_progress = on;
}

void
rclone_job_stop(struct rc_job *j)
{
	j->stop = 1;
	/* Not started yet (on_start pending): start_done sends the stop. */
	if (j->id != 0 && !j->calling && j->timer != NULL) {
		j->rc->host->timer_del(j->timer);
		j->timer = NULL;
		job_poll(j);
	}
}
