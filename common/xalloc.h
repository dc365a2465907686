/* xalloc.h - allocation that never returns NULL.
 *
 * Out of memory is not a recoverable condition for a proxy worker: these
 * functions print a message and abort(), so callers carry no error branches. */
#ifndef XALLOC_H
#define XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
/* xstrdup(NULL) returns NULL. */
char *xstrdup(const char *s);
/* Copies n bytes and adds a NUL after them. */
char *xmemdupz(const void *p, size_t n);

#endif
