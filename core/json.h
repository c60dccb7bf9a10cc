/*
 * json.h - a small JSON reader for manifests and other bounded documents.
 */
#ifndef ZB_JSON_H
#define ZB_JSON_H

#include <stddef.h>
#include <stdint.h>

enum json_type {
	JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT
};

struct json {
	enum json_type	 type;
	char		*key;		/* member name inside an object */
	char		*str;		/* STRING; NUMBER as written */
	double		 num;		/* NUMBER */
	int		 boolean;	/* BOOL */
	struct json	*child;		/* ARRAY/OBJECT: first element */
	struct json	*next;		/* next sibling */
	size_t		 raw_off;	/* the value's text in the input */
	size_t		 raw_len;
};

#define JSON_MAX_DEPTH	32

/*
 * Parse len bytes (need not be NUL-terminated).  Returns a tree the caller
 * frees with json_free, or NULL with *err naming the problem and *errpos
 * the byte offset.
 */
struct json	*json_parse(const char *, size_t len, const char **err,
		    size_t *errpos);
void		 json_free(struct json *);
/* Member of an object by name, or NULL. */
const struct json *json_get(const struct json *, const char *key);
/* String member or NULL; number member as int64 (0 and -1 if absent). */
const char	*json_get_str(const struct json *, const char *key);
int		 json_get_i64(const struct json *, const char *key,
		    int64_t *);
/* A NUMBER node as an exact int64; 0, or -1 if not an integer. */
int		 json_get_i64_value(const struct json *, int64_t *);

#endif
