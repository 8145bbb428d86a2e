/*
 * CurveZMQ key files: reading and writing the key pairs `smpctl keygen`
 * makes, and loading the allowlist of client public keys (a directory of
 * public key files) that the ZAP handler checks. Keys travel as Z85 text (40
 * characters) in files and as 32 raw bytes on the wire (ZAP credentials).
 * A key file is a few "name = "value"" lines:
 *
 *     # smpd CURVE key pair: keep the secret key file private (0600)
 *     public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
 *     secret-key = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
 *
 * The public file (BASENAME.pub) has only the public-key line; a file holding
 * just a bare 40-character Z85 key is also accepted as a public key, so keys
 * made by other ZeroMQ tools can be dropped into the allowlist.
 */
#ifndef SMP_DAEMON_KEYS_H
#define SMP_DAEMON_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEYS_Z85_LEN 40      /* characters of a Z85 key, without the NUL */
#define KEYS_BIN_LEN 32      /* bytes of a raw CurveZMQ key */
#define KEYS_NAME_MAX 48     /* a client's name: its key file's base name */

/* Reads a key file. pub_z85 (41 bytes) gets the public key; sec_z85 (41
 * bytes, may be NULL) the secret key, which must then be present. 0, or -1
 * with "file:line: reason" in err. */
int keys_read(const char *path, char *pub_z85, char *sec_z85, char *err,
    size_t errlen);

/* Makes a new key pair (zmq_curve_keypair) and writes BASENAME.key (public
 * and secret, mode 0600, never overwriting an existing file) and
 * BASENAME.pub (public only, 0644). 0, or -1 with the reason in err. */
int keys_generate(const char *basename, char *pub_z85, char *err,
    size_t errlen);

/* The allowlist: every regular file in a directory whose name does not
 * start with '.', each holding one public key. */
struct keys_list;

/* Loads dir; NULL with "file:line: reason" in err when the directory cannot
 * be read or any file in it is not a valid key (a typo must not silently
 * lock an operator out or, worse, be ignored). */
struct keys_list *keys_list_load(const char *dir, char *err, size_t errlen);
void keys_list_destroy(struct keys_list **l);
size_t keys_list_count(const struct keys_list *l);
/* The name (key file base name, without ".pub"/".key") of the allowed key
 * equal to the 32 raw bytes key, or NULL when it is not on the list. */
const char *keys_list_find(const struct keys_list *l, const uint8_t *key);

#endif /* SMP_DAEMON_KEYS_H */
