/*
 * ctl_test.c - `test-restore': prove that a backup restores.
 *
 * The source plugin restores the artifact into a scratch place of its own
 * (a scratch database, a throwaway redis-server), compares what it got
 * with the facts its backup recorded in the manifest (row counts, keys
 * per database), and removes the scratch place again.  The bytes are
 * checked against the manifest's hashes on the way, as for `restore'.
 */
#include "zb-build.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "ctl.h"
#include "log.h"
#include "reactor.h"
#include "restore.h"
#include "util.h"

#define MAX_COPIES	CFG_MAX_SECTIONS

static const char test_usage[] =
    "usage: zentoria-backupctl [-c FILE] test-restore ID | JOB [--sink K] "
    "[--json]\n\n"
    "Restore into a scratch place and compare the result with what the "
    "backup\nrecorded (PostgreSQL: every table's row count in a scratch "
    "database;\nRedis: keys per database in a throwaway redis-server), then "
    "remove the\nscratch place. Prints the result and the measured restore "
    "time; exits 0\nonly if everything matched.\n\n"
    "  ID          an artifact id (SOURCE/STREAM@TIME)\n"
    "  JOB         a [job:NAME]: the newest artifact of every stream of its "
    "source\n"
    "  --sink K    read the copy on [sink:K] (default: the first copy that "
    "restores)\n"
    "  --identity FILE         age identities for encrypted artifacts\n"
    "  --passphrase-file FILE  or the passphrase they were encrypted to\n"
    "  --json      print a JSON array of {id, sink, ok, seconds}\n";

/* The artifacts to test: ID itself, or the newest of each stream of JOB. */
static size_t
pick(const struct catalog *cat, const char *source, const char *id,
    const char **out, size_t max)
{
	const struct artifact	*a, *b;
	size_t			 i, j, n = 0;
	int			 newest, seen;

	for (i = 0; i < cat->n && n < max; i++) {
		a = &cat->items[i];
		if (source == NULL) {
			if (strcmp(a->id, id) == 0) {
				out[n++] = a->id;
				break;
			}
			continue;
		}
		if (strcmp(a->source, source) != 0)
			continue;
		newest = 1;
		for (j = 0; j < cat->n && newest; j++) {
			b = &cat->items[j];
			if (strcmp(b->source, a->source) == 0 &&
			    strcmp(b->stream, a->stream) == 0 &&
			    b->time > a->time)
				newest = 0;
		}
		for (seen = 0, j = 0; j < n; j++)
			if (strcmp(out[j], a->id) == 0)
				seen = 1;
		if (newest && !seen)
			out[n++] = a->id;
	}
	return n;
}

/* Test one artifact on its copies in order until one passes. */
static int
test_one(struct ctl *ctl, const struct catalog *cat, const char *id,
    struct restore_opts *o, int first)
{
	const struct artifact	*copies[MAX_COPIES];
	uint64_t		 t0;
	double			 secs = 0;
	size_t			 n, i;
	int			 ok = 0;
	const char		*sink = "-";

	n = catalog_copies(cat, id, copies, MAX_COPIES);
	for (i = 0; i < n && !ok && !reactor_interrupted(); i++) {
		if (i > 0)
			log_info("%s: trying the copy on sink:%s", id,
			    copies[i]->sink);
		sink = copies[i]->sink;
		t0 = now_ms();
		ok = restore_copy(ctl->cfg, copies[i], o) == 0;
		secs = (double)(now_ms() - t0) / 1000.0;
	}
	if (ctl->json)
		printf("%s\n  {\"id\": \"%s\", \"sink\": \"%s\", \"ok\": %s, "
		    "\"seconds\": %.3f}", first ? "" : ",", id, sink,
		    ok ? "true" : "false", secs);
	else if (ok)
		printf("ok     %s on sink:%s: restored and matched the "
		    "manifest in %.1f s\n", id, sink, secs);
	else
		printf("FAILED %s%s%s\n", id, n > 0 ? " on sink:" : "",
		    n > 0 ? sink : ": no copy found");
	fflush(stdout);
	return ok;
}

int
ctl_test_restore(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "sink", required_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ "identity", required_argument, NULL, 'i' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 }
	};
	struct restore_opts	 o = { .test = 1 };
	const char		*idfile = NULL, *passfile = NULL;
	const char		*sink = NULL, *what, *source = NULL;
	const char		*ids[MAX_COPIES * 8];
	struct cfg_job		*job;
	struct catalog		 cat;
	size_t			 n, i, nok = 0;
	int			 ch;

	if (ctl_wants_help(argc, argv, test_usage))
		return 0;
	for (;;) {
		ch = getopt_long(argc, argv, "", longopts, NULL);
		if (ch == -1)
			break;
		switch (ch) {
		case 'k':
			sink = optarg;
			break;
		case 'j':
			ctl->json = 1;
			break;
		case 'i':
			idfile = optarg;
			break;
		case 'p':
			passfile = optarg;
			break;
		default:
			fputs(test_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fputs(test_usage, stderr);
		return EXIT_USAGE;
	}
	what = argv[optind];
	if (ctl_load(ctl) == -1 ||
	    ctl_identities(ctl, idfile, passfile, &o.identities) == -1)
		return 1;
	if (ctl_check_sink(ctl, sink) == -1)
		return 1;
	if (strchr(what, '@') == NULL) {
		job = config_job(ctl->cfg, what);
		if (job == NULL) {
			log_warnx("%s: neither an artifact id (SOURCE/STREAM@"
			    "TIME) nor a [job:%s] in %s", what, what,
			    ctl->cfg->path);
			return 1;
		}
		source = job->source->name;
	}
	catalog_load(ctl->cfg, sink, source, &cat);
	n = pick(&cat, source, what, ids, sizeof(ids) / sizeof(ids[0]));
	if (n == 0)
		log_warnx("%s: %s%s%s (see `list')", what, source != NULL ?
		    "no artifacts of its source" : "no such artifact",
		    sink ? " on sink:" : "", sink ? sink : "");
	if (ctl->json)
		printf("[");
	for (i = 0; i < n && !reactor_interrupted(); i++)
		nok += test_one(ctl, &cat, ids[i], &o, i == 0);
	if (ctl->json)
		printf("%s]\n", n > 0 ? "\n" : "");
	catalog_free(&cat);
	return n > 0 && nok == n ? 0 : 1;
}
