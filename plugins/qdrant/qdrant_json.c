/*
 * qdrant_json.c - reading Qdrant's JSON answers (through host->json_*).
 *
 * Every JSON endpoint answers with the envelope {"result": R, "status":
 * "ok", "time": t} (200), {"status": {"error": "..."}, "time": t} on
 * an error, or {"status": "accepted"} (202, wait=false).  These
 * functions check the envelope and read the parts of R the source uses:
 * a SnapshotDescription (name, size, checksum), the collections list,
 * a CollectionInfo (points_count, config.params.vectors as its JSON
 * text), `true', and the version of GET /.  Unknown keys are ignored.
 * They take text from the network: every value is type-checked, and
 * lengths are bounded.  tests/fuzz/fuzz_qdrant.c runs them on anything.
 */
#include "zb-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zentoria/plugin.h>

#include "qdrant.h"

#define NAMES_MAX	100000	/* collections in one answer */
#define VECTORS_MAX	65536	/* bytes of a vector config */

static const struct zb_json *
parse(const struct zb_host_api *h, const char *body, size_t len, char *err,
    size_t errlen)
{
	const struct zb_json	*root;
	char			 e[256];

	if (body == NULL || len == 0) {
		snprintf(err, errlen, "empty answer");
		return NULL;
	}
	root = h->json_parse(body, len, e, sizeof(e));
	if (root == NULL)
		snprintf(err, errlen, "not JSON (%s)", e);
	return root;
}

/*
 * The envelope: ZB_OK with *res the result (NULL when the envelope has
 * none) when status is "ok"; else ZB_ERR with the server's error text.
 */
static int
envelope(const struct zb_host_api *h, const struct zb_json *root,
    const struct zb_json **res, char *err, size_t errlen)
{
	const struct zb_json	*st, *e;

	*res = NULL;
	if (root->type != ZB_JSON_OBJECT) {
		snprintf(err, errlen, "the answer is not a JSON object");
		return ZB_ERR;
	}
	st = h->json_get(root, "status");
	if (st == NULL) {
		snprintf(err, errlen, "the answer has no status");
		return ZB_ERR;
	}
	if (st->type == ZB_JSON_OBJECT) {
		e = h->json_get(st, "error");
		if (e != NULL && e->type == ZB_JSON_STRING)
			snprintf(err, errlen, "%.900s", e->str);
		else
			snprintf(err, errlen, "the server reports an error");
		return ZB_ERR;
	}
	if (st->type != ZB_JSON_STRING) {
		snprintf(err, errlen, "the answer's status is not a string");
		return ZB_ERR;
	}
	if (strcmp(st->str, "ok") != 0) {
		snprintf(err, errlen, "status %.100s", st->str);
		return ZB_ERR;
	}
	*res = h->json_get(root, "result");
	if (*res != NULL && (*res)->type == ZB_JSON_NULL)
		*res = NULL;
	return ZB_OK;
}

/* Parse and check the envelope; the caller frees *root. */
static int
open_doc(const struct zb_host_api *h, const char *body, size_t len,
    const struct zb_json **root, const struct zb_json **res, char *err,
    size_t errlen)
{
	*root = parse(h, body, len, err, errlen);
	if (*root == NULL)
		return ZB_ERR;
	if (envelope(h, *root, res, err, errlen) != ZB_OK)
		goto fail;
	if (*res == NULL) {
		snprintf(err, errlen, "the answer has no result");
		goto fail;
	}
	return ZB_OK;
fail:
	h->json_free(*root);
	*root = NULL;
	return ZB_ERR;
}

int
qj_envelope(const struct zb_host_api *h, const char *body, size_t len,
    char *err, size_t errlen)
{
	const struct zb_json	*root, *res;
	int			 rc;

	root = parse(h, body, len, err, errlen);
	if (root == NULL)
		return ZB_ERR;
	rc = envelope(h, root, &res, err, errlen);
	h->json_free(root);
	return rc;
}

int
qj_true(const struct zb_host_api *h, const char *body, size_t len,
    char *err, size_t errlen)
{
	const struct zb_json	*root, *res;
	int			 rc = ZB_OK;

	if (open_doc(h, body, len, &root, &res, err, errlen) != ZB_OK)
		return ZB_ERR;
	if (res->type != ZB_JSON_BOOL || !res->boolean) {
		snprintf(err, errlen, "the result is not true");
		rc = ZB_ERR;
	}
	h->json_free(root);
	return rc;
}

/* GET /: {"title": ..., "version": "1.13.2", "commit": ...}, no envelope. */
int
qj_version(const struct zb_host_api *h, const char *body, size_t len,
    char *ver, size_t verlen, char *err, size_t errlen)
{
	const struct zb_json	*root, *v;
	int			 rc = ZB_ERR;

	root = parse(h, body, len, err, errlen);
	if (root == NULL)
		return ZB_ERR;
	v = root->type == ZB_JSON_OBJECT ? h->json_get(root, "version") :
	    NULL;
	if (v == NULL || v->type != ZB_JSON_STRING || v->str[0] == '\0' ||
	    strlen(v->str) >= verlen)
		snprintf(err, errlen, "no version in the answer to GET /");
	else {
		snprintf(ver, verlen, "%s", v->str);
		rc = ZB_OK;
	}
	h->json_free(root);
	return rc;
}

void
qj_names_free(char **names, size_t n)
{
	size_t	 i;

	if (names == NULL)
		return;
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* GET /collections: result {"collections": [{"name": "a"}, ...]}. */
int
qj_collections(const struct zb_host_api *h, const char *body, size_t len,
    char ***out, size_t *nout, char *err, size_t errlen)
{
	const struct zb_json	*root, *res, *arr, *it, *nm;
	char			**names = NULL, **nn;
	size_t			 n = 0, cap = 0;

	*out = NULL;
	*nout = 0;
	if (open_doc(h, body, len, &root, &res, err, errlen) != ZB_OK)
		return ZB_ERR;
	arr = res->type == ZB_JSON_OBJECT ? h->json_get(res, "collections") :
	    NULL;
	if (arr == NULL || arr->type != ZB_JSON_ARRAY) {
		snprintf(err, errlen, "the result has no collections array");
		goto fail;
	}
	for (it = arr->child; it != NULL; it = it->next) {
		nm = it->type == ZB_JSON_OBJECT ? h->json_get(it, "name") :
		    NULL;
		if (nm == NULL || nm->type != ZB_JSON_STRING ||
		    nm->str[0] == '\0' || strlen(nm->str) > 255) {
			snprintf(err, errlen, "a collection without a usable "
			    "name");
			goto fail;
		}
		if (n == cap) {
			if (cap >= NAMES_MAX) {
				snprintf(err, errlen, "more than %d "
				    "collections", NAMES_MAX);
				goto fail;
			}
			cap = cap ? cap * 2 : 16;
			nn = reallocarray(names, cap, sizeof(*names));
			if (nn == NULL)
				goto oom;
			names = nn;
		}
		names[n] = strdup(nm->str);
		if (names[n] == NULL)
			goto oom;
		n++;
	}
	h->json_free(root);
	*out = names;
	*nout = n;
	return ZB_OK;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	qj_names_free(names, n);
	h->json_free(root);
	return ZB_ERR;
}

void
qj_info_clear(struct qd_info *in)
{
	free(in->vectors);
	in->vectors = NULL;
}

/* GET /collections/NAME: result CollectionInfo. */
int
qj_info(const struct zb_host_api *h, const char *body, size_t len,
    struct qd_info *in, char *err, size_t errlen)
{
	const struct zb_json	*root, *res, *v, *cfg, *par;

	memset(in, 0, sizeof(*in));
	in->points = -1;
	if (open_doc(h, body, len, &root, &res, err, errlen) != ZB_OK)
		return ZB_ERR;
	if (res->type != ZB_JSON_OBJECT) {
		snprintf(err, errlen, "the result is not an object");
		goto fail;
	}
	v = h->json_get(res, "points_count");
	if (v != NULL && v->type != ZB_JSON_NULL) {
		if (v->type != ZB_JSON_NUMBER ||
		    h->json_int(v, &in->points) != ZB_OK || in->points < 0) {
			snprintf(err, errlen, "points_count is not a count");
			goto fail;
		}
	}
	v = h->json_get(res, "status");
	if (v != NULL && v->type == ZB_JSON_STRING &&
	    strlen(v->str) < sizeof(in->status))
		snprintf(in->status, sizeof(in->status), "%s", v->str);
	cfg = h->json_get(res, "config");
	par = cfg != NULL && cfg->type == ZB_JSON_OBJECT ?
	    h->json_get(cfg, "params") : NULL;
	v = par != NULL && par->type == ZB_JSON_OBJECT ?
	    h->json_get(par, "vectors") : NULL;
	if (v != NULL && v->raw_len > 0 && v->raw_len <= VECTORS_MAX &&
	    v->raw_off <= len && v->raw_len <= len - v->raw_off) {
		in->vectors = strndup(body + v->raw_off, v->raw_len);
		if (in->vectors == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	h->json_free(root);
	return ZB_OK;
fail:
	h->json_free(root);
	return ZB_ERR;
}

static int
is_hex64(const char *s)
{
	size_t	 i;

	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[64] == '\0';
}

/* POST .../snapshots: result SnapshotDescription. */
int
qj_snapshot(const struct zb_host_api *h, const char *body, size_t len,
    struct qd_snap *sn, char *err, size_t errlen)
{
	const struct zb_json	*root, *res, *v;
	size_t			 i;

	memset(sn, 0, sizeof(*sn));
	sn->size = -1;
	if (open_doc(h, body, len, &root, &res, err, errlen) != ZB_OK)
		return ZB_ERR;
	if (res->type != ZB_JSON_OBJECT) {
		snprintf(err, errlen, "the result is not a snapshot "
		    "description");
		goto fail;
	}
	v = h->json_get(res, "name");
	if (v == NULL || v->type != ZB_JSON_STRING || v->str[0] == '\0' ||
	    strlen(v->str) >= sizeof(sn->name) || strchr(v->str, '/') ||
	    strcmp(v->str, ".") == 0 || strcmp(v->str, "..") == 0) {
		snprintf(err, errlen, "the snapshot has no usable name");
		goto fail;
	}
	for (i = 0; v->str[i] != '\0'; i++)
		if ((unsigned char)v->str[i] < 0x20) {
			snprintf(err, errlen, "the snapshot has no usable "
			    "name");
			goto fail;
		}
	snprintf(sn->name, sizeof(sn->name), "%s", v->str);
	v = h->json_get(res, "size");
	if (v == NULL || v->type != ZB_JSON_NUMBER ||
	    h->json_int(v, &sn->size) != ZB_OK || sn->size < 0) {
		snprintf(err, errlen, "snapshot %s has no size", sn->name);
		goto fail;
	}
	v = h->json_get(res, "checksum");
	if (v != NULL && v->type != ZB_JSON_NULL) {
		if (v->type != ZB_JSON_STRING || strlen(v->str) != 64) {
			snprintf(err, errlen, "snapshot %s: the checksum is "
			    "not a SHA-256", sn->name);
			goto fail;
		}
		for (i = 0; i < 64; i++)
			sn->checksum[i] = (v->str[i] >= 'A' &&
			    v->str[i] <= 'F') ? v->str[i] + 32 : v->str[i];
		sn->checksum[64] = '\0';
		if (!is_hex64(sn->checksum)) {
			snprintf(err, errlen, "snapshot %s: the checksum is "
			    "not a SHA-256", sn->name);
			goto fail;
		}
	}
	h->json_free(root);
	return ZB_OK;
fail:
	h->json_free(root);
	return ZB_ERR;
}
