/* log.h - leveled logging to stderr (lighttpd forwards it to its error log).
 *
 * Lines read "2026-11-26T06:07:23.123Z proxy_fcgi ERROR message". Callers
 * never pass secrets: keys are masked before they reach a log call. */
#ifndef LOG_H
#define LOG_H

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

/* Names the program in each line and sets the lowest level printed. */
void log_init(const char *prog, enum log_level level);
/* Parses DEBUG, INFO, WARNING/WARN, ERROR (any case); -1 if unknown. */
int log_level_parse(const char *s);
int log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
