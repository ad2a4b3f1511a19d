/* test_net.h: a free loopback TCP port for the tests that start `whet api`. */
#ifndef WHET_TESTS_TEST_NET_H
#define WHET_TESTS_TEST_NET_H
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

/* Bind port 0 on 127.0.0.1, read the port the kernel chose, close it. */
static inline int test_free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}
#endif
