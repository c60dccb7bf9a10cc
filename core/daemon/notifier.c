/*
 * notifier.c - the daemon's notifications ([notify:NAME] sections):
 * events when a run or a check ends and a summary on a schedule, sent
 * as a webhook JSON POST, a Slack incoming-webhook payload or an e-mail
 * (libcurl SMTP).  docs/notifications.md documents the payloads.
 *
 * Every delivery is one easy handle on the shared curl multi (http.c):
 * nothing blocks the loop.  A failed attempt (a transport error, an HTTP
 * status outside 2xx, an SMTP error) is retried after 1 s, 2 s, 4 s...
 * up to the section's `attempts'; each attempt has the section's
 * `timeout'.  Secrets (token_file, header_file, password_file) are read
 * when the generation is taken, kept in memory only, handed to curl
 * through options (never argv) and never logged.
 *
 * The summary reads the job and check state files (jobstate.h) and what
 * this notifier saw of each job's runs since the daemon started: per
 * job x sink the last success and the stored size of that run.
 */
#include "zb-build.h"

#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "buf.h"
#include "check.h"
#include "config.h"
#include "cron.h"
#include "http.h"
#include "jobq.h"
#include "jobstate.h"
#include "log.h"
#include "reactor.h"
#include "util.h"
#include "notifier.h"

#define NOTIFY_MAX_BODY		(256 * 1024)
#define NOTIFY_BACKOFF_MS	1000
#define NOTIFY_SECRET_MAX	4096

enum ntype { NT_WEBHOOK, NT_SLACK, NT_EMAIL };
enum { EV_FAILURE = 1, EV_SUCCESS = 2, EV_CHECK = 4, EV_SUMMARY = 8 };

struct nsink {
	struct notifier		*n;
	char			*name;
	enum ntype		 type;
	unsigned		 events;
	char			*url;		/* url or smtp_url */
	char			*auth;		/* "Authorization: ..." */
	char			*from, *username, *password;
	char			**to;
	size_t			 nto;
	int			 tls;		/* smtp_tls */
	long			 timeout_ms;
	int			 attempts;
	int			 broken;	/* a secret could not be read */
	struct cron_sched	 summary;
	int			 has_summary;
	struct zb_timer		*summary_timer;
};

/* What the notifier saw of a job x sink. */
struct seen {
	TAILQ_ENTRY(seen)	 link;
	char			*job, *sink;
	time_t			 last_run, last_success;
	int			 ok;
	uint64_t		 size;
};

struct delivery {
	TAILQ_ENTRY(delivery)	 link;
	struct notifier		*n;
	struct nsink		*sink;		/* NULL once the sink is gone */
	char			*sink_name;
	char			*what;		/* "job X failure", for logs */
	char			*body;		/* the payload or the message */
	size_t			 len, off;
	int			 attempt;
	CURL			*easy;
	struct curl_slist	*headers, *rcpt;
	struct zb_timer		*timer;
	char			 errbuf[CURL_ERROR_SIZE];
};

struct notifier {
	struct zb_config	*cfg;
	struct nsink		*sinks;
	size_t			 nsinks;
	TAILQ_HEAD(, delivery)	 pending;
	size_t			 npending;
	TAILQ_HEAD(, seen)	 seen;
	int			 stopping;
};

static void	attempt(struct delivery *);
static void	arm_summary(struct nsink *);

/* ---- secrets and sections --------------------------------------------- */

/* The first line of a private file (config.c checked its mode). */
static char *
read_secret(const char *path)
{
	char	 buf[NOTIFY_SECRET_MAX], *s = NULL;
	FILE	*f;

	f = fopen(path, "re");
	if (f == NULL)
		return NULL;
	if (fgets(buf, sizeof(buf), f) != NULL) {
		buf[strcspn(buf, "\r\n")] = '\0';
		if (buf[0] != '\0')
			s = xstrdup(buf);
	}
	fclose(f);
	OPENSSL_cleanse(buf, sizeof(buf));
	return s;
}

static void
free_secret(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

static const char *
kv_value(const struct cfg_section *sec, const char *key)
{
	struct cfg_kv	*kv = config_kv(sec, key);

	return kv != NULL ? kv->value : NULL;
}

static void
sink_init(struct notifier *n, struct nsink *k, struct cfg_section *sec)
{
	const struct zb_option	*opts = config_core_options(CFG_NOTIFY);
	struct cfg_kv		*kv;
	const char		*v, *file;
	char			*secret, err[256];
	size_t			 i;
	int64_t			 num;
	const char		*errstr;

	k->n = n;
	k->name = xstrdup(sec->name);
	v = kv_value(sec, "type");
	k->type = strcmp(v, "email") == 0 ? NT_EMAIL :
	    strcmp(v, "slack") == 0 ? NT_SLACK : NT_WEBHOOK;
	kv = config_kv(sec, "on");
	for (i = 0; kv != NULL && i < kv->nitems; i++) {
		if (strcmp(kv->items[i], "failure") == 0)
			k->events |= EV_FAILURE;
		else if (strcmp(kv->items[i], "success") == 0)
			k->events |= EV_SUCCESS;
		else if (strcmp(kv->items[i], "check_failure") == 0)
			k->events |= EV_CHECK;
		else if (strcmp(kv->items[i], "summary") == 0)
			k->events |= EV_SUMMARY;
	}
	v = kv_value(sec, k->type == NT_EMAIL ? "smtp_url" : "url");
	k->url = xstrdup(v != NULL ? v : "");
	/* defaults from the option table (config.c checked the values) */
	k->tls = 1;
	k->timeout_ms = 10000;
	k->attempts = 4;
	for (; opts != NULL && opts->key != NULL; opts++) {
		v = kv_value(sec, opts->key);
		if (v == NULL)
			v = opts->def;
		if (v == NULL)
			continue;
		if (strcmp(opts->key, "smtp_tls") == 0 &&
		    parse_bool(v, &k->tls, &errstr) == -1)
			k->tls = 1;
		if (strcmp(opts->key, "timeout") == 0 &&
		    parse_duration_ms(v, &num, &errstr) == 0)
			k->timeout_ms = (long)num;
		if (strcmp(opts->key, "attempts") == 0 &&
		    parse_int(v, 1, 10, &num, &errstr) == 0)
			k->attempts = (int)num;
	}
	v = kv_value(sec, "from");
	if (v != NULL)
		k->from = xstrdup(v);
	v = kv_value(sec, "username");
	if (v != NULL)
		k->username = xstrdup(v);
	kv = config_kv(sec, "to");
	if (kv != NULL && split_list(kv->value, &k->to, &k->nto) == -1) {
		k->to = NULL;
		k->nto = 0;
	}
	file = kv_value(sec, "password_file");
	if (file == NULL)
		file = kv_value(sec, "token_file");
	if (file == NULL)
		file = kv_value(sec, "header_file");
	if (file != NULL) {
		secret = read_secret(file);
		if (secret == NULL) {
			log_warnx("notify %s: cannot read %s (or it is empty): "
			    "this notification is disabled", k->name, file);
			k->broken = 1;
		} else if (k->type == NT_EMAIL)
			k->password = secret;
		else {
			k->auth = xasprintf("Authorization: %s%s",
			    kv_value(sec, "token_file") != NULL ?
			    "Bearer " : "", secret);
			free_secret(secret);
		}
	}
	v = kv_value(sec, "summary_schedule");
	if (v != NULL && (k->events & EV_SUMMARY)) {
		if (cron_parse(v, &k->summary, err, sizeof(err)) == 0)
			k->has_summary = 1;
	}
}

static void
sink_clear(struct nsink *k)
{
	reactor_timer_del(k->summary_timer);
	free(k->name);
	free(k->url);
	free_secret(k->auth);
	free_secret(k->password);
	free(k->from);
	free(k->username);
	strv_free(k->to, k->nto);
}

static void
take_config(struct notifier *n, struct zb_config *cfg)
{
	struct cfg_section	*sec;
	size_t			 i;

	n->cfg = config_ref(cfg);
	n->nsinks = 0;
	TAILQ_FOREACH(sec, &cfg->sections, entry)
		if (sec->kind == CFG_NOTIFY)
			n->nsinks++;
	n->sinks = n->nsinks > 0 ? xcalloc(n->nsinks, sizeof(*n->sinks)) :
	    NULL;
	i = 0;
	TAILQ_FOREACH(sec, &cfg->sections, entry)
		if (sec->kind == CFG_NOTIFY)
			sink_init(n, &n->sinks[i++], sec);
	for (i = 0; i < n->nsinks; i++)
		arm_summary(&n->sinks[i]);
}

static void
drop_config(struct notifier *n)
{
	struct delivery	*d;
	size_t		 i;

	/* Messages in flight keep their easy handle's copies of secrets. */
	TAILQ_FOREACH(d, &n->pending, link)
		d->sink = NULL;
	for (i = 0; i < n->nsinks; i++)
		sink_clear(&n->sinks[i]);
	free(n->sinks);
	n->sinks = NULL;
	n->nsinks = 0;
	config_unref(n->cfg);
	n->cfg = NULL;
}

/* ---- delivery --------------------------------------------------------- */

static void
delivery_free(struct delivery *d)
{
	struct notifier	*n = d->n;

	TAILQ_REMOVE(&n->pending, d, link);
	n->npending--;
	reactor_timer_del(d->timer);
	if (d->easy != NULL) {
		http_cancel(d->easy);
		curl_easy_cleanup(d->easy);
	}
	curl_slist_free_all(d->headers);
	curl_slist_free_all(d->rcpt);
	free(d->sink_name);
	free(d->what);
	free(d->body);
	free(d);
}

static size_t
read_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct delivery	*d = arg;
	size_t		 n = size * nmemb;

	if (n > d->len - d->off)
		n = d->len - d->off;
	memcpy(ptr, d->body + d->off, n);
	d->off += n;
	return n;
}

static size_t
discard_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	return size * nmemb;
}

static void
retry_timer(void *arg)
{
	struct delivery	*d = arg;

	d->timer = NULL;
	attempt(d);
}

static void
attempt_done(void *arg, int curlcode, long status)
{
	struct delivery	*d = arg;
	int		 ok, email = d->sink != NULL && d->sink->type == NT_EMAIL;
	int		 max = d->sink != NULL ? d->sink->attempts : 1;
	char		 why[CURL_ERROR_SIZE + 64];
	uint64_t	 wait;

	curl_easy_cleanup(d->easy);
	d->easy = NULL;
	if (email)
		ok = curlcode == CURLE_OK;
	else
		ok = curlcode == CURLE_OK && status >= 200 && status < 300;
	if (ok) {
		log_info("notify %s: %s delivered (attempt %d)", d->sink_name,
		    d->what, d->attempt);
		delivery_free(d);
		return;
	}
	if (curlcode != CURLE_OK)
		snprintf(why, sizeof(why), "%s", d->errbuf[0] != '\0' ?
		    d->errbuf : curl_easy_strerror((CURLcode)curlcode));
	else
		snprintf(why, sizeof(why), "HTTP status %ld", status);
	if (d->attempt >= max || d->sink == NULL || d->n->stopping ||
	    curlcode == CURLE_ABORTED_BY_CALLBACK) {
		log_warnx("notify %s: %s not delivered after %d attempt%s: %s",
		    d->sink_name, d->what, d->attempt,
		    d->attempt == 1 ? "" : "s", why);
		delivery_free(d);
		return;
	}
	wait = (uint64_t)NOTIFY_BACKOFF_MS << (d->attempt - 1);
	log_warnx("notify %s: %s: attempt %d failed (%s); again in %.0f s",
	    d->sink_name, d->what, d->attempt, why, wait / 1000.0);
	d->timer = reactor_timer_add(wait, retry_timer, d);
}

static void
attempt(struct delivery *d)
{
	struct nsink	*k = d->sink;
	size_t		 i;
	CURL		*e;

	if (k == NULL) {
		delivery_free(d);
		return;
	}
	d->attempt++;
	d->off = 0;
	d->errbuf[0] = '\0';
	curl_slist_free_all(d->headers);
	curl_slist_free_all(d->rcpt);
	d->headers = d->rcpt = NULL;
	e = curl_easy_init();
	if (e == NULL) {
		log_warnx("notify %s: %s: cannot create a curl handle",
		    d->sink_name, d->what);
		delivery_free(d);
		return;
	}
	d->easy = e;
	curl_easy_setopt(e, CURLOPT_URL, k->url);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, k->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, k->timeout_ms);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, d->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_cb);
	curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(e, CURLOPT_READDATA, d);
	if (k->type == NT_EMAIL) {
		curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
		curl_easy_setopt(e, CURLOPT_MAIL_FROM, k->from);
		for (i = 0; i < k->nto; i++)
			d->rcpt = curl_slist_append(d->rcpt, k->to[i]);
		curl_easy_setopt(e, CURLOPT_MAIL_RCPT, d->rcpt);
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE,
		    (curl_off_t)d->len);
		if (strncmp(k->url, "smtps://", 8) == 0 || k->tls)
			curl_easy_setopt(e, CURLOPT_USE_SSL,
			    (long)CURLUSESSL_ALL);
		if (k->username != NULL) {
			curl_easy_setopt(e, CURLOPT_USERNAME, k->username);
			curl_easy_setopt(e, CURLOPT_PASSWORD, k->password);
		}
	} else {
		curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
		d->headers = curl_slist_append(d->headers,
		    "Content-Type: application/json");
		if (k->auth != NULL)
			d->headers = curl_slist_append(d->headers, k->auth);
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, d->headers);
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)d->len);
		curl_easy_setopt(e, CURLOPT_USERAGENT,
		    "zentoria-backupd/" PACKAGE_VERSION);
	}
	if (http_submit(e, attempt_done, d) == -1) {
		curl_easy_cleanup(e);
		d->easy = NULL;
		log_warnx("notify %s: %s not delivered: no HTTP transfer "
		    "possible now", d->sink_name, d->what);
		delivery_free(d);
	}
}

/* The RFC 5322 message around text. */
static char *
mail_message(const struct nsink *k, const char *subject, const char *text)
{
	struct buf	 b;
	char		 date[64], host[256];
	time_t		 now = time(NULL);
	struct tm	 tm;
	size_t		 i;
	const char	*p;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	buf_init(&b, NOTIFY_MAX_BODY * 2);
	buf_printf(&b, "Date: %s\r\nFrom: %s\r\nTo: ", date, k->from);
	for (i = 0; i < k->nto; i++)
		buf_printf(&b, "%s%s", i > 0 ? ", " : "", k->to[i]);
	buf_printf(&b, "\r\nMessage-ID: <%lld.%ld.%08lx@%s>\r\n"
	    "Subject: %s\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\n", (long long)now,
	    (long)getpid(), (unsigned long)random(), host, subject);
	/* CRLF line ends; a line starting with '.' gets curl's dot-stuffing */
	for (p = text; *p != '\0'; p++) {
		if (*p == '\n')
			buf_puts(&b, "\r\n");
		else
			buf_add(&b, p, 1);
	}
	buf_puts(&b, "\r\n");
	return buf_take(&b);
}

/* Slack: {"text": text}. */
static char *
slack_payload(const char *text)
{
	struct buf	 b;

	buf_init(&b, NOTIFY_MAX_BODY * 2);
	buf_puts(&b, "{\"text\": ");
	buf_json_str(&b, text);
	buf_puts(&b, "}\n");
	return buf_take(&b);
}

/*
 * Queue one message for every section that wants ev: json for webhooks,
 * text (with subject) for Slack and e-mail.
 */
static void
send_event(struct notifier *n, unsigned ev, const char *what,
    const char *json, const char *subject, const char *text,
    struct nsink *only)
{
	struct delivery	*d;
	struct nsink	*k;
	size_t		 i;

	for (i = 0; i < n->nsinks; i++) {
		k = &n->sinks[i];
		if ((only != NULL && k != only) || !(k->events & ev) ||
		    k->broken)
			continue;
		d = xcalloc(1, sizeof(*d));
		d->n = n;
		d->sink = k;
		d->sink_name = xstrdup(k->name);
		d->what = xstrdup(what);
		if (k->type == NT_WEBHOOK)
			d->body = xstrdup(json);
		else if (k->type == NT_SLACK)
			d->body = slack_payload(text);
		else
			d->body = mail_message(k, subject, text);
		if (d->body == NULL) {
			log_warnx("notify %s: %s: message too long",
			    k->name, what);
			free(d->sink_name);
			free(d->what);
			free(d);
			continue;
		}
		d->len = strlen(d->body);
		TAILQ_INSERT_TAIL(&n->pending, d, link);
		n->npending++;
		attempt(d);
	}
}

/* ---- events ----------------------------------------------------------- */

static struct seen *
seen_get(struct notifier *n, const char *job, const char *sink)
{
	struct seen	*s;

	TAILQ_FOREACH(s, &n->seen, link)
		if (strcmp(s->job, job) == 0 && strcmp(s->sink, sink) == 0)
			return s;
	s = xcalloc(1, sizeof(*s));
	s->job = xstrdup(job);
	s->sink = xstrdup(sink);
	TAILQ_INSERT_TAIL(&n->seen, s, link);
	return s;
}

static void
json_time(struct buf *b, const char *key, time_t t)
{
	if (t > 0)
		buf_printf(b, ", \"%s\": %lld", key, (long long)t);
	else
		buf_printf(b, ", \"%s\": null", key);
}

void
notifier_run_ended(struct notifier *n, const struct jobq_result *r)
{
	const struct run_summary *sum = r->summary;
	struct cfg_job		*job;
	struct buf		 j, t;
	struct seen		*s;
	const char		*outcome, *so, *error = r->error;
	char			 what[256], subject[256], hb[32], why[128];
	time_t			 now = time(NULL);
	size_t			 i;
	int			 success;

	if (n == NULL || r->status == JOBQ_REFUSED || n->cfg == NULL)
		return;
	job = config_job(n->cfg, r->job);
	success = r->status == JOBQ_OK;
	/* (the queue names no error for a run that ran: its copies say) */
	if (error == NULL && !success && sum != NULL) {
		snprintf(why, sizeof(why), "%u of %u cop%s failed; %u of %u "
		    "stream%s on every sink", sum->copies_failed,
		    sum->copies_ok + sum->copies_failed,
		    sum->copies_ok + sum->copies_failed == 1 ? "y" : "ies",
		    sum->streams_ok, sum->streams,
		    sum->streams == 1 ? "" : "s");
		error = why;
	}
	outcome = jobq_status_str(r->status);
	buf_init(&j, NOTIFY_MAX_BODY);
	buf_init(&t, NOTIFY_MAX_BODY);
	buf_printf(&j, "{\"event\": \"%s\", \"job\": ",
	    success ? "success" : "failure");
	buf_json_str(&j, r->job);
	buf_puts(&j, ", \"source\": ");
	if (job != NULL && job->source != NULL)
		buf_json_str(&j, job->source->name);
	else
		buf_puts(&j, "null");
	buf_puts(&j, ", \"outcome\": ");
	buf_json_str(&j, outcome);
	json_time(&j, "end", now);
	buf_printf(&j, ", \"duration_s\": %.3f, \"bytes_read\": %llu, "
	    "\"bytes_stored\": %llu, \"error\": ",
	    sum != NULL ? sum->elapsed_ms / 1000.0 : 0.0,
	    (unsigned long long)(sum != NULL ? sum->plain_bytes : 0),
	    (unsigned long long)(sum != NULL ? sum->stored_bytes : 0));
	if (error != NULL)
		buf_json_str(&j, error);
	else
		buf_puts(&j, "null");
	human_bytes(sum != NULL ? sum->stored_bytes : 0, hb, sizeof(hb));
	buf_printf(&t, "zentoria-backupd: job %s %s (%s) in %.1f s, %s "
	    "stored", r->job, success ? "succeeded" : "FAILED", outcome,
	    sum != NULL ? sum->elapsed_ms / 1000.0 : 0.0, hb);
	if (error != NULL)
		buf_printf(&t, "\nerror: %s", error);
	buf_puts(&j, ", \"sinks\": [");
	for (i = 0; job != NULL && i < job->nsinks; i++) {
		so = sum != NULL && i < sum->nsinks &&
		    run_sink_whole(sum, i) ? "ok" : "failed";
		buf_puts(&j, i > 0 ? ", {\"sink\": " : "{\"sink\": ");
		buf_json_str(&j, job->sinks[i]->name);
		buf_printf(&j, ", \"outcome\": \"%s\", \"streams_ok\": %u}",
		    so, sum != NULL && i < sum->nsinks ?
		    sum->sink_streams_ok[i] : 0);
		buf_printf(&t, "\nsink %s: %s", job->sinks[i]->name, so);
		s = seen_get(n, r->job, job->sinks[i]->name);
		s->last_run = now;
		s->ok = strcmp(so, "ok") == 0;
		if (s->ok) {
			s->last_success = now;
			s->size = sum->stored_bytes;
		}
	}
	buf_puts(&j, "]}\n");
	snprintf(what, sizeof(what), "job %s %s", r->job,
	    success ? "success" : "failure");
	snprintf(subject, sizeof(subject), "[zentoria-backupd] job %s %s",
	    r->job, success ? "succeeded" : "failed");
	if (!j.failed && !t.failed)
		send_event(n, success ? EV_SUCCESS : EV_FAILURE, what, j.data,
		    subject, t.data, NULL);
	buf_free(&j);
	buf_free(&t);
}

void
notifier_check_ended(struct notifier *n, const char *check,
    const struct check_result *r)
{
	const struct check_item	*it;
	struct buf		 j, t;
	char			 what[256], subject[256];
	size_t			 i;

	if (n == NULL || n->cfg == NULL || (r->failed == 0 && r->n > 0))
		return;
	buf_init(&j, NOTIFY_MAX_BODY);
	buf_init(&t, NOTIFY_MAX_BODY);
	buf_puts(&j, "{\"event\": \"check_failure\", \"check\": ");
	buf_json_str(&j, check);
	buf_printf(&j, ", \"outcome\": \"failed\", \"items\": %zu, "
	    "\"failed\": %u, \"duration_s\": %.3f, \"failing\": [", r->n,
	    r->failed, r->duration_ms / 1000.0);
	buf_printf(&t, "zentoria-backupd: check %s FAILED: %u of %zu "
	    "cop%s failed", check, r->failed, r->n, r->n == 1 ? "y" : "ies");
	if (r->n == 0)
		buf_puts(&t, " (nothing to check)");
	for (i = 0; i < r->n; i++) {
		it = &r->items[i];
		if (it->ok)
			continue;
		buf_puts(&j, j.data[j.len - 1] == '[' ? "{\"id\": " :
		    ", {\"id\": ");
		buf_json_str(&j, it->id != NULL ? it->id : "");
		buf_puts(&j, ", \"sink\": ");
		buf_json_str(&j, it->sink != NULL ? it->sink : "");
		buf_puts(&j, ", \"error\": ");
		buf_json_str(&j, it->error != NULL ? it->error : "");
		buf_puts(&j, "}");
		buf_printf(&t, "\n%s on %s: %s", it->id != NULL ? it->id : "",
		    it->sink != NULL ? it->sink : "",
		    it->error != NULL ? it->error : "failed");
	}
	buf_puts(&j, "]}\n");
	snprintf(what, sizeof(what), "check %s failure", check);
	snprintf(subject, sizeof(subject), "[zentoria-backupd] check %s "
	    "failed", check);
	if (!j.failed && !t.failed)
		send_event(n, EV_CHECK, what, j.data, subject, t.data, NULL);
	buf_free(&j);
	buf_free(&t);
}

/* ---- summary ---------------------------------------------------------- */

static void
summary_send(struct notifier *n, struct nsink *k)
{
	struct cfg_job		*job;
	struct cfg_check	*chk;
	struct jobstate		 st;
	struct seen		*s;
	struct buf		 j, t;
	char			 err[256], hb[32], when[ZB_ISOTIME_LEN];
	time_t			 now = time(NULL), last;
	size_t			 i, nc = 0;
	int			 bad = 0;

	buf_init(&j, NOTIFY_MAX_BODY);
	buf_init(&t, NOTIFY_MAX_BODY);
	isotime_format(now, when, sizeof(when));
	buf_printf(&j, "{\"event\": \"summary\", \"time\": %lld, "
	    "\"copies\": [", (long long)now);
	buf_printf(&t, "zentoria-backupd: backup summary at %s\n"
	    "source / tier (job): last success, age, size, last outcome",
	    when);
	TAILQ_FOREACH(job, &n->cfg->jobs, entry) {
		memset(&st, 0, sizeof(st));
		if (jobstate_load(n->cfg->state_dir, "job", job->name, &st,
		    err, sizeof(err)) == -1)
			log_warnx("notify %s: %s", k->name, err);
		for (i = 0; i < job->nsinks; i++) {
			s = seen_get(n, job->name, job->sinks[i]->name);
			last = s->last_success;
			/* before this daemon saw a run: the job's own record */
			if (s->last_run == 0 && strcmp(st.outcome, "ok") == 0)
				last = st.last_end;
			buf_puts(&j, nc++ > 0 ? ", {\"job\": " : "{\"job\": ");
			buf_json_str(&j, job->name);
			buf_puts(&j, ", \"source\": ");
			if (job->source != NULL)
				buf_json_str(&j, job->source->name);
			else
				buf_puts(&j, "null");
			buf_puts(&j, ", \"sink\": ");
			buf_json_str(&j, job->sinks[i]->name);
			json_time(&j, "last_success", last);
			if (last > 0)
				buf_printf(&j, ", \"age_s\": %lld",
				    (long long)(now - last));
			else
				buf_puts(&j, ", \"age_s\": null");
			if (s->last_success > 0)
				buf_printf(&j, ", \"size\": %llu",
				    (unsigned long long)s->size);
			else
				buf_puts(&j, ", \"size\": null");
			buf_puts(&j, ", \"last_outcome\": ");
			buf_json_str(&j, s->last_run > 0 ? (s->ok ? "ok" :
			    "failed") : st.outcome[0] != '\0' ? st.outcome :
			    "never");
			buf_puts(&j, "}");
			if (last > 0)
				isotime_format(last, when, sizeof(when));
			human_bytes(s->size, hb, sizeof(hb));
			buf_printf(&t, "\n%s / %s (%s): %s, ",
			    job->source != NULL ? job->source->name :
			    job->copy_from->name, job->sinks[i]->name, job->name,
			    last > 0 ? when : "never");
			if (last > 0)
				buf_printf(&t, "%.1f h, ",
				    (double)(now - last) / 3600.0);
			else
				buf_puts(&t, "-, ");
			buf_printf(&t, "%s, %s", s->last_success > 0 ? hb :
			    "?", s->last_run > 0 ? (s->ok ? "ok" : "FAILED") :
			    st.outcome[0] != '\0' ? st.outcome : "never ran");
			if (s->last_run > 0 ? !s->ok : last == 0)
				bad++;
		}
	}
	buf_puts(&j, "], \"checks\": [");
	buf_puts(&t, "\nchecks:");
	nc = 0;
	TAILQ_FOREACH(chk, &n->cfg->checks, entry) {
		memset(&st, 0, sizeof(st));
		if (jobstate_load(n->cfg->state_dir, "check", chk->name, &st,
		    err, sizeof(err)) == -1)
			log_warnx("notify %s: %s", k->name, err);
		buf_puts(&j, nc++ > 0 ? ", {\"check\": " : "{\"check\": ");
		buf_json_str(&j, chk->name);
		buf_puts(&j, ", \"outcome\": ");
		buf_json_str(&j, st.outcome[0] != '\0' ? st.outcome : "never");
		json_time(&j, "time", st.last_end);
		buf_printf(&j, ", \"items\": %u, \"failed\": %u}", st.items,
		    st.failed);
		buf_printf(&t, "\n%s: %s, %u of %u failed", chk->name,
		    st.outcome[0] != '\0' ? st.outcome : "never ran",
		    st.failed, st.items);
	}
	if (nc == 0)
		buf_puts(&t, " none");
	buf_printf(&j, "], \"problems\": %d}\n", bad);
	if (!j.failed && !t.failed)
		send_event(n, EV_SUMMARY, "summary", j.data,
		    bad > 0 ? "[zentoria-backupd] backup summary: problems" :
		    "[zentoria-backupd] backup summary: all ok", t.data, k);
	buf_free(&j);
	buf_free(&t);
}

static void
summary_timer(void *arg)
{
	struct nsink	*k = arg;

	k->summary_timer = NULL;
	if (k->n->stopping)
		return;
	summary_send(k->n, k);
	arm_summary(k);
}

static void
summary_rearm(void *arg)
{
	struct nsink	*k = arg;

	k->summary_timer = NULL;
	arm_summary(k);
}

static void
arm_summary(struct nsink *k)
{
	time_t		 now = time(NULL), next;
	int64_t		 ms;

	if (!k->has_summary || k->broken || k->n->stopping)
		return;
	next = cron_next(&k->summary, now, k->n->cfg->tz);
	if (next == -1)
		return;
	ms = ((int64_t)next - (int64_t)time(NULL)) * 1000;
	/* (a long wait is re-armed at most an hour away: clock steps) */
	if (ms > 3600000)
		ms = 3600000;
	k->summary_timer = reactor_timer_add(ms > 0 ? (uint64_t)ms : 0,
	    next - now > 3600 ? summary_rearm : summary_timer, k);
}

/* ---- life ------------------------------------------------------------- */

struct notifier *
notifier_new(struct zb_config *cfg)
{
	struct notifier	*n;

	n = xcalloc(1, sizeof(*n));
	TAILQ_INIT(&n->pending);
	TAILQ_INIT(&n->seen);
	take_config(n, cfg);
	return n;
}

void
notifier_reload(struct notifier *n, struct zb_config *cfg)
{
	drop_config(n);
	take_config(n, cfg);
}

void
notifier_stop(struct notifier *n)
{
	size_t	 i;

	if (n == NULL)
		return;
	n->stopping = 1;
	for (i = 0; i < n->nsinks; i++) {
		reactor_timer_del(n->sinks[i].summary_timer);
		n->sinks[i].summary_timer = NULL;
	}
}

size_t
notifier_pending(const struct notifier *n)
{
	return n != NULL ? n->npending : 0;
}

void
notifier_free(struct notifier *n)
{
	struct seen	*s;

	if (n == NULL)
		return;
	while (!TAILQ_EMPTY(&n->pending))
		delivery_free(TAILQ_FIRST(&n->pending));
	drop_config(n);
	for (;;) {
		s = TAILQ_FIRST(&n->seen);
		if (s == NULL)
			break;
		TAILQ_REMOVE(&n->seen, s, link);
		free(s->job);
		free(s->sink);
		free(s);
	}
	free(n);
}
