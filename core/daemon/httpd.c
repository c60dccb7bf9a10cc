/*
 * httpd.c - the daemon's HTTP server: owns the evhttp listener on the
 * reactor's event_base, `listen' parsing, TLS (OpenSSL bufferevents, TLS
 * 1.3 minimum), the bearer tokens of admin_token_file/auditor_token_file
 * (kept as SHA-256 digests, compared in constant time), the role check
 * of each route and the route table.
 */
#include "zb-build.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>

#include "httpd.h"
#include "log.h"
#include "reactor.h"
#include "util.h"

#define HTTPD_MAX_ROUTES	32
#define HTTPD_MAX_LISTEN	8
#define HTTPD_MAX_TOKENS	64
#define HTTPD_TOKEN_FILE_MAX	(64 * 1024)
#define HTTPD_BODY_MAX		(16 * 1024 * 1024)
#define DIGEST_LEN		32

struct route {
	char			*method;
	char			*path;
	enum httpd_access	 access;
	httpd_handler		 fn;
	httpd_async_handler	 afn;
	void			*arg;
};

struct tokens {
	unsigned char	 d[HTTPD_MAX_TOKENS][DIGEST_LEN];
	size_t		 n;
};

struct httpd {
	struct evhttp	*http;
	SSL_CTX		*ssl;
	struct route	 routes[HTTPD_MAX_ROUTES];
	size_t		 nroutes;
	struct tokens	 admin, auditor;
	int		 metrics_auth;
	char		*listen;	/* as started with */
	char		*tls_cert;
};

struct httpd_req {
	struct evhttp_request	*req;	/* NULL: the client went away */
};

enum role { ROLE_NONE, ROLE_AUDITOR, ROLE_ADMIN };

static struct cfg_section *
daemon_section(struct zb_config *cfg)
{
	return config_section(cfg, "daemon");
}

static const char *
dkey(struct zb_config *cfg, const char *key, struct cfg_kv **kvp)
{
	struct cfg_section	*sec = daemon_section(cfg);
	struct cfg_kv		*kv = sec != NULL ? config_kv(sec, key) : NULL;

	if (kvp != NULL)
		*kvp = kv;
	return kv != NULL ? kv->value : NULL;
}

/*
 * One HOST:PORT of a listen value (s..s+len): host into host (brackets
 * removed), the port into *port.  -1 when malformed.
 */
static int
parse_addr(const char *s, size_t len, char *host, size_t hostsz,
    unsigned *port)
{
	const char	*colon, *hs, *he;
	char		 num[8];
	size_t		 i, nl;
	unsigned long	 p = 0;

	if (len > 0 && s[0] == '[') {
		he = memchr(s, ']', len);
		if (he == NULL || he + 1 >= s + len || he[1] != ':')
			return -1;
		hs = s + 1;
		colon = he + 1;
	} else {
		colon = NULL;
		for (i = 0; i < len; i++)
			if (s[i] == ':')
				colon = s + i;
		if (colon == NULL || memchr(s, ':', len) != colon)
			return -1;
		hs = s;
		he = colon;
	}
	if (he == hs || (size_t)(he - hs) >= hostsz)
		return -1;
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	nl = (size_t)(s + len - colon - 1);
	if (nl == 0 || nl >= sizeof(num))
		return -1;
	memcpy(num, colon + 1, nl);
	num[nl] = '\0';
	for (i = 0; i < nl; i++) {
		if (num[i] < '0' || num[i] > '9')
			return -1;
		p = p * 10 + (unsigned long)(num[i] - '0');
	}
	if (p == 0 || p > 65535)
		return -1;
	*port = (unsigned)p;
	return 0;
}

/* Call fn for each address of a listen value; -1 at the first bad one. */
static int
each_addr(const char *v, int (*fn)(void *, const char *, unsigned),
    void *arg)
{
	char		 host[256];
	unsigned	 port;
	size_t		 n, count = 0;

	for (;;) {
		v += strspn(v, ", \t");
		if (*v == '\0')
			break;
		n = strcspn(v, ", \t");
		if (parse_addr(v, n, host, sizeof(host), &port) == -1)
			return -1;
		if (++count > HTTPD_MAX_LISTEN)
			return -1;
		if (fn != NULL && fn(arg, host, port) == -1)
			return -1;
		v += n;
	}
	return count > 0 ? 0 : -1;
}

/* Read a token file into t; -1 (logged) on an error. */
static int
load_tokens(struct zb_config *cfg, const char *key, struct tokens *t)
{
	struct cfg_kv	*kv;
	const char	*path = dkey(cfg, key, &kv);
	struct stat	 st;
	FILE		*f;
	char		 line[1024];
	size_t		 len;

	t->n = 0;
	if (path == NULL)
		return 0;
	f = fopen(path, "r");
	if (f == NULL) {
		config_error(cfg, daemon_section(cfg), kv, key, "%s: %s",
		    path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) == -1 || (st.st_mode & 077) != 0) {
		config_error(cfg, daemon_section(cfg), kv, key, "%s is "
		    "readable by group or others (mode %03o): chmod 600 it",
		    path, (unsigned)(st.st_mode & 0777));
		fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		len = strcspn(line, "\r\n");
		line[len] = '\0';
		while (len > 0 && (line[len - 1] == ' ' ||
		    line[len - 1] == '\t'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		if (t->n == HTTPD_MAX_TOKENS) {
			config_error(cfg, daemon_section(cfg), kv, key,
			    "%s: more than %d tokens", path,
			    HTTPD_MAX_TOKENS);
			break;
		}
		SHA256((unsigned char *)line, len, t->d[t->n++]);
	}
	OPENSSL_cleanse(line, sizeof(line));
	fclose(f);
	if (t->n == 0) {
		config_error(cfg, daemon_section(cfg), kv, key,
		    "%s has no token", path);
		return -1;
	}
	return 0;
}

int
httpd_check(struct zb_config *cfg)
{
	struct tokens	 t;
	struct cfg_kv	*kv, *kk;
	const char	*v;
	int		 errors = 0;

	v = dkey(cfg, "listen", &kv);
	if (v != NULL && each_addr(v, NULL, NULL) == -1) {
		config_error(cfg, daemon_section(cfg), kv, "listen",
		    "'%s' is not HOST:PORT or [IPv6]:PORT (comma separated, "
		    "at most %d)", v, HTTPD_MAX_LISTEN);
		errors++;
	}
	errors += load_tokens(cfg, "admin_token_file", &t) == -1;
	errors += load_tokens(cfg, "auditor_token_file", &t) == -1;
	OPENSSL_cleanse(&t, sizeof(t));
	(void)dkey(cfg, "tls_cert_file", &kv);
	(void)dkey(cfg, "tls_key_file", &kk);
	if ((kv == NULL) != (kk == NULL)) {
		config_error(cfg, daemon_section(cfg), kv != NULL ? kv : kk,
		    kv != NULL ? "tls_cert_file" : "tls_key_file",
		    "needs %s as well", kv != NULL ? "tls_key_file" :
		    "tls_cert_file");
		errors++;
	}
	return errors;
}

/* ---- TLS ------------------------------------------------------------- */

static void
log_ssl_errors(const char *what)
{
	unsigned long	 e;
	char		 b[256];

	for (;;) {
		e = ERR_get_error();
		if (e == 0)
			break;
		ERR_error_string_n(e, b, sizeof(b));
		log_warnx("%s: %s", what, b);
	}
}

static SSL_CTX *
tls_ctx(struct zb_config *cfg, const char *cert, const char *key)
{
	SSL_CTX	*ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1) {
		log_ssl_errors(cfg->path);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		log_warnx("%s: [daemon] tls_cert_file: %s: cannot load",
		    cfg->path, cert);
		log_ssl_errors(cert);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		log_warnx("%s: [daemon] tls_key_file: %s: cannot load or "
		    "does not match tls_cert_file", cfg->path, key);
		log_ssl_errors(key);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static struct bufferevent *
tls_bevcb(struct event_base *base, void *arg)
{
	SSL_CTX	*ctx = arg;

	return bufferevent_openssl_socket_new(base, -1, SSL_new(ctx),
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
}

/* ---- requests ---------------------------------------------------------- */

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Status";
	}
}

void
httpd_error(struct httpd_reply *out, int status, const char *msg)
{
	out->status = status;
	out->content_type = "application/json";
	buf_reset(&out->body);
	buf_puts(&out->body, "{\"error\": ");
	buf_json_str(&out->body, msg);
	buf_puts(&out->body, "}\n");
}

static void
send_reply(struct evhttp_request *req, struct httpd_reply *out)
{
	struct evbuffer	*eb = evbuffer_new();
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	if (out->body.failed) {
		buf_reset(&out->body);
		out->body.failed = 0;
		httpd_error(out, 500, "reply too large");
	}
	evhttp_add_header(h, "Content-Type", out->content_type != NULL ?
	    out->content_type : "application/json");
	evhttp_add_header(h, "Cache-Control", "no-store");
	if (out->status == 401)
		evhttp_add_header(h, "WWW-Authenticate",
		    "Bearer realm=\"zentoria-backupd\"");
	if (eb != NULL && out->body.len > 0)
		evbuffer_add(eb, out->body.data, out->body.len);
	evhttp_send_reply(req, out->status, reason(out->status), eb);
	if (eb != NULL)
		evbuffer_free(eb);
	buf_free(&out->body);
}

static int
token_in(const struct tokens *t, const unsigned char *d)
{
	size_t	 i;
	int	 found = 0;

	/* every digest compared: the time does not say which matched */
	for (i = 0; i < t->n; i++)
		found |= CRYPTO_memcmp(t->d[i], d, DIGEST_LEN) == 0;
	return found;
}

static enum role
request_role(struct httpd *h, struct evhttp_request *req)
{
	const char	*a;
	unsigned char	 d[DIGEST_LEN];
	enum role	 r = ROLE_NONE;

	a = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");
	if (a == NULL || strncasecmp(a, "Bearer ", 7) != 0)
		return ROLE_NONE;
	a += 7;
	a += strspn(a, " ");
	if (*a == '\0')
		return ROLE_NONE;
	SHA256((const unsigned char *)a, strlen(a), d);
	if (token_in(&h->auditor, d))
		r = ROLE_AUDITOR;
	if (token_in(&h->admin, d))
		r = ROLE_ADMIN;
	return r;
}

/* Does path match pattern ("*" = one non-empty segment)? */
static int
path_match(const char *pat, const char *path)
{
	size_t	 n;

	while (*pat != '\0' && *path != '\0') {
		if (pat[0] == '*' && (pat[1] == '/' || pat[1] == '\0')) {
			n = strcspn(path, "/");
			if (n == 0)
				return 0;
			pat++;
			path += n;
			continue;
		}
		if (*pat != *path)
			return 0;
		pat++;
		path++;
	}
	return *pat == '\0' && *path == '\0';
}

static const char *
method_name(enum evhttp_cmd_type c)
{
	switch (c) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	default: return "OTHER";
	}
}

static void
on_close(struct evhttp_connection *conn, void *arg)
{
	struct httpd_req	*hr = arg;

	hr->req = NULL;
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct httpd		*h = arg;
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	const char		*method, *rawpath, *query;
	char			*path;
	struct route		*rt = NULL;
	struct httpd_reply	 out;
	struct httpd_req	*hr;
	enum role		 role;
	size_t			 i;
	int			 path_known = 0;

	memset(&out, 0, sizeof(out));
	buf_init(&out.body, HTTPD_BODY_MAX);
	out.status = 200;
	out.content_type = "application/json";
	method = method_name(evhttp_request_get_command(req));
	rawpath = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	query = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	path = rawpath != NULL ? evhttp_uridecode(rawpath, 0, NULL) : NULL;
	if (path == NULL) {
		httpd_error(&out, 400, "bad request path");
		send_reply(req, &out);
		return;
	}
	for (i = 0; i < h->nroutes; i++) {
		if (!path_match(h->routes[i].path, path))
			continue;
		path_known = 1;
		if (strcmp(h->routes[i].method, method) == 0) {
			rt = &h->routes[i];
			break;
		}
	}
	if (rt == NULL) {
		httpd_error(&out, path_known ? 405 : 404, path_known ?
		    "method not allowed" : "no such resource");
		goto reply;
	}
	role = request_role(h, req);
	if (rt->access != HTTPD_PUBLIC_METRICS || h->metrics_auth) {
		if (role == ROLE_NONE) {
			httpd_error(&out, 401, "a valid bearer token is "
			    "needed (Authorization: Bearer TOKEN)");
			goto reply;
		}
		if (rt->access == HTTPD_ADMIN && role != ROLE_ADMIN) {
			httpd_error(&out, 403, "an admin token is needed");
			goto reply;
		}
	}
	log_debug("http: %s %s", method, path);
	if (rt->afn != NULL) {
		buf_free(&out.body);
		hr = xcalloc(1, sizeof(*hr));
		hr->req = req;
		evhttp_connection_set_closecb(
		    evhttp_request_get_connection(req), on_close, hr);
		rt->afn(rt->arg, hr, method, path, query);
		free(path);
		return;
	}
	rt->fn(rt->arg, method, path, query, &out);
reply:
	free(path);
	send_reply(req, &out);
}

void
httpd_reply_send(struct httpd_req *hr, struct httpd_reply *out)
{
	if (hr->req != NULL) {
		evhttp_connection_set_closecb(
		    evhttp_request_get_connection(hr->req), NULL, NULL);
		send_reply(hr->req, out);
	} else
		buf_free(&out->body);
	free(hr);
}

/* ---- the server -------------------------------------------------------- */

static int
bind_one(void *arg, const char *host, unsigned port)
{
	struct httpd	*h = arg;

	if (evhttp_bind_socket_with_handle(h->http, host,
	    (unsigned short)port) == NULL) {
		log_warnx("listen %s%s%s:%u: cannot bind: %s",
		    strchr(host, ':') ? "[" : "", host,
		    strchr(host, ':') ? "]" : "", port, strerror(errno));
		return -1;
	}
	log_info("listening on %s%s%s%s:%u", h->ssl != NULL ? "https://" :
	    "http://", strchr(host, ':') ? "[" : "", host,
	    strchr(host, ':') ? "]" : "", port);
	return 0;
}

static void
read_settings(struct httpd *h, struct zb_config *cfg)
{
	struct cfg_kv	*kv;

	if (load_tokens(cfg, "admin_token_file", &h->admin) == -1)
		h->admin.n = 0;
	if (load_tokens(cfg, "auditor_token_file", &h->auditor) == -1)
		h->auditor.n = 0;
	(void)dkey(cfg, "metrics_auth", &kv);
	h->metrics_auth = kv != NULL && kv->num != 0;
}

struct httpd *
httpd_new(struct zb_config *cfg, int *failed)
{
	struct httpd	*h;
	const char	*v = dkey(cfg, "listen", NULL);
	const char	*cert = dkey(cfg, "tls_cert_file", NULL);
	const char	*key = dkey(cfg, "tls_key_file", NULL);

	*failed = 0;
	if (v == NULL)
		return NULL;
	h = xcalloc(1, sizeof(*h));
	h->listen = xstrdup(v);
	h->tls_cert = cert != NULL ? xstrdup(cert) : NULL;
	read_settings(h, cfg);
	h->http = evhttp_new(reactor_base());
	if (h->http == NULL)
		goto fail;
	if (cert != NULL && key != NULL) {
		h->ssl = tls_ctx(cfg, cert, key);
		if (h->ssl == NULL)
			goto fail;
		evhttp_set_bevcb(h->http, tls_bevcb, h->ssl);
	}
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET |
	    EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
	    EVHTTP_REQ_DELETE);
	evhttp_set_max_body_size(h->http, 64 * 1024);
	evhttp_set_max_headers_size(h->http, 32 * 1024);
	evhttp_set_timeout(h->http, 30);
	evhttp_set_gencb(h->http, on_request, h);
	if (each_addr(v, bind_one, h) == -1) {
		log_warnx("%s: [daemon] listen = %s: the HTTP server cannot "
		    "start", cfg->path, v);
		goto fail;
	}
	if (h->admin.n + h->auditor.n == 0)
		log_warnx("%s: [daemon] no admin_token_file or "
		    "auditor_token_file: every request but /metrics gets 401",
		    cfg->path);
	return h;
fail:
	*failed = 1;
	httpd_free(h);
	return NULL;
}

static int
same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

void
httpd_reload(struct httpd *h, struct zb_config *cfg)
{
	const char	*v = dkey(cfg, "listen", NULL);

	if (h == NULL) {
		if (v != NULL)
			log_warnx("%s: [daemon] listen changed: it takes "
			    "effect at the next restart, not on reload",
			    cfg->path);
		return;
	}
	if (!same(h->listen, v))
		log_warnx("%s: [daemon] listen changed: it takes effect at "
		    "the next restart, not on reload", cfg->path);
	if (!same(h->tls_cert, dkey(cfg, "tls_cert_file", NULL)))
		log_warnx("%s: [daemon] tls_cert_file changed: it takes "
		    "effect at the next restart, not on reload", cfg->path);
	read_settings(h, cfg);
}

void
httpd_free(struct httpd *h)
{
	size_t	 i;

	if (h == NULL)
		return;
	if (h->http != NULL)
		evhttp_free(h->http);
	if (h->ssl != NULL)
		SSL_CTX_free(h->ssl);
	for (i = 0; i < h->nroutes; i++) {
		free(h->routes[i].method);
		free(h->routes[i].path);
	}
	OPENSSL_cleanse(&h->admin, sizeof(h->admin));
	OPENSSL_cleanse(&h->auditor, sizeof(h->auditor));
	free(h->listen);
	free(h->tls_cert);
	free(h);
}

static void
add_route(struct httpd *h, const char *method, const char *path,
    enum httpd_access access, httpd_handler fn, httpd_async_handler afn,
    void *arg)
{
	struct route	*r;

	if (h == NULL)
		return;
	if (h->nroutes == HTTPD_MAX_ROUTES)
		fatalx("httpd: more than %d routes", HTTPD_MAX_ROUTES);
	r = &h->routes[h->nroutes++];
	r->method = xstrdup(method);
	r->path = xstrdup(path);
	r->access = access;
	r->fn = fn;
	r->afn = afn;
	r->arg = arg;
}

void
httpd_route(struct httpd *h, const char *method, const char *path,
    enum httpd_access access, httpd_handler fn, void *arg)
{
	add_route(h, method, path, access, fn, NULL, arg);
}

void
httpd_route_async(struct httpd *h, const char *method, const char *path,
    enum httpd_access access, httpd_async_handler fn, void *arg)
{
	add_route(h, method, path, access, NULL, fn, arg);
}
