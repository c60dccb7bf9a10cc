/*
 * ctl_prune.c - `prune': remove what failed and interrupted runs left on
 * the sinks, through the garbage collector (gc.c), one sink after the
 * other; print each decision and count what was removed.
 *
 * A directory a live run is writing is never touched (its in-progress
 * marker and the job lock say so), and neither is anything written
 * within --grace.  Retention (keep_*) is not in this version.
 */
#include "zb-build.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "gc.h"
#include "log.h"
#include "plugin.h"
#include "reactor.h"
#include "sinkio.h"
#include "util.h"

static const char prune_usage[] =
    "usage: zentoria-backupctl [-c FILE] prune [--sink K] [--grace "
    "DURATION] [--dry-run]\n\n"
    "Remove what failed and interrupted runs left on the sinks: puts "
    "that were\nnever committed (temporary files, S3 multipart uploads) "
    "and artifact\ndirectories without a manifest.json. A directory that "
    "a live run is writing\nis never touched, nor anything written within "
    "the grace period.\n\n"
    "  --sink K          only [sink:K] (default: every sink)\n"
    "  --grace DURATION  minimum age, like 30m, 2h, 0 (default 1h)\n"
    "  --dry-run         print what would be removed, remove nothing\n";

struct prune_sink {
	int			 done;
	int			 status;
	char			*err;
	struct gc_result	 res;
};

static void
on_item(void *arg, const struct gc_item *it)
{
	char	*key;

	key = str_printable(it->key);
	if (it->action == GC_KEEP)
		printf("keep sink:%s %s (%s)\n", it->sink, key, it->reason);
	else if (it->failed)
		printf("FAILED to remove sink:%s %s %s (%s)\n", it->sink,
		    it->what, key, it->reason);
	else
		printf("%s sink:%s %s %s (%s)\n", it->dry_run ?
		    "would remove" : "removed", it->sink, it->what, key,
		    it->reason);
	fflush(stdout);
	free(key);
}

static void
on_gc_done(void *arg, const struct gc_result *res)
{
	struct prune_sink	*ps = arg;

	ps->res = *res;
	ps->done = 1;
}

static void
on_cleaned(void *arg, int status, const char *err)
{
	struct prune_sink	*ps = arg;

	ps->status = status;
	ps->err = err != NULL ? xstrdup(err) : NULL;
	ps->done = 1;
}

/*
 * A sink plugin without pending-put listing (before ABI 1.3) cleans up
 * on its own, by start time alone.
 */
static int
legacy_cleanup(struct zb_inst *sink, int64_t grace_s)
{
	struct prune_sink	 ps = { 0 };
	int			 errors = 0;

	sinkio_cleanup(sink, grace_s, on_cleaned, &ps);
	reactor_run_until(&ps.done);
	if (ps.status != ZB_OK) {
		log_warnx("sink:%s: cleanup of interrupted uploads: %s",
		    sink->sec->name, ps.err ? ps.err : "failed");
		errors++;
	}
	free(ps.err);
	return errors;
}

int
ctl_prune(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "sink", required_argument, NULL, 'k' },
		{ "grace", required_argument, NULL, 'g' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	struct cfg_section	*sec;
	struct prune_sink	 ps;
	struct gc_params	 gp;
	const char		*sink = NULL, *errstr;
	int64_t			 grace_ms = 3600 * 1000;
	unsigned		 removed = 0, kept = 0, nsinks = 0;
	int			 ch, dry = 0, errors = 0;

	if (ctl_wants_help(argc, argv, prune_usage))
		return 0;
	for (;;) {
		ch = getopt_long(argc, argv, "", longopts, NULL);
		if (ch == -1)
			break;
		switch (ch) {
		case 'k':
			sink = optarg;
			break;
		case 'g':
			if (parse_duration_ms(optarg, &grace_ms, &errstr) ==
			    -1) {
				log_warnx("--grace %s: expected %s", optarg,
				    errstr);
				return EXIT_USAGE;
			}
			break;
		case 'n':
			dry = 1;
			break;
		default:
			fputs(prune_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fputs(prune_usage, stderr);
		return EXIT_USAGE;
	}
	if (ctl_load(ctl) == -1)
		return 1;
	if (ctl_check_sink(ctl, sink) == -1)
		return 1;
	TAILQ_FOREACH(sec, &ctl->cfg->sections, entry) {
		if (sec->kind != CFG_SINK || sec->inst == NULL ||
		    (sink != NULL && strcmp(sec->name, sink) != 0))
			continue;
		nsinks++;
		if (!dry && !sinkio_has_pending(sec->inst))
			errors += legacy_cleanup(sec->inst, grace_ms / 1000);
		memset(&ps, 0, sizeof(ps));
		memset(&gp, 0, sizeof(gp));
		gp.sink = sec->inst;
		gp.prefix = "";
		gp.grace_s = grace_ms / 1000;
		gp.dry_run = dry;
		gp.item = on_item;
		gp.done = on_gc_done;
		gp.arg = &ps;
		gc_start(&gp);
		reactor_run_until(&ps.done);
		removed += ps.res.removed;
		kept += ps.res.kept;
		errors += (int)ps.res.errors;
	}
	printf("%s %u object%s on %u sink%s, kept %u director%s%s\n",
	    dry ? "would remove" : "removed", removed, removed == 1 ? "" : "s",
	    nsinks, nsinks == 1 ? "" : "s", kept, kept == 1 ? "y" : "ies",
	    errors ? " (with errors, see above)" : "");
	return errors > 0 ? 1 : 0;
}
