/*
 * vault_kv.h - secrets read from Vault KV v2: vault:MOUNT/PATH#KEY values.
 */
#ifndef ZB_VAULT_KV_H
#define ZB_VAULT_KV_H

#include <stddef.h>

struct zb_config;

#define VAULT_REF_PREFIX	"vault:"
#define VAULT_REF_PREFIX_LEN	6
#define VAULT_REF_MAX		1024	/* a whole reference, prefix included */

/* vault:MOUNT/PATH#KEY, parsed. */
struct vault_ref {
	char	*mount;		/* "secret" */
	char	*path;		/* "zentoria/backup/postgresql" */
	char	*key;		/* "password" */
};

/*
 * Parse a reference: "vault:", a MOUNT (one segment), "/", a PATH of one
 * or more non-empty segments (neither "." nor ".."), "#", a non-empty
 * KEY.  MOUNT and PATH are printable ASCII without space, '#', '?', '%'
 * or '\'; KEY is anything but control characters (the first '#' ends
 * the path).  0, or -1 with *errstr saying what is expected (it never
 * quotes the value).  ref may be NULL (only check); else the caller
 * frees it with vault_ref_free().
 */
int	vault_ref_parse(const char *, struct vault_ref *, const char **errstr);
void	vault_ref_free(struct vault_ref *);
/*
 * The URL path of the KV v2 read of ref: "/v1/MOUNT/data/PATH", each
 * segment percent-encoded (everything but A-Z a-z 0-9 - . _ ~).
 * The caller frees it.
 */
char	*vault_ref_url_path(const struct vault_ref *);

/*
 * Resolve every vault: reference of cfg's sections (the keys the checks
 * marked, kv->vault): log in once (the [vault] token file, or an AppRole
 * login), read each distinct MOUNT/PATH once, and put each KEY's value
 * into its kv->secret.  Blocking (libcurl easy transfers, each bounded by
 * [vault] timeout).  Each problem is logged with file:line and the vault
 * path (never a value); returns the number of problems.
 */
int	vault_kv_resolve(struct zb_config *);

/*
 * The same in three steps, so that the network part can run off the
 * event loop: vault_kv_plan() (on the loop) copies what the fetch needs
 * out of cfg, or returns NULL when cfg has no reference; *errors counts
 * the problems found already (a reference with no [vault] section).
 * vault_kv_fetch() does the I/O and touches nothing but the plan (any
 * thread, no logging).  vault_kv_apply() (on the loop) logs the problems
 * and fills cfg's kv->secret; it frees the plan, wiping what it held.
 */
struct vault_plan;
struct vault_plan *vault_kv_plan(struct zb_config *, int *errors);
int	vault_kv_fetch(void *plan);
int	vault_kv_apply(struct zb_config *, struct vault_plan *);
/* Drop a plan without applying it (wiping what it read); NULL: no-op. */
void	vault_kv_plan_free(struct vault_plan *);

/* OPENSSL_cleanse and free; NULL is ignored. */
void	vault_kv_wipe(char *, size_t);

#endif
