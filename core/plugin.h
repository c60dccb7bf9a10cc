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

/* One configured [source:NAME] or [sink:NAME]. */
struct zb_inst {
	struct plugin		*plugin;
	struct zb_config	*cfg;
	struct cfg_section	*sec;
	char			*prefix;	/* "[sink:local]" */
	void			*ctx;		/* from init() */
	int			 initialised;
	int64_t			 timeout_ms;	/* sinks */
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
void		 plugin_unbind_config(struct zb_config *);

const struct zb_host_api *hostapi_get(void);

#endif
