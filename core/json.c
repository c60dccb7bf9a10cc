/*
 * json.c - a small recursive-descent JSON reader.
 *
 * Input is untrusted (a manifest read back from any storage tier), so the
 * parser bounds nesting depth, checks every escape and never reads past
 * len.  Numbers keep their text so integers above 2^53 survive.  An
 * object that names a member twice is refused at any depth: readers
 * differ on which of the two values counts (first, last, or an error), so
 * another tool could read a different manifest than verify did.  The
 * fuzz harness tests/fuzz/fuzz_json.c drives json_parse directly.
 */
#include "zb-build.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "util.h"

struct jp {
	const char	*s;
	size_t		 len;
	size_t		 pos;
	const char	*err;
	int		 depth;
	char		 why[128];	/* err when it names a member */
};

/* A member name and where it starts, for the duplicate check. */
struct member {
	const char	*key;
	size_t		 pos;
};

static struct json *parse_value(struct jp *);

static void
skip_ws(struct jp *p)
{
	while (p->pos < p->len && strchr(" \t\r\n", p->s[p->pos]) != NULL &&
	    p->s[p->pos] != '\0')
		p->pos++;
}

static int
fail(struct jp *p, const char *err)
{
	if (p->err == NULL)
		p->err = err;
	return -1;
}

static int
read_hex4(struct jp *p, unsigned *out)
{
	unsigned v = 0;
	int	 i, h;

	if (p->len - p->pos < 4)
		return fail(p, "truncated \\u escape");
	for (i = 0; i < 4; i++) {
		h = hex_value((unsigned char)p->s[p->pos + i]);
		if (h < 0)
			return fail(p, "bad \\u escape");
		v = v << 4 | (unsigned)h;
	}
	p->pos += 4;
	*out = v;
	return 0;
}

static int
put_utf8(struct buf *b, unsigned cp)
{
	unsigned char	 u[4];
	size_t		 n;

	if (cp < 0x80) {
		u[0] = cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = 0xc0 | cp >> 6;
		u[1] = 0x80 | (cp & 0x3f);
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = 0xe0 | cp >> 12;
		u[1] = 0x80 | (cp >> 6 & 0x3f);
		u[2] = 0x80 | (cp & 0x3f);
		n = 3;
	} else {
		u[0] = 0xf0 | cp >> 18;
		u[1] = 0x80 | (cp >> 12 & 0x3f);
		u[2] = 0x80 | (cp >> 6 & 0x3f);
		u[3] = 0x80 | (cp & 0x3f);
		n = 4;
	}
	return buf_add(b, u, n);
}

static int
parse_escape(struct jp *p, struct buf *b)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char	*k;
	unsigned	 cp, lo;
	char		 c;

	if (p->pos >= p->len)
		return fail(p, "truncated escape");
	c = p->s[p->pos++];
	if (c != 'u') {
		k = c != '\0' ? strchr(from, c) : NULL;
		if (k == NULL)
			return fail(p, "bad escape");
		return buf_add(b, &to[k - from], 1);
	}
	if (read_hex4(p, &cp) == -1)
		return -1;
	if (cp >= 0xd800 && cp < 0xdc00) {
		if (p->len - p->pos < 2 || p->s[p->pos] != '\\' ||
		    p->s[p->pos + 1] != 'u')
			return fail(p, "lone surrogate");
		p->pos += 2;
		if (read_hex4(p, &lo) == -1)
			return -1;
		if (lo < 0xdc00 || lo > 0xdfff)
			return fail(p, "bad surrogate pair");
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	} else if (cp >= 0xdc00 && cp <= 0xdfff)
		return fail(p, "lone surrogate");
	if (cp == 0)
		return fail(p, "NUL in string");
	return put_utf8(b, cp);
}

static char *
parse_string(struct jp *p)
{
	struct buf	 b;
	unsigned char	 c;

	buf_init(&b, p->len + 1);
	p->pos++;	/* opening quote */
	for (;;) {
		if (p->pos >= p->len) {
			fail(p, "unterminated string");
			break;
		}
		c = p->s[p->pos++];
		if (c == '"')
			return buf_take(&b);
		if (c < 0x20) {
			fail(p, "control character in string");
			break;
		}
		if (c == '\\') {
			if (parse_escape(p, &b) == -1)
				break;
		} else if (buf_add(&b, &c, 1) == -1) {
			fail(p, "string too long");
			break;
		}
	}
	buf_free(&b);
	return NULL;
}

static int
parse_number(struct jp *p, struct json *j)
{
	size_t	 start = p->pos;
	char	*end;

	if (p->pos < p->len && p->s[p->pos] == '-')
		p->pos++;
	if (p->pos >= p->len || !isdigit((unsigned char)p->s[p->pos]))
		return fail(p, "bad number");
	if (p->s[p->pos] == '0')
		p->pos++;
	else
		while (p->pos < p->len && isdigit((unsigned char)p->s[p->pos]))
			p->pos++;
	if (p->pos < p->len && p->s[p->pos] == '.') {
		p->pos++;
		if (p->pos >= p->len || !isdigit((unsigned char)p->s[p->pos]))
			return fail(p, "bad number");
		while (p->pos < p->len && isdigit((unsigned char)p->s[p->pos]))
			p->pos++;
	}
	if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
		p->pos++;
		if (p->pos < p->len && strchr("+-", p->s[p->pos]) != NULL &&
		    p->s[p->pos] != '\0')
			p->pos++;
		if (p->pos >= p->len || !isdigit((unsigned char)p->s[p->pos]))
			return fail(p, "bad number");
		while (p->pos < p->len && isdigit((unsigned char)p->s[p->pos]))
			p->pos++;
	}
	j->type = JSON_NUMBER;
	j->str = xstrndup(p->s + start, p->pos - start);
	j->num = strtod(j->str, &end);
	return 0;
}

static int
parse_literal(struct jp *p, struct json *j)
{
	static const struct {
		const char	*word;
		enum json_type	 type;
		int		 val;
	} lits[] = {
		{ "true", JSON_BOOL, 1 },
		{ "false", JSON_BOOL, 0 },
		{ "null", JSON_NULL, 0 },
	};
	size_t	 i, n;

	for (i = 0; i < ZB_NELEM(lits); i++) {
		n = strlen(lits[i].word);
		if (p->len - p->pos >= n &&
		    memcmp(p->s + p->pos, lits[i].word, n) == 0) {
			p->pos += n;
			j->type = lits[i].type;
			j->boolean = lits[i].val;
			return 0;
		}
	}
	return fail(p, "unexpected character");
}

static int
cmp_member(const void *a, const void *b)
{
	const struct member	*x = a, *y = b;
	int			 c = strcmp(x->key, y->key);

	if (c != 0)
		return c;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/*
 * Refuse an object with a member name given twice.  Sorting keeps this
 * O(n log n) for the largest objects a bounded document can hold.
 */
static int
check_duplicates(struct jp *p, struct member *m, size_t n)
{
	size_t	 i;

	if (n < 2)
		return 0;
	qsort(m, n, sizeof(*m), cmp_member);
	for (i = 1; i < n; i++) {
		if (strcmp(m[i - 1].key, m[i].key) != 0)
			continue;
		snprintf(p->why, sizeof(p->why), "member name \"%.64s\"%s "
		    "given twice in one object", m[i].key,
		    strlen(m[i].key) > 64 ? "..." : "");
		p->pos = m[i].pos;
		return fail(p, p->why);
	}
	return 0;
}

/* Elements of an array or members of an object, up to the closer. */
static int
parse_members(struct jp *p, struct json *j, int object)
{
	struct json	**tail = &j->child, *v;
	struct member	*members = NULL;
	size_t		 nmembers = 0, cap = 0, keypos = 0;
	char		*key = NULL;
	char		 closer = object ? '}' : ']';
	int		 rc = -1;

	p->pos++;
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == closer) {
		p->pos++;
		return 0;
	}
	for (;;) {
		skip_ws(p);
		if (object) {
			if (p->pos >= p->len || p->s[p->pos] != '"') {
				fail(p, "expected a member name");
				break;
			}
			keypos = p->pos;
			key = parse_string(p);
			if (key == NULL)
				break;
			skip_ws(p);
			if (p->pos >= p->len || p->s[p->pos] != ':') {
				free(key);
				fail(p, "expected ':'");
				break;
			}
			p->pos++;
		}
		v = parse_value(p);
		if (v == NULL) {
			free(key);
			break;
		}
		v->key = key;
		key = NULL;
		*tail = v;
		tail = &v->next;
		if (object) {
			if (nmembers == cap) {
				cap = cap == 0 ? 8 : cap * 2;
				members = xreallocarray(members, cap,
				    sizeof(*members));
			}
			members[nmembers].key = v->key;
			members[nmembers++].pos = keypos;
		}
		skip_ws(p);
		if (p->pos >= p->len) {
			fail(p, "unterminated container");
			break;
		}
		if (p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->s[p->pos] == closer) {
			p->pos++;
			rc = check_duplicates(p, members, nmembers);
			break;
		}
		fail(p, "expected ',' or a closing bracket");
		break;
	}
	free(members);
	return rc;
}

static struct json *
parse_value(struct jp *p)
{
	struct json	*j;
	int		 rc;

	skip_ws(p);
	if (p->pos >= p->len) {
		fail(p, "unexpected end of input");
		return NULL;
	}
	j = xcalloc(1, sizeof(*j));
	j->raw_off = p->pos;
	switch (p->s[p->pos]) {
	case '{':
	case '[':
		if (++p->depth > JSON_MAX_DEPTH) {
			rc = fail(p, "nested too deeply");
			break;
		}
		j->type = p->s[p->pos] == '{' ? JSON_OBJECT : JSON_ARRAY;
		rc = parse_members(p, j, j->type == JSON_OBJECT);
		p->depth--;
		break;
	case '"':
		j->type = JSON_STRING;
		j->str = parse_string(p);
		rc = j->str == NULL ? -1 : 0;
		break;
	default:
		if (p->s[p->pos] == '-' || isdigit((unsigned char)p->s[p->pos]))
			rc = parse_number(p, j);
		else
			rc = parse_literal(p, j);
	}
	if (rc == -1) {
		json_free(j);
		return NULL;
	}
	j->raw_len = p->pos - j->raw_off;
	return j;
}

struct json *
json_parse(const char *s, size_t len, const char **err, size_t *errpos)
{
	static _Thread_local char why[sizeof(((struct jp *)0)->why)];
	struct jp	 p = { .s = s, .len = len };
	struct json	*j;

	j = parse_value(&p);
	if (j != NULL) {
		skip_ws(&p);
		if (p.pos != p.len) {
			fail(&p, "trailing data after the document");
			json_free(j);
			j = NULL;
		}
	}
	if (j == NULL) {
		*err = p.err ? p.err : "invalid JSON";
		if (*err == p.why) {
			/* Outlive this frame; one message per thread. */
			snprintf(why, sizeof(why), "%s", p.why);
			*err = why;
		}
		*errpos = p.pos;
	}
	return j;
}

void
json_free(struct json *j)
{
	struct json	*next;

	while (j != NULL) {
		next = j->next;
		json_free(j->child);
		free(j->key);
		free(j->str);
		free(j);
		j = next;
	}
}

const struct json *
json_get(const struct json *j, const char *key)
{
	const struct json *c;

	if (j == NULL || j->type != JSON_OBJECT)
		return NULL;
	for (c = j->child; c != NULL; c = c->next)
		if (strcmp(c->key, key) == 0)
			return c;
	return NULL;
}

const char *
json_get_str(const struct json *j, const char *key)
{
	const struct json *c = json_get(j, key);

	return c != NULL && c->type == JSON_STRING ? c->str : NULL;
}

int
json_get_i64(const struct json *j, const char *key, int64_t *out)
{
	return json_get_i64_value(json_get(j, key), out);
}

int
json_get_i64_value(const struct json *c, int64_t *out)
{
	char	*end;
	long long v;

	*out = 0;
	if (c == NULL || c->type != JSON_NUMBER)
		return -1;
	errno = 0;
	v = strtoll(c->str, &end, 10);
	if (*end != '\0' || errno != 0)
		return -1;
	*out = v;
	return 0;
}
