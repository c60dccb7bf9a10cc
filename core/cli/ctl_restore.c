/*
 * ctl_restore.c - `verify' and `restore', and the check that a restore
 * target is no sink's storage: neither inside a sink's `path' nor holding
 * it, compared as canonical paths.
 */
#include "zb-build.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "age.h"
#include "catalog.h"
#include "ctl.h"
#include "log.h"
#include "reactor.h"
#include "restore.h"
#include "util.h"

#define MAX_COPIES	CFG_MAX_SECTIONS

static const char verify_usage[] =
    "usage: zentoria-backupctl [-c FILE] verify ID | --latest [--sink K] "
    "[--source S] [--json]\n\n"
    "Re-read copies from the sinks and check them against their manifest: "
    "the\n.sha256 sidecar, the stored bytes' size and SHA-256, and, after "
    "decompression,\nthe plaintext's size and SHA-256.\n\n"
    "  ID          an artifact id (SOURCE/STREAM@TIME): every copy of it\n"
    "  --latest    the newest artifact of every source/stream, among the "
    "copies whose\n              run is complete on their sink (the "
    "copies of a newer, interrupted\n              run are skipped with a "
    "warning)\n"
    "  --sink K    only copies on [sink:K]\n"
    "  --source S  with --latest: only [source:S]\n"
    "  --deep      also decrypt and decompress and check the plaintext "
    "(the default\n              for unencrypted artifacts; encrypted ones "
    "need an identity)\n"
    "  --identity FILE         age identities (AGE-SECRET-KEY-1... lines)\n"
    "  --passphrase-file FILE  the passphrase an artifact was encrypted to\n"
    "  --json      print a JSON array of {id, sink, ok}\n";

static const char restore_usage[] =
    "usage: zentoria-backupctl [-c FILE] restore ID [--sink K] [--to "
    "TARGET] [--force]\n\n"
    "Restore an artifact (SOURCE/STREAM@TIME, see `list'). The bytes are "
    "checked\nagainst the manifest while they stream; the target is only "
    "completed when\nevery check passed. Without --sink, the copies are "
    "tried in the order of the\nsinks in the configuration until one "
    "restores. A target inside a sink's\npath, or holding one, is "
    "refused.\n\n"
    "  --sink K     read the copy on [sink:K]\n"
    "  --to TARGET  where to: a directory for `files' sources, a file for "
    "`command'\n               sources (without --to: their "
    "restore_command); a file for an\n               artifact whose source "
    "is not in the configuration\n"
    "  --force      allow a non-empty target directory / an existing file\n"
    "  --identity FILE         age identities for encrypted artifacts\n"
    "  --passphrase-file FILE  or the passphrase they were encrypted to\n";

int
ctl_verify(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "latest", no_argument, NULL, 'l' },
		{ "sink", required_argument, NULL, 'k' },
		{ "source", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "deep", no_argument, NULL, 'd' },
		{ "identity", required_argument, NULL, 'i' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 }
	};
	struct restore_opts	 o = { .verify_only = 1 };
	const char		*idfile = NULL, *passfile = NULL;
	int			 deep = 0;
	struct catalog_query	 q;
	struct catalog		*cat;
	struct catalog_pick	 pick = { 0 };
	const struct artifact	*a;
	const char		*sink = NULL, *source = NULL, *id = NULL;
	size_t			 i, n, nchecked = 0, nbad = 0;
	int			 ch, latest = 0, ok;

	if (ctl_wants_help(argc, argv, verify_usage))
		return 0;
	for (;;) {
		ch = getopt_long(argc, argv, "", longopts, NULL);
		if (ch == -1)
			break;
		switch (ch) {
		case 'l':
			latest = 1;
			break;
		case 'k':
			sink = optarg;
			break;
		case 's':
			source = optarg;
			break;
		case 'j':
			ctl->json = 1;
			break;
		case 'd':
			deep = 1;
			break;
		case 'i':
			idfile = optarg;
			break;
		case 'p':
			passfile = optarg;
			break;
		default:
			fputs(verify_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		id = argv[optind++];
	if (optind != argc || (id == NULL) == !latest) {
		fputs(verify_usage, stderr);
		return EXIT_USAGE;
	}
	if (ctl_load(ctl) == -1 ||
	    ctl_identities(ctl, idfile, passfile, &o.identities) == -1)
		return 1;
	memset(&q, 0, sizeof(q));
	q.sink = sink;
	q.source = source;
	cat = ctl_catalog(ctl, &q);
	if (latest) {
		catalog_latest(cat, source, &pick);
		for (i = 0; i < pick.nskipped; i++)
			ctl_warn_incomplete(pick.skipped[i]);
	}
	if (ctl->json)
		printf("[");
	n = latest ? pick.n : cat->n;
	for (i = 0; i < n && !reactor_interrupted(); i++) {
		a = latest ? pick.copies[i] : &cat->items[i];
		if (id != NULL && strcmp(a->id, id) != 0)
			continue;
		if (deep && a->encrypted && o.identities == NULL) {
			log_warnx("%s is encrypted: --deep needs --identity or "
			    "--passphrase-file", a->id);
			ok = 0;
		} else
			ok = ctl_restore_copy(ctl, a, &o, NULL) == 0;
		nchecked++;
		if (!ok)
			nbad++;
		if (ctl->json) {
			printf("%s\n  {\"id\": \"%s\", \"sink\": \"%s\", "
			    "\"ok\": %s}", nchecked > 1 ? "," : "", a->id,
			    a->sink, ok ? "true" : "false");
		} else
			printf("%-6s %s on sink:%s\n", ok ? "ok" : "FAILED",
			    a->id, a->sink);
		fflush(stdout);
	}
	if (ctl->json)
		printf("%s]\n", nchecked > 0 ? "\n" : "");
	if (nchecked == 0) {
		if (id != NULL)
			log_warnx("%s: no such artifact%s%s", id,
			    sink ? " on sink:" : "", sink ? sink : "");
		else if (pick.nskipped > 0)
			log_warnx("no complete run to verify%s%s",
			    sink ? " on sink:" : "", sink ? sink : "");
		else
			log_warnx("no artifacts to verify");
	}
	ch = nchecked == 0 || nbad > 0 || cat->errors > 0 ? 1 : 0;
	catalog_pick_free(&pick);
	catalog_destroy(cat);
	return ch;
}

/*
 * Append component c (of n bytes) to the canonical path p, lexically.
 * 0, or -1 if p would be PATH_MAX bytes or more.
 */
static int
canon_push(char *p, const char *c, size_t n)
{
	char	*slash;
	size_t	 len = strlen(p);

	if (n == 0 || (n == 1 && c[0] == '.'))
		return 0;
	if (n == 2 && c[0] == '.' && c[1] == '.') {
		slash = strrchr(p, '/');
		if (slash != NULL)
			slash[slash == p ? 1 : 0] = '\0';
		return 0;
	}
	if (len + 1 + n >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	(void)snprintf(p + len, PATH_MAX - len, "%s%.*s", len > 1 ? "/" : "",
	    (int)n, c);
	return 0;
}

/*
 * path made absolute (against the working directory) and canonical:
 * realpath(3) of its longest prefix that resolves, then the rest taken
 * lexically, since it does not exist and so holds no symlink.  Fills
 * out (PATH_MAX bytes) and returns 0, or -1 with errno set.
 */
static int
canon_path(const char *path, char *out)
{
	char	 abs[PATH_MAX], c;
	const char *p;
	size_t	 n;
	int	 rv, found;

	if (path[0] == '/')
		rv = snprintf(abs, sizeof(abs), "%s", path);
	else {
		if (getcwd(out, PATH_MAX) == NULL)
			return -1;
		rv = snprintf(abs, sizeof(abs), "%s/%s", out, path);
	}
	if (rv < 0 || (size_t)rv >= sizeof(abs)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* The longest head abs[0..n) that resolves; "/" always should. */
	for (n = strlen(abs);;) {
		c = abs[n];
		abs[n] = '\0';
		found = realpath(n == 0 ? "/" : abs, out) != NULL;
		abs[n] = c;
		if (found)
			break;
		if (n == 0)
			return -1;
		while (n > 0 && abs[n - 1] != '/')
			n--;
		if (n > 0)
			n--;	/* at the slash */
	}
	for (p = abs + n; *p != '\0'; p += n) {
		n = *p == '/' ? 1 : strcspn(p, "/");
		if (*p != '/' && canon_push(out, p, n) == -1)
			return -1;
	}
	return 0;
}

/* Is the canonical path inner the canonical outer, or below it? */
static int
canon_within(const char *inner, const char *outer)
{
	size_t	 n = strlen(outer);

	if (strcmp(outer, "/") == 0)
		return 1;
	return strncmp(inner, outer, n) == 0 &&
	    (inner[n] == '\0' || inner[n] == '/');
}

/*
 * A restore must not write into a sink's storage, nor replace (--force)
 * a directory that holds it: the `path' of every sink that has one (the
 * local sink's directory).  Targets that are URIs (postgresql://) are
 * not paths.  0 if the target is clear, -1 with the reason logged.
 */
static int
restore_target_check(struct zb_config *cfg, const char *target)
{
	struct cfg_section	*sec;
	struct cfg_kv		*kv;
	char			 t[PATH_MAX], s[PATH_MAX];

	if (target == NULL || strstr(target, "://") != NULL)
		return 0;
	if (canon_path(target, t) == -1) {
		log_warn("--to %s", target);
		return -1;
	}
	TAILQ_FOREACH(sec, &cfg->sections, entry) {
		if (sec->kind != CFG_SINK)
			continue;
		kv = config_kv(sec, "path");
		if (kv == NULL || kv->value[0] == '\0')
			continue;
		if (canon_path(kv->value, s) == -1) {
			log_warn("[sink:%s] path %s", sec->name, kv->value);
			return -1;
		}
		if (canon_within(t, s)) {
			log_warnx("--to %s: %s is inside the storage of "
			    "[sink:%s] (path = %s); restore somewhere else",
			    target, t, sec->name, kv->value);
			return -1;
		}
		if (canon_within(s, t)) {
			log_warnx("--to %s: %s holds the storage of [sink:%s] "
			    "(path = %s); restore somewhere else", target, t,
			    sec->name, kv->value);
			return -1;
		}
	}
	return 0;
}

int
ctl_restore(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "sink", required_argument, NULL, 'k' },
		{ "to", required_argument, NULL, 't' },
		{ "force", no_argument, NULL, 'f' },
		{ "identity", required_argument, NULL, 'i' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 }
	};
	struct restore_opts	 o = { 0 };
	const char		*idfile = NULL, *passfile = NULL;
	struct catalog_query	 q;
	struct catalog		*cat;
	const struct artifact	*copies[MAX_COPIES];
	const char		*sink = NULL, *id;
	size_t			 n, i;
	int			 ch, rc = 1;

	if (ctl_wants_help(argc, argv, restore_usage))
		return 0;
	for (;;) {
		ch = getopt_long(argc, argv, "", longopts, NULL);
		if (ch == -1)
			break;
		switch (ch) {
		case 'k':
			sink = optarg;
			break;
		case 't':
			o.target = optarg;
			break;
		case 'f':
			o.force = 1;
			break;
		case 'i':
			idfile = optarg;
			break;
		case 'p':
			passfile = optarg;
			break;
		default:
			fputs(restore_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fputs(restore_usage, stderr);
		return EXIT_USAGE;
	}
	id = argv[optind];
	if (ctl_load(ctl) == -1 ||
	    ctl_identities(ctl, idfile, passfile, &o.identities) == -1)
		return 1;
	if (ctl_check_sink(ctl, sink) == -1 ||
	    restore_target_check(ctl->cfg, o.target) == -1)
		return 1;
	memset(&q, 0, sizeof(q));
	q.sink = sink;
	cat = ctl_catalog(ctl, &q);
	n = catalog_copies(cat, id, copies, MAX_COPIES);
	if (n == 0)
		log_warnx("%s: no such artifact%s%s (see `list')", id,
		    sink ? " on sink:" : "", sink ? sink : "");
	for (i = 0; i < n && !reactor_interrupted(); i++) {
		if (i > 0)
			log_info("%s: trying the copy on sink:%s", id,
			    copies[i]->sink);
		if (ctl_restore_copy(ctl, copies[i], &o, NULL) == 0) {
			printf("restored %s from sink:%s%s%s\n", id,
			    copies[i]->sink, o.target ? " to " : "",
			    o.target ? o.target : "");
			rc = 0;
			break;
		}
	}
	catalog_destroy(cat);
	return rc;
}

static const char keygen_usage[] =
    "usage: zentoria-backupctl keygen [-o FILE]\n\n"
    "Make a new age identity (X25519), like age-keygen: the identity goes "
    "to FILE\n(created 0600, never overwritten) or to standard output, "
    "the recipient\n(age1...) to standard error.  Put the recipient in "
    "age_recipients_file and keep\nthe identity off the backup host.\n";

int
ctl_keygen(struct ctl *ctl, int argc, char **argv)
{
	char	 identity[AGE_IDENTITY_LEN + 1], recipient[AGE_RECIPIENT_LEN + 1];
	char	 when[ZB_ISOTIME_LEN];
	FILE	*f = stdout;
	int	 fd;

	if (ctl_wants_help(argc, argv, keygen_usage))
		return 0;
	if (argc == 3 && strcmp(argv[1], "-o") == 0) {
		fd = open(argv[2], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600);
		if (fd == -1 || (f = fdopen(fd, "w")) == NULL) {
			log_warn("%s", argv[2]);
			return 1;
		}
	} else if (argc != 1) {
		fputs(keygen_usage, stderr);
		return EXIT_USAGE;
	}
	if (age_keygen(identity, recipient) == -1) {
		log_warnx("cannot make a key");
		return 1;
	}
	isotime_format(time(NULL), when, sizeof(when));
	fprintf(f, "# created: %s\n# public key: %s\n%s\n", when, recipient,
	    identity);
	OPENSSL_cleanse(identity, sizeof(identity));
	if (f != stdout && fclose(f) != 0) {
		log_warn("%s", argv[2]);
		return 1;
	}
	fprintf(stderr, "Public key: %s\n", recipient);
	return 0;
}
