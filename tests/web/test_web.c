/*
 * smpweb without a browser: who may be served. Beyond loopback it refuses
 * to start without a token or TLS; with a token, every HTTP request and the
 * WebSocket handshake need it (query once, then the cookie it sets); a
 * WebSocket opened from another site's page (a foreign Origin) is refused;
 * no request can name a file outside the page. These need only smpweb, not
 * the daemon: its feed simply stays silent.
 */
#include "web/web_test.h"

#define TOKEN "k3Jq-9xZ_w7.Lm2p~Tq8"

static void
remove_dir(const char *dir)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ASSERT_EQ(system(cmd), 0);
}

static void
start_with_token(struct web_proc *wp, char *dir)
{
	char args[600];

	snprintf(dir, 256, "/tmp/smp-web-XXXXXX");
	ASSERT_NOT_NULL(mkdtemp(dir));
	snprintf(args, sizeof(args), "--status ipc://%s/status --token %s",
	    dir, TOKEN);
	web_start(wp, dir, args);
}

TEST_T(web_refuses_open_beyond_loopback, 20)
{
	char bin[512], cmd[700], line[512] = "";
	FILE *p;
	int rc;

	e2e_bin("smpweb", bin, sizeof(bin));
	snprintf(cmd, sizeof(cmd), "%s --listen 0.0.0.0:0 --status "
	    "ipc:///nonexistent/status 2>&1", bin);
	p = popen(cmd, "r");
	ASSERT_NOT_NULL(p);
	ASSERT(fgets(line, sizeof(line), p) != NULL);
	rc = pclose(p);
	ASSERT_EQ(WEXITSTATUS(rc), 2);
	ASSERT_STR_CONTAINS(line, "refusing to serve on 0.0.0.0 without "
	    "--token or TLS");
	/* A token too short to resist guessing is refused too. */
	snprintf(cmd, sizeof(cmd), "%s --listen 0.0.0.0:0 --token abc 2>&1",
	    bin);
	p = popen(cmd, "r");
	ASSERT_NOT_NULL(p);
	ASSERT(fgets(line, sizeof(line), p) != NULL);
	ASSERT_EQ(WEXITSTATUS(pclose(p)), 2);
	ASSERT_STR_CONTAINS(line, "the token must be 16 to 200 characters");
}

TEST_T(web_http_needs_the_token, 20)
{
	struct web_proc wp;
	char dir[256], req[512], out[65536];

	start_with_token(&wp, dir);
	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	    "Connection: close\r\n\r\n", wp.port);
	web_http(wp.port, req, out, sizeof(out));
	ASSERT_STR_CONTAINS(out, "HTTP/1.1 401");

	snprintf(req, sizeof(req), "GET /?token=%sX HTTP/1.1\r\nHost: "
	    "127.0.0.1:%d\r\nConnection: close\r\n\r\n", TOKEN, wp.port);
	web_http(wp.port, req, out, sizeof(out));
	ASSERT_STR_CONTAINS(out, "HTTP/1.1 401");

	snprintf(req, sizeof(req), "GET /?token=%s HTTP/1.1\r\nHost: "
	    "127.0.0.1:%d\r\nConnection: close\r\n\r\n", TOKEN, wp.port);
	web_http(wp.port, req, out, sizeof(out));
	ASSERT_STR_CONTAINS(out, "HTTP/1.1 200");
	ASSERT_STR_CONTAINS(out, "set-cookie: smpweb_token=" TOKEN
	    "; HttpOnly; SameSite=Strict");
	ASSERT_STR_CONTAINS(out, "<canvas id=\"map\"");

	/* The cookie is enough for the page's other files. */
	snprintf(req, sizeof(req), "GET /app.js HTTP/1.1\r\nHost: "
	    "127.0.0.1:%d\r\nCookie: a=b; smpweb_token=%s\r\nConnection: "
	    "close\r\n\r\n", wp.port, TOKEN);
	web_http(wp.port, req, out, sizeof(out));
	ASSERT_STR_CONTAINS(out, "HTTP/1.1 200");
	ASSERT_STR_CONTAINS(out, "requestAnimationFrame");

	/* Nothing outside the page, token or not. */
	snprintf(req, sizeof(req), "GET /../../../etc/passwd HTTP/1.1\r\n"
	    "Host: 127.0.0.1:%d\r\nCookie: smpweb_token=%s\r\nConnection: "
	    "close\r\n\r\n", wp.port, TOKEN);
	web_http(wp.port, req, out, sizeof(out));
	ASSERT(strstr(out, "root:") == NULL);
	ASSERT(strstr(out, "HTTP/1.1 200") == NULL);
	web_stop(&wp);
	remove_dir(dir);
}

static void
ws_handshake(int port, const char *extra, char *out, size_t len)
{
	char req[1024];

	snprintf(req, sizeof(req), "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: smpweb\r\n"
	    "%s\r\n", port, extra);
	web_http(port, req, out, len);
}

TEST_T(web_websocket_needs_token_and_same_origin, 20)
{
	struct web_proc wp;
	char dir[256], extra[512], out[8192];

	start_with_token(&wp, dir);
	ws_handshake(wp.port, "", out, sizeof(out));
	ASSERT(strncmp(out, "HTTP/1.1 101", 12) != 0);

	snprintf(extra, sizeof(extra), "Cookie: smpweb_token=%s\r\nOrigin: "
	    "http://evil.example\r\n", TOKEN);
	ws_handshake(wp.port, extra, out, sizeof(out));
	ASSERT(strncmp(out, "HTTP/1.1 101", 12) != 0);

	snprintf(extra, sizeof(extra), "Cookie: smpweb_token=%s\r\nOrigin: "
	    "http://127.0.0.1:%d\r\n", TOKEN, wp.port);
	ws_handshake(wp.port, extra, out, sizeof(out));
	ASSERT_STR_CONTAINS(out, "HTTP/1.1 101");
	ASSERT_STR_CONTAINS(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	web_stop(&wp);
	remove_dir(dir);
}

/* TLS is the other way to serve beyond loopback: it starts on 0.0.0.0 with
 * a certificate, answers HTTPS, and a plain HTTP request gets no page. */
TEST_T(web_tls_beyond_loopback, 30)
{
	struct web_proc wp;
	char dir[256], args[900], cmd[1200], out[8192], line[512];
	size_t got = 0;
	FILE *p;

	snprintf(dir, sizeof(dir), "/tmp/smp-web-XXXXXX");
	ASSERT_NOT_NULL(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey rsa:2048 "
	    "-nodes -keyout %s/key.pem -out %s/cert.pem -days 1 -subj "
	    "/CN=localhost >/dev/null 2>&1", dir, dir);
	ASSERT_MSG(system(cmd) == 0, "openssl could not make a certificate");
	snprintf(args, sizeof(args), "--status ipc://%s/status --listen "
	    "0.0.0.0:0 --tls-cert %s/cert.pem --tls-key %s/key.pem", dir, dir,
	    dir);
	web_start(&wp, dir, args);
	snprintf(cmd, sizeof(cmd), "printf 'GET / HTTP/1.1\\r\\nHost: "
	    "127.0.0.1\\r\\nConnection: close\\r\\n\\r\\n' | "
	    "timeout 10 openssl s_client -quiet -connect 127.0.0.1:%d "
	    "2>/dev/null", wp.port);
	p = popen(cmd, "r");
	ASSERT_NOT_NULL(p);
	out[0] = '\0';
	while (got < sizeof(out) - 1 && fgets(line, sizeof(line), p) != NULL) {
		snprintf(out + got, sizeof(out) - got, "%s", line);
		got += strlen(out + got);
	}
	pclose(p);
	ASSERT_STR_CONTAINS(out, "HTTP/1.1 200");
	ASSERT_STR_CONTAINS(out, "<canvas id=\"map\"");

	snprintf(cmd, sizeof(cmd), "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Connection: close\r\n\r\n");
	web_http(wp.port, cmd, out, sizeof(out));
	ASSERT(strstr(out, "<canvas") == NULL);
	web_stop(&wp);
	remove_dir(dir);
}

TEST_MAIN()
