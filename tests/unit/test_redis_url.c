/* Redis URL parsing (acms_redis_parse_url): host, port, password, db and their defaults, %-encoded
 * and user:password credentials, IPv6 literals, and the malformed URLs that must be refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "redis.h"

typedef struct parsed {
    char host[256];
    int port;
    char pw[128];
    int db;
} parsed;

static int parse(const char *url, parsed *p)
{
    memset(p, 0x55, sizeof *p);
    return acms_redis_parse_url(url, p->host, sizeof p->host, &p->port, p->pw, sizeof p->pw, &p->db);
}

static void plain_host_and_port(void **state)
{
    parsed p;

    (void)state;
    assert_int_equal(parse("redis://127.0.0.1:6380", &p), ACMS_OK);
    assert_string_equal(p.host, "127.0.0.1");
    assert_int_equal(p.port, 6380);
    assert_string_equal(p.pw, "");
    assert_int_equal(p.db, 0);
}

static void defaults(void **state)
{
    parsed p;

    (void)state;
    assert_int_equal(parse("redis://cache.internal", &p), ACMS_OK);
    assert_string_equal(p.host, "cache.internal");
    assert_int_equal(p.port, 6379);
    assert_int_equal(p.db, 0);
    assert_int_equal(parse("redis://cache.internal/", &p), ACMS_OK);
    assert_int_equal(p.db, 0);
}

static void password_and_db(void **state)
{
    parsed p;

    (void)state;
    assert_int_equal(parse("redis://:s3cret@10.0.0.5:7000/3", &p), ACMS_OK);
    assert_string_equal(p.host, "10.0.0.5");
    assert_int_equal(p.port, 7000);
    assert_string_equal(p.pw, "s3cret");
    assert_int_equal(p.db, 3);
}

static void user_and_password(void **state)
{
    parsed p;

    (void)state;
    assert_int_equal(parse("redis://acms:pa%3Ass%40word@redis.example:6379/1", &p), ACMS_OK);
    assert_string_equal(p.host, "redis.example");
    assert_string_equal(p.pw, "pa:ss@word");
    assert_int_equal(p.db, 1);
    /* a lone userinfo is a password, as redis-cli reads it */
    assert_int_equal(parse("redis://onlypw@localhost", &p), ACMS_OK);
    assert_string_equal(p.pw, "onlypw");
    assert_string_equal(p.host, "localhost");
}

static void ipv6_literal(void **state)
{
    parsed p;

    (void)state;
    assert_int_equal(parse("redis://[::1]:6390/2", &p), ACMS_OK);
    assert_string_equal(p.host, "::1");
    assert_int_equal(p.port, 6390);
    assert_int_equal(p.db, 2);
    assert_int_equal(parse("redis://[::1]", &p), ACMS_OK);
    assert_int_equal(p.port, 6379);
}

static void refused(void **state)
{
    static const char *const bad[] = {
        "",
        "127.0.0.1:6379",             /* no scheme */
        "http://127.0.0.1:6379",
        "rediss://127.0.0.1:6379",    /* TLS: not in hiredis 0.14 */
        "redis://",
        "redis://:pw@",
        "redis://host:",
        "redis://host:0",
        "redis://host:65536",
        "redis://host:12ab",
        "redis://host:6379/x",
        "redis://host:6379/1/2",
        "redis://host:6379/-1",
        "redis://host?db=1",
        "redis://[::1",
        "redis://[::1]x",
        "redis://:bad%zzescape@host",
        "redis://:trunc%4@host",
        "redis://:nul%00@host",
    };
    parsed p;
    size_t i;

    (void)state;
    assert_int_equal(acms_redis_parse_url(NULL, p.host, sizeof p.host, &p.port, p.pw, sizeof p.pw, &p.db),
                     ACMS_ERR_INVALID);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (parse(bad[i], &p) != ACMS_ERR_INVALID)
            fail_msg("accepted bad url \"%s\"", bad[i]);
    }
}

static void buffers_too_small(void **state)
{
    char host[4], pw[4];
    int port, db;

    (void)state;
    assert_int_equal(acms_redis_parse_url("redis://longhostname:1", host, sizeof host, &port, pw, sizeof pw, &db),
                     ACMS_ERR_INVALID);
    assert_int_equal(acms_redis_parse_url("redis://:longpassword@h:1", host, sizeof host, &port, pw, sizeof pw, &db),
                     ACMS_ERR_INVALID);
    assert_int_equal(acms_redis_parse_url("redis://:pw@h:1", host, sizeof host, &port, pw, sizeof pw, &db), ACMS_OK);
}

static void new_refuses_bad_url_without_echoing_it(void **state)
{
    char err[256] = "";

    (void)state;
    assert_null(acms_redis_new("redis://:hunter2@host:notaport", NULL, err, sizeof err));
    assert_true(err[0] != '\0');
    assert_null(strstr(err, "hunter2"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_host_and_port), cmocka_unit_test(defaults),
        cmocka_unit_test(password_and_db),     cmocka_unit_test(user_and_password),
        cmocka_unit_test(ipv6_literal),        cmocka_unit_test(refused),
        cmocka_unit_test(buffers_too_small),   cmocka_unit_test(new_refuses_bad_url_without_echoing_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
