/*
 * toolkit_json.c - JSON documents and buffers for plugins (ABI 1.5):
 * host->json_* over core/json.c and host->buf_* over core/buf.c.
 *
 * The public structs (struct zb_json, struct zb_buf) are the ABI's own:
 * nothing here relies on them sharing a layout with the core's.  A parsed
 * document is copied into one array of struct zb_json that points into
 * the core tree's strings; both are freed together.  A buffer is copied
 * into a struct buf for each call and back.
 */
#include "zb-build.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "toolkit.h"
#include "util.h"

/* A parsed document: the core tree and its public copy, root first. */
struct doc {
	struct json	*tree;
	struct zb_json	 node[];
};

static size_t
count_nodes(const struct json *j)
{
	size_t	 n = 0;

	for (; j != NULL; j = j->next)
		n += 1 + count_nodes(j->child);
	return n;
}

/* Copy the siblings starting at j into node[*used...]; the first one's
 * address is returned. */
static const struct zb_json *
copy_nodes(struct zb_json *node, size_t *used, const struct json *j)
{
	struct zb_json	*first = NULL, *prev = NULL, *z;

	for (; j != NULL; j = j->next) {
		z = &node[(*used)++];
		z->type = (int)j->type;
		z->key = j->key;
		z->str = j->str;
		z->num = j->num;
		z->boolean = j->boolean;
		z->raw_off = j->raw_off;
		z->raw_len = j->raw_len;
		z->child = copy_nodes(node, used, j->child);
		if (prev != NULL)
			prev->next = z;
		else
			first = z;
		prev = z;
	}
	return first;
}

const struct zb_json *
toolkit_json_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct json	*tree;
	struct doc	*d;
	const char	*why = NULL;
	size_t		 pos = 0, n, used = 0;

	tree = json_parse(text, len, &why, &pos);
	if (tree == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "offset %zu: %s", pos,
			    why != NULL ? why : "invalid JSON");
		return NULL;
	}
	n = count_nodes(tree);
	d = xcalloc(1, sizeof(*d) + n * sizeof(d->node[0]));
	d->tree = tree;
	copy_nodes(d->node, &used, tree);
	return &d->node[0];
}

void
toolkit_json_free(const struct zb_json *root)
{
	struct doc	*d;

	if (root == NULL)
		return;
	d = (struct doc *)(void *)((char *)(uintptr_t)root -
	    offsetof(struct doc, node));
	json_free(d->tree);
	free(d);
}

const struct zb_json *
toolkit_json_get(const struct zb_json *obj, const char *key)
{
	const struct zb_json *c;

	if (obj == NULL || obj->type != ZB_JSON_OBJECT)
		return NULL;
	for (c = obj->child; c != NULL; c = c->next)
		if (strcmp(c->key, key) == 0)
			return c;
	return NULL;
}

int
toolkit_json_int(const struct zb_json *v, int64_t *out)
{
	struct json	 j;

	*out = 0;
	if (v == NULL || v->type != ZB_JSON_NUMBER)
		return ZB_ERR;
	memset(&j, 0, sizeof(j));
	j.type = JSON_NUMBER;
	j.str = (char *)(uintptr_t)v->str;
	return json_get_i64_value(&j, out) == 0 ? ZB_OK : ZB_ERR;
}

static void
to_core(struct buf *b, const struct zb_buf *z)
{
	b->data = z->data;
	b->len = z->len;
	b->cap = z->cap;
	b->max = z->max;
	b->failed = z->failed;
}

static void
from_core(struct zb_buf *z, const struct buf *b)
{
	z->data = b->data;
	z->len = b->len;
	z->cap = b->cap;
	z->max = b->max;
	z->failed = b->failed;
}

void
toolkit_buf_init(struct zb_buf *z, size_t max)
{
	struct buf	 b;

	buf_init(&b, max);
	from_core(z, &b);
}

void
toolkit_buf_free(struct zb_buf *z)
{
	struct buf	 b;

	to_core(&b, z);
	buf_free(&b);
	from_core(z, &b);
}

int
toolkit_buf_add(struct zb_buf *z, const void *p, size_t n)
{
	struct buf	 b;
	int		 rc;

	to_core(&b, z);
	rc = buf_add(&b, p, n);
	from_core(z, &b);
	return rc;
}

int
toolkit_buf_printf(struct zb_buf *z, const char *fmt, ...)
{
	va_list	 ap;
	char	 small[256], *big;
	int	 n, rc;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(small))
		return toolkit_buf_add(z, small, (size_t)n);
	big = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	rc = toolkit_buf_add(z, big, (size_t)n);
	free(big);
	return rc;
}

int
toolkit_buf_json_str(struct zb_buf *z, const char *s)
{
	struct buf	 b;
	int		 rc;

	to_core(&b, z);
	rc = buf_json_str(&b, s);
	from_core(z, &b);
	return rc;
}
