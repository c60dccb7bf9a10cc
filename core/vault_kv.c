/*
 * vault_kv.c - secrets read from Vault KV v2 at configuration load.
 *
 * Owns the vault:MOUNT/PATH#KEY values of secret keys (and of their
 * _file forms): the reference parser, and their resolution through the
 * [vault] section.  A load logs in once (the token file's first line, or
 * an AppRole login with the role_id and secret_id files), reads each
 * distinct MOUNT/PATH once (GET /v1/MOUNT/data/PATH, the pairs at
 * .data.data), and puts each KEY's value into the key's cfg_kv->secret,
 * which host->secret() returns and config_section_free() wipes.
 *
 * The transfers are blocking libcurl easy transfers, each bounded by
 * [vault] timeout: at start-up that is what a load is anyway; the
 * daemon's reload runs the fetch step (vault_kv_fetch) on a worker
 * thread (reactor_offload), which is why plan, fetch and apply are
 * separate: only the fetch does I/O and it touches nothing but its plan.
 *
 * Nothing here logs or returns a secret's value: the token, the
 * secret_id, response bodies and parsed trees are wiped once used, and
 * errors name the config file:line, the vault path, the [vault] address
 * and the HTTP status (with Vault's own error text, which holds none).
 */
#include "zb-build.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "buf.h"
#include "config.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "vault_kv.h"

#define VK_BODY_MAX	(1 << 20)	/* a KV v2 or login response */
#define VK_TOKEN_MAX	8192		/* token, role_id, secret_id files */
#define VK_MSG_MAX	200		/* Vault's error text we quote */

/* ---- references --------------------------------------------------------- */

/* A character of MOUNT or PATH. */
static int
ref_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '#' && c != '?' && c != '%' &&
	    c != '\\';
}

int
vault_ref_parse(const char *v, struct vault_ref *ref, const char **errstr)
{
	const char	*p, *mount, *slash, *hash, *seg;
	size_t		 n;

	*errstr = "vault:MOUNT/PATH#KEY (a KV v2 mount, the secret's path "
	    "and the key inside it; MOUNT and PATH in printable ASCII "
	    "without spaces, '#', '?', '%' or '\\', no empty, '.' or '..' "
	    "segment)";
	if (ref != NULL)
		memset(ref, 0, sizeof(*ref));
	if (strncmp(v, VAULT_REF_PREFIX, VAULT_REF_PREFIX_LEN) != 0 ||
	    strlen(v) > VAULT_REF_MAX)
		return -1;
	mount = v + VAULT_REF_PREFIX_LEN;
	hash = strchr(mount, '#');
	slash = strchr(mount, '/');
	if (hash == NULL || slash == NULL || slash > hash || slash == mount ||
	    hash[1] == '\0')
		return -1;
	/* every segment of MOUNT/PATH: non-empty, not . or .. */
	for (seg = mount;; seg = p + 1) {
		for (p = seg; p < hash && *p != '/'; p++)
			if (!ref_char((unsigned char)*p))
				return -1;
		n = p - seg;
		if (n == 0 || (n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return -1;
		if (p == hash)
			break;
	}
	for (p = hash + 1; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return -1;
	if (ref != NULL) {
		ref->mount = xmalloc(slash - mount + 1);
		memcpy(ref->mount, mount, slash - mount);
		ref->mount[slash - mount] = '\0';
		ref->path = xmalloc(hash - slash);
		memcpy(ref->path, slash + 1, hash - slash - 1);
		ref->path[hash - slash - 1] = '\0';
		ref->key = xstrdup(hash + 1);
	}
	*errstr = NULL;
	return 0;
}

void
vault_ref_free(struct vault_ref *ref)
{
	if (ref == NULL)
		return;
	free(ref->mount);
	free(ref->path);
	free(ref->key);
	memset(ref, 0, sizeof(*ref));
}

/* Append s percent-encoded, '/' kept when keep_slash. */
static void
url_encode(struct buf *b, const char *s, int keep_slash)
{
	static const char	 hex[] = "0123456789ABCDEF";
	unsigned char		 c;
	char			 e[3];

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~' || (keep_slash && c == '/')) {
			buf_add(b, s, 1);
			continue;
		}
		e[0] = '%';
		e[1] = hex[c >> 4];
		e[2] = hex[c & 15];
		buf_add(b, e, 3);
	}
}

char *
vault_ref_url_path(const struct vault_ref *ref)
{
	struct buf	 b;

	buf_init(&b, 3 * VAULT_REF_MAX + 64);
	buf_puts(&b, "/v1/");
	url_encode(&b, ref->mount, 0);
	buf_puts(&b, "/data/");
	url_encode(&b, ref->path, 1);
	return buf_take(&b);
}

void
vault_kv_wipe(char *s, size_t len)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, len);
	free(s);
}

/* ---- the plan ----------------------------------------------------------- */

/* One distinct MOUNT/PATH and what reading it gave. */
struct vk_path {
	struct vault_ref	 ref;		/* key unused */
	long			 status;	/* 0: not read */
	char			*body;
	size_t			 bodylen;
	char			 err[CURL_ERROR_SIZE + 64];
};

struct vault_plan {
	char		*address;	/* without a trailing '/' */
	char		*token_file;
	char		*rid_file;
	char		*sid_file;
	char		*approle_mount;
	char		*ca_file;
	int		 tls13;
	long		 timeout_ms;
	struct vk_path	*paths;
	size_t		 npaths;
	/* results of the fetch */
	int		 login_failed;	/* 1: nothing was read */
	long		 login_status;
	char		 login_err[CURL_ERROR_SIZE + 256];
	int		 unreachable;	/* a transport error: later not tried */
};

static const char *
sec_value(const struct cfg_section *sec, const char *key, const char *def)
{
	struct cfg_kv	*kv = config_kv(sec, key);

	return kv != NULL ? kv->value : def;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

void
vault_kv_plan_free(struct vault_plan *pl)
{
	size_t	 i;

	if (pl == NULL)
		return;
	for (i = 0; i < pl->npaths; i++) {
		vault_ref_free(&pl->paths[i].ref);
		vault_kv_wipe(pl->paths[i].body, pl->paths[i].bodylen);
	}
	free(pl->paths);
	free(pl->address);
	free(pl->token_file);
	free(pl->rid_file);
	free(pl->sid_file);
	free(pl->approle_mount);
	free(pl->ca_file);
	free(pl);
}

struct vault_plan *
vault_kv_plan(struct zb_config *cfg, int *errors)
{
	struct vault_plan	*pl = NULL;
	struct cfg_section	*sec;
	struct cfg_kv		*kv;
	struct vault_ref	 ref;
	const char		*errstr, *addr;
	size_t			 i, n;

	*errors = 0;
	TAILQ_FOREACH(sec, &cfg->sections, entry) {
		TAILQ_FOREACH(kv, &sec->kvs, entry) {
			if (!kv->vault)
				continue;
			if (cfg->vault == NULL) {
				config_error(cfg, sec, kv, kv->key, "%s "
				    "needs a [vault] section (address, "
				    "token_file or the AppRole files)",
				    kv->value);
				(*errors)++;
				continue;
			}
			if (vault_ref_parse(kv->value, &ref, &errstr) == -1)
				continue;	/* reported by the check */
			if (pl == NULL)
				pl = xcalloc(1, sizeof(*pl));
			for (i = 0; i < pl->npaths; i++)
				if (strcmp(pl->paths[i].ref.mount,
				    ref.mount) == 0 &&
				    strcmp(pl->paths[i].ref.path,
				    ref.path) == 0)
					break;
			if (i < pl->npaths) {
				vault_ref_free(&ref);
				continue;
			}
			pl->paths = xreallocarray(pl->paths, pl->npaths + 1,
			    sizeof(*pl->paths));
			memset(&pl->paths[pl->npaths], 0,
			    sizeof(*pl->paths));
			pl->paths[pl->npaths++].ref = ref;
		}
	}
	if (pl == NULL || *errors > 0) {
		vault_kv_plan_free(pl);
		return NULL;
	}
	addr = sec_value(cfg->vault, "address", "");
	n = strlen(addr);
	while (n > 0 && addr[n - 1] == '/')
		n--;
	pl->address = xmalloc(n + 1);
	memcpy(pl->address, addr, n);
	pl->address[n] = '\0';
	pl->token_file = dup_or_null(sec_value(cfg->vault, "token_file",
	    NULL));
	pl->rid_file = dup_or_null(sec_value(cfg->vault,
	    "approle_role_id_file", NULL));
	pl->sid_file = dup_or_null(sec_value(cfg->vault,
	    "approle_secret_id_file", NULL));
	pl->approle_mount = xstrdup(sec_value(cfg->vault, "approle_mount",
	    "approle"));
	pl->ca_file = dup_or_null(sec_value(cfg->vault, "ca_file",
	    cfg->ca_file));
	pl->tls13 = cfg->tls_min_13;
	kv = config_kv(cfg->vault, "timeout");
	pl->timeout_ms = kv != NULL ? (long)kv->num : 10000;
	return pl;
}

/* ---- the fetch (no logging, no cfg: it may run on a worker thread) ------ */

/* The first line of a private file: 0, or -1 with err set. */
static int
read_first_line(const char *path, char **out, char *err, size_t errlen)
{
	char	*buf;
	ssize_t	 n = 0;
	size_t	 len = 0;
	int	 fd;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		snprintf(err, errlen, "cannot read %s: %s", path,
		    strerror(errno));
		return -1;
	}
	buf = xmalloc(VK_TOKEN_MAX + 1);
	while (len < VK_TOKEN_MAX) {
		n = read(fd, buf + len, VK_TOKEN_MAX - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
	}
	close(fd);
	if (n == -1) {
		snprintf(err, errlen, "cannot read %s: %s", path,
		    strerror(errno));
		vault_kv_wipe(buf, VK_TOKEN_MAX + 1);
		return -1;
	}
	buf[len] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (buf[0] == '\0') {
		snprintf(err, errlen, "%s: the first line is empty", path);
		vault_kv_wipe(buf, VK_TOKEN_MAX + 1);
		return -1;
	}
	*out = buf;
	return 0;
}

struct vk_xfer {
	struct buf	 body;
};

static size_t
vk_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct vk_xfer	*x = arg;
	size_t		 n = size * nmemb;

	if (buf_add(&x->body, ptr, n) == -1)
		return 0;	/* too large: CURLE_WRITE_ERROR */
	return n;
}

/* Free an slist whose strings may hold the token. */
static void
slist_wipe(struct curl_slist *l)
{
	struct curl_slist	*e;

	for (e = l; e != NULL; e = e->next)
		OPENSSL_cleanse(e->data, strlen(e->data));
	curl_slist_free_all(l);
}

/*
 * Vault's {"errors": [...]} text: the first message, printable, short;
 * "" when there is none.
 */
static void
vault_message(const char *body, size_t len, char *out, size_t outlen)
{
	const struct json	*errs;
	struct json		*doc;
	const char		*e, *s;
	size_t			 i, o = 0;
	size_t			 pos;

	out[0] = '\0';
	if (body == NULL || len == 0)
		return;
	doc = json_parse(body, len, &e, &pos);
	if (doc == NULL)
		return;
	errs = json_get(doc, "errors");
	if (errs != NULL && errs->type == JSON_ARRAY && errs->child != NULL &&
	    errs->child->type == JSON_STRING) {
		s = errs->child->str;
		for (i = 0; s[i] != '\0' && o + 1 < outlen && o < VK_MSG_MAX;
		    i++) {
			if (s[i] == '\n' || s[i] == '\t')
				out[o++] = ' ';
			else if ((unsigned char)s[i] >= 0x20 && s[i] != 0x7f)
				out[o++] = s[i];
		}
		out[o] = '\0';
	}
	json_free(doc);
}

/*
 * One request: method GET, or POST with body.  Returns the HTTP status
 * (0 on a transport error, with err set); *out gets the body (caller
 * wipes it).
 */
static long
vk_request(struct vault_plan *pl, CURL *c, const char *urlpath,
    const char *token, const char *post, char **out, size_t *outlen,
    char *err, size_t errlen)
{
	struct curl_slist	*hdrs = NULL;
	struct vk_xfer		 x;
	char			 cerr[CURL_ERROR_SIZE];
	char			*url, *h;
	CURLcode		 rc;
	long			 status = 0;

	*out = NULL;
	*outlen = 0;
	buf_init(&x.body, VK_BODY_MAX);
	url = xasprintf("%s%s", pl->address, urlpath);
	hdrs = curl_slist_append(hdrs, "X-Vault-Request: true");
	if (token != NULL) {
		h = xasprintf("X-Vault-Token: %s", token);
		hdrs = curl_slist_append(hdrs, h);
		vault_kv_wipe(h, strlen(h));
	}
	if (post != NULL)
		hdrs = curl_slist_append(hdrs,
		    "Content-Type: application/json");
	curl_easy_reset(c);
	cerr[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, vk_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, pl->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, pl->timeout_ms);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, pl->tls13 ?
	    CURL_SSLVERSION_TLSv1_3 : CURL_SSLVERSION_TLSv1_2);
	if (pl->ca_file != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, pl->ca_file);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	if (post != NULL)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
	slist_wipe(hdrs);
	free(url);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s", cerr[0] != '\0' ? cerr :
		    curl_easy_strerror(rc));
		if (x.body.data != NULL)
			OPENSSL_cleanse(x.body.data, x.body.len);
		buf_free(&x.body);
		return 0;
	}
	*outlen = x.body.len;
	*out = buf_take(&x.body);
	return status;
}

/* AppRole login: the client token, or NULL with pl->login_* set. */
static char *
approle_login(struct vault_plan *pl, CURL *c)
{
	const struct json	*auth, *tok;
	struct json		*doc;
	struct buf		 req;
	char			*rid = NULL, *sid = NULL, *body = NULL;
	char			*urlpath, *token = NULL, msg[VK_MSG_MAX + 1];
	const char		*e;
	size_t			 len = 0, pos;

	if (read_first_line(pl->rid_file, &rid, pl->login_err,
	    sizeof(pl->login_err)) == -1 ||
	    read_first_line(pl->sid_file, &sid, pl->login_err,
	    sizeof(pl->login_err)) == -1)
		goto out;
	buf_init(&req, 3 * VK_TOKEN_MAX + 64);
	buf_puts(&req, "{\"role_id\":");
	buf_json_str(&req, rid);
	buf_puts(&req, ",\"secret_id\":");
	buf_json_str(&req, sid);
	buf_puts(&req, "}");
	urlpath = xasprintf("/v1/auth/%s/login", pl->approle_mount);
	pl->login_status = vk_request(pl, c, urlpath, NULL, req.data, &body,
	    &len, pl->login_err, sizeof(pl->login_err));
	free(urlpath);
	if (req.data != NULL)
		OPENSSL_cleanse(req.data, req.len);
	buf_free(&req);
	if (pl->login_status == 0) {
		pl->unreachable = 1;
		goto out;
	}
	if (pl->login_status != 200) {
		vault_message(body, len, msg, sizeof(msg));
		snprintf(pl->login_err, sizeof(pl->login_err), "AppRole login "
		    "at %s/v1/auth/%s/login refused: HTTP %ld%s%s",
		    pl->address, pl->approle_mount, pl->login_status,
		    msg[0] != '\0' ? ": " : "", msg);
		goto out;
	}
	doc = json_parse(body, len, &e, &pos);
	auth = doc != NULL ? json_get(doc, "auth") : NULL;
	tok = auth != NULL ? json_get(auth, "client_token") : NULL;
	if (tok != NULL && tok->type == JSON_STRING && tok->str[0] != '\0')
		token = xstrdup(tok->str);
	else
		snprintf(pl->login_err, sizeof(pl->login_err), "AppRole login "
		    "at %s/v1/auth/%s/login: no auth.client_token in the "
		    "answer", pl->address, pl->approle_mount);
	if (tok != NULL && tok->type == JSON_STRING)
		OPENSSL_cleanse(tok->str, strlen(tok->str));
	json_free(doc);
out:
	vault_kv_wipe(body, len);
	vault_kv_wipe(rid, VK_TOKEN_MAX + 1);
	vault_kv_wipe(sid, VK_TOKEN_MAX + 1);
	if (token == NULL)
		pl->login_failed = 1;
	return token;
}

int
vault_kv_fetch(void *arg)
{
	struct vault_plan	*pl = arg;
	struct vk_path		*vp;
	CURL			*c;
	char			*token = NULL, *urlpath;
	size_t			 i;

	c = curl_easy_init();
	if (c == NULL) {
		snprintf(pl->login_err, sizeof(pl->login_err),
		    "curl_easy_init failed");
		pl->login_failed = 1;
		return -1;
	}
	if (pl->token_file != NULL) {
		if (read_first_line(pl->token_file, &token, pl->login_err,
		    sizeof(pl->login_err)) == -1)
			pl->login_failed = 1;
	} else
		token = approle_login(pl, c);
	for (i = 0; token != NULL && i < pl->npaths; i++) {
		vp = &pl->paths[i];
		if (pl->unreachable) {
			snprintf(vp->err, sizeof(vp->err), "not read (Vault "
			    "unreachable)");
			continue;
		}
		urlpath = vault_ref_url_path(&vp->ref);
		vp->status = vk_request(pl, c, urlpath, token, NULL,
		    &vp->body, &vp->bodylen, vp->err, sizeof(vp->err));
		free(urlpath);
		if (vp->status == 0)
			pl->unreachable = 1;
	}
	if (token != NULL)
		vault_kv_wipe(token, strlen(token));
	curl_easy_cleanup(c);
	return pl->login_failed ? -1 : 0;
}

/* ---- applying the results (on the loop: logs, fills cfg) --------------- */

/* Wipe every string value of a parsed tree (they may be secrets). */
static void
wipe_strings(struct json *j)
{
	struct json	*c;

	for (c = j->child; c != NULL; c = c->next)
		wipe_strings(c);
	if (j->str != NULL)
		OPENSSL_cleanse(j->str, strlen(j->str));
}

static void
json_wipe(struct json *j)
{
	if (j == NULL)
		return;
	wipe_strings(j);
	json_free(j);
}

static struct vk_path *
plan_path(struct vault_plan *pl, const struct vault_ref *ref)
{
	size_t	 i;

	for (i = 0; i < pl->npaths; i++)
		if (strcmp(pl->paths[i].ref.mount, ref->mount) == 0 &&
		    strcmp(pl->paths[i].ref.path, ref->path) == 0)
			return &pl->paths[i];
	return NULL;
}

/* Put ref's KEY from vp's answer into kv->secret; 0 or 1 (logged). */
static int
apply_one(struct zb_config *cfg, struct cfg_section *sec, struct cfg_kv *kv,
    struct vault_plan *pl, struct vk_path *vp, const struct vault_ref *ref,
    struct json *doc)
{
	const struct json	*data, *pairs, *v;
	char			 msg[VK_MSG_MAX + 1];

	if (vp->status == 0) {
		config_error(cfg, sec, kv, kv->key, "vault:%s/%s: cannot reach "
		    "Vault at %s ([vault] address): %s", ref->mount, ref->path,
		    pl->address, vp->err);
		return 1;
	}
	data = doc != NULL ? json_get(doc, "data") : NULL;
	pairs = data != NULL ? json_get(data, "data") : NULL;
	if (vp->status == 404 && data != NULL && data->type == JSON_OBJECT &&
	    (pairs == NULL || pairs->type == JSON_NULL)) {
		config_error(cfg, sec, kv, kv->key, "vault:%s/%s: the secret "
		    "is deleted in Vault at %s (HTTP 404)", ref->mount,
		    ref->path, pl->address);
		return 1;
	}
	if (vp->status == 404) {
		vault_message(vp->body, vp->bodylen, msg, sizeof(msg));
		config_error(cfg, sec, kv, kv->key, "vault:%s/%s: no such "
		    "secret in Vault at %s (HTTP 404%s%s; is %s a KV version 2 "
		    "mount?)", ref->mount, ref->path, pl->address,
		    msg[0] != '\0' ? ": " : "", msg, ref->mount);
		return 1;
	}
	if (vp->status != 200) {
		vault_message(vp->body, vp->bodylen, msg, sizeof(msg));
		config_error(cfg, sec, kv, kv->key, "vault:%s/%s: Vault at %s "
		    "([vault] address) answered HTTP %ld%s%s", ref->mount,
		    ref->path, pl->address, vp->status,
		    msg[0] != '\0' ? ": " : "", msg);
		return 1;
	}
	if (pairs == NULL || pairs->type != JSON_OBJECT) {
		config_error(cfg, sec, kv, kv->key, "vault:%s/%s: Vault at %s "
		    "answered without .data.data (not a KV version 2 "
		    "secret?)", ref->mount, ref->path, pl->address);
		return 1;
	}
	v = json_get(pairs, ref->key);
	if (v == NULL) {
		config_error(cfg, sec, kv, kv->key, "vault:%s/%s: the secret "
		    "has no key '%s'", ref->mount, ref->path, ref->key);
		return 1;
	}
	if (v->type == JSON_STRING || v->type == JSON_NUMBER)
		kv->secret = xstrdup(v->str);
	else if (v->type == JSON_BOOL)
		kv->secret = xstrdup(v->boolean ? "true" : "false");
	else {
		config_error(cfg, sec, kv, kv->key, "vault:%s/%s: key '%s' is "
		    "not a string", ref->mount, ref->path, ref->key);
		return 1;
	}
	kv->secretlen = strlen(kv->secret);
	if (kv->secretlen == 0) {
		vault_kv_wipe(kv->secret, 0);
		kv->secret = NULL;
		config_error(cfg, sec, kv, kv->key, "vault:%s/%s: key '%s' is "
		    "empty", ref->mount, ref->path, ref->key);
		return 1;
	}
	return 0;
}

int
vault_kv_apply(struct zb_config *cfg, struct vault_plan *pl)
{
	struct cfg_section	*sec;
	struct cfg_kv		*kv, *at;
	struct vault_ref	 ref;
	struct vk_path		*vp;
	struct json		**docs;
	const char		*errstr, *e;
	size_t			 i, pos;
	int			 errors = 0;

	if (pl == NULL)
		return 0;
	if (pl->login_failed || (pl->unreachable && pl->npaths > 0 &&
	    pl->paths[0].status == 0)) {
		at = config_kv(cfg->vault, pl->token_file != NULL ?
		    "token_file" : "approle_secret_id_file");
		if (pl->unreachable)
			config_error(cfg, cfg->vault, config_kv(cfg->vault,
			    "address"), "address", "cannot reach Vault at %s: "
			    "%s", pl->address, pl->login_status == 0 &&
			    pl->login_err[0] != '\0' ? pl->login_err :
			    pl->paths[0].err);
		else
			config_error(cfg, cfg->vault, at, at != NULL ?
			    at->key : NULL, "%s", pl->login_err);
		vault_kv_plan_free(pl);
		return 1;
	}
	docs = xcalloc(pl->npaths, sizeof(*docs));
	for (i = 0; i < pl->npaths; i++)
		if (pl->paths[i].body != NULL)
			docs[i] = json_parse(pl->paths[i].body,
			    pl->paths[i].bodylen, &e, &pos);
	TAILQ_FOREACH(sec, &cfg->sections, entry) {
		TAILQ_FOREACH(kv, &sec->kvs, entry) {
			if (!kv->vault || kv->secret != NULL)
				continue;
			if (vault_ref_parse(kv->value, &ref, &errstr) == -1)
				continue;
			vp = plan_path(pl, &ref);
			if (vp != NULL)
				errors += apply_one(cfg, sec, kv, pl, vp, &ref,
				    docs[vp - pl->paths]);
			vault_ref_free(&ref);
		}
	}
	for (i = 0; i < pl->npaths; i++)
		json_wipe(docs[i]);
	free(docs);
	vault_kv_plan_free(pl);
	return errors;
}

int
vault_kv_resolve(struct zb_config *cfg)
{
	struct vault_plan	*pl;
	int			 errors;

	pl = vault_kv_plan(cfg, &errors);
	if (pl == NULL)
		return errors;
	(void)vault_kv_fetch(pl);
	return vault_kv_apply(cfg, pl);
}
