/* sha256.h - SHA-256 (FIPS 180-4), for key fingerprints without an extra library. */
#ifndef SHA256_H
#define SHA256_H

#include <stddef.h>
#include <stdint.h>

/* Writes the 32-byte digest of p[0..n) into out. */
void sha256(const void *p, size_t n, unsigned char out[32]);

#endif
