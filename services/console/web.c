/* web.c: the page's static files, read once (web.h). */
#include "web.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "acms.h"

static const char *type_of(const char *name)
{
    static const char *const types[][2] = {{".html", "text/html; charset=utf-8"},
                                           {".js", "text/javascript; charset=utf-8"},
                                           {".css", "text/css; charset=utf-8"},
                                           {".svg", "image/svg+xml"},
                                           {".png", "image/png"},
                                           {".ico", "image/x-icon"}};
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(dot, types[i][0]))
            return types[i][1];
    return NULL;
}

static int servable_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= sizeof((console_file *)0)->name || name[0] == '.')
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
              *p == '_' || *p == '-'))
            return 0;
    return type_of(name) != NULL;
}

static int is_page_dir(const char *dir)
{
    char p[1200];
    struct stat st;
    return snprintf(p, sizeof p, "%s/index.html", dir) < (int)sizeof p && stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int console_web_locate(const char *dir, const char *exe_dir, char *out, size_t size, char *errstr, size_t errstr_size)
{
    if (dir && *dir) {
        snprintf(out, size, "%s", dir);
        if (is_page_dir(out))
            return ACMS_OK;
        snprintf(errstr, errstr_size, "ACMS_CONSOLE_WEB_DIR '%s' has no index.html", dir);
        return ACMS_ERR_NOTFOUND;
    }
    /* installed; bin/ of a build tree; build-asan/bin/ and the other sanitizer trees */
    static const char *const rel[] = {"../share/acms/console", "../services/console/web", "../../services/console/web"};
    for (size_t i = 0; exe_dir && i < sizeof rel / sizeof rel[0]; i++) {
        if (snprintf(out, size, "%s/%s", exe_dir, rel[i]) < (int)size && is_page_dir(out))
            return ACMS_OK;
    }
    snprintf(errstr, errstr_size,
             "the page was not found in %s/../share/acms/console nor in a build tree's "
             "services/console/web; set ACMS_CONSOLE_WEB_DIR",
             exe_dir ? exe_dir : "?");
    return ACMS_ERR_NOTFOUND;
}

/* Reads one file into f. ACMS_OK, ACMS_ERR_LIMIT (too large), ACMS_ERR_NOTFOUND (unreadable). */
static int read_file(console_file *f, const char *dir, const char *name, char *errstr, size_t errstr_size)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "rb");
    struct stat st;
    int rc = ACMS_ERR_NOTFOUND;
    if (!fp || fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(errstr, errstr_size, "%s: not a readable file", path);
        goto out;
    }
    if (st.st_size > CONSOLE_WEB_MAX_FILE) {
        snprintf(errstr, errstr_size, "%s: %lld bytes, more than the %d a page file may have", path,
                 (long long)st.st_size, CONSOLE_WEB_MAX_FILE);
        rc = ACMS_ERR_LIMIT;
        goto out;
    }
    f->data = malloc((size_t)st.st_size + 1);
    if (!f->data || fread(f->data, 1, (size_t)st.st_size, fp) != (size_t)st.st_size) {
        snprintf(errstr, errstr_size, "%s: read failed", path);
        free(f->data);
        f->data = NULL;
        goto out;
    }
    f->len = (size_t)st.st_size;
    f->data[f->len] = '\0';
    snprintf(f->name, sizeof f->name, "%s", name);
    f->type = type_of(name);
    rc = ACMS_OK;
out:
    if (fp)
        fclose(fp);
    return rc;
}

int console_web_load(console_web *w, const char *dir, char *errstr, size_t errstr_size)
{
    memset(w, 0, sizeof *w);
    snprintf(w->dir, sizeof w->dir, "%s", dir);
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(errstr, errstr_size, "%s: cannot open the page's directory", dir);
        return ACMS_ERR_NOTFOUND;
    }
    int rc = ACMS_OK;
    struct dirent *e;
    while (rc == ACMS_OK && (e = readdir(d)) != NULL) {
        if (!servable_name(e->d_name))
            continue;
        if (w->n == CONSOLE_WEB_MAX_FILES) {
            snprintf(errstr, errstr_size, "%s: more than %d page files", dir, CONSOLE_WEB_MAX_FILES);
            rc = ACMS_ERR_LIMIT;
            break;
        }
        rc = read_file(&w->files[w->n], dir, e->d_name, errstr, errstr_size);
        if (rc == ACMS_OK)
            w->n++;
    }
    closedir(d);
    if (rc == ACMS_OK && !console_web_find(w, "/")) {
        snprintf(errstr, errstr_size, "%s: no index.html", dir);
        rc = ACMS_ERR_NOTFOUND;
    }
    if (rc != ACMS_OK)
        console_web_release(w);
    return rc;
}

void console_web_release(console_web *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->files[i].data);
    w->n = 0;
}

const console_file *console_web_find(const console_web *w, const char *path)
{
    if (!path || path[0] != '/')
        return NULL;
    const char *name = path[1] ? path + 1 : "index.html";
    for (size_t i = 0; i < w->n; i++)
        if (!strcmp(w->files[i].name, name))
            return &w->files[i];
    return NULL;
}
