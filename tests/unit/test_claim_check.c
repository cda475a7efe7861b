/* The claim check (claim.h) against a real redis-server: a payload stored under its hash comes back
 * byte for byte; the same bytes stored twice are one key; a payload changed in Redis, of another
 * size, missing or with a malformed reference is refused as poison (never handed on); above
 * ACMS_CLAIM_MAX_BYTES nothing is stored; Redis away is a retry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "claim.h"
#include "log.h"
#include "redis_fixture.h"

static void roundtrip_and_verification(void **state)
{
    (void)state;
    fx_redis x;
    assert_int_equal(fx_redis_start(&x), 0);
    size_t len = 3 * 1024 * 1024 + 7; /* three times the bus limit */
    uint8_t *p = malloc(len);
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(i * 131 + 7);
    char hex[65], hex2[65];
    assert_int_equal(acms_claim_put(x.r, p, len, hex), ACMS_OK);
    assert_int_equal(acms_claim_put(x.r, p, len, hex2), ACMS_OK); /* idempotent: the same key */
    assert_string_equal(hex, hex2);

    acms_msg m = {.topic = "t", .claim_size = len};
    memcpy(m.claim, hex, 65);
    uint8_t *out = NULL;
    const char *why = NULL;
    assert_int_equal(acms_claim_get(x.r, &m, &out, &why), ACMS_OK);
    assert_memory_equal(out, p, len);
    free(out);

    m.claim_size = len - 1; /* the envelope says another size */
    assert_int_equal(acms_claim_get(x.r, &m, &out, &why), ACMS_ERR_POISON);
    assert_non_null(strstr(why, "size"));
    m.claim_size = len;

    char key[100];
    snprintf(key, sizeof key, "acms:claim:%s", hex);
    redisReply *rep = acms_redis_cmd(x.r, "SETRANGE %s 10 X", key); /* altered in Redis */
    freeReplyObject(rep);
    assert_int_equal(acms_claim_get(x.r, &m, &out, &why), ACMS_ERR_POISON);
    assert_non_null(strstr(why, "hash"));
    assert_null(out);

    rep = acms_redis_cmd(x.r, "DEL %s", key); /* expired */
    freeReplyObject(rep);
    assert_int_equal(acms_claim_get(x.r, &m, &out, &why), ACMS_ERR_POISON);
    assert_non_null(strstr(why, "missing"));

    memcpy(m.claim, "abc", 4);
    assert_int_equal(acms_claim_get(x.r, &m, &out, &why), ACMS_ERR_POISON);
    assert_non_null(strstr(why, "malformed"));

    assert_int_equal(acms_claim_put(x.r, p, (size_t)ACMS_CLAIM_MAX_BYTES + 1, hex), ACMS_ERR_LIMIT);

    fx_redis_kill(&x); /* away: a retry, not a verdict */
    memcpy(m.claim, hex2, 65);
    assert_int_equal(acms_claim_get(x.r, &m, &out, &why), ACMS_ERR_RETRY);
    assert_int_equal(acms_claim_put(x.r, p, len, hex), ACMS_ERR_RETRY);
    fx_redis_stop(&x);
    free(p);
}

int main(void)
{
    acms_log_init("test", "error");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(roundtrip_and_verification),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
