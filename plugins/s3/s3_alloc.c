/*
 * s3_alloc.c - the allocation helpers the plugin's files use (s3_buf.h),
 * and the host table its buffers go through: a plugin links nothing of
 * the daemon, so it brings its own.  Out of memory aborts, as in the
 * daemon.
 */
#include "zb-build.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3_buf.h"

const struct zb_host_api *s3_host;

static void
oom(void)
{
	fputs("zentoria-backupd s3 plugin: out of memory\n", stderr);
	abort();
}

void *
xmalloc(size_t n)
{
	void	*p = malloc(n == 0 ? 1 : n);

	if (p == NULL)
		oom();
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void	*p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);

	if (p == NULL)
		oom();
	return p;
}

void *
xreallocarray(void *old, size_t n, size_t size)
{
	void	*p = reallocarray(old, n == 0 ? 1 : n, size == 0 ? 1 : size);

	if (p == NULL)
		oom();
	return p;
}

char *
xstrdup(const char *s)
{
	char	*p = strdup(s);

	if (p == NULL)
		oom();
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n == -1)
		oom();
	return s;
}

int
is_hex_sha256(const char *s)
{
	size_t	 i;

	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' &&
		    s[i] <= 'f')))
			return 0;
	return s[64] == '\0';
}
