/* fcgiio.c - a bigger output buffer for libfcgi's response stream; the body's end mark. */
#include <fastcgi.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "fcgiio.h"
#include "log.h"
#include "xalloc.h"
#include "banned.h"

/* One record's worth: libfcgi sends a full buffer as one STDOUT record, and
 * a record holds at most 65535 bytes (the 8-byte header is in the buffer). */
#define OUT_BUF (FCGI_MAX_LENGTH + 1)

/* libfcgi 2.4's private state of a stream (fcgiapp.c, FCGX_Stream_Data). */
struct stream_data {
	unsigned char *buff;
	int bufflen;
	unsigned char *mBuff;
	unsigned char *buffStop;
	int type;
	int eorStop;
	int skip;
	int contentLen;
	int paddingLen;
	int isAnythingWritten;
	int rawWrite;
	FCGX_Request *reqDataPtr;
};

/* true if out looks like an empty libfcgi 2.4 STDOUT writer of req: the
 * request pointer and the buffer's pointers must all agree, which another
 * layout would not do by chance. */
static int writer_ok(const FCGX_Request *req, const FCGX_Stream *out,
		     const struct stream_data *d)
{
	return !out->isReader && !out->isClosed && d && d->reqDataPtr == req &&
	       d->type == FCGI_STDOUT && !d->rawWrite &&
	       d->bufflen > 0 && d->bufflen < OUT_BUF && d->mBuff &&
	       d->buff >= d->mBuff && d->buff < d->mBuff + 8 &&
	       d->buffStop == d->buff + d->bufflen && out->stop == d->buffStop &&
	       out->wrNext == d->buff + sizeof(FCGI_Header);
}

int fcgiio_grow_writer(FCGX_Request *req)
{
	FCGX_Stream *out = req->out;
	struct stream_data *d = out ? out->data : NULL;
	unsigned char *nb;

	if (!out)
		return 0;
	if (FCGX_FFlush(out) < 0)
		return -1;
	if (!writer_ok(req, out, d)) {
		static atomic_flag said = ATOMIC_FLAG_INIT;

		if (!atomic_flag_test_and_set(&said))
			log_warn("libfcgi's stream is not laid out as in 2.4: big responses "
				 "stay in 8 KB FastCGI records");
		return 0;
	}
	/* malloc's alignment covers the 8 bytes libfcgi aligns to; FreeStream
	 * frees mBuff, so the new buffer goes where the old one was */
	nb = xmalloc(OUT_BUF);
	free(d->mBuff);
	d->mBuff = d->buff = nb;
	d->bufflen = OUT_BUF;
	d->buffStop = nb + OUT_BUF;
	out->wrNext = nb + sizeof(FCGI_Header);
	out->stop = out->rdNext = d->buffStop;
	return 1;
}

void fcgiio_read_end(FCGX_Request *req)
{
	int flags;

	if (!req->in || FCGX_HasSeenEOF(req->in))
		return;
	flags = fcntl(req->ipcFd, F_GETFL);
	if (flags < 0 || fcntl(req->ipcFd, F_SETFL, flags | O_NONBLOCK) < 0)
		return;
	FCGX_GetChar(req->in);
	fcntl(req->ipcFd, F_SETFL, flags);
}
