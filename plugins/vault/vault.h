/*
 * vault.h - the `vault' source plugin: shared types of its files.
 *
 *	vault.c		descriptor, options, credentials, init/fini, plan
 *	vault_api.c	the requests every part makes: sys/health (with its
 *			answer parsed), AppRole login, the token header
 *	vault_snap.c	backup: the raft snapshot download, checked while
 *			it streams, and its facts
 *	vault_restore.c	restore to another Vault (--to URL), health first
 *	snapcheck.c	the streaming gzip+tar+SHA256SUMS check (pure)
 */
#ifndef ZB_VAULT_H
#define ZB_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include <zentoria/plugin.h>

#define VAULT_SNAP_PATH		"/v1/sys/storage/raft/snapshot"
#define VAULT_HEALTH_PATH	"/v1/sys/health"
#define VAULT_LOGIN_PATH	"/v1/auth/approle/login"
/*
 * Retry deadlines: a Vault failing every attempt (even with long
 * Retry-After answers) makes a run give up within 2 minutes: health and
 * login 15 s each, the snapshot 85 s.
 */
#define VAULT_HEALTH_DEADLINE_MS	15000
#define VAULT_SNAP_DEADLINE_MS		85000

struct vault_restore;

/* One configured [source:NAME]. */
struct vault {
	const struct zb_host_api *host;
	struct zb_inst		*inst;
	char			*addr;		/* base URL, no trailing '/' */
	char			*token;		/* token, or NULL: AppRole */
	size_t			 tokenlen;
	char			*role_id, *secret_id;
	size_t			 role_idlen, secret_idlen;
	char			*login;		/* token of the last login */
	size_t			 loginlen;
	uint32_t		 timeout_ms;	/* per attempt, no progress */
	/* the run being planned */
	struct zb_io		*run;
	struct zb_http_req	*req;
	char			 version[64];	/* from sys/health */
	char			 cluster[128];
	struct vault_restore	*restores;	/* writers not yet freed */
};

/* What a sys/health answer says. */
struct vault_health {
	long		 status;	/* HTTP status, 0: no answer */
	int		 parsed;	/* the body was Vault's JSON */
	int		 initialized, sealed, standby, perf_standby;
	char		 version[64];
	char		 cluster[128];
};

/*
 * vault_api.c.  Each callback runs once, on the loop, after the start
 * call returned; err is a message for the log when status is ZB_ERR.
 * The request handle may be cancelled with host->http_request_cancel.
 */
typedef void	(*vault_health_cb)(void *, const struct vault_health *,
		    const char *);
typedef void	(*vault_login_cb)(void *, int, const char *);
struct zb_http_req	*vault_health(struct vault *, const char *base,
			    const char *query, int attempts, vault_health_cb,
			    void *);
struct zb_http_req	*vault_login(struct vault *, const char *base,
			    vault_login_cb, void *);
const char		*vault_token(const struct vault *);
char			*vault_url(const char *base, const char *path);
const char		*vault_health_state(const struct vault_health *);

/* vault_snap.c: the backup stream. */
int	vault_snap_open(struct vault *, struct zb_io *,
	    const struct zb_producer_ops **, void **);

/* vault_restore.c: restore to a Vault; free what is left at fini. */
int	vault_restore_open(struct vault *, struct zb_io *,
	    const struct zb_restore_req *, const struct zb_writer_ops **,
	    void **);
void	vault_restore_reap(struct vault *);

#endif
