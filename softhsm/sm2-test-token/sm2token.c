/*
 * p11bridge SM2 test token: a TEST DOUBLE for a vendor HSM that offers SM2 through vendor-defined PKCS#11
 * mechanisms. It exists so that `npm test` can exercise the daemon's SM2 paths on a machine where no PKCS#11
 * module offers SM2 (none in Debian does). It is NOT an HSM and NEVER a place for real keys: private keys are
 * plain files under the token directory, and the PIN check is a SHA-256 comparison.
 *
 * Numbers: the TASS HSM profile as documented in xipki/ipkcs11wrapper
 * `src/main/resources/org/xipki/pkcs11/wrapper/vendor.conf` (see docs/hsm/sm2-tass.yaml), including TASS's
 * documented behaviours: SM2 signatures come back DER-encoded (X9.62 SEQUENCE { r, s }) and SM2 private keys
 * carry CKA_EC_POINT. The SM2 ciphertext is OpenSSL's GM/T 0009 ASN.1 form (TASS's own format is not public).
 *
 *   CKK  SM2 key type           0x80000004   (CKK_EC on the SM2 curve is accepted too)
 *   CKM  SM2 key pair gen       0x80008001
 *   CKM  SM2 sign/verify over e 0x80008000   input: the 32-byte e = SM3(Z_A || M) (GB/T 32918.2 §6.1 A2)
 *   CKM  SM3-with-SM2           0x80008100   input: the message; Z_A with the ID in the mechanism parameter,
 *                                             or 1234567812345678 when there is none
 *   CKM  SM2 encrypt/decrypt    0x80008200   GM/T 0009 ASN.1 ciphertext
 *   CKM  SM3 digest             0x80000005
 *
 * Tokens: every subdirectory of $P11BRIDGE_SM2TOKEN_DIR (or of the path given as C_Initialize pReserved) that
 * holds a `token.conf` (lines `label=`, `serial=`, `pin-sha256=`) is one token in its own slot; the directory is
 * re-read by C_GetSlotList. Token objects are files `objects/<name>.obj` (attribute TLVs), re-read by
 * C_FindObjectsInit, so another process's changes show up as with SoftHSM2.
 *
 * Threads: pkcs11js calls in from libuv worker threads; one process-wide mutex serialises every call.
 * Built by scripts/build-sm2-test-token.sh against Debian's OpenSSL 3 (libssl-dev).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include "pkcs11.h"

#define EXPORT __attribute__((visibility("default")))

/* The TASS numbers (xipki vendor.conf). */
#define CKK_TASS_SM2 0x80000004UL
#define CKM_TASS_SM2_KEY_PAIR_GEN 0x80008001UL
#define CKM_TASS_SM2 0x80008000UL
#define CKM_TASS_SM3_SM2 0x80008100UL
#define CKM_TASS_SM2_RAW 0x80008200UL
#define CKM_TASS_SM3 0x80000005UL

static const CK_MECHANISM_TYPE MECHANISMS[] = {CKM_TASS_SM2_KEY_PAIR_GEN, CKM_TASS_SM2, CKM_TASS_SM3_SM2,
                                               CKM_TASS_SM2_RAW, CKM_TASS_SM3};
#define N_MECHANISMS (sizeof(MECHANISMS) / sizeof(MECHANISMS[0]))

/* DER of the sm2p256v1 OID 1.2.156.10197.1.301: what CKA_EC_PARAMS holds for SM2 keys. */
static const unsigned char SM2_EC_PARAMS[] = {0x06, 0x08, 0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x82, 0x2d};
static const char DEFAULT_ID[] = "1234567812345678";

#define MAX_SLOTS 64
#define MAX_SESSIONS 1024
#define SIG_MAX 72 /* DER SEQUENCE { r, s } for a 256-bit curve */
#define FILE_MAGIC "P11BSM2T"

typedef struct {
  CK_ATTRIBUTE_TYPE type;
  CK_ULONG len;
  unsigned char *val;
} attr_t;

typedef struct {
  int in_use;
  CK_SLOT_ID slot;
  CK_SESSION_HANDLE session; /* owner of a session object; 0 for token objects */
  char file[40];             /* token objects: file name under objects/ */
  attr_t *attrs;
  size_t n;
} object_t;

typedef struct {
  int present;
  char name[NAME_MAX + 1];
  char label[33];
  char serial[17];
  unsigned char pin_hash[32];
  int logged_in;
} slot_t;

typedef struct {
  int active;
  CK_MECHANISM_TYPE mech;
  CK_OBJECT_HANDLE key;
  unsigned char *param;
  CK_ULONG param_len;
} op_t;

typedef struct {
  int in_use;
  CK_SLOT_ID slot;
  CK_FLAGS flags;
  CK_OBJECT_HANDLE *found;
  CK_ULONG n_found, pos;
  int finding;
  op_t sign, verify, encrypt, decrypt, digest;
} session_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int initialized;
static char base_dir[PATH_MAX];
static slot_t slots[MAX_SLOTS];
static CK_ULONG n_slots;
static session_t sessions[MAX_SESSIONS];
static object_t *objects; /* handle h is objects[h - 1] */
static size_t n_objects;

/* ------------------------------------------------------------------------------------------------------- */
/* Attributes */

static attr_t *find_attr(object_t *o, CK_ATTRIBUTE_TYPE type) {
  for (size_t i = 0; i < o->n; i++)
    if (o->attrs[i].type == type) return &o->attrs[i];
  return NULL;
}

static int set_attr(object_t *o, CK_ATTRIBUTE_TYPE type, const void *val, CK_ULONG len) {
  unsigned char *copy = malloc(len ? len : 1);
  if (!copy) return 0;
  if (len) memcpy(copy, val, len);
  attr_t *a = find_attr(o, type);
  if (!a) {
    attr_t *grown = realloc(o->attrs, (o->n + 1) * sizeof(attr_t));
    if (!grown) {
      free(copy);
      return 0;
    }
    o->attrs = grown;
    a = &o->attrs[o->n++];
    a->type = type;
  } else {
    free(a->val);
  }
  a->val = copy;
  a->len = len;
  return 1;
}

static int set_bool(object_t *o, CK_ATTRIBUTE_TYPE type, CK_BBOOL v) { return set_attr(o, type, &v, 1); }
static int set_ulong(object_t *o, CK_ATTRIBUTE_TYPE type, CK_ULONG v) { return set_attr(o, type, &v, sizeof v); }

static int get_bool(object_t *o, CK_ATTRIBUTE_TYPE type, int dflt) {
  attr_t *a = find_attr(o, type);
  return a && a->len >= 1 ? a->val[0] != 0 : dflt;
}

static CK_ULONG get_ulong(object_t *o, CK_ATTRIBUTE_TYPE type, CK_ULONG dflt) {
  attr_t *a = find_attr(o, type);
  if (!a || a->len != sizeof(CK_ULONG)) return dflt;
  CK_ULONG v;
  memcpy(&v, a->val, sizeof v);
  return v;
}

static void free_object(object_t *o) {
  for (size_t i = 0; i < o->n; i++) free(o->attrs[i].val);
  free(o->attrs);
  memset(o, 0, sizeof *o);
}

/* Copies a caller's template onto an object (later entries win). */
static CK_RV apply_template(object_t *o, CK_ATTRIBUTE_PTR t, CK_ULONG n) {
  for (CK_ULONG i = 0; i < n; i++) {
    if (t[i].ulValueLen && !t[i].pValue) return CKR_ARGUMENTS_BAD;
    if (!set_attr(o, t[i].type, t[i].pValue, t[i].ulValueLen)) return CKR_HOST_MEMORY;
  }
  return CKR_OK;
}

static const CK_ATTRIBUTE *template_get(CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_ATTRIBUTE_TYPE type) {
  for (CK_ULONG i = 0; i < n; i++)
    if (t[i].type == type) return &t[i];
  return NULL;
}

/* ------------------------------------------------------------------------------------------------------- */
/* Object store */

static object_t *new_object(CK_SLOT_ID slot, CK_OBJECT_HANDLE *handle) {
  object_t *grown = realloc(objects, (n_objects + 1) * sizeof(object_t));
  if (!grown) return NULL;
  objects = grown;
  object_t *o = &objects[n_objects++];
  memset(o, 0, sizeof *o);
  o->in_use = 1;
  o->slot = slot;
  *handle = n_objects;
  return o;
}

static object_t *object_of(CK_OBJECT_HANDLE h) {
  if (h == 0 || h > n_objects || !objects[h - 1].in_use) return NULL;
  return &objects[h - 1];
}

static void slot_path(CK_SLOT_ID slot, const char *rest, char *out, size_t size) {
  snprintf(out, size, "%s/%s%s%s", base_dir, slots[slot].name, rest[0] ? "/" : "", rest);
}

static void object_path(object_t *o, char *out, size_t size) {
  char rest[64];
  snprintf(rest, sizeof rest, "objects/%s", o->file);
  slot_path(o->slot, rest, out, size);
}

/* Writes a token object to its file: magic, then (type u64, length u32, value) per attribute. */
static CK_RV persist(object_t *o) {
  if (o->session) return CKR_OK;
  char path[PATH_MAX], tmp[PATH_MAX + 8];
  object_path(o, path, sizeof path);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  if (!f) return CKR_GENERAL_ERROR;
  int ok = fwrite(FILE_MAGIC, 1, 8, f) == 8;
  for (size_t i = 0; ok && i < o->n; i++) {
    unsigned long long type = o->attrs[i].type;
    unsigned int len = (unsigned int)o->attrs[i].len;
    ok = fwrite(&type, sizeof type, 1, f) == 1 && fwrite(&len, sizeof len, 1, f) == 1 &&
         (len == 0 || fwrite(o->attrs[i].val, 1, len, f) == len);
  }
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, path) != 0) {
    unlink(tmp);
    return CKR_GENERAL_ERROR;
  }
  return CKR_OK;
}

static int load_object_file(CK_SLOT_ID slot, const char *name) {
  char rest[64], path[PATH_MAX];
  snprintf(rest, sizeof rest, "objects/%s", name);
  slot_path(slot, rest, path, sizeof path);
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  char magic[8];
  CK_OBJECT_HANDLE h;
  object_t *o = NULL;
  if (fread(magic, 1, 8, f) != 8 || memcmp(magic, FILE_MAGIC, 8) != 0 || !(o = new_object(slot, &h))) {
    fclose(f);
    return 0;
  }
  snprintf(o->file, sizeof o->file, "%s", name);
  for (;;) {
    unsigned long long type;
    unsigned int len;
    if (fread(&type, sizeof type, 1, f) != 1) break;
    if (fread(&len, sizeof len, 1, f) != 1 || len > (1u << 24)) goto bad;
    unsigned char *val = malloc(len ? len : 1);
    if (!val || (len && fread(val, 1, len, f) != len)) {
      free(val);
      goto bad;
    }
    int ok = set_attr(o, (CK_ATTRIBUTE_TYPE)type, val, len);
    free(val);
    if (!ok) goto bad;
  }
  fclose(f);
  return 1;
bad:
  fclose(f);
  free_object(o);
  return 0;
}

static int is_object_file(const char *name) {
  size_t n = strlen(name);
  return n > 4 && n < 40 && strcmp(name + n - 4, ".obj") == 0;
}

/* Brings the token objects of a slot in line with its directory (other processes may have changed it). */
static void sync_objects(CK_SLOT_ID slot) {
  char dir[PATH_MAX], path[PATH_MAX];
  for (size_t i = 0; i < n_objects; i++) {
    object_t *o = &objects[i];
    if (!o->in_use || o->slot != slot || o->session) continue;
    object_path(o, path, sizeof path);
    if (access(path, F_OK) != 0) free_object(o);
  }
  slot_path(slot, "objects", dir, sizeof dir);
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!is_object_file(e->d_name)) continue;
    int known = 0;
    for (size_t i = 0; i < n_objects && !known; i++)
      known = objects[i].in_use && objects[i].slot == slot && !objects[i].session &&
              strcmp(objects[i].file, e->d_name) == 0;
    if (!known) load_object_file(slot, e->d_name);
  }
  closedir(d);
}

static void destroy_object(object_t *o) {
  if (!o->session) {
    char path[PATH_MAX];
    object_path(o, path, sizeof path);
    unlink(path);
  }
  free_object(o);
}

/* ------------------------------------------------------------------------------------------------------- */
/* Slots (token directories) */

static int hex_to_bytes(const char *hex, unsigned char *out, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned int b;
    if (sscanf(hex + 2 * i, "%2x", &b) != 1) return 0;
    out[i] = (unsigned char)b;
  }
  return hex[2 * n] == '\0' || hex[2 * n] == '\n' || hex[2 * n] == '\r';
}

static int read_token_conf(const char *name, slot_t *s) {
  char path[PATH_MAX], line[512];
  snprintf(path, sizeof path, "%s/%s/token.conf", base_dir, name);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  int have_pin = 0;
  memset(s->label, 0, sizeof s->label);
  memset(s->serial, 0, sizeof s->serial);
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = '\0';
    if (strncmp(line, "label=", 6) == 0) snprintf(s->label, sizeof s->label, "%s", line + 6);
    else if (strncmp(line, "serial=", 7) == 0) snprintf(s->serial, sizeof s->serial, "%s", line + 7);
    else if (strncmp(line, "pin-sha256=", 11) == 0) have_pin = hex_to_bytes(line + 11, s->pin_hash, 32);
  }
  fclose(f);
  return have_pin && s->label[0] != '\0';
}

/* Re-reads the token directories: new ones get the next slot ID, vanished ones are no longer present. */
static void scan_slots(void) {
  for (CK_ULONG i = 0; i < n_slots; i++) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s/token.conf", base_dir, slots[i].name);
    slots[i].present = access(path, F_OK) == 0;
  }
  if (!base_dir[0]) return;
  DIR *d = opendir(base_dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d)) && n_slots < MAX_SLOTS) {
    if (e->d_name[0] == '.') continue;
    int known = 0;
    for (CK_ULONG i = 0; i < n_slots && !known; i++) known = strcmp(slots[i].name, e->d_name) == 0;
    if (known) continue;
    slot_t s;
    memset(&s, 0, sizeof s);
    snprintf(s.name, sizeof s.name, "%s", e->d_name);
    if (!read_token_conf(e->d_name, &s)) continue;
    s.present = 1;
    slots[n_slots++] = s;
  }
  closedir(d);
}

static CK_RV check_slot(CK_SLOT_ID id) {
  if (id >= n_slots) return CKR_SLOT_ID_INVALID;
  return slots[id].present ? CKR_OK : CKR_TOKEN_NOT_PRESENT;
}

/* ------------------------------------------------------------------------------------------------------- */
/* Sessions */

static session_t *session_of(CK_SESSION_HANDLE h) {
  if (h == 0 || h > MAX_SESSIONS || !sessions[h - 1].in_use) return NULL;
  return &sessions[h - 1];
}

static void clear_op(op_t *op) {
  free(op->param);
  memset(op, 0, sizeof *op);
}

static void close_session(CK_SESSION_HANDLE h) {
  session_t *s = &sessions[h - 1];
  for (size_t i = 0; i < n_objects; i++)
    if (objects[i].in_use && objects[i].session == h) free_object(&objects[i]);
  free(s->found);
  clear_op(&s->sign);
  clear_op(&s->verify);
  clear_op(&s->encrypt);
  clear_op(&s->decrypt);
  clear_op(&s->digest);
  memset(s, 0, sizeof *s);
}

static int visible(session_t *s, object_t *o) {
  if (!o->in_use || o->slot != s->slot) return 0;
  if (get_bool(o, CKA_PRIVATE, 0) && !slots[s->slot].logged_in) return 0;
  return 1;
}

static CK_RV session_object(CK_SESSION_HANDLE hs, CK_OBJECT_HANDLE ho, session_t **s, object_t **o) {
  *s = session_of(hs);
  if (!*s) return CKR_SESSION_HANDLE_INVALID;
  *o = object_of(ho);
  if (!*o || !visible(*s, *o)) return CKR_OBJECT_HANDLE_INVALID;
  return CKR_OK;
}

/* ------------------------------------------------------------------------------------------------------- */
/* SM2 keys (OpenSSL 3) */

/* The SEC 1 point inside CKA_EC_POINT (a DER OCTET STRING `04 41 04 x y`). */
static const unsigned char *ec_point_of(object_t *o) {
  attr_t *a = find_attr(o, CKA_EC_POINT);
  if (!a || a->len != 67 || a->val[0] != 0x04 || a->val[1] != 65 || a->val[2] != 0x04) return NULL;
  return a->val + 2;
}

static int is_sm2_key(object_t *o) {
  CK_ULONG kt = get_ulong(o, CKA_KEY_TYPE, CK_UNAVAILABLE_INFORMATION);
  return kt == CKK_TASS_SM2 || kt == CKK_EC;
}

/* An EVP_PKEY of type SM2 from the object's point, and its private scalar when `with_private`. */
static EVP_PKEY *sm2_pkey(object_t *o, int with_private) {
  const unsigned char *pub = ec_point_of(o);
  attr_t *d = with_private ? find_attr(o, CKA_VALUE) : NULL;
  if (!pub || (with_private && (!d || d->len != 32))) return NULL;
  EVP_PKEY *pkey = NULL;
  BIGNUM *bn = NULL;
  OSSL_PARAM *params = NULL;
  EVP_PKEY_CTX *ctx = NULL;
  OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
  if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "SM2", 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, 65))
    goto done;
  if (with_private && (!(bn = BN_bin2bn(d->val, 32, NULL)) || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bn)))
    goto done;
  if (!(params = OSSL_PARAM_BLD_to_param(bld)) || !(ctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL)) ||
      EVP_PKEY_fromdata_init(ctx) <= 0 ||
      EVP_PKEY_fromdata(ctx, &pkey, with_private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) <= 0)
    pkey = NULL;
done:
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  BN_clear_free(bn);
  OSSL_PARAM_BLD_free(bld);
  return pkey;
}

static CK_RV generate_sm2(unsigned char point[65], unsigned char scalar[32]) {
  EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
  BIGNUM *d = NULL;
  size_t len = 0;
  CK_RV rv = CKR_GENERAL_ERROR;
  if (pkey && EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, point, 65, &len) && len == 65 &&
      EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d) && BN_bn2binpad(d, scalar, 32) == 32)
    rv = CKR_OK;
  BN_clear_free(d);
  EVP_PKEY_free(pkey);
  return rv;
}

/* ------------------------------------------------------------------------------------------------------- */
/* Library */

static CK_FUNCTION_LIST function_list;

static void pad(CK_UTF8CHAR *dst, size_t size, const char *src) {
  memset(dst, ' ', size);
  size_t n = strlen(src);
  memcpy(dst, src, n < size ? n : size);
}

#define LOCKED_BEGIN                                                                                          \
  pthread_mutex_lock(&lock);                                                                                  \
  CK_RV rv__;                                                                                                 \
  if (!initialized) {                                                                                         \
    rv__ = CKR_CRYPTOKI_NOT_INITIALIZED;                                                                      \
    goto out__;                                                                                               \
  }
#define LOCKED_END                                                                                            \
  out__:                                                                                                      \
  pthread_mutex_unlock(&lock);                                                                                \
  return rv__;
#define RETURN(v)                                                                                             \
  do {                                                                                                        \
    rv__ = (v);                                                                                               \
    goto out__;                                                                                               \
  } while (0)

EXPORT CK_RV C_Initialize(CK_VOID_PTR pInitArgs) {
  pthread_mutex_lock(&lock);
  CK_RV rv = CKR_OK;
  if (initialized) {
    rv = CKR_CRYPTOKI_ALREADY_INITIALIZED;
  } else {
    CK_C_INITIALIZE_ARGS *args = pInitArgs;
    const char *dir = args && args->pReserved ? (const char *)args->pReserved : getenv("P11BRIDGE_SM2TOKEN_DIR");
    snprintf(base_dir, sizeof base_dir, "%s", dir ? dir : "");
    n_slots = 0;
    memset(sessions, 0, sizeof sessions);
    initialized = 1;
    scan_slots();
  }
  pthread_mutex_unlock(&lock);
  return rv;
}

EXPORT CK_RV C_Finalize(CK_VOID_PTR pReserved) {
  (void)pReserved;
  LOCKED_BEGIN
  for (CK_SESSION_HANDLE h = 1; h <= MAX_SESSIONS; h++)
    if (sessions[h - 1].in_use) close_session(h);
  for (size_t i = 0; i < n_objects; i++)
    if (objects[i].in_use) free_object(&objects[i]);
  free(objects);
  objects = NULL;
  n_objects = 0;
  n_slots = 0;
  initialized = 0;
  RETURN(CKR_OK);
  LOCKED_END
}

EXPORT CK_RV C_GetInfo(CK_INFO_PTR pInfo) {
  LOCKED_BEGIN
  if (!pInfo) RETURN(CKR_ARGUMENTS_BAD);
  memset(pInfo, 0, sizeof *pInfo);
  pInfo->cryptokiVersion.major = 2;
  pInfo->cryptokiVersion.minor = 40;
  pad(pInfo->manufacturerID, 32, "p11bridge test double");
  pad(pInfo->libraryDescription, 32, "SM2 test token (not an HSM)");
  pInfo->libraryVersion.major = 1;
  RETURN(CKR_OK);
  LOCKED_END
}

EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList) {
  if (!ppFunctionList) return CKR_ARGUMENTS_BAD;
  *ppFunctionList = &function_list;
  return CKR_OK;
}

EXPORT CK_RV C_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList, CK_ULONG_PTR pulCount) {
  (void)tokenPresent; /* every slot of this module holds a token */
  LOCKED_BEGIN
  if (!pulCount) RETURN(CKR_ARGUMENTS_BAD);
  scan_slots();
  CK_ULONG n = 0;
  for (CK_ULONG i = 0; i < n_slots; i++) n += slots[i].present;
  if (!pSlotList) {
    *pulCount = n;
    RETURN(CKR_OK);
  }
  if (*pulCount < n) {
    *pulCount = n;
    RETURN(CKR_BUFFER_TOO_SMALL);
  }
  n = 0;
  for (CK_ULONG i = 0; i < n_slots; i++)
    if (slots[i].present) pSlotList[n++] = i;
  *pulCount = n;
  RETURN(CKR_OK);
  LOCKED_END
}

EXPORT CK_RV C_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo) {
  LOCKED_BEGIN
  if (!pInfo) RETURN(CKR_ARGUMENTS_BAD);
  if (slotID >= n_slots) RETURN(CKR_SLOT_ID_INVALID);
  memset(pInfo, 0, sizeof *pInfo);
  pad(pInfo->slotDescription, 64, "p11bridge SM2 test token slot");
  pad(pInfo->manufacturerID, 32, "p11bridge test double");
  pInfo->flags = slots[slotID].present ? CKF_TOKEN_PRESENT : 0;
  RETURN(CKR_OK);
  LOCKED_END
}

EXPORT CK_RV C_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo) {
  LOCKED_BEGIN
  if (!pInfo) RETURN(CKR_ARGUMENTS_BAD);
  CK_RV rv = check_slot(slotID);
  if (rv != CKR_OK) RETURN(rv);
  memset(pInfo, 0, sizeof *pInfo);
  pad(pInfo->label, 32, slots[slotID].label);
  pad(pInfo->manufacturerID, 32, "p11bridge test double");
  pad(pInfo->model, 16, "SM2 TEST DOUBLE");
  pad(pInfo->serialNumber, 16, slots[slotID].serial);
  pInfo->flags = CKF_RNG | CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED | CKF_TOKEN_INITIALIZED;
  CK_ULONG open = 0, rw = 0;
  for (int i = 0; i < MAX_SESSIONS; i++)
    if (sessions[i].in_use && sessions[i].slot == slotID) {
      open++;
      rw += (sessions[i].flags & CKF_RW_SESSION) != 0;
    }
  pInfo->ulMaxSessionCount = MAX_SESSIONS;
  pInfo->ulSessionCount = open;
  pInfo->ulMaxRwSessionCount = MAX_SESSIONS;
  pInfo->ulRwSessionCount = rw;
  pInfo->ulMaxPinLen = 255;
  pInfo->ulMinPinLen = 4;
  pInfo->ulTotalPublicMemory = pInfo->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
  pInfo->ulTotalPrivateMemory = pInfo->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
  pInfo->firmwareVersion.major = 1;
  RETURN(CKR_OK);
  LOCKED_END
}

EXPORT CK_RV C_GetMechanismList(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList, CK_ULONG_PTR pulCount) {
  LOCKED_BEGIN
  if (!pulCount) RETURN(CKR_ARGUMENTS_BAD);
  CK_RV rv = check_slot(slotID);
  if (rv != CKR_OK) RETURN(rv);
  if (pMechanismList) {
    if (*pulCount < N_MECHANISMS) {
      *pulCount = N_MECHANISMS;
      RETURN(CKR_BUFFER_TOO_SMALL);
    }
    memcpy(pMechanismList, MECHANISMS, sizeof MECHANISMS);
  }
  *pulCount = N_MECHANISMS;
  RETURN(CKR_OK);
  LOCKED_END
}

EXPORT CK_RV C_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR pInfo) {
  LOCKED_BEGIN
  if (!pInfo) RETURN(CKR_ARGUMENTS_BAD);
  CK_RV rv = check_slot(slotID);
  if (rv != CKR_OK) RETURN(rv);
  pInfo->ulMinKeySize = pInfo->ulMaxKeySize = 256;
  switch (type) {
  case CKM_TASS_SM2_KEY_PAIR_GEN: pInfo->flags = CKF_GENERATE_KEY_PAIR | CKF_EC_F_P | CKF_EC_NAMEDCURVE; break;
  case CKM_TASS_SM2:
  case CKM_TASS_SM3_SM2: pInfo->flags = CKF_SIGN | CKF_VERIFY; break;
  case CKM_TASS_SM2_RAW: pInfo->flags = CKF_ENCRYPT | CKF_DECRYPT; break;
  case CKM_TASS_SM3:
    pInfo->flags = CKF_DIGEST;
    pInfo->ulMinKeySize = pInfo->ulMaxKeySize = 0;
    break;
  default: RETURN(CKR_MECHANISM_INVALID);
  }
  RETURN(CKR_OK);
  LOCKED_END
}

EXPORT CK_RV C_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication, CK_NOTIFY Notify,
                           CK_SESSION_HANDLE_PTR phSession) {
  (void)pApplication;
  (void)Notify;
  LOCKED_BEGIN
  if (!phSession) RETURN(CKR_ARGUMENTS_BAD);
  CK_RV rv = check_slot(slotID);
  if (rv != CKR_OK) RETURN(rv);
  if (!(flags & CKF_SERIAL_SESSION)) RETURN(CKR_SESSION_PARALLEL_NOT_SUPPORTED);
  for (int i = 0; i < MAX_SESSIONS; i++) {
    if (sessions[i].in_use) continue;
    memset(&sessions[i], 0, sizeof sessions[i]);
    sessions[i].in_use = 1;
    sessions[i].slot = slotID;
    sessions[i].flags = flags;
    *phSession = (CK_SESSION_HANDLE)i + 1;
    RETURN(CKR_OK);
  }
  RETURN(CKR_SESSION_COUNT);
  LOCKED_END
}

EXPORT CK_RV C_CloseSession(CK_SESSION_HANDLE hSession) {
  LOCKED_BEGIN
  session_t *s = session_of(hSession);
  if (!s) RETURN(CKR_SESSION_HANDLE_INVALID);
  CK_SLOT_ID slot = s->slot;
  close_session(hSession);
  int left = 0;
  for (int i = 0; i < MAX_SESSIONS; i++) left |= sessions[i].in_use && sessions[i].slot == slot;
  if (!left) slots[slot].logged_in = 0; /* PKCS#11 §5.6: closing the last session logs the application out */
  RETURN(CKR_OK);
  LOCKED_END
}

EXPORT CK_RV C_CloseAllSessions(CK_SLOT_ID slotID) {
  LOCKED_BEGIN
  if (slotID >= n_slots) RETURN(CKR_SLOT_ID_INVALID);
  for (CK_SESSION_HANDLE h = 1; h <= MAX_SESSIONS; h++)
    if (sessions[h - 1].in_use && sessions[h - 1].slot == slotID) close_session(h);
  slots[slotID].logged_in = 0;
  RETURN(CKR_OK);
  LOCKED_END
}

EXPORT CK_RV C_GetSessionInfo(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo) {
  LOCKED_BEGIN
  session_t *s = session_of(hSession);
  if (!s) RETURN(CKR_SESSION_HANDLE_INVALID);
  if (!pInfo) RETURN(CKR_ARGUMENTS_BAD);
  int rw = (s->flags & CKF_RW_SESSION) != 0, user = slots[s->slot].logged_in;
  pInfo->slotID = s->slot;
  pInfo->state = rw ? (user ? CKS_RW_USER_FUNCTIONS : CKS_RW_PUBLIC_SESSION)
                    : (user ? CKS_RO_USER_FUNCTIONS : CKS_RO_PUBLIC_SESSION);
  pInfo->flags = s->flags;
  pInfo->ulDeviceError = 0;
  RETURN(CKR_OK);
  LOCKED_END
}

/* The PIN check of a test double: SHA-256 of the PIN against token.conf. No lockout. */
EXPORT CK_RV C_Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen) {
  LOCKED_BEGIN
  session_t *s = session_of(hSession);
  if (!s) RETURN(CKR_SESSION_HANDLE_INVALID);
  if (userType != CKU_USER) RETURN(CKR_USER_TYPE_INVALID);
  if (slots[s->slot].logged_in) RETURN(CKR_USER_ALREADY_LOGGED_IN);
  if (!pPin && ulPinLen) RETURN(CKR_ARGUMENTS_BAD);
  unsigned char hash[32];
  unsigned int len = 0;
  if (!EVP_Digest(pPin ? pPin : (CK_UTF8CHAR_PTR) "", ulPinLen, hash, &len, EVP_sha256(), NULL))
    RETURN(CKR_GENERAL_ERROR);
  if (CRYPTO_memcmp(hash, slots[s->slot].pin_hash, 32) != 0) RETURN(CKR_PIN_INCORRECT);
  slots[s->slot].logged_in = 1;
  RETURN(CKR_OK);
  LOCKED_END
}

EXPORT CK_RV C_Logout(CK_SESSION_HANDLE hSession) {
  LOCKED_BEGIN
  session_t *s = session_of(hSession);
  if (!s) RETURN(CKR_SESSION_HANDLE_INVALID);
  if (!slots[s->slot].logged_in) RETURN(CKR_USER_NOT_LOGGED_IN);
  slots[s->slot].logged_in = 0;
  RETURN(CKR_OK);
  LOCKED_END
}

/* Gives a new token object its file name and writes it; session objects stay in memory. */
static CK_RV place_object(session_t *s, CK_SESSION_HANDLE hs, object_t *o) {
  if (!get_bool(o, CKA_TOKEN, 0)) {
    o->session = hs;
    return CKR_OK;
  }
  if (!(s->flags & CKF_RW_SESSION)) return CKR_SESSION_READ_ONLY;
  unsigned char rnd[16];
  if (RAND_bytes(rnd, sizeof rnd) != 1) return CKR_GENERAL_ERROR;
  char *p = o->file;
  for (size_t i = 0; i < sizeof rnd; i++) p += sprintf(p, "%02x", rnd[i]);
  strcpy(p, ".obj");
  return persist(o);
}

static CK_RV new_from_template(session_t *s, CK_SESSION_HANDLE hs, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                               CK_OBJECT_HANDLE *h) {
  object_t *o = new_object(s->slot, h);
  if (!o) return CKR_HOST_MEMORY;
  CK_RV rv = apply_template(o, t, n);
  if (rv == CKR_OK) {
    CK_ULONG cls = get_ulong(o, CKA_CLASS, CKO_DATA);
    if (!find_attr(o, CKA_PRIVATE)) set_bool(o, CKA_PRIVATE, cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY);
    if (get_bool(o, CKA_PRIVATE, 0) && !slots[s->slot].logged_in) rv = CKR_USER_NOT_LOGGED_IN;
  }
  if (rv == CKR_OK) rv = place_object(s, hs, o);
  if (rv != CKR_OK) free_object(o);
  return rv;
}

EXPORT CK_RV C_CreateObject(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
                            CK_OBJECT_HANDLE_PTR phObject) {
  LOCKED_BEGIN
  session_t *s = session_of(hSession);
  if (!s) RETURN(CKR_SESSION_HANDLE_INVALID);
  if (!phObject || (ulCount && !pTemplate)) RETURN(CKR_ARGUMENTS_BAD);
  RETURN(new_from_template(s, hSession, pTemplate, ulCount, phObject));
  LOCKED_END
}

EXPORT CK_RV C_DestroyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject) {
  LOCKED_BEGIN
  session_t *s;
  object_t *o;
  CK_RV rv = session_object(hSession, hObject, &s, &o);
  if (rv != CKR_OK) RETURN(rv);
  if (!o->session && !(s->flags & CKF_RW_SESSION)) RETURN(CKR_SESSION_READ_ONLY);
  destroy_object(o);
  RETURN(CKR_OK);
  LOCKED_END
}

/* A private key's CKA_VALUE is never revealed while it is sensitive or not extractable (PKCS#11 §4.9). */
static int hidden(object_t *o, CK_ATTRIBUTE_TYPE type) {
  CK_ULONG cls = get_ulong(o, CKA_CLASS, CKO_DATA);
  return type == CKA_VALUE && (cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY) &&
         (get_bool(o, CKA_SENSITIVE, 1) || !get_bool(o, CKA_EXTRACTABLE, 0));
}

EXPORT CK_RV C_GetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate,
                                 CK_ULONG ulCount) {
  LOCKED_BEGIN
  session_t *s;
  object_t *o;
  CK_RV rv = session_object(hSession, hObject, &s, &o);
  if (rv != CKR_OK) RETURN(rv);
  if (ulCount && !pTemplate) RETURN(CKR_ARGUMENTS_BAD);
  for (CK_ULONG i = 0; i < ulCount; i++) {
    attr_t *a = find_attr(o, pTemplate[i].type);
    if (!a) {
      pTemplate[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
      rv = CKR_ATTRIBUTE_TYPE_INVALID;
    } else if (hidden(o, a->type)) {
      pTemplate[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
      rv = CKR_ATTRIBUTE_SENSITIVE;
    } else if (!pTemplate[i].pValue) {
      pTemplate[i].ulValueLen = a->len;
    } else if (pTemplate[i].ulValueLen < a->len) {
      pTemplate[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
      rv = CKR_BUFFER_TOO_SMALL;
    } else {
      memcpy(pTemplate[i].pValue, a->val, a->len);
      pTemplate[i].ulValueLen = a->len;
    }
  }
  RETURN(rv);
  LOCKED_END
}

EXPORT CK_RV C_SetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate,
                                 CK_ULONG ulCount) {
  LOCKED_BEGIN
  session_t *s;
  object_t *o;
  CK_RV rv = session_object(hSession, hObject, &s, &o);
  if (rv != CKR_OK) RETURN(rv);
  if (ulCount && !pTemplate) RETURN(CKR_ARGUMENTS_BAD);
  if (!o->session && !(s->flags & CKF_RW_SESSION)) RETURN(CKR_SESSION_READ_ONLY);
  if (!get_bool(o, CKA_MODIFIABLE, 1)) RETURN(CKR_ATTRIBUTE_READ_ONLY);
  for (CK_ULONG i = 0; i < ulCount; i++)
    if (pTemplate[i].type == CKA_CLASS || pTemplate[i].type == CKA_KEY_TYPE || pTemplate[i].type == CKA_TOKEN ||
        (hidden(o, CKA_VALUE) && pTemplate[i].type == CKA_VALUE))
      RETURN(CKR_ATTRIBUTE_READ_ONLY);
  rv = apply_template(o, pTemplate, ulCount);
  if (rv == CKR_OK) rv = persist(o);
  RETURN(rv);
  LOCKED_END
}

EXPORT CK_RV C_FindObjectsInit(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount) {
  LOCKED_BEGIN
  session_t *s = session_of(hSession);
  if (!s) RETURN(CKR_SESSION_HANDLE_INVALID);
  if (s->finding) RETURN(CKR_OPERATION_ACTIVE);
  if (ulCount && !pTemplate) RETURN(CKR_ARGUMENTS_BAD);
  sync_objects(s->slot);
  free(s->found);
  s->found = calloc(n_objects ? n_objects : 1, sizeof(CK_OBJECT_HANDLE));
  if (!s->found) RETURN(CKR_HOST_MEMORY);
  s->n_found = s->pos = 0;
  for (size_t i = 0; i < n_objects; i++) {
    object_t *o = &objects[i];
    if (!visible(s, o)) continue;
    int match = 1;
    for (CK_ULONG j = 0; j < ulCount && match; j++) {
      attr_t *a = find_attr(o, pTemplate[j].type);
      match = a && a->len == pTemplate[j].ulValueLen && (a->len == 0 || memcmp(a->val, pTemplate[j].pValue, a->len) == 0);
    }
    if (match) s->found[s->n_found++] = i + 1;
  }
  s->finding = 1;
  RETURN(CKR_OK);
  LOCKED_END
}

EXPORT CK_RV C_FindObjects(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject, CK_ULONG ulMaxObjectCount,
                           CK_ULONG_PTR pulObjectCount) {
  LOCKED_BEGIN
  session_t *s = session_of(hSession);
  if (!s) RETURN(CKR_SESSION_HANDLE_INVALID);
  if (!s->finding) RETURN(CKR_OPERATION_NOT_INITIALIZED);
  if (!pulObjectCount || (ulMaxObjectCount && !phObject)) RETURN(CKR_ARGUMENTS_BAD);
  CK_ULONG n = 0;
  while (n < ulMaxObjectCount && s->pos < s->n_found) phObject[n++] = s->found[s->pos++];
  *pulObjectCount = n;
  RETURN(CKR_OK);
  LOCKED_END
}

EXPORT CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE hSession) {
  LOCKED_BEGIN
  session_t *s = session_of(hSession);
  if (!s) RETURN(CKR_SESSION_HANDLE_INVALID);
  if (!s->finding) RETURN(CKR_OPERATION_NOT_INITIALIZED);
  free(s->found);
  s->found = NULL;
  s->finding = 0;
  RETURN(CKR_OK);
  LOCKED_END
}

/* ------------------------------------------------------------------------------------------------------- */
/* Key pair generation */

static CK_RV check_sm2_template(CK_ATTRIBUTE_PTR t, CK_ULONG n) {
  const CK_ATTRIBUTE *kt = template_get(t, n, CKA_KEY_TYPE);
  if (kt) {
    CK_ULONG v = 0;
    if (kt->ulValueLen != sizeof v || !kt->pValue) return CKR_TEMPLATE_INCONSISTENT;
    memcpy(&v, kt->pValue, sizeof v);
    if (v != CKK_TASS_SM2 && v != CKK_EC) return CKR_TEMPLATE_INCONSISTENT;
  }
  const CK_ATTRIBUTE *params = template_get(t, n, CKA_EC_PARAMS);
  if (params && (params->ulValueLen != sizeof SM2_EC_PARAMS || !params->pValue ||
                 memcmp(params->pValue, SM2_EC_PARAMS, sizeof SM2_EC_PARAMS) != 0))
    return CKR_TEMPLATE_INCONSISTENT;
  return CKR_OK;
}

/* Common attributes of both halves: the defaults of a key this token made, then the caller's template. */
static CK_RV fill_key(object_t *o, CK_OBJECT_CLASS cls, const unsigned char wrapped_point[67], CK_ATTRIBUTE_PTR t,
                      CK_ULONG n) {
  int ok = set_ulong(o, CKA_CLASS, cls) && set_ulong(o, CKA_KEY_TYPE, CKK_TASS_SM2) &&
           set_bool(o, CKA_TOKEN, CK_FALSE) && set_bool(o, CKA_PRIVATE, cls == CKO_PRIVATE_KEY) &&
           set_bool(o, CKA_MODIFIABLE, CK_TRUE) && set_attr(o, CKA_LABEL, "", 0) && set_attr(o, CKA_ID, "", 0) &&
           set_bool(o, CKA_DERIVE, CK_FALSE) && set_bool(o, CKA_LOCAL, CK_TRUE) &&
           set_attr(o, CKA_EC_PARAMS, SM2_EC_PARAMS, sizeof SM2_EC_PARAMS) &&
           /* TASS: SM2 private keys carry CKA_EC_POINT too (xipki's SM2_PRIVATEKEY_ECPOINT behaviour). */
           set_attr(o, CKA_EC_POINT, wrapped_point, 67);
  if (ok && cls == CKO_PUBLIC_KEY)
    ok = set_bool(o, CKA_VERIFY, CK_TRUE) && set_bool(o, CKA_ENCRYPT, CK_TRUE) && set_bool(o, CKA_WRAP, CK_FALSE);
  if (ok && cls == CKO_PRIVATE_KEY)
    ok = set_bool(o, CKA_SIGN, CK_TRUE) && set_bool(o, CKA_DECRYPT, CK_TRUE) && set_bool(o, CKA_UNWRAP, CK_FALSE) &&
         set_bool(o, CKA_SENSITIVE, CK_TRUE) && set_bool(o, CKA_EXTRACTABLE, CK_FALSE);
  if (!ok) return CKR_HOST_MEMORY;
  CK_RV rv = apply_template(o, t, n);
  if (rv != CKR_OK) return rv;
  if (cls == CKO_PRIVATE_KEY &&
      !(set_bool(o, CKA_ALWAYS_SENSITIVE, (CK_BBOOL)get_bool(o, CKA_SENSITIVE, 1)) &&
        set_bool(o, CKA_NEVER_EXTRACTABLE, (CK_BBOOL)!get_bool(o, CKA_EXTRACTABLE, 0))))
    return CKR_HOST_MEMORY;
  return CKR_OK;
}

EXPORT CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                               CK_ATTRIBUTE_PTR pPublicKeyTemplate, CK_ULONG ulPublicKeyAttributeCount,
                               CK_ATTRIBUTE_PTR pPrivateKeyTemplate, CK_ULONG ulPrivateKeyAttributeCount,
                               CK_OBJECT_HANDLE_PTR phPublicKey, CK_OBJECT_HANDLE_PTR phPrivateKey) {
  LOCKED_BEGIN
  session_t *s = session_of(hSession);
  if (!s) RETURN(CKR_SESSION_HANDLE_INVALID);
  if (!pMechanism || !phPublicKey || !phPrivateKey) RETURN(CKR_ARGUMENTS_BAD);
  if (pMechanism->mechanism != CKM_TASS_SM2_KEY_PAIR_GEN) RETURN(CKR_MECHANISM_INVALID);
  CK_RV rv = check_sm2_template(pPublicKeyTemplate, ulPublicKeyAttributeCount);
  if (rv == CKR_OK) rv = check_sm2_template(pPrivateKeyTemplate, ulPrivateKeyAttributeCount);
  if (rv != CKR_OK) RETURN(rv);
  unsigned char wrapped[67], scalar[32];
  wrapped[0] = 0x04; /* OCTET STRING */
  wrapped[1] = 65;
  rv = generate_sm2(wrapped + 2, scalar);
  if (rv != CKR_OK) RETURN(rv);
  CK_OBJECT_HANDLE hpub = 0, hpriv = 0;
  object_t *pub = new_object(s->slot, &hpub);
  if (!pub) RETURN(CKR_HOST_MEMORY);
  rv = fill_key(pub, CKO_PUBLIC_KEY, wrapped, pPublicKeyTemplate, ulPublicKeyAttributeCount);
  object_t *priv = rv == CKR_OK ? new_object(s->slot, &hpriv) : NULL;
  pub = object_of(hpub); /* new_object may have moved the table */
  if (rv == CKR_OK && !priv) rv = CKR_HOST_MEMORY;
  if (rv == CKR_OK) rv = fill_key(priv, CKO_PRIVATE_KEY, wrapped, pPrivateKeyTemplate, ulPrivateKeyAttributeCount);
  if (rv == CKR_OK && !set_attr(priv, CKA_VALUE, scalar, 32)) rv = CKR_HOST_MEMORY;
  OPENSSL_cleanse(scalar, sizeof scalar);
  if (rv == CKR_OK && ((get_bool(pub, CKA_PRIVATE, 0) || get_bool(priv, CKA_PRIVATE, 1)) && !slots[s->slot].logged_in))
    rv = CKR_USER_NOT_LOGGED_IN;
  if (rv == CKR_OK) rv = place_object(s, hSession, pub);
  if (rv == CKR_OK) {
    rv = place_object(s, hSession, priv);
    if (rv != CKR_OK) destroy_object(pub);
  }
  if (rv != CKR_OK) {
    if (object_of(hpub)) free_object(object_of(hpub));
    if (priv && object_of(hpriv)) free_object(object_of(hpriv));
    RETURN(rv);
  }
  *phPublicKey = hpub;
  *phPrivateKey = hpriv;
  RETURN(CKR_OK);
  LOCKED_END
}

/* ------------------------------------------------------------------------------------------------------- */
/* Operations */

static CK_RV op_init(CK_SESSION_HANDLE hs, op_t *(*pick)(session_t *), CK_MECHANISM_PTR m, CK_OBJECT_HANDLE hk,
                     CK_OBJECT_CLASS cls, CK_ATTRIBUTE_TYPE usage, const CK_MECHANISM_TYPE *allowed, size_t n_allowed) {
  session_t *s = session_of(hs);
  if (!s) return CKR_SESSION_HANDLE_INVALID;
  op_t *op = pick(s);
  if (op->active) return CKR_OPERATION_ACTIVE;
  if (!m) return CKR_ARGUMENTS_BAD;
  int ok = 0;
  for (size_t i = 0; i < n_allowed; i++) ok |= m->mechanism == allowed[i];
  if (!ok) return CKR_MECHANISM_INVALID;
  if (cls != (CK_OBJECT_CLASS)-1) {
    object_t *k = object_of(hk);
    if (!k || !visible(s, k)) return CKR_KEY_HANDLE_INVALID;
    if (get_ulong(k, CKA_CLASS, CKO_DATA) != cls || !is_sm2_key(k)) return CKR_KEY_TYPE_INCONSISTENT;
    if (!get_bool(k, usage, 0)) return CKR_KEY_FUNCTION_NOT_PERMITTED;
  }
  if (m->ulParameterLen && !m->pParameter) return CKR_ARGUMENTS_BAD;
  if (m->mechanism != CKM_TASS_SM3_SM2 && m->ulParameterLen) return CKR_MECHANISM_PARAM_INVALID;
  op->param = NULL;
  op->param_len = 0;
  if (m->ulParameterLen) {
    if (m->ulParameterLen > 8191 || !(op->param = malloc(m->ulParameterLen))) return CKR_MECHANISM_PARAM_INVALID;
    memcpy(op->param, m->pParameter, m->ulParameterLen);
    op->param_len = m->ulParameterLen;
  }
  op->mech = m->mechanism;
  op->key = hk;
  op->active = 1;
  return CKR_OK;
}

static op_t *pick_sign(session_t *s) { return &s->sign; }
static op_t *pick_verify(session_t *s) { return &s->verify; }
static op_t *pick_encrypt(session_t *s) { return &s->encrypt; }
static op_t *pick_decrypt(session_t *s) { return &s->decrypt; }
static op_t *pick_digest(session_t *s) { return &s->digest; }

static const CK_MECHANISM_TYPE SIGN_MECHANISMS[] = {CKM_TASS_SM2, CKM_TASS_SM3_SM2};
static const CK_MECHANISM_TYPE ENCRYPT_MECHANISMS[] = {CKM_TASS_SM2_RAW};
static const CK_MECHANISM_TYPE DIGEST_MECHANISMS[] = {CKM_TASS_SM3};

/*
 * The SM2 signature of `in` with `key`: for CKM_TASS_SM2, `in` is e and OpenSSL's SM2 EVP_PKEY_sign signs it as
 * given; for CKM_TASS_SM3_SM2, `in` is the message and OpenSSL computes Z_A (with the distinguishing ID) and e.
 */
static CK_RV sm2_sign(op_t *op, EVP_PKEY *key, const unsigned char *in, size_t in_len, unsigned char *sig,
                      size_t *sig_len) {
  int ok;
  if (op->mech == CKM_TASS_SM2) {
    if (in_len != 32) return CKR_DATA_LEN_RANGE;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    ok = c && EVP_PKEY_sign_init(c) > 0 && EVP_PKEY_sign(c, sig, sig_len, in, in_len) > 0;
    EVP_PKEY_CTX_free(c);
  } else {
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    const void *id = op->param_len ? (const void *)op->param : (const void *)DEFAULT_ID;
    int id_len = op->param_len ? (int)op->param_len : (int)strlen(DEFAULT_ID);
    ok = m && c && EVP_PKEY_CTX_set1_id(c, id, id_len) > 0;
    if (ok) {
      EVP_MD_CTX_set_pkey_ctx(m, c); /* the MD context now uses (and frees) c */
      c = NULL;
      ok = EVP_DigestSignInit(m, NULL, EVP_sm3(), NULL, key) > 0 && EVP_DigestSign(m, sig, sig_len, in, in_len) > 0;
    }
    EVP_PKEY_CTX_free(c);
    EVP_MD_CTX_free(m);
  }
  return ok ? CKR_OK : CKR_FUNCTION_FAILED;
}

EXPORT CK_RV C_SignInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey) {
  LOCKED_BEGIN
  RETURN(op_init(hSession, pick_sign, pMechanism, hKey, CKO_PRIVATE_KEY, CKA_SIGN, SIGN_MECHANISMS, 2));
  LOCKED_END
}

EXPORT CK_RV C_Sign(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
                    CK_ULONG_PTR pulSignatureLen) {
  LOCKED_BEGIN
  session_t *s = session_of(hSession);
  if (!s) RETURN(CKR_SESSION_HANDLE_INVALID);
  if (!s->sign.active) RETURN(CKR_OPERATION_NOT_INITIALIZED);
  if (!pulSignatureLen || (ulDataLen && !pData)) {
    clear_op(&s->sign);
    RETURN(CKR_ARGUMENTS_BAD);
  }
  if (!pSignature) {
    *pulSignatureLen = SIG_MAX; /* a length query keeps the operation active (PKCS#11 §5.2) */
    RETURN(CKR_OK);
  }
  object_t *k = object_of(s->sign.key);
  EVP_PKEY *key = k ? sm2_pkey(k, 1) : NULL;
  unsigned char sig[SIG_MAX + 8];
  size_t sig_len = sizeof sig;
  CK_RV rv = key ? sm2_sign(&s->sign, key, pData ? pData : (CK_BYTE_PTR) "", ulDataLen, sig, &sig_len)
                 : CKR_KEY_HANDLE_INVALID;
  EVP_PKEY_free(key);
  if (rv == CKR_OK && *pulSignatureLen < sig_len) {
    *pulSignatureLen = sig_len;
    RETURN(CKR_BUFFER_TOO_SMALL); /* the operation stays active, as PKCS#11 says */
  }
  if (rv == CKR_OK) {
    memcpy(pSignature, sig, sig_len);
    *pulSignatureLen = sig_len;
  }
  clear_op(&s->sign);
  RETURN(rv);
  LOCKED_END
}

EXPORT CK_RV C_VerifyInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey) {
  LOCKED_BEGIN
  RETURN(op_init(hSession, pick_verify, pMechanism, hKey, CKO_PUBLIC_KEY, CKA_VERIFY, SIGN_MECHANISMS, 2));
  LOCKED_END
}

EXPORT CK_RV C_Verify(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
                      CK_ULONG ulSignatureLen) {
  LOCKED_BEGIN
  session_t *s = session_of(hSession);
  if (!s) RETURN(CKR_SESSION_HANDLE_INVALID);
  if (!s->verify.active) RETURN(CKR_OPERATION_NOT_INITIALIZED);
  op_t op = s->verify;
  object_t *k = object_of(op.key);
  EVP_PKEY *key = k ? sm2_pkey(k, 0) : NULL;
  CK_RV rv = CKR_KEY_HANDLE_INVALID;
  if (key && (!pSignature || (ulDataLen && !pData))) rv = CKR_ARGUMENTS_BAD;
  else if (key && op.mech == CKM_TASS_SM2) {
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    if (ulDataLen != 32) rv = CKR_DATA_LEN_RANGE;
    else
      rv = c && EVP_PKEY_verify_init(c) > 0 && EVP_PKEY_verify(c, pSignature, ulSignatureLen, pData, ulDataLen) == 1
               ? CKR_OK
               : CKR_SIGNATURE_INVALID;
    EVP_PKEY_CTX_free(c);
  } else if (key) {
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    const void *id = op.param_len ? (const void *)op.param : (const void *)DEFAULT_ID;
    int id_len = op.param_len ? (int)op.param_len : (int)strlen(DEFAULT_ID);
    int ok = m && c && EVP_PKEY_CTX_set1_id(c, id, id_len) > 0;
    if (ok) {
      EVP_MD_CTX_set_pkey_ctx(m, c);
      c = NULL;
      ok = EVP_DigestVerifyInit(m, NULL, EVP_sm3(), NULL, key) > 0 &&
           EVP_DigestVerify(m, pSignature, ulSignatureLen, pData ? pData : (CK_BYTE_PTR) "", ulDataLen) == 1;
    }
    rv = ok ? CKR_OK : CKR_SIGNATURE_INVALID;
    EVP_PKEY_CTX_free(c);
    EVP_MD_CTX_free(m);
  }
  EVP_PKEY_free(key);
  clear_op(&s->verify);
  RETURN(rv);
  LOCKED_END
}

EXPORT CK_RV C_EncryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey) {
  LOCKED_BEGIN
  RETURN(op_init(hSession, pick_encrypt, pMechanism, hKey, CKO_PUBLIC_KEY, CKA_ENCRYPT, ENCRYPT_MECHANISMS, 1));
  LOCKED_END
}

EXPORT CK_RV C_DecryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey) {
  LOCKED_BEGIN
  RETURN(op_init(hSession, pick_decrypt, pMechanism, hKey, CKO_PRIVATE_KEY, CKA_DECRYPT, ENCRYPT_MECHANISMS, 1));
  LOCKED_END
}

/* SM2 public-key encryption and decryption (GM/T 0009 ASN.1 ciphertext, as OpenSSL writes and reads it). */
static CK_RV sm2_crypt(session_t *s, op_t *op, int decrypt, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                       CK_ULONG_PTR out_len) {
  if (!op->active) return CKR_OPERATION_NOT_INITIALIZED;
  if (!out_len || (in_len && !in)) {
    clear_op(op);
    return CKR_ARGUMENTS_BAD;
  }
  object_t *k = object_of(op->key);
  EVP_PKEY *key = k && visible(s, k) ? sm2_pkey(k, decrypt) : NULL;
  if (!key) {
    clear_op(op);
    return CKR_KEY_HANDLE_INVALID;
  }
  EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
  size_t need = 0;
  int ok = c && (decrypt ? EVP_PKEY_decrypt_init(c) : EVP_PKEY_encrypt_init(c)) > 0 &&
           (decrypt ? EVP_PKEY_decrypt(c, NULL, &need, in, in_len) : EVP_PKEY_encrypt(c, NULL, &need, in, in_len)) > 0;
  CK_RV rv = CKR_OK;
  unsigned char *buf = ok ? malloc(need ? need : 1) : NULL;
  size_t got = need;
  if (!ok) rv = decrypt ? CKR_ENCRYPTED_DATA_INVALID : CKR_DATA_LEN_RANGE;
  else if (!buf) rv = CKR_HOST_MEMORY;
  else if ((decrypt ? EVP_PKEY_decrypt(c, buf, &got, in, in_len) : EVP_PKEY_encrypt(c, buf, &got, in, in_len)) <= 0)
    rv = decrypt ? CKR_ENCRYPTED_DATA_INVALID : CKR_FUNCTION_FAILED;
  EVP_PKEY_CTX_free(c);
  EVP_PKEY_free(key);
  if (rv == CKR_OK && !out) {
    *out_len = got; /* length query: the operation stays active */
    OPENSSL_clear_free(buf, need);
    return CKR_OK;
  }
  if (rv == CKR_OK && *out_len < got) {
    *out_len = got;
    OPENSSL_clear_free(buf, need);
    return CKR_BUFFER_TOO_SMALL;
  }
  if (rv == CKR_OK) {
    memcpy(out, buf, got);
    *out_len = got;
  }
  OPENSSL_clear_free(buf, need);
  clear_op(op);
  return rv;
}

EXPORT CK_RV C_Encrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pEncryptedData,
                       CK_ULONG_PTR pulEncryptedDataLen) {
  LOCKED_BEGIN
  session_t *s = session_of(hSession);
  if (!s) RETURN(CKR_SESSION_HANDLE_INVALID);
  RETURN(sm2_crypt(s, &s->encrypt, 0, pData, ulDataLen, pEncryptedData, pulEncryptedDataLen));
  LOCKED_END
}

EXPORT CK_RV C_Decrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedData, CK_ULONG ulEncryptedDataLen,
                       CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen) {
  LOCKED_BEGIN
  session_t *s = session_of(hSession);
  if (!s) RETURN(CKR_SESSION_HANDLE_INVALID);
  RETURN(sm2_crypt(s, &s->decrypt, 1, pEncryptedData, ulEncryptedDataLen, pData, pulDataLen));
  LOCKED_END
}

EXPORT CK_RV C_DigestInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism) {
  LOCKED_BEGIN
  RETURN(op_init(hSession, pick_digest, pMechanism, 0, (CK_OBJECT_CLASS)-1, 0, DIGEST_MECHANISMS, 1));
  LOCKED_END
}

EXPORT CK_RV C_Digest(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pDigest,
                      CK_ULONG_PTR pulDigestLen) {
  LOCKED_BEGIN
  session_t *s = session_of(hSession);
  if (!s) RETURN(CKR_SESSION_HANDLE_INVALID);
  if (!s->digest.active) RETURN(CKR_OPERATION_NOT_INITIALIZED);
  if (!pulDigestLen || (ulDataLen && !pData)) {
    clear_op(&s->digest);
    RETURN(CKR_ARGUMENTS_BAD);
  }
  if (!pDigest) {
    *pulDigestLen = 32;
    RETURN(CKR_OK);
  }
  if (*pulDigestLen < 32) {
    *pulDigestLen = 32;
    RETURN(CKR_BUFFER_TOO_SMALL);
  }
  unsigned int len = 0;
  CK_RV rv = EVP_Digest(pData ? pData : (CK_BYTE_PTR) "", ulDataLen, pDigest, &len, EVP_sm3(), NULL) ? CKR_OK
                                                                                                     : CKR_FUNCTION_FAILED;
  *pulDigestLen = len;
  clear_op(&s->digest);
  RETURN(rv);
  LOCKED_END
}

EXPORT CK_RV C_SeedRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed, CK_ULONG ulSeedLen) {
  LOCKED_BEGIN
  if (!session_of(hSession)) RETURN(CKR_SESSION_HANDLE_INVALID);
  if (ulSeedLen && !pSeed) RETURN(CKR_ARGUMENTS_BAD);
  RAND_add(pSeed, (int)ulSeedLen, 0);
  RETURN(CKR_OK);
  LOCKED_END
}

EXPORT CK_RV C_GenerateRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR RandomData, CK_ULONG ulRandomLen) {
  LOCKED_BEGIN
  if (!session_of(hSession)) RETURN(CKR_SESSION_HANDLE_INVALID);
  if (ulRandomLen && !RandomData) RETURN(CKR_ARGUMENTS_BAD);
  RETURN(RAND_bytes(RandomData, (int)ulRandomLen) == 1 ? CKR_OK : CKR_FUNCTION_FAILED);
  LOCKED_END
}

/* ------------------------------------------------------------------------------------------------------- */
/* Everything else: CKR_FUNCTION_NOT_SUPPORTED, with the exact prototype of each function. */

#define NOT_SUPPORTED(name, args)                                                                             \
  EXPORT CK_RV name args { return CKR_FUNCTION_NOT_SUPPORTED; }
#define UNUSED_FUNCTIONS(F)                                                                                   \
  F(C_InitToken, (CK_SLOT_ID a, CK_UTF8CHAR_PTR b, CK_ULONG c, CK_UTF8CHAR_PTR d))                            \
  F(C_InitPIN, (CK_SESSION_HANDLE a, CK_UTF8CHAR_PTR b, CK_ULONG c))                                          \
  F(C_SetPIN, (CK_SESSION_HANDLE a, CK_UTF8CHAR_PTR b, CK_ULONG c, CK_UTF8CHAR_PTR d, CK_ULONG e))            \
  F(C_GetOperationState, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c))                                \
  F(C_SetOperationState, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_OBJECT_HANDLE d, CK_OBJECT_HANDLE e)) \
  F(C_CopyObject, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c, CK_ULONG d, CK_OBJECT_HANDLE_PTR e)) \
  F(C_GetObjectSize, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ULONG_PTR c))                               \
  F(C_EncryptUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e))         \
  F(C_EncryptFinal, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c))                                     \
  F(C_DecryptUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e))         \
  F(C_DecryptFinal, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c))                                     \
  F(C_DigestUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c))                                         \
  F(C_DigestKey, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b))                                                   \
  F(C_DigestFinal, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c))                                      \
  F(C_SignUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c))                                           \
  F(C_SignFinal, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c))                                        \
  F(C_SignRecoverInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c))                         \
  F(C_SignRecover, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e))           \
  F(C_VerifyUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c))                                         \
  F(C_VerifyFinal, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c))                                          \
  F(C_VerifyRecoverInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c))                       \
  F(C_VerifyRecover, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e))         \
  F(C_DigestEncryptUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e))   \
  F(C_DecryptDigestUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e))   \
  F(C_SignEncryptUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e))     \
  F(C_DecryptVerifyUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e))   \
  F(C_GenerateKey, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_ATTRIBUTE_PTR c, CK_ULONG d, CK_OBJECT_HANDLE_PTR e)) \
  F(C_WrapKey, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c, CK_OBJECT_HANDLE d, CK_BYTE_PTR e,  \
                CK_ULONG_PTR f))                                                                              \
  F(C_UnwrapKey, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c, CK_BYTE_PTR d, CK_ULONG e,     \
                  CK_ATTRIBUTE_PTR f, CK_ULONG g, CK_OBJECT_HANDLE_PTR h))                                    \
  F(C_DeriveKey, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c, CK_ATTRIBUTE_PTR d, CK_ULONG e, \
                  CK_OBJECT_HANDLE_PTR f))                                                                    \
  F(C_GetFunctionStatus, (CK_SESSION_HANDLE a))                                                               \
  F(C_CancelFunction, (CK_SESSION_HANDLE a))                                                                  \
  F(C_WaitForSlotEvent, (CK_FLAGS a, CK_SLOT_ID_PTR b, CK_VOID_PTR c))

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
UNUSED_FUNCTIONS(NOT_SUPPORTED)
#pragma GCC diagnostic pop

#define LIST_ENTRY(name, args) name,
static CK_FUNCTION_LIST function_list = {{2, 40}, CK_EACH_FUNCTION(LIST_ENTRY)};
