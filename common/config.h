/* config.h - the service's options: defaults, config.env, then the environment.
 *
 * One table in config.c names every option, its type, default and range;
 * parsing, validation, --print-config and the README's table all follow it.
 * A bad value is an error naming the option, never a silent default. */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct config {
	char *proxy_host;
	int proxy_port;
	char *web_host;
	int web_port;
	char *openai_api_base;       /* no trailing slash */
	bool passthrough_api_key;
	bool mask_api_key;           /* MASK_API_KEY_IN_LOGS */
	char *default_api_key;
	long max_requests_history;   /* 0 = keep everything */
	long max_requests_age_days;  /* 0 = no age limit */
	int page_size;
	int log_level;               /* enum log_level */
	char *database_url;          /* empty = embedded cluster under var/ */
	char *dashboard_database_url;/* empty = database_url */
	char *instance_name;         /* empty = host name */
	int proxy_threads;
	long capture_body_max;       /* bytes of each body kept in a capture */
	long max_request_body;       /* bytes; larger requests get 413 */
	int upstream_connect_timeout;/* seconds */
	int upstream_idle_timeout;   /* seconds without a byte from upstream */
	int upstream_timeout;        /* seconds for a whole call; 0 = none */
	int capture_queue_max;       /* captures waiting for the database */
	char *spool_dir;             /* captures wait here while the database is away */
	long spool_max;              /* bytes */
	char *dashboard_auth_file;   /* htpasswd-style file; empty = no login */
};

/* Fills c with defaults, then values from the file at path (skipped when path
 * is NULL or the file does not exist and was not asked for explicitly), then
 * from the environment. Returns 0, or -1 with a message naming the option (and
 * file line) in err. On error c still holds allocated strings: free it. */
int config_load(struct config *c, const char *path, bool path_required,
		char *err, size_t errlen);

/* Parses one NAME=VALUE into c; -1 with a message if NAME is unknown or VALUE
 * is bad. Used by config_load and the fuzzer. */
int config_set(struct config *c, const char *name, const char *value,
	       char *err, size_t errlen);

/* Prints every option as NAME='value' (shell-quoted, for eval by scripts);
 * secrets are printed only when with_secrets is true. */
void config_print_shell(const struct config *c, FILE *out, bool with_secrets);

void config_release(struct config *c);

/* Parses sizes such as 4096, 64K, 4M, 1G; -1 if not a size. */
long config_parse_size(const char *s);

#endif
