/* config.c - option table, config.env parser and environment overrides. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "log.h"
#include "xalloc.h"
#include "banned.h"

enum opt_type { OPT_STR, OPT_HOST, OPT_URL, OPT_PORT, OPT_INT, OPT_LONG, OPT_SIZE,
		OPT_BOOL, OPT_LEVEL };

struct opt {
	const char *name;
	enum opt_type type;
	size_t offset;
	const char *def;
	long min, max;
	bool secret;
};

#define O(name, type, field, def, min, max, secret) \
	{ name, type, offsetof(struct config, field), def, min, max, secret }

static const struct opt opts[] = {
	O("PROXY_HOST", OPT_HOST, proxy_host, "127.0.0.1", 0, 0, false),
	O("PROXY_PORT", OPT_PORT, proxy_port, "8080", 1, 65535, false),
	O("WEB_HOST", OPT_HOST, web_host, "127.0.0.1", 0, 0, false),
	O("WEB_PORT", OPT_PORT, web_port, "8081", 1, 65535, false),
	O("OPENAI_API_BASE", OPT_URL, openai_api_base, "https://api.openai.com", 0, 0, false),
	O("PASSTHROUGH_API_KEY", OPT_BOOL, passthrough_api_key, "true", 0, 0, false),
	O("MASK_API_KEY_IN_LOGS", OPT_BOOL, mask_api_key, "true", 0, 0, false),
	O("DEFAULT_API_KEY", OPT_STR, default_api_key, "", 0, 0, true),
	O("MAX_REQUESTS_HISTORY", OPT_LONG, max_requests_history, "1000000", 0, LONG_MAX, false),
	O("MAX_REQUESTS_AGE_DAYS", OPT_LONG, max_requests_age_days, "0", 0, 100000, false),
	O("PAGE_SIZE", OPT_INT, page_size, "20", 1, 500, false),
	O("LOG_LEVEL", OPT_LEVEL, log_level, "INFO", 0, 0, false),
	O("DATABASE_URL", OPT_STR, database_url, "", 0, 0, true),
	O("DASHBOARD_DATABASE_URL", OPT_STR, dashboard_database_url, "", 0, 0, true),
	O("INSTANCE_NAME", OPT_STR, instance_name, "", 0, 0, false),
	O("PROXY_THREADS", OPT_INT, proxy_threads, "32", 1, 1024, false),
	O("CAPTURE_BODY_MAX", OPT_SIZE, capture_body_max, "4M", 0, 1L << 30, false),
	O("MAX_REQUEST_BODY", OPT_SIZE, max_request_body, "512M", 1, 4L << 30, false),
	O("UPSTREAM_CONNECT_TIMEOUT", OPT_INT, upstream_connect_timeout, "10", 1, 3600, false),
	O("UPSTREAM_IDLE_TIMEOUT", OPT_INT, upstream_idle_timeout, "300", 1, 86400, false),
	O("UPSTREAM_TIMEOUT", OPT_INT, upstream_timeout, "0", 0, 86400, false),
	O("CAPTURE_QUEUE_MAX", OPT_INT, capture_queue_max, "20000", 1, 10000000, false),
	O("SPOOL_DIR", OPT_STR, spool_dir, "var/spool", 0, 0, false),
	O("SPOOL_MAX", OPT_SIZE, spool_max, "1G", 1L << 20, 1L << 40, false),
	O("DASHBOARD_AUTH_FILE", OPT_STR, dashboard_auth_file, "", 0, 0, false),
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static const struct opt *opt_find(const char *name)
{
	size_t i;

	for (i = 0; i < NOPTS; i++)
		if (!strcmp(opts[i].name, name))
			return &opts[i];
	return NULL;
}

long config_parse_size(const char *s)
{
	char *end;
	long v, mult = 1;

	errno = 0;
	if (!isdigit((unsigned char)*s))
		return -1;
	v = strtol(s, &end, 10);
	if (errno)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case '\0': break;
	case 'K': mult = 1024L; end++; break;
	case 'M': mult = 1024L * 1024; end++; break;
	case 'G': mult = 1024L * 1024 * 1024; end++; break;
	default: return -1;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || v > LONG_MAX / mult)
		return -1;
	return v * mult;
}

static int parse_long(const char *s, long *out)
{
	char *end;

	errno = 0;
	if (!*s || isspace((unsigned char)*s))
		return -1;
	*out = strtol(s, &end, 10);
	return (errno || *end) ? -1 : 0;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "1", "yes", "on" };
	static const char *const no[] = { "false", "0", "no", "off" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i]))
			return *out = true, 0;
		if (!strcasecmp(s, no[i]))
			return *out = false, 0;
	}
	return -1;
}

static int valid_host(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr(".-:[]_", *s))
			return 0;
	return 1;
}

static int valid_url(const char *s)
{
	const char *p = !strncmp(s, "http://", 7) ? s + 7 :
			!strncmp(s, "https://", 8) ? s + 8 : NULL;

	if (!p || !*p || *p == '/')
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return 0;
	return 1;
}

static int set_string(const struct opt *o, struct config *c, const char *v)
{
	char **field = (char **)((char *)c + o->offset);
	char *copy = xstrdup(v);
	size_t n = strlen(copy);

	if (o->type == OPT_URL)
		while (n && copy[n - 1] == '/')
			copy[--n] = '\0';
	free(*field);
	*field = copy;
	return 0;
}

static int set_number(const struct opt *o, struct config *c, const char *v,
		      char *err, size_t errlen)
{
	long n;

	if (o->type == OPT_SIZE) {
		n = config_parse_size(v);
		if (n < 0) {
			snprintf(err, errlen, "%s: '%s' is not a size (try 4096, 64K, 4M, 1G)",
				 o->name, v);
			return -1;
		}
	} else if (parse_long(v, &n)) {
		snprintf(err, errlen, "%s: '%s' is not a whole number", o->name, v);
		return -1;
	}
	if (n < o->min || n > o->max) {
		snprintf(err, errlen, "%s: %ld is out of range (%ld to %ld)",
			 o->name, n, o->min, o->max);
		return -1;
	}
	if (o->type == OPT_LONG || o->type == OPT_SIZE)
		*(long *)((char *)c + o->offset) = n;
	else
		*(int *)((char *)c + o->offset) = (int)n;
	return 0;
}

int config_set(struct config *c, const char *name, const char *v,
	       char *err, size_t errlen)
{
	const struct opt *o = opt_find(name);
	bool b;
	int level;

	if (!o) {
		snprintf(err, errlen, "unknown option '%s'", name);
		return -1;
	}
	switch (o->type) {
	case OPT_HOST:
		if (!valid_host(v)) {
			snprintf(err, errlen, "%s: '%s' is not a host name or address", name, v);
			return -1;
		}
		return set_string(o, c, v);
	case OPT_URL:
		if (!valid_url(v)) {
			snprintf(err, errlen, "%s: '%s' is not an http:// or https:// URL", name, v);
			return -1;
		}
		return set_string(o, c, v);
	case OPT_STR:
		return set_string(o, c, v);
	case OPT_BOOL:
		if (parse_bool(v, &b)) {
			snprintf(err, errlen, "%s: '%s' is not true or false", name, v);
			return -1;
		}
		*(bool *)((char *)c + o->offset) = b;
		return 0;
	case OPT_LEVEL:
		level = log_level_parse(v);
		if (level < 0) {
			snprintf(err, errlen, "%s: '%s' is not DEBUG, INFO, WARNING or ERROR", name, v);
			return -1;
		}
		*(int *)((char *)c + o->offset) = level;
		return 0;
	default:
		return set_number(o, c, v, err, errlen);
	}
}

/* Strips quotes and a trailing " # comment" from a value in place. */
static char *clean_value(char *v)
{
	size_t n;
	char *hash;

	while (isspace((unsigned char)*v))
		v++;
	n = strlen(v);
	if (n >= 2 && (v[0] == '"' || v[0] == '\'') && strchr(v + 1, v[0])) {
		char *close = strchr(v + 1, v[0]);

		*close = '\0';
		return v + 1;
	}
	hash = strstr(v, " #");
	if (!hash)
		hash = strstr(v, "\t#");
	if (hash)
		*hash = '\0';
	if (v[0] == '#')
		v[0] = '\0';
	n = strlen(v);
	while (n && isspace((unsigned char)v[n - 1]))
		v[--n] = '\0';
	return v;
}

static int load_line(struct config *c, char *line, const char *path, int lineno,
		     char *err, size_t errlen)
{
	char msg[512];
	char *eq, *name = line;
	size_t n;

	while (isspace((unsigned char)*name))
		name++;
	if (!*name || *name == '#')
		return 0;
	if (!strncmp(name, "export", 6) && isspace((unsigned char)name[6])) {
		name += 7;
		while (isspace((unsigned char)*name))
			name++;
	}
	eq = strchr(name, '=');
	if (!eq) {
		snprintf(err, errlen, "%s:%d: expected NAME=value", path, lineno);
		return -1;
	}
	*eq = '\0';
	n = strlen(name);
	while (n && isspace((unsigned char)name[n - 1]))
		name[--n] = '\0';
	if (getenv(name))
		return 0; /* the environment wins; it is applied later */
	if (config_set(c, name, clean_value(eq + 1), msg, sizeof(msg))) {
		snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
		return -1;
	}
	return 0;
}

static int load_file(struct config *c, const char *path, bool required,
		     char *err, size_t errlen)
{
	char line[4096];
	FILE *f = fopen(path, "r");
	int lineno = 0, rc = 0;

	if (!f) {
		if (!required && errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (!rc && fgets(line, sizeof(line), f)) {
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		rc = load_line(c, line, path, lineno, err, errlen);
	}
	fclose(f);
	return rc;
}

static int load_env(struct config *c, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < NOPTS; i++) {
		const char *v = getenv(opts[i].name);

		if (v && config_set(c, opts[i].name, v, err, errlen))
			return -1;
	}
	return 0;
}

int config_load(struct config *c, const char *path, bool path_required,
		char *err, size_t errlen)
{
	size_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < NOPTS; i++)
		if (config_set(c, opts[i].name, opts[i].def, err, errlen))
			return -1;
	if (path && load_file(c, path, path_required, err, errlen))
		return -1;
	return load_env(c, err, errlen);
}

static void print_quoted(FILE *out, const char *s)
{
	fputc('\'', out);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", out);
		else
			fputc(*s, out);
	}
	fputc('\'', out);
}

static void print_value(const struct opt *o, const struct config *c, FILE *out)
{
	static const char *const levels[] = { "DEBUG", "INFO", "WARNING", "ERROR" };
	const char *p = (const char *)c + o->offset;

	switch (o->type) {
	case OPT_STR: case OPT_HOST: case OPT_URL:
		print_quoted(out, *(char *const *)p);
		break;
	case OPT_BOOL:
		fputs(*(const bool *)p ? "true" : "false", out);
		break;
	case OPT_LEVEL:
		fputs(levels[*(const int *)p], out);
		break;
	case OPT_LONG: case OPT_SIZE:
		fprintf(out, "%ld", *(const long *)p);
		break;
	default:
		fprintf(out, "%d", *(const int *)p);
	}
}

void config_print_shell(const struct config *c, FILE *out, bool with_secrets)
{
	size_t i;

	for (i = 0; i < NOPTS; i++) {
		if (opts[i].secret && !with_secrets)
			continue;
		fprintf(out, "%s=", opts[i].name);
		print_value(&opts[i], c, out);
		fputc('\n', out);
	}
}

void config_release(struct config *c)
{
	size_t i;

	for (i = 0; i < NOPTS; i++) {
		if (opts[i].type == OPT_STR || opts[i].type == OPT_HOST ||
		    opts[i].type == OPT_URL) {
			char **field = (char **)((char *)c + opts[i].offset);

			free(*field);
			*field = NULL;
		}
	}
}
