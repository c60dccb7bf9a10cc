/*
 * prune_call.c - check-only front end of the prune service (core/prune.c)
 * with every parameter the service takes, for the calls the CLI does not
 * make: the daemon's {sink, source, retention only} after a run.
 *
 *	prune_call -c FILE [-k SINK] [-s SOURCE] [-g] [-r] [-n] [-G SECONDS]
 *
 * -g: garbage collection; -r: retention; -n: dry run; -G: grace.  Prints
 * one line per decision, "ACTION SINK WHAT ID_OR_KEY [failed]", with
 * ACTION keep, remove or retained, then "result removed=N kept=N
 * retained=N errors=N sinks=N gc_removed=N gc_kept=N".  Exit 0, 1 when
 * the result counts errors, 2 for usage and configuration errors.
 */
#include "zb-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "http.h"
#include "log.h"
#include "plugin.h"
#include "prune.h"
#include "reactor.h"

struct call {
	int			 done;
	struct prune_result	 res;
};

static void
on_item(void *arg, const struct prune_item *it)
{
	printf("%s %s %s %s%s\n", it->action == PRUNE_KEEP ? "keep" :
	    it->action == PRUNE_RETAINED ? "retained" : "remove", it->sink,
	    it->what, it->id_or_key, it->failed ? " failed" : "");
}

static void
on_done(void *arg, const struct prune_result *res)
{
	struct call	*c = arg;

	c->res = *res;
	c->done = 1;
}

int
main(int argc, char **argv)
{
	struct prune_params	 p;
	struct zb_config	*cfg;
	struct call		 c;
	const char		*path = NULL;
	int			 ch;

	memset(&p, 0, sizeof(p));
	while ((ch = getopt(argc, argv, "c:k:s:grnG:")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'k':
			p.sink = optarg;
			break;
		case 's':
			p.source = optarg;
			break;
		case 'g':
			p.gc = 1;
			break;
		case 'r':
			p.retention = 1;
			break;
		case 'n':
			p.dry_run = 1;
			break;
		case 'G':
			p.grace_s = strtoll(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: prune_call -c FILE [-k SINK] "
			    "[-s SOURCE] [-g] [-r] [-n] [-G SECONDS]\n");
			return 2;
		}
	}
	if (path == NULL || optind != argc) {
		fprintf(stderr, "prune_call: -c FILE is required\n");
		return 2;
	}
	log_init("prune_call", ZB_LOG_INFO);
	reactor_init();
	cfg = config_load(path);
	if (cfg == NULL || http_init(cfg) == -1 ||
	    plugin_bind_config(cfg, 1) > 0)
		return 2;
	memset(&c, 0, sizeof(c));
	prune_start(cfg, &p, on_item, on_done, &c);
	reactor_run_until(&c.done);
	printf("result removed=%u kept=%u retained=%u errors=%u sinks=%u "
	    "gc_removed=%u gc_kept=%u\n", c.res.removed, c.res.kept,
	    c.res.retained, c.res.errors, c.res.sinks, c.res.gc_removed,
	    c.res.gc_kept);
	plugin_unbind_config(cfg);
	config_free(cfg);
	plugin_unload_all();
	http_free();
	reactor_free();
	return c.res.errors > 0 ? 1 : 0;
}
