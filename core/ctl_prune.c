/*
 * ctl_prune.c - `prune': remove what failed and interrupted runs left on
 * the sinks.
 *
 * Two kinds of garbage, both invisible to list/verify/restore:
 *  - interrupted puts the sink cannot list (S3 multipart uploads that
 *    were never completed or aborted): the sink plugin's cleanup();
 *  - artifact directories without manifest.json (the manifest is the
 *    commit marker: data whose run failed before it).
 * Both only when older than --grace (default 1 h), so that a run going on
 * at the same time keeps its uploads and its data.  Retention (keep_*)
 * is not in this version.
 */
#include "zb-build.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "ctl.h"
#include "log.h"
#include "plugin.h"
#include "reactor.h"
#include "sinkio.h"
#include "util.h"

#define KEYS_MAX	(1 << 20)

static const char prune_usage[] =
    "usage: zentoria-backupctl [-c FILE] prune [--sink K] [--grace "
    "DURATION] [--dry-run]\n\n"
    "Remove what failed and interrupted runs left on the sinks: uploads "
    "that were\nnever completed (S3 multipart uploads) and artifact "
    "directories without a\nmanifest.json. Only what is older than the "
    "grace period is touched, so a\nrun going on meanwhile is safe.\n\n"
    "  --sink K          only [sink:K] (default: every sink)\n"
    "  --grace DURATION  minimum age, like 30m, 2h, 0 (default 1h)\n"
    "  --dry-run         print what would be removed, remove nothing\n";

struct keys {
	char	**key;
	size_t	  n;
	int	  done, status;
	char	 *err;
};

static void
on_key(void *arg, const struct zb_list_entry *e)
{
	struct keys	*k = arg;

	if (k->n == KEYS_MAX)
		return;
	k->key = xreallocarray(k->key, k->n + 1, sizeof(*k->key));
	k->key[k->n++] = xstrdup(e->key);
}

static void
on_done(void *arg, int status, const char *err)
{
	struct keys	*k = arg;

	k->status = status;
	k->err = err != NULL ? xstrdup(err) : NULL;
	k->done = 1;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "src/stream/STAMP/..." -> length of "src/stream/STAMP", or 0. */
static size_t
artifact_dir_len(const char *key, time_t *stamp)
{
	const char	*p = key;
	char		 s[ZB_STAMP_LEN + 8];
	int		 i;
	size_t		 n;

	for (i = 0; i < 2; i++) {
		p = strchr(p, '/');
		if (p == NULL)
			return 0;
		p++;
	}
	n = strcspn(p, "/");
	if (p[n] != '/' || n >= sizeof(s))
		return 0;
	memcpy(s, p, n);
	s[n] = '\0';
	if (stamp_parse(s, stamp) == -1)
		return 0;
	return (size_t)(p - key) + n;
}

/* Removals started together, so that a sink can batch them. */
struct removals {
	const char	*sink;
	unsigned	 pending, removed, errors;
	int		 done;
};

struct removal {
	struct removals	*all;
	char		*key;
};

static void
on_removed(void *arg, int status, const char *err)
{
	struct removal	*r = arg;
	struct removals	*all = r->all;

	if (status == ZB_OK)
		all->removed++;
	else {
		log_warnx("sink:%s: %s: %s", all->sink, r->key,
		    err != NULL ? err : "cannot remove");
		all->errors++;
	}
	free(r);
	if (--all->pending == 0)
		all->done = 1;
}

/* Delete (or print) the keys of artifact dirs without a manifest. */
static int
prune_orphans(struct zb_inst *sink, const char *name, time_t cutoff,
    int dry, unsigned *removed)
{
	struct keys	 k = { 0 };
	struct removals	 all = { .sink = name };
	struct removal	*r;
	size_t		 i, j, m, dl;
	time_t		 stamp;
	int		 has_manifest, errors = 0;

	sinkio_list(sink, "", on_key, on_done, &k);
	reactor_run_until(&k.done);
	if (k.status != ZB_OK) {
		log_warnx("sink:%s: cannot list: %s", name, k.err ? k.err :
		    "error");
		errors++;
		goto out;
	}
	qsort(k.key, k.n, sizeof(*k.key), cmp_str);
	/* Sorted: the keys of one artifact directory stand together. */
	for (i = 0; i < k.n; i = j) {
		dl = artifact_dir_len(k.key[i], &stamp);
		if (dl == 0) {
			j = i + 1;
			continue;	/* not ours: left alone */
		}
		has_manifest = 0;
		for (j = i; j < k.n && strncmp(k.key[j], k.key[i], dl) == 0 &&
		    k.key[j][dl] == '/'; j++)
			if (strcmp(k.key[j] + dl, "/" MANIFEST_NAME) == 0)
				has_manifest = 1;
		if (has_manifest || stamp > cutoff)
			continue;
		for (m = i; m < j; m++) {
			printf("%s sink:%s %s (no manifest: a failed run)\n",
			    dry ? "would remove" : "remove", name, k.key[m]);
			if (dry) {
				(*removed)++;
				continue;
			}
			r = xcalloc(1, sizeof(*r));
			r->all = &all;
			r->key = k.key[m];
			all.pending++;
			sinkio_remove(sink, k.key[m], on_removed, r);
		}
	}
	/* A removal may have ended inside sinkio_remove already. */
	all.done = all.pending == 0;
	reactor_run_until(&all.done);
	*removed += all.removed;
	errors += (int)all.errors;
out:
	for (i = 0; i < k.n; i++)
		free(k.key[i]);
	free(k.key);
	free(k.err);
	return errors;
}

int
ctl_prune(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "sink", required_argument, NULL, 'k' },
		{ "grace", required_argument, NULL, 'g' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	struct cfg_section	*sec;
	struct keys		 c;
	const char		*sink = NULL, *errstr;
	int64_t			 grace_ms = 3600 * 1000;
	unsigned		 removed = 0, nsinks = 0;
	int			 ch, dry = 0, errors = 0;

	if (ctl_wants_help(argc, argv, prune_usage))
		return 0;
	for (;;) {
		ch = getopt_long(argc, argv, "", longopts, NULL);
		if (ch == -1)
			break;
		switch (ch) {
		case 'k':
			sink = optarg;
			break;
		case 'g':
			if (parse_duration_ms(optarg, &grace_ms, &errstr) ==
			    -1) {
				log_warnx("--grace %s: expected %s", optarg,
				    errstr);
				return EXIT_USAGE;
			}
			break;
		case 'n':
			dry = 1;
			break;
		default:
			fputs(prune_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fputs(prune_usage, stderr);
		return EXIT_USAGE;
	}
	if (ctl_load(ctl) == -1)
		return 1;
	if (ctl_check_sink(ctl, sink) == -1)
		return 1;
	TAILQ_FOREACH(sec, &ctl->cfg->sections, entry) {
		if (sec->kind != CFG_SINK || sec->inst == NULL ||
		    (sink != NULL && strcmp(sec->name, sink) != 0))
			continue;
		nsinks++;
		if (!dry) {
			memset(&c, 0, sizeof(c));
			sinkio_cleanup(sec->inst, grace_ms / 1000, on_done, &c);
			reactor_run_until(&c.done);
			if (c.status != ZB_OK) {
				log_warnx("sink:%s: cleanup of interrupted "
				    "uploads: %s", sec->name, c.err ? c.err :
				    "failed");
				errors++;
			}
			free(c.err);
		}
		errors += prune_orphans(sec->inst, sec->name,
		    time(NULL) - (time_t)(grace_ms / 1000), dry, &removed);
	}
	printf("%s %u object%s on %u sink%s%s\n", dry ? "would remove" :
	    "removed", removed, removed == 1 ? "" : "s", nsinks,
	    nsinks == 1 ? "" : "s", errors ? " (with errors, see above)" :
	    "");
	return errors > 0 ? 1 : 0;
}
