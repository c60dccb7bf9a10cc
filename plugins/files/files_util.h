/*
 * files_util.h - helpers shared by the files plugin's sources: names made
 * safe for a log line, path and name checks, string vectors, the worker
 * thread's locale, tree removal, and struct report, through which a
 * worker hands its errors and warnings to the loop.
 *
 * Like core/util.h, these keep short module-verb names (path_*, strv_*,
 * report_*) rather than a files_util_ prefix; the plugin is built with
 * hidden visibility, so none of them leaves the .so.
 */
#ifndef ZB_FILES_UTIL_H
#define ZB_FILES_UTIL_H

#include <sys/types.h>

#include <locale.h>
#include <pthread.h>
#include <stddef.h>

#include <zentoria/plugin.h>

#define FILES_MSGLEN		1024		/* one error or warning */
#define FILES_NAMELEN		512		/* a name quoted in a message */
#define FILES_MAXWARN		64		/* warnings queued at once */

/*
 * What a worker tells the loop.  The worker fills it under mtx; the loop
 * logs the warnings as they arrive and reads err once the worker ended.
 */
struct report {
	pthread_mutex_t		 mtx;
	char			 err[FILES_MSGLEN];	/* first error, or "" */
	char			*warn[FILES_MAXWARN];
	size_t			 nwarn;
	size_t			 dropped;	/* warnings the queue lost */
};

/*
 * name (borrowed, may be NULL) cleaned into the caller's buf of len bytes
 * and cut with "..." to fit; returns buf.
 */
const char	*vis(const char *name, char *buf, size_t len);

/* a + "/" + b, or a copy of a when b is empty: the caller frees it. */
char		*path_join(const char *a, const char *b);
/* The part of path after its last slash: a pointer into path. */
const char	*path_base(const char *path);
/* Does path have a component "..", or with dots_too also "."? */
int		 has_dot_component(const char *path, int dots_too);

/* Free the n strings of v, then v; v may be NULL. */
void		 strv_free(char **v, size_t n);

/*
 * Switch the calling thread to a UTF-8 LC_CTYPE, saving its locale in
 * *old; utf8_leave() restores it and frees the one returned, which is
 * (locale_t)0 when no UTF-8 locale exists (then *old is untouched).
 */
locale_t	 utf8_enter(locale_t *old);
void		 utf8_leave(locale_t loc, locale_t old);

/* Remove dir/name and what is below it; 0, or -1 with errno set. */
int		 rmtree_at(int dir, const char *name, int depth);

/*
 * A report lives inside the struct of its stream or restore: init
 * before the worker starts, fini once it has ended.  report_err() and
 * report_warn() may be called from any thread; report_flush() and
 * report_errcopy() are for the loop, which logs through host and inst
 * (both borrowed).  report_errcopy() copies the first error, or "",
 * into the caller's buf.
 */
int		 report_init(struct report *rep);
void		 report_fini(struct report *rep);
void		 report_err(struct report *rep, const char *fmt, ...)
		    ZB_PRINTF(2, 3);
void		 report_warn(struct report *rep, const char *fmt, ...)
		    ZB_PRINTF(2, 3);
void		 report_flush(struct report *rep,
		    const struct zb_host_api *host, struct zb_inst *inst);
void		 report_errcopy(struct report *rep, char *buf, size_t len);

#endif
