/*
 * ctl_check.c - `check': the check service (check.c) from the command
 * line, as the daemon runs it for a [check:NAME] section.
 */
#include "zb-build.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check.h"
#include "ctl.h"
#include "log.h"
#include "util.h"

static const char check_usage[] =
    "usage: zentoria-backupctl [-c FILE] check [--kind KIND] [--job J]... "
    "[--sink K]...\n                          [--json]\n\n"
    "Check the newest complete copy of every stream of the jobs' sources "
    "on every\nsink the jobs write to (each sink on its own), as a "
    "[check:NAME] section of\nthe daemon does. Exits 0 only if every copy "
    "passed; a job's source with no\ncomplete copy on one of its sinks "
    "fails.\n\n"
    "  --kind verify        the objects are there with the manifest's "
    "sizes and the\n                       .sha256 sidecar agrees (cheap: "
    "lists, no data read; default)\n"
    "  --kind deep-verify   read every byte back, check both SHA-256 "
    "digests (`verify')\n"
    "  --kind test-restore  restore into a scratch place and compare with "
    "the\n                       manifest's facts (`test-restore')\n"
    "  --job J     only [job:J] (repeatable; default: every job)\n"
    "  --sink K    only [sink:K] (repeatable; default: every sink)\n"
    "  --identity FILE         age identities for encrypted artifacts\n"
    "  --passphrase-file FILE  or the passphrase they were encrypted to\n"
    "  --json      a JSON array of {id, sink, ok, seconds, restore_seconds, "
    "error}\n";

struct ctl_checked {
	struct ctl	*ctl;
	int		 done;
	size_t		 n;
	unsigned	 failed;
};

static void
print_result(void *arg, const struct check_result *res)
{
	struct ctl_checked	*w = arg;
	const struct check_item	*it;
	struct buf		 b;
	size_t			 i;

	w->n = res->n;
	w->failed = res->failed;
	w->done = 1;
	if (w->ctl->json) {
		buf_init(&b, SIZE_MAX / 2);
		(void)buf_puts(&b, "[");
		for (i = 0; i < res->n; i++) {
			it = &res->items[i];
			(void)buf_puts(&b, i > 0 ? ",\n  {\"id\": " :
			    "\n  {\"id\": ");
			(void)buf_json_str(&b, it->id);
			(void)buf_puts(&b, ", \"sink\": ");
			(void)buf_json_str(&b, it->sink);
			(void)buf_printf(&b, ", \"ok\": %s, \"seconds\": %.3f, "
			    "\"restore_seconds\": %.3f, \"error\": ",
			    it->ok ? "true" : "false",
			    (double)it->duration_ms / 1000.0,
			    (double)it->restore_ms / 1000.0);
			if (it->error != NULL)
				(void)buf_json_str(&b, it->error);
			else
				(void)buf_puts(&b, "null");
			(void)buf_puts(&b, "}");
		}
		(void)buf_puts(&b, res->n > 0 ? "\n]\n" : "]\n");
		fputs(b.data, stdout);
		buf_free(&b);
		return;
	}
	for (i = 0; i < res->n; i++) {
		it = &res->items[i];
		if (it->ok)
			printf("ok     %s on sink:%s (%.1f s)\n", it->id,
			    it->sink, (double)it->duration_ms / 1000.0);
		else
			printf("FAILED %s on sink:%s: %s\n", it->id, it->sink,
			    it->error);
	}
}

int
ctl_check(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "kind", required_argument, NULL, 'K' },
		{ "job", required_argument, NULL, 'J' },
		{ "sink", required_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ "identity", required_argument, NULL, 'i' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 }
	};
	struct check_params	 p;
	struct ctl_checked	 w;
	const char		*idfile = NULL, *passfile = NULL;
	const char		**jobs, **sinks;
	size_t			 njobs = 0, nsinks = 0;
	int			 ch, rc = EXIT_USAGE;

	if (ctl_wants_help(argc, argv, check_usage))
		return 0;
	memset(&p, 0, sizeof(p));
	jobs = xcalloc((size_t)argc + 1, sizeof(*jobs));
	sinks = xcalloc((size_t)argc + 1, sizeof(*sinks));
	for (;;) {
		ch = getopt_long(argc, argv, "", longopts, NULL);
		if (ch == -1)
			break;
		switch (ch) {
		case 'K':
			if (check_kind_parse(optarg, &p.kind) == -1) {
				log_warnx("--kind %s: not verify, deep-verify "
				    "or test-restore", optarg);
				goto out;
			}
			break;
		case 'J':
			jobs[njobs++] = optarg;
			break;
		case 'k':
			sinks[nsinks++] = optarg;
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
			fputs(check_usage, stderr);
			goto out;
		}
	}
	if (optind != argc) {
		fputs(check_usage, stderr);
		goto out;
	}
	rc = 1;
	if (ctl_load(ctl) == -1 ||
	    ctl_identities(ctl, idfile, passfile, &p.identities) == -1)
		goto out;
	p.jobs = jobs;
	p.njobs = njobs;
	p.sinks = sinks;
	p.nsinks = nsinks;
	memset(&w, 0, sizeof(w));
	w.ctl = ctl;
	check_start(ctl->cfg, &p, print_result, &w);
	ctl_wait(&w.done);
	if (w.n == 0)
		log_warnx("nothing to check: no job%s%s", nsinks > 0 ?
		    " writes to the given sink" : " in ", nsinks > 0 ? "" :
		    ctl->cfg->path);
	rc = w.n > 0 && w.failed == 0 ? 0 : 1;
out:
	free(jobs);
	free(sinks);
	return rc;
}
