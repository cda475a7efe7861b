/* Webhook delivery is retried and bounded: a receiver answering 500 twice then 200 gets the payload
 * on the third try (two errors counted, backoffs of 200 and 400 ms); a dead receiver costs at most
 * the time budget, never more. Time is a fake clock (clock.h): the backoffs advance it instead of
 * sleeping, so the waits and the budget are checked exactly, whatever the load. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "monitor/webhook.h"

/* The fake clock: what time it is, and the sleeps asked of it (each advances it). */
typedef struct fake_clock {
    int64_t now;
    int64_t slept[8];
    int nsleeps;
} fake_clock;

static int64_t fake_now(void *ud)
{
    return ((fake_clock *)ud)->now;
}

static void fake_sleep(void *ud, int64_t ms)
{
    fake_clock *f = ud;
    if (f->nsleeps < 8)
        f->slept[f->nsleeps] = ms;
    f->nsleeps++;
    f->now += ms;
}

typedef struct receiver {
    int fd;
    int port;
    int fail_first;      /* answer 500 to this many requests */
    int requests;
    char last_body[4096];
} receiver;

static void *serve(void *ud)
{
    receiver *r = ud;
    for (;;) {
        int c = accept(r->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        char buf[8192];
        size_t got = 0;
        ssize_t n;
        size_t want = 0;
        while ((n = read(c, buf + got, sizeof buf - 1 - got)) > 0) {
            got += (size_t)n;
            buf[got] = '\0';
            char *hdr_end = strstr(buf, "\r\n\r\n");
            if (hdr_end) {
                char *cl = strcasestr(buf, "Content-Length:");
                want = (size_t)(hdr_end + 4 - buf) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
                if (got >= want)
                    break;
            }
        }
        char *body = strstr(buf, "\r\n\r\n");
        if (body)
            snprintf(r->last_body, sizeof r->last_body, "%s", body + 4);
        int code = r->requests++ < r->fail_first ? 500 : 200;
        char resp[128];
        int len = snprintf(resp, sizeof resp, "HTTP/1.1 %d X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", code);
        if (write(c, resp, (size_t)len) < 0) {
        }
        close(c);
    }
}

static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, 8) ||
        getsockname(fd, (struct sockaddr *)&sa, &len))
        return -1;
    *port = ntohs(sa.sin_port);
    return fd;
}

static void test_retries_until_delivered(void **state)
{
    (void)state;
    receiver r = {.fail_first = 2};
    r.fd = listen_any(&r.port);
    assert_true(r.fd >= 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, serve, &r), 0);

    acms_arena *a = acms_arena_new(0);
    monitor_webhooks w;
    char err[256], spec[128];
    snprintf(spec, sizeof spec, " http://127.0.0.1:%d/hook ,", r.port);
    assert_int_equal(monitor_webhooks_parse(a, spec, &w, err, sizeof err), ACMS_OK);
    assert_int_equal(w.n, 1);
    fake_clock fc = {.now = 1000};
    acms_clock clock = {.mono_ms = fake_now, .sleep_ms = fake_sleep, .ud = &fc};
    w.clock = &clock;
    monitor_webhook_result res;
    monitor_webhooks_post(&w, "{\"version\":\"4\"}", &res);
    assert_int_equal(res.delivered, 1);
    assert_int_equal(res.failed, 0);
    assert_int_equal(res.errors, 2);
    assert_int_equal(r.requests, 3);
    assert_string_equal(r.last_body, "{\"version\":\"4\"}");
    assert_int_equal(fc.nsleeps, 2); /* backoffs 200 + 400 ms, none after the success */
    assert_int_equal(fc.slept[0], 200);
    assert_int_equal(fc.slept[1], 400);
    shutdown(r.fd, SHUT_RDWR);
    close(r.fd);
    pthread_join(th, NULL);
    acms_arena_free(a);
}

static void test_dead_receiver_is_bounded(void **state)
{
    (void)state;
    int port;
    int fd = listen_any(&port);  /* bound, then closed: connections are refused */
    assert_true(fd >= 0);
    close(fd);
    acms_arena *a = acms_arena_new(0);
    monitor_webhooks w;
    char err[256], spec[128];
    snprintf(spec, sizeof spec, "http://127.0.0.1:%d/a,http://127.0.0.1:%d/b", port, port);
    assert_int_equal(monitor_webhooks_parse(a, spec, &w, err, sizeof err), ACMS_OK);
    assert_int_equal(w.n, 2);
    /* a budget of 700 ms: /a gets its three tries (backoffs 200 + 400 ms), /b one at 600 ms, and no
     * backoff of 200 ms that would end past the deadline */
    fake_clock fc = {.now = 5000};
    acms_clock clock = {.mono_ms = fake_now, .sleep_ms = fake_sleep, .ud = &fc};
    w.clock = &clock;
    w.budget_ms = 700;
    monitor_webhook_result res;
    monitor_webhooks_post(&w, "{}", &res);
    assert_int_equal(res.delivered, 0);
    assert_int_equal(res.failed, 2);
    assert_int_equal(res.errors, 4);
    assert_int_equal(fc.nsleeps, 2);
    assert_true(fc.now - 5000 <= w.budget_ms);
    acms_arena_free(a);
}

static void test_only_http_urls(void **state)
{
    (void)state;
    acms_arena *a = acms_arena_new(0);
    monitor_webhooks w;
    char err[256] = "";
    assert_int_equal(monitor_webhooks_parse(a, "file:///etc/passwd", &w, err, sizeof err), ACMS_ERR_INVALID);
    assert_non_null(strstr(err, "ACMS_ALERT_WEBHOOKS"));
    assert_int_equal(monitor_webhooks_parse(a, NULL, &w, err, sizeof err), ACMS_OK);
    assert_int_equal(w.n, 0);
    monitor_webhook_result res;
    monitor_webhooks_post(&w, "{}", &res);  /* no receivers: nothing to do */
    assert_int_equal(res.delivered + res.failed + res.errors, 0);
    acms_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retries_until_delivered),
        cmocka_unit_test(test_dead_receiver_is_bounded),
        cmocka_unit_test(test_only_http_urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
