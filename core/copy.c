/*
 * copy.c - the copy service: replicate committed copies from one sink
 * (the origin) to others (the targets), as a copy job ([job:NAME]
 * copy_from =) or `zentoria-backupctl copy' asks.  No source is read and
 * nothing is decrypted or recompressed: the stored bytes move as they
 * are.
 *
 *   catalogs     the origin's, then each target's (query narrowed by
 *                the filters: one source, since);
 *   selection    the origin's copies (all, or catalog_newest's when
 *                newest_per_stream), kept by the sources filter; per
 *                target, a copy whose id is there already is "present"
 *                and never written again (idempotent);
 *   leftovers    a target's directory of the copy may hold a data object
 *                or sidecar without manifest (an earlier copy or run that
 *                failed before its manifest): garbage, which no sink
 *                would replace, so it is removed first, with a dead
 *                copy's in-progress marker; a live one's marker (gc.c's
 *                judgement) fails that target instead;
 *   marker       then the copy's own in-progress marker is written, as a
 *                run's (run.c), naming the job lock when a copy job
 *                holds one, so that prune leaves the directory alone
 *                until the manifest is written; it is removed after;
 *   one copy     its manifest text is read from the origin; the data
 *                object is streamed once (a get of the origin) to every
 *                target missing it (a writer each); when the producer
 *                ended, size and SHA-256 are compared with the manifest
 *                and only then are the writers committed (a target sink
 *                may have the origin's object as a file meanwhile, ABI
 *                1.7 put_file, when the origin keeps one); then, per
 *                target, the sidecar and last the manifest, rewritten to
 *                name the target sink (nothing else changes).  A copy
 *                that fails or is killed before its manifest does not
 *                exist on the target (the commit protocol) and is copied
 *                again by the next run.
 *
 * Copies go one at a time, so a copy run holds one stream budget.
 * Nothing here runs the loop; the caller gets a struct copy_result.
 */
#include "zb-build.h"

#include <sys/queue.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "artifact.h"
#include "buf.h"
#include "catalog.h"
#include "copy.h"
#include "forget.h"
#include "gc.h"
#include "layout.h"
#include "log.h"
#include "plugin.h"
#include "reactor.h"
#include "run.h"
#include "sinkio.h"
#include "state.h"
#include "stream.h"
#include "util.h"
#include "writers.h"

#define COPY_SLOT_POLL_MS	100	/* waiting for a max_copies slot */

struct copy {
	LIST_ENTRY(copy)	 entry;		/* live copies */
	struct zb_config	*cfg;
	struct copy_params	 p;		/* strings below */
	char			*from, *job;
	char			**to, **sources;
	struct zb_inst		*origin;
	struct cfg_section	*tsec[CFG_MAX_SINKS];
	copy_item_fn		 item;
	copy_done_fn		 done;
	void			*arg;
	char			*where;		/* "[job:J]" or "copy" */

	struct catalog		*ocat;
	struct catalog		*tcat[CFG_MAX_SINKS];
	size_t			 nloaded;
	const struct artifact	**todo;
	size_t			 ntodo, next;
	/* per target, per todo: its retention would remove the copy */
	unsigned char		*expire[CFG_MAX_SINKS];

	/* the copy in progress */
	const struct artifact	*cur;
	int			 want[CFG_MAX_SINKS];
	char			*err[CFG_MAX_SINKS];
	struct cfg_section	*slots[CFG_MAX_SINKS];	/* taken */
	size_t			 nslots;
	char			*mtext;		/* the origin's manifest */
	size_t			 mlen;
	struct stream		*st;
	struct writer		*w[CFG_MAX_SINKS];
	size_t			 meta;		/* target in sidecar/manifest */
	size_t			 prep;		/* target whose leftovers go */
	char			**left;		/* its leftover keys */
	size_t			 nleft, left_next;
	int			 has_manifest;	/* the listing showed one */
	int			 has_marker;	/* and an in-progress marker */
	time_t			 marker_mtime;
	int			 marked[CFG_MAX_SINKS];	/* marker written */
	size_t			 unmark;	/* next marker to remove */
	char			 stamp[64];	/* this copy run's, for markers */
	uint64_t		 t_item;

	int			 aborted;
	char			*why;
	int			 finished;
	uint64_t		 t0;
	struct copy_result	 res;
};

static LIST_HEAD(, copy) live = LIST_HEAD_INITIALIZER(live);

static void	next_copy(void *);
static void	next_meta(struct copy *);
static void	next_prep(struct copy *);

const char *
copy_action_str(enum copy_action a)
{
	switch (a) {
	case COPY_COPIED:
		return "copied";
	case COPY_PRESENT:
		return "present";
	case COPY_WOULD_COPY:
		return "would copy";
	case COPY_FAILED:
		return "failed";
	case COPY_EXPIRED:
		return "expired";
	}
	return "?";
}

uint64_t
copy_bytes(const struct copy *c)
{
	return c->res.bytes + (c->st != NULL ? c->st->bytes_in : 0);
}

static void
add_item(struct copy *c, const char *id, const char *sink,
    enum copy_action action, uint64_t bytes, const char *error)
{
	struct copy_item	 it;

	memset(&it, 0, sizeof(it));
	it.id = id;
	it.sink = sink;
	it.action = action;
	it.bytes = bytes;
	it.error = error;
	it.duration_ms = c->t_item > 0 ? now_ms() - c->t_item : 0;
	switch (action) {
	case COPY_COPIED:
		c->res.copied++;
		c->res.bytes += bytes;
		log_info("%s %s: copied from sink:%s to sink:%s (%" PRIu64
		    " bytes)", c->where, id, c->from, sink, bytes);
		break;
	case COPY_PRESENT:
		c->res.present++;
		log_debug("%s %s: already on sink:%s", c->where, id, sink);
		break;
	case COPY_WOULD_COPY:
		c->res.would_copy++;
		break;
	case COPY_FAILED:
		c->res.failed++;
		log_warnx("%s %s: copy from sink:%s to sink:%s FAILED: %s",
		    c->where, id, c->from, sink, error);
		break;
	case COPY_EXPIRED:
		c->res.expired++;
		log_info("%s %s: not copied to sink:%s: %s", c->where, id,
		    sink, error);
		break;
	}
	if (c->item != NULL)
		c->item(c->arg, &it);
}

static void
copy_finish(void *arg)
{
	struct copy	*c = arg;
	size_t		 i;

	LIST_REMOVE(c, entry);
	c->res.duration_ms = now_ms() - c->t0;
	c->res.interrupted = reactor_interrupted() != 0;
	log_info("%s: from sink:%s: %u selected, %u copied, %u present, "
	    "%u failed, %u expired%s", c->where, c->from, c->res.selected,
	    c->res.copied, c->res.present, c->res.failed, c->res.expired,
	    c->p.dry_run ? " (dry run)" : "");
	c->done(c->arg, &c->res);
	catalog_destroy(c->ocat);
	for (i = 0; i < c->p.nto; i++) {
		catalog_destroy(c->tcat[i]);
		free(c->err[i]);
		free(c->expire[i]);
	}
	strv_free(c->to, c->p.nto);
	strv_free(c->sources, c->p.nsources);
	free(c->todo);
	free(c->mtext);
	free(c->from);
	free(c->job);
	free(c->why);
	free(c->where);
	free(c);
}

/* ---- max_copies ------------------------------------------------------- */

/* A slot on every limited target the current copy goes to; 0: full. */
static int
take_slots(struct copy *c)
{
	size_t	 i, n = 0;

	for (i = 0; i < c->p.nto; i++)
		if (c->want[i])
			c->slots[n++] = c->tsec[i];
	if (!run_slots_take(c->slots, n))
		return 0;
	c->nslots = n;
	return 1;
}

static void
release_slots(struct copy *c)
{
	size_t	 n = c->nslots;

	c->nslots = 0;
	if (n > 0)
		run_slots_release(c->slots, n);
}

/* ---- one copy ------------------------------------------------------------ */

/* Fail every target of the current copy that has no outcome yet. */
static void ZB_PRINTF(2, 3)
fail_rest(struct copy *c, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[1024];
	size_t	 i;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (i = 0; i < c->p.nto; i++)
		if (c->want[i] && c->err[i] == NULL)
			c->err[i] = xstrdup(msg);
}

static void	copy_done(struct copy *);

static void
on_unmarked(void *arg, int status, const char *err)
{
	struct copy	*c = arg;
	size_t		 i = c->unmark++;

	/* (a leftover is harmless: prune takes it once this copy is over) */
	if (status != ZB_OK)
		log_warnx("%s %s: sink:%s: cannot remove the in-progress "
		    "marker: %s", c->where, c->cur->id, c->to[i],
		    err != NULL ? err : "error");
	c->marked[i] = 0;
	copy_done(c);
}

/*
 * The current copy is done: its markers go, one target after the other;
 * then record what no step recorded, and go on.
 */
static void
copy_done(struct copy *c)
{
	size_t	 i;
	char	*key;

	for (; c->unmark < c->p.nto; c->unmark++)
		if (c->marked[c->unmark])
			break;
	if (c->unmark < c->p.nto) {
		key = layout_marker_key(c->cur->dir);
		sinkio_remove(c->tsec[c->unmark]->inst, key, on_unmarked, c);
		free(key);
		return;
	}
	c->unmark = 0;
	release_slots(c);
	for (i = 0; i < c->p.nto; i++) {
		if (c->want[i])
			add_item(c, c->cur->id, c->to[i], COPY_FAILED, 0,
			    c->err[i] != NULL ? c->err[i] : "failed");
		free(c->err[i]);
		c->err[i] = NULL;
		c->want[i] = 0;
	}
	free(c->mtext);
	c->mtext = NULL;
	strv_free(c->left, c->nleft);
	c->left = NULL;
	c->nleft = c->left_next = 0;
	c->cur = NULL;
	c->t_item = 0;
	(void)reactor_timer_add(0, next_copy, c);
}

/*
 * The manifest text with its top-level "sink" object replaced by repl
 * (caller frees), or NULL when it has none: the rest stays byte for
 * byte.
 */
static char *
manifest_resink(const char *t, size_t len, const char *repl, size_t *outlen)
{
	size_t	 i, vs = 0, ve = 0, klen;
	int	 depth = 0, expect_key = 0, d, found = 0;
	char	*out;

	for (i = 0; i < len && !found; i++) {
		if (t[i] == '"') {
			size_t	 j = i + 1;

			while (j < len && t[j] != '"')
				j += t[j] == '\\' ? 2 : 1;
			if (j >= len)
				return NULL;
			klen = j - i - 1;
			if (depth == 1 && expect_key && klen == 4 &&
			    memcmp(t + i + 1, "sink", 4) == 0) {
				for (j++; j < len && t[j] != ':'; j++)
					;
				for (j++; j < len && strchr(" \t\r\n",
				    t[j]) != NULL; j++)
					;
				if (j >= len || t[j] != '{')
					return NULL;
				vs = j;
				found = 1;
				break;
			}
			expect_key = 0;
			i = j;
		} else if (t[i] == '{' || t[i] == '[') {
			depth++;
			expect_key = depth == 1 && t[i] == '{';
		} else if (t[i] == '}' || t[i] == ']')
			depth--;
		else if (t[i] == ',' && depth == 1)
			expect_key = 1;
	}
	if (!found)
		return NULL;
	for (d = 0, i = vs; i < len; i++) {
		if (t[i] == '"') {
			for (i++; i < len && t[i] != '"'; )
				i += t[i] == '\\' ? 2 : 1;
		} else if (t[i] == '{' || t[i] == '[')
			d++;
		else if ((t[i] == '}' || t[i] == ']') && --d == 0) {
			ve = i + 1;
			break;
		}
	}
	if (ve == 0)
		return NULL;
	*outlen = vs + strlen(repl) + (len - ve);
	out = xmalloc(*outlen + 1);
	memcpy(out, t, vs);
	memcpy(out + vs, repl, strlen(repl));
	memcpy(out + vs + strlen(repl), t + ve, len - ve);
	out[*outlen] = '\0';
	return out;
}

/* The manifest for target i: the origin's, naming sink i (caller frees). */
static char *
target_manifest(struct copy *c, size_t i, size_t *len, const char **err)
{
	struct zb_inst		*sink = c->tsec[i]->inst;
	const struct plugin	*pl = sink->plugin;
	struct artifact		 a;
	struct buf		 b;
	char			*text;

	buf_init(&b, 4096);
	(void)buf_puts(&b, "{\"name\": ");
	(void)buf_json_str(&b, c->to[i]);
	(void)buf_puts(&b, ", \"plugin\": ");
	(void)buf_json_str(&b, pl->desc.name);
	(void)buf_puts(&b, ", \"version\": ");
	(void)buf_json_str(&b, pl->desc.version != NULL ? pl->desc.version :
	    "");
	(void)buf_puts(&b, "}");
	text = manifest_resink(c->mtext, c->mlen, b.data != NULL ? b.data :
	    "", len);
	buf_free(&b);
	if (text == NULL) {
		*err = "the origin's manifest has no \"sink\" object";
		return NULL;
	}
	memset(&a, 0, sizeof(a));
	if (manifest_parse(text, *len, &a, err) == -1 ||
	    strcmp(a.id, c->cur->id) != 0 ||
	    strcmp(a.stored_sha, c->cur->stored_sha) != 0) {
		if (a.id != NULL)
			*err = "the rewritten manifest does not match";
		artifact_clear(&a);
		free(text);
		return NULL;
	}
	artifact_clear(&a);
	return text;
}

static void
on_manifest_put(void *arg, int status, const char *err)
{
	struct copy	*c = arg;
	size_t		 i = c->meta;

	if (status != ZB_OK)
		c->err[i] = xasprintf("cannot write the manifest: %s",
		    err != NULL ? err : "error");
	else {
		c->want[i] = 0;
		c->res.on_target[i]++;
		add_item(c, c->cur->id, c->to[i], COPY_COPIED,
		    c->cur->stored_size, NULL);
	}
	c->meta++;
	next_meta(c);
}

static void
on_sidecar_put(void *arg, int status, const char *err)
{
	struct copy	*c = arg;
	size_t		 i = c->meta, len;
	const char	*why;
	char		*key, *text;

	if (status != ZB_OK) {
		c->err[i] = xasprintf("cannot write the checksum sidecar: %s",
		    err != NULL ? err : "error");
		c->meta++;
		next_meta(c);
		return;
	}
	text = target_manifest(c, i, &len, &why);
	if (text == NULL) {
		c->err[i] = xstrdup(why);
		c->meta++;
		next_meta(c);
		return;
	}
	key = layout_manifest_key(c->cur->dir);
	sinkio_put_buf(c->tsec[i]->inst, key, text, len, 0, on_manifest_put,
	    c);
	free(key);
	free(text);
}

/* Sidecar, then manifest, on each target whose data was committed. */
static void
next_meta(struct copy *c)
{
	const struct artifact	*a = c->cur;
	size_t			 i;
	char			*key, *text;

	/* Aborted: a copy whose data was committed gets no manifest. */
	if (c->aborted)
		fail_rest(c, "%s before its manifest", c->why);
	for (; c->meta < c->p.nto; c->meta++)
		if (c->want[c->meta] && c->err[c->meta] == NULL)
			break;
	if (c->meta == c->p.nto) {
		copy_done(c);
		return;
	}
	i = c->meta;
	key = layout_sidecar_key(a->dir, a->data);
	text = layout_sidecar_text(a->stored_sha, a->data);
	sinkio_put_buf(c->tsec[i]->inst, key, text, strlen(text),
	    SINKIO_IN_PLACE, on_sidecar_put, c);
	free(key);
	free(text);
}

static void
xf_drained(struct stream *st, void *arg)
{
	const struct artifact	*a = ((struct copy *)arg)->cur;

	if (st->bytes_in != a->stored_size ||
	    strcmp(st->sha_in, a->stored_sha) != 0) {
		stream_abort(st, "the stored data does not match the "
		    "manifest: %" PRIu64 " bytes with SHA-256 %s, expected %"
		    PRIu64 " bytes with %s", st->bytes_in, st->sha_in,
		    a->stored_size, a->stored_sha);
		return;
	}
	stream_commit(st);
}

static void
xf_finished(struct stream *st, void *arg)
{
	struct copy	*c = arg;
	const char	*why;
	size_t		 i;

	if (st->live_peak > c->res.peak_buffered)
		c->res.peak_buffered = st->live_peak;
	c->res.budget = st->high;
	for (i = 0; i < c->p.nto; i++) {
		if (!c->want[i] || c->err[i] != NULL)
			continue;
		if (!st->failed && c->w[i] != NULL &&
		    c->w[i]->state == W_COMMITTED)
			continue;
		why = c->w[i] != NULL && c->w[i]->error != NULL &&
		    strcmp(c->w[i]->error, "stream aborted") != 0 ?
		    c->w[i]->error : st->error != NULL ? st->error :
		    "the data was not committed";
		c->err[i] = xasprintf("data: %s", why);
	}
	memset(c->w, 0, sizeof(c->w));
	c->st = NULL;
	stream_free(st);
	c->meta = 0;
	next_meta(c);
}

static const struct stream_owner xf_owner = { xf_drained, xf_finished };

/* host->put_file of the data's writers: the origin's object as a file. */
static int
origin_file(void *arg)
{
	struct copy	*c = arg;
	char		*key;
	int		 fd;

	key = layout_data_key(c->cur->dir, c->cur->data);
	fd = sinkio_get_file(c->origin, key);
	free(key);
	return fd;
}

static void
on_origin_manifest(void *arg, int status, const char *err, const char *data,
    size_t len)
{
	struct copy		*c = arg;
	const struct artifact	*a = c->cur;
	const struct zb_writer_ops *ops;
	struct stream_params	 p;
	struct artifact		 m;
	struct zb_inst		*sink;
	const char		*why;
	char			*name, *key;
	void			*wctx;
	size_t			 i;
	int			 same;

	if (status != ZB_OK) {
		fail_rest(c, "cannot read the manifest on sink:%s: %s",
		    c->from, err != NULL ? err : "error");
		copy_done(c);
		return;
	}
	memset(&m, 0, sizeof(m));
	same = manifest_parse(data, len, &m, &why) == 0 &&
	    strcmp(m.id, a->id) == 0 && strcmp(m.stored_sha,
	    a->stored_sha) == 0 && m.stored_size == a->stored_size;
	artifact_clear(&m);
	if (!same || c->aborted) {
		fail_rest(c, "%s", c->aborted ? c->why : "the manifest on "
		    "the origin changed since the catalog was read");
		copy_done(c);
		return;
	}
	c->mtext = xmalloc(len + 1);
	memcpy(c->mtext, data, len);
	c->mtext[len] = '\0';
	c->mlen = len;

	memset(&p, 0, sizeof(p));
	p.dir = STREAM_STORE;
	p.comp.algo = COMP_NONE;	/* the stored bytes as they are */
	p.chunk_size = c->cfg->chunk_size;
	p.budget = config_stream_budget(c->cfg, 1);
	name = xasprintf("%s %s (sink:%s to", c->where, a->id, c->from);
	for (i = 0; i < c->p.nto; i++)
		if (c->want[i] && c->err[i] == NULL) {
			char	*n2 = xasprintf("%s sink:%s", name, c->to[i]);

			free(name);
			name = n2;
		}
	key = xasprintf("%s)", name);
	free(name);
	p.name = key;
	c->st = stream_new(&p, &xf_owner, c);
	free(key);
	/* The stored bytes as they are: a sink may size its upload. */
	stream_set_put_size(c->st, (int64_t)a->stored_size);
	stream_set_put_file(c->st, origin_file, c);
	c->st->artifact_id = xstrdup(a->id);
	c->st->stream_name = xstrdup(a->stream);
	key = layout_data_key(a->dir, a->data);
	for (i = 0; i < c->p.nto; i++) {
		if (!c->want[i] || c->err[i] != NULL)
			continue;
		sink = c->tsec[i]->inst;
		c->w[i] = stream_writer_new(c->st, sink->sec->title,
		    sink->timeout_ms);
		c->w[i]->io.inst = sink;
		if (sinkio_put_open(sink, &c->w[i]->io, key, &ops, &wctx) ==
		    ZB_OK)
			stream_writer_attach(c->w[i], ops, wctx);
		else
			stream_writer_fail(c->w[i], "cannot open %s", key);
	}
	(void)sinkio_get_into(c->origin, key, c->st);
	free(key);
}

/* ---- leftovers of a failed copy on the targets ------------------------ */

static void
on_left_entry(void *arg, const struct zb_list_entry *e)
{
	struct copy		*c = arg;
	const struct artifact	*a = c->cur;
	char			*data, *sidecar, *manifest, *marker;

	data = layout_data_key(a->dir, a->data);
	sidecar = layout_sidecar_key(a->dir, a->data);
	manifest = layout_manifest_key(a->dir);
	marker = layout_marker_key(a->dir);
	if (strcmp(e->key, manifest) == 0)
		c->has_manifest = 1;
	else if (strcmp(e->key, marker) == 0) {
		c->has_marker = 1;
		c->marker_mtime = e->mtime;
	} else if (strcmp(e->key, data) == 0 ||
	    strcmp(e->key, sidecar) == 0) {
		c->left = xreallocarray(c->left, c->nleft + 1,
		    sizeof(*c->left));
		c->left[c->nleft++] = xstrdup(e->key);
	}
	free(data);
	free(sidecar);
	free(manifest);
	free(marker);
}

static void	remove_left(struct copy *);

static char *
build_marker(struct copy *c)
{
	struct buf	 b;
	char		 started[ZB_ISOTIME_LEN];

	isotime_format(time(NULL), started, sizeof(started));
	buf_init(&b, MARKER_MAX);
	(void)buf_printf(&b, "{\n  \"format\": \"%s\",\n  \"job\": ",
	    MARKER_FORMAT);
	(void)buf_json_str(&b, c->job != NULL ? c->job : "copy");
	(void)buf_puts(&b, ",\n  \"id\": ");
	(void)buf_json_str(&b, c->cur->id);
	(void)buf_puts(&b, ",\n  \"stamp\": ");
	(void)buf_json_str(&b, c->stamp);
	(void)buf_puts(&b, ",\n  \"host\": ");
	(void)buf_json_str(&b, state_host_id());
	(void)buf_printf(&b, ",\n  \"pid\": %ld,\n  \"lock\": ",
	    (long)getpid());
	(void)buf_json_str(&b, c->p.lock != NULL ?
	    state_lock_path(c->p.lock) : "");
	(void)buf_printf(&b, ",\n  \"started\": \"%s\"\n}\n", started);
	return buf_take(&b);
}

static void
on_marked(void *arg, int status, const char *err)
{
	struct copy	*c = arg;
	size_t		 i = c->prep;

	if (status != ZB_OK)
		c->err[i] = xasprintf("cannot write the in-progress marker: "
		    "%s", err != NULL ? err : "error");
	else
		c->marked[i] = 1;
	c->prep++;
	next_prep(c);
}

/* The leftovers are gone: this copy's marker. */
static void
mark(struct copy *c)
{
	char	*key, *text;

	key = layout_marker_key(c->cur->dir);
	text = build_marker(c);
	sinkio_put_buf(c->tsec[c->prep]->inst, key, text, strlen(text),
	    SINKIO_IN_PLACE, on_marked, c);
	free(key);
	free(text);
}

static void
on_left_removed(void *arg, int status, const char *err)
{
	struct copy	*c = arg;
	size_t		 i = c->prep;

	if (status != ZB_OK && c->err[i] == NULL)
		c->err[i] = xasprintf("cannot remove %s, left by a copy that "
		    "failed before its manifest: %s", c->left[c->left_next - 1],
		    err != NULL ? err : "error");
	remove_left(c);
}

static void
remove_left(struct copy *c)
{
	size_t	 i = c->prep;

	if (c->left_next < c->nleft && c->err[i] == NULL) {
		log_info("%s %s: sink:%s: removing %s, left by a copy that "
		    "failed before its manifest", c->where, c->cur->id,
		    c->to[i], c->left[c->left_next]);
		sinkio_remove(c->tsec[i]->inst, c->left[c->left_next++],
		    on_left_removed, c);
		return;
	}
	strv_free(c->left, c->nleft);
	c->left = NULL;
	c->nleft = c->left_next = 0;
	if (c->err[i] == NULL && c->want[i]) {
		mark(c);
		return;
	}
	c->prep++;
	next_prep(c);
}

/* A marker was there: a live run's or copy's fails this target. */
static void
on_old_marker(void *arg, int status, const char *err, const char *data,
    size_t len)
{
	struct copy	*c = arg;
	size_t		 i = c->prep;
	char		*why = NULL;

	if (status != ZB_OK)
		c->err[i] = xasprintf("cannot read the in-progress marker "
		    "there: %s", err != NULL ? err : "error");
	else if (gc_marker_alive(data, len, time(NULL) - c->marker_mtime,
	    &why))
		c->err[i] = xasprintf("%s writes it now", why);
	else {
		c->left = xreallocarray(c->left, c->nleft + 1,
		    sizeof(*c->left));
		c->left[c->nleft++] = layout_marker_key(c->cur->dir);
	}
	free(why);
	if (c->err[i] != NULL) {
		strv_free(c->left, c->nleft);
		c->left = NULL;
		c->nleft = 0;
	}
	remove_left(c);
}

static void
on_left_listed(void *arg, int status, const char *err)
{
	struct copy	*c = arg;
	size_t		 i = c->prep;
	char		*key;

	if (status != ZB_OK)
		c->err[i] = xasprintf("cannot list %s/: %s", c->cur->dir,
		    err != NULL ? err : "error");
	else if (c->has_manifest) {
		/* Committed since the catalog was read: leave it. */
		c->want[i] = 0;
		c->res.on_target[i]++;
		add_item(c, c->cur->id, c->to[i], COPY_PRESENT, 0, NULL);
	}
	if (c->err[i] != NULL || !c->want[i]) {
		strv_free(c->left, c->nleft);
		c->left = NULL;
		c->nleft = 0;
	}
	c->left_next = 0;
	if (c->err[i] == NULL && c->want[i] && c->has_marker) {
		key = layout_marker_key(c->cur->dir);
		sinkio_get_buf(c->tsec[i]->inst, key, MARKER_MAX,
		    on_old_marker, c);
		free(key);
		return;
	}
	remove_left(c);
}

static void
on_origin_manifest(void *, int, const char *, const char *, size_t);

/* List each target's directory of the copy; then read the manifest. */
static void
next_prep(struct copy *c)
{
	char	*prefix, *key;
	size_t	 i, n;

	for (; c->prep < c->p.nto; c->prep++)
		if (c->want[c->prep] && c->err[c->prep] == NULL)
			break;
	if (c->prep < c->p.nto) {
		c->has_manifest = c->has_marker = 0;
		prefix = xasprintf("%s/", c->cur->dir);
		sinkio_list(c->tsec[c->prep]->inst, prefix, on_left_entry,
		    on_left_listed, c);
		free(prefix);
		return;
	}
	for (n = 0, i = 0; i < c->p.nto; i++)
		n += c->want[i] && c->err[i] == NULL;
	if (n == 0) {
		copy_done(c);
		return;
	}
	key = layout_manifest_key(c->cur->dir);
	sinkio_get_buf(c->origin, key, MANIFEST_MAX, on_origin_manifest, c);
	free(key);
}

static void
start_copy(void *arg)
{
	struct copy	*c = arg;

	if (c->aborted || reactor_interrupted()) {
		fail_rest(c, "not copied: %s", c->why != NULL ? c->why :
		    "interrupted");
		copy_done(c);
		return;
	}
	if (!take_slots(c)) {
		(void)reactor_timer_add(COPY_SLOT_POLL_MS, start_copy, c);
		return;
	}
	c->t_item = now_ms();
	c->prep = 0;
	next_prep(c);
}

/* ---- selection and the loop over copies ------------------------------- */

static void
next_copy(void *arg)
{
	struct copy	*c = arg;
	size_t		 i, n;
	const struct artifact *t;

	for (;;) {
		if (c->next == c->ntodo) {
			copy_finish(c);
			return;
		}
		c->cur = c->todo[c->next++];
		for (i = 0; i < c->p.nto; i++) {
			c->want[i] = 0;
			n = catalog_copies(c->tcat[i], c->cur->id, &t, 1);
			if (n == 0 && c->expire[i][c->next - 1]) {
				c->res.on_target[i]++;	/* as it wants */
				add_item(c, c->cur->id, c->to[i], COPY_EXPIRED,
				    0, "the target's retention would remove it "
				    "at once (it keeps newer copies)");
				continue;
			}
			if (n == 0) {
				c->want[i] = 1;
				continue;
			}
			if (strcmp(t->stored_sha, c->cur->stored_sha) == 0) {
				c->res.on_target[i]++;
				add_item(c, c->cur->id, c->to[i],
				    COPY_PRESENT, 0, NULL);
				continue;
			}
			add_item(c, c->cur->id, c->to[i], COPY_FAILED, 0,
			    "the target holds a different copy with this id "
			    "(another SHA-256): left alone");
		}
		for (n = 0, i = 0; i < c->p.nto; i++)
			n += c->want[i];
		if (n == 0)
			continue;
		if (!c->p.dry_run)
			break;
		for (i = 0; i < c->p.nto; i++)
			if (c->want[i]) {
				c->want[i] = 0;
				add_item(c, c->cur->id, c->to[i],
				    COPY_WOULD_COPY, c->cur->stored_size,
				    NULL);
			}
	}
	start_copy(c);
}

static int
source_selected(const struct copy *c, const char *source)
{
	size_t	 i;

	if (c->p.nsources == 0)
		return 1;
	for (i = 0; i < c->p.nsources; i++)
		if (strcmp(c->sources[i], source) == 0)
			return 1;
	return 0;
}

/*
 * Per target: which of the selected copies missing there its retention
 * would remove right after they were written (the keep rules of the
 * target, as prune and the daemon apply them, over what it holds plus
 * what would come).  Those are not copied: a target that keeps fewer
 * copies than the origin holds would otherwise get the older ones again
 * on every copy run, and lose them at the next retention pass.
 */
static void
select_retained(struct copy *c)
{
	const struct artifact	**miss, *t;
	size_t			 *idx, i, k, n;
	int			 *keep;

	miss = xcalloc(c->ntodo + 1, sizeof(*miss));
	idx = xcalloc(c->ntodo + 1, sizeof(*idx));
	keep = xcalloc(c->ntodo + 1, sizeof(*keep));
	for (i = 0; i < c->p.nto; i++) {
		c->expire[i] = xcalloc(c->ntodo + 1, 1);
		for (n = 0, k = 0; k < c->ntodo; k++)
			if (catalog_copies(c->tcat[i], c->todo[k]->id, &t,
			    1) == 0) {
				idx[n] = k;
				miss[n++] = c->todo[k];
			}
		forget_would_keep(c->cfg, c->tsec[i], c->tcat[i], miss, n,
		    time(NULL), keep);
		for (k = 0; k < n; k++)
			c->expire[i][idx[k]] = !keep[k];
	}
	free(miss);
	free(idx);
	free(keep);
}

static void
select_copies(struct copy *c)
{
	struct catalog_pick	 pick;
	const struct artifact	*a;
	size_t			 i, n;
	time_t			 cutoff = 0;

	if (c->p.since_s > 0)
		cutoff = time(NULL) - (time_t)c->p.since_s;
	memset(&pick, 0, sizeof(pick));
	if (c->p.newest_per_stream) {
		catalog_newest(c->ocat, &pick);
		n = pick.n;
	} else
		n = c->ocat->n;
	c->todo = xcalloc(n + 1, sizeof(*c->todo));
	for (i = 0; i < n; i++) {
		a = c->p.newest_per_stream ? pick.copies[i] :
		    &c->ocat->items[i];
		if (strcmp(a->sink, c->from) != 0 ||
		    !source_selected(c, a->source) ||
		    (cutoff > 0 && a->time < cutoff))
			continue;
		c->todo[c->ntodo++] = a;
	}
	for (i = 0; c->p.newest_per_stream && i < pick.nskipped; i++)
		log_warnx("%s: sink:%s: run %s of [job:%s] (source:%s) is "
		    "incomplete, %zu of %zu streams: its copies are not the "
		    "newest", c->where, pick.skipped[i]->sink,
		    pick.skipped[i]->stamp, pick.skipped[i]->job,
		    pick.skipped[i]->source, pick.skipped[i]->present,
		    pick.skipped[i]->planned);
	catalog_pick_free(&pick);
	c->res.selected = (unsigned)c->ntodo;
	select_retained(c);
	log_info("%s: sink:%s holds %zu cop%s the filters select", c->where,
	    c->from, c->ntodo, c->ntodo == 1 ? "y" : "ies");
}

static void	load_next(struct copy *);

static void
on_catalog(void *arg, struct catalog *cat)
{
	struct copy	*c = arg;
	size_t		 k = c->nloaded++;
	const char	*sink = k == 0 ? c->from : c->to[k - 1];

	if (k == 0)
		c->ocat = cat;
	else
		c->tcat[k - 1] = cat;
	if (cat->errors > 0) {
		/*
		 * Origin: a copy left out is merely not copied.  Target: a
		 * copy that is there but unread would be written again
		 * (harmless: the same bytes), but say so.
		 */
		add_item(c, "catalog", sink, COPY_FAILED, 0, "the catalog "
		    "could not be read completely (see the log)");
	}
	load_next(c);
}

static void
load_next(struct copy *c)
{
	struct catalog_query	 q;

	if (reactor_interrupted() || c->aborted) {
		c->ntodo = 0;
		(void)reactor_timer_add(0, next_copy, c);
		return;
	}
	if (c->nloaded == c->p.nto + 1) {
		select_copies(c);
		(void)reactor_timer_add(0, next_copy, c);
		return;
	}
	memset(&q, 0, sizeof(q));
	q.sink = c->nloaded == 0 ? c->from : c->to[c->nloaded - 1];
	q.source = c->p.nsources == 1 ? c->sources[0] : NULL;
	/* (newest_per_stream needs whole runs: no cut by since) */
	if (c->p.since_s > 0 && !c->p.newest_per_stream)
		q.since = time(NULL) - (time_t)c->p.since_s;
	catalog_load_start(c->cfg, &q, on_catalog, c);
}

/* The first SIGINT/SIGTERM: abort every copy in progress. */
static void
copy_interrupt(int sig, void *arg)
{
	struct copy	*c;

	LIST_FOREACH(c, &live, entry)
		copy_abort(c, "interrupted");
}

void
copy_abort(struct copy *c, const char *why)
{
	if (c->aborted)
		return;
	c->aborted = 1;
	c->why = xstrdup(why);
	if (c->st != NULL && c->st->state == ST_RUNNING)
		stream_abort(c->st, "%s", why);
}

static void
start_failed(void *arg)
{
	struct copy	*c = arg;

	c->ntodo = 0;
	next_copy(c);
}

struct copy *
copy_start(struct zb_config *cfg, const struct copy_params *params,
    copy_item_fn item, copy_done_fn done, void *arg)
{
	struct copy		*c;
	struct cfg_section	*sec;
	char			*title;
	size_t			 i, j;
	int			 bad = 0;

	c = xcalloc(1, sizeof(*c));
	LIST_INSERT_HEAD(&live, c, entry);
	reactor_on_interrupt(copy_interrupt, NULL);
	c->cfg = cfg;
	c->p = *params;
	c->from = xstrdup(params->from);
	c->job = params->job != NULL ? xstrdup(params->job) : NULL;
	c->where = c->job != NULL ? xasprintf("[job:%s]", c->job) :
	    xstrdup("copy");
	c->p.nto = params->nto < CFG_MAX_SINKS ? params->nto : CFG_MAX_SINKS;
	c->to = xcalloc(c->p.nto + 1, sizeof(*c->to));
	for (i = 0; i < c->p.nto; i++)
		c->to[i] = xstrdup(params->to[i]);
	c->sources = xcalloc(c->p.nsources + 1, sizeof(*c->sources));
	for (i = 0; i < c->p.nsources; i++)
		c->sources[i] = xstrdup(params->sources[i]);
	c->item = item;
	c->done = done;
	c->arg = arg;
	c->t0 = now_ms();
	c->res.ntargets = c->p.nto;
	/* The markers' stamp; the job lock names it while the copy runs. */
	(void)snprintf(c->stamp, sizeof(c->stamp), "copy-%llu",
	    (unsigned long long)now_ms());
	if (c->p.lock != NULL)
		state_lock_set_run(c->p.lock, c->stamp);

	c->origin = catalog_sink(cfg, c->from);
	if (c->origin == NULL) {
		add_item(c, "sink", c->from, COPY_FAILED, 0,
		    "no such sink in the configuration");
		bad = 1;
	}
	for (i = 0; i < c->p.nto; i++) {
		title = xasprintf("sink:%s", c->to[i]);
		sec = config_section(cfg, title);
		free(title);
		c->tsec[i] = sec;
		if (sec == NULL || sec->inst == NULL) {
			add_item(c, "sink", c->to[i], COPY_FAILED, 0,
			    "no such sink in the configuration");
			bad = 1;
		} else if (strcmp(c->to[i], c->from) == 0) {
			add_item(c, "sink", c->to[i], COPY_FAILED, 0,
			    "the sink copied from cannot be a target");
			bad = 1;
		}
		for (j = 0; j < i; j++)
			if (strcmp(c->to[j], c->to[i]) == 0) {
				add_item(c, "sink", c->to[i], COPY_FAILED, 0,
				    "named twice");
				bad = 1;
			}
	}
	if (c->p.nto == 0) {
		add_item(c, "sink", "*", COPY_FAILED, 0, "no target sink");
		bad = 1;
	}
	if (bad) {
		(void)reactor_timer_add(0, start_failed, c);
		return c;
	}
	log_info("%s: copying from sink:%s%s", c->where, c->from,
	    c->p.dry_run ? " (dry run)" : "");
	load_next(c);
	return c;
}
