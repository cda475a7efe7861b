/* web.h: the console's page, i.e. the static files of one directory (index.html, app.js, style.css),
 * read once at start and served from memory by name. Only regular files directly in that directory,
 * named [A-Za-z0-9._-] with a known extension (html, js, css, svg, png, ico), at most 1 MiB each and
 * 32 in all, are served; no request reads the disk, so no path can reach outside the page. */
#ifndef CONSOLE_WEB_H
#define CONSOLE_WEB_H

#include <stddef.h>

#define CONSOLE_WEB_MAX_FILES 32
#define CONSOLE_WEB_MAX_FILE (1024 * 1024)

typedef struct console_file {
    char name[64];
    char *data;
    size_t len;
    const char *type; /* Content-Type */
} console_file;

typedef struct console_web {
    char dir[1024];
    console_file files[CONSOLE_WEB_MAX_FILES];
    size_t n;
} console_web;

/* Finds the page's directory: dir when given (ACMS_CONSOLE_WEB_DIR), else beside the program
 * (exe_dir/../share/acms/console as installed, exe_dir/../services/console/web in a build tree,
 * exe_dir/../../services/console/web for build-asan/bin and the other sanitizer trees).
 * Writes it to out. ACMS_OK, or ACMS_ERR_NOTFOUND with errstr naming the places looked at. */
int console_web_locate(const char *dir, const char *exe_dir, char *out, size_t size, char *errstr, size_t errstr_size);
/* Reads the directory's files into w. ACMS_OK, or ACMS_ERR_NOTFOUND / ACMS_ERR_LIMIT with errstr
 * (index.html missing, a file too large, too many files). */
int console_web_load(console_web *w, const char *dir, char *errstr, size_t errstr_size);
void console_web_release(console_web *w);
/* The file for a request path ("/" = index.html, "/app.js" = app.js), or NULL. */
const console_file *console_web_find(const console_web *w, const char *path);

#endif
