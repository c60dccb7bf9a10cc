/*
 * layout.c - the on-storage layout (docs/layout.md section 1): the only
 * place that builds or parses keys, artifact directories and ids, and
 * that knows where a stamp sits in them.  Everything else (run.c writing
 * copies, catalog.c finding them, restore.c reading them, gc.c and
 * forget.c removing them) asks this module.
 */
#include "zb-build.h"

#include <stdlib.h>
#include <string.h>

#include "layout.h"
#include "util.h"

char *
layout_artifact_id(const char *source, const char *stream, const char *stamp)
{
	return xasprintf("%s/%s@%s", source, stream, stamp);
}

char *
layout_artifact_dir(const char *source, const char *stream,
    const char *stamp)
{
	return xasprintf("%s/%s/%s", source, stream, stamp);
}

char *
layout_source_prefix(const char *source)
{
	return source != NULL ? xasprintf("%s/", source) : xstrdup("");
}

char *
layout_data_name(const char *ext, const char *comp_ext, int age)
{
	return xasprintf(LAYOUT_DATA_PREFIX "%s%s%s", ext, comp_ext,
	    age ? ".age" : "");
}

int
layout_valid_data_name(const char *name)
{
	return strncmp(name, LAYOUT_DATA_PREFIX,
	    strlen(LAYOUT_DATA_PREFIX)) == 0 && strchr(name, '/') == NULL &&
	    valid_name(name);
}

char *
layout_data_key(const char *dir, const char *data)
{
	return xasprintf("%s/%s", dir, data);
}

char *
layout_sidecar_key(const char *dir, const char *data)
{
	return xasprintf("%s/%s" LAYOUT_SIDECAR_SUFFIX, dir, data);
}

char *
layout_manifest_key(const char *dir)
{
	return xasprintf("%s/" LAYOUT_MANIFEST_NAME, dir);
}

char *
layout_marker_key(const char *dir)
{
	return xasprintf("%s/" LAYOUT_MARKER_NAME, dir);
}

char *
layout_sidecar_text(const char *sha256_hex, const char *data)
{
	return xasprintf("%s  %s\n", sha256_hex, data);
}

int
layout_parse_id(const char *id, char **source, char **stream,
    char **stamp)
{
	const char	*slash, *at;
	time_t		 t;

	*source = *stream = *stamp = NULL;
	slash = strchr(id, '/');
	at = strrchr(id, '@');
	if (slash == NULL || at == NULL || at < slash)
		return -1;
	*source = xstrndup(id, slash - id);
	*stream = xstrndup(slash + 1, at - slash - 1);
	*stamp = xstrdup(at + 1);
	if (!valid_name(*source) || !valid_name(*stream) ||
	    stamp_parse(*stamp, &t) == -1) {
		free(*source);
		free(*stream);
		free(*stamp);
		*source = *stream = *stamp = NULL;	/* the caller frees too */
		return -1;
	}
	return 0;
}

int
layout_parse_key(const char *key, struct layout_key *out)
{
	const char	*p = key;
	char		 s[ZB_STAMP_LEN];
	int		 i;
	size_t		 n;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < 2; i++) {	/* source/, stream/ */
		n = strcspn(p, "/");
		if (p[n] != '/' || n == 0)
			return -1;
		p += n + 1;
	}
	n = strcspn(p, "/");		/* stamp/ */
	if (p[n] != '/' || n >= sizeof(s))
		return -1;
	memcpy(s, p, n);
	s[n] = '\0';
	if (stamp_parse(s, &out->time) == -1)
		return -1;
	out->dir_len = (size_t)(p - key) + n;
	out->name = p + n + 1;
	return 0;
}

int
layout_is_manifest_key(const char *key)
{
	const char	*suffix = "/" LAYOUT_MANIFEST_NAME;
	size_t		 n = strlen(key), m = strlen(suffix);
	const char	*p;
	int		 slashes = 0;

	if (n <= m || strcmp(key + n - m, suffix) != 0)
		return 0;
	for (p = key; *p != '\0'; p++)
		if (*p == '/')
			slashes++;
	return slashes == 3;	/* source/stream/stamp/manifest.json */
}

/* "2026-12-06T120233Z-01": the time part, then the suffix (none first). */
int
layout_stamp_cmp(const char *x, const char *y)
{
	size_t		 bx = strcspn(x, "Z"), by = strcspn(y, "Z");
	size_t		 lx, ly;
	int		 c;

	c = strncmp(x, y, bx < by ? bx : by);
	if (c != 0 || bx != by)
		return c != 0 ? c : (bx < by ? -1 : 1);
	x += bx;
	y += by;
	lx = strlen(x);
	ly = strlen(y);
	if (lx != ly)		/* "Z" < "Z-01" < "Z-100" */
		return lx < ly ? -1 : 1;
	return strcmp(x, y);
}
