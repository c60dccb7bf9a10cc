/*
 * n8n.h - the `n8n' source plugin: shared types of its files.
 *
 *	n8n.c		descriptor, options, init/fini, plan, restore_open
 *	n8n_api.c	one request to the public API (key header, retry
 *			policy, JSON body), URL building
 *	n8n_page.c	reading list pages ({"data": [...], "nextCursor"})
 *			and workflow objects (fuzzed: tests/fuzz/fuzz_n8npage.c)
 *	n8n_backup.c	the `workflows' stream: list, then GET each by id in
 *			id order, pushed as one JSON document as it comes
 *	n8n_body.c	the portable create/update body of a workflow
 *	n8n_restore.c	the restore writer (--to PATH or --to URL)
 *	n8n_apply.c	a restore into an n8n: refuse or update by name,
 *			create, tags, activate, report
 */
#ifndef ZB_N8N_H
#define ZB_N8N_H

#include <stddef.h>
#include <stdint.h>

#include <zentoria/plugin.h>

#define N8N_PAGE_LIMIT	250		/* the API's maximum */
#define N8N_FORMAT	"zentoria-backupd/n8n-workflows"
#define N8N_MAX_IDS	1000000		/* workflows a backup may list */

/* One configured [source:NAME]. */
struct n8n {
	const struct zb_host_api *host;
	struct zb_inst		*inst;
	char			*url;		/* base URL, no trailing '/' */
	char			*key;		/* API key; wiped at fini */
	size_t			 keylen;
	uint32_t		 timeout_ms;	/* per attempt, no progress */
	uint32_t		 deadline_ms;	/* per request, all attempts */
	size_t			 max_response;	/* one response body */
	size_t			 max_document;	/* a restore's document */
	int			 page_limit;	/* limit= of list requests */
	int			 credentials;	/* list credential metadata */
};

/* n8n_api.c: cb(arg, resp) gets the outcome, as http_request's done. */
struct zb_http_req *n8n_api(struct n8n *, const char *base,
		    const char *method, const char *path, const char *body,
		    size_t bodylen, void (*cb)(void *arg,
		    const struct zb_http_resp *r), void *arg);
char		*n8n_api_list_path(const char *what, int limit,
		    const char *cursor, int exclude_pin);
char		*n8n_api_escape(const char *s);
int		 n8n_api_is_url(const char *s);
char		*n8n_api_base(const char *url);

/* n8n_page.c: a list page, parsed. */
struct n8n_page {
	const struct zb_json	*root;
	const struct zb_json	*data;		/* ARRAY */
	const char		*next;		/* nextCursor or NULL */
};

int		 n8n_page_parse(const struct zb_host_api *, const char *body,
		    size_t len, struct n8n_page *, char *err, size_t errlen);
void		 n8n_page_free(const struct zb_host_api *, struct n8n_page *);
const char	*n8n_json_str(const struct zb_host_api *,
		    const struct zb_json *obj, const char *key);
int		 n8n_json_true(const struct zb_host_api *,
		    const struct zb_json *obj, const char *key);
int		 n8n_wf_check(const struct zb_host_api *,
		    const struct zb_json *wf, char *err, size_t errlen);
int		 n8n_id_ok(const char *id);
int		 n8n_strcmp(const void *a, const void *b);

/* n8n_backup.c */
int		 n8n_backup_open(struct n8n *, struct zb_io *s,
		    const struct zb_producer_ops **ops, void **pctx);

/* n8n_body.c: append wf's portable body to b; dropped settings keys go
 * to the callback. */
int		 n8n_body(const struct zb_host_api *, struct zb_buf *b,
		    const char *text, const struct zb_json *wf,
		    void (*dropped)(void *arg, const char *what,
		    const char *key), void *arg);

/* n8n_restore.c */
int		 n8n_restore_open(struct n8n *, struct zb_io *w,
		    const struct zb_restore_req *req,
		    const struct zb_writer_ops **ops, void **wctx);

/* n8n_apply.c: restore the parsed document doc (text owned by the
 * caller until done) into base; done(arg, status, msg) once. */
struct n8n_apply;
struct n8n_apply *n8n_apply_start(struct n8n *, const char *base,
		    const char *text, const struct zb_json *doc, int force,
		    void (*done)(void *arg, int status, const char *msg),
		    void *arg);
void		 n8n_apply_cancel(struct n8n_apply *);

#endif
