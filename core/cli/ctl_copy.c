/*
 * ctl_copy.c - `zentoria-backupctl copy': the front end of the copy
 * service (copy.c).  Parses the options, starts the service, waits, and
 * prints every decision as it comes (with --json, a JSON array on stdout
 * and the rest on stderr), then the counts.  Exit 1 when a copy, a
 * catalog or a sink name failed.
 */
#include "zb-build.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "copy.h"
#include "ctl.h"
#include "log.h"
#include "progress.h"
#include "util.h"

static const char copy_usage[] =
    "usage: zentoria-backupctl [-c FILE] copy --from SINK --to SINK... "
    "[--source S]...\n       [--newest-per-stream] [--since DURATION] "
    "[--dry-run] [--json]\n\n"
    "Copy the committed copies of sink --from that are missing on each "
    "--to sink:\nthe stored bytes as they are (no new dump, nothing "
    "decrypted), checked\nagainst the manifest's size and SHA-256 on the "
    "way, then the sidecar, then\nthe manifest naming the target sink, "
    "last. A copy already on a target is\nleft alone: a second run "
    "writes nothing. A copy job ([job:NAME] copy_from =)\ndoes the same "
    "on its schedule.\n\n"
    "  --from SINK          the [sink:NAME] to copy from\n"
    "  --to SINK            a [sink:NAME] to copy to (may be repeated)\n"
    "  --source S           only the copies of source S (may be "
    "repeated)\n"
    "  --newest-per-stream  only the newest complete copy of each "
    "stream\n"
    "  --since DURATION     only copies made within DURATION, like 7d "
    "or 12h\n"
    "  --dry-run            print what would be copied, copy nothing\n"
    "  --json               the decisions as a JSON array of {id, sink, "
    "action,\n                       bytes[, error]}; the other lines "
    "go to stderr\n";

struct copy_cli {
	int			 done;
	int			 json;
	struct buf		*out;
	struct copy		*copy;
	struct copy_result	 res;
};

static void
on_item(void *arg, const struct copy_item *it)
{
	struct copy_cli	*cc = arg;
	FILE		*out = cc->json ? stderr : stdout;
	struct buf	*b = cc->out;

	switch (it->action) {
	case COPY_COPIED:
		fprintf(out, "copied sink:%s %s (%" PRIu64 " bytes)\n",
		    it->sink, it->id, it->bytes);
		break;
	case COPY_PRESENT:
		fprintf(out, "present sink:%s %s\n", it->sink, it->id);
		break;
	case COPY_WOULD_COPY:
		fprintf(out, "would copy sink:%s %s (%" PRIu64 " bytes)\n",
		    it->sink, it->id, it->bytes);
		break;
	case COPY_FAILED:
		fprintf(out, "FAILED sink:%s %s: %s\n", it->sink, it->id,
		    it->error != NULL ? it->error : "failed");
		break;
	case COPY_EXPIRED:
		fprintf(out, "expired sink:%s %s: %s\n", it->sink, it->id,
		    it->error != NULL ? it->error : "");
		break;
	}
	fflush(out);
	if (!cc->json)
		return;
	(void)buf_puts(b, b->len > 1 ? ",\n  {\"id\": " : "\n  {\"id\": ");
	(void)buf_json_str(b, it->id);
	(void)buf_puts(b, ", \"sink\": ");
	(void)buf_json_str(b, it->sink);
	(void)buf_puts(b, ", \"action\": ");
	(void)buf_json_str(b, it->action == COPY_WOULD_COPY ? "would_copy" :
	    copy_action_str(it->action));
	(void)buf_printf(b, ", \"bytes\": %" PRIu64, it->bytes);
	if (it->error != NULL) {
		(void)buf_puts(b, ", \"error\": ");
		(void)buf_json_str(b, it->error);
	}
	(void)buf_puts(b, "}");
}

static void
on_done(void *arg, const struct copy_result *r)
{
	struct copy_cli	*cc = arg;

	cc->res = *r;
	cc->copy = NULL;
	cc->done = 1;
}

static uint64_t
copied_bytes(void *arg)
{
	struct copy_cli	*cc = arg;

	return cc->copy != NULL ? copy_bytes(cc->copy) : cc->res.bytes;
}

int
ctl_copy(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "source", required_argument, NULL, 's' },
		{ "newest-per-stream", no_argument, NULL, 'N' },
		{ "since", required_argument, NULL, 'S' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char		*to[CFG_MAX_SINKS], *sources[64];
	struct copy_params	 p;
	struct copy_cli		 cc;
	struct progress		*prog;
	struct buf		 json;
	const struct copy_result *r = &cc.res;
	const char		*errstr;
	int64_t			 since_ms;
	int			 ch;
	FILE			*out;

	if (ctl_wants_help(argc, argv, copy_usage))
		return 0;
	memset(&p, 0, sizeof(p));
	memset(&cc, 0, sizeof(cc));
	p.to = to;
	p.sources = sources;
	for (;;) {
		ch = getopt_long(argc, argv, "", longopts, NULL);
		if (ch == -1)
			break;
		switch (ch) {
		case 'f':
			p.from = optarg;
			break;
		case 't':
			if (p.nto == CFG_MAX_SINKS) {
				log_warnx("--to: at most %d sinks",
				    CFG_MAX_SINKS);
				return EXIT_USAGE;
			}
			to[p.nto++] = optarg;
			break;
		case 's':
			if (p.nsources == ZB_NELEM(sources) ||
			    !valid_name(optarg)) {
				log_warnx("--source %s: expected a source "
				    "name (at most %zu --source)", optarg,
				    ZB_NELEM(sources));
				return EXIT_USAGE;
			}
			sources[p.nsources++] = optarg;
			break;
		case 'N':
			p.newest_per_stream = 1;
			break;
		case 'S':
			if (parse_duration_ms(optarg, &since_ms, &errstr) ==
			    -1 || since_ms < 1000) {
				log_warnx("--since %s: expected a duration "
				    "of at least 1s, like 7d or 12h", optarg);
				return EXIT_USAGE;
			}
			p.since_s = since_ms / 1000;
			break;
		case 'n':
			p.dry_run = 1;
			break;
		case 'j':
			cc.json = 1;
			break;
		default:
			fputs(copy_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc || p.from == NULL || p.nto == 0) {
		if (optind == argc)
			log_warnx("copy: --from SINK and --to SINK are "
			    "required");
		fputs(copy_usage, stderr);
		return EXIT_USAGE;
	}
	if (ctl_load(ctl) == -1)
		return 1;
	ctl->cfg->budget_jobs = 1;	/* the one copy at a time */
	buf_init(&json, 64 << 20);
	(void)buf_puts(&json, "[");
	cc.out = &json;
	cc.copy = copy_start(ctl->cfg, &p, on_item, on_done, &cc);
	prog = progress_start("copy", 0, copied_bytes, &cc);
	ctl_wait(&cc.done);
	progress_stop(prog);
	if (cc.json) {
		(void)buf_puts(&json, json.len > 1 ? "\n]\n" : "]\n");
		fwrite(json.data, 1, json.len, stdout);
	}
	buf_free(&json);
	out = cc.json ? stderr : stdout;
	if (p.dry_run)
		fprintf(out, "would copy %u cop%s from sink:%s; %u present, "
		    "%u failed", r->would_copy, r->would_copy == 1 ? "y" :
		    "ies", p.from, r->present, r->failed);
	else
		fprintf(out, "copied %u cop%s (%" PRIu64 " bytes) from "
		    "sink:%s; %u present, %u failed", r->copied,
		    r->copied == 1 ? "y" : "ies", r->bytes, p.from,
		    r->present, r->failed);
	if (r->expired > 0)
		fprintf(out, "; %u expired (the target's retention would "
		    "remove them at once)", r->expired);
	fputc('\n', out);
	return r->failed > 0 ? 1 : 0;
}
