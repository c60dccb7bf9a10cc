/*
 * rclone_json.c - the one JSON shape this sink reads: a line of `rclone
 * lsjson' output, one object per line ({"Path":"a/b","Size":6,
 * "ModTime":"2026-12-06T18:09:44.258354498Z","IsDir":false,
 * "Hashes":{"sha256":"..."}},), decoded in place.  Unknown keys are
 * skipped; nesting deeper than the Hashes object is refused.
 */
#include "zb-build.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rclone.h"

static void
skip_ws(char **p)
{
	while (**p == ' ' || **p == '\t' || **p == '\r' || **p == '\n')
		(*p)++;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A string at *p (at its '"'), decoded in place; NULL if malformed. */
static char *
parse_str(char **p)
{
	char		*in = *p + 1, *out, *start;
	unsigned	 u;
	int		 i, h;

	if (**p != '"')
		return NULL;
	start = out = in;
	for (;;) {
		if (*in == '\0')
			return NULL;
		if (*in == '"')
			break;
		if (*in != '\\') {
			*out++ = *in++;
			continue;
		}
		in++;
		switch (*in) {
		case '"': case '\\': case '/':
			*out++ = *in++;
			break;
		case 'b': *out++ = '\b'; in++; break;
		case 'f': *out++ = '\f'; in++; break;
		case 'n': *out++ = '\n'; in++; break;
		case 'r': *out++ = '\r'; in++; break;
		case 't': *out++ = '\t'; in++; break;
		case 'u':
			u = 0;
			for (i = 1; i <= 4; i++) {
				h = hexval((unsigned char)in[i]);
				if (h == -1)
					return NULL;
				u = u * 16 + (unsigned)h;
			}
			in += 5;
			/* Surrogate pairs are not decoded: keep it simple. */
			if (u == 0 || (u >= 0xd800 && u <= 0xdfff))
				return NULL;
			if (u < 0x80)
				*out++ = (char)u;
			else if (u < 0x800) {
				*out++ = (char)(0xc0 | (u >> 6));
				*out++ = (char)(0x80 | (u & 0x3f));
			} else {
				*out++ = (char)(0xe0 | (u >> 12));
				*out++ = (char)(0x80 | ((u >> 6) & 0x3f));
				*out++ = (char)(0x80 | (u & 0x3f));
			}
			break;
		default:
			return NULL;
		}
	}
	*p = in + 1;
	*out = '\0';
	return start;
}

/* A scalar that is not a string: its text, NUL-terminated in place. */
static char *
parse_scalar(char **p, char *save)
{
	char	*start = *p;

	while (**p != '\0' && **p != ',' && **p != '}' && **p != ' ')
		(*p)++;
	if (*p == start)
		return NULL;
	*save = **p;
	**p = '\0';
	return start;
}

static int
parse_i64(const char *s, int64_t *v)
{
	char		*end;
	long long	 n;

	n = strtoll(s, &end, 10);
	if (end == s || *end != '\0')
		return -1;
	*v = n;
	return 0;
}

time_t
rc_json_time(const char *s)
{
	struct tm	 tm;
	const char	*p;
	time_t		 t;
	int		 sign, oh, om;

	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (p == NULL)
		return 0;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++)
			;
	t = timegm(&tm);
	if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		if (strlen(p) < 6 || p[3] != ':')
			return t;
		oh = (p[1] - '0') * 10 + (p[2] - '0');
		om = (p[4] - '0') * 10 + (p[5] - '0');
		t -= sign * (oh * 3600 + om * 60);
	}
	return t;
}

/* The members of an object at *p ('{'); depth 0: an entry, 1: Hashes. */
static int
parse_obj(char **p, struct rc_entry *e, int depth)
{
	char	*key, *val, save;

	if (**p != '{')
		return -1;
	(*p)++;
	skip_ws(p);
	if (**p == '}') {
		(*p)++;
		return 0;
	}
	for (;;) {
		skip_ws(p);
		key = parse_str(p);
		if (key == NULL)
			return -1;
		skip_ws(p);
		if (**p != ':')
			return -1;
		(*p)++;
		skip_ws(p);
		if (**p == '{') {
			if (depth > 0 || strcmp(key, "Hashes") != 0)
				return -1;
			if (parse_obj(p, e, depth + 1) == -1)
				return -1;
		} else if (**p == '"') {
			val = parse_str(p);
			if (val == NULL)
				return -1;
			if (depth == 1 && strcmp(key, "sha256") == 0)
				e->sha256 = val;
			else if (depth == 0 && strcmp(key, "Path") == 0)
				e->path = val;
			else if (depth == 0 && strcmp(key, "ModTime") == 0)
				e->mtime = rc_json_time(val);
		} else {
			save = '\0';
			val = parse_scalar(p, &save);
			if (val == NULL)
				return -1;
			if (depth == 0 && strcmp(key, "Size") == 0 &&
			    parse_i64(val, &e->size) == -1)
				return -1;
			if (depth == 0 && strcmp(key, "IsDir") == 0)
				e->is_dir = strcmp(val, "true") == 0;
			**p = save;
		}
		skip_ws(p);
		if (**p == ',') {
			(*p)++;
			continue;
		}
		if (**p == '}') {
			(*p)++;
			return 0;
		}
		return -1;
	}
}

int
rc_json_entry(char *line, struct rc_entry *e)
{
	char	*p = line;

	memset(e, 0, sizeof(*e));
	e->size = -1;
	skip_ws(&p);
	if (*p == '\0' || *p == '[' || *p == ']')
		return 0;
	if (parse_obj(&p, e, 0) == -1 || e->path == NULL)
		return -1;
	skip_ws(&p);
	if (*p == ',')
		p++;
	skip_ws(&p);
	return *p == '\0' ? 1 : -1;
}
