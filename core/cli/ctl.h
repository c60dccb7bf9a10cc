/*
 * ctl.h - zentoria-backupctl: shared state of the commands.
 */
#ifndef ZB_CTL_H
#define ZB_CTL_H

#include "config.h"

struct age_keys;
struct artifact;
struct catalog;
struct catalog_query;
struct catalog_run;
struct restore_opts;
struct restore_result;

struct ctl {
	const char		*config_path;
	struct zb_config	*cfg;
	int			 json;
	struct age_keys		*keys;		/* from --identity etc. */
};

/* Each command: argc/argv start at the command name. */
int	ctl_run(struct ctl *, int, char **);
int	ctl_list(struct ctl *, int, char **);
int	ctl_verify(struct ctl *, int, char **);
int	ctl_restore(struct ctl *, int, char **);
int	ctl_test_restore(struct ctl *, int, char **);
int	ctl_prune(struct ctl *, int, char **);
int	ctl_copy(struct ctl *, int, char **);
int	ctl_check(struct ctl *, int, char **);
int	ctl_plugins(struct ctl *, int, char **);
int	ctl_keygen(struct ctl *, int, char **);
int	ctl_status(struct ctl *, int, char **);
/* `run --daemon JOB': ask the running daemon to run JOB now. */
int	ctl_run_daemon(struct ctl *, const char *job);

/*
 * Identities for encrypted artifacts: from --identity FILE and/or
 * --passphrase-file FILE, else the configuration's allowed identity, else
 * NULL.  -1 (logged) when a given file cannot be used.
 */
int	ctl_identities(struct ctl *, const char *idfile, const char *passfile,
	    const struct age_keys **out);

/*
 * Run the loop until *flag becomes non-zero: the CLI's one way to wait for
 * a service it started (the only caller of reactor_run_until).
 */
void	ctl_wait(const int *flag);
/* catalog_load_start and wait; free with catalog_destroy. */
struct catalog *ctl_catalog(struct ctl *, const struct catalog_query *);

/*
 * restore_start and wait: 0 when good, -1 (logged).  out (may be NULL)
 * gets the result without its error text.
 */
int	ctl_restore_copy(struct ctl *, const struct artifact *,
	    const struct restore_opts *, struct restore_result *out);

/* --sink K given: it must name a [sink:K]; 0 or -1 (logged). */
int	ctl_check_sink(struct ctl *, const char *sink);
/* Load the config and bind (and init) its plugins; 0 or -1 (logged). */
int	ctl_load(struct ctl *);
/*
 * Log that the copies of run r are left out of a "latest" selection as
 * the run is incomplete on its sink, naming the missing streams.
 */
void	ctl_warn_incomplete(const struct catalog_run *r);
/*
 * [daemon] metrics_textfile set: write it from the state files (after a
 * run or a prune; failures are logged).
 */
void	ctl_write_textfile(struct ctl *);
/* "--help" seen: print usage text and return 1. */
int	ctl_wants_help(int, char **, const char *usage);

#define EXIT_USAGE	2

#endif
