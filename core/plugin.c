/*
 * plugin.c - loading plugins, checking their ABI, and their instances.
 *
 * A plugin is refused, with its path and the reason, when: dlopen fails;
 * it lacks the zb_plugin symbol; its ABI major version differs from ours;
 * its descriptor is shorter than ABI 1.0's; its abi_sig (type sizes,
 * libevent major) differs; it sets a required capability bit we do not
 * know; its name is malformed or differs from its file name; or it lacks
 * a callback its kind requires.  The descriptor is copied into a zeroed
 * struct of our size, so fields a smaller (older) plugin lacks are NULL.
 *
 * Before dlopen() runs any of a plugin's constructors, its file, the
 * directory it was named in (plugin_dir) and, after symlinks are
 * resolved, the directory that holds the real file must belong to root
 * or to our effective user and must not be writable by group or others,
 * like sshd's StrictModes.  The real file is opened and checked with
 * fstat(), and the open descriptor is what dlopen() loads (through
 * /proc/PID/fd/N), so the file checked is the file loaded.  The
 * descriptor stays open while the plugin is loaded: debuggers and
 * sanitizers find the plugin's symbols under that name.
 *
 * It also owns plugin instances (struct zb_inst): reference-counted, each
 * with its own copy of its section, shared by the configuration
 * generations whose section is unchanged (plugin_bind_config_from), and
 * finished with the plugin's fini() when the last reference goes.
 * Binding a configuration is two-phased: every section's keys are
 * checked first, then the vault: secrets they name are read (vault_kv.c:
 * one login and one read per path for the whole file), then the
 * instances are made, each copying its section with the values read.
 */
#include "zb-build.h"

#include <sys/stat.h>

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "plugin.h"
#include "util.h"
#include "vault_kv.h"

/* Size of the descriptor as of ABI 1.0: everything up to remove. */
#define DESC_MIN_SIZE	(offsetof(struct zb_plugin_desc, remove) + \
			    sizeof(((struct zb_plugin_desc *)0)->remove))

static TAILQ_HEAD(, plugin) plugins = TAILQ_HEAD_INITIALIZER(plugins);

static int
plugin_name_ok(const char *name)
{
	const char	*p;

	if (name == NULL || *name == '\0' || strlen(name) > 64)
		return 0;
	for (p = name; *p != '\0'; p++)
		if (!islower((unsigned char)*p) &&
		    !isdigit((unsigned char)*p) && *p != '_')
			return 0;
	return 1;
}

/* The file name without directory and ".so". */
static char *
file_stem(const char *path)
{
	const char	*base = strrchr(path, '/');
	size_t		 n;

	base = base != NULL ? base + 1 : path;
	n = strlen(base);
	if (n > 3 && strcmp(base + n - 3, ".so") == 0)
		n -= 3;
	return xstrndup(base, n);
}

static const char *
check_desc(const struct zb_plugin_desc *d, const char *path,
    char *why, size_t len)
{
	char	*stem;

	if (d->abi_version != ZB_PLUGIN_ABI_VERSION) {
		snprintf(why, len, "built for plugin ABI version %u, but this "
		    "zentoria-backupd uses ABI version %u; rebuild the plugin "
		    "against this version's zentoria/plugin.h",
		    d->abi_version, ZB_PLUGIN_ABI_VERSION);
		return why;
	}
	if (d->struct_size < DESC_MIN_SIZE) {
		snprintf(why, len, "descriptor is %u bytes, ABI %u needs at "
		    "least %zu", d->struct_size, ZB_PLUGIN_ABI_VERSION,
		    (size_t)DESC_MIN_SIZE);
		return why;
	}
	if (d->abi_sig != ZB_ABI_SIG) {
		snprintf(why, len, "ABI signature 0x%08x differs from ours "
		    "0x%08x (pointer/off_t/time_t sizes or libevent major "
		    "version)", d->abi_sig, ZB_ABI_SIG);
		return why;
	}
	if ((d->caps & ZB_CAP_REQUIRED_MASK) != 0) {
		snprintf(why, len, "requires capabilities 0x%08x this version "
		    "does not know", d->caps & ZB_CAP_REQUIRED_MASK);
		return why;
	}
	if (!plugin_name_ok(d->name)) {
		snprintf(why, len, "bad plugin name (expected [a-z0-9_]+)");
		return why;
	}
	stem = file_stem(path);
	if (strcmp(stem, d->name) != 0) {
		snprintf(why, len, "calls itself '%s' but its file is named "
		    "'%s.so'", d->name, stem);
		free(stem);
		return why;
	}
	free(stem);
	if ((d->kind & (ZB_KIND_SOURCE | ZB_KIND_SINK)) == 0 ||
	    d->init == NULL) {
		snprintf(why, len, "is neither a source nor a sink, or has no "
		    "init()");
		return why;
	}
	if ((d->kind & ZB_KIND_SOURCE) &&
	    (d->plan == NULL || d->stream_open == NULL)) {
		snprintf(why, len, "is a source without plan() and "
		    "stream_open()");
		return why;
	}
	if ((d->kind & ZB_KIND_SINK) && (d->put_open == NULL ||
	    d->get_open == NULL || d->list == NULL || d->remove == NULL)) {
		snprintf(why, len, "is a sink without put_open(), get_open(), "
		    "list() and remove()");
		return why;
	}
	if ((d->list_pending == NULL) != (d->remove_pending == NULL)) {
		snprintf(why, len, "has only one of list_pending() and "
		    "remove_pending() (ABI 1.3: both or neither)");
		return why;
	}
	return NULL;
}

/* Owner root or us, no write bit for group or others; else a reason. */
static const char *
check_owner_mode(const char *what, const char *name, const struct stat *st,
    char *why, size_t len)
{
	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		snprintf(why, len, "%s %s is owned by uid %u, not by root or "
		    "by uid %u (this process)", what, name,
		    (unsigned)st->st_uid, (unsigned)geteuid());
		return why;
	}
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(why, len, "%s %s is writable by %s (mode %04o); "
		    "chmod go-w it", what, name, (st->st_mode & S_IWOTH) ?
		    "others" : "group", (unsigned)(st->st_mode & 07777));
		return why;
	}
	return NULL;
}

static const char *
check_dir(const char *file, char *why, size_t len)
{
	const char	*slash = strrchr(file, '/');
	struct stat	 st;
	char		*dir;
	const char	*err = NULL;

	if (slash == NULL)
		dir = xstrdup(".");
	else if (slash == file)
		dir = xstrdup("/");
	else
		dir = xstrndup(file, slash - file);
	if (stat(dir, &st) == -1) {
		snprintf(why, len, "directory %s: %s", dir, strerror(errno));
		err = why;
	} else
		err = check_owner_mode("directory", dir, &st, why, len);
	free(dir);
	return err;
}

/*
 * Open the plugin file for loading: check the directory it is named in,
 * the real file and its directory.  Returns the open descriptor, or -1
 * with *err set (a reason, or NULL when errno says why).
 */
static int
open_checked(const char *path, const char **err, char *why, size_t len)
{
	struct stat	 st;
	char		*real;
	int		 fd;

	*err = NULL;
	real = realpath(path, NULL);
	if (real == NULL)
		return -1;
	fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1) {
		free(real);
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(why, len, "%s: %s", real, strerror(errno));
		*err = why;
	} else if (!S_ISREG(st.st_mode)) {
		snprintf(why, len, "%s is not a regular file", real);
		*err = why;
	} else
		*err = check_owner_mode("file", real, &st, why, len);
	if (*err == NULL)
		*err = check_dir(path, why, len);	/* plugin_dir */
	if (*err == NULL)
		*err = check_dir(real, why, len);
	free(real);
	if (*err != NULL) {
		close(fd);
		return -1;
	}
	return fd;
}

struct plugin *
plugin_load(const char *path)
{
	const struct zb_plugin_desc	*d;
	struct plugin			*p;
	const char			*err;
	char				 why[512], fdpath[64];
	void				*dl;
	size_t				 n;
	int				 fd;

	fd = open_checked(path, &err, why, sizeof(why));
	if (fd == -1) {
		if (err != NULL)
			log_warnx("%s: plugin refused: %s", path, err);
		else
			log_warnx("%s: cannot load plugin: %s", path,
			    strerror(errno));
		return NULL;
	}
	/* The file checked is the file loaded; /proc/PID for debuggers. */
	snprintf(fdpath, sizeof(fdpath), "/proc/%ld/fd/%d", (long)getpid(),
	    fd);
	if (access(fdpath, F_OK) == -1) {
		log_warnx("%s: cannot load plugin: %s: %s (is /proc mounted?)",
		    path, fdpath, strerror(errno));
		close(fd);
		return NULL;
	}
	dl = dlopen(fdpath, RTLD_NOW | RTLD_LOCAL);
	if (dl == NULL) {
		log_warnx("%s: cannot load plugin: %s", path, dlerror());
		close(fd);
		return NULL;
	}
	d = dlsym(dl, "zb_plugin");
	if (d == NULL) {
		log_warnx("%s: not a zentoria-backupd plugin (no zb_plugin "
		    "symbol)", path);
		dlclose(dl);
		close(fd);
		return NULL;
	}
	p = xcalloc(1, sizeof(*p));
	n = d->struct_size < sizeof(p->desc) ? d->struct_size :
	    sizeof(p->desc);
	if (d->abi_version == ZB_PLUGIN_ABI_VERSION && n >= DESC_MIN_SIZE)
		memcpy(&p->desc, d, n);
	else
		memcpy(&p->desc, d, offsetof(struct zb_plugin_desc, abi_sig));
	err = check_desc(&p->desc, path, why, sizeof(why));
	if (err != NULL) {
		log_warnx("%s: plugin refused: %s", path, err);
		free(p);
		dlclose(dl);
		close(fd);
		return NULL;
	}
	p->dl = dl;
	p->fd = fd;
	p->path = xstrdup(path);
	return p;
}

void
plugin_unload(struct plugin *p)
{
	if (p == NULL)
		return;
	dlclose(p->dl);
	close(p->fd);
	free(p->path);
	free(p);
}

struct plugin *
plugin_get(const char *dir, const char *name)
{
	struct plugin	*p;
	char		*path;

	TAILQ_FOREACH(p, &plugins, entry)
		if (strcmp(p->desc.name, name) == 0)
			return p;
	if (!plugin_name_ok(name)) {
		log_warnx("'%s' is not a plugin name ([a-z0-9_]+)", name);
		return NULL;
	}
	path = xasprintf("%s/%s.so", dir, name);
	p = plugin_load(path);
	free(path);
	if (p != NULL)
		TAILQ_INSERT_TAIL(&plugins, p, entry);
	return p;
}

void
plugin_unload_all(void)
{
	struct plugin	*p;

	for (;;) {
		p = TAILQ_FIRST(&plugins);
		if (p == NULL)
			break;
		TAILQ_REMOVE(&plugins, p, entry);
		plugin_unload(p);
	}
}

struct zb_inst *
plugin_inst_ref(struct zb_inst *inst)
{
	if (inst != NULL)
		inst->refs++;
	return inst;
}

void
plugin_inst_unref(struct zb_inst *inst)
{
	if (inst == NULL || --inst->refs > 0)
		return;
	if (inst->initialised && inst->plugin->desc.fini != NULL)
		inst->plugin->desc.fini(inst->ctx);
	config_section_free(inst->sec);
	free(inst->path);
	free(inst->prefix);
	free(inst->key_prefix);
	free(inst);
}

/*
 * old's section titled like sec, when it has the same plugin and keys and
 * an instance made as init asks; else NULL.
 */
static struct zb_inst *
reusable(const struct zb_config *old, const struct cfg_section *sec, int init)
{
	struct cfg_section	*o;

	if (old == NULL)
		return NULL;
	TAILQ_FOREACH(o, &old->sections, entry) {
		if (strcmp(o->title, sec->title) != 0)
			continue;
		if (o->inst == NULL || o->inst->initialised != init ||
		    !config_section_same(o, sec))
			return NULL;
		return o->inst;
	}
	return NULL;
}

/* Take over inst for sec: its error messages now name cfg's lines. */
static void
take_over(struct zb_config *cfg, struct cfg_section *sec,
    struct zb_inst *inst)
{
	struct cfg_kv	*kv, *now;

	free(inst->path);
	inst->path = xstrdup(cfg->path);
	inst->sec->line = sec->line;
	TAILQ_FOREACH(kv, &inst->sec->kvs, entry) {
		now = config_kv(sec, kv->key);
		if (now != NULL)
			kv->line = now->line;
	}
	sec->inst = plugin_inst_ref(inst);
	log_debug("%s: %s: unchanged, its plugin instance carries over",
	    cfg->path, inst->prefix);
}

/* Whether p's option table has key (then the plugin owns that key). */
static int
plugin_declares(const struct plugin *p, const char *key)
{
	const struct zb_option	*o;

	for (o = p->desc.options; o != NULL && o->key != NULL; o++)
		if (strcmp(o->key, key) == 0)
			return 1;
	return 0;
}

/*
 * A sink's core `prefix =': folder names (valid_name) separated by
 * single slashes, none leading or trailing; 0, or -1 (logged).
 */
static int
check_prefix(struct zb_config *cfg, struct cfg_section *sec,
    struct cfg_kv *kv)
{
	char	*copy, *part, *rest;
	int	 ok = kv->value[0] != '\0';

	copy = xstrdup(kv->value);
	for (rest = copy; ok && rest != NULL; ) {
		part = rest;
		rest = strchr(rest, '/');
		if (rest != NULL)
			*rest++ = '\0';
		ok = valid_name(part);
	}
	free(copy);
	if (ok)
		return 0;
	config_error(cfg, sec, kv, kv->key, "'%s' is not a folder path "
	    "(names of letters, digits, '_', '.', '-', not starting with "
	    "'.', separated by single '/', none leading or trailing)",
	    kv->value);
	return -1;
}

/*
 * The first half of binding sec: its plugin, loaded, of the right kind,
 * and its keys checked against the plugin's options (which marks the
 * vault: references); *pp gets the plugin.  Returns the problems.
 */
static int
check_section(struct zb_config *cfg, struct cfg_section *sec,
    struct plugin **pp)
{
	struct cfg_kv	*kv = config_kv(sec, "plugin");
	struct plugin	*p;
	uint32_t	 want;
	int		 errors;

	*pp = NULL;
	if (kv == NULL)
		return 1;	/* reported by config_load */
	p = plugin_get(cfg->plugin_dir, kv->value);
	if (p == NULL) {
		config_error(cfg, sec, kv, "plugin", "cannot use plugin '%s' "
		    "from %s (see above)", kv->value, cfg->plugin_dir);
		return 1;
	}
	want = sec->kind == CFG_SOURCE ? ZB_KIND_SOURCE : ZB_KIND_SINK;
	if ((p->desc.kind & want) == 0) {
		config_error(cfg, sec, kv, "plugin", "plugin '%s' cannot be a "
		    "%s", kv->value, want == ZB_KIND_SOURCE ? "source" :
		    "sink");
		return 1;
	}
	*pp = p;
	errors = config_check_keys(cfg, sec, config_core_options(sec->kind),
	    p->desc.options);
	kv = config_kv(sec, "prefix");
	if (sec->kind == CFG_SINK && kv != NULL &&
	    !plugin_declares(p, "prefix") && check_prefix(cfg, sec, kv) == -1)
		errors++;
	return errors;
}

/*
 * The second half, once its vault: secrets are resolved: take over old's
 * instance of an unchanged section, or make one (and init it).
 */
static int
bind_section(struct zb_config *cfg, const struct zb_config *old,
    struct cfg_section *sec, struct plugin *p, int init)
{
	struct cfg_kv	*kv;
	struct zb_inst	*inst;

	inst = reusable(old, sec, init);
	if (inst != NULL) {
		take_over(cfg, sec, inst);
		return 0;
	}
	inst = xcalloc(1, sizeof(*inst));
	inst->refs = 1;
	inst->plugin = p;
	inst->path = xstrdup(cfg->path);
	inst->sec = config_section_dup(sec);
	inst->prefix = xasprintf("[%s]", sec->title);
	kv = config_kv(sec, "timeout");
	inst->timeout_ms = kv != NULL ? kv->num : 300000;
	kv = config_kv(sec, "prefix");
	if (sec->kind == CFG_SINK && kv != NULL &&
	    !plugin_declares(p, "prefix"))
		inst->key_prefix = xasprintf("%s/", kv->value);
	sec->inst = inst;
	if (!init)
		return 0;
	if (p->desc.init(hostapi_get(), inst, &inst->ctx) != ZB_OK) {
		config_error(cfg, sec, NULL, NULL, "plugin '%s' refused this "
		    "configuration (see above)", p->desc.name);
		return 1;
	}
	inst->initialised = 1;
	return 0;
}

static int
is_plugin_section(const struct cfg_section *sec)
{
	return sec->kind == CFG_SOURCE || sec->kind == CFG_SINK;
}

int
plugin_check_config(struct zb_config *cfg)
{
	struct cfg_section	*sec;
	struct plugin		*p;
	int			 errors = 0, n;

	TAILQ_FOREACH(sec, &cfg->sections, entry) {
		if (!is_plugin_section(sec))
			continue;
		n = check_section(cfg, sec, &p);
		sec->check_failed = n > 0;
		errors += n;
	}
	return errors;
}

int
plugin_bind_checked(struct zb_config *cfg, const struct zb_config *old,
    int init, int errors)
{
	struct cfg_section	*sec;
	struct cfg_kv		*kv;
	struct plugin		*p;
	int			 unresolved;

	/*
	 * The sections whose keys passed and whose vault: secrets were read
	 * get instances, even when others have problems: their init() may
	 * find more, and every problem is reported at once.
	 */
	TAILQ_FOREACH(sec, &cfg->sections, entry) {
		if (!is_plugin_section(sec) || sec->inst != NULL ||
		    sec->check_failed)
			continue;
		unresolved = 0;
		TAILQ_FOREACH(kv, &sec->kvs, entry)
			if (kv->vault && kv->secret == NULL)
				unresolved = 1;
		if (unresolved)
			continue;
		p = plugin_get(cfg->plugin_dir,
		    config_kv(sec, "plugin")->value);
		errors += bind_section(cfg, old, sec, p, init);
	}
	if (errors > 0)
		log_warnx("%s: %d error%s", cfg->path, errors,
		    errors == 1 ? "" : "s");
	return errors;
}

int
plugin_bind_config_from(struct zb_config *cfg, const struct zb_config *old,
    int init)
{
	int	 errors;

	/*
	 * Every section's keys first, then the vault: secrets they name
	 * (one login, one read per path, however many sections), then the
	 * instances, which copy the resolved values.
	 */
	errors = plugin_check_config(cfg);
	errors += vault_kv_resolve(cfg);
	return plugin_bind_checked(cfg, old, init, errors);
}

int
plugin_bind_config(struct zb_config *cfg, int init)
{
	return plugin_bind_config_from(cfg, NULL, init);
}

void
plugin_unbind_config(struct zb_config *cfg)
{
	struct cfg_section	*sec;

	TAILQ_FOREACH(sec, &cfg->sections, entry) {
		plugin_inst_unref(sec->inst);
		sec->inst = NULL;
	}
}
