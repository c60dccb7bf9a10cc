/*
 * hostapi.c - the struct zb_host_api table handed to every plugin.
 *
 * Calls on a struct zb_io are dispatched through its io_vtbl (io.h); a
 * call that does not fit the operation (push on a writer, say) is a
 * plugin bug and is logged, never a crash.  Config getters read values
 * that config_check_keys() has already parsed.
 */
#include "zb-build.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "artifact.h"
#include "child.h"
#include "http.h"
#include "io.h"
#include "log.h"
#include "plugin.h"
#include "reactor.h"
#include "stream.h"
#include "toolkit.h"
#include "util.h"
#include "writers.h"

#define SECRET_MAX	65536

static void
h_vlog(struct zb_inst *inst, int level, const char *fmt, va_list ap)
{
	log_vmsg(level, inst != NULL ? inst->prefix : NULL, fmt, ap);
}

static void h_log(struct zb_inst *, int, const char *, ...)
    ZB_PRINTF(3, 4);

static void
h_log(struct zb_inst *inst, int level, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	h_vlog(inst, level, fmt, ap);
	va_end(ap);
}

static const char *
h_inst_name(const struct zb_inst *inst)
{
	return inst->sec->title;
}

static const struct zb_option *
inst_option(struct zb_inst *inst, const char *key)
{
	const struct zb_option	*o;

	for (o = inst->plugin->desc.options; o != NULL && o->key != NULL; o++)
		if (strcmp(o->key, key) == 0)
			return o;
	for (o = config_core_options(inst->sec->kind); o->key != NULL; o++)
		if (strcmp(o->key, key) == 0)
			return o;
	return NULL;
}

/*
 * The checked key, or one made from the option's default (so that typed
 * values and list items exist for defaults too).
 */
static struct cfg_kv *
inst_kv(struct zb_inst *inst, const char *key)
{
	const struct zb_option	*o;
	struct cfg_kv		*kv = config_kv(inst->sec, key);
	const char		*errstr;
	int			 b;

	if (kv != NULL)
		return kv;
	o = inst_option(inst, key);
	if (o == NULL) {
		log_warnx("%s plugin bug: option '%s' is not in its table",
		    inst->prefix, key);
		return NULL;
	}
	if (o->def == NULL)
		return NULL;
	kv = xcalloc(1, sizeof(*kv));
	kv->key = xstrdup(key);
	kv->value = xstrdup(o->def);
	switch (o->type) {
	case ZB_OPT_INT:
		(void)parse_int(o->def, INT64_MIN, INT64_MAX, &kv->num, &errstr);
		break;
	case ZB_OPT_SIZE:
		(void)parse_size(o->def, &kv->num, &errstr);
		break;
	case ZB_OPT_DURATION:
		(void)parse_duration_ms(o->def, &kv->num, &errstr);
		break;
	case ZB_OPT_BOOL:
		if (parse_bool(o->def, &b, &errstr) == 0)
			kv->num = b;
		break;
	case ZB_OPT_LIST:
		(void)split_list(o->def, &kv->items, &kv->nitems);
		break;
	default:
		break;
	}
	TAILQ_INSERT_TAIL(&inst->sec->kvs, kv, entry);
	inst->sec->nkvs++;
	return kv;
}

static const char *
h_cfg_str(struct zb_inst *inst, const char *key)
{
	struct cfg_kv	*kv = inst_kv(inst, key);

	return kv != NULL ? kv->value : NULL;
}

static int64_t
h_cfg_int(struct zb_inst *inst, const char *key)
{
	struct cfg_kv	*kv = inst_kv(inst, key);

	return kv != NULL ? kv->num : 0;
}

static int
h_cfg_bool(struct zb_inst *inst, const char *key)
{
	return h_cfg_int(inst, key) != 0;
}

static size_t
h_cfg_list_len(struct zb_inst *inst, const char *key)
{
	struct cfg_kv	*kv = inst_kv(inst, key);

	return kv != NULL ? kv->nitems : 0;
}

static const char *
h_cfg_list_item(struct zb_inst *inst, const char *key, size_t i)
{
	struct cfg_kv	*kv = inst_kv(inst, key);

	return kv != NULL && i < kv->nitems ? kv->items[i] : NULL;
}

static int h_cfg_error(struct zb_inst *, const char *, const char *, ...)
    ZB_PRINTF(3, 4);

static int
h_cfg_error(struct zb_inst *inst, const char *key, const char *fmt, ...)
{
	char	 msg[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	config_error_at(inst->path, inst->sec, config_kv(inst->sec, key),
	    key, "%s", msg);
	return ZB_ERR;
}

static void	h_secret_free(char *, size_t);

static int
read_secret_file(struct zb_inst *inst, const char *key, const char *path,
    char **out, size_t *outlen)
{
	struct stat	 st;
	char		*buf;
	ssize_t		 n;
	size_t		 len = 0;
	int		 fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1 || fstat(fd, &st) == -1) {
		h_cfg_error(inst, key, "cannot read %s: %s", path,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return ZB_ERR;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return h_cfg_error(inst, key, "%s is not a regular file", path);
	}
	if (st.st_mode & S_IROTH) {
		close(fd);
		return h_cfg_error(inst, key, "%s is readable by others; "
		    "chmod o-r it", path);
	}
	buf = xmalloc(SECRET_MAX + 2);
	n = 0;
	while (len <= SECRET_MAX) {
		n = read(fd, buf + len, SECRET_MAX + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
	}
	close(fd);
	if (n == -1 || len > SECRET_MAX) {
		h_secret_free(buf, len);
		return h_cfg_error(inst, key, "%s: %s", path, n == -1 ?
		    strerror(errno) : "larger than 64 KiB");
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return ZB_OK;
}

static int
h_secret(struct zb_inst *inst, const char *key, char **out, size_t *outlen)
{
	const struct zb_option	*o;
	struct cfg_kv	*kv;
	const char	*v;
	char		*fkey;

	fkey = xasprintf("%s_file", key);
	kv = config_kv(inst->sec, fkey);
	free(fkey);
	if (kv == NULL)
		kv = config_kv(inst->sec, key);
	if (kv != NULL && kv->vault) {
		/* vault:MOUNT/PATH#KEY, read when the config was loaded */
		if (kv->secret == NULL)
			return h_cfg_error(inst, kv->key, "%s was not resolved",
			    kv->value);
		*out = xmalloc(kv->secretlen + 1);
		memcpy(*out, kv->secret, kv->secretlen + 1);
		*outlen = kv->secretlen;
		return ZB_OK;
	}
	if (kv != NULL && strcmp(kv->key, key) != 0)
		return read_secret_file(inst, kv->key, kv->value, out, outlen);
	if (kv == NULL && (o = inst_option(inst, key)) != NULL &&
	    !o->required) {
		*out = NULL;	/* an optional secret that is not set */
		*outlen = 0;
		return ZB_OK;
	}
	if (kv == NULL)
		return h_cfg_error(inst, key, "no value for this secret");
	if (strncmp(kv->value, "env:", 4) == 0) {
		v = getenv(kv->value + 4);
		if (v == NULL)
			return h_cfg_error(inst, key, "environment variable "
			    "%s is not set", kv->value + 4);
	} else
		v = kv->value;
	*outlen = strlen(v);
	*out = xstrdup(v);
	return ZB_OK;
}

static void
h_secret_free(char *buf, size_t len)
{
	if (buf == NULL)
		return;
	OPENSSL_cleanse(buf, len);
	free(buf);
}

static struct event_base *
h_evbase(void)
{
	return reactor_base();
}

static void
io_bug(struct zb_io *io, const char *call)
{
	log_warnx("%s plugin bug: host->%s() on a %s operation",
	    io->inst != NULL ? io->inst->prefix : "", call,
	    io->vt != NULL ? io->vt->kind : "unknown");
}

static int
h_add_stream(struct zb_io *io, const char *name, const char *ext)
{
	if (io->vt->add_stream == NULL) {
		io_bug(io, "add_stream");
		return ZB_ERR;
	}
	return io->vt->add_stream(io, name, ext);
}

static const char *
h_stream_name(const struct zb_io *io)
{
	return io->vt->stream_name != NULL ? io->vt->stream_name(io) : "";
}

static const char *
h_artifact_id(const struct zb_io *io)
{
	return io->vt->artifact_id != NULL ? io->vt->artifact_id(io) : "";
}

static void
h_fact_str(struct zb_io *io, const char *group, const char *key,
    const char *val)
{
	if (io->vt->fact == NULL)
		io_bug(io, "fact_str");
	else
		io->vt->fact(io, group, key, val, 0, 0);
}

static void
h_fact_int(struct zb_io *io, const char *group, const char *key,
    int64_t val)
{
	if (io->vt->fact == NULL)
		io_bug(io, "fact_int");
	else
		io->vt->fact(io, group, key, NULL, val, 1);
}

/* A fact's value as text; numbers in a buffer that the next call reuses. */
static const char *
fact_text(const struct fact *f)
{
	static char	 num[24];

	if (f->str != NULL)
		return f->str;
	snprintf(num, sizeof(num), "%" PRId64, f->num);
	return num;
}

static int
fact_in_group(const struct fact *f, const char *group)
{
	if (group == NULL || f->group == NULL)
		return group == NULL && f->group == NULL;
	return strcmp(group, f->group) == 0;
}

static const char *
h_fact_get(struct zb_io *io, const char *group, const char *key)
{
	const struct fact	*f;

	if (io->vt->facts == NULL) {
		io_bug(io, "fact_get");
		return NULL;
	}
	for (f = io->vt->facts(io); f != NULL; f = f->next)
		if (fact_in_group(f, group) && strcmp(f->key, key) == 0)
			return fact_text(f);
	return NULL;
}

static size_t
h_fact_each(struct zb_io *io, const char *group,
    void (*cb)(void *, const char *, const char *), void *arg)
{
	const struct fact	*f;
	size_t			 n = 0;

	if (io->vt->facts == NULL) {
		io_bug(io, "fact_each");
		return 0;
	}
	for (f = io->vt->facts(io); f != NULL; f = f->next) {
		if (!fact_in_group(f, group))
			continue;
		n++;
		if (cb != NULL)
			cb(arg, f->key, fact_text(f));
	}
	return n;
}

int
io_push(struct zb_io *io, const void *buf, size_t len)
{
	if (io->vt->push == NULL) {
		io_bug(io, "push");
		return ZB_ERR;
	}
	return io->vt->push(io, buf, len);
}

void
io_done(struct zb_io *io, int status, const char *msg)
{
	if (io->vt->done == NULL)
		io_bug(io, "done");
	else
		io->vt->done(io, status, msg);
}

static void
h_ready(struct zb_io *io)
{
	if (io->vt->ready == NULL)
		io_bug(io, "ready");
	else
		io->vt->ready(io);
}

static void
h_list_add(struct zb_io *io, const struct zb_list_entry *e)
{
	if (io->vt->list_add == NULL)
		io_bug(io, "list_add");
	else
		io->vt->list_add(io, e);
}

static int
h_spawn(struct zb_inst *inst, const struct zb_spawn_req *req,
    struct zb_child_fds *fds)
{
	return child_spawn(inst->prefix, req, fds) == 0 ? ZB_OK : ZB_ERR;
}

static int
h_offload(struct zb_inst *inst, int (*work)(void *),
    void (*done)(void *, int), void *arg)
{
	if (reactor_offload(work, done, arg) == -1) {
		log_warn("%s cannot start a worker thread", inst->prefix);
		return ZB_ERR;
	}
	return ZB_OK;
}

static int
h_file_writer(struct zb_io *w, const char *path, int force,
    const struct zb_writer_ops **ops, void **wctx)
{
	return file_writer_open(w, w->inst != NULL ? w->inst->prefix : "",
	    path, force, ops, wctx);
}

static int
h_http_submit(struct zb_inst *inst, void *easy,
    void (*done)(void *, int, long), void *arg)
{
	return http_submit(easy, done, arg) == 0 ? ZB_OK : ZB_ERR;
}

static void
h_pending_add(struct zb_io *io, const struct zb_pending_entry *e)
{
	if (io->vt->pending_add == NULL)
		io_bug(io, "pending_add");
	else
		io->vt->pending_add(io, e);
}

static int64_t
h_put_size(struct zb_io *io)
{
	return io->vt->put_size != NULL ? io->vt->put_size(io) : -1;
}

static const char *
h_put_sha256(struct zb_io *io)
{
	return io->vt->put_sha256 != NULL ? io->vt->put_sha256(io) : NULL;
}

static int
h_put_file(struct zb_io *io)
{
	return io->vt->put_file != NULL ? io->vt->put_file(io) : -1;
}

static int
h_put_in_place(struct zb_io *io)
{
	return io->vt->put_in_place != NULL ? io->vt->put_in_place(io) : 0;
}

static const struct zb_host_api host_api = {
	.abi_version = ZB_PLUGIN_ABI_VERSION,
	.struct_size = sizeof(struct zb_host_api),
	.log = h_log,
	.vlog = h_vlog,
	.inst_name = h_inst_name,
	.cfg_str = h_cfg_str,
	.cfg_int = h_cfg_int,
	.cfg_bool = h_cfg_bool,
	.cfg_list_len = h_cfg_list_len,
	.cfg_list_item = h_cfg_list_item,
	.cfg_error = h_cfg_error,
	.secret = h_secret,
	.secret_free = h_secret_free,
	.evbase = h_evbase,
	.add_stream = h_add_stream,
	.stream_name = h_stream_name,
	.artifact_id = h_artifact_id,
	.fact_str = h_fact_str,
	.fact_int = h_fact_int,
	.push = io_push,
	.done = io_done,
	.ready = h_ready,
	.list_add = h_list_add,
	.chunk_ref = chunk_ref,
	.chunk_unref = chunk_unref,
	.spawn = h_spawn,
	.kill_child = child_kill,
	.offload = h_offload,
	.timer_add = reactor_timer_add,
	.timer_del = reactor_timer_del,
	.file_writer = h_file_writer,
	.http_submit = h_http_submit,
	.http_cancel = http_cancel,
	.http_resume = http_resume,
	.fact_get = h_fact_get,
	.fact_each = h_fact_each,
	.pending_add = h_pending_add,
	.fd_producer = toolkit_fd_producer,
	.fd_writer = toolkit_fd_writer,
	.http_request = toolkit_http_request,
	.http_request_cancel = toolkit_http_request_cancel,
	.http_set_header = toolkit_http_set_header,
	.http_download = toolkit_http_download,
	.http_upload = toolkit_http_upload,
	.json_parse = toolkit_json_parse,
	.json_free = toolkit_json_free,
	.json_get = toolkit_json_get,
	.json_int = toolkit_json_int,
	.buf_init = toolkit_buf_init,
	.buf_free = toolkit_buf_free,
	.buf_add = toolkit_buf_add,
	.buf_printf = toolkit_buf_printf,
	.buf_json_str = toolkit_buf_json_str,
	.put_size = h_put_size,
	.put_sha256 = h_put_sha256,
	.put_file = h_put_file,
	.put_in_place = h_put_in_place,
};

const struct zb_host_api *
hostapi_get(void)
{
	return &host_api;
}
