/*
 * The page's static files, compiled into smpweb (web/embed.cmake generates
 * the table from web/static/), so that the program serves exactly the page it
 * was built with and never opens a file a request names: no path traversal,
 * nothing to install beside the binary.
 */
#ifndef SMP_WEB_STATIC_FILES_H
#define SMP_WEB_STATIC_FILES_H

#include <stddef.h>

struct static_file {
	const char *name;           /* "index.html", "app.js", ... */
	const char *mime;
	const unsigned char *data;
	size_t len;
};

/* The file called name (no leading '/'), or NULL. */
const struct static_file *static_file_find(const char *name);

#endif /* SMP_WEB_STATIC_FILES_H */
