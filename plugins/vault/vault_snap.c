/*
 * vault_snap.c - the `raft' stream: GET /v1/sys/storage/raft/snapshot
 * through host->http_download, a standby's 307 followed with the token
 * (the headers go along), every slice fed to the archive check
 * (snapcheck.c) before it is pushed.  Vault cannot change the status once
 * the body streams, so an error on its side only truncates the gzip: the
 * check is what tells, and a failed check fails the stream before
 * done(ZB_OK), so no manifest is written.  Facts come from sys/health
 * (taken at plan) and from meta.json.
 */
#include "zb-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zentoria/plugin.h>

#include "snapcheck.h"
#include "vault.h"

struct snap {
	struct vault	*v;
	struct zb_io	*s;
	struct snapcheck *sc;
	char		*url;
	uint64_t	 bytes;
};

static int
snap_data(void *arg, const unsigned char *p, size_t n, char *err,
    size_t errlen)
{
	struct snap	*sn = arg;

	sn->bytes += n;
	if (snapcheck_feed(sn->sc, p, n, err, errlen) == -1)
		return ZB_ERR;
	return ZB_OK;
}

static int
get_int(const struct zb_host_api *host, const struct zb_json *o,
    const char *key, int64_t *out)
{
	const struct zb_json	*j = host->json_get(o, key);

	if (j == NULL || host->json_int(j, out) != ZB_OK || *out < 0)
		return ZB_ERR;
	return ZB_OK;
}

/* The facts of meta.json (raft's SnapshotMeta); ZB_ERR when it is not. */
static int
meta_facts(struct snap *sn, char *err, size_t errlen)
{
	const struct zb_host_api	*host = sn->v->host;
	const struct zb_json		*root, *j, *cfg, *srv;
	const char			*meta;
	size_t				 len;
	int64_t				 index, term, n;
	char				 perr[128];

	meta = snapcheck_meta(sn->sc, &len);
	root = meta != NULL ? host->json_parse(meta, len, perr,
	    sizeof(perr)) : NULL;
	if (root == NULL || root->type != ZB_JSON_OBJECT ||
	    get_int(host, root, "Index", &index) != ZB_OK ||
	    get_int(host, root, "Term", &term) != ZB_OK) {
		snprintf(err, errlen, "snapshot check: meta.json is not raft "
		    "snapshot metadata (no integer Index and Term)");
		if (root != NULL)
			host->json_free(root);
		return ZB_ERR;
	}
	host->fact_int(sn->s, "raft", "index", index);
	host->fact_int(sn->s, "raft", "term", term);
	j = host->json_get(root, "ID");
	if (j != NULL && j->type == ZB_JSON_STRING)
		host->fact_str(sn->s, "raft", "id", j->str);
	cfg = host->json_get(root, "Configuration");
	srv = cfg != NULL && cfg->type == ZB_JSON_OBJECT ?
	    host->json_get(cfg, "Servers") : NULL;
	if (srv != NULL && srv->type == ZB_JSON_ARRAY) {
		for (n = 0, j = srv->child; j != NULL; j = j->next)
			n++;
		host->fact_int(sn->s, "raft", "servers", n);
	}
	host->fact_int(sn->s, "raft", "state_bytes",
	    (int64_t)snapcheck_state_size(sn->sc));
	host->json_free(root);
	return ZB_OK;
}

static void
snap_end(void *arg, int status, const char *msg)
{
	struct snap		*sn = arg;
	struct vault		*v = sn->v;
	char			 err[512], full[768];

	if (status != ZB_OK) {
		snprintf(full, sizeof(full), "GET %s: %s", sn->url,
		    msg != NULL ? msg : "failed");
		v->host->done(sn->s, ZB_ERR, full);
		return;
	}
	if (snapcheck_finish(sn->sc, err, sizeof(err)) == -1 ||
	    meta_facts(sn, err, sizeof(err)) != ZB_OK) {
		snprintf(full, sizeof(full), "GET %s: %s; %llu bytes "
		    "received", sn->url, err, (unsigned long long)sn->bytes);
		v->host->done(sn->s, ZB_ERR, full);
		return;
	}
	if (v->version[0] != '\0')
		v->host->fact_str(sn->s, "vault", "version", v->version);
	if (v->cluster[0] != '\0')
		v->host->fact_str(sn->s, "vault", "cluster_name", v->cluster);
	v->host->fact_int(sn->s, NULL, "snapshot_bytes", (int64_t)sn->bytes);
	v->host->log(v->inst, ZB_LOG_INFO, "raft snapshot of %s: %llu bytes, "
	    "meta.json, state.bin and SHA256SUMS verified", v->addr,
	    (unsigned long long)sn->bytes);
	v->host->done(sn->s, ZB_OK, NULL);
}

static void
snap_free(struct snap *sn)
{
	snapcheck_free(sn->sc);
	free(sn->url);
	free(sn);
}

static void
snap_close(void *arg)
{
	snap_free(arg);
}

int
vault_snap_open(struct vault *v, struct zb_io *s,
    const struct zb_producer_ops **ops, void **pctx)
{
	struct zb_http_download_spec	 spec;
	struct zb_http_header		 hdr[2];
	struct snap			*sn;

	if (vault_token(v) == NULL) {
		v->host->log(v->inst, ZB_LOG_ERROR, "no token: the AppRole "
		    "login did not happen");
		return ZB_ERR;
	}
	sn = calloc(1, sizeof(*sn));
	if (sn == NULL)
		return ZB_ERR;
	sn->v = v;
	sn->s = s;
	sn->sc = snapcheck_new();
	sn->url = vault_url(v->addr, VAULT_SNAP_PATH);
	if (sn->sc == NULL || sn->url == NULL) {
		snap_free(sn);
		return ZB_ERR;
	}
	hdr[0].name = "X-Vault-Token";
	hdr[0].value = vault_token(v);
	hdr[1].name = "X-Vault-Request";
	hdr[1].value = "true";
	memset(&spec, 0, sizeof(spec));
	spec.struct_size = sizeof(spec);
	spec.url = sn->url;
	spec.headers = hdr;
	spec.nheaders = 2;
	spec.retry.deadline_ms = VAULT_SNAP_DEADLINE_MS;
	spec.retry.timeout_ms = v->timeout_ms;
	spec.follow_redirects = 1;	/* a standby answers 307 */
	spec.on_data = snap_data;
	spec.on_end = snap_end;
	spec.on_close = snap_close;
	spec.arg = sn;
	if (v->host->http_download(s, &spec, ops, pctx) != ZB_OK) {
		snap_free(sn);
		return ZB_ERR;
	}
	return ZB_OK;
}
