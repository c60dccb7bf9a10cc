/*
 * util.c - allocation, number and string helpers shared by the core.
 *
 * Parsers never print: they hand back a phrase saying what was expected so
 * that the caller can name the file, line and key around it.
 */
#include "zb-build.h"

#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

void *
xmalloc(size_t n)
{
	void	*p = malloc(n ? n : 1);

	if (p == NULL)
		fatal("%s", __func__);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void	*p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		fatal("%s", __func__);
	return p;
}

void *
xreallocarray(void *old, size_t n, size_t size)
{
	void	*p = reallocarray(old, n ? n : 1, size ? size : 1);

	if (p == NULL)
		fatal("%s", __func__);
	return p;
}

char *
xstrdup(const char *s)
{
	char	*p = strdup(s);

	if (p == NULL)
		fatal("%s", __func__);
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char	*p = strndup(s, n);

	if (p == NULL)
		fatal("%s", __func__);
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*p;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("%s", __func__);
	return p;
}

int
parse_int(const char *s, int64_t min, int64_t max, int64_t *out,
    const char **errstr)
{
	static char	 msg[128];
	char		*end;
	long long	 v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max) {
		snprintf(msg, sizeof(msg),
		    "a whole number from %" PRId64 " to %" PRId64, min, max);
		*errstr = msg;
		return -1;
	}
	*out = v;
	return 0;
}

/* Number followed by an optional unit from the table; 0 or -1. */
static int
parse_units(const char *s, const char *const *units,
    const int64_t *mult, int64_t *out)
{
	char		*end;
	unsigned long long v;
	size_t		 i;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	while (*end == ' ')
		end++;
	for (i = 0; units[i] != NULL; i++) {
		if (strcmp(end, units[i]) != 0)
			continue;
		if (v > (unsigned long long)INT64_MAX / mult[i])
			return -1;
		*out = (int64_t)v * mult[i];
		return 0;
	}
	return -1;
}

int
parse_size(const char *s, int64_t *out, const char **errstr)
{
	static const char *const units[] = {
		"", "k", "K", "KiB", "M", "MiB", "G", "GiB", "T", "TiB", NULL
	};
	static const int64_t mult[] = {
		1, 1LL << 10, 1LL << 10, 1LL << 10, 1LL << 20, 1LL << 20,
		1LL << 30, 1LL << 30, 1LL << 40, 1LL << 40
	};

	if (parse_units(s, units, mult, out) == 0)
		return 0;
	*errstr = "a size in bytes, optionally with a K, M, G or T suffix";
	return -1;
}

int
parse_duration_ms(const char *s, int64_t *out, const char **errstr)
{
	static const char *const units[] = {
		"", "ms", "s", "m", "min", "h", "d", NULL
	};
	static const int64_t mult[] = {
		1000, 1, 1000, 60000, 60000, 3600000, 86400000
	};

	if (parse_units(s, units, mult, out) == 0)
		return 0;
	*errstr = "a duration: seconds, or a number with ms, s, m, h or d";
	return -1;
}

int
parse_bool(const char *s, int *out, const char **errstr)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t	 i;

	for (i = 0; i < ZB_NELEM(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	*errstr = "yes or no";
	return -1;
}

int
split_list(const char *s, char ***items, size_t *n)
{
	char	**v = NULL;
	size_t	 cnt = 0;
	const char *p = s, *e, *b;

	for (;;) {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		b = e;
		while (p < b && isspace((unsigned char)*p))
			p++;
		while (b > p && isspace((unsigned char)b[-1]))
			b--;
		if (b == p) {
			strv_free(v, cnt);
			return -1;
		}
		v = xreallocarray(v, cnt + 1, sizeof(*v));
		v[cnt++] = xstrndup(p, b - p);
		if (*e == '\0')
			break;
		p = e + 1;
	}
	*items = v;
	*n = cnt;
	return 0;
}

void
strv_free(char **v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int
mkdir_p(const char *path, mode_t mode)
{
	char	*p, *s;
	int	 rc = 0;

	p = xstrdup(path);
	for (s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, mode) == -1 && errno != EEXIST) {
			rc = -1;
			break;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	return rc;
}

int
rm_rf(const char *path)
{
	struct stat	 st;
	DIR		*d;
	struct dirent	*de;
	char		*child;
	int		 rc = 0;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	d = opendir(path);
	if (d == NULL)
		return -1;
	for (;;) {
		de = readdir(d);
		if (de == NULL)
			break;
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		child = xasprintf("%s/%s", path, de->d_name);
		if (rm_rf(child) == -1)
			rc = -1;
		free(child);
	}
	closedir(d);
	if (rmdir(path) == -1)
		rc = -1;
	return rc;
}

int
fsync_dir_of(const char *path)
{
	char	*dir, *slash;
	int	 fd, rc;

	dir = xstrdup(path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	else {
		free(dir);
		dir = xstrdup(".");
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	ssize_t	 n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

void
stamp_format(time_t t, char *buf, size_t len)
{
	stamp_format_seq(t, 0, buf, len);
}

void
stamp_format_seq(time_t t, int seq, char *buf, size_t len)
{
	struct tm	 tm;
	size_t		 n;

	gmtime_r(&t, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H%M%SZ", &tm);
	if (seq > 0 && n > 0)
		snprintf(buf + n, len - n, "-%02d", seq);
}

int
stamp_parse(const char *s, time_t *out)
{
	return stamp_parse_seq(s, out, NULL);
}

int
stamp_parse_seq(const char *s, time_t *out, int *seq)
{
	static const char	 shape[] = "dddd-dd-ddTddddddZ";
	struct tm		 tm;
	const char		*end;
	size_t			 i;
	int			 n = 0;

	for (i = 0; i < sizeof(shape) - 1; i++)
		if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) :
		    s[i] != shape[i])
			return -1;
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H%M%SZ", &tm);
	if (end != s + sizeof(shape) - 1)
		return -1;
	if (*end != '\0') {
		/* "-NN", 01..99: two digits, so that byte order stays time
		 * order */
		if (end[0] != '-' || end[1] < '0' || end[1] > '9' ||
		    end[2] < '0' || end[2] > '9' || end[3] != '\0')
			return -1;
		n = (end[1] - '0') * 10 + (end[2] - '0');
		if (n == 0)
			return -1;
	}
	*out = timegm(&tm);
	if (seq != NULL)
		*seq = n;
	return 0;
}

void
isotime_format(time_t t, char *buf, size_t len)
{
	struct tm	 tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void
human_bytes(uint64_t n, char *buf, size_t len)
{
	static const char *const unit[] = {
		"B", "KiB", "MiB", "GiB", "TiB", "PiB"
	};
	double	 v = (double)n;
	size_t	 i = 0;

	while (v >= 1024 && i + 1 < ZB_NELEM(unit)) {
		v /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%" PRIu64 " B", n);
	else
		snprintf(buf, len, "%.1f %s", v, unit[i]);
}

uint64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
valid_name(const char *s)
{
	const char	*p;

	/* No leading dot: sinks keep temporaries under such names. */
	if (*s == '\0' || *s == '.')
		return 0;
	for (p = s; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("_.-", *p) == NULL)
			return 0;
	return 1;
}

int
is_hex_sha256(const char *s)
{
	size_t	 i;

	for (i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return 0;
	return s[64] == '\0';
}

int
hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
