/*
 * s3_xml.c - the few XML elements S3 answers with.
 *
 * S3's responses are flat documents of known elements (ListBucketResult,
 * InitiateMultipartUploadResult, Error, DeleteResult, ...): finding an
 * element by name and unescaping its text is all that is needed, so there
 * is no general XML parser here.  Element content never nests an element
 * of the same name in these documents.
 */
#include "zb-build.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s3_buf.h"
#include "s3.h"

static const char *
find(const char *p, size_t len, const char *s)
{
	return memmem(p, len, s, strlen(s));
}

int
s3_xml_next(const struct s3_xml *doc, const char *tag, size_t *pos,
    struct s3_xml *out)
{
	const char	*p, *end = doc->p + doc->len, *open, *gt, *close;
	size_t		 tl = strlen(tag);
	char		 closing[80];

	if (tl == 0 || tl + 4 > sizeof(closing))
		return 0;
	closing[0] = '<';
	closing[1] = '/';
	memcpy(closing + 2, tag, tl);
	closing[tl + 2] = '>';
	closing[tl + 3] = '\0';
	for (p = doc->p + *pos; p < end; p = open + 1) {
		open = find(p, (size_t)(end - p), "<");
		if (open == NULL || (size_t)(end - open) < tl + 2)
			return 0;
		if (memcmp(open + 1, tag, tl) != 0 ||
		    (open[tl + 1] != '>' && open[tl + 1] != ' ' &&
		    open[tl + 1] != '/'))
			continue;
		gt = find(open, (size_t)(end - open), ">");
		if (gt == NULL)
			return 0;
		if (gt[-1] == '/') {	/* <Tag/>: empty */
			out->p = gt + 1;
			out->len = 0;
			*pos = (size_t)(gt + 1 - doc->p);
			return 1;
		}
		close = find(gt + 1, (size_t)(end - gt - 1), closing);
		if (close == NULL)
			return 0;
		out->p = gt + 1;
		out->len = (size_t)(close - gt - 1);
		*pos = (size_t)(close + tl + 3 - doc->p);
		return 1;
	}
	return 0;
}

char *
s3_xml_text(const struct s3_xml *doc, const char *tag)
{
	struct s3_xml	 e;
	size_t		 pos = 0;

	if (!s3_xml_next(doc, tag, &pos, &e))
		return NULL;
	return s3_xml_unescape(e.p, e.len);
}

/* One UTF-8 encoded code point into q; bytes written. */
static size_t
utf8(unsigned long c, char *q)
{
	if (c < 0x80) {
		q[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		q[0] = (char)(0xc0 | (c >> 6));
		q[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		q[0] = (char)(0xe0 | (c >> 12));
		q[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		q[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	q[0] = (char)(0xf0 | (c >> 18));
	q[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	q[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	q[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

char *
s3_xml_unescape(const char *p, size_t len)
{
	static const struct { const char *ent; char c; } ents[] = {
		{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
		{ "&quot;", '"' }, { "&apos;", '\'' }
	};
	char		*out = xmalloc(len + 1), *q = out, *end;
	size_t		 i, j, el;
	unsigned long	 c;

	for (i = 0; i < len; ) {
		if (p[i] != '&') {
			*q++ = p[i++];
			continue;
		}
		for (j = 0; j < ZB_NELEM(ents); j++) {
			el = strlen(ents[j].ent);
			if (len - i >= el && memcmp(p + i, ents[j].ent, el) == 0)
				break;
		}
		if (j < ZB_NELEM(ents)) {
			*q++ = ents[j].c;
			i += el;
			continue;
		}
		if (len - i > 3 && p[i + 1] == '#') {
			char	 num[16];
			size_t	 k, n = 0;
			int	 hex = p[i + 2] == 'x' || p[i + 2] == 'X';

			for (k = i + 2 + hex; k < len && p[k] != ';' &&
			    n < sizeof(num) - 1; k++)
				num[n++] = p[k];
			num[n] = '\0';
			if (k < len && p[k] == ';' && n > 0) {
				c = strtoul(num, &end, hex ? 16 : 10);
				if (*end == '\0' && c > 0 && c <= 0x10ffff &&
				    (c < 0xd800 || c > 0xdfff)) {
					q += utf8(c, q);
					i = k + 1;
					continue;
				}
			}
		}
		*q++ = p[i++];	/* a stray '&': kept as it is */
	}
	*q = '\0';
	return out;
}

char *
s3_xml_escape(const char *s)
{
	struct zb_buf	 b;

	s3_buf_init(&b, (strlen(s) + 1) * 6);
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&':
			s3_buf_puts(&b, "&amp;");
			break;
		case '<':
			s3_buf_puts(&b, "&lt;");
			break;
		case '>':
			s3_buf_puts(&b, "&gt;");
			break;
		case '"':
			s3_buf_puts(&b, "&quot;");
			break;
		case '\'':
			s3_buf_puts(&b, "&apos;");
			break;
		default:
			s3_buf_add(&b, s, 1);
		}
	}
	if (b.data == NULL)
		return xstrdup("");
	return s3_buf_take(&b);
}

time_t
s3_parse_time(const char *s)
{
	struct tm	 tm;
	const char	*end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end == NULL)
		return -1;
	if (*end == '.')
		for (end++; isdigit((unsigned char)*end); end++)
			;
	if (*end != 'Z' || end[1] != '\0')
		return -1;
	return timegm(&tm);
}
