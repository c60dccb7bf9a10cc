/*
 * plugin.h - loading plugins, checking their ABI, and their instances.
 */
#ifndef ZB_PLUGIN_H
#define ZB_PLUGIN_H

#include <sys/queue.h>

#include "config.h"
#include "zentoria/plugin.h"

struct plugin {
	TAILQ_ENTRY(plugin)	 entry;
	char			*path;
	void			*dl;
	int			 fd;	/* the checked file, loaded by dlopen */
	struct zb_plugin_desc	 desc;	/* zero-extended copy */
};

/*
 * One configured [source:NAME] or [sink:NAME]: reference-counted, held by
 * every generation (struct zb_config) whose section it was built from or
 * taken over by (config_reload), and by whoever else takes a reference
 * for as long as it uses it.  It owns a copy of its section, so that it
 * outlives the generation that created it; the host API adds the
 * plugin's defaults to that copy, never to a generation's section.
 */
struct zb_inst {
	int			 refs;
	struct plugin		*plugin;
	char			*path;		/* the config file, for errors */
	struct cfg_section	*sec;		/* its own copy */
	char			*prefix;	/* "[sink:local]" */
	void			*ctx;		/* from init() */
	int			 initialised;
	int64_t			 timeout_ms;	/* sinks */
	/*
	 * Sinks: the core's `prefix =' as "Daily/" (every key of the sink
	 * lives under it, sinkio.c), or NULL: none, or the plugin declares
	 * its own `prefix' option and applies it itself (s3).
	 */
	char			*key_prefix;
};

/*
 * Load and check one .so file.  On refusal, logs "PATH: reason" (naming
 * both ABI versions where they differ, or the file or directory whose
 * owner or mode is wrong) and returns NULL.
 */
struct plugin	*plugin_load(const char *path);
void		 plugin_unload(struct plugin *);
/* Load "<dir>/<name>.so" once and keep it in the registry. */
struct plugin	*plugin_get(const char *dir, const char *name);
void		 plugin_unload_all(void);

/*
 * Load the plugin of every source and sink section, check the section's
 * keys against its option table and create the instances.  With init
 * set, also call each plugin's init().  Returns the number of errors
 * (each logged).
 */
int		 plugin_bind_config(struct zb_config *, int init);
/*
 * The same, but a section of cfg that config_section_same() finds equal
 * to the section of that title in old (NULL: none) takes a reference to
 * old's instance instead (when it was initialised as init asks).
 */
int		 plugin_bind_config_from(struct zb_config *cfg,
		    const struct zb_config *old, int init);
/*
 * plugin_bind_config_from() in two halves, with the vault: secrets
 * resolved in between by the caller (vault_kv.h; the daemon's reload
 * fetches them off the loop): check every section's keys against its
 * plugin (returns the problems, logged), then make or take over the
 * instances of the sections that passed their check and whose vault:
 * secrets were read (the others' problems are already counted in errors:
 * logged as a total with the new ones when there are any; returns that
 * total).
 */
int		 plugin_check_config(struct zb_config *);
int		 plugin_bind_checked(struct zb_config *cfg,
		    const struct zb_config *old, int init, int errors);
/* Drop cfg's references to its instances (config_unref does it too). */
void		 plugin_unbind_config(struct zb_config *);
/* Another reference to inst (returned); NULL stays NULL. */
struct zb_inst	*plugin_inst_ref(struct zb_inst *);
/* Drop one; the last calls the plugin's fini() and frees the instance. */
void		 plugin_inst_unref(struct zb_inst *);

const struct zb_host_api *hostapi_get(void);

#endif
