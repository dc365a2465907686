/* log.c - leveled logging to stderr, one write per line so threads don't interleave. */
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "banned.h"

static const char *log_prog = "capture";
static enum log_level log_min = LOG_LEVEL_INFO;
static const char *const level_names[] = { "DEBUG", "INFO", "WARN", "ERROR" };

void log_init(const char *prog, enum log_level level)
{
	log_prog = prog;
	log_min = level;
}

int log_level_parse(const char *s)
{
	if (!strcasecmp(s, "DEBUG"))
		return LOG_LEVEL_DEBUG;
	if (!strcasecmp(s, "INFO"))
		return LOG_LEVEL_INFO;
	if (!strcasecmp(s, "WARN") || !strcasecmp(s, "WARNING"))
		return LOG_LEVEL_WARN;
	if (!strcasecmp(s, "ERROR"))
		return LOG_LEVEL_ERROR;
	return -1;
}

int log_enabled(enum log_level level)
{
	return level >= log_min;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n, m;

	if (!log_enabled(level))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, log_prog,
		     level_names[level]);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}
