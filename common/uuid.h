/* uuid.h - time-ordered UUIDs (version 7) for capture ids.
 *
 * Version 7 puts the creation time in the first 48 bits, so new captures land
 * at the end of the primary-key index and an id tells its partition. */
#ifndef UUID_H
#define UUID_H

#include <stdint.h>

#define UUID_STR_LEN 36

/* Writes a new v7 UUID for unix_ms into out as 36 lowercase chars and a NUL. */
void uuid_v7(char out[UUID_STR_LEN + 1], int64_t unix_ms);
/* Writes the 16 bytes b in canonical 8-4-4-4-12 lowercase form and a NUL. */
void uuid_format(const unsigned char b[16], char out[UUID_STR_LEN + 1]);
/* 1 if s is 36 chars of canonical (8-4-4-4-12 hex) form, else 0. */
int uuid_valid(const char *s);
/* The unix_ms stored in a v7 UUID string, or -1 if it is not one. */
int64_t uuid_v7_time(const char *s);

#endif
