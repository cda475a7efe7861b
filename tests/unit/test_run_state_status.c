/* The run status scripts of common/run_state.c against a real redis-server: a status only moves
 * forward (submitted < prepared < validated < running < terminal), an equal status is rewritten
 * with its fields, a refused write writes none of its fields (nor, for the status-and-list write,
 * its list), a terminal status never changes, and writers racing on the same runs from several
 * processes in shuffled orders always leave each run terminal with the fields of the write that
 * set its status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "redis_fixture.h"
#include "run_state.h"

static char g_buf[256]; /* the last hget's value (test-local scratch, one thread) */

static const char *hget(acms_redis *r, const char *run, const char *field)
{
    char key[300];
    redisReply *rep = acms_redis_cmd(r, "HGET %s %s", acms_key_run(key, sizeof key, run), field);
    const char *v = NULL;
    if (rep && rep->type == REDIS_REPLY_STRING) {
        snprintf(g_buf, sizeof g_buf, "%s", rep->str);
        v = g_buf;
    }
    if (rep)
        freeReplyObject(rep);
    return v;
}

static long long llen(acms_redis *r, const char *run, const char *suffix)
{
    char key[300];
    redisReply *rep = acms_redis_cmd(r, "LLEN %s:%s", acms_key_run(key, sizeof key, run), suffix);
    long long n = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
    if (rep)
        freeReplyObject(rep);
    return n;
}

static int put(acms_redis *r, const char *run, const char *status, const char *note)
{
    const char *kv[] = {"note", note};
    return acms_state_run_status(r, run, status, kv, 2);
}

static void forward_only(void **state)
{
    acms_redis *r = ((fx_redis *)*state)->r;
    assert_int_equal(put(r, "r1", "submitted", "a"), 1);
    assert_non_null(hget(r, "r1", "submitted_ms"));
    assert_int_equal(put(r, "r1", "validated", "b"), 1); /* a stage may be skipped */
    assert_int_equal(put(r, "r1", "prepared", "c"), 0);  /* backwards: refused, fields untouched */
    assert_string_equal(hget(r, "r1", "status"), "validated");
    assert_string_equal(hget(r, "r1", "note"), "b");
    assert_int_equal(put(r, "r1", "submitted", "d"), 0);
    assert_int_equal(put(r, "r1", "validated", "e"), 1); /* equal: rewritten with its fields */
    assert_string_equal(hget(r, "r1", "note"), "e");
    assert_int_equal(put(r, "r1", "running", "f"), 1);
    assert_int_equal(put(r, "r1", "validated", "g"), 0);
    assert_string_equal(hget(r, "r1", "status"), "running");
    assert_string_equal(hget(r, "r1", "note"), "f");
    /* an unknown status is refused before Redis */
    assert_int_equal(put(r, "r1", "paused", "h"), ACMS_ERR_INVALID);
    assert_string_equal(hget(r, "r1", "status"), "running");
}

static void terminal_never_changes(void **state)
{
    acms_redis *r = ((fx_redis *)*state)->r;
    static const char *const terminal[] = {"succeeded", "failed", "cancelled", "rejected"};
    static const char *const others[] = {"submitted", "prepared", "validated", "running", "succeeded", "failed",
                                         "cancelled", "rejected"};
    for (size_t t = 0; t < 4; t++) {
        char run[32];
        snprintf(run, sizeof run, "t%zu", t);
        assert_int_equal(put(r, run, "running", "run"), 1);
        assert_int_equal(put(r, run, terminal[t], "end"), 1);
        const char *note = "end";
        for (size_t o = 0; o < 8; o++) {
            int same = !strcmp(others[o], terminal[t]); /* the same status: rewritten with its fields */
            assert_int_equal(put(r, run, others[o], others[o]), same ? 1 : 0);
            if (same)
                note = others[o];
            assert_string_equal(hget(r, run, "status"), terminal[t]);
            assert_string_equal(hget(r, run, "note"), note);
        }
    }
    /* a run first seen terminal (an adapter rejection) stays so */
    assert_int_equal(put(r, "t9", "rejected", "x"), 1);
    assert_int_equal(put(r, "t9", "submitted", "y"), 0);
    assert_string_equal(hget(r, "t9", "status"), "rejected");
}

static void list_only_with_the_status(void **state)
{
    acms_redis *r = ((fx_redis *)*state)->r;
    const char *kv[] = {"note", "v"};
    const char *items[] = {"one", "two", "three"};
    assert_int_equal(acms_state_run_status_list(r, "l1", "validated", kv, 2, "validation", items, 3), 1);
    assert_int_equal(llen(r, "l1", "validation"), 3);
    assert_int_equal(put(r, "l1", "running", "run"), 1);
    /* backwards: neither the fields nor the list change */
    assert_int_equal(acms_state_run_status_list(r, "l1", "validated", kv, 2, "validation", items, 1), 0);
    assert_int_equal(llen(r, "l1", "validation"), 3);
    assert_string_equal(hget(r, "l1", "status"), "running");
    assert_string_equal(hget(r, "l1", "note"), "run");
    assert_int_equal(acms_state_run_status_list(r, "l1", "failed", kv, 2, "validation", items, 1), 1);
    assert_int_equal(llen(r, "l1", "validation"), 1);
    assert_int_equal(acms_state_run_status_list(r, "l1", "succeeded", kv, 2, "validation", items, 2), 0);
    assert_int_equal(llen(r, "l1", "validation"), 1);
    assert_string_equal(hget(r, "l1", "status"), "failed");
    /* the list forms always name their list */
    assert_int_equal(acms_state_run_status_list(r, "l2", "validated", kv, 2, NULL, items, 1), ACMS_ERR_INVALID);
    assert_null(hget(r, "l2", "status"));
}

#define RACE_RUNS 40
#define RACE_WRITERS 4

static const char *const k_race[] = {"submitted", "prepared", "validated", "running", "succeeded", "failed",
                                     "cancelled"};
#define RACE_N (sizeof k_race / sizeof k_race[0])

/* One writer process: every run, every status once, in an order of its own. Exit 0, or 1 when a
 * write was not answered. */
static void race_writer(int port, unsigned seed)
{
    char url[64], err[256] = "";
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
    acms_redis *r = acms_redis_new(url, NULL, err, sizeof err);
    int bad = !r;
    for (int run = 0; r && run < RACE_RUNS; run++) {
        size_t order[RACE_N];
        for (size_t i = 0; i < RACE_N; i++)
            order[i] = i;
        for (size_t i = RACE_N - 1; i > 0; i--) { /* Fisher-Yates with a per-writer, per-run seed */
            seed = seed * 1103515245u + 12345u;
            size_t j = (seed >> 16) % (i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        char id[32], note[64];
        snprintf(id, sizeof id, "race-%d", run);
        for (size_t i = 0; i < RACE_N; i++) {
            snprintf(note, sizeof note, "%u:%s", seed, k_race[order[i]]);
            if (put(r, id, k_race[order[i]], note) < 0)
                bad = 1;
        }
    }
    acms_redis_free(r);
    _exit(bad);
}

static void concurrent_writers(void **state)
{
    fx_redis *x = *state;
    pid_t pids[RACE_WRITERS];
    for (int w = 0; w < RACE_WRITERS; w++) {
        pids[w] = fork();
        assert_true(pids[w] >= 0);
        if (pids[w] == 0)
            race_writer(x->port, 7919u * (unsigned)(w + 1));
    }
    for (int w = 0; w < RACE_WRITERS; w++) {
        int st = -1;
        assert_int_equal(waitpid(pids[w], &st, 0), pids[w]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    for (int run = 0; run < RACE_RUNS; run++) {
        char id[32], status[sizeof g_buf];
        snprintf(id, sizeof id, "race-%d", run);
        assert_non_null(hget(x->r, id, "status"));
        snprintf(status, sizeof status, "%s", g_buf);
        assert_true(acms_state_is_terminal(status));
        /* the fields are those of the write that set the status */
        const char *note = hget(x->r, id, "note");
        assert_non_null(note);
        const char *colon = strchr(note, ':');
        assert_non_null(colon);
        assert_string_equal(colon + 1, status);
    }
    redisReply *rep = acms_redis_cmd(x->r, "ZCARD %s", ACMS_KEY_RUNS);
    assert_non_null(rep);
    assert_int_equal(rep->integer, RACE_RUNS); /* each run indexed once */
    freeReplyObject(rep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(forward_only, fx_redis_setup, fx_redis_teardown),
        cmocka_unit_test_setup_teardown(terminal_never_changes, fx_redis_setup, fx_redis_teardown),
        cmocka_unit_test_setup_teardown(list_only_with_the_status, fx_redis_setup, fx_redis_teardown),
        cmocka_unit_test_setup_teardown(concurrent_writers, fx_redis_setup, fx_redis_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
