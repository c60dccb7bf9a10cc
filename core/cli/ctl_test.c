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
    "source,\n              among the copies whose run is complete on "
    "their sink\n"
    "  --sink K    read the copy on [sink:K] (default: the first copy that "
    "restores)\n"
    "  --identity FILE         age identities for encrypted artifacts\n"
    "  --passphrase-file FILE  or the passphrase they were encrypted to\n"
    "  --json      print a JSON array of {id, sink, ok, seconds}\n";

/*
 * The copies to test, by artifact: ID's copies, or (JOB) those of the
 * newest artifact of each stream of its source among the copies whose run
 * is complete on their sink (catalog_latest).  out[] holds the copies
 * grouped by id; starts[k] is where the k-th artifact's begin.
 */
static size_t
pick(const struct catalog *cat, const char *source, const char *id,
    const struct artifact **out, size_t max, size_t *starts)
{
	struct catalog_pick	 p;
	size_t			 i, j, n = 0, nids = 0;

	if (source == NULL) {
		n = catalog_copies(cat, id, out, max);
		starts[0] = 0;
		starts[1] = n;
		return n > 0 ? 1 : 0;
	}
	catalog_latest(cat, source, &p);
	for (i = 0; i < p.nskipped; i++)
		ctl_warn_incomplete(p.skipped[i]);
	/* Group the copies by id, first appearance first. */
	for (i = 0; i < p.n && n < max; i++) {
		for (j = 0; j < n; j++)
			if (strcmp(out[j]->id, p.copies[i]->id) == 0)
				break;
		if (j < n)
			continue;
		starts[nids++] = n;
		for (j = i; j < p.n && n < max; j++)
			if (strcmp(p.copies[j]->id, p.copies[i]->id) == 0)
				out[n++] = p.copies[j];
	}
	starts[nids] = n;
	catalog_pick_free(&p);
	return nids;
}

/* Test one artifact on its copies in order until one passes. */
static int
test_one(struct ctl *ctl, const struct artifact *const *copies, size_t n,
    struct restore_opts *o, int first)
{
	struct restore_result	 res;
	double			 secs = 0;
	size_t			 i;
	int			 ok = 0;
	const char		*sink = "-", *id = copies[0]->id;

	for (i = 0; i < n && !ok && !reactor_interrupted(); i++) {
		if (i > 0)
			log_info("%s: trying the copy on sink:%s", id,
			    copies[i]->sink);
		sink = copies[i]->sink;
		ok = ctl_restore_copy(ctl, copies[i], o, &res) == 0;
		secs = (double)res.elapsed_ms / 1000.0;
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
	const struct artifact	**copies;
	size_t			*starts;
	struct cfg_job		*job;
	struct catalog_query	 q;
	struct catalog		*cat;
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
		if (job->source == NULL) {
			log_warnx("[job:%s] is a copy job (copy_from = %s): "
			    "test-restore the jobs that back up its sources",
			    job->name, job->copy_from->name);
			return 1;
		}
		source = job->source->name;
	}
	memset(&q, 0, sizeof(q));
	q.sink = sink;
	q.source = source;
	cat = ctl_catalog(ctl, &q);
	copies = xcalloc(cat->n + 1, sizeof(*copies));
	starts = xcalloc(cat->n + 2, sizeof(*starts));
	n = pick(cat, source, what, copies, cat->n, starts);
	if (n == 0)
		log_warnx("%s: %s%s%s (see `list')", what, source != NULL ?
		    "no artifacts of its source" : "no such artifact",
		    sink ? " on sink:" : "", sink ? sink : "");
	if (ctl->json)
		printf("[");
	for (i = 0; i < n && !reactor_interrupted(); i++)
		nok += test_one(ctl, copies + starts[i],
		    starts[i + 1] - starts[i], &o, i == 0);
	if (ctl->json)
		printf("%s]\n", n > 0 ? "\n" : "");
	free(copies);
	free(starts);
	catalog_destroy(cat);
	return n > 0 && nok == n ? 0 : 1;
}
