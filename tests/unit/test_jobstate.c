/*
 * test_jobstate.c - the job state files (core/jobstate.c):
 * a record written atomically reads back the same; a torn, garbage,
 * foreign or oversized file is refused with a message naming the file
 * and the problem; a missing file is a job that never ran.  Changes
 * keep the fields they do not touch, and writers in several processes
 * lose no update.
 */
#include "zb-build.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <unistd.h>

#include "jobstate.h"
#include "testlib.h"

static void
put(const char *path, const char *text, size_t len)
{
	int	 fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert(fd != -1);
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
}

static struct jobstate
sample(void)
{
	struct jobstate	 st;

	memset(&st, 0, sizeof(st));
	st.last_fire = 1765000000;
	st.last_start = 1765000001;
	st.last_end = 1765000042;
	snprintf(st.outcome, sizeof(st.outcome), "partial");
	st.runs = 17;
	st.skipped = 3;
	st.duration_ms = 1234;
	st.restore_ms = 987;
	st.items = 4;
	st.failed = 1;
	return st;
}

Test(jobstate, round_trip_through_the_file)
{
	struct jobstate	 st = sample(), back;
	char		*dir, *path, *text, err[512];
	struct stat	 sb;

	dir = test_tmpdir();
	path = jobstate_path(dir, "job", "pg-hourly");
	cr_assert_str_eq(path + strlen(dir), "/jobs/pg-hourly.json");
	text = jobstate_encode("job", "pg-hourly", &st, NULL);
	cr_assert_eq(jobstate_write_atomic(path, text, err, sizeof(err)), 0,
	    "%s", err);
	free(text);
	cr_assert_eq(stat(path, &sb), 0);
	cr_assert_eq(sb.st_mode & 077, 0, "the state file is private");
	cr_assert_eq(jobstate_load(dir, "job", "pg-hourly", &back, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(back.last_fire, st.last_fire);
	cr_assert_eq(back.last_start, st.last_start);
	cr_assert_eq(back.last_end, st.last_end);
	cr_assert_str_eq(back.outcome, "partial");
	cr_assert_eq(back.runs, 17);
	cr_assert_eq(back.skipped, 3);
	cr_assert_eq(back.duration_ms, 1234);
	cr_assert_eq(back.restore_ms, 987);
	cr_assert_eq(back.items, 4);
	cr_assert_eq(back.failed, 1);
	/* no temporary file is left behind */
	text = xasprintf("%s.tmp", path);
	cr_assert_eq(access(text, F_OK), -1);
	free(text);
	/* a second write replaces the first */
	st.runs = 18;
	text = jobstate_encode("job", "pg-hourly", &st, NULL);
	cr_assert_eq(jobstate_write_atomic(path, text, err, sizeof(err)), 0);
	free(text);
	cr_assert_eq(jobstate_load(dir, "job", "pg-hourly", &back, err,
	    sizeof(err)), 0);
	cr_assert_eq(back.runs, 18);
	rm_rf(dir);
	free(path);
	free(dir);
}

Test(jobstate, missing_file_is_a_job_that_never_ran)
{
	struct jobstate	 back;
	char		*dir, err[512];

	dir = test_tmpdir();
	memset(&back, 0xff, sizeof(back));
	cr_assert_eq(jobstate_load(dir, "job", "new", &back, err,
	    sizeof(err)), 0);
	cr_assert_eq(back.last_start, 0);
	cr_assert_eq(back.runs, 0);
	cr_assert_str_eq(back.outcome, "");
	rm_rf(dir);
	free(dir);
}

/* Each bad file is refused; err names the file and the problem. */
static void
refused(const char *text, size_t len, const char *why)
{
	struct jobstate	 back;
	char		*dir, *sub, *path, err[512];

	dir = test_tmpdir();
	sub = xasprintf("%s/jobs", dir);
	cr_assert_eq(mkdir(sub, 0700), 0);
	path = jobstate_path(dir, "job", "j");
	put(path, text, len);
	cr_assert_eq(jobstate_load(dir, "job", "j", &back, err, sizeof(err)),
	    -1, "accepted: %.*s", (int)len, text);
	cr_assert(strstr(err, path) != NULL, "no file named in: %s", err);
	cr_assert(strstr(err, why) != NULL, "expected \"%s\" in: %s", why,
	    err);
	cr_assert_eq(back.last_start, 0, "a refused file leaves no state");
	rm_rf(dir);
	free(path);
	free(sub);
	free(dir);
}

Test(jobstate, torn_file_is_refused)
{
	struct jobstate	 st = sample();
	char		*text;

	text = jobstate_encode("job", "j", &st, NULL);
	refused(text, strlen(text) / 2, "not JSON");
	refused(text, 0, "not JSON");
	free(text);
}

Test(jobstate, garbage_is_refused)
{
	static const char nul[] = "{\"version\": 1\0\0\0\0}";

	refused("\x89PNG\r\n\x1a\n", 8, "not JSON");
	refused(nul, sizeof(nul), "not JSON");
	refused("[1, 2]", 6, "not a JSON object");
	refused("{}", 2, "\"version\" is missing");
	refused("{\"version\": 2}", 14, "version 2");
}

Test(jobstate, wrong_fields_are_refused)
{
	char	 t[512];

#define BASE	"\"version\": 1, \"kind\": \"job\", \"name\": \"j\""
	snprintf(t, sizeof(t), "{" BASE ", \"last_start\": -5, \"runs\": 1, "
	    "\"skipped\": 0}");
	refused(t, strlen(t), "\"last_start\" is not an integer >= 0");
	snprintf(t, sizeof(t), "{" BASE ", \"last_start\": \"x\", "
	    "\"runs\": 1, \"skipped\": 0}");
	refused(t, strlen(t), "\"last_start\" is not an integer");
	snprintf(t, sizeof(t), "{" BASE ", \"last_start\": 1, \"runs\": 1}");
	refused(t, strlen(t), "\"skipped\" is missing");
	snprintf(t, sizeof(t), "{" BASE ", \"last_start\": 1, \"runs\": 1, "
	    "\"skipped\": 0, \"outcome\": \"ok\\nforged\"}");
	refused(t, strlen(t), "\"outcome\" is not a word");
	snprintf(t, sizeof(t), "{\"version\": 1, \"kind\": \"job\", "
	    "\"name\": \"other\", \"last_start\": 1, \"runs\": 1, "
	    "\"skipped\": 0}");
	refused(t, strlen(t), "not the state of job j");
	snprintf(t, sizeof(t), "{\"version\": 1, \"kind\": \"check\", "
	    "\"name\": \"j\", \"last_start\": 1, \"runs\": 1, "
	    "\"skipped\": 0}");
	refused(t, strlen(t), "not a job state");
#undef BASE
}

Test(jobstate, oversized_file_is_refused)
{
	char	*big;

	big = xmalloc(JOBSTATE_MAX_FILE + 100);
	memset(big, ' ', JOBSTATE_MAX_FILE + 100);
	refused(big, JOBSTATE_MAX_FILE + 100, "longer than");
	free(big);
}

/* A check's file: kind "check", with its results, which reading skips. */
Test(jobstate, check_results_round_trip)
{
	struct jobstate	 st = sample(), back;
	char		*dir, *path, *text, err[512];

	dir = test_tmpdir();
	path = jobstate_path(dir, "check", "verify-daily");
	cr_assert_str_eq(path + strlen(dir), "/checks/verify-daily.json");
	text = jobstate_encode("check", "verify-daily", &st,
	    "\"results\": [{\"id\": \"a/b@x\", \"ok\": false, "
	    "\"error\": \"bad\\n\"}]");
	cr_assert(strstr(text, "\"results\": [{") != NULL, "%s", text);
	cr_assert_eq(jobstate_write_atomic(path, text, err, sizeof(err)), 0,
	    "%s", err);
	free(text);
	cr_assert_eq(jobstate_load(dir, "check", "verify-daily", &back, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(back.items, 4);
	cr_assert_eq(back.failed, 1);
	cr_assert_eq(back.restore_ms, 987);
	cr_assert_eq(jobstate_load(dir, "job", "verify-daily", &back, err,
	    sizeof(err)), 0, "a job's file is another file");
	rm_rf(dir);
	free(path);
	free(dir);
}

/* A change touches its own fields; the record's others stay. */
Test(jobstate, changes_keep_the_other_fields)
{
	struct jobstate		 st = sample();
	struct jobstate_change	 c;

	memset(&c, 0, sizeof(c));
	c.what = JOBSTATE_START;
	c.start = 1765001000;
	jobstate_apply(&st, &c);
	cr_assert_eq(st.last_start, 1765001000);
	cr_assert_eq(st.runs, 18);
	cr_assert_str_eq(st.outcome, "running");
	cr_assert_eq(st.skipped, 3);
	cr_assert_eq(st.last_fire, 1765000000);
	/* interrupted only if still running since that start */
	c.what = JOBSTATE_INTERRUPTED;
	c.start = 1765000999;
	jobstate_apply(&st, &c);
	cr_assert_str_eq(st.outcome, "running", "another run's start");
	c.start = 1765001000;
	jobstate_apply(&st, &c);
	cr_assert_str_eq(st.outcome, "interrupted");
	memset(&c, 0, sizeof(c));
	c.what = JOBSTATE_END | JOBSTATE_SKIP;
	c.end = 1765001042;
	snprintf(c.outcome, sizeof(c.outcome), "failed");
	jobstate_apply(&st, &c);
	cr_assert_eq(st.last_end, 1765001042);
	cr_assert_str_eq(st.outcome, "failed");
	cr_assert_eq(st.skipped, 4);
	cr_assert_eq(st.runs, 18);
}

/*
 * The daemon counts skipped fires while a CLI run records its start and
 * end: writers in several processes change one file at once, and no
 * update is lost (each is a read-modify-write under the file's flock).
 */
#define WRITERS		4
#define CHANGES		50

Test(jobstate, concurrent_writers_lose_no_update)
{
	struct jobstate_change	 c;
	struct jobstate		 back;
	char			*dir, err[1024];
	pid_t			 pids[WRITERS];
	int			 i, j, status;

	dir = test_tmpdir();
	for (i = 0; i < WRITERS; i++) {
		pids[i] = fork();
		cr_assert(pids[i] != -1);
		if (pids[i] != 0)
			continue;
		for (j = 0; j < CHANGES; j++) {
			memset(&c, 0, sizeof(c));
			/* one "CLI" records runs, the others skip fires */
			c.what = i == 0 ? (j % 2 == 0 ? JOBSTATE_START :
			    JOBSTATE_END) : JOBSTATE_SKIP;
			c.start = c.end = 1765000000 + j;
			snprintf(c.outcome, sizeof(c.outcome), "ok");
			if (jobstate_update(dir, "job", "j", &c, err,
			    sizeof(err)) != 0)
				_exit(1);
		}
		_exit(0);
	}
	for (i = 0; i < WRITERS; i++) {
		cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "writer %d failed", i);
	}
	cr_assert_eq(jobstate_load(dir, "job", "j", &back, err, sizeof(err)),
	    0, "%s", err);
	cr_assert_eq(back.skipped, (WRITERS - 1) * CHANGES,
	    "skipped fires lost: %llu", (unsigned long long)back.skipped);
	cr_assert_eq(back.runs, CHANGES / 2, "starts lost: %llu",
	    (unsigned long long)back.runs);
	cr_assert_str_eq(back.outcome, "ok");
	cr_assert_eq(back.last_end, 1765000000 + CHANGES - 1);
	rm_rf(dir);
	free(dir);
}

/* A torn file is set aside and the record starts afresh. */
Test(jobstate, update_sets_a_torn_file_aside)
{
	struct jobstate_change	 c;
	struct jobstate		 back;
	char			*dir, *sub, *path, *aside, err[1024];
	struct stat		 sb;

	dir = test_tmpdir();
	sub = xasprintf("%s/jobs", dir);
	cr_assert_eq(mkdir(sub, 0700), 0);
	free(sub);
	path = jobstate_path(dir, "job", "j");
	put(path, "{\"version\": 1, \"ki", 18);
	memset(&c, 0, sizeof(c));
	c.what = JOBSTATE_SKIP;
	cr_assert_eq(jobstate_update(dir, "job", "j", &c, err, sizeof(err)),
	    1);
	cr_assert(strstr(err, "refused: not JSON") != NULL, "%s", err);
	aside = xasprintf("%s.refused", path);
	cr_assert(strstr(err, aside) != NULL, "%s", err);
	cr_assert_eq(stat(aside, &sb), 0, "the torn file is kept");
	cr_assert_eq(jobstate_load(dir, "job", "j", &back, err, sizeof(err)),
	    0, "%s", err);
	cr_assert_eq(back.skipped, 1);
	rm_rf(dir);
	free(aside);
	free(path);
	free(dir);
}
