/*
 * hello.c - the smallest useful source plugin, built out of tree.
 *
 * It produces one stream, "greeting", holding `count' lines of `text'.
 * It shows the parts every source has: an option table, init/fini,
 * plan() declaring streams, and a producer that pushes bytes from loop
 * events and honours pause()/resume().  Build it with the Makefile beside
 * it; docs/plugin-guide.md explains each part.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zentoria/plugin.h>

struct hello {
	const struct zb_host_api *host;
	struct zb_inst		*inst;
};

struct hello_stream {
	struct hello		*h;
	struct zb_io		*io;
	struct event		*ev;
	int64_t			 left;
	int			 paused;
};

static const struct zb_option hello_options[] = {
	{ "text", ZB_OPT_STRING, "hello, world", 0, "the line to repeat",
	    0, 0 },
	{ "count", ZB_OPT_INT, "1000", 0, "how many lines", 1, 100000000 },
	{ NULL, 0, NULL, 0, NULL, 0, 0 }
};

static int
hello_init(const struct zb_host_api *host, struct zb_inst *inst, void **ctx)
{
	struct hello	*h;

	if (host->abi_version != ZB_PLUGIN_ABI_VERSION)
		return ZB_ERR;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return ZB_ERR;
	h->host = host;
	h->inst = inst;
	*ctx = h;
	return ZB_OK;
}

static void
hello_fini(void *ctx)
{
	free(ctx);
}

static int
hello_plan(void *ctx, struct zb_io *run)
{
	struct hello	*h = ctx;

	if (h->host->add_stream(run, "greeting", "txt") != ZB_OK)
		return ZB_ERR;
	h->host->done(run, ZB_OK, NULL);
	return ZB_OK;
}

/* One line per loop iteration, until done or paused. */
static void
produce(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct hello_stream	*s = arg;
	const char		*text = s->h->host->cfg_str(s->h->inst, "text");

	if (s->paused)
		return;
	if (s->left == 0) {
		s->h->host->fact_int(s->io, NULL, "lines",
		    s->h->host->cfg_int(s->h->inst, "count"));
		s->h->host->done(s->io, ZB_OK, NULL);
		return;
	}
	s->left--;
	if (s->h->host->push(s->io, text, strlen(text)) == ZB_ERR ||
	    s->h->host->push(s->io, "\n", 1) == ZB_ERR)
		return;		/* being torn down: close() follows */
	if (!s->paused)
		event_active(s->ev, 0, 0);
}

static void
hello_pause(void *pctx)
{
	((struct hello_stream *)pctx)->paused = 1;
}

static void
hello_resume(void *pctx)
{
	struct hello_stream	*s = pctx;

	s->paused = 0;
	event_active(s->ev, 0, 0);
}

static void
hello_close(void *pctx)
{
	struct hello_stream	*s = pctx;

	event_free(s->ev);
	free(s);
}

static const struct zb_producer_ops hello_ops = {
	hello_pause, hello_resume, hello_close
};

static int
hello_open(void *ctx, struct zb_io *io, const struct zb_producer_ops **ops,
    void **pctx)
{
	struct hello		*h = ctx;
	struct hello_stream	*s = calloc(1, sizeof(*s));

	if (s == NULL)
		return ZB_ERR;
	s->h = h;
	s->io = io;
	s->left = h->host->cfg_int(h->inst, "count");
	s->ev = event_new(h->host->evbase(), -1, 0, produce, s);
	if (s->ev == NULL) {
		free(s);
		return ZB_ERR;
	}
	event_active(s->ev, 0, 0);
	*ops = &hello_ops;
	*pctx = s;
	return ZB_OK;
}

ZB_EXPORT const struct zb_plugin_desc zb_plugin = {
	.abi_version = ZB_PLUGIN_ABI_VERSION,
	.struct_size = sizeof(struct zb_plugin_desc),
	.abi_sig = ZB_ABI_SIG,
	.kind = ZB_KIND_SOURCE,
	.caps = ZB_CAP_PAUSE,
	.name = "hello",
	.version = "1.0",
	.description = "example: repeat a line of text",
	.options = hello_options,
	.init = hello_init,
	.fini = hello_fini,
	.plan = hello_plan,
	.stream_open = hello_open,
};
