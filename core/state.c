/*
 * state.c - the host's state directory ([daemon] state_dir, mode 0700):
 *	locks/<job>.lock	held (flock) by the process running the job;
 *				holds "<pid> <run stamp>\n"
 *	stamps/<source>		the newest run stamp handed to the source
 * A lock is an flock on an open file description: it dies with its
 * holder, so a killed run never leaves a job locked.  Stamps are handed
 * out under an flock of the source's file, so two processes starting
 * runs of one source in the same second get different stamps.
 */
#include "zb-build.h"

#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "state.h"
#include "util.h"

struct job_lock {
	int	 fd;
	char	*path;
};

/* state_dir/sub, created 0700; caller frees. */
static char *
state_subdir(const struct zb_config *cfg, const char *sub, char *err,
    size_t errlen)
{
	char	*dir;

	dir = xasprintf("%s/%s", cfg->state_dir, sub);
	if (mkdir_p(dir, 0700) == -1) {
		snprintf(err, errlen, "state_dir %s: cannot create %s: %s "
		    "(set [daemon] state_dir to a directory this user may "
		    "write)", cfg->state_dir, dir, strerror(errno));
		free(dir);
		return NULL;
	}
	return dir;
}

/* The "pid stamp" a lock file holds, into buf. */
static void
read_holder(int fd, char *buf, size_t len)
{
	ssize_t	 n;

	n = pread(fd, buf, len - 1, 0);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

struct job_lock *
state_lock_job(const struct zb_config *cfg, const char *job, char *err,
    size_t errlen)
{
	struct job_lock	*l;
	char		*dir, holder[64], pid[32];
	int		 fd;

	dir = state_subdir(cfg, "locks", err, errlen);
	if (dir == NULL)
		return NULL;
	l = xcalloc(1, sizeof(*l));
	l->path = xasprintf("%s/%s.lock", dir, job);
	free(dir);
	fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		snprintf(err, errlen, "cannot open the lock %s: %s", l->path,
		    strerror(errno));
		goto fail;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK) {
			read_holder(fd, holder, sizeof(holder));
			snprintf(err, errlen, "job %s is already running "
			    "(pid %.*s holds %s)", job,
			    (int)strcspn(holder, " "), holder[0] != '\0' ?
			    holder : "?", l->path);
		} else
			snprintf(err, errlen, "cannot lock %s: %s", l->path,
			    strerror(errno));
		close(fd);
		goto fail;
	}
	l->fd = fd;
	snprintf(pid, sizeof(pid), "%ld -\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, pid, strlen(pid), 0) == -1) {
		snprintf(err, errlen, "cannot write %s: %s", l->path,
		    strerror(errno));
		state_unlock(l);
		return NULL;
	}
	return l;
fail:
	free(l->path);
	free(l);
	return NULL;
}

void
state_lock_set_run(struct job_lock *l, const char *stamp)
{
	char	*s;

	s = xasprintf("%ld %s\n", (long)getpid(), stamp);
	/*
	 * Advisory: should this fail, state_run_alive() reads no run and
	 * takes the run's directories for a dead run's, so they are then
	 * protected by the grace period alone.
	 */
	if (ftruncate(l->fd, 0) == -1 ||
	    pwrite(l->fd, s, strlen(s), 0) == -1)
		log_warn("%s", l->path);
	free(s);
}

const char *
state_lock_path(const struct job_lock *l)
{
	return l->path;
}

void
state_unlock(struct job_lock *l)
{
	if (l == NULL)
		return;
	/* Emptied first: a reader never sees a dead holder's run. */
	(void)ftruncate(l->fd, 0);
	close(l->fd);
	free(l->path);
	free(l);
}

int
state_run_alive(const char *lock_path, const char *stamp)
{
	char	 holder[64];
	char	*run;
	int	 fd, alive = 0;

	fd = open(lock_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) == -1 && errno == EWOULDBLOCK) {
		/* "pid stamp": held by this very run? */
		read_holder(fd, holder, sizeof(holder));
		run = strchr(holder, ' ');
		alive = run != NULL && strcmp(run + 1, stamp) == 0;
	}
	close(fd);
	return alive;
}

static void
next_after(const char *last, time_t now, char *stamp)
{
	time_t	 t;
	int	 seq;

	if (stamp_parse_seq(last, &t, &seq) == -1 || now > t) {
		stamp_format(now, stamp, ZB_STAMP_LEN);
		return;
	}
	if (seq < ZB_STAMP_SEQ_MAX)
		stamp_format_seq(t, seq + 1, stamp, ZB_STAMP_LEN);
	else
		stamp_format(t + 1, stamp, ZB_STAMP_LEN);
}

int
state_next_stamp(const struct zb_config *cfg, const char *source,
    time_t now, char *stamp, char *err, size_t errlen)
{
	char	*dir, *path, last[ZB_STAMP_LEN + 8], line[ZB_STAMP_LEN + 1];
	int	 fd, rc = -1;

	dir = state_subdir(cfg, "stamps", err, errlen);
	if (dir == NULL)
		return -1;
	path = xasprintf("%s/%s", dir, source);
	free(dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1 || flock(fd, LOCK_EX) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	read_holder(fd, last, sizeof(last));
	next_after(last, now, stamp);
	snprintf(line, sizeof(line), "%s\n", stamp);
	/*
	 * No fsync: this runs on the event loop, and a stamp lost to a
	 * power cut is only handed out again after a reboot, seconds later
	 * (a clock stepped back that far meets the sinks' refusal to
	 * replace an object instead).
	 */
	if (ftruncate(fd, 0) == -1 ||
	    pwrite(fd, line, strlen(line), 0) != (ssize_t)strlen(line)) {
		snprintf(err, errlen, "cannot write %s: %s", path,
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	free(path);
	return rc;
}

const char *
state_host_id(void)
{
	static char	 id[256 + 64];
	char		 host[256], boot[64];
	FILE		*f;

	if (id[0] != '\0')
		return id;
	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	boot[0] = '\0';
	f = fopen("/proc/sys/kernel/random/boot_id", "re");
	if (f != NULL) {
		if (fgets(boot, sizeof(boot), f) == NULL)
			boot[0] = '\0';
		fclose(f);
	}
	boot[strcspn(boot, "\n")] = '\0';
	snprintf(id, sizeof(id), "%s %s", host, boot[0] ? boot : "-");
	return id;
}
