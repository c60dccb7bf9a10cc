/*
 * ctl_restore.c - `verify' and `restore'.
 */
#include "zb-build.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    "  --latest    the newest artifact of every source/stream\n"
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
    "restores.\n\n"
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
	struct catalog		 cat;
	const struct artifact	*a, *b;
	const char		*sink = NULL, *source = NULL, *id = NULL;
	size_t			 i, j, nchecked = 0, nbad = 0;
	int			 ch, latest = 0, newest, ok;

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
	catalog_load(ctl->cfg, sink, source, &cat);
	if (ctl->json)
		printf("[");
	for (i = 0; i < cat.n && !reactor_interrupted(); i++) {
		a = &cat.items[i];
		if (id != NULL && strcmp(a->id, id) != 0)
			continue;
		if (latest) {
			/* Skip unless no newer artifact of this stream. */
			newest = 1;
			for (j = 0; j < cat.n; j++) {
				b = &cat.items[j];
				if (strcmp(b->source, a->source) == 0 &&
				    strcmp(b->stream, a->stream) == 0 &&
				    b->time > a->time)
					newest = 0;
			}
			if (!newest)
				continue;
		}
		if (deep && a->encrypted && o.identities == NULL) {
			log_warnx("%s is encrypted: --deep needs --identity or "
			    "--passphrase-file", a->id);
			ok = 0;
		} else
			ok = restore_copy(ctl->cfg, a, &o) == 0;
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
		else
			log_warnx("no artifacts to verify");
	}
	ch = nchecked == 0 || nbad > 0 || cat.errors > 0 ? 1 : 0;
	catalog_free(&cat);
	return ch;
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
	struct catalog		 cat;
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
	if (ctl_check_sink(ctl, sink) == -1)
		return 1;
	catalog_load(ctl->cfg, sink, NULL, &cat);
	n = catalog_copies(&cat, id, copies, MAX_COPIES);
	if (n == 0)
		log_warnx("%s: no such artifact%s%s (see `list')", id,
		    sink ? " on sink:" : "", sink ? sink : "");
	for (i = 0; i < n && !reactor_interrupted(); i++) {
		if (i > 0)
			log_info("%s: trying the copy on sink:%s", id,
			    copies[i]->sink);
		if (restore_copy(ctl->cfg, copies[i], &o) == 0) {
			printf("restored %s from sink:%s%s%s\n", id,
			    copies[i]->sink, o.target ? " to " : "",
			    o.target ? o.target : "");
			rc = 0;
			break;
		}
	}
	catalog_free(&cat);
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
