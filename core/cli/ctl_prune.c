/*
 * ctl_prune.c - `prune': the front end of the prune service (prune.c).
 * Parses the options, starts the service with garbage collection and
 * retention on the selected sinks, waits, and prints every decision as
 * it comes (with --json, the retention decisions as a JSON array on
 * stdout and the rest on stderr), then the counts.  Exit 1 when a
 * listing, catalog or removal failed; copies the sink's Object Lock kept
 * are reported as retained, which is not a failure.
 */
#include "zb-build.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "ctl.h"
#include "layout.h"
#include "log.h"
#include "metrics.h"
#include "prune.h"
#include "retention.h"
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
    "first. A copy the sink refuses to\nremove for its own retention (S3 "
    "Object Lock) is reported as retained.\n\n"
    "  --sink K          only [sink:K] (default: every sink)\n"
    "  --grace DURATION  minimum age, like 30m, 2h, 0 (default 1h)\n"
    "  --dry-run         print what would be removed, remove nothing\n"
    "  --json            retention decisions as a JSON array of {id, sink, "
    "action,\n                    rules}; the other lines go to stderr\n";

/* Copies a retention pass left on a sink, per source (the metrics). */
struct prune_tally {
	char		*sink, *source;
	uint64_t	 copies;
};

struct prune_cli {
	struct prune_tally	*tally;
	size_t			 ntally;
	int			 done;
	int			 json;
	struct buf		*out;		/* --json: the array */
	struct prune_result	 res;
};

/* A garbage decision: one line (stderr with --json). */
static void
gc_line(FILE *out, const struct prune_item *it)
{
	char	*key;

	key = log_printable(it->id_or_key);
	if (it->action == PRUNE_KEEP)
		fprintf(out, "keep sink:%s %s (%s)\n", it->sink, key,
		    it->reason);
	else if (it->action == PRUNE_RETAINED)
		fprintf(out, "retained sink:%s %s %s (%s)\n", it->sink,
		    it->what, key, it->reason);
	else if (it->failed)
		fprintf(out, "FAILED to remove sink:%s %s %s (%s)\n",
		    it->sink, it->what, key, it->reason);
	else
		fprintf(out, "%s sink:%s %s %s (%s)\n", it->dry_run ?
		    "would remove" : "removed", it->sink, it->what, key,
		    it->reason);
	free(key);
}

/* A retention decision: one line (stderr with --json). */
static void
copy_line(FILE *out, const struct prune_item *it)
{
	if (it->action == PRUNE_KEEP)
		fprintf(out, "keep sink:%s copy %s (%s)\n", it->sink,
		    it->id_or_key, it->reason);
	else if (it->action == PRUNE_RETAINED)
		fprintf(out, "retained sink:%s copy %s (%s)\n", it->sink,
		    it->id_or_key, it->reason);
	else if (it->dry_run)
		fprintf(out, "would remove sink:%s copy %s (%s)\n",
		    it->sink, it->id_or_key, it->reason);
	else if (it->failed)
		fprintf(out, "FAILED to remove sink:%s copy %s: %s\n",
		    it->sink, it->id_or_key, it->reason);
	else
		fprintf(out, "removed sink:%s copy %s (%s)\n", it->sink,
		    it->id_or_key, it->reason);
}

/* {"id", "sink", "action", "rules"[, "error"][, "reason"]} */
static void
copy_json(struct buf *b, const struct prune_item *it)
{
	unsigned	 bit;
	int		 first = 1;

	(void)buf_puts(b, b->len > 1 ? ",\n  {\"id\": " : "\n  {\"id\": ");
	(void)buf_json_str(b, it->id_or_key);
	(void)buf_puts(b, ", \"sink\": ");
	(void)buf_json_str(b, it->sink);
	(void)buf_printf(b, ", \"action\": \"%s\", \"rules\": [",
	    it->action == PRUNE_KEEP ? "keep" :
	    it->action == PRUNE_RETAINED ? "retained" : "remove");
	for (bit = 1; bit < (1u << RETENTION_KEEP_NBITS); bit <<= 1) {
		if (!(it->rules & bit) || retention_rule_name(bit) == NULL)
			continue;
		(void)buf_printf(b, "%s\"%s\"", first ? "" : ", ",
		    retention_rule_name(bit));
		first = 0;
	}
	(void)buf_puts(b, "]");
	if (it->error != NULL) {
		(void)buf_puts(b, ", \"error\": ");
		(void)buf_json_str(b, it->error);
	}
	if (it->action == PRUNE_RETAINED) {
		(void)buf_puts(b, ", \"reason\": ");
		(void)buf_json_str(b, it->reason);
	}
	(void)buf_puts(b, "}");
}

static void
tally_copy(struct prune_cli *pc, const struct prune_item *it)
{
	char	*source, *stream, *stamp;
	size_t	 i;

	if (it->failed || it->action == PRUNE_REMOVE ||
	    layout_parse_id(it->id_or_key, &source, &stream, &stamp) == -1)
		return;
	free(stream);
	free(stamp);
	for (i = 0; i < pc->ntally; i++)
		if (strcmp(pc->tally[i].sink, it->sink) == 0 &&
		    strcmp(pc->tally[i].source, source) == 0)
			break;
	if (i == pc->ntally) {
		pc->tally = xreallocarray(pc->tally, pc->ntally + 1,
		    sizeof(*pc->tally));
		pc->tally[i].sink = xstrdup(it->sink);
		pc->tally[i].source = source;
		pc->tally[i].copies = 0;
		pc->ntally++;
	} else
		free(source);
	pc->tally[i].copies++;
}

/*
 * After a complete pass: what each sink keeps per source, for
 * backup_retained_copies, and metrics_textfile.
 */
static void
record_tally(struct ctl *ctl, struct prune_cli *pc, int record)
{
	char	 err[512];
	size_t	 i;

	for (i = 0; i < pc->ntally; i++) {
		if (record && metrics_record_retained(ctl->cfg->state_dir,
		    pc->tally[i].sink, pc->tally[i].source,
		    pc->tally[i].copies, err, sizeof(err)) == -1)
			log_warnx("metrics: %s", err);
		free(pc->tally[i].sink);
		free(pc->tally[i].source);
	}
	free(pc->tally);
	if (record)
		ctl_write_textfile(ctl);
}

static void
on_item(void *arg, const struct prune_item *it)
{
	struct prune_cli	*pc = arg;
	FILE			*out = pc->json ? stderr : stdout;

	if (strcmp(it->what, "copy") != 0)
		gc_line(out, it);
	else {
		tally_copy(pc, it);
		copy_line(out, it);
		if (pc->json)
			copy_json(pc->out, it);
	}
	fflush(out);
}

static void
on_done(void *arg, const struct prune_result *res)
{
	struct prune_cli	*pc = arg;

	pc->res = *res;
	pc->done = 1;
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
	struct prune_cli	 pc;
	struct prune_params	 pp;
	const struct prune_result *r = &pc.res;
	const char		*sink = NULL, *errstr;
	int64_t			 grace_ms = 3600 * 1000;
	int			 ch, dry = 0, json_out = 0;

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
	memset(&pc, 0, sizeof(pc));
	pc.json = json_out;
	pc.out = &json;
	memset(&pp, 0, sizeof(pp));
	pp.sink = sink;
	pp.grace_s = grace_ms / 1000;
	pp.dry_run = dry;
	pp.gc = 1;
	pp.retention = 1;
	prune_start(ctl->cfg, &pp, on_item, on_done, &pc);
	ctl_wait(&pc.done);
	record_tally(ctl, &pc, !dry && r->errors == 0 && !r->interrupted);
	/* Interrupted: main() exits 128 + the signal. */
	if (json_out) {
		(void)buf_puts(&json, json.len > 1 ? "\n]\n" : "]\n");
		fwrite(json.data, 1, json.len, stdout);
	}
	buf_free(&json);
	fprintf(json_out ? stderr : stdout, "%s %u object%s on %u sink%s, "
	    "kept %u director%s; retention: %s %u cop%s, kept %u",
	    dry ? "would remove" : "removed", r->gc_removed,
	    r->gc_removed == 1 ? "" : "s", r->sinks, r->sinks == 1 ? "" : "s",
	    r->gc_kept, r->gc_kept == 1 ? "y" : "ies",
	    dry ? "would remove" : "removed", r->removed,
	    r->removed == 1 ? "y" : "ies", r->kept);
	if (r->retained > 0)
		fprintf(json_out ? stderr : stdout, "; %u retained by the "
		    "sink (Object Lock)", r->retained);
	fprintf(json_out ? stderr : stdout, "%s\n",
	    r->errors ? " (with errors, see above)" : "");
	return r->errors > 0 ? 1 : 0;
}
