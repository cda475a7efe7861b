/* The health/metrics endpoint bounds what one client can hold: connections beyond the per-address
 * limit are closed at once, a connection that trickles a request and then goes quiet is closed by
 * the idle timeout, and a normal request is answered afterwards. Deadlines are generous: the test
 * waits for the server's action, it never measures how long it took. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof sa;
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &l), 0);
    close(s);
    return ntohs(sa.sin_port);
}

static int connect_to(int port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(s, (struct sockaddr *)&sa, sizeof sa), 0);
    return s;
}

/* 1 when the server closed s (EOF or reset) within timeout_ms, 0 otherwise; what it sent before is
 * appended to got (when not NULL). */
static int closed_within(int s, int timeout_ms, char *got, size_t size)
{
    struct pollfd p = {.fd = s, .events = POLLIN};
    char b[256];
    while (poll(&p, 1, timeout_ms) > 0) {
        ssize_t n = recv(s, b, sizeof b, 0);
        if (n <= 0)
            return 1;
        if (got && strlen(got) + (size_t)n < size)
            strncat(got, b, (size_t)n);
    }
    return 0;
}

static int ready(void *ud, char *why, size_t size)
{
    (void)ud;
    (void)why;
    (void)size;
    return 1;
}

static void trickle_clients_are_bounded(void **state)
{
    (void)state;
    int port = free_port();
    char err[256] = "";
    acms_http_probes probes = {.ready = ready};
    acms_http *h = acms_http_start("127.0.0.1", port, NULL, &probes, err, sizeof err);
    if (!h)
        fail_msg("%s", err);
    int held[ACMS_HTTP_PER_IP_LIMIT];
    for (int i = 0; i < ACMS_HTTP_PER_IP_LIMIT; i++) {
        held[i] = connect_to(port);
        assert_int_equal(send(held[i], "GET /hea", 8, 0), 8); /* a request that never completes */
    }
    /* over the per-address limit: a complete request is closed unanswered */
    int extra = connect_to(port);
    const char *req = "GET /healthz HTTP/1.0\r\n\r\n";
    assert_int_equal(send(extra, req, strlen(req), 0), (ssize_t)strlen(req));
    char got[1024] = "";
    assert_true(closed_within(extra, 10000, got, sizeof got));
    assert_string_equal(got, "");
    close(extra);
    for (int i = 0; i < ACMS_HTTP_PER_IP_LIMIT; i++) { /* idle: closed by the server's timeout */
        assert_true(closed_within(held[i], 30000, NULL, 0));
        close(held[i]);
    }
    /* The server counts a closed connection against the address until its own cleanup, which may
     * come just after the client saw the close: a new request is answered within a deadline. */
    char b[512] = "";
    for (int tries = 0; tries < 100 && !strstr(b, "200"); tries++) {
        int s = connect_to(port);
        assert_int_equal(send(s, req, strlen(req), 0), (ssize_t)strlen(req));
        struct pollfd p = {.fd = s, .events = POLLIN};
        memset(b, 0, sizeof b);
        if (poll(&p, 1, 10000) > 0 && recv(s, b, sizeof b - 1, 0) <= 0)
            usleep(100 * 1000); /* closed unanswered: still counted */
        close(s);
    }
    assert_non_null(strstr(b, "200"));
    acms_http_stop(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(trickle_clients_are_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
