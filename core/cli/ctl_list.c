/*
 * ctl_list.c - `list' (artifacts from the sinks and the state of their
 * runs) and `plugins'.
 */
#include "zb-build.h"

#include <dirent.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "catalog.h"
#include "ctl.h"
#include "log.h"
#include "plugin.h"
#include "util.h"

static const char list_usage[] =
    "usage: zentoria-backupctl [-c FILE] list [--source S] [--sink K] "
    "[--json]\n\n"
    "List the artifacts found on the sinks (read from their manifests, so "
    "this works\non a machine that never ran the daemon). One row per copy: "
    "an artifact on two\nsinks is listed twice. TAG is the run's tag (its "
    "schedule line's tag=, or run\n--tag; `-' when none). RUN is the state "
    "of the copy's run on that sink:\n`complete', or `incomplete K/N' when "
    "only K of the N streams the run planned\nhave a copy there (an "
    "interrupted run; `verify --latest' and `test-restore\nJOB' skip "
    "it).\n\n"
    "  --source S   only artifacts of [source:S]\n"
    "  --sink K     only copies on [sink:K]\n"
    "  --json       a JSON array of objects: id, source, stream, sink, "
    "time, size,\n               sha256, job, data, plaintext_size, "
    "plaintext_sha256, compression,\n               run {stamp, [tag,] "
    "state, streams, present, missing}\n";

#define MISSING_SHOWN	8	/* missing streams named in a message */

static void ZB_PRINTF(1, 2)
warning(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vmsg(ZB_LOG_WARN, NULL, fmt, ap);
	va_end(ap);
}

void
ctl_warn_incomplete(const struct catalog_run *r)
{
	struct buf	 b;
	size_t		 i;

	buf_init(&b, 4096);
	for (i = 0; i < r->nmissing && i < MISSING_SHOWN; i++)
		(void)buf_printf(&b, "%s%s", i > 0 ? ", " : "", r->missing[i]);
	if (r->nmissing > MISSING_SHOWN)
		(void)buf_printf(&b, ", and %zu more",
		    r->nmissing - MISSING_SHOWN);
	if (r->nmissing == 0)
		(void)buf_puts(&b, "none, but its manifests disagree on the "
		    "run's streams");
	warning("sink:%s: run %s of [job:%s] (source:%s) is incomplete, "
	    "%zu of %zu streams (missing: %s): its copies are skipped",
	    r->sink, r->stamp, r->job, r->source, r->present, r->planned,
	    b.data != NULL ? b.data : "");
	buf_free(&b);
}

/* "complete" or "incomplete K/N" */
static void
run_state_str(const struct catalog_run *r, char *buf, size_t len)
{
	if (r->complete)
		snprintf(buf, len, "complete");
	else
		snprintf(buf, len, "incomplete %zu/%zu", r->present,
		    r->planned);
}

static void
run_json(struct buf *b, const struct catalog_run *r, const char *tag)
{
	size_t	 i;

	(void)buf_puts(b, ", \"run\": {\"stamp\": ");
	(void)buf_json_str(b, r->stamp);
	if (tag != NULL) {	/* absent when none, as in the manifest */
		(void)buf_puts(b, ", \"tag\": ");
		(void)buf_json_str(b, tag);
	}
	(void)buf_printf(b, ", \"state\": \"%s\", \"streams\": %zu, "
	    "\"present\": %zu, \"missing\": [", r->complete ? "complete" :
	    "incomplete", r->planned, r->present);
	for (i = 0; i < r->nmissing; i++) {
		(void)buf_puts(b, i > 0 ? ", " : "");
		(void)buf_json_str(b, r->missing[i]);
	}
	(void)buf_puts(b, "]}");
}

static void
print_json(const struct catalog *cat)
{
	const struct artifact	*a;
	struct buf		 b;
	char			 comp[32], when[ZB_ISOTIME_LEN];
	size_t			 i;

	buf_init(&b, SIZE_MAX / 2);
	(void)buf_puts(&b, "[");
	for (i = 0; i < cat->n; i++) {
		a = &cat->items[i];
		config_compression_str(&a->comp, comp, sizeof(comp));
		isotime_format(a->time, when, sizeof(when));
		(void)buf_puts(&b, i == 0 ? "\n  {\"id\": " : ",\n  {\"id\": ");
		(void)buf_json_str(&b, a->id);
		(void)buf_puts(&b, ", \"source\": ");
		(void)buf_json_str(&b, a->source);
		(void)buf_puts(&b, ", \"stream\": ");
		(void)buf_json_str(&b, a->stream);
		(void)buf_puts(&b, ", \"sink\": ");
		(void)buf_json_str(&b, a->sink);
		(void)buf_puts(&b, ", \"job\": ");
		(void)buf_json_str(&b, a->job);
		(void)buf_printf(&b, ", \"time\": \"%s\", \"size\": %" PRIu64
		    ", \"sha256\": \"%s\", \"data\": ", when, a->stored_size,
		    a->stored_sha);
		(void)buf_json_str(&b, a->data);
		(void)buf_printf(&b, ", \"plaintext_size\": %" PRIu64
		    ", \"%s\": \"%s\", \"compression\": \"%s\"",
		    a->plain_size, a->plain_sha[0] != '\0' ?
		    "plaintext_sha256" : "plaintext_check",
		    a->plain_sha[0] != '\0' ? a->plain_sha : a->plain_check,
		    comp);
		run_json(&b, catalog_run_of(cat, a), a->run_tag);
		(void)buf_puts(&b, "}");
	}
	(void)buf_puts(&b, cat->n > 0 ? "\n]\n" : "]\n");
	fputs(b.data, stdout);
	buf_free(&b);
}

static void
print_table(const struct catalog *cat)
{
	const struct artifact	*a;
	const struct catalog_run *r;
	char			 size[32], when[ZB_ISOTIME_LEN], run[48];
	size_t			 i, j;
	int			 first = 1;

	if (cat->n == 0) {
		fprintf(stderr, "no artifacts\n");
		return;
	}
	printf("%-48s %-12s %10s %-20s %-16s %-12s %s\n", "ID", "SINK",
	    "SIZE", "TIME", "SHA256", "TAG", "RUN");
	for (i = 0; i < cat->n; i++) {
		a = &cat->items[i];
		human_bytes(a->stored_size, size, sizeof(size));
		isotime_format(a->time, when, sizeof(when));
		run_state_str(catalog_run_of(cat, a), run, sizeof(run));
		printf("%-48s %-12s %10s %-20s %.16s %-12s %s\n", a->id,
		    a->sink, size, when, a->stored_sha,
		    a->run_tag != NULL ? a->run_tag : "-", run);
	}
	for (i = 0; i < cat->nruns; i++) {
		r = &cat->runs[i];
		if (r->complete)
			continue;
		printf("%s[job:%s] run %s on sink:%s (source:%s): incomplete "
		    "%zu/%zu, missing:", first ? "\n" : "", r->job,
		    r->stamp, r->sink, r->source, r->present, r->planned);
		first = 0;
		for (j = 0; j < r->nmissing; j++)
			printf(" %s", r->missing[j]);
		printf("%s\n", r->nmissing == 0 ? " none, but its manifests "
		    "disagree on the run's streams" : "");
	}
}

int
ctl_list(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "source", required_argument, NULL, 's' },
		{ "sink", required_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct catalog_query	 q;
	struct catalog		*cat;
	const char		*source = NULL, *sink = NULL;
	int		 ch;

	if (ctl_wants_help(argc, argv, list_usage))
		return 0;
	for (;;) {
		ch = getopt_long(argc, argv, "", longopts, NULL);
		if (ch == -1)
			break;
		switch (ch) {
		case 's':
			source = optarg;
			break;
		case 'k':
			sink = optarg;
			break;
		case 'j':
			ctl->json = 1;
			break;
		default:
			fputs(list_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fputs(list_usage, stderr);
		return EXIT_USAGE;
	}
	if (ctl_load(ctl) == -1)
		return 1;
	if (ctl_check_sink(ctl, sink) == -1)
		return 1;
	memset(&q, 0, sizeof(q));
	q.sink = sink;
	q.source = source;
	cat = ctl_catalog(ctl, &q);
	if (ctl->json)
		print_json(cat);
	else
		print_table(cat);
	ch = cat->errors > 0 ? 1 : 0;
	catalog_destroy(cat);
	return ch;
}

static const char plugins_usage[] =
    "usage: zentoria-backupctl [-c FILE] plugins [--json]\n\n"
    "Load every plugin in [daemon] plugin_dir and describe it and its "
    "options.\nA plugin that is refused (wrong ABI, ...) is reported and "
    "makes the exit\nstatus 1.\n";

static const char *
type_name(int t)
{
	static const char *const names[] = {
		"?", "string", "int", "bool", "size", "duration", "list",
		"path", "secret"
	};

	return t > 0 && t < (int)ZB_NELEM(names) ? names[t] : "?";
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
ctl_plugins(struct ctl *ctl, int argc, char **argv)
{
	const struct zb_option	*o;
	struct plugin		*p;
	struct dirent		*de;
	DIR			*d;
	char			**names = NULL, *stem;
	size_t			 n = 0, i, len;
	int			 rc = 0, first = 1;

	if (ctl_wants_help(argc, argv, plugins_usage))
		return 0;
	if (argc > 2 || (argc == 2 && strcmp(argv[1], "--json") != 0)) {
		fputs(plugins_usage, stderr);
		return EXIT_USAGE;
	}
	ctl->json = argc == 2;
	ctl->cfg = config_load(ctl->config_path);
	if (ctl->cfg == NULL)
		return 1;
	d = opendir(ctl->cfg->plugin_dir);
	if (d == NULL) {
		log_warn("%s", ctl->cfg->plugin_dir);
		return 1;
	}
	for (;;) {
		de = readdir(d);
		if (de == NULL)
			break;
		len = strlen(de->d_name);
		if (len <= 3 || strcmp(de->d_name + len - 3, ".so") != 0)
			continue;
		names = xreallocarray(names, n + 1, sizeof(*names));
		names[n++] = xstrndup(de->d_name, len - 3);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	if (ctl->json)
		printf("[");
	for (i = 0; i < n; i++) {
		stem = names[i];
		p = plugin_get(ctl->cfg->plugin_dir, stem);
		if (p == NULL) {
			rc = 1;
			continue;
		}
		if (ctl->json) {
			struct buf	 b;

			buf_init(&b, 1 << 20);
			(void)buf_printf(&b, "%s\n  {\"name\": ", first ? "" :
			    ",");
			(void)buf_json_str(&b, p->desc.name);
			(void)buf_puts(&b, ", \"version\": ");
			(void)buf_json_str(&b, p->desc.version ?
			    p->desc.version : "");
			(void)buf_printf(&b, ", \"source\": %s, \"sink\": %s, "
			    "\"description\": ", p->desc.kind & ZB_KIND_SOURCE ?
			    "true" : "false", p->desc.kind & ZB_KIND_SINK ?
			    "true" : "false");
			(void)buf_json_str(&b, p->desc.description ?
			    p->desc.description : "");
			(void)buf_puts(&b, ", \"path\": ");
			(void)buf_json_str(&b, p->path);
			(void)buf_puts(&b, "}");
			fputs(b.data, stdout);
			buf_free(&b);
			first = 0;
			continue;
		}
		printf("%s %s (%s%s%s): %s\n", p->desc.name,
		    p->desc.version ? p->desc.version : "",
		    p->desc.kind & ZB_KIND_SOURCE ? "source" : "",
		    (p->desc.kind & ZB_KIND_SOURCE) &&
		    (p->desc.kind & ZB_KIND_SINK) ? ", " : "",
		    p->desc.kind & ZB_KIND_SINK ? "sink" : "",
		    p->desc.description ? p->desc.description : "");
		for (o = p->desc.options; o != NULL && o->key != NULL; o++)
			printf("    %-18s %-8s %s%s%s%s\n", o->key,
			    type_name(o->type), o->help ? o->help : "",
			    o->required ? " (required)" : "",
			    o->def ? "; default " : "", o->def ? o->def : "");
	}
	if (ctl->json)
		printf("%s]\n", first ? "" : "\n");
	strv_free(names, n);
	return rc;
}
