/* The topic spec (topics.h): deploy/topics.yaml parses, lists every ACMS topic and agrees with the
 * bus limit built into the services; defaults and overrides; bad specs name the line and key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "topics.h"

static void repo_spec_lists_every_topic_at_the_bus_limit(void **state)
{
    (void)state;
    acms_topics ts;
    char err[512] = "", path[1024];
    const char *repo = getenv("ACMS_REPO");

    snprintf(path, sizeof path, "%s/deploy/topics.yaml", repo ? repo : ".");
    assert_int_equal(acms_topics_load(&ts, path, err, sizeof err), ACMS_OK);
    assert_int_equal(ts.n, ACMS_TOPIC__COUNT);
    for (int t = 0; t < ACMS_TOPIC__COUNT; t++) {
        const acms_topic_spec *s = acms_topics_find(&ts, acms_topic_default_name((acms_topic)t));
        assert_non_null(s);
        assert_int_equal(s->max_message_bytes, ACMS_BUS_MAX_BYTES);
        assert_true(ACMS_MAX_MESSAGE_BYTES < s->max_message_bytes);
        assert_true(s->min_insync_replicas <= s->replication);
    }
}

static const char SPEC[] = "apiVersion: acms/v1\nkind: Topics\nspec:\n"
                           "  defaults: {partitions: 4, replication: 3, min_insync_replicas: 2, max_message_bytes: 1048576}\n"
                           "  topics:\n"
                           "    - name: a\n"
                           "    - {name: b, partitions: 12, retention_ms: -1, cleanup_policy: compact}\n";

static void defaults_and_overrides(void **state)
{
    (void)state;
    acms_topics ts;
    char err[256] = "";

    assert_int_equal(acms_topics_parse(&ts, SPEC, strlen(SPEC), "s.yaml", err, sizeof err), ACMS_OK);
    assert_int_equal(ts.n, 2);
    assert_int_equal(ts.t[0].partitions, 4);
    assert_string_equal(ts.t[0].cleanup_policy, "delete");
    assert_int_equal(ts.t[1].partitions, 12);
    assert_int_equal(ts.t[1].retention_ms, -1);
    assert_string_equal(ts.t[1].cleanup_policy, "compact");
    acms_topics_override(&ts, 2, 1);
    assert_int_equal(ts.t[1].partitions, 2);
    assert_int_equal(ts.t[1].replication, 1);
    assert_int_equal(ts.t[1].min_insync_replicas, 1); /* lowered with the replication */

    const char *names[4], *values[4];
    char vbuf[4][32];
    assert_int_equal(acms_topic_configs(&ts.t[1], names, values, vbuf), 4);
    assert_string_equal(names[2], "max.message.bytes");
    assert_string_equal(values[2], "1048576");
    assert_string_equal(values[1], "-1");
}

static void bad(const char *text, const char *want)
{
    acms_topics ts;
    char err[256] = "";

    assert_int_equal(acms_topics_parse(&ts, text, strlen(text), "bad.yaml", err, sizeof err), ACMS_ERR_INVALID);
    if (!strstr(err, want))
        fail_msg("error \"%s\" lacks \"%s\"", err, want);
}

static void bad_specs_name_the_place(void **state)
{
    (void)state;
    bad("kind: Pipeline\nspec: {}\n", "kind: Topics");
    bad("kind: Topics\nspec:\n  topics:\n    - {name: a, max_message_bytes: 2000000}\n",
        "line 4: a: max_message_bytes is 2000000, the bus limit built into the services is 1048576");
    bad("kind: Topics\nspec:\n  topics:\n    - {name: a, partitionz: 3}\n", "line 4: partitionz: unknown key");
    bad("kind: Topics\nspec:\n  topics:\n    - {name: a, partitions: 0}\n", "partitions: an integer in range");
    bad("kind: Topics\nspec:\n  topics:\n    - {name: a}\n    - {name: a}\n", "line 5: a: listed twice");
    bad("kind: Topics\nspec:\n  topics:\n    - {name: a, replication: 1, min_insync_replicas: 2}\n",
        "min_insync_replicas above replication");
    bad("kind: Topics\nspec:\n  topics:\n    - {name: a, cleanup_policy: keep}\n", "cleanup_policy must be");
    bad("kind: Topics\nspec:\n  topics: []\n", "non-empty list");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(repo_spec_lists_every_topic_at_the_bus_limit),
        cmocka_unit_test(defaults_and_overrides),
        cmocka_unit_test(bad_specs_name_the_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
