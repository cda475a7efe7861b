/* test_coord_redact.c: an attempt's resolved secret values are masked ("***") in everything it
 * reports: raw, base64 (padded or not, url alphabet) and percent-encoded forms, in strings, binary
 * buffers and its captured output files; a step that prints its password to stderr leaves it in
 * neither its stderr tail nor its log files (through the local executor, end to end); the live tail
 * keeps its length (as many '*') and never shows a value in part. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coordinator/exec.h"
#include "coordinator/redact.h"

static void masks_every_form(void **state)
{
    (void)state;
    coord_redact *r = coord_redact_new();
    assert_int_equal(coord_redact_add(r, "p@ss w/rd+1"), 0);
    assert_int_equal(coord_redact_add(r, "abc"), 0); /* too short: not a pattern */
    char s[512];
    snprintf(s, sizeof s, "raw=p@ss w/rd+1 b64=cEBzcyB3L3JkKzE= nopad=cEBzcyB3L3JkKzE url=p%%40ss%%20w%%2Frd%%2B1 "
                          "lower=p%%40ss%%20w%%2frd%%2b1 form=p%%40ss+w%%2Frd%%2B1 abc");
    coord_redact_str(r, s);
    assert_string_equal(s, "raw=*** b64=*** nopad=*** url=*** lower=*** form=*** abc");
    char bin[] = {'x', 0, 'p', '@', 's', 's', ' ', 'w', '/', 'r', 'd', '+', '1', 0, 'y'};
    size_t n = coord_redact_buf(r, bin, sizeof bin);
    assert_int_equal(n, 7);
    assert_memory_equal(bin, "x\0***\0y", 7);
    coord_redact_free(r);
}

static void files_masked_in_place(void **state)
{
    (void)state;
    char path[] = "/tmp/acms-redact-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "line 1\nsecret=hunter2-long\nhunter2-long again\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    coord_redact *r = coord_redact_new();
    coord_redact_add(r, "hunter2-long");
    assert_int_equal(coord_redact_file(r, path), 0);
    FILE *f = fopen(path, "r");
    char buf[256] = "";
    size_t k = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[k] = '\0';
    assert_string_equal(buf, "line 1\nsecret=***\n*** again\n");
    unlink(path);
    assert_int_equal(coord_redact_file(r, path), 0); /* gone: nothing to do */
    coord_redact_free(r);
}

static char *slurp(const char *path)
{
    static char buf[8192];
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void local_attempt_printing_its_password(void **state)
{
    (void)state;
    char root[] = "/tmp/acms-redact-run-XXXXXX";
    assert_non_null(mkdtemp(root));
    setenv("TEST_PRINTED_PASSWORD", "Sup3r/S3cret+Pw", 1);
    Acms__V1__EnvVar pw = ACMS__V1__ENV_VAR__INIT;
    pw.name = "DB_PASSWORD";
    pw.value = "secret://env/TEST_PRINTED_PASSWORD";
    Acms__V1__EnvVar *env[] = {&pw};
    char *argv[] = {"sh", "-c",
                    "echo \"login failed for password $DB_PASSWORD\" >&2; printf %s \"$DB_PASSWORD\" | base64 >&2; "
                    "echo \"out: $DB_PASSWORD\"; exit 7"};
    char *scopes[] = {"secret://env/TEST_*"};
    acms_secret_ctx sc = {0};
    coord_exec_req req = {.run_id = "run-r", .step = "s", .attempt = 1, .argv = argv, .argc = 3, .env = env, .nenv = 1,
                          .work_root = root, .secrets = &sc, .secret_scopes = scopes, .nsecret_scopes = 1};
    coord_proc *p = coord_exec_start(&req);
    assert_non_null(p);
    coord_exec_status st;
    int64_t deadline = acms_mono_ms() + 30000;
    while (!coord_exec_poll(p, acms_mono_ms(), &st) && acms_mono_ms() < deadline)
        usleep(10000);
    assert_true(st.done);
    assert_int_equal(st.exit_code, 7);
    assert_non_null(strstr(st.stderr_tail, "login failed for password ***"));
    assert_null(strstr(st.stderr_tail, "Sup3r"));
    assert_null(strstr(st.stderr_tail, "U3VwM3"));  /* base64 of it */
    char path[700];
    snprintf(path, sizeof path, "%s/stderr.log", st.dir);
    char *log = slurp(path);
    assert_non_null(log);
    assert_null(strstr(log, "Sup3r"));
    assert_null(strstr(log, "U3VwM3"));
    snprintf(path, sizeof path, "%s/stdout.log", st.dir);
    assert_string_equal(slurp(path), "out: ***\n");
    coord_exec_free(p);
    unsetenv("TEST_PRINTED_PASSWORD");
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

/* The tail `acmsctl logs` follows: each value masked by as many '*' (its byte totals stay true, so
 * a follower neither repeats nor loses a byte), and while the attempt runs the bytes that could begin
 * a value are held back: a value printed in two writes is never shown in part. */
static void log_tail_keeps_lengths_and_holds_back(void **state)
{
    (void)state;
    char root[] = "/tmp/acms-redact-tail-XXXXXX";
    assert_non_null(mkdtemp(root));
    setenv("TEST_TAIL_PASSWORD", "Sup3r/S3cret+Pw", 1);
    Acms__V1__EnvVar pw = ACMS__V1__ENV_VAR__INIT;
    pw.name = "DB_PASSWORD";
    pw.value = "secret://env/TEST_TAIL_PASSWORD";
    Acms__V1__EnvVar *env[] = {&pw};
    char *argv[] = {"sh", "-c", "printf 'hello Sup3r/S3'; sleep 1; printf 'cret+Pw done\\n'"};
    char *scopes[] = {"secret://env/TEST_*"};
    acms_secret_ctx sc = {0};
    coord_exec_req req = {.run_id = "run-t", .step = "s", .attempt = 1, .argv = argv, .argc = 3, .env = env, .nenv = 1,
                          .work_root = root, .secrets = &sc, .secret_scopes = scopes, .nsecret_scopes = 1};
    coord_proc *p = coord_exec_start(&req);
    assert_non_null(p);
    coord_exec_status st;
    int64_t deadline = acms_mono_ms() + 30000;
    char *out = NULL;
    size_t len = 0;
    uint64_t total = 0;
    int done = 0;
    while (!done && acms_mono_ms() < deadline) {
        done = coord_exec_poll(p, acms_mono_ms(), &st);
        assert_int_equal(coord_exec_tail(p, 1, !done, &out, &len, &total), 0);
        assert_int_equal(len, total);          /* everything fits the tail: its length is the total */
        assert_null(strstr(out, "Sup3r"));     /* never in part, whatever the timing */
        assert_null(memchr(out, 'S', len));
        free(out);
        usleep(20000);
    }
    assert_true(done);
    assert_int_equal(coord_exec_tail(p, 1, 0, &out, &len, &total), 0);
    assert_int_equal(total, strlen("hello Sup3r/S3cret+Pw done\n"));
    assert_string_equal(out, "hello *************** done\n");
    free(out);
    coord_exec_free(p);
    unsetenv("TEST_TAIL_PASSWORD");
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(masks_every_form),
        cmocka_unit_test(files_masked_in_place),
        cmocka_unit_test(local_attempt_printing_its_password),
        cmocka_unit_test(log_tail_keeps_lengths_and_holds_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
