/* fcgiio.h - a bigger output buffer for libfcgi's response stream, and the
 * request body's end mark read without waiting.
 *
 * libfcgi writes a response 8 KB per system call and FastCGI record: 2,560
 * writes for a 20 MB download. It offers no way to choose the size, so this
 * swaps in a 64 KB buffer (the most one record holds) once a response shows
 * it is big. */
#ifndef FCGIIO_H
#define FCGIIO_H

#include <fcgiapp.h>

/* Flushes req->out, then gives it a 64 KB buffer. Relies on libfcgi 2.4's
 * private stream layout, checked first: on any other layout it changes
 * nothing and writes stay 8 KB. Returns 1 if the buffer was enlarged, 0 if
 * not, -1 if the flush failed (the front server is gone). */
int fcgiio_grow_writer(FCGX_Request *req);
/* Reads the end mark of a request body read to its last byte, if the front
 * server has sent it (lighttpd and nginx send it with that byte): the
 * socket is non-blocking for that one read, so one that has not costs
 * nothing but a read error on req->in (the connection then lingers on
 * close, as it did before). */
void fcgiio_read_end(FCGX_Request *req);

#endif
