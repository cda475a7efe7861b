/* Where a binary finds its stack file and configuration directory (common/locate.h): the variable
 * alone when set, then the repository it was built in or its install prefix, then ~/.config/acms;
 * every candidate named in `tried`, none relative to the current directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "locate.h"

typedef struct tree {
    char root[64];
    char buf[8][512];
} tree;

static const char *at(tree *t, int slot, const char *rel)
{
    char root[sizeof t->root];
    memcpy(root, t->root, sizeof root); /* not the object written below */
    snprintf(t->buf[slot], sizeof t->buf[slot], "%s/%s", root, rel);
    return t->buf[slot];
}

static void touch(tree *t, const char *rel)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s/%s')\" && : > '%s/%s'", t->root, rel, t->root, rel);
    assert_int_equal(system(cmd), 0);
}

static void mkdirs(tree *t, const char *rel)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/%s'", t->root, rel);
    assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
    tree *t = calloc(1, sizeof *t);
    snprintf(t->root, sizeof t->root, "/tmp/acms-locate-XXXXXX");
    assert_non_null(mkdtemp(t->root));
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    tree *t = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->root);
    assert_int_equal(system(cmd), 0);
    free(t);
    return 0;
}

static void binary_in_its_repository_finds_run_stack_env(void **state)
{
    tree *t = *state;
    touch(t, "repo/run/stack.env");
    mkdirs(t, "repo/examples/environments");
    touch(t, "home/.config/acms/stack.env");
    acms_locate_env e = {.source_dir = at(t, 0, "repo"), .exe = at(t, 1, "repo/bin/acmsctl"), .home = at(t, 2, "home")};
    acms_located l;
    assert_int_equal(acms_locate_with(ACMS_LOCATE_STACK_FILE, &e, &l), ACMS_OK);
    assert_string_equal(l.path, at(t, 3, "repo/run/stack.env"));
    assert_int_equal(acms_locate_with(ACMS_LOCATE_CONFIG_DIR, &e, &l), ACMS_OK);
    assert_string_equal(l.path, at(t, 3, "repo/examples"));
    /* a build tree below the repository (build-asan/bin) is still the repository */
    e.exe = at(t, 1, "repo/build-asan/bin/acmsctl");
    assert_int_equal(acms_locate_with(ACMS_LOCATE_STACK_FILE, &e, &l), ACMS_OK);
    assert_string_equal(l.path, at(t, 3, "repo/run/stack.env"));
}

static void stack_down_falls_back_to_user_config_and_names_every_candidate(void **state)
{
    tree *t = *state;
    mkdirs(t, "repo/run");
    acms_locate_env e = {.source_dir = at(t, 0, "repo"), .exe = at(t, 1, "repo/bin/acmsctl"), .home = at(t, 2, "home")};
    acms_located l;
    assert_int_equal(acms_locate_with(ACMS_LOCATE_STACK_FILE, &e, &l), ACMS_ERR_NOTFOUND);
    assert_string_equal(l.path, "");
    assert_non_null(strstr(l.tried, at(t, 3, "repo/run/stack.env")));
    assert_non_null(strstr(l.tried, at(t, 3, "home/.config/acms/stack.env")));
    touch(t, "home/.config/acms/stack.env");
    assert_int_equal(acms_locate_with(ACMS_LOCATE_STACK_FILE, &e, &l), ACMS_OK);
    assert_string_equal(l.path, at(t, 3, "home/.config/acms/stack.env"));
    /* XDG_CONFIG_HOME replaces ~/.config */
    e.xdg_config = at(t, 4, "xdg");
    assert_int_equal(acms_locate_with(ACMS_LOCATE_STACK_FILE, &e, &l), ACMS_ERR_NOTFOUND);
    assert_non_null(strstr(l.tried, at(t, 3, "xdg/acms/stack.env")));
}

static void installed_binary_uses_its_prefix(void **state)
{
    tree *t = *state;
    touch(t, "prefix/etc/acms/stack.env");
    mkdirs(t, "prefix/share/acms/examples/environments");
    acms_locate_env e = {.source_dir = at(t, 0, "repo"), .exe = at(t, 1, "prefix/bin/acmsctl")};
    acms_located l;
    assert_int_equal(acms_locate_with(ACMS_LOCATE_STACK_FILE, &e, &l), ACMS_OK);
    assert_string_equal(l.path, at(t, 3, "prefix/etc/acms/stack.env"));
    assert_int_equal(acms_locate_with(ACMS_LOCATE_CONFIG_DIR, &e, &l), ACMS_OK);
    assert_string_equal(l.path, at(t, 3, "prefix/share/acms/examples"));
    /* "repository2" starts with "repo" but is not inside it */
    e.exe = at(t, 1, "repository2/bin/acmsctl");
    assert_int_equal(acms_locate_with(ACMS_LOCATE_STACK_FILE, &e, &l), ACMS_ERR_NOTFOUND);
    assert_null(strstr(l.tried, "repo/run"));
}

static void variable_alone_when_set(void **state)
{
    tree *t = *state;
    touch(t, "repo/run/stack.env");
    acms_locate_env e = {.var = at(t, 0, "elsewhere.env"), .source_dir = at(t, 1, "repo"),
                         .exe = at(t, 2, "repo/bin/acmsctl")};
    acms_located l;
    assert_int_equal(acms_locate_with(ACMS_LOCATE_STACK_FILE, &e, &l), ACMS_ERR_NOTFOUND);
    assert_int_equal(l.from_var, 1);
    assert_string_equal(l.tried, at(t, 3, "elsewhere.env"));
    touch(t, "elsewhere.env");
    assert_int_equal(acms_locate_with(ACMS_LOCATE_STACK_FILE, &e, &l), ACMS_OK);
    assert_string_equal(l.path, at(t, 3, "elsewhere.env"));
}

static void config_dir_needs_environments(void **state)
{
    tree *t = *state;
    touch(t, "home/.config/acms/stack.env"); /* a user config with only the stack file */
    mkdirs(t, "repo/examples");              /* examples/ without environments/ */
    acms_locate_env e = {.source_dir = at(t, 0, "repo"), .exe = at(t, 1, "repo/bin/acmsctl"), .home = at(t, 2, "home")};
    acms_located l;
    assert_int_equal(acms_locate_with(ACMS_LOCATE_CONFIG_DIR, &e, &l), ACMS_ERR_NOTFOUND);
    mkdirs(t, "home/.config/acms/environments");
    assert_int_equal(acms_locate_with(ACMS_LOCATE_CONFIG_DIR, &e, &l), ACMS_OK);
    assert_string_equal(l.path, at(t, 3, "home/.config/acms"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(binary_in_its_repository_finds_run_stack_env, setup, teardown),
        cmocka_unit_test_setup_teardown(stack_down_falls_back_to_user_config_and_names_every_candidate, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(installed_binary_uses_its_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(variable_alone_when_set, setup, teardown),
        cmocka_unit_test_setup_teardown(config_dir_needs_environments, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
