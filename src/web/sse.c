/* The live log as Server-Sent Events (web_int.h): a response whose body never ends, produced by
 * libmicrohttpd on the connection's own thread. Each ring line becomes one event: "log" for the
 * bot's output, "notice" for the dashboard's (bot started, stopped, crashed, job finished), with
 * the line number as the event id so a reconnecting browser resumes where it stopped
 * (Last-Event-ID). A comment line every 15 s keeps the connection alive through proxies. */
#include <microhttpd.h>
#include <string.h>

#include "web/web_int.h"

typedef struct sse {
  web_ring *ring;
  uint64_t after;
  buf pending; /* formatted bytes not yet handed to MHD */
  size_t off;
} sse;

/* Appends "event: k\nid: n\ndata: line\n\n"; a line's own newlines become separate data lines. */
static int format_event(buf *out, uint64_t seq, web_line_kind kind, const char *line) {
  int rc =
      buf_printf(out, "event: %s\nid: %llu\ndata: ", kind == WEB_LINE_NOTICE ? "notice" : "log",
                 (unsigned long long)seq);
  for (const char *p = line; *p && !rc; p++) {
    if (*p == '\r') continue;
    rc = *p == '\n' ? buf_puts(out, "\ndata: ") : buf_putc(out, *p);
  }
  if (!rc) rc = buf_puts(out, "\n\n");
  return rc;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *dst, size_t max) {
  (void)pos;
  sse *s = cls;
  if (s->off == s->pending.len) {
    buf_reset(&s->pending);
    s->off = 0;
    char line[WEB_LINE_MAX + 1];
    uint64_t seq;
    web_line_kind kind;
    int got = web__ring_next(s->ring, s->after, &seq, &kind, line, sizeof line, 15000);
    int rc;
    if (got < 0) return MHD_CONTENT_READER_END_OF_STREAM;
    if (got) {
      s->after = seq;
      rc = format_event(&s->pending, seq, kind, line);
    } else {
      rc = buf_puts(&s->pending, ": keep-alive\n\n");
    }
    if (rc) return MHD_CONTENT_READER_END_WITH_ERROR;
  }
  size_t n = s->pending.len - s->off;
  if (n > max) n = max;
  memcpy(dst, s->pending.data + s->off, n);
  s->off += n;
  return (ssize_t)n;
}

static void sse_free(void *cls) {
  sse *s = cls;
  buf_free(&s->pending);
  mem_free(s);
}

void web__sse_serve(web_req *r, web_ring *ring, uint64_t after) {
  sse *s = xcalloc(1, sizeof *s);
  s->ring = ring;
  s->after = after;
  buf_init(&s->pending, 64 * 1024);
  /* A first comment so the browser sees the stream open at once. */
  if (buf_puts(&s->pending, ": mimic log stream\nretry: 2000\n\n")) err_clear();
  struct MHD_Response *resp =
      MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 8192, sse_read, s, sse_free);
  if (!resp) {
    sse_free(s);
    web__send_error(r, 500, "cannot open the stream");
    return;
  }
  MHD_add_response_header(resp, "Content-Type", "text/event-stream; charset=utf-8");
  MHD_add_response_header(resp, "X-Accel-Buffering", "no");
  web__send_response(r, 200, resp, false);
}
