/* http_client.h: a minimal blocking HTTP/1.1 client over a raw socket for
 * the server tests (the server under test must not be trusted to parse
 * its own output): one request per connection, chunked bodies decoded,
 * and a "send then hang up" mode for disconnect tests. */
#ifndef WHET_TESTS_HTTP_CLIENT_H
#define WHET_TESTS_HTTP_CLIENT_H
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    int status;
    char *headers;   /* raw header block */
    char *body;      /* de-chunked, NUL-terminated */
    size_t body_len;
} http_resp;

static inline void http_resp_free(http_resp *r) {
    free(r->headers);
    free(r->body);
    memset(r, 0, sizeof *r);
}

static inline int http_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static inline int http_send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Send a request; extra_headers: "" or "Name: value\r\n..." lines. */
static inline int http_send_request(int fd, const char *method, const char *path, const char *extra_headers,
                                    const char *body, size_t body_len) {
    char head[1024];
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n%s\r\n", method, path, body_len, extra_headers ? extra_headers : "");
    if (http_send_all(fd, head, (size_t)n)) return -1;
    return body_len ? http_send_all(fd, body, body_len) : 0;
}

static inline char *http_read_all(int fd, size_t *len) {
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (n + 2048 > cap) buf = realloc(buf, cap *= 2);
        ssize_t k = recv(fd, buf + n, cap - n - 1, 0);
        if (k <= 0) break;
        n += (size_t)k;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static inline void http_dechunk(http_resp *r, const char *p, const char *end) {
    size_t cap = (size_t)(end - p) + 1, n = 0;
    r->body = malloc(cap);
    while (p < end) {
        char *after;
        unsigned long sz = strtoul(p, &after, 16);
        const char *data = strstr(after, "\r\n");
        if (!data || sz == 0) break;
        data += 2;
        if (data + sz > end) sz = (unsigned long)(end - data);
        memcpy(r->body + n, data, sz);
        n += sz;
        p = data + sz + 2;
    }
    r->body[n] = '\0';
    r->body_len = n;
}

static inline int http_parse(const char *raw, size_t len, http_resp *r) {
    memset(r, 0, sizeof *r);
    const char *sep = strstr(raw, "\r\n\r\n");
    if (!sep || sscanf(raw, "HTTP/1.%*d %d", &r->status) != 1) return -1;
    r->headers = strndup(raw, (size_t)(sep - raw));
    const char *b = sep + 4, *end = raw + len;
    if (strcasestr(r->headers, "transfer-encoding: chunked")) {
        http_dechunk(r, b, end);
    } else {
        r->body_len = (size_t)(end - b);
        r->body = strndup(b, r->body_len);
    }
    return 0;
}

/* One full request; returns the status (or -1 when the connection failed). */
static inline int http_do(int port, const char *method, const char *path, const char *extra_headers, const char *body,
                          http_resp *r) {
    memset(r, 0, sizeof *r);
    int fd = http_connect(port);
    if (fd < 0) return -1;
    if (http_send_request(fd, method, path, extra_headers, body, body ? strlen(body) : 0)) {
        close(fd);
        return -1;
    }
    size_t len;
    char *raw = http_read_all(fd, &len);
    close(fd);
    int ok = http_parse(raw, len, r);
    free(raw);
    return ok ? -1 : r->status;
}
#endif
