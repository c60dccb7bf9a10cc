/*
 * backupd.c - zentoria-backupd, the daemon.
 *
 * This version loads and checks the configuration and its plugins and
 * then waits on the event loop for SIGTERM; scheduling, the control API
 * and /metrics come with later versions.  `--check-config' validates a
 * configuration (including every plugin's options) and exits.  A
 * configuration without jobs is an error here, at --check-config and at
 * start, as it is most likely the wrong file; zentoria-backupctl accepts
 * one, since list, verify and restore need only sinks.
 */
#include "zb-build.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "http.h"
#include "log.h"
#include "plugin.h"
#include "reactor.h"

#define DEFAULT_CONFIG	ZB_SYSCONFDIR "/zentoria-backupd/zentoria-backupd.ini"

static void
usage(FILE *f)
{
	fprintf(f, "usage: zentoria-backupd [-c FILE] [--check-config] "
	    "[--foreground] [-v]\n\n"
	    "  -c, --config FILE   configuration (default: %s)\n"
	    "  -t, --check-config  check the configuration and its plugins, "
	    "then exit\n"
	    "  -f, --foreground    stay in the foreground (the only mode of "
	    "this version;\n                      systemd runs it so)\n"
	    "  -v, --verbose       log debug messages\n"
	    "  -h, --help          this text\n"
	    "  -V, --version       print the version\n", DEFAULT_CONFIG);
}

static void
on_signal(int sig, void *arg)
{
	if (sig == SIGHUP) {
		log_info("SIGHUP: reloading is not supported by this version");
		return;
	}
	log_info("signal %d: shutting down", sig);
	reactor_stop();
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 't' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct zb_config	*cfg;
	const char		*path = DEFAULT_CONFIG;
	int			 ch, check = 0, level = ZB_LOG_INFO, errors;

	for (;;) {
		ch = getopt_long(argc, argv, "c:tfvhV", longopts, NULL);
		if (ch == -1)
			break;
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 't':
			check = 1;
			break;
		case 'f':
			break;
		case 'v':
			level = ZB_LOG_DEBUG;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("zentoria-backupd %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	log_init("zentoria-backupd", level);
	reactor_init();
	cfg = config_load(path);
	if (cfg == NULL)
		return 1;
	if (cfg->log_level >= 0 && level == ZB_LOG_INFO)
		log_set_level(cfg->log_level);
	errors = http_init(cfg) == -1 ? 1 : 0;
	errors += plugin_bind_config(cfg, 1);
	if (TAILQ_EMPTY(&cfg->jobs)) {
		/* zentoria-backupctl still reads such a file (list, restore). */
		log_warnx("%s: no [job:NAME] section: the daemon would have "
		    "nothing to do", path);
		errors++;
	}
	if (cfg->identities != NULL)
		log_warnx("%s: age_identity_file is set: this host can decrypt "
		    "its backups", path);
	if (check) {
		if (errors == 0)
			printf("%s: configuration ok\n", path);
	} else if (errors == 0) {
		log_info("started with %s; scheduling is not part of this "
		    "version: run jobs with zentoria-backupctl run", path);
		reactor_on_signal(on_signal, NULL);
		reactor_run();
	}
	config_unref(cfg);	/* and its plugin instances */
	plugin_unload_all();
	http_free();
	reactor_free();
	return errors == 0 ? 0 : 1;
}
