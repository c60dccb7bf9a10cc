/*
 * ctl_prune.c - `prune', sink after sink:
 *  1. garbage: what failed and interrupted runs left (gc.c).  A directory
 *     a live run is writing is never touched (its in-progress marker and
 *     the job lock say so), and neither is anything written within
 *     --grace;
 *  2. retention: the committed copies the keep_* policy does not keep
 *     (forget.c), manifest first.
 * Prints every decision (with --json, the retention decisions as a JSON
 * array on stdout and the rest on stderr) and counts what was removed.
 */
#include "zb-build.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "catalog.h"
#include "ctl.h"
#include "forget.h"
#include "gc.h"
#include "retention.h"
#include "log.h"
#include "plugin.h"
#include "reactor.h"
#include "sinkio.h"
#include "util.h"

static const char prune_usage[] =
    "usage: zentoria-backupctl [-c FILE] prune [--sink K] [--grace "
    "DURATION] [--dry-run] [--json]\n\n"
    "Remove what failed and interrupted runs left on the sinks: puts "
    "that were\nnever committed (temporary files, S3 multipart uploads) "
    "and artifact\ndirectories without a manifest.json. A directory that "
    "a live run is writing\nis never touched, nor anything written within "
    "the grace period.\nThen apply retention (the keep_* keys of each sink, "
    "or of a job for its\nsource): print every committed copy with keep or "
    "remove and the rules that\nkept it, and remove the others, manifest "
    "first.\n\n"
    "  --sink K          only [sink:K] (default: every sink)\n"
    "  --grace DURATION  minimum age, like 30m, 2h, 0 (default 1h)\n"
    "  --dry-run         print what would be removed, remove nothing\n"
    "  --json            retention decisions as a JSON array of {id, sink, "
    "action,\n                    rules}; the other lines go to stderr\n";

static int	json_out;

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

	FILE	*out = json_out ? stderr : stdout;

	key = log_printable(it->key);
	if (it->action == GC_KEEP)
		fprintf(out, "keep sink:%s %s (%s)\n", it->sink, key,
		    it->reason);
	else if (it->failed)
		fprintf(out, "FAILED to remove sink:%s %s %s (%s)\n",
		    it->sink, it->what, key, it->reason);
	else
		fprintf(out, "%s sink:%s %s %s (%s)\n", it->dry_run ?
		    "would remove" : "removed", it->sink, it->what, key,
		    it->reason);
	fflush(out);
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

static void
on_forgotten(void *arg)
{
	*(int *)arg = 1;
}

static void
retention_json(struct buf *b, const struct forget_decision *d,
    const char *sink)
{
	unsigned	 bit;
	int		 first = 1;

	(void)buf_puts(b, b->len > 1 ? ",\n  {\"id\": " : "\n  {\"id\": ");
	(void)buf_json_str(b, d->copy->id);
	(void)buf_puts(b, ", \"sink\": ");
	(void)buf_json_str(b, sink);
	(void)buf_printf(b, ", \"action\": \"%s\", \"rules\": [",
	    d->keep ? "keep" : "remove");
	for (bit = 1; bit < (1u << RETENTION_KEEP_NBITS); bit <<= 1) {
		if (!(d->rules & bit) || retention_rule_name(bit) == NULL)
			continue;
		(void)buf_printf(b, "%s\"%s\"", first ? "" : ", ",
		    retention_rule_name(bit));
		first = 0;
	}
	(void)buf_puts(b, "]");
	if (d->error != NULL) {
		(void)buf_puts(b, ", \"error\": ");
		(void)buf_json_str(b, d->error);
	}
	(void)buf_puts(b, "}");
}

static void
retention_line(const struct forget_decision *d, const char *sink, int dry)
{
	char	 rules[128];
	FILE	*out = json_out ? stderr : stdout;

	retention_rules_format(d->rules, ",", rules, sizeof(rules));
	if (d->keep)
		fprintf(out, "keep sink:%s copy %s (%s)\n", sink, d->copy->id,
		    rules);
	else if (dry)
		fprintf(out, "would remove sink:%s copy %s (no rule keeps "
		    "it)\n", sink, d->copy->id);
	else if (!d->removed)
		fprintf(out, "FAILED to remove sink:%s copy %s: %s\n", sink,
		    d->copy->id, d->error ? d->error : "error");
	else if (d->error != NULL)
		fprintf(out, "removed sink:%s copy %s (its manifest; the rest "
		    "is left as garbage: %s)\n", sink, d->copy->id,
		    d->error);
	else
		fprintf(out, "removed sink:%s copy %s (no rule keeps it)\n",
		    sink, d->copy->id);
}

/*
 * Retention on one sink: decide, remove (unless dry), print.  The
 * number of copies removed goes to *forgotten; returns the errors.
 */
static int
apply_retention(struct ctl *ctl, struct cfg_section *sec, int dry,
    struct buf *json, unsigned *forgotten, unsigned *retained)
{
	struct catalog_query	 q;
	struct catalog		*cat;
	struct forget_plan	 plan;
	size_t			 i;
	int			 done = 0, errors = 0;

	memset(&q, 0, sizeof(q));
	q.sink = sec->name;
	cat = ctl_catalog(ctl, &q);
	if (cat->errors > 0) {
		/* Deciding on a partial list could remove the wrong copies. */
		log_warnx("sink:%s: retention skipped: the catalog could not "
		    "be read completely", sec->name);
		catalog_destroy(cat);
		return 1;
	}
	forget_decide(ctl->cfg, sec, cat, time(NULL), &plan);
	if (!dry && plan.nremove > 0 && !reactor_interrupted()) {
		forget_remove(sec->inst, &plan, on_forgotten, &done);
		reactor_run_until(&done);
	}
	for (i = 0; i < plan.n; i++) {
		retention_line(&plan.d[i], sec->name, dry);
		if (json != NULL)
			retention_json(json, &plan.d[i], sec->name);
		if (plan.d[i].keep)
			(*retained)++;
		else if (dry || plan.d[i].removed)
			(*forgotten)++;
		if (!plan.d[i].keep && !dry && !plan.d[i].removed)
			errors++;
	}
	forget_plan_free(&plan);
	catalog_destroy(cat);
	return errors;
}

int
ctl_prune(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "sink", required_argument, NULL, 'k' },
		{ "grace", required_argument, NULL, 'g' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct buf		 json;
	struct cfg_section	*sec;
	struct prune_sink	 ps;
	struct gc_params	 gp;
	const char		*sink = NULL, *errstr;
	int64_t			 grace_ms = 3600 * 1000;
	unsigned		 removed = 0, kept = 0, nsinks = 0;
	unsigned		 forgotten = 0, retained = 0;
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
		case 'j':
			json_out = 1;
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
	buf_init(&json, 64 << 20);
	(void)buf_puts(&json, "[");
	TAILQ_FOREACH(sec, &ctl->cfg->sections, entry) {
		if (reactor_interrupted())
			break;		/* main() exits 128 + the signal */
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
		if (reactor_interrupted())
			break;
		errors += apply_retention(ctl, sec, dry, json_out ? &json :
		    NULL, &forgotten, &retained);
	}
	if (json_out) {
		(void)buf_puts(&json, json.len > 1 ? "\n]\n" : "]\n");
		fwrite(json.data, 1, json.len, stdout);
	}
	buf_free(&json);
	fprintf(json_out ? stderr : stdout, "%s %u object%s on %u sink%s, "
	    "kept %u director%s; retention: %s %u cop%s, kept %u%s\n",
	    dry ? "would remove" : "removed", removed, removed == 1 ? "" : "s",
	    nsinks, nsinks == 1 ? "" : "s", kept, kept == 1 ? "y" : "ies",
	    dry ? "would remove" : "removed", forgotten,
	    forgotten == 1 ? "y" : "ies", retained,
	    errors ? " (with errors, see above)" : "");
	return errors > 0 ? 1 : 0;
}
