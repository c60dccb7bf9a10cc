/*
 * jobstate.c - the memory of jobs and checks across runs and restarts:
 *	state_dir/jobs/<job>.json	last fire, start, end, outcome,
 *					runs started (by the CLI or the
 *					daemon), fires the daemon skipped
 *	state_dir/checks/<name>.json	the same for a [check:NAME], with
 *					its last result
 * Each file is replaced atomically (temporary file, fsync, rename, fsync
 * of the directory), so a crash leaves the old record or the new one.
 * A file that does not parse, or is another job's, is refused with a
 * message naming it; the scheduler then sets it aside and starts afresh.
 * The scheduler uses last_start for catch-up (scheduler.c).
 *
 * Writers change a record, they do not own it: the job queue (jobq.c) of
 * any process records a run's start and end under the job's lock, the
 * daemon's scheduler counts skipped fires without that lock (it is
 * skipped because another process holds it).  So every change reads the
 * file, applies itself and writes it back under an exclusive flock of
 * <file>.lock, and no process overwrites another's update.  Changes run
 * off the loop (reactor_offload), one at a time per file, in call order.
 */
#include "zb-build.h"

#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobstate.h"
#include "json.h"
#include "log.h"
#include "reactor.h"
#include "util.h"

#define JOBSTATE_VERSION	1

char *
jobstate_path(const char *state_dir, const char *kind, const char *name)
{
	return xasprintf("%s/%ss/%s.json", state_dir, kind, name);
}

char *
jobstate_encode(const char *kind, const char *name,
    const struct jobstate *st, const char *extra)
{
	char	 start[32];

	isotime_format(st->last_start, start, sizeof(start));
	return xasprintf("{\n"
	    "  \"version\": %d,\n"
	    "  \"kind\": \"%s\",\n"
	    "  \"name\": \"%s\",\n"
	    "  \"last_fire\": %lld,\n"
	    "  \"last_start\": %lld,\n"
	    "  \"last_start_utc\": \"%s\",\n"
	    "  \"last_end\": %lld,\n"
	    "  \"outcome\": \"%s\",\n"
	    "  \"runs\": %" PRIu64 ",\n"
	    "  \"skipped\": %" PRIu64 ",\n"
	    "  \"duration_ms\": %" PRIu64 ",\n"
	    "  \"restore_ms\": %" PRIu64 ",\n"
	    "  \"items\": %u,\n"
	    "  \"failed\": %u%s%s\n"
	    "}\n", JOBSTATE_VERSION, kind, valid_name(name) ? name : "?",
	    (long long)st->last_fire, (long long)st->last_start,
	    st->last_start > 0 ? start : "", (long long)st->last_end,
	    st->outcome, st->runs, st->skipped, st->duration_ms,
	    st->restore_ms, st->items, st->failed, extra != NULL ? ",\n  " :
	    "", extra != NULL ? extra : "");
}

/* A member that must be an integer >= 0 (optional ones may be absent). */
static int
get_count(const struct json *j, const char *key, int required,
    int64_t *out, char *err, size_t errlen)
{
	const struct json	*m = json_get(j, key);

	*out = 0;
	if (m == NULL && !required)
		return 0;
	if (m == NULL) {
		snprintf(err, errlen, "\"%s\" is missing", key);
		return -1;
	}
	if (json_get_i64_value(m, out) == -1 || *out < 0) {
		snprintf(err, errlen, "\"%s\" is not an integer >= 0", key);
		return -1;
	}
	return 0;
}

static int
check_strings(const char *kind, const char *name, const struct json *j,
    struct jobstate *st, char *err, size_t errlen)
{
	const char	*s;
	size_t		 i;

	s = json_get_str(j, "kind");
	if (s == NULL || strcmp(s, kind) != 0) {
		snprintf(err, errlen, "not a %s state (\"kind\" is %s)", kind,
		    s == NULL ? "missing" : "another");
		return -1;
	}
	s = json_get_str(j, "name");
	if (s == NULL || strcmp(s, name) != 0) {
		snprintf(err, errlen, "not the state of %s %s (\"name\" is "
		    "%s)", kind, name, s == NULL ? "missing" : "another");
		return -1;
	}
	s = json_get_str(j, "outcome");
	if (s == NULL)
		s = "";
	for (i = 0; s[i] != '\0'; i++)
		if ((s[i] < 'a' || s[i] > 'z') && s[i] != '-')
			break;
	if (s[i] != '\0' || i > JOBSTATE_OUTCOME_MAX) {
		snprintf(err, errlen, "\"outcome\" is not a word");
		return -1;
	}
	snprintf(st->outcome, sizeof(st->outcome), "%s", s);
	return 0;
}

int
jobstate_decode(const char *kind, const char *name, const char *text,
    size_t len, struct jobstate *st, char *err, size_t errlen)
{
	struct json	*j;
	const char	*jerr;
	size_t		 pos;
	int64_t		 v[10];
	int		 rc = -1;

	memset(st, 0, sizeof(*st));
	j = json_parse(text, len, &jerr, &pos);
	if (j == NULL) {
		snprintf(err, errlen, "not JSON (byte %zu: %s): cut short or "
		    "overwritten", pos, jerr);
		return -1;
	}
	if (j->type != JSON_OBJECT) {
		snprintf(err, errlen, "not a JSON object");
		goto out;
	}
	if (get_count(j, "version", 1, &v[0], err, errlen) == -1)
		goto out;
	if (v[0] != JOBSTATE_VERSION) {
		snprintf(err, errlen, "version %lld, this daemon reads %d",
		    (long long)v[0], JOBSTATE_VERSION);
		goto out;
	}
	if (check_strings(kind, name, j, st, err, errlen) == -1 ||
	    get_count(j, "last_start", 1, &v[1], err, errlen) == -1 ||
	    get_count(j, "runs", 1, &v[2], err, errlen) == -1 ||
	    get_count(j, "skipped", 1, &v[3], err, errlen) == -1 ||
	    get_count(j, "last_fire", 0, &v[4], err, errlen) == -1 ||
	    get_count(j, "last_end", 0, &v[5], err, errlen) == -1 ||
	    get_count(j, "duration_ms", 0, &v[6], err, errlen) == -1 ||
	    get_count(j, "restore_ms", 0, &v[7], err, errlen) == -1 ||
	    get_count(j, "items", 0, &v[8], err, errlen) == -1 ||
	    get_count(j, "failed", 0, &v[9], err, errlen) == -1)
		goto out;
	st->last_start = (time_t)v[1];
	st->runs = (uint64_t)v[2];
	st->skipped = (uint64_t)v[3];
	st->last_fire = (time_t)v[4];
	st->last_end = (time_t)v[5];
	st->duration_ms = (uint64_t)v[6];
	st->restore_ms = (uint64_t)v[7];
	st->items = v[8] > UINT32_MAX ? UINT32_MAX : (unsigned)v[8];
	st->failed = v[9] > UINT32_MAX ? UINT32_MAX : (unsigned)v[9];
	rc = 0;
out:
	json_free(j);
	if (rc == -1) {
		memset(st, 0, sizeof(*st));
		st->outcome[0] = '\0';
	}
	return rc;
}

int
jobstate_load(const char *state_dir, const char *kind, const char *name,
    struct jobstate *st, char *err, size_t errlen)
{
	char	*path, *buf = NULL, why[256];
	ssize_t	 n;
	size_t	 len = 0;
	int	 fd, rc = -1;

	memset(st, 0, sizeof(*st));
	path = jobstate_path(state_dir, kind, name);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1 && errno == ENOENT) {
		free(path);
		return 0;
	}
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	buf = xmalloc(JOBSTATE_MAX_FILE + 1);
	for (;;) {
		n = read(fd, buf + len, JOBSTATE_MAX_FILE + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len > JOBSTATE_MAX_FILE)
			break;
	}
	if (n == -1)
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	else if (len > JOBSTATE_MAX_FILE)
		snprintf(err, errlen, "%s: longer than %d bytes: not a %s "
		    "state file", path, JOBSTATE_MAX_FILE, kind);
	else if (jobstate_decode(kind, name, buf, len, st, why,
	    sizeof(why)) == -1)
		snprintf(err, errlen, "%s: refused: %s", path, why);
	else
		rc = 0;
	close(fd);
out:
	free(buf);
	free(path);
	return rc;
}

int
jobstate_write_atomic(const char *path, const char *text, char *err,
    size_t errlen)
{
	char	*tmp, *dir, *slash;
	size_t	 len = strlen(text);
	int	 fd;

	dir = xstrdup(path);
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir_p(dir, 0700) == -1) {
			snprintf(err, errlen, "cannot create %s: %s", dir,
			    strerror(errno));
			free(dir);
			return -1;
		}
	}
	free(dir);
	tmp = xasprintf("%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1) {
		snprintf(err, errlen, "cannot create %s: %s", tmp,
		    strerror(errno));
		free(tmp);
		return -1;
	}
	if (write_all(fd, text, len) == -1 || fsync(fd) == -1) {
		snprintf(err, errlen, "cannot write %s: %s", tmp,
		    strerror(errno));
		close(fd);
		unlink(tmp);
		free(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) == -1) {
		snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path,
		    strerror(errno));
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	if (fsync_dir_of(path) == -1) {
		snprintf(err, errlen, "cannot fsync the directory of %s: %s",
		    path, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- changes: read-modify-write under an flock ------------------------ */

void
jobstate_apply(struct jobstate *st, const struct jobstate_change *c)
{
	if (c->what & JOBSTATE_FIRE)
		st->last_fire = c->fire;
	if (c->what & JOBSTATE_START) {
		st->last_start = c->start;
		st->runs++;
		snprintf(st->outcome, sizeof(st->outcome), "running");
	}
	if (c->what & JOBSTATE_END) {
		st->last_end = c->end;
		snprintf(st->outcome, sizeof(st->outcome), "%s", c->outcome);
	}
	if (c->what & JOBSTATE_SKIP)
		st->skipped++;
	if (c->what & JOBSTATE_RESULT) {
		st->duration_ms = c->duration_ms;
		st->restore_ms = c->restore_ms;
		st->items = c->items;
		st->failed = c->failed;
	}
	if ((c->what & JOBSTATE_INTERRUPTED) && st->last_start == c->start &&
	    strcmp(st->outcome, "running") == 0)
		snprintf(st->outcome, sizeof(st->outcome), "interrupted");
}

int
jobstate_update(const char *state_dir, const char *kind, const char *name,
    const struct jobstate_change *c, char *err, size_t errlen)
{
	struct jobstate	 st;
	char		*path, *lpath, *dir, *text, why[768];
	int		 fd, rc = 0;

	path = jobstate_path(state_dir, kind, name);
	dir = xasprintf("%s/%ss", state_dir, kind);
	if (mkdir_p(dir, 0700) == -1) {
		snprintf(err, errlen, "cannot create %s: %s", dir,
		    strerror(errno));
		free(dir);
		free(path);
		return -1;
	}
	free(dir);
	/* (the state file itself is replaced by rename: lock another) */
	lpath = xasprintf("%s.lock", path);
	fd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		snprintf(err, errlen, "cannot open %s: %s", lpath,
		    strerror(errno));
		goto out;
	}
	while (flock(fd, LOCK_EX) == -1) {
		if (errno == EINTR)
			continue;
		snprintf(err, errlen, "cannot lock %s: %s", lpath,
		    strerror(errno));
		close(fd);
		fd = -1;
		goto out;
	}
	if (jobstate_load(state_dir, kind, name, &st, why,
	    sizeof(why)) == -1) {
		/* A torn or foreign file: keep it for a look, start afresh. */
		text = xasprintf("%s.refused", path);
		(void)rename(path, text);
		snprintf(err, errlen, "%s; moved aside to %s: the record "
		    "starts afresh", why, text);
		free(text);
		memset(&st, 0, sizeof(st));
		rc = 1;
	}
	jobstate_apply(&st, c);
	text = jobstate_encode(kind, name, &st, c->extra);
	if (jobstate_write_atomic(path, text, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s", why);
		rc = -1;
	}
	free(text);
	close(fd);	/* unlocks */
out:
	free(lpath);
	free(path);
	return fd == -1 ? -1 : rc;
}

/* ---- changes off the loop --------------------------------------------- */

struct update {
	struct update		*next;		/* of the same file */
	char			*state_dir, *kind, *name;
	struct jobstate_change	 c;
	char			*extra;
	void			(*done)(void *);
	void			*arg;
	char			 err[1024];
};

/* The changes waiting for one file; the first one is being applied. */
struct file_updates {
	struct file_updates	*next;
	char			*path;
	struct update		*head, **tailp;
};

static struct file_updates	*files;
static size_t			 nupdates;

static int
update_work(void *arg)
{
	struct update	*u = ((struct file_updates *)arg)->head;

	return jobstate_update(u->state_dir, u->kind, u->name, &u->c, u->err,
	    sizeof(u->err));
}

static void	update_done(void *, int);

static void
update_begin(struct file_updates *f)
{
	if (reactor_offload(update_work, update_done, f) == 0)
		return;
	/* No thread: write on the loop rather than lose the record. */
	update_done(f, update_work(f));
}

static void
update_free(struct update *u)
{
	free(u->state_dir);
	free(u->kind);
	free(u->name);
	free(u->extra);
	free(u);
}

static void
update_done(void *arg, int rc)
{
	struct file_updates	*f = arg, **pp;
	struct update		*u = f->head;

	if (rc != 0)
		log_warnx("state: %s %s: %s", u->kind, u->name, u->err);
	nupdates--;
	f->head = u->next;
	if (f->head != NULL)
		update_begin(f);
	else {
		for (pp = &files; *pp != NULL; pp = &(*pp)->next) {
			if (*pp == f) {
				*pp = f->next;
				break;
			}
		}
		free(f->path);
		free(f);
	}
	/* (after: done may change the same file again) */
	if (u->done != NULL)
		u->done(u->arg);
	update_free(u);
}

void
jobstate_update_async(const char *state_dir, const char *kind,
    const char *name, const struct jobstate_change *c,
    void (*done)(void *), void *arg)
{
	struct file_updates	*f;
	struct update		*u;
	char			*path;

	u = xcalloc(1, sizeof(*u));
	u->state_dir = xstrdup(state_dir);
	u->kind = xstrdup(kind);
	u->name = xstrdup(name);
	u->c = *c;
	u->extra = c->extra != NULL ? xstrdup(c->extra) : NULL;
	u->c.extra = u->extra;
	u->done = done;
	u->arg = arg;
	nupdates++;
	path = jobstate_path(state_dir, kind, name);
	for (f = files; f != NULL; f = f->next) {
		if (strcmp(f->path, path) == 0) {
			free(path);
			*f->tailp = u;
			f->tailp = &u->next;
			return;
		}
	}
	f = xcalloc(1, sizeof(*f));
	f->path = path;
	f->head = u;
	f->tailp = &u->next;
	f->next = files;
	files = f;
	update_begin(f);
}

size_t
jobstate_pending(void)
{
	return nupdates;
}
