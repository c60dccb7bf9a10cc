/*
 * ctl.c - zentoria-backupctl: argument parsing and dispatch.
 *
 * Every command runs in-process on its own event loop: no daemon is
 * needed, which makes this the disaster-recovery path.  The commands
 * start the library's asynchronous services and wait for them through
 * ctl_wait(), the one place the CLI runs the loop.  Exit status is 0
 * only when everything asked for succeeded, 2 for usage errors, 128 +
 * the signal number (130, 143) when SIGINT or SIGTERM interrupted it
 * (reactor.c: what was going on is aborted, and the process ends within
 * REACTOR_HARD_DEADLINE_S whatever it waited on).
 */
#include "zb-build.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "age.h"
#include "catalog.h"
#include "child.h"
#include "ctl.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "plugin.h"
#include "reactor.h"
#include "workers.h"
#include "restore.h"
#include "util.h"

#define DEFAULT_CONFIG	ZB_SYSCONFDIR "/zentoria-backupd/zentoria-backupd.ini"

static const struct {
	const char	*name;
	int		(*fn)(struct ctl *, int, char **);
	const char	*summary;
} commands[] = {
	{ "run", ctl_run, "back up jobs now: run JOB... | --all | "
	    "--daemon JOB" },
	{ "list", ctl_list, "list artifacts: list [--source S] [--sink K] "
	    "[--json]" },
	{ "verify", ctl_verify, "re-read and check copies: verify ID | "
	    "--latest [--sink K] [--source S] [--json]" },
	{ "restore", ctl_restore, "restore ID [--sink K] [--to TARGET] "
	    "[--force]" },
	{ "test-restore", ctl_test_restore, "restore into a scratch place "
	    "and compare with the manifest: test-restore ID | JOB" },
	{ "check", ctl_check, "check the newest copies: check [--kind "
	    "verify|deep-verify|test-restore] [--job J] [--sink K] [--json]" },
	{ "prune", ctl_prune, "remove what failed runs left on the sinks: "
	    "prune [--sink K] [--grace D] [--dry-run]" },
	{ "copy", ctl_copy, "copy committed copies missing on other sinks: "
	    "copy --from K --to K... [--source S]... [--newest-per-stream] "
	    "[--since D] [--dry-run] [--json]" },
	{ "plugins", ctl_plugins, "list the installed plugins [--json]" },
	{ "keygen", ctl_keygen, "make an age identity: keygen [-o FILE]" },
	{ "status", ctl_status, "ask the running daemon what its jobs do: "
	    "status [--json]" },
};

static void
usage(FILE *f)
{
	size_t	 i;

	fprintf(f, "usage: zentoria-backupctl [-c FILE] [-v|-q] COMMAND "
	    "[ARGS]\n\n"
	    "Runs backup operations in-process, without a daemon.\n\n"
	    "options:\n"
	    "  -c, --config FILE  configuration (default: $ZENTORIA_BACKUPD_"
	    "CONFIG or\n                     %s)\n"
	    "  -v, --verbose      log debug messages\n"
	    "  -q, --quiet        log errors only\n"
	    "  -h, --help         this text; COMMAND --help for a command\n"
	    "  -V, --version      print the version\n\ncommands:\n",
	    DEFAULT_CONFIG);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name,
		    commands[i].summary);
	fprintf(f, "\nExit status: 0 when everything asked succeeded, 1 when "
	    "something failed,\n2 for a usage error, 130 or 143 when SIGINT or "
	    "SIGTERM interrupted it.\n");
}

int
ctl_wants_help(int argc, char **argv, const char *text)
{
	int	 i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			fputs(text, stdout);
			return 1;
		}
	}
	return 0;
}

int
ctl_load(struct ctl *ctl)
{
	ctl->cfg = config_load(ctl->config_path);
	if (ctl->cfg == NULL)
		return -1;
	if (ctl->cfg->log_level >= 0 && log_level() == ZB_LOG_INFO)
		log_set_level(ctl->cfg->log_level);
	if (http_init(ctl->cfg) == -1 || plugin_bind_config(ctl->cfg, 1) > 0)
		return -1;
	(void)workers_start(ctl->cfg->workers);	/* else on the loop */
	if (ctl->cfg->identities != NULL)
		log_warnx("%s: age_identity_file is set: this host can decrypt "
		    "its backups", ctl->cfg->path);
	return 0;
}

void
ctl_write_textfile(struct ctl *ctl)
{
	char	*text, err[512];

	if (ctl->cfg->metrics_textfile == NULL)
		return;
	/* (cron hosts: node_exporter's textfile collector) */
	text = metrics_render_state(ctl->cfg, NULL, err, sizeof(err));
	if (text == NULL || metrics_write_textfile(ctl->cfg->metrics_textfile,
	    text, err, sizeof(err)) == -1)
		log_warnx("%s", err);
	free(text);
}

void
ctl_wait(const int *flag)
{
	reactor_run_until(flag);
}

struct ctl_loaded {
	struct catalog	*cat;
	int		 done;
};

static void
ctl_catalog_done(void *arg, struct catalog *cat)
{
	struct ctl_loaded	*l = arg;

	l->cat = cat;
	l->done = 1;
}

struct catalog *
ctl_catalog(struct ctl *ctl, const struct catalog_query *q)
{
	struct ctl_loaded	 l = { NULL, 0 };

	catalog_load_start(ctl->cfg, q, ctl_catalog_done, &l);
	ctl_wait(&l.done);
	return l.cat;
}

struct ctl_restored {
	struct restore_result	 res;
	int			 done;
};

static void
ctl_restore_done(void *arg, const struct restore_result *res)
{
	struct ctl_restored	*r = arg;

	r->res = *res;
	r->res.error = NULL;	/* freed after this callback */
	r->done = 1;
}

int
ctl_restore_copy(struct ctl *ctl, const struct artifact *a,
    const struct restore_opts *o, struct restore_result *out)
{
	struct ctl_restored	 r;

	memset(&r, 0, sizeof(r));
	restore_start(ctl->cfg, a, o, ctl_restore_done, &r);
	ctl_wait(&r.done);
	if (out != NULL)
		*out = r.res;
	return r.res.status;
}

int
ctl_check_sink(struct ctl *ctl, const char *sink)
{
	if (sink == NULL || catalog_sink(ctl->cfg, sink) != NULL)
		return 0;
	log_warnx("%s: no [sink:%s]", ctl->cfg->path, sink);
	return -1;
}

int
ctl_identities(struct ctl *ctl, const char *idfile, const char *passfile,
    const struct age_keys **out)
{
	char	 err[512], pass[1024];
	FILE	*f;
	size_t	 n;
	int	 rc;

	*out = ctl->cfg != NULL ? ctl->cfg->identities : NULL;
	if (idfile == NULL && passfile == NULL)
		return 0;
	ctl->keys = age_keys_new();
	/* As private as the config's age_identity_file must be. */
	if (idfile != NULL &&
	    age_keys_private_file(idfile, err, sizeof(err)) == -1) {
		log_warnx("--identity: %s", err);
		return -1;
	}
	if (idfile != NULL &&
	    age_keys_load_file(ctl->keys, idfile, 1, err, sizeof(err)) < 1) {
		log_warnx("%s", err[0] ? err : "no identity in the file");
		return -1;
	}
	if (passfile != NULL &&
	    age_keys_private_file(passfile, err, sizeof(err)) == -1) {
		log_warnx("--passphrase-file: %s", err);
		return -1;
	}
	if (passfile != NULL) {
		f = fopen(passfile, "re");
		if (f == NULL || fgets(pass, sizeof(pass), f) == NULL) {
			log_warn("%s", passfile);
			if (f != NULL)
				fclose(f);
			return -1;
		}
		fclose(f);
		n = strcspn(pass, "\r\n");
		rc = age_keys_add_passphrase(ctl->keys, pass, n, 0, err,
		    sizeof(err));
		OPENSSL_cleanse(pass, sizeof(pass));
		if (rc == -1 || n == 0) {
			log_warnx("%s: %s", passfile, n == 0 ?
			    "empty passphrase" : err);
			return -1;
		}
	}
	*out = ctl->keys;
	return 0;
}

/*
 * Before plugins are finalised: let offloaded jobs finish, reap the
 * children that aborted streams killed, and let the HTTP requests that
 * aborts sent (an S3 AbortMultipartUpload) end, so that no callback runs
 * into a freed plugin, and so do the timers that will send one again (a
 * retry waiting for its backoff), else the request and its owner are lost.
 * Bounded: a child still there after DRAIN_KILL_MS (one that ignores
 * SIGTERM) gets SIGKILL; a stuck thread or transfer is left to exit().
 */
#define DRAIN_KILL_MS	2000
#define DRAIN_MAX_MS	10000

static void
ctl_drain(void)
{
	uint64_t	 start = now_ms();
	struct timeval	 tick = { 0, 100000 };
	int		 killed = 0;

	while ((reactor_offload_pending() > 0 || child_count() > 0 ||
	    http_running() > 0 || reactor_timers_pending() > 0) &&
	    now_ms() < start + DRAIN_MAX_MS) {
		if (!killed && child_count() > 0 &&
		    now_ms() >= start + DRAIN_KILL_MS) {
			log_warnx("%d child process%s still running: SIGKILL",
			    child_count(), child_count() == 1 ? "" : "es");
			child_kill_all(SIGKILL);
			killed = 1;
		}
		event_base_loopexit(reactor_base(), &tick);
		event_base_loop(reactor_base(), EVLOOP_ONCE);
	}
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct ctl	 ctl;
	const char	*env;
	size_t		 i;
	int		 ch, rc, level = ZB_LOG_INFO;

	memset(&ctl, 0, sizeof(ctl));
	env = getenv("ZENTORIA_BACKUPD_CONFIG");
	ctl.config_path = env != NULL ? env : DEFAULT_CONFIG;
	for (;;) {
		ch = getopt_long(argc, argv, "+c:vqhV", longopts, NULL);
		if (ch == -1)
			break;
		switch (ch) {
		case 'c':
			ctl.config_path = optarg;
			break;
		case 'v':
			level = ZB_LOG_DEBUG;
			break;
		case 'q':
			level = ZB_LOG_ERROR;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("zentoria-backupctl %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	log_init("zentoria-backupctl", level);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[0], commands[i].name) != 0)
			continue;
		reactor_init();
		optind = 0;	/* full re-initialisation (GNU) */
		rc = commands[i].fn(&ctl, argc, argv);
		ctl_drain();
		workers_stop();
		if (reactor_interrupted() != 0)
			rc = 128 + reactor_interrupted();
		config_unref(ctl.cfg);	/* and its plugin instances */
		plugin_unload_all();
		http_free();
		reactor_free();
		age_keys_free(ctl.keys);
		return rc;
	}
	fprintf(stderr, "zentoria-backupctl: unknown command '%s'\n\n",
	    argv[0]);
	usage(stderr);
	return EXIT_USAGE;
}
