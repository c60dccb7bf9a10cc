/*
 * backupd.c - zentoria-backupd, the daemon: main() and its lifecycle.
 *
 * It loads and checks the configuration and its plugins, then runs the
 * schedule (scheduler.c) on the event loop until SIGTERM/SIGINT.  It
 * never forks: systemd runs it as Type=notify and hears READY=1 once the
 * schedule runs, RELOADING=1/READY=1 around a reload and STOPPING=1 at
 * shutdown (notify.c); a forking daemon would have to hand systemd its
 * pid through a pid file instead.
 *
 * SIGHUP: a new generation of the configuration is loaded; if anything
 * in it is wrong (logged as file:line), the old one keeps running.  Runs
 * in progress keep the generation they started with.
 * SIGTERM/SIGINT: no new runs; running ones may finish for up to
 * [daemon] shutdown_timeout, then they are aborted (their copies get no
 * manifest) and the daemon exits 0 once they ended.  The reactor's hard
 * deadline is shutdown_timeout + SHUTDOWN_GRACE_S; a second signal ends
 * the process at once.
 * `--check-config' validates a configuration (every plugin's options and
 * the schedules included) and exits.  A configuration without jobs is an
 * error here, at --check-config, at start and on reload, as it is most
 * likely the wrong file; zentoria-backupctl accepts one, since list,
 * verify and restore need only sinks.
 */
#include "zb-build.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "config.h"
#include "http.h"
#include "httpd.h"
#include "jobq.h"
#include "log.h"
#include "notify.h"
#include "observe.h"
#include "plugin.h"
#include "reactor.h"
#include "workers.h"
#include "scheduler.h"
#include "statuspage.h"
#include "util.h"
#include "vault_kv.h"

#define DEFAULT_CONFIG	ZB_SYSCONFDIR "/zentoria-backupd/zentoria-backupd.ini"
/* After shutdown_timeout: time for aborted runs to clean up. */
#define SHUTDOWN_GRACE_S	10

struct daemon {
	const char		*path;
	int			 cli_level;	/* -v given */
	struct zb_config	*cfg;		/* the current generation */
	struct jobq		*q;		/* every run */
	struct sched		*sched;
	struct httpd		*httpd;		/* NULL: no listen = */
	struct api		*api;
	struct zb_timer		*abort_timer;
	int			 stopping;
	char			*pid_file;
	/* a reload reading its vault: secrets off the loop */
	struct config_reloading	*reloading;
	void			*reload_plan;	/* its fetch (vault_kv.h) */
	int			 stop_when_reloaded;	/* on_idle came */
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: zentoria-backupd [-c FILE] [--check-config] "
	    "[--foreground] [-v]\n\n"
	    "Run the jobs of the configuration on their schedules until "
	    "SIGTERM;\nSIGHUP reloads the configuration.\n\n"
	    "  -c, --config FILE   configuration (default: %s)\n"
	    "  -t, --check-config  check the configuration, its plugins and "
	    "schedules,\n                      then exit (plain log lines "
	    "unless stderr is\n                      the journal)\n"
	    "  -f, --foreground    log lines as \"zentoria-backupd: info: ...\" "
	    "for a\n                      terminal; without it (or when "
	    "stderr is the\n                      journal's $JOURNAL_STREAM) "
	    "each line starts with\n                      its priority "
	    "(<3> error ... <7> debug) for the\n                      "
	    "journal, which adds the time.  It never forks:\n"
	    "                      systemd runs it as Type=notify\n"
	    "  -v, --verbose       log debug messages\n"
	    "  -h, --help          this text\n"
	    "  -V, --version       print the version\n", DEFAULT_CONFIG);
}

/* What only the daemon requires of a configuration. */
static int
daemon_checks(struct zb_config *cfg)
{
	if (httpd_check(cfg) > 0)
		return 1;
	if (!TAILQ_EMPTY(&cfg->jobs))
		return 0;
	/* zentoria-backupctl still reads such a file (list, restore). */
	log_warnx("%s: no [job:NAME] section: the daemon would have nothing "
	    "to do", cfg->path);
	return 1;
}

static void
apply_settings(struct daemon *d)
{
	int64_t	 ms = d->cfg->shutdown_timeout_ms;

	/* -v wins; a log_level removed by a reload means info again */
	if (d->cfg->log_level >= 0 && d->cli_level == ZB_LOG_INFO)
		log_set_level(d->cfg->log_level);
	else
		log_set_level(d->cli_level);
	if (d->q != NULL)
		jobq_set_limit(d->q, d->cfg->max_parallel_jobs);
	reactor_set_hard_deadline((unsigned)((ms + 999) / 1000) +
	    SHUTDOWN_GRACE_S);
}

static void
on_idle(void *arg)
{
	struct daemon	*d = arg;

	if (d->reloading != NULL) {
		/* the worker reading Vault ends within [vault] timeout */
		log_info("no run left: exiting once the reload's Vault "
		    "reads are over");
		d->stop_when_reloaded = 1;
		return;
	}
	log_info("no run left: exiting");
	reactor_stop();
}

static void
on_shutdown_timeout(void *arg)
{
	struct daemon	*d = arg;
	size_t		 n = jobq_active(d->q);

	d->abort_timer = NULL;
	log_warnx("shutdown_timeout (%.1f s) is over: aborting %zu run%s "
	    "(their unfinished copies get no manifest)",
	    d->cfg->shutdown_timeout_ms / 1000.0, n, n == 1 ? "" : "s");
	jobq_abort_all(d->q,
	    "the daemon is stopping (shutdown_timeout is over)");
	/* Now the HTTP transfers and children may be cut short. */
	reactor_interrupt_hooks();
}

static void
begin_shutdown(struct daemon *d, int sig)
{
	size_t	 n = jobq_active(d->q);

	if (d->stopping)
		return;
	d->stopping = 1;
	notify_stopping();
	log_info("%s: stopping: no new runs; %zu running, waiting up to "
	    "%.1f s (shutdown_timeout)", sig == SIGINT ? "SIGINT" : "SIGTERM",
	    n, d->cfg->shutdown_timeout_ms / 1000.0);
	d->abort_timer = reactor_timer_add(
	    (uint64_t)d->cfg->shutdown_timeout_ms, on_shutdown_timeout, d);
	sched_stop(d->sched, on_idle, d);
}

static int
same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Keys a reload reads but cannot apply: say so rather than ignore them. */
static void
note_restart_keys(const struct zb_config *old, const struct zb_config *cfg)
{
	const char	*keys[4];
	size_t		 i, n = 0;

	if (!same_str(old->ca_file, cfg->ca_file))
		keys[n++] = "ca_file";
	if (old->tls_min_13 != cfg->tls_min_13)
		keys[n++] = "tls_min_version";
	if (!same_str(old->pid_file, cfg->pid_file))
		keys[n++] = "pid_file";
	if (!same_str(old->state_dir, cfg->state_dir))
		keys[n++] = "state_dir";
	for (i = 0; i < n; i++)
		log_warnx("%s: [daemon] %s changed: it takes effect at the "
		    "next restart, not on reload", cfg->path, keys[i]);
}

/* The second half of a reload: apply the new generation, or refuse it. */
static void
reload_finish(struct daemon *d, struct config_reloading *r)
{
	struct zb_config	*cfg;

	cfg = config_reload_finish(r, d->cfg);
	if (cfg != NULL && daemon_checks(cfg) > 0) {
		config_unref(cfg);
		cfg = NULL;
	}
	if (cfg == NULL) {
		log_warnx("%s: reload refused (errors above): still running "
		    "the configuration loaded before", d->path);
		notify_ready("reload refused: the previous configuration "
		    "runs");
		return;
	}
	note_restart_keys(d->cfg, cfg);
	httpd_reload(d->httpd, cfg);	/* tokens; listen: at restart */
	sched_reload(d->sched, cfg);
	config_unref(d->cfg);
	d->cfg = cfg;
	apply_settings(d);	/* log_level, max_parallel_jobs */
	log_info("%s: reloaded", d->path);
	notify_ready("running");
}

/* On the worker: the reads, touching only the plan. */
static int
reload_fetch(void *arg)
{
	struct daemon	*d = arg;

	return vault_kv_fetch(d->reload_plan);
}

/* The reload's Vault reads are over (on the loop again). */
static void
reload_fetched(void *arg, int rc)
{
	struct daemon		*d = arg;
	struct config_reloading	*r = d->reloading;

	(void)rc;	/* its problems are in the plan */
	d->reloading = NULL;
	d->reload_plan = NULL;
	if (d->stopping) {
		config_reload_cancel(r);
		log_info("SIGHUP: reload dropped, the daemon is stopping");
		if (d->stop_when_reloaded) {
			log_info("no run left: exiting");
			reactor_stop();
		}
		return;
	}
	reload_finish(d, r);
}

/*
 * SIGHUP: load and check the file on the loop; the vault: secrets it
 * names are read on a worker thread (reactor_offload: up to [vault]
 * timeout per request must not stop the schedule, the control API or
 * running copies), then the generation is bound and applied.
 */
static void
reload(struct daemon *d)
{
	struct config_reloading	*r;
	void			*plan;

	if (d->stopping) {
		log_info("SIGHUP: ignored, the daemon is stopping");
		return;
	}
	if (d->reloading != NULL) {
		log_info("SIGHUP: ignored, a reload is reading its secrets "
		    "from Vault");
		return;
	}
	notify_reloading();
	log_info("SIGHUP: reloading %s", d->path);
	r = config_reload_start(d->path, &plan);
	if (plan != NULL) {
		d->reloading = r;
		d->reload_plan = plan;
		if (reactor_offload(reload_fetch, reload_fetched, d) == 0) {
			log_debug("%s: reading the vault: secrets off the "
			    "loop", d->path);
			return;
		}
		log_warn("%s: cannot start a thread: reading the vault: "
		    "secrets on the loop", d->path);
		d->reloading = NULL;
		d->reload_plan = NULL;
		(void)vault_kv_fetch(plan);
	}
	reload_finish(d, r);
}

static void
on_signal(int sig, void *arg)
{
	struct daemon	*d = arg;

	if (sig == SIGHUP)
		reload(d);
	else
		begin_shutdown(d, sig);
}

static int
serve(struct daemon *d)
{
	const char	*pf;
	int		 failed;

	reactor_hold_interrupt_hooks(1);
	apply_settings(d);
	pf = d->cfg->pid_file;
	if (pf != NULL && pidfile_write(pf) == 0)
		d->pid_file = xstrdup(pf);
	d->q = jobq_new(d->cfg->max_parallel_jobs);
	d->sched = sched_new(d->cfg, d->q);
	d->httpd = httpd_new(d->cfg, &failed);
	if (failed) {
		sched_free(d->sched);
		jobq_free(d->q);
		if (d->pid_file != NULL)
			pidfile_remove(d->pid_file);
		free(d->pid_file);
		return 1;
	}
	if (d->httpd != NULL) {
		d->api = api_new(d->httpd, &d->cfg, d->sched);
		httpd_route(d->httpd, "GET", "/metrics", HTTPD_PUBLIC_METRICS,
		    metrics_http, d->sched);
		httpd_route(d->httpd, "GET", "/", HTTPD_PUBLIC_METRICS,
		    statuspage_http, NULL);
	}
	reactor_on_signal(on_signal, d);
	sched_start(d->sched);
	log_info("started with %s", d->path);
	notify_ready("running");
	reactor_run();
	reactor_on_signal(NULL, NULL);
	httpd_free(d->httpd);
	d->httpd = NULL;
	api_free(d->api);
	d->api = NULL;
	reactor_timer_del(d->abort_timer);
	d->abort_timer = NULL;
	sched_free(d->sched);
	d->sched = NULL;
	jobq_free(d->q);
	d->q = NULL;
	if (d->pid_file != NULL)
		pidfile_remove(d->pid_file);
	free(d->pid_file);
	return 0;
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
	struct daemon	 d;
	int		 ch, check = 0, errors, foreground = 0;

	memset(&d, 0, sizeof(d));
	d.path = DEFAULT_CONFIG;
	d.cli_level = ZB_LOG_INFO;
	for (;;) {
		ch = getopt_long(argc, argv, "c:tfvhV", longopts, NULL);
		if (ch == -1)
			break;
		switch (ch) {
		case 'c':
			d.path = optarg;
			break;
		case 't':
			check = 1;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'v':
			d.cli_level = ZB_LOG_DEBUG;
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
	log_init("zentoria-backupd", d.cli_level);
	/*
	 * Under systemd: priorities for the journal, which stamps lines.
	 * --check-config is run by hand as well: plain lines unless stderr
	 * is the journal.
	 */
	log_set_journal(log_stderr_is_journal() || (!foreground && !check));
	notify_init();
	reactor_init();
	d.cfg = config_reload(NULL, d.path);
	errors = d.cfg == NULL ? 1 : 0;
	if (d.cfg != NULL) {
		if (d.cfg->log_level >= 0 && d.cli_level == ZB_LOG_INFO)
			log_set_level(d.cfg->log_level);
		errors += http_init(d.cfg) == -1 ? 1 : 0;
		errors += daemon_checks(d.cfg);
		if (d.cfg->identities != NULL)
			log_warnx("%s: age_identity_file is set: this host "
			    "can decrypt its backups", d.path);
	}
	if (check && errors == 0)
		printf("%s: configuration ok\n", d.path);
	else if (errors == 0) {
		(void)workers_start(d.cfg->workers);	/* else on the loop */
		errors = serve(&d);
		workers_stop();
	}
	config_unref(d.cfg);
	plugin_unload_all();
	http_free();
	reactor_free();
	return errors == 0 ? 0 : 1;
}
