/*
 * ctl_status.c - `zentoria-backupctl status' and `run --daemon JOB': the
 * CLI as a client of the running daemon's control API (docs/api.md), at
 * the first address of [daemon] listen, with the first token of
 * admin_token_file, both from the same INI.
 */
#include "zb-build.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "buf.h"
#include "ctl.h"
#include "json.h"
#include "log.h"
#include "util.h"

#define CTL_API_MAX	(16 * 1024 * 1024)
#define CTL_TOKEN_MAX	1024

static const char status_usage[] =
    "usage: zentoria-backupctl [-c FILE] status [--json]\n\n"
    "Ask the running daemon (the first address of [daemon] listen, with "
    "the first\ntoken of admin_token_file) what its jobs and checks are "
    "doing: running,\nthe last run and its outcome, the next run.  --json "
    "prints GET /v1/status as\nthe daemon sends it (docs/api.md).  Exit "
    "status 1 when the daemon cannot be\nreached or refuses.\n";

struct api_call {
	char		 url[512];
	char		*token;
	const char	*cafile;	/* tls_cert_file: the CA of a
					   self-signed listener */
	long		 status;
	struct buf	 body;
};

static const char *
daemon_key(struct zb_config *cfg, const char *key)
{
	struct cfg_section	*sec = config_section(cfg, "daemon");
	struct cfg_kv		*kv = sec != NULL ? config_kv(sec, key) : NULL;

	return kv != NULL ? kv->value : NULL;
}

/* The first token of path into a heap string, or NULL (logged). */
static char *
first_token(struct zb_config *cfg, const char *path)
{
	FILE	*f;
	char	 line[CTL_TOKEN_MAX], *tok = NULL;
	size_t	 len;

	f = fopen(path, "r");
	if (f == NULL) {
		log_warnx("%s: [daemon] admin_token_file: %s: cannot read: "
		    "%s", cfg->path, path, strerror(errno));
		return NULL;
	}
	while (tok == NULL && fgets(line, sizeof(line), f) != NULL) {
		len = strcspn(line, "\r\n");
		line[len] = '\0';
		while (len > 0 && (line[len - 1] == ' ' ||
		    line[len - 1] == '\t'))
			line[--len] = '\0';
		if (len > 0 && line[0] != '#')
			tok = xstrdup(line);
	}
	explicit_bzero(line, sizeof(line));
	fclose(f);
	if (tok == NULL)
		log_warnx("%s: [daemon] admin_token_file: %s has no token",
		    cfg->path, path);
	return tok;
}

/* Set up c for the daemon of cfg and the API path; -1 (logged). */
static int
api_prepare(struct zb_config *cfg, const char *path, struct api_call *c)
{
	const char	*listen = daemon_key(cfg, "listen");
	const char	*tf = daemon_key(cfg, "admin_token_file");
	char		 addr[300], host[300];
	size_t		 n;
	const char	*colon;

	memset(c, 0, sizeof(*c));
	buf_init(&c->body, CTL_API_MAX);
	if (listen == NULL) {
		log_warnx("%s: [daemon] listen is not set: the daemon has no "
		    "control API to ask", cfg->path);
		return -1;
	}
	listen += strspn(listen, ", \t");
	n = strcspn(listen, ", \t");
	if (n == 0 || n >= sizeof(addr)) {
		log_warnx("%s: [daemon] listen = %s: no address", cfg->path,
		    listen);
		return -1;
	}
	memcpy(addr, listen, n);
	addr[n] = '\0';
	/* a wildcard address is reached on the loopback */
	colon = strrchr(addr, ':');
	if (colon == NULL) {
		log_warnx("%s: [daemon] listen = %s: not HOST:PORT",
		    cfg->path, addr);
		return -1;
	}
	n = (size_t)(colon - addr);
	memcpy(host, addr, n);
	host[n] = '\0';
	if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "*") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	else if (strcmp(host, "[::]") == 0)
		snprintf(host, sizeof(host), "[::1]");
	c->cafile = daemon_key(cfg, "tls_cert_file");
	snprintf(c->url, sizeof(c->url), "%s://%s%s%s",
	    c->cafile != NULL ? "https" : "http", host, colon, path);
	if (tf == NULL) {
		log_warnx("%s: [daemon] admin_token_file is not set: no "
		    "token to ask the daemon with", cfg->path);
		return -1;
	}
	c->token = first_token(cfg, tf);
	return c->token != NULL ? 0 : -1;
}

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
	struct api_call	*c = arg;

	if (buf_add(&c->body, p, size * n) == -1)
		return 0;
	return size * n;
}

/* Do the request; -1 (logged) when the daemon was not reached. */
static int
api_do(struct api_call *c, int post)
{
	CURL			*h;
	struct curl_slist	*hdr = NULL;
	struct buf		 auth;
	char			 err[CURL_ERROR_SIZE];
	CURLcode		 rc;

	h = curl_easy_init();
	if (h == NULL)
		fatalx("curl_easy_init failed");
	buf_init(&auth, CTL_TOKEN_MAX + 64);
	buf_printf(&auth, "Authorization: Bearer %s", c->token);
	hdr = curl_slist_append(hdr, auth.data);
	err[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, c->url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (c->cafile != NULL) {
		curl_easy_setopt(h, CURLOPT_CAINFO, c->cafile);
		curl_easy_setopt(h, CURLOPT_SSLVERSION,
		    (long)CURL_SSLVERSION_TLSv1_3);
	}
	if (post) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
	}
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
	curl_slist_free_all(hdr);
	explicit_bzero(auth.data, auth.len);
	buf_free(&auth);
	curl_easy_cleanup(h);
	if (rc != CURLE_OK) {
		log_warnx("cannot reach the daemon at %s: %s (is "
		    "zentoria-backupd running with this configuration?)",
		    c->url, err[0] != '\0' ? err : curl_easy_strerror(rc));
		return -1;
	}
	return 0;
}

static void
api_done(struct api_call *c)
{
	if (c->token != NULL)
		explicit_bzero(c->token, strlen(c->token));
	free(c->token);
	buf_free(&c->body);
}

/* The daemon's {"error": ...} or the status line. */
static void
api_refused(struct api_call *c)
{
	struct json	*doc;
	const char	*e = NULL, *err;
	size_t		 pos;

	doc = json_parse(c->body.data != NULL ? c->body.data : "",
	    c->body.len, &err, &pos);
	if (doc != NULL)
		e = json_get_str(doc, "error");
	log_warnx("%s: HTTP %ld%s%s", c->url, c->status, e != NULL ? ": " :
	    "", e != NULL ? e : "");
	json_free(doc);
}

static int
load_plain(struct ctl *ctl)
{
	ctl->cfg = config_load(ctl->config_path);
	return ctl->cfg != NULL ? 0 : -1;
}

static void
fmt_when(const struct json *o, const char *key, char *out, size_t len)
{
	int64_t	 v;
	time_t	 t;

	if (o == NULL || o->type != JSON_OBJECT ||
	    json_get_i64(o, key, &v) == -1 || v <= 0) {
		snprintf(out, len, "-");
		return;
	}
	t = (time_t)v;
	isotime_format(t, out, len);
}

static void
print_status(const struct json *doc)
{
	const struct json	*jobs = json_get(doc, "jobs");
	const struct json	*checks = json_get(doc, "checks");
	const struct json	*j, *last, *run;
	const char		*oc;
	char			 t1[ZB_ISOTIME_LEN], t2[ZB_ISOTIME_LEN];

	printf("%-16s %-8s %-9s %-22s %s\n", "JOB", "STATE", "LAST",
	    "LAST START", "NEXT RUN");
	for (j = jobs != NULL ? jobs->child : NULL; j != NULL; j = j->next) {
		last = json_get(j, "last");
		run = json_get(j, "running");
		oc = last != NULL ? json_get_str(last, "outcome") : NULL;
		fmt_when(last, "start", t1, sizeof(t1));
		fmt_when(j, "next_run", t2, sizeof(t2));
		printf("%-16s %-8s %-9s %-22s %s\n", json_get_str(j, "name"),
		    run != NULL && run->type == JSON_BOOL && run->boolean ?
		    "running" : "idle",
		    oc != NULL ? oc : "-", t1, t2);
	}
	if (checks == NULL || checks->child == NULL)
		return;
	printf("\n%-16s %-12s %-9s %-22s %s\n", "CHECK", "KIND", "LAST",
	    "LAST END", "NEXT RUN");
	for (j = checks->child; j != NULL; j = j->next) {
		last = json_get(j, "last");
		oc = last != NULL ? json_get_str(last, "outcome") : NULL;
		fmt_when(last, "time", t1, sizeof(t1));
		fmt_when(j, "next_run", t2, sizeof(t2));
		printf("%-16s %-12s %-9s %-22s %s\n", json_get_str(j, "name"),
		    json_get_str(j, "kind"), oc != NULL ? oc : "-", t1, t2);
	}
}

int
ctl_status(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct api_call	 c;
	struct json	*doc;
	const char	*err;
	size_t		 pos;
	int		 ch, json = ctl->json, rc = 1;

	if (ctl_wants_help(argc, argv, status_usage))
		return 0;
	for (;;) {
		ch = getopt_long(argc, argv, "", longopts, NULL);
		if (ch == -1)
			break;
		if (ch != 'j') {
			fputs(status_usage, stderr);
			return EXIT_USAGE;
		}
		json = 1;
	}
	if (optind != argc) {
		fputs(status_usage, stderr);
		return EXIT_USAGE;
	}
	if (load_plain(ctl) == -1)
		return 1;
	if (api_prepare(ctl->cfg, "/v1/status", &c) == -1 ||
	    api_do(&c, 0) == -1)
		goto out;
	if (c.status != 200) {
		api_refused(&c);
		goto out;
	}
	if (json) {
		fwrite(c.body.data, 1, c.body.len, stdout);
		rc = 0;
		goto out;
	}
	doc = json_parse(c.body.data, c.body.len, &err, &pos);
	if (doc == NULL) {
		log_warnx("%s: the reply is not JSON: %s", c.url, err);
		goto out;
	}
	print_status(doc);
	json_free(doc);
	rc = 0;
out:
	api_done(&c);
	return rc;
}

/* `run --daemon JOB': POST /v1/jobs/JOB/run. */
int
ctl_run_daemon(struct ctl *ctl, const char *job)
{
	struct api_call	 c;
	struct json	*doc;
	const char	*err;
	size_t		 pos;
	char		 path[300], *esc, t[ZB_ISOTIME_LEN];
	int64_t		 at = 0;
	int		 rc = 1;

	if (load_plain(ctl) == -1)
		return 1;
	esc = curl_easy_escape(NULL, job, 0);
	if (esc == NULL || strlen(esc) > 200) {
		curl_free(esc);
		log_warnx("run --daemon: job name too long");
		return 1;
	}
	snprintf(path, sizeof(path), "/v1/jobs/%s/run", esc);
	curl_free(esc);
	if (api_prepare(ctl->cfg, path, &c) == -1 || api_do(&c, 1) == -1)
		goto out;
	if (c.status != 202) {
		api_refused(&c);
		goto out;
	}
	doc = json_parse(c.body.data, c.body.len, &err, &pos);
	if (doc != NULL)
		(void)json_get_i64(doc, "accepted_at", &at);
	json_free(doc);
	isotime_format((time_t)at, t, sizeof(t));
	printf("job %s: started by the daemon at %s\n", job, t);
	rc = 0;
out:
	api_done(&c);
	return rc;
}
