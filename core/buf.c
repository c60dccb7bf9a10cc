/*
 * buf.c - a growable byte buffer with a hard cap fixed at creation.
 *
 * Every buffer that grows from input has a maximum (STYLE.md section 5);
 * exceeding it is an error the caller reports, never a reallocation storm.
 */
#include "zb-build.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "util.h"

void
buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

static int
buf_reserve(struct buf *b, size_t more)
{
	size_t	 want;

	if (b->failed || more > b->max || b->len > b->max - more) {
		b->failed = 1;
		errno = EMSGSIZE;
		return -1;
	}
	want = b->len + more + 1;
	if (want <= b->cap)
		return 0;
	if (b->cap == 0)
		b->cap = 256;
	while (b->cap < want)
		b->cap *= 2;
	b->data = xreallocarray(b->data, b->cap, 1);
	return 0;
}

int
buf_add(struct buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) == -1)
		return -1;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
buf_puts(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, n) == -1)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += n;
	return 0;
}

int
buf_json_str(struct buf *b, const char *s)
{
	const unsigned char *p;
	char	 esc[8];

	if (buf_add(b, "\"", 1) == -1)
		return -1;
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		switch (*p) {
		case '"':
			if (buf_add(b, "\\\"", 2) == -1)
				return -1;
			break;
		case '\\':
			if (buf_add(b, "\\\\", 2) == -1)
				return -1;
			break;
		case '\n':
			if (buf_add(b, "\\n", 2) == -1)
				return -1;
			break;
		case '\t':
			if (buf_add(b, "\\t", 2) == -1)
				return -1;
			break;
		default:
			if (*p < 0x20) {
				snprintf(esc, sizeof(esc), "\\u%04x", *p);
				if (buf_puts(b, esc) == -1)
					return -1;
			} else if (buf_add(b, p, 1) == -1)
				return -1;
		}
	}
	return buf_add(b, "\"", 1);
}

char *
buf_take(struct buf *b)
{
	char	*p = b->data;

	if (p == NULL)
		p = xstrdup("");
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}
