/*
 * files.c - the `files' source: one tar stream of a set of paths, and the
 * restore of such a stream into a directory.  This file owns the plugin
 * descriptor, its option table, and init/fini/plan: the checks that turn
 * the configuration into a struct files.  The stream itself is in
 * files_backup.c, the restore in files_restore.c, the helpers both use in
 * files_util.c.
 *
 * Backup walks each configured path with archive_read_disk and writes a
 * pax tar whose members are named <basename of the path>/<relative path>.
 * Restore extracts such a tar into a fresh sibling directory,
 * <target>.zb-restore-XXXXXX, and renames it onto the target only when the
 * host commits, which it does after the SHA-256 of every byte matched the
 * manifest; so the target never holds a partial tree.
 *
 * Invariants of a struct files once init() succeeded:
 *  - every path is absolute and normalized (no repeated or trailing
 *    slash), is not "/" and has no `.' or `..' component (it need not
 *    exist: plan() checks that); no two share a basename, since members
 *    are named after it;
 *  - no exclude pattern is empty or starts with `/': patterns match paths
 *    relative to a root;
 *  - the stream name is [A-Za-z0-9._-]+ and does not start with `.'.
 */

/* Absent in the standalone check build, which passes the same -D flags. */
#ifdef HAVE_CONFIG_H
#include "zb-build.h"
#endif

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <zentoria/plugin.h>

#include "files.h"
#include "files_backup.h"
#include "files_restore.h"
#include "files_util.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION		"0.1.0"
#endif

/* ---- configuration ------------------------------------------------------ */

/* Collapse repeated slashes and drop trailing ones. */
static char *
path_normalize(const char *in)
{
	size_t	 i, n = 0;
	char	*out;

	out = malloc(strlen(in) + 1);
	if (out == NULL)
		return NULL;
	for (i = 0; in[i] != '\0'; i++) {
		if (in[i] == '/' && n > 0 && out[n - 1] == '/')
			continue;
		out[n++] = in[i];
	}
	while (n > 1 && out[n - 1] == '/')
		n--;
	out[n] = '\0';
	return out;
}

static int
check_path(struct files *f, size_t i, const char *given)
{
	const struct zb_host_api *h = f->host;
	const char	*p = f->paths[i];
	struct stat	 st;
	size_t		 j;

	if (strcmp(p, "/") == 0)
		return h->cfg_error(f->inst, "path",
		    "/ itself cannot be a path; list the directories under it");
	if (has_dot_component(p, 1))
		return h->cfg_error(f->inst, "path",
		    "%s: `.' and `..' components are not allowed", given);
	/*
	 * Missing is not a config error: on a fresh machine the config must
	 * load so that list and restore work; plan() refuses to back up.
	 */
	if (stat(p, &st) == -1)
		h->log(f->inst, ZB_LOG_WARN, "path %s: %s (backups fail until "
		    "it exists)", given, strerror(errno));
	/* Members are named after the basename: two equal ones would mix. */
	for (j = 0; j < i; j++) {
		if (strcmp(path_base(f->paths[j]), path_base(p)) == 0)
			return h->cfg_error(f->inst, "path",
			    "%s and %s would both be stored as %s/",
			    f->paths[j], p, path_base(p));
	}
	return ZB_OK;
}

static int
init_paths(struct files *f)
{
	const struct zb_host_api *h = f->host;
	const char	*p;
	size_t		 i, n;

	n = h->cfg_list_len(f->inst, "path");
	if (n == 0)
		return h->cfg_error(f->inst, "path",
		    "name at least one absolute path");
	f->paths = calloc(n, sizeof(*f->paths));
	if (f->paths == NULL)
		return h->cfg_error(f->inst, "path", "out of memory");
	for (i = 0; i < n; i++) {
		p = h->cfg_list_item(f->inst, "path", i);
		if (p == NULL || p[0] != '/')
			return h->cfg_error(f->inst, "path",
			    "%s: not an absolute path", p == NULL ? "" : p);
		f->paths[i] = path_normalize(p);
		if (f->paths[i] == NULL)
			return h->cfg_error(f->inst, "path", "out of memory");
		f->npaths = i + 1;
		if (check_path(f, i, p) != ZB_OK)
			return ZB_ERR;
	}
	return ZB_OK;
}

static int
init_excludes(struct files *f)
{
	const struct zb_host_api *h = f->host;
	const char	*p;
	size_t		 i, n;

	n = h->cfg_list_len(f->inst, "exclude");
	if (n == 0)
		return ZB_OK;
	f->excludes = calloc(n, sizeof(*f->excludes));
	if (f->excludes == NULL)
		return h->cfg_error(f->inst, "exclude", "out of memory");
	for (i = 0; i < n; i++) {
		p = h->cfg_list_item(f->inst, "exclude", i);
		if (p == NULL || p[0] == '\0')
			return h->cfg_error(f->inst, "exclude",
			    "empty pattern");
		/* Patterns see paths relative to the root, never "/...". */
		if (p[0] == '/')
			return h->cfg_error(f->inst, "exclude",
			    "%s: patterns match relative paths; drop the "
			    "leading /", p);
		f->excludes[i] = strdup(p);
		if (f->excludes[i] == NULL)
			return h->cfg_error(f->inst, "exclude",
			    "out of memory");
		f->nexcludes = i + 1;
	}
	return ZB_OK;
}

/* The stream name becomes a directory on every sink: keep it tame. */
static int
init_stream(struct files *f)
{
	const struct zb_host_api *h = f->host;
	const char	*s;

	s = h->cfg_str(f->inst, "stream");
	if (s == NULL)
		s = "files";
	if (s[0] == '\0' || s[0] == '.' ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != strlen(s))
		return h->cfg_error(f->inst, "stream",
		    "%s: use letters, digits, `.', `_' and `-', not starting "
		    "with `.'", s);
	f->stream = strdup(s);
	if (f->stream == NULL)
		return h->cfg_error(f->inst, "stream", "out of memory");
	return ZB_OK;
}

static void
files_fini(void *ctx)
{
	struct files	*f = ctx;

	if (f == NULL)
		return;
	strv_free(f->paths, f->npaths);
	strv_free(f->excludes, f->nexcludes);
	free(f->stream);
	free(f);
}

static int
files_init(const struct zb_host_api *host, struct zb_inst *inst, void **ctx)
{
	struct files	*f;

	/* Everything used here exists since ABI 1.5 (the fd adapters). */
	if (host->struct_size < offsetof(struct zb_host_api, fd_writer) +
	    sizeof(host->fd_writer)) {
		host->log(inst, ZB_LOG_ERROR, "host API table too small");
		return ZB_ERR;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL) {
		host->log(inst, ZB_LOG_ERROR, "out of memory");
		return ZB_ERR;
	}
	f->host = host;
	f->inst = inst;
	if (init_paths(f) != ZB_OK || init_excludes(f) != ZB_OK ||
	    init_stream(f) != ZB_OK) {
		files_fini(f);
		return ZB_ERR;
	}
	f->one_fs = host->cfg_bool(inst, "one_file_system");
	f->restore_devices = host->cfg_bool(inst, "restore_devices");
	f->restore_setid = host->cfg_bool(inst, "restore_setid");
	*ctx = f;
	return ZB_OK;
}

static int
files_plan(void *ctx, struct zb_io *run)
{
	struct files	*f = ctx;
	struct stat	 st;
	char		 msg[PATH_MAX + 128];
	size_t		 i;

	for (i = 0; i < f->npaths; i++) {
		if (stat(f->paths[i], &st) == -1) {
			snprintf(msg, sizeof(msg), "path %s: %s", f->paths[i],
			    strerror(errno));
			f->host->done(run, ZB_ERR, msg);
			return ZB_OK;
		}
	}
	if (f->host->add_stream(run, f->stream, "tar") != ZB_OK)
		f->host->done(run, ZB_ERR, "cannot declare the tar stream");
	else
		f->host->done(run, ZB_OK, NULL);
	return ZB_OK;
}

/* ---- descriptor --------------------------------------------------------- */

static const struct zb_option files_options[] = {
	{ .key = "path", .type = ZB_OPT_LIST, .required = 1,
	  .help = "absolute directories or files to back up" },
	{ .key = "exclude", .type = ZB_OPT_LIST,
	  .help = "fnmatch(3) patterns of relative paths or names to skip" },
	{ .key = "stream", .type = ZB_OPT_STRING, .def = "files",
	  .help = "name of the tar stream" },
	{ .key = "one_file_system", .type = ZB_OPT_BOOL, .def = "no",
	  .help = "do not descend into other mounted file systems" },
	{ .key = "restore_devices", .type = ZB_OPT_BOOL, .def = "no",
	  .help = "restore: recreate device nodes (skipped by default)" },
	{ .key = "restore_setid", .type = ZB_OPT_BOOL, .def = "no",
	  .help = "restore: keep set-user/group-ID bits (cleared by default)" },
	{ .key = NULL }
};

ZB_EXPORT const struct zb_plugin_desc zb_plugin = {
	.abi_version = ZB_PLUGIN_ABI_VERSION,
	.struct_size = sizeof(struct zb_plugin_desc),
	.abi_sig = ZB_ABI_SIG,
	.kind = ZB_KIND_SOURCE,
	.caps = ZB_CAP_PAUSE,
	.name = "files",
	.version = PACKAGE_VERSION,
	.description = "directories and files as one tar stream",
	.options = files_options,
	.init = files_init,
	.fini = files_fini,
	.plan = files_plan,
	.stream_open = files_backup_open,
	.restore_open = files_restore_open
};
