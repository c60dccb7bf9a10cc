/*
 * metrics.c - owns state_dir/metrics/<job>.json (what each job x source
 * x stream x sink copy did last, and its cumulative byte counts: merged
 * in by the job queue when a run ends, under an flock), the Prometheus
 * text exposition (format 0.0.4) of it, of the job and check state files
 * and of the daemon's live view, and the metrics_textfile writer.
 */
#include "zb-build.h"

#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#define METRICS_MAX_FILE	(4 << 20)

static const char *const outcomes[] = {
	"ok", "partial", "failed", "aborted", "interrupted"
};
#define NOUTCOMES	METRICS_NOUTCOMES

char *
metrics_copies_path(const char *state_dir, const char *job)
{
	struct buf	 b;

	buf_init(&b, SIZE_MAX);
	(void)buf_printf(&b, "%s/metrics/%s.json", state_dir, job);
	return buf_take(&b);
}

void
metrics_copies_free(struct obs_copies *c)
{
	size_t	 i;

	for (i = 0; i < c->n; i++) {
		free((char *)c->v[i].job);
		free((char *)c->v[i].source);
		free((char *)c->v[i].stream);
		free((char *)c->v[i].sink);
	}
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

static struct obs_copy *
copies_add(struct obs_copies *c, const char *job, const char *source,
    const char *stream, const char *sink)
{
	struct obs_copy	*o;

	c->v = xreallocarray(c->v, c->n + 1, sizeof(*c->v));
	o = &c->v[c->n++];
	memset(o, 0, sizeof(*o));
	o->job = xstrdup(job);
	o->source = xstrdup(source);
	o->stream = xstrdup(stream);
	o->sink = xstrdup(sink);
	return o;
}

static struct obs_copy *
copies_find(struct obs_copies *c, const char *source, const char *stream,
    const char *sink)
{
	size_t	 i;

	for (i = 0; i < c->n; i++)
		if (strcmp(c->v[i].source, source) == 0 &&
		    strcmp(c->v[i].stream, stream) == 0 &&
		    strcmp(c->v[i].sink, sink) == 0)
			return &c->v[i];
	return NULL;
}

static double
get_num(const struct json *o, const char *key)
{
	const struct json	*v = json_get(o, key);

	return v != NULL && v->type == JSON_NUMBER ? v->num : 0;
}

/* Parse text (of path) into *c and the run counts into runs[]. */
static int
copies_parse(const char *path, const char *job, const char *text,
    size_t len, struct obs_copies *c, uint64_t *runs, char *err,
    size_t errlen)
{
	struct json		*root;
	const struct json	*a, *e, *r;
	const char		*jerr, *src, *stream, *sink;
	struct obs_copy		*o;
	size_t			 pos, i;

	root = json_parse(text, len, &jerr, &pos);
	if (root == NULL) {
		snprintf(err, errlen, "%s: not JSON at byte %zu: %s", path,
		    pos, jerr);
		return -1;
	}
	if (root->type != JSON_OBJECT || json_get_str(root, "job") == NULL ||
	    strcmp(json_get_str(root, "job"), job) != 0) {
		snprintf(err, errlen, "%s: not the metrics of job %s", path,
		    job);
		json_free(root);
		return -1;
	}
	r = json_get(root, "runs");
	for (i = 0; runs != NULL && r != NULL && i < NOUTCOMES; i++)
		runs[i] = (uint64_t)get_num(r, outcomes[i]);
	a = json_get(root, "copies");
	for (e = a != NULL ? a->child : NULL; e != NULL; e = e->next) {
		src = json_get_str(e, "source");
		stream = json_get_str(e, "stream");
		sink = json_get_str(e, "sink");
		if (src == NULL || stream == NULL || sink == NULL) {
			snprintf(err, errlen, "%s: a copy without source, "
			    "stream or sink", path);
			json_free(root);
			return -1;
		}
		o = copies_add(c, job, src, stream, sink);
		o->last_run = (time_t)get_num(e, "last_run");
		o->last_success = (time_t)get_num(e, "last_success");
		o->success = get_num(e, "success") != 0;
		o->duration_s = get_num(e, "duration_s");
		o->size_bytes = (uint64_t)get_num(e, "size_bytes");
		o->read_total = (uint64_t)get_num(e, "read_total");
		o->stored_total = (uint64_t)get_num(e, "stored_total");
		o->backpressure_s = get_num(e, "backpressure_s");
	}
	json_free(root);
	return 0;
}

static int
read_file(const char *path, char **text, size_t *len, char *err,
    size_t errlen)
{
	FILE	*f;
	char	*t;
	size_t	 n;

	*text = NULL;
	*len = 0;
	f = fopen(path, "r");
	if (f == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	t = xcalloc(1, METRICS_MAX_FILE + 1);
	n = fread(t, 1, METRICS_MAX_FILE + 1, f);
	if (ferror(f) || n > METRICS_MAX_FILE) {
		snprintf(err, errlen, "%s: %s", path, ferror(f) ?
		    strerror(errno) : "too large");
		fclose(f);
		free(t);
		return -1;
	}
	fclose(f);
	*text = t;
	*len = n;
	return 0;
}

static int
load_runs(const char *state_dir, const char *job, struct obs_copies *c,
    uint64_t *runs, char *err, size_t errlen)
{
	char	*path, *text;
	size_t	 len;
	int	 rc = 0;

	path = metrics_copies_path(state_dir, job);
	if (read_file(path, &text, &len, err, errlen) == -1)
		rc = -1;
	else if (text != NULL)
		rc = copies_parse(path, job, text, len, c, runs, err, errlen);
	free(text);
	free(path);
	return rc;
}

int
metrics_copies_load(const char *state_dir, const char *job,
    struct obs_copies *c, char *err, size_t errlen)
{
	return load_runs(state_dir, job, c, NULL, err, errlen);
}

/* The runs per outcome of job (zero when no file). */
static int
metrics_runs_load(const char *state_dir, const char *job, uint64_t *runs,
    char *err, size_t errlen)
{
	struct obs_copies	 c = { NULL, 0 };
	int			 rc;

	rc = load_runs(state_dir, job, &c, runs, err, errlen);
	metrics_copies_free(&c);
	return rc;
}

static char *
copies_encode(const char *job, const struct obs_copies *c,
    const uint64_t *runs)
{
	struct buf		 b;
	const struct obs_copy	*o;
	size_t			 i;

	buf_init(&b, SIZE_MAX);
	(void)buf_puts(&b, "{\n  \"kind\": \"metrics\",\n  \"job\": ");
	(void)buf_json_str(&b, job);
	(void)buf_puts(&b, ",\n  \"runs\": {");
	for (i = 0; i < NOUTCOMES; i++)
		(void)buf_printf(&b, "%s\"%s\": %" PRIu64, i ? ", " : "",
		    outcomes[i], runs[i]);
	(void)buf_puts(&b, "},\n  \"copies\": [");
	for (i = 0; i < c->n; i++) {
		o = &c->v[i];
		(void)buf_puts(&b, i ? ",\n    {" : "\n    {");
		(void)buf_puts(&b, "\"source\": ");
		(void)buf_json_str(&b, o->source);
		(void)buf_puts(&b, ", \"stream\": ");
		(void)buf_json_str(&b, o->stream);
		(void)buf_puts(&b, ", \"sink\": ");
		(void)buf_json_str(&b, o->sink);
		(void)buf_printf(&b, ", \"last_run\": %lld, \"last_success\": "
		    "%lld, \"success\": %d, \"duration_s\": %.3f, "
		    "\"size_bytes\": %" PRIu64 ", \"read_total\": %" PRIu64
		    ", \"stored_total\": %" PRIu64 ", \"backpressure_s\": "
		    "%.3f}", (long long)o->last_run,
		    (long long)o->last_success, o->success, o->duration_s,
		    o->size_bytes, o->read_total, o->stored_total,
		    o->backpressure_s);
	}
	(void)buf_puts(&b, "\n  ]\n}\n");
	return buf_take(&b);
}

static int
outcome_index(const char *outcome)
{
	size_t	 i;

	for (i = 0; i < NOUTCOMES; i++)
		if (strcmp(outcomes[i], outcome) == 0)
			return (int)i;
	return -1;
}

int
metrics_record_run(const char *state_dir, const char *job,
    const char *source, const char *const *sinks, const char *outcome,
    time_t end, const struct run_summary *s, char *err, size_t errlen)
{
	struct obs_copies	 c = { NULL, 0 };
	uint64_t		 runs[NOUTCOMES];
	struct obs_copy		*o;
	const struct run_copy	*rc;
	char			*path, *lock, *dir, *text;
	size_t			 i;
	int			 fd, rv = -1, k;

	memset(runs, 0, sizeof(runs));
	path = metrics_copies_path(state_dir, job);
	dir = xstrdup(path);
	*strrchr(dir, '/') = '\0';
	(void)mkdir(dir, 0700);
	free(dir);
	lock = xcalloc(1, strlen(path) + 6);
	memcpy(lock, path, strlen(path));
	memcpy(lock + strlen(path), ".lock", 5);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", lock, strerror(errno));
		goto out;
	}
	while (flock(fd, LOCK_EX) == -1)
		if (errno != EINTR) {
			snprintf(err, errlen, "%s: flock: %s", lock,
			    strerror(errno));
			goto out;
		}
	if (load_runs(state_dir, job, &c, runs, err, errlen) == -1) {
		/* a refused file starts afresh (said in the log) */
		log_warnx("%s; its metrics start afresh", err);
		metrics_copies_free(&c);
		memset(runs, 0, sizeof(runs));
	}
	k = outcome_index(outcome);
	if (k >= 0)
		runs[k]++;
	for (i = 0; s != NULL && i < s->ncopies; i++) {
		rc = &s->copies[i];
		o = copies_find(&c, source, rc->stream, sinks[rc->sink]);
		if (o == NULL)
			o = copies_add(&c, job, source, rc->stream,
			    sinks[rc->sink]);
		o->last_run = end;
		o->success = rc->committed;
		o->read_total += rc->plain_bytes;
		o->backpressure_s += rc->backpressure_s;
		if (rc->committed) {
			o->last_success = end;
			o->duration_s = rc->duration_s;
			o->size_bytes = rc->stored_bytes;
			o->stored_total += rc->stored_bytes;
		}
	}
	text = copies_encode(job, &c, runs);
	rv = jobstate_write_atomic(path, text, err, errlen);
	free(text);
out:
	if (fd != -1)
		close(fd);	/* (unlocks) */
	metrics_copies_free(&c);
	free(lock);
	free(path);
	return rv;
}

/* ---- copies retention kept ----------------------------------------------- */

/*
 * state_dir/metrics/retained.json: {"version": 1, "retained": [{"sink",
 * "source", "copies", "time"}, ...]}, one entry per sink and source, the
 * count of the last retention pass there.
 */
static char *
retained_path(const char *state_dir)
{
	return xasprintf("%s/metrics/retained.json", state_dir);
}

static int
retained_load(const char *state_dir, struct metrics_retained **out,
    size_t *n, char *err, size_t errlen)
{
	struct json		*root;
	const struct json	*a, *e;
	const char		*jerr;
	char			*path, *text;
	size_t			 len, errpos, i = 0;
	int64_t			 copies, t;

	*out = NULL;
	*n = 0;
	path = retained_path(state_dir);
	if (read_file(path, &text, &len, err, errlen) == -1) {
		free(path);
		return -1;
	}
	if (text == NULL) {
		free(path);
		return 0;
	}
	root = json_parse(text, len, &jerr, &errpos);
	free(text);
	a = root != NULL ? json_get(root, "retained") : NULL;
	if (a == NULL || a->type != JSON_ARRAY) {
		snprintf(err, errlen, "%s: refused: %s", path, root == NULL ?
		    jerr : "no \"retained\" array");
		json_free(root);
		free(path);
		return -1;
	}
	for (e = a->child; e != NULL; e = e->next)
		i++;
	*out = xcalloc(i + 1, sizeof(**out));
	for (e = a->child; e != NULL; e = e->next) {
		const char	*sink = json_get_str(e, "sink");
		const char	*source = json_get_str(e, "source");

		if (sink == NULL || source == NULL ||
		    json_get_i64(e, "copies", &copies) == -1 || copies < 0 ||
		    json_get_i64(e, "time", &t) == -1)
			continue;	/* (a damaged entry: left out) */
		(*out)[*n].sink = xstrdup(sink);
		(*out)[*n].source = xstrdup(source);
		(*out)[*n].copies = (uint64_t)copies;
		(*out)[*n].time = (time_t)t;
		(*n)++;
	}
	json_free(root);
	free(path);
	return 0;
}

void
metrics_retained_free(struct metrics_retained *r, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(r[i].sink);
		free(r[i].source);
	}
	free(r);
}

int
metrics_record_retained(const char *state_dir, const char *sink,
    const char *source, uint64_t copies, char *err, size_t errlen)
{
	struct metrics_retained	*r = NULL;
	struct buf		 b;
	char			*path, *lock, *text;
	size_t			 i, n = 0;
	int			 fd, rv = -1, first = 1;

	path = retained_path(state_dir);
	text = xasprintf("%s/metrics", state_dir);
	(void)mkdir(text, 0700);
	free(text);
	lock = xasprintf("%s.lock", path);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", lock, strerror(errno));
		goto out;
	}
	while (flock(fd, LOCK_EX) == -1)
		if (errno != EINTR) {
			snprintf(err, errlen, "%s: flock: %s", lock,
			    strerror(errno));
			goto out;
		}
	if (retained_load(state_dir, &r, &n, err, errlen) == -1) {
		log_warnx("%s; it starts afresh", err);
		r = NULL;
		n = 0;
	}
	buf_init(&b, SIZE_MAX);
	buf_puts(&b, "{\"version\": 1, \"retained\": [");
	for (i = 0; i <= n; i++) {
		const char	*sk, *so;
		uint64_t	 c;
		time_t		 t;

		if (i < n && strcmp(r[i].sink, sink) == 0 &&
		    strcmp(r[i].source, source) == 0)
			continue;	/* replaced by the last entry */
		if (i == n) {
			sk = sink, so = source, c = copies, t = time(NULL);
		} else {
			sk = r[i].sink, so = r[i].source, c = r[i].copies;
			t = r[i].time;
		}
		buf_puts(&b, first ? "\n  {\"sink\": " : ",\n  {\"sink\": ");
		first = 0;
		(void)buf_json_str(&b, sk);
		buf_puts(&b, ", \"source\": ");
		(void)buf_json_str(&b, so);
		buf_printf(&b, ", \"copies\": %" PRIu64 ", \"time\": %lld}",
		    c, (long long)t);
	}
	buf_puts(&b, "]}\n");
	text = buf_take(&b);
	rv = jobstate_write_atomic(path, text, err, errlen);
	free(text);
out:
	if (fd != -1)
		close(fd);	/* (unlocks) */
	metrics_retained_free(r, n);
	free(lock);
	free(path);
	return rv;
}

/* ---- rendering -------------------------------------------------------- */

void
metrics_escape(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			(void)buf_puts(b, "\\\\");
		else if (*s == '"')
			(void)buf_puts(b, "\\\"");
		else if (*s == '\n')
			(void)buf_puts(b, "\\n");
		else
			(void)buf_add(b, s, 1);
	}
}

static void
family(struct buf *b, const char *name, const char *type, const char *help)
{
	(void)buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	    type);
}

static void
num(struct buf *b, double v)
{
	if (isnan(v))
		(void)buf_puts(b, "NaN");
	else if (isinf(v))
		(void)buf_puts(b, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 1e15)
		(void)buf_printf(b, "%.0f", v);
	else
		(void)buf_printf(b, "%.15g", v);
}

/* name{l1="v1",...} value\n; labels NULL-terminated name, value pairs */
static void
sample(struct buf *b, const char *name, const char *const *labels, double v)
{
	size_t	 i;

	(void)buf_puts(b, name);
	if (labels[0] != NULL) {
		(void)buf_puts(b, "{");
		for (i = 0; labels[i] != NULL; i += 2) {
			(void)buf_printf(b, "%s%s=\"", i ? "," : "",
			    labels[i]);
			metrics_escape(b, labels[i + 1]);
			(void)buf_puts(b, "\"");
		}
		(void)buf_puts(b, "}");
	}
	(void)buf_puts(b, " ");
	num(b, v);
	(void)buf_puts(b, "\n");
}

enum copy_field {
	CF_LAST_RUN, CF_LAST_SUCCESS, CF_DURATION, CF_SIZE, CF_SUCCESS,
	CF_AGE, CF_READ, CF_STORED, CF_BACKPRESSURE
};

static const struct {
	const char	*name, *type, *help;
} copy_families[] = {
	{ "backup_last_run_timestamp", "gauge",
	  "Unix time of the last run of the copy (job, source, stream, sink)." },
	{ "backup_last_success_timestamp", "gauge",
	  "Unix time of the last committed copy; 0: never." },
	{ "backup_duration_seconds", "gauge",
	  "Duration of the last committed copy." },
	{ "backup_size_bytes", "gauge",
	  "Stored size of the last committed copy." },
	{ "backup_success", "gauge",
	  "1 if the last run committed the copy, else 0." },
	{ "backup_age_hours", "gauge",
	  "Hours since the last committed copy; +Inf: never." },
	{ "backup_bytes_read_total", "counter",
	  "Plaintext bytes read from the source for the copy." },
	{ "backup_bytes_stored_total", "counter",
	  "Bytes stored on the sink by committed copies." },
	{ "backup_backpressure_seconds_total", "counter",
	  "Seconds the source was paused because the sink was slower." },
};

/* What the running streams add to o's counters. */
static double
copy_live(const struct metrics_input *in, const struct obs_copy *o,
    enum copy_field f)
{
	const struct obs_running	*r;
	double				 v = 0;
	size_t				 i;

	for (i = 0; i < in->nrunning; i++) {
		r = &in->running[i];
		if (strcmp(r->job, o->job) != 0 ||
		    strcmp(r->stream, o->stream) != 0 ||
		    (r->sink != NULL && strcmp(r->sink, o->sink) != 0))
			continue;
		if (f == CF_READ)
			v += (double)r->bytes;
		else if (f == CF_BACKPRESSURE)
			v += r->backpressure_s;
	}
	return v;
}

static double
copy_value(const struct obs_copy *o, enum copy_field f, time_t now)
{
	switch (f) {
	case CF_LAST_RUN:
		return (double)o->last_run;
	case CF_LAST_SUCCESS:
		return (double)o->last_success;
	case CF_DURATION:
		return o->duration_s;
	case CF_SIZE:
		return (double)o->size_bytes;
	case CF_SUCCESS:
		return o->success;
	case CF_AGE:
		if (o->last_success == 0)
			return INFINITY;
		return now > o->last_success ?
		    (double)(now - o->last_success) / 3600.0 : 0;
	case CF_READ:
		return (double)o->read_total;
	case CF_STORED:
		return (double)o->stored_total;
	default:
		return o->backpressure_s;
	}
}

void
metrics_render(struct buf *b, const struct metrics_input *in)
{
	const char	*l[9];
	size_t		 f, i, k;
	char		 kind[16];

	for (f = 0; f < sizeof(copy_families) / sizeof(copy_families[0]);
	    f++) {
		family(b, copy_families[f].name, copy_families[f].type,
		    copy_families[f].help);
		for (i = 0; i < in->ncopies; i++) {
			const struct obs_copy	*o = &in->copies[i];

			l[0] = "job", l[1] = o->job;
			l[2] = "source", l[3] = o->source;
			l[4] = "stream", l[5] = o->stream;
			l[6] = "sink", l[7] = o->sink;
			l[8] = NULL;
			sample(b, copy_families[f].name, l,
			    copy_value(o, (enum copy_field)f, in->now) +
			    copy_live(in, o, (enum copy_field)f));
		}
	}
	family(b, "backup_runs_total", "counter",
	    "Runs of the job by outcome.");
	for (i = 0; i < in->njobs; i++)
		for (k = 0; k < NOUTCOMES; k++) {
			l[0] = "job", l[1] = in->jobs[i].name;
			l[2] = "outcome", l[3] = outcomes[k];
			l[4] = NULL;
			sample(b, "backup_runs_total", l,
			    (double)in->jobs[i].runs[k]);
		}
	family(b, "backup_running", "gauge", "1 while the job runs.");
	for (i = 0; i < in->njobs; i++) {
		l[0] = "job", l[1] = in->jobs[i].name, l[2] = NULL;
		sample(b, "backup_running", l, in->jobs[i].running);
	}
	family(b, "backup_next_run_timestamp", "gauge",
	    "Unix time of the job's next scheduled run.");
	for (i = 0; i < in->njobs; i++) {
		if (in->jobs[i].next_run == 0)
			continue;
		l[0] = "job", l[1] = in->jobs[i].name, l[2] = NULL;
		sample(b, "backup_next_run_timestamp", l,
		    (double)in->jobs[i].next_run);
	}
	family(b, "backup_rpo_seconds", "gauge",
	    "The job's recovery point objective (rpo, or from its schedule).");
	for (i = 0; i < in->njobs; i++) {
		if (in->jobs[i].rpo_s <= 0)
			continue;
		l[0] = "job", l[1] = in->jobs[i].name, l[2] = NULL;
		sample(b, "backup_rpo_seconds", l, in->jobs[i].rpo_s);
	}
	family(b, "backup_buffer_bytes", "gauge",
	    "Stream buffer memory in use and its budget.");
	l[0] = "state", l[1] = "in_use", l[2] = NULL;
	sample(b, "backup_buffer_bytes", l, (double)in->buffer_in_use);
	l[1] = "budget";
	sample(b, "backup_buffer_bytes", l, (double)in->buffer_budget);
	family(b, "backup_verify_success", "gauge",
	    "1 if the check's last run found every copy good, else 0.");
	for (i = 0; i < in->nchecks; i++) {
		if (in->checks[i].st.last_end == 0)
			continue;
		l[0] = "check", l[1] = in->checks[i].name;
		l[2] = "kind", l[3] = in->checks[i].kind, l[4] = NULL;
		sample(b, "backup_verify_success", l,
		    strcmp(in->checks[i].st.outcome, "ok") == 0);
	}
	family(b, "backup_verify_timestamp", "gauge",
	    "Unix time the check last ended.");
	for (i = 0; i < in->nchecks; i++) {
		if (in->checks[i].st.last_end == 0)
			continue;
		l[0] = "check", l[1] = in->checks[i].name;
		l[2] = "kind", l[3] = in->checks[i].kind, l[4] = NULL;
		sample(b, "backup_verify_timestamp", l,
		    (double)in->checks[i].st.last_end);
	}
	family(b, "backup_test_restore_seconds", "gauge",
	    "Measured restore time of the check's last test restore.");
	for (i = 0; i < in->nchecks; i++) {
		snprintf(kind, sizeof(kind), "%s", in->checks[i].kind);
		if (in->checks[i].st.last_end == 0 ||
		    strcmp(kind, "test-restore") != 0)
			continue;
		l[0] = "check", l[1] = in->checks[i].name;
		l[2] = "kind", l[3] = in->checks[i].kind, l[4] = NULL;
		sample(b, "backup_test_restore_seconds", l,
		    in->checks[i].st.restore_ms / 1000.0);
	}
	family(b, "backup_retained_copies", "gauge",
	    "Committed copies on the sink after the last retention pass of "
	    "each source.");
	for (i = 0; i < in->nretained; i++) {
		size_t		 j;
		uint64_t	 n = 0;

		for (j = 0; j < i; j++)
			if (strcmp(in->retained[j].sink,
			    in->retained[i].sink) == 0)
				break;
		if (j < i)
			continue;	/* counted at its first entry */
		for (j = i; j < in->nretained; j++)
			if (strcmp(in->retained[j].sink,
			    in->retained[i].sink) == 0)
				n += in->retained[j].copies;
		l[0] = "sink", l[1] = in->retained[i].sink, l[2] = NULL;
		sample(b, "backup_retained_copies", l, (double)n);
	}
	family(b, "zentoria_build_info", "gauge",
	    "The daemon's version; always 1.");
	l[0] = "version", l[1] = in->version, l[2] = NULL;
	sample(b, "zentoria_build_info", l, 1);
}

/* ---- from the state files ------------------------------------------- */

char *
metrics_render_state(struct zb_config *cfg, const struct metrics_live *live,
    char *err, size_t errlen)
{
	struct obs_copies	 c = { NULL, 0 };
	struct metrics_input	 in;
	struct metrics_retained	*ret = NULL;
	size_t			 nret = 0;
	struct metrics_job	*jobs;
	struct metrics_check	*checks;
	struct cfg_job		*job;
	struct cfg_check	*chk;
	struct buf		 b;
	size_t			 nj = 0, nc = 0;
	char			*text = NULL;

	TAILQ_FOREACH(job, &cfg->jobs, entry)
		nj++;
	TAILQ_FOREACH(chk, &cfg->checks, entry)
		nc++;
	jobs = xcalloc(nj + 1, sizeof(*jobs));
	checks = xcalloc(nc + 1, sizeof(*checks));
	memset(&in, 0, sizeof(in));
	nj = nc = 0;
	TAILQ_FOREACH(job, &cfg->jobs, entry) {
		jobs[nj].name = job->name;
		jobs[nj].rpo_s = config_job_rpo(job) / 1000.0;
		/* (a refused file is named in the log, its job left out:
		 * the other jobs' metrics still go out) */
		if (metrics_copies_load(cfg->state_dir, job->name, &c, err,
		    errlen) == -1 || metrics_runs_load(cfg->state_dir,
		    job->name, jobs[nj].runs, err, errlen) == -1) {
			log_warnx("metrics: %s", err);
			continue;
		}
		if (live != NULL && live->job != NULL)
			live->job(live->arg, &jobs[nj]);
		nj++;
	}
	TAILQ_FOREACH(chk, &cfg->checks, entry) {
		checks[nc].name = chk->name;
		checks[nc].kind = check_kind_name((enum check_kind)chk->kind);
		if (jobstate_load(cfg->state_dir, "check", chk->name,
		    &checks[nc].st, err, errlen) == -1) {
			log_warnx("metrics: %s", err);
			continue;
		}
		nc++;
	}
	if (retained_load(cfg->state_dir, &ret, &nret, err, errlen) == -1) {
		log_warnx("metrics: %s", err);
		ret = NULL;
		nret = 0;
	}
	in.retained = ret;
	in.nretained = nret;
	in.version = PACKAGE_VERSION;
	in.now = time(NULL);
	in.copies = c.v;
	in.ncopies = c.n;
	in.jobs = jobs;
	in.njobs = nj;
	in.checks = checks;
	in.nchecks = nc;
	if (live != NULL) {
		in.buffer_in_use = live->buffer_in_use;
		in.buffer_budget = live->buffer_budget;
		in.running = live->running;
		in.nrunning = live->nrunning;
	}
	buf_init(&b, SIZE_MAX);
	metrics_render(&b, &in);
	text = buf_take(&b);
	metrics_copies_free(&c);
	metrics_retained_free(ret, nret);
	free(jobs);
	free(checks);
	return text;
}

int
metrics_write_textfile(const char *path, const char *text, char *err,
    size_t errlen)
{
	struct buf	 b;
	char		*tmp;
	FILE		*f;
	int		 rc = -1;

	buf_init(&b, SIZE_MAX);
	(void)buf_printf(&b, "%s.tmp.%ld", path, (long)getpid());
	tmp = buf_take(&b);
	f = fopen(tmp, "w");
	if (f == NULL) {
		snprintf(err, errlen, "metrics_textfile %s: %s", tmp,
		    strerror(errno));
		goto out;
	}
	if (fchmod(fileno(f), 0644) == -1 ||
	    fwrite(text, 1, strlen(text), f) != strlen(text) ||
	    fflush(f) != 0 || fsync(fileno(f)) == -1) {
		snprintf(err, errlen, "metrics_textfile %s: %s", tmp,
		    strerror(errno));
		fclose(f);
		(void)unlink(tmp);
		goto out;
	}
	if (fclose(f) != 0 || rename(tmp, path) == -1) {
		snprintf(err, errlen, "metrics_textfile %s: %s", path,
		    strerror(errno));
		(void)unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	free(tmp);
	return rc;
}
