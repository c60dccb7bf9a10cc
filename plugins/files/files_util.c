/*
 * files_util.c - helpers of the files plugin that the backup and the
 * restore side share: log-safe names, paths, string vectors, the worker
 * thread's locale, tree removal, and worker reports.
 *
 * Invariants:
 *  - every string that reaches the log through vis() or a report is text:
 *    valid UTF-8 without control characters (text_len() decides);
 *  - a report holds the first error only, and at most FILES_MAXWARN
 *    warnings, counting the ones it drops; its fields are touched only
 *    under its mutex, so a worker and the loop may use it at once;
 *  - nothing here calls the host except report_flush(), which runs on
 *    the loop.
 */

/* Absent in the standalone check build, which passes the same -D flags. */
#ifdef HAVE_CONFIG_H
#include "zb-build.h"
#endif

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zentoria/plugin.h>

#include "files_util.h"

#define FILES_MAXDEPTH		2048		/* directory depth in rmtree */

/* ---- text --------------------------------------------------------------- */

/*
 * Length of the printable UTF-8 character at p, or 0 for a control byte or
 * a byte that does not start valid UTF-8.  Log lines must be text: the
 * journal keeps a line with invalid UTF-8 as an unreadable blob, and a
 * newline in a file name would forge a line.
 */
static size_t
text_len(const unsigned char *p)
{
	size_t	 i, n;

	if (p[0] < 0x20 || p[0] == 0x7f)
		return 0;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	}
	return n;
}

/* Make s text in place: every byte text_len() rejects becomes '?'. */
static void
text_clean(char *s)
{
	unsigned char	*p = (unsigned char *)s;
	size_t		 n;

	while (*p != '\0') {
		n = text_len(p);
		if (n == 0)
			*p++ = '?';
		else
			p += n;
	}
}

/* Copy name into buf for a message, cleaned and cut to fit with "...". */
const char *
vis(const char *name, char *buf, size_t len)
{
	const unsigned char	*p;
	size_t			 k, n = 0;

	p = (const unsigned char *)(name == NULL ? "" : name);
	while (*p != '\0') {
		k = text_len(p);
		if (n + (k == 0 ? 1 : k) + 1 > len)
			break;
		if (k == 0) {
			buf[n++] = '?';
			p++;
			continue;
		}
		memcpy(buf + n, p, k);
		n += k;
		p += k;
	}
	if (*p != '\0' && len > 4) {
		if (n > len - 4)
			n = len - 4;
		while (n > 0 && ((unsigned char)buf[n] & 0xc0) == 0x80)
			n--;
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

/* ---- paths and strings -------------------------------------------------- */

/* a + "/" + b in a new string; just a copy of a when b is empty. */
char *
path_join(const char *a, const char *b)
{
	size_t	 la = strlen(a), lb = strlen(b);
	char	*p;

	p = malloc(la + lb + 2);
	if (p == NULL)
		return NULL;
	memcpy(p, a, la);
	if (lb > 0) {
		p[la] = '/';
		memcpy(p + la + 1, b, lb);
		la += lb + 1;
	}
	p[la] = '\0';
	return p;
}

/* Does path have a component "..", or with dots_too also "."? */
int
has_dot_component(const char *path, int dots_too)
{
	const char	*c = path;
	size_t		 l;

	while (*c != '\0') {
		while (*c == '/')
			c++;
		l = strcspn(c, "/");
		if (l == 2 && c[0] == '.' && c[1] == '.')
			return 1;
		if (dots_too && l == 1 && c[0] == '.')
			return 1;
		c += l;
	}
	return 0;
}

const char *
path_base(const char *path)
{
	const char	*s = strrchr(path, '/');

	return s == NULL ? path : s + 1;
}

void
strv_free(char **v, size_t n)
{
	size_t	 i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ---- threads and files -------------------------------------------------- */

/*
 * Give the calling worker thread a UTF-8 LC_CTYPE.  pax headers carry
 * UTF-8 names and libarchive converts from the thread's locale, which in
 * the daemon is "C": every non-ASCII name would fail to convert.  Only
 * this thread changes, and utf8_leave() undoes it before the thread goes
 * back to the host.  Returns (locale_t)0 when no UTF-8 locale exists.
 */
locale_t
utf8_enter(locale_t *old)
{
	locale_t	 loc;

	loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	if (loc != (locale_t)0)
		*old = uselocale(loc);
	return loc;
}

void
utf8_leave(locale_t loc, locale_t old)
{
	if (loc == (locale_t)0)
		return;
	(void)uselocale(old);
	freelocale(loc);
}

/*
 * Remove dir/name and everything below it, without following symlinks
 * and without chdir(2).  Directories are made accessible first, since a
 * restored tree may hold ones without write or search permission.
 */
int
rmtree_at(int dir, const char *name, int depth)
{
	struct dirent	*de;
	DIR		*d;
	int		 fd, rv = 0;

	if (unlinkat(dir, name, 0) == 0 || errno == ENOENT)
		return 0;
	if ((errno != EISDIR && errno != EPERM) || depth > FILES_MAXDEPTH)
		return -1;
	(void)fchmodat(dir, name, 0700, 0);
	fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return -1;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -1;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (de == NULL)
			break;
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (rmtree_at(dirfd(d), de->d_name, depth + 1) == -1)
			rv = -1;
	}
	if (errno != 0)
		rv = -1;
	closedir(d);
	if (unlinkat(dir, name, AT_REMOVEDIR) == -1 && errno != ENOENT)
		rv = -1;
	return rv;
}

/* ---- worker reports ----------------------------------------------------- */

int
report_init(struct report *rep)
{
	memset(rep, 0, sizeof(*rep));
	if (pthread_mutex_init(&rep->mtx, NULL) != 0)
		return -1;
	return 0;
}

void
report_fini(struct report *rep)
{
	size_t	 i;

	for (i = 0; i < rep->nwarn; i++)
		free(rep->warn[i]);
	pthread_mutex_destroy(&rep->mtx);
}

/* Keep only the first error: later ones are its consequences. */
void
report_err(struct report *rep, const char *fmt, ...)
{
	va_list	 ap;

	pthread_mutex_lock(&rep->mtx);
	if (rep->err[0] == '\0') {
		va_start(ap, fmt);
		(void)vsnprintf(rep->err, sizeof(rep->err), fmt, ap);
		va_end(ap);
		text_clean(rep->err);
	}
	pthread_mutex_unlock(&rep->mtx);
}

void
report_warn(struct report *rep, const char *fmt, ...)
{
	va_list	 ap;
	char	*m;

	m = malloc(FILES_MSGLEN);
	if (m != NULL) {
		va_start(ap, fmt);
		(void)vsnprintf(m, FILES_MSGLEN, fmt, ap);
		va_end(ap);
		text_clean(m);
	}
	pthread_mutex_lock(&rep->mtx);
	if (m != NULL && rep->nwarn < FILES_MAXWARN) {
		rep->warn[rep->nwarn++] = m;
		m = NULL;
	} else
		rep->dropped++;
	pthread_mutex_unlock(&rep->mtx);
	free(m);
}

/* Loop: log the queued warnings outside the lock. */
void
report_flush(struct report *rep, const struct zb_host_api *host,
    struct zb_inst *inst)
{
	char	*w[FILES_MAXWARN];
	size_t	 i, n, dropped;

	pthread_mutex_lock(&rep->mtx);
	n = rep->nwarn;
	memcpy(w, rep->warn, n * sizeof(w[0]));
	rep->nwarn = 0;
	dropped = rep->dropped;
	rep->dropped = 0;
	pthread_mutex_unlock(&rep->mtx);
	for (i = 0; i < n; i++) {
		host->log(inst, ZB_LOG_WARN, "%s", w[i]);
		free(w[i]);
	}
	if (dropped > 0)
		host->log(inst, ZB_LOG_WARN, "%zu more warnings not shown",
		    dropped);
}

void
report_errcopy(struct report *rep, char *buf, size_t len)
{
	pthread_mutex_lock(&rep->mtx);
	(void)snprintf(buf, len, "%s", rep->err);
	pthread_mutex_unlock(&rep->mtx);
}
