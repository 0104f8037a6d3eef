/*
 * p11bridge fault token: a TEST DOUBLE. A PKCS#11 v2.40 module that forwards every call to a real module
 * (SoftHSM2 by default) and, when a test says so in a control file, makes chosen calls fail with a chosen CKR_*
 * code, sleep, or hang, or makes an object look changed between the two calls of a C_GetAttributeValue (`empty`);
 * it counts the calls per function in a file shared by every process that uses it. It exists so that `npm test`
 * can prove the daemon survives what real HSMs do (hangs, device errors, lost logins, bad PINs, objects another
 * application writes). It holds no key and implements no cryptography; it is never part of a production configuration.
 * The control format and the counts layout are documented in README.md beside this file.
 *
 * Configuration is read at every C_Initialize (not at load: one test process may load the library once and
 * initialise it for several suites): P11FAULT_MODULE (the real module), P11FAULT_CONTROL (the control file;
 * without it the module is a pure pass-through), P11FAULT_COUNTS (the counts file). "%p" in a path is this
 * process's id.
 *
 * Threads: the daemon calls in from several libuv threads at once (CKF_OS_LOCKING_OK). The rules are an immutable,
 * reference-counted snapshot replaced when the control file's stat() changes; rule counters (times=, after=) and
 * the shared counts are atomics; the session and slot maps have their own mutex, never held across a call into
 * the real module.
 *
 * Built by scripts/build-fault-token.sh against p11-kit's complete PKCS#11 2.40 header (libp11-kit-dev).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Every C_* declared by the header (and defined below) is exported; everything else stays hidden. */
#pragma GCC visibility push(default)
#include <p11-kit/pkcs11.h>
#pragma GCC visibility pop

#define DEFAULT_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define HANG_POLL_MS 20
#define MAX_CONTROL_BYTES 65536
#define LABEL_LEN 32

/* ---------------------------------------------------------------------------------------------------------------
 * The function table, in CK_FUNCTION_LIST order. G: a generated pass-through wrapper; S: written by hand below
 * (it also keeps the session/slot maps or the configuration). Scope says what the first argument names, for
 * `token=` rules. Every wrapper's first parameter is a0; the header's prototypes check every signature.
 */
enum scope { S_NONE, S_SLOT, S_SESSION };

#define P_SESS (CK_SESSION_HANDLE a0)
#define P_MECH_KEY (CK_SESSION_HANDLE a0, CK_MECHANISM_PTR a1, CK_OBJECT_HANDLE a2)
#define P_IN_OUT (CK_SESSION_HANDLE a0, CK_BYTE_PTR a1, CK_ULONG a2, CK_BYTE_PTR a3, CK_ULONG_PTR a4)
#define P_PART (CK_SESSION_HANDLE a0, CK_BYTE_PTR a1, CK_ULONG a2)
#define P_FINAL (CK_SESSION_HANDLE a0, CK_BYTE_PTR a1, CK_ULONG_PTR a2)
#define P_ATTRS (CK_SESSION_HANDLE a0, CK_OBJECT_HANDLE a1, CK_ATTRIBUTE_PTR a2, CK_ULONG a3)
#define A1 (a0)
#define A2 (a0, a1)
#define A3 (a0, a1, a2)
#define A4 (a0, a1, a2, a3)
#define A5 (a0, a1, a2, a3, a4)
#define A6 (a0, a1, a2, a3, a4, a5)
#define A8 (a0, a1, a2, a3, a4, a5, a6, a7)

#define FUNCTIONS(G, S)                                                                                          \
  S(C_Initialize, S_NONE, (CK_VOID_PTR a0), A1)                                                                  \
  S(C_Finalize, S_NONE, (CK_VOID_PTR a0), A1)                                                                    \
  G(C_GetInfo, S_NONE, (CK_INFO_PTR a0), A1)                                                                     \
  S(C_GetFunctionList, S_NONE, (CK_FUNCTION_LIST_PTR_PTR a0), A1)                                                \
  G(C_GetSlotList, S_NONE, (CK_BBOOL a0, CK_SLOT_ID_PTR a1, CK_ULONG_PTR a2), A3)                                \
  G(C_GetSlotInfo, S_SLOT, (CK_SLOT_ID a0, CK_SLOT_INFO_PTR a1), A2)                                             \
  S(C_GetTokenInfo, S_SLOT, (CK_SLOT_ID a0, CK_TOKEN_INFO_PTR a1), A2)                                           \
  G(C_GetMechanismList, S_SLOT, (CK_SLOT_ID a0, CK_MECHANISM_TYPE_PTR a1, CK_ULONG_PTR a2), A3)                  \
  G(C_GetMechanismInfo, S_SLOT, (CK_SLOT_ID a0, CK_MECHANISM_TYPE a1, CK_MECHANISM_INFO_PTR a2), A3)             \
  G(C_InitToken, S_SLOT, (CK_SLOT_ID a0, CK_UTF8CHAR_PTR a1, CK_ULONG a2, CK_UTF8CHAR_PTR a3), A4)               \
  G(C_InitPIN, S_SESSION, (CK_SESSION_HANDLE a0, CK_UTF8CHAR_PTR a1, CK_ULONG a2), A3)                           \
  G(C_SetPIN, S_SESSION,                                                                                         \
    (CK_SESSION_HANDLE a0, CK_UTF8CHAR_PTR a1, CK_ULONG a2, CK_UTF8CHAR_PTR a3, CK_ULONG a4), A5)                \
  S(C_OpenSession, S_SLOT,                                                                                       \
    (CK_SLOT_ID a0, CK_FLAGS a1, CK_VOID_PTR a2, CK_NOTIFY a3, CK_SESSION_HANDLE_PTR a4), A5)                    \
  S(C_CloseSession, S_SESSION, P_SESS, A1)                                                                       \
  S(C_CloseAllSessions, S_SLOT, (CK_SLOT_ID a0), A1)                                                             \
  G(C_GetSessionInfo, S_SESSION, (CK_SESSION_HANDLE a0, CK_SESSION_INFO_PTR a1), A2)                             \
  G(C_GetOperationState, S_SESSION, P_FINAL, A3)                                                                 \
  G(C_SetOperationState, S_SESSION,                                                                              \
    (CK_SESSION_HANDLE a0, CK_BYTE_PTR a1, CK_ULONG a2, CK_OBJECT_HANDLE a3, CK_OBJECT_HANDLE a4), A5)           \
  G(C_Login, S_SESSION, (CK_SESSION_HANDLE a0, CK_USER_TYPE a1, CK_UTF8CHAR_PTR a2, CK_ULONG a3), A4)            \
  G(C_Logout, S_SESSION, P_SESS, A1)                                                                             \
  G(C_CreateObject, S_SESSION, (CK_SESSION_HANDLE a0, CK_ATTRIBUTE_PTR a1, CK_ULONG a2, CK_OBJECT_HANDLE_PTR a3), \
    A4)                                                                                                          \
  G(C_CopyObject, S_SESSION,                                                                                     \
    (CK_SESSION_HANDLE a0, CK_OBJECT_HANDLE a1, CK_ATTRIBUTE_PTR a2, CK_ULONG a3, CK_OBJECT_HANDLE_PTR a4), A5)  \
  G(C_DestroyObject, S_SESSION, (CK_SESSION_HANDLE a0, CK_OBJECT_HANDLE a1), A2)                                 \
  G(C_GetObjectSize, S_SESSION, (CK_SESSION_HANDLE a0, CK_OBJECT_HANDLE a1, CK_ULONG_PTR a2), A3)                \
  S(C_GetAttributeValue, S_SESSION, P_ATTRS, A4)                                                                 \
  G(C_SetAttributeValue, S_SESSION, P_ATTRS, A4)                                                                 \
  G(C_FindObjectsInit, S_SESSION, (CK_SESSION_HANDLE a0, CK_ATTRIBUTE_PTR a1, CK_ULONG a2), A3)                  \
  G(C_FindObjects, S_SESSION, (CK_SESSION_HANDLE a0, CK_OBJECT_HANDLE_PTR a1, CK_ULONG a2, CK_ULONG_PTR a3), A4) \
  G(C_FindObjectsFinal, S_SESSION, P_SESS, A1)                                                                   \
  G(C_EncryptInit, S_SESSION, P_MECH_KEY, A3)                                                                    \
  G(C_Encrypt, S_SESSION, P_IN_OUT, A5)                                                                          \
  G(C_EncryptUpdate, S_SESSION, P_IN_OUT, A5)                                                                    \
  G(C_EncryptFinal, S_SESSION, P_FINAL, A3)                                                                      \
  G(C_DecryptInit, S_SESSION, P_MECH_KEY, A3)                                                                    \
  G(C_Decrypt, S_SESSION, P_IN_OUT, A5)                                                                          \
  G(C_DecryptUpdate, S_SESSION, P_IN_OUT, A5)                                                                    \
  G(C_DecryptFinal, S_SESSION, P_FINAL, A3)                                                                      \
  G(C_DigestInit, S_SESSION, (CK_SESSION_HANDLE a0, CK_MECHANISM_PTR a1), A2)                                    \
  G(C_Digest, S_SESSION, P_IN_OUT, A5)                                                                           \
  G(C_DigestUpdate, S_SESSION, P_PART, A3)                                                                       \
  G(C_DigestKey, S_SESSION, (CK_SESSION_HANDLE a0, CK_OBJECT_HANDLE a1), A2)                                     \
  G(C_DigestFinal, S_SESSION, P_FINAL, A3)                                                                       \
  G(C_SignInit, S_SESSION, P_MECH_KEY, A3)                                                                       \
  G(C_Sign, S_SESSION, P_IN_OUT, A5)                                                                             \
  G(C_SignUpdate, S_SESSION, P_PART, A3)                                                                         \
  G(C_SignFinal, S_SESSION, P_FINAL, A3)                                                                         \
  G(C_SignRecoverInit, S_SESSION, P_MECH_KEY, A3)                                                                \
  G(C_SignRecover, S_SESSION, P_IN_OUT, A5)                                                                      \
  G(C_VerifyInit, S_SESSION, P_MECH_KEY, A3)                                                                     \
  G(C_Verify, S_SESSION, (CK_SESSION_HANDLE a0, CK_BYTE_PTR a1, CK_ULONG a2, CK_BYTE_PTR a3, CK_ULONG a4), A5)   \
  G(C_VerifyUpdate, S_SESSION, P_PART, A3)                                                                       \
  G(C_VerifyFinal, S_SESSION, P_PART, A3)                                                                        \
  G(C_VerifyRecoverInit, S_SESSION, P_MECH_KEY, A3)                                                              \
  G(C_VerifyRecover, S_SESSION, P_IN_OUT, A5)                                                                    \
  G(C_DigestEncryptUpdate, S_SESSION, P_IN_OUT, A5)                                                              \
  G(C_DecryptDigestUpdate, S_SESSION, P_IN_OUT, A5)                                                              \
  G(C_SignEncryptUpdate, S_SESSION, P_IN_OUT, A5)                                                                \
  G(C_DecryptVerifyUpdate, S_SESSION, P_IN_OUT, A5)                                                              \
  G(C_GenerateKey, S_SESSION,                                                                                    \
    (CK_SESSION_HANDLE a0, CK_MECHANISM_PTR a1, CK_ATTRIBUTE_PTR a2, CK_ULONG a3, CK_OBJECT_HANDLE_PTR a4), A5)  \
  G(C_GenerateKeyPair, S_SESSION,                                                                                \
    (CK_SESSION_HANDLE a0, CK_MECHANISM_PTR a1, CK_ATTRIBUTE_PTR a2, CK_ULONG a3, CK_ATTRIBUTE_PTR a4,           \
     CK_ULONG a5, CK_OBJECT_HANDLE_PTR a6, CK_OBJECT_HANDLE_PTR a7),                                             \
    A8)                                                                                                          \
  G(C_WrapKey, S_SESSION,                                                                                        \
    (CK_SESSION_HANDLE a0, CK_MECHANISM_PTR a1, CK_OBJECT_HANDLE a2, CK_OBJECT_HANDLE a3, CK_BYTE_PTR a4,        \
     CK_ULONG_PTR a5),                                                                                           \
    A6)                                                                                                          \
  G(C_UnwrapKey, S_SESSION,                                                                                      \
    (CK_SESSION_HANDLE a0, CK_MECHANISM_PTR a1, CK_OBJECT_HANDLE a2, CK_BYTE_PTR a3, CK_ULONG a4,                \
     CK_ATTRIBUTE_PTR a5, CK_ULONG a6, CK_OBJECT_HANDLE_PTR a7),                                                 \
    A8)                                                                                                          \
  G(C_DeriveKey, S_SESSION,                                                                                      \
    (CK_SESSION_HANDLE a0, CK_MECHANISM_PTR a1, CK_OBJECT_HANDLE a2, CK_ATTRIBUTE_PTR a3, CK_ULONG a4,           \
     CK_OBJECT_HANDLE_PTR a5),                                                                                   \
    A6)                                                                                                          \
  G(C_SeedRandom, S_SESSION, P_PART, A3)                                                                         \
  G(C_GenerateRandom, S_SESSION, P_PART, A3)                                                                     \
  G(C_GetFunctionStatus, S_SESSION, P_SESS, A1)                                                                  \
  G(C_CancelFunction, S_SESSION, P_SESS, A1)                                                                     \
  G(C_WaitForSlotEvent, S_NONE, (CK_FLAGS a0, CK_SLOT_ID_PTR a1, CK_VOID_PTR a2), A3)

#define AS_ENUM(name, scope, params, args) F_##name,
enum { FUNCTIONS(AS_ENUM, AS_ENUM) F_COUNT, F_ANY = -1 };

#define AS_NAME(name, scope, params, args) #name,
static const char *const FUNCTION_NAMES[F_COUNT] = {FUNCTIONS(AS_NAME, AS_NAME)};

/* ---------------------------------------------------------------------------------------------------------------
 * CKR names a rule may use (every one of p11-kit's PKCS#11 2.40 header); any other code as 0x<hex>.
 */
#define CKR_NAMES(X)                                                                                             \
  X(CKR_OK) X(CKR_CANCEL) X(CKR_HOST_MEMORY) X(CKR_SLOT_ID_INVALID) X(CKR_GENERAL_ERROR) X(CKR_FUNCTION_FAILED)   \
  X(CKR_ARGUMENTS_BAD) X(CKR_NO_EVENT) X(CKR_NEED_TO_CREATE_THREADS) X(CKR_CANT_LOCK) X(CKR_ATTRIBUTE_READ_ONLY)  \
  X(CKR_ATTRIBUTE_SENSITIVE) X(CKR_ATTRIBUTE_TYPE_INVALID) X(CKR_ATTRIBUTE_VALUE_INVALID)                         \
  X(CKR_ACTION_PROHIBITED) X(CKR_DATA_INVALID) X(CKR_DATA_LEN_RANGE) X(CKR_DEVICE_ERROR) X(CKR_DEVICE_MEMORY)    \
  X(CKR_DEVICE_REMOVED) X(CKR_ENCRYPTED_DATA_INVALID) X(CKR_ENCRYPTED_DATA_LEN_RANGE) X(CKR_FUNCTION_CANCELED)   \
  X(CKR_FUNCTION_NOT_PARALLEL) X(CKR_FUNCTION_NOT_SUPPORTED) X(CKR_KEY_HANDLE_INVALID) X(CKR_KEY_SIZE_RANGE)     \
  X(CKR_KEY_TYPE_INCONSISTENT) X(CKR_KEY_NOT_NEEDED) X(CKR_KEY_CHANGED) X(CKR_KEY_NEEDED)                        \
  X(CKR_KEY_INDIGESTIBLE) X(CKR_KEY_FUNCTION_NOT_PERMITTED) X(CKR_KEY_NOT_WRAPPABLE) X(CKR_KEY_UNEXTRACTABLE)    \
  X(CKR_MECHANISM_INVALID) X(CKR_MECHANISM_PARAM_INVALID) X(CKR_OBJECT_HANDLE_INVALID) X(CKR_OPERATION_ACTIVE)   \
  X(CKR_OPERATION_NOT_INITIALIZED) X(CKR_PIN_INCORRECT) X(CKR_PIN_INVALID) X(CKR_PIN_LEN_RANGE)                  \
  X(CKR_PIN_EXPIRED) X(CKR_PIN_LOCKED) X(CKR_SESSION_CLOSED) X(CKR_SESSION_COUNT) X(CKR_SESSION_HANDLE_INVALID)  \
  X(CKR_SESSION_PARALLEL_NOT_SUPPORTED) X(CKR_SESSION_READ_ONLY) X(CKR_SESSION_EXISTS)                           \
  X(CKR_SESSION_READ_ONLY_EXISTS) X(CKR_SESSION_READ_WRITE_SO_EXISTS) X(CKR_SIGNATURE_INVALID)                   \
  X(CKR_SIGNATURE_LEN_RANGE) X(CKR_TEMPLATE_INCOMPLETE) X(CKR_TEMPLATE_INCONSISTENT) X(CKR_TOKEN_NOT_PRESENT)    \
  X(CKR_TOKEN_NOT_RECOGNIZED) X(CKR_TOKEN_WRITE_PROTECTED) X(CKR_UNWRAPPING_KEY_SIZE_RANGE)                      \
  X(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT) X(CKR_USER_ALREADY_LOGGED_IN) X(CKR_USER_NOT_LOGGED_IN)                \
  X(CKR_USER_PIN_NOT_INITIALIZED) X(CKR_USER_TYPE_INVALID) X(CKR_USER_ANOTHER_ALREADY_LOGGED_IN)                 \
  X(CKR_USER_TOO_MANY_TYPES) X(CKR_WRAPPED_KEY_INVALID) X(CKR_WRAPPED_KEY_LEN_RANGE)                             \
  X(CKR_WRAPPING_KEY_HANDLE_INVALID) X(CKR_WRAPPING_KEY_SIZE_RANGE) X(CKR_WRAPPING_KEY_TYPE_INCONSISTENT)        \
  X(CKR_RANDOM_SEED_NOT_SUPPORTED) X(CKR_RANDOM_NO_RNG) X(CKR_DOMAIN_PARAMS_INVALID) X(CKR_CURVE_NOT_SUPPORTED)  \
  X(CKR_BUFFER_TOO_SMALL) X(CKR_SAVED_STATE_INVALID) X(CKR_INFORMATION_SENSITIVE) X(CKR_STATE_UNSAVEABLE)        \
  X(CKR_CRYPTOKI_NOT_INITIALIZED) X(CKR_CRYPTOKI_ALREADY_INITIALIZED) X(CKR_MUTEX_BAD) X(CKR_MUTEX_NOT_LOCKED)   \
  X(CKR_NEW_PIN_MODE) X(CKR_NEXT_OTP) X(CKR_EXCEEDED_MAX_ITERATIONS) X(CKR_FIPS_SELF_TEST_FAILED)                \
  X(CKR_LIBRARY_LOAD_FAILED) X(CKR_PIN_TOO_WEAK) X(CKR_PUBLIC_KEY_INVALID) X(CKR_FUNCTION_REJECTED)

#define AS_CKR(name) {#name, name},
static const struct {
  const char *name;
  CK_RV value;
} CKR_TABLE[] = {CKR_NAMES(AS_CKR)};

/* ---------------------------------------------------------------------------------------------------------------
 * Small utilities.
 */
__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("p11fault: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static void sleep_ms(unsigned long ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
  }
}

/* A copy of `path` with each "%p" replaced by the process id ("%%" is "%"); NULL for NULL or "". */
static char *expand_path(const char *path) {
  if (!path || !*path) return NULL;
  char pid[24];
  snprintf(pid, sizeof pid, "%ld", (long)getpid());
  size_t cap = strlen(path) * (strlen(pid) + 1) + 1;
  char *out = malloc(cap), *o = out;
  if (!out) return NULL;
  for (const char *p = path; *p; p++) {
    if (p[0] == '%' && p[1] == 'p') {
      o = stpcpy(o, pid);
      p++;
    } else if (p[0] == '%' && p[1] == '%') {
      *o++ = '%';
      p++;
    } else {
      *o++ = *p;
    }
  }
  *o = '\0';
  return out;
}

/* ---------------------------------------------------------------------------------------------------------------
 * Configuration and the real module. Pointers swapped at C_Initialize are published atomically; a value that is
 * replaced is kept (never freed) because a thread of an earlier initialisation may still be reading it. That is
 * a few bytes per change of configuration, not per call.
 */
static pthread_mutex_t g_init_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(CK_FUNCTION_LIST_PTR) g_real;
static char *g_real_path;
static _Atomic(char *) g_control;

/* ---------------------------------------------------------------------------------------------------------------
 * The shared counts: a fixed-size file mapped MAP_SHARED by every process, incremented atomically.
 */
#define COUNTS_MAGIC "P11FAULTCOUNTS1"
#define COUNTS_NAME_LEN 32
struct counts_file {
  char magic[16];
  uint32_t functions;
  uint32_t name_len;
  char reserved[40];
  char names[F_COUNT][COUNTS_NAME_LEN];
  uint64_t calls[F_COUNT];
  uint64_t injected[F_COUNT];
};
_Static_assert(offsetof(struct counts_file, calls) % 8 == 0, "counters are 8-byte aligned");

static _Atomic(struct counts_file *) g_counts;
static char *g_counts_path;
static dev_t g_counts_dev;
static ino_t g_counts_ino;

static void count(int fn, int injected) {
  struct counts_file *c = atomic_load_explicit(&g_counts, memory_order_acquire);
  if (!c) return;
  __atomic_fetch_add(injected ? &c->injected[fn] : &c->calls[fn], 1, __ATOMIC_RELAXED);
}

/* Maps the counts file (created at its full size when missing or short). Called under g_init_lock. */
static void map_counts(const char *path) {
  struct stat st;
  if (!path) {
    atomic_store(&g_counts, NULL);
    return;
  }
  if (g_counts_path && strcmp(path, g_counts_path) == 0 && atomic_load(&g_counts) && stat(path, &st) == 0 &&
      st.st_dev == g_counts_dev && st.st_ino == g_counts_ino) {
    return; /* the same file is already mapped */
  }
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    /* No directory: the test has not set this process up for counting (see test/helpers/faultToken.ts). */
    if (errno != ENOENT) say("cannot open the counts file %s: %s; calls are not counted", path, strerror(errno));
    atomic_store(&g_counts, NULL);
    return;
  }
  struct counts_file *c = MAP_FAILED;
  if (fstat(fd, &st) == 0 && (st.st_size >= (off_t)sizeof *c || ftruncate(fd, sizeof *c) == 0)) {
    c = mmap(NULL, sizeof *c, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  }
  close(fd);
  if (c == MAP_FAILED) {
    say("cannot map the counts file %s: %s; calls are not counted", path, strerror(errno));
    atomic_store(&g_counts, NULL);
    return;
  }
  /* Every process writes the same header bytes: harmless when two do it at once. */
  memcpy(c->magic, COUNTS_MAGIC, sizeof COUNTS_MAGIC);
  c->functions = F_COUNT;
  c->name_len = COUNTS_NAME_LEN;
  for (int i = 0; i < F_COUNT; i++) strncpy(c->names[i], FUNCTION_NAMES[i], COUNTS_NAME_LEN - 1);
  free(g_counts_path);
  g_counts_path = strdup(path);
  g_counts_dev = st.st_dev;
  g_counts_ino = st.st_ino;
  /* An earlier mapping stays mapped: a thread of an earlier initialisation may still count into it. */
  atomic_store_explicit(&g_counts, c, memory_order_release);
}

/* ---------------------------------------------------------------------------------------------------------------
 * Sessions → slots (learnt at C_OpenSession, or asked with C_GetSessionInfo) and slots → token labels (learnt
 * from every C_GetTokenInfo, or asked). Only `token=` rules read them.
 */
#define SESSION_BUCKETS 256
#define LABEL_SLOTS 64
struct session_node {
  CK_SESSION_HANDLE session;
  CK_SLOT_ID slot;
  struct session_node *next;
};
static pthread_mutex_t g_map_lock = PTHREAD_MUTEX_INITIALIZER;
static struct session_node *g_sessions[SESSION_BUCKETS];
static struct {
  int used;
  CK_SLOT_ID slot;
  char label[LABEL_LEN + 1];
} g_labels[LABEL_SLOTS];
static unsigned g_label_next;

static void remember_session(CK_SESSION_HANDLE session, CK_SLOT_ID slot) {
  struct session_node *n = malloc(sizeof *n);
  if (!n) return;
  n->session = session;
  n->slot = slot;
  pthread_mutex_lock(&g_map_lock);
  struct session_node **b = &g_sessions[session % SESSION_BUCKETS];
  for (struct session_node *e = *b; e; e = e->next) {
    if (e->session == session) { /* a reused handle: update in place */
      e->slot = slot;
      pthread_mutex_unlock(&g_map_lock);
      free(n);
      return;
    }
  }
  n->next = *b;
  *b = n;
  pthread_mutex_unlock(&g_map_lock);
}

/* Forgets one session, or every session of `slot` when all_of_slot. */
static void forget_sessions(CK_SESSION_HANDLE session, int all_of_slot, CK_SLOT_ID slot) {
  pthread_mutex_lock(&g_map_lock);
  for (int i = all_of_slot ? 0 : (int)(session % SESSION_BUCKETS); i < SESSION_BUCKETS; i++) {
    for (struct session_node **p = &g_sessions[i]; *p;) {
      struct session_node *e = *p;
      if (all_of_slot ? e->slot == slot : e->session == session) {
        *p = e->next;
        free(e);
      } else {
        p = &e->next;
      }
    }
    if (!all_of_slot) break;
  }
  pthread_mutex_unlock(&g_map_lock);
}

static void forget_everything(void) {
  pthread_mutex_lock(&g_map_lock);
  for (int i = 0; i < SESSION_BUCKETS; i++) {
    while (g_sessions[i]) {
      struct session_node *e = g_sessions[i];
      g_sessions[i] = e->next;
      free(e);
    }
  }
  memset(g_labels, 0, sizeof g_labels);
  pthread_mutex_unlock(&g_map_lock);
}

static void remember_label(CK_SLOT_ID slot, const CK_UTF8CHAR *padded) {
  char label[LABEL_LEN + 1];
  memcpy(label, padded, LABEL_LEN);
  int n = LABEL_LEN;
  while (n > 0 && (label[n - 1] == ' ' || label[n - 1] == '\0')) n--;
  label[n] = '\0';
  pthread_mutex_lock(&g_map_lock);
  int i;
  for (i = 0; i < LABEL_SLOTS && !(g_labels[i].used && g_labels[i].slot == slot); i++) {
  }
  if (i == LABEL_SLOTS) i = (int)(g_label_next++ % LABEL_SLOTS);
  g_labels[i].used = 1;
  g_labels[i].slot = slot;
  memcpy(g_labels[i].label, label, sizeof label);
  pthread_mutex_unlock(&g_map_lock);
}

static int slot_of_session(CK_SESSION_HANDLE session, CK_SLOT_ID *slot) {
  int found = 0;
  pthread_mutex_lock(&g_map_lock);
  for (struct session_node *e = g_sessions[session % SESSION_BUCKETS]; e; e = e->next) {
    if (e->session == session) {
      *slot = e->slot;
      found = 1;
      break;
    }
  }
  pthread_mutex_unlock(&g_map_lock);
  if (found) return 1;
  /* A session opened before this library saw it (or through another path): ask the real module once. */
  CK_FUNCTION_LIST_PTR real = atomic_load(&g_real);
  CK_SESSION_INFO info;
  if (!real || real->C_GetSessionInfo(session, &info) != CKR_OK) return 0;
  remember_session(session, info.slotID);
  *slot = info.slotID;
  return 1;
}

static int slot_has_label(CK_SLOT_ID slot, const char *label) {
  int known = 0, same = 0;
  pthread_mutex_lock(&g_map_lock);
  for (int i = 0; i < LABEL_SLOTS; i++) {
    if (g_labels[i].used && g_labels[i].slot == slot) {
      known = 1;
      same = strcmp(g_labels[i].label, label) == 0;
      break;
    }
  }
  pthread_mutex_unlock(&g_map_lock);
  if (known) return same;
  CK_FUNCTION_LIST_PTR real = atomic_load(&g_real);
  CK_TOKEN_INFO info;
  if (!real || real->C_GetTokenInfo(slot, &info) != CKR_OK) return 0;
  remember_label(slot, info.label);
  return slot_has_label(slot, label);
}

/* ---------------------------------------------------------------------------------------------------------------
 * Rules: an immutable snapshot of the control file, shared by reference count. Counters of times= and after= live
 * in the snapshot, so every new version of the file starts them again.
 */
enum action { A_FAIL, A_DELAY, A_HANG, A_EMPTY };
struct rule {
  int fn; /* F_ANY for "*" */
  enum action action;
  CK_RV code;
  CK_ATTRIBUTE_TYPE attr; /* A_EMPTY */
  unsigned long ms;
  unsigned long times; /* 0: every matching call */
  unsigned long after;
  char token[LABEL_LEN + 1];
  char line[160]; /* the normalised rule, how a hang recognises that its rule is still there */
  atomic_ulong seen;
  atomic_ulong used;
};
struct ruleset {
  atomic_int refs;
  int count;
  struct rule rules[];
};
struct file_key {
  int exists;
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime, ctime;
};
static pthread_mutex_t g_rules_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ruleset *g_rules;
static struct file_key g_rules_key;
static char *g_rules_path;

static void release_rules(struct ruleset *rs) {
  if (rs && atomic_fetch_sub(&rs->refs, 1) == 1) free(rs);
}

static int parse_ulong(const char *s, int base, unsigned long *out) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, base);
  if (errno || end == s || *end || *s == '-') return 0;
  *out = v;
  return 1;
}

/* Attribute names an `empty` rule may use (those the daemon reads); any other type as 0x<hex> or decimal. */
static const struct {
  const char *name;
  CK_ATTRIBUTE_TYPE value;
} CKA_TABLE[] = {{"CKA_CLASS", CKA_CLASS},       {"CKA_LABEL", CKA_LABEL},         {"CKA_ID", CKA_ID},
                 {"CKA_VALUE", CKA_VALUE},       {"CKA_APPLICATION", CKA_APPLICATION}, {"CKA_KEY_TYPE", CKA_KEY_TYPE},
                 {"CKA_MODULUS", CKA_MODULUS},   {"CKA_EC_POINT", CKA_EC_POINT},   {"CKA_EC_PARAMS", CKA_EC_PARAMS}};

static int parse_attribute(const char *s, CK_ATTRIBUTE_TYPE *out) {
  unsigned long v;
  if ((s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? parse_ulong(s + 2, 16, &v) : parse_ulong(s, 10, &v)) {
    *out = v;
    return 1;
  }
  for (size_t i = 0; i < sizeof CKA_TABLE / sizeof CKA_TABLE[0]; i++) {
    if (strcmp(s, CKA_TABLE[i].name) == 0) {
      *out = CKA_TABLE[i].value;
      return 1;
    }
  }
  return 0;
}

static int parse_code(const char *s, CK_RV *out) {
  unsigned long v;
  if ((s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? parse_ulong(s + 2, 16, &v) : parse_ulong(s, 10, &v)) {
    *out = v;
    return 1;
  }
  for (size_t i = 0; i < sizeof CKR_TABLE / sizeof CKR_TABLE[0]; i++) {
    if (strcmp(s, CKR_TABLE[i].name) == 0) {
      *out = CKR_TABLE[i].value;
      return 1;
    }
  }
  return 0;
}

/* Parses one line into *r; returns 0 for a blank or comment line, 1 for a rule, -1 (with *why) for an error. */
static int parse_rule(char *line, struct rule *r, const char **why) {
  char *hash = strchr(line, '#');
  if (hash) *hash = '\0';
  char *words[16];
  int n = 0;
  for (char *save, *w = strtok_r(line, " \t\r\n", &save); w; w = strtok_r(NULL, " \t\r\n", &save)) {
    if (n == 16) return *why = "too many words", -1;
    words[n++] = w;
  }
  if (n == 0) return 0;
  memset(r, 0, sizeof *r);
  if (strcmp(words[0], "*") == 0) {
    r->fn = F_ANY;
  } else {
    for (r->fn = 0; r->fn < F_COUNT && strcmp(words[0], FUNCTION_NAMES[r->fn]) != 0; r->fn++) {
    }
    if (r->fn == F_COUNT) return *why = "unknown function (expected C_<Name> or *)", -1;
    if (r->fn == F_C_GetFunctionList) return *why = "C_GetFunctionList cannot be faulted", -1;
  }
  if (n < 2) return *why = "missing action (fail, delay, hang, empty)", -1;
  int next = 2;
  if (strcmp(words[1], "fail") == 0) {
    r->action = A_FAIL;
    if (n < 3 || !parse_code(words[2], &r->code)) return *why = "fail needs a CKR_* name or 0x<hex> code", -1;
    next = 3;
  } else if (strcmp(words[1], "delay") == 0) {
    r->action = A_DELAY;
    if (n < 3 || !parse_ulong(words[2], 10, &r->ms)) return *why = "delay needs milliseconds", -1;
    next = 3;
  } else if (strcmp(words[1], "hang") == 0) {
    r->action = A_HANG;
  } else if (strcmp(words[1], "empty") == 0) {
    r->action = A_EMPTY;
    if (r->fn != F_C_GetAttributeValue) return *why = "empty applies to C_GetAttributeValue only", -1;
    if (n < 3 || !parse_attribute(words[2], &r->attr)) return *why = "empty needs a CKA_* name or 0x<hex> type", -1;
    next = 3;
  } else {
    return *why = "unknown action (expected fail, delay, hang or empty)", -1;
  }
  for (int i = next; i < n; i++) {
    if (strncmp(words[i], "token=", 6) == 0) {
      if (!words[i][6] || strlen(words[i] + 6) > LABEL_LEN) return *why = "token= needs a label of 1-32 bytes", -1;
      strcpy(r->token, words[i] + 6);
    } else if (strncmp(words[i], "times=", 6) == 0) {
      if (!parse_ulong(words[i] + 6, 10, &r->times) || r->times == 0) return *why = "times= needs n >= 1", -1;
    } else if (strncmp(words[i], "after=", 6) == 0) {
      if (!parse_ulong(words[i] + 6, 10, &r->after)) return *why = "after= needs a number", -1;
    } else {
      return *why = "unknown option (expected token=, times=, after=)", -1;
    }
  }
  size_t len = 0;
  for (int i = 0; i < n && len < sizeof r->line; i++) {
    len += (size_t)snprintf(r->line + len, sizeof r->line - len, i ? " %s" : "%s", words[i]);
  }
  return 1;
}

/* Reads and parses the control file; NULL when it is missing or has no rule. Bad lines are reported, skipped. */
static struct ruleset *load_rules(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  char *text = malloc(MAX_CONTROL_BYTES + 1);
  ssize_t len = 0, got = 0;
  while (text && len < MAX_CONTROL_BYTES && (got = read(fd, text + len, (size_t)(MAX_CONTROL_BYTES - len))) > 0) {
    len += got;
  }
  close(fd);
  if (!text || got < 0) {
    free(text);
    return NULL;
  }
  text[len] = '\0';
  int lines = 1;
  for (char *p = text; *p; p++) lines += *p == '\n';
  struct ruleset *rs = calloc(1, sizeof *rs + (size_t)lines * sizeof(struct rule));
  if (!rs) {
    free(text);
    return NULL;
  }
  atomic_init(&rs->refs, 1);
  int number = 0;
  for (char *save, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    number++;
    const char *why = NULL;
    int ok = parse_rule(line, &rs->rules[rs->count], &why);
    if (ok > 0) rs->count++;
    if (ok < 0) say("%s: rule %d ignored: %s", path, number, why);
  }
  free(text);
  if (rs->count == 0) {
    free(rs);
    return NULL;
  }
  return rs;
}

static struct file_key key_of(const char *path) {
  struct file_key k = {0};
  struct stat st;
  if (stat(path, &st) == 0) {
    k.exists = 1;
    k.dev = st.st_dev;
    k.ino = st.st_ino;
    k.size = st.st_size;
    k.mtime = st.st_mtim;
    k.ctime = st.st_ctim;
  }
  return k;
}

static int same_key(const struct file_key *a, const struct file_key *b) {
  if (a->exists != b->exists) return 0;
  if (!a->exists) return 1;
  return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
         a->mtime.tv_nsec == b->mtime.tv_nsec && a->ctime.tv_sec == b->ctime.tv_sec &&
         a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/* The current rules (a reference the caller releases), re-read first if the control file changed. One stat()
 * and one uncontended mutex per call. */
static struct ruleset *acquire_rules(void) {
  const char *path = atomic_load_explicit(&g_control, memory_order_acquire);
  if (!path) return NULL;
  struct file_key k = key_of(path);
  pthread_mutex_lock(&g_rules_lock);
  if (!g_rules_path || strcmp(g_rules_path, path) != 0 || !same_key(&k, &g_rules_key)) {
    struct ruleset *fresh = k.exists ? load_rules(path) : NULL;
    release_rules(g_rules);
    g_rules = fresh;
    g_rules_key = k;
    if (!g_rules_path || strcmp(g_rules_path, path) != 0) {
      free(g_rules_path);
      g_rules_path = strdup(path);
    }
  }
  struct ruleset *rs = g_rules;
  if (rs) atomic_fetch_add(&rs->refs, 1);
  pthread_mutex_unlock(&g_rules_lock);
  return rs;
}

static int rule_still_there(const char *line) {
  struct ruleset *rs = acquire_rules();
  int found = 0;
  for (int i = 0; rs && i < rs->count && !found; i++) found = strcmp(rs->rules[i].line, line) == 0;
  release_rules(rs);
  return found;
}

static int concerns_token(const struct rule *r, enum scope scope, CK_ULONG handle) {
  if (!r->token[0]) return 1;
  CK_SLOT_ID slot = handle;
  if (scope == S_NONE) return 0;
  if (scope == S_SESSION && !slot_of_session(handle, &slot)) return 0;
  return slot_has_label(slot, r->token);
}

/* Counters of times= and after=: the first `after` matching calls pass, the next `times` are faulted. */
static int take(struct rule *r) {
  if (r->after && atomic_fetch_add(&r->seen, 1) < r->after) return 0;
  if (r->times && atomic_fetch_add(&r->used, 1) >= r->times) return 0;
  return 1;
}

/* What an `empty` rule needs to know of a C_GetAttributeValue call, and what it asks of the wrapper. */
#define MAX_EMPTIED 8
struct attr_call {
  CK_ATTRIBUTE_PTR template;
  CK_ULONG count;
  int length_call; /* the first call of an application's pair: every buffer NULL */
  int emptied;
  CK_ATTRIBUTE_TYPE types[MAX_EMPTIED];
};

/* True when the call's template asks for `type`. */
static int asks_for(const struct attr_call *ac, CK_ATTRIBUTE_TYPE type) {
  for (CK_ULONG i = 0; i < ac->count; i++) {
    if (ac->template[i].type == type) return 1;
  }
  return 0;
}

/*
 * Every wrapper starts here: count the call, then apply the rules in file order. `delay` sleeps and goes on to
 * the next rule; `fail` returns its code (1: do not forward); `hang` waits until its line has left the control
 * file, then the rules are applied again from the top, as the file is then. `empty` (C_GetAttributeValue length
 * calls only, `ac` set) notes its attribute in `ac` and goes on.
 */
static int intercept_call(int fn, enum scope scope, CK_ULONG handle, CK_RV *rv, struct attr_call *ac) {
  count(fn, 0);
  if (!atomic_load_explicit(&g_control, memory_order_relaxed)) return 0;
  for (;;) {
    struct ruleset *rs = acquire_rules();
    if (!rs) return 0;
    int again = 0;
    for (int i = 0; i < rs->count && !again; i++) {
      struct rule *r = &rs->rules[i];
      int applies = r->fn == fn || (r->fn == F_ANY && fn != F_C_Finalize && fn != F_C_GetFunctionList);
      if (r->action == A_EMPTY && !(ac && ac->length_call && asks_for(ac, r->attr))) applies = 0;
      if (!applies || !concerns_token(r, scope, handle) || !take(r)) continue;
      count(fn, 1);
      if (r->action == A_EMPTY) {
        if (ac->emptied < MAX_EMPTIED) ac->types[ac->emptied++] = r->attr;
        continue;
      }
      if (r->action == A_FAIL) {
        *rv = r->code;
        release_rules(rs);
        return 1;
      }
      if (r->action == A_DELAY) {
        sleep_ms(r->ms);
      } else {
        do sleep_ms(HANG_POLL_MS);
        while (rule_still_there(r->line));
        again = 1;
      }
    }
    release_rules(rs);
    if (!again) return 0;
  }
}

static int intercept(int fn, enum scope scope, CK_ULONG handle, CK_RV *rv) {
  return intercept_call(fn, scope, handle, rv, NULL);
}

/* ---------------------------------------------------------------------------------------------------------------
 * Faults on operations. PKCS#11 2.40 §5.2 ends an active operation when C_Sign, C_SignUpdate, C_SignFinal (and
 * their Encrypt, Decrypt, Digest, Verify kin) fail with anything but CKR_BUFFER_TOO_SMALL. A fault that skipped
 * the real call would leave the real session mid-operation, and the next C_*Init on it would get
 * CKR_OPERATION_ACTIVE: an artefact of this double, not of a device. So a failed single-part or final call is
 * still forwarded (its result discarded), and a failed update is followed by the matching final.
 * Not covered: a failed length query (NULL output) leaves the real operation active (pkcs11js never makes one).
 */
enum end { END_NONE, END_FORWARD, END_FINISH };
static const enum end ENDS[F_COUNT] = {
    [F_C_Encrypt] = END_FORWARD,          [F_C_EncryptFinal] = END_FORWARD,  [F_C_Decrypt] = END_FORWARD,
    [F_C_DecryptFinal] = END_FORWARD,     [F_C_Digest] = END_FORWARD,        [F_C_DigestFinal] = END_FORWARD,
    [F_C_Sign] = END_FORWARD,             [F_C_SignFinal] = END_FORWARD,     [F_C_SignRecover] = END_FORWARD,
    [F_C_Verify] = END_FORWARD,           [F_C_VerifyFinal] = END_FORWARD,   [F_C_VerifyRecover] = END_FORWARD,
    [F_C_EncryptUpdate] = END_FINISH,     [F_C_DecryptUpdate] = END_FINISH,  [F_C_DigestUpdate] = END_FINISH,
    [F_C_DigestKey] = END_FINISH,         [F_C_SignUpdate] = END_FINISH,     [F_C_VerifyUpdate] = END_FINISH,
    [F_C_DigestEncryptUpdate] = END_FINISH, [F_C_DecryptDigestUpdate] = END_FINISH,
    [F_C_SignEncryptUpdate] = END_FINISH, [F_C_DecryptVerifyUpdate] = END_FINISH,
};

/* Completes a multi-part operation with its final (a length query, then a scratch buffer). */
static void finish(CK_C_SignFinal final, CK_SESSION_HANDLE session) {
  CK_ULONG len = 0;
  if (final(session, NULL, &len) != CKR_OK) return; /* an error has ended it already */
  CK_BYTE small[1024];
  CK_BYTE *buf = len <= sizeof small ? small : malloc(len);
  if (buf) final(session, buf, &len);
  if (buf != small) free(buf);
}

static void finish_verify(CK_FUNCTION_LIST_PTR real, CK_SESSION_HANDLE session) {
  CK_BYTE nothing[1] = {0};
  real->C_VerifyFinal(session, nothing, sizeof nothing); /* fails (a bad signature) and so ends the operation */
}

static void finish_operations(CK_FUNCTION_LIST_PTR real, int fn, CK_SESSION_HANDLE s) {
  if (fn == F_C_EncryptUpdate || fn == F_C_DigestEncryptUpdate || fn == F_C_SignEncryptUpdate) {
    finish(real->C_EncryptFinal, s);
  }
  if (fn == F_C_DecryptUpdate || fn == F_C_DecryptDigestUpdate || fn == F_C_DecryptVerifyUpdate) {
    finish(real->C_DecryptFinal, s);
  }
  if (fn == F_C_DigestUpdate || fn == F_C_DigestKey || fn == F_C_DigestEncryptUpdate ||
      fn == F_C_DecryptDigestUpdate) {
    finish(real->C_DigestFinal, s);
  }
  if (fn == F_C_SignUpdate || fn == F_C_SignEncryptUpdate) finish(real->C_SignFinal, s);
  if (fn == F_C_VerifyUpdate || fn == F_C_DecryptVerifyUpdate) finish_verify(real, s);
}

/* ---------------------------------------------------------------------------------------------------------------
 * The wrappers.
 */
#define GENERIC(name, scope, params, args)                                                                     \
  CK_RV name params {                                                                                          \
    CK_RV rv;                                                                                                  \
    int faulted = intercept(F_##name, scope, (CK_ULONG)(uintptr_t)a0, &rv);                                    \
    CK_FUNCTION_LIST_PTR real = atomic_load_explicit(&g_real, memory_order_acquire);                           \
    if (!faulted) return real ? real->name args : CKR_CRYPTOKI_NOT_INITIALIZED;                                \
    if (real && ENDS[F_##name] == END_FORWARD) (void)real->name args;                                          \
    if (real && ENDS[F_##name] == END_FINISH) finish_operations(real, F_##name, (CK_ULONG)(uintptr_t)a0);      \
    return rv;                                                                                                 \
  }
#define NOTHING(name, scope, params, args)
FUNCTIONS(GENERIC, NOTHING)

#define AS_MEMBER(name, scope, params, args) .name = name,
static CK_FUNCTION_LIST g_list = {.version = {CRYPTOKI_VERSION_MAJOR, CRYPTOKI_VERSION_MINOR},
                                  FUNCTIONS(AS_MEMBER, AS_MEMBER)};

/* Loads the real module (once per path; a module that is replaced stays loaded). Called under g_init_lock. */
static CK_RV load_real(const char *path) {
  if (g_real_path && strcmp(g_real_path, path) == 0 && atomic_load(&g_real)) return CKR_OK;
  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    say("cannot load the real module %s: %s", path, dlerror());
    return CKR_GENERAL_ERROR;
  }
  CK_C_GetFunctionList get = (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList");
  CK_FUNCTION_LIST_PTR list = NULL;
  if (!get || get(&list) != CKR_OK || !list || list == &g_list) {
    say("%s is not a usable PKCS#11 module (or is this fault module itself)", path);
    dlclose(lib);
    return CKR_GENERAL_ERROR;
  }
  free(g_real_path);
  g_real_path = strdup(path);
  atomic_store_explicit(&g_real, list, memory_order_release);
  return CKR_OK;
}

CK_RV C_Initialize(CK_VOID_PTR a0) {
  pthread_mutex_lock(&g_init_lock);
  const char *module = getenv("P11FAULT_MODULE");
  char *control = expand_path(getenv("P11FAULT_CONTROL"));
  char *counts = expand_path(getenv("P11FAULT_COUNTS"));
  map_counts(counts);
  free(counts);
  char *old = atomic_load(&g_control);
  if (control && old && strcmp(control, old) == 0) {
    free(control);
  } else {
    atomic_store_explicit(&g_control, control, memory_order_release); /* `old` is kept: see above */
  }
  CK_RV rv = load_real(module && *module ? module : DEFAULT_MODULE);
  pthread_mutex_unlock(&g_init_lock);
  if (intercept(F_C_Initialize, S_NONE, 0, &rv) || rv != CKR_OK) return rv;
  rv = atomic_load(&g_real)->C_Initialize(a0);
  if (rv == CKR_OK) forget_everything();
  return rv;
}

CK_RV C_Finalize(CK_VOID_PTR a0) {
  CK_RV rv;
  if (intercept(F_C_Finalize, S_NONE, 0, &rv)) return rv;
  CK_FUNCTION_LIST_PTR real = atomic_load(&g_real);
  if (!real) return CKR_CRYPTOKI_NOT_INITIALIZED;
  rv = real->C_Finalize(a0);
  if (rv == CKR_OK) forget_everything();
  return rv;
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR a0) {
  count(F_C_GetFunctionList, 0);
  if (!a0) return CKR_ARGUMENTS_BAD;
  *a0 = &g_list;
  return CKR_OK;
}

CK_RV C_GetTokenInfo(CK_SLOT_ID a0, CK_TOKEN_INFO_PTR a1) {
  CK_RV rv;
  if (intercept(F_C_GetTokenInfo, S_SLOT, a0, &rv)) return rv;
  CK_FUNCTION_LIST_PTR real = atomic_load(&g_real);
  if (!real) return CKR_CRYPTOKI_NOT_INITIALIZED;
  rv = real->C_GetTokenInfo(a0, a1);
  if (rv == CKR_OK && a1) remember_label(a0, a1->label);
  return rv;
}

CK_RV C_OpenSession(CK_SLOT_ID a0, CK_FLAGS a1, CK_VOID_PTR a2, CK_NOTIFY a3, CK_SESSION_HANDLE_PTR a4) {
  CK_RV rv;
  if (intercept(F_C_OpenSession, S_SLOT, a0, &rv)) return rv;
  CK_FUNCTION_LIST_PTR real = atomic_load(&g_real);
  if (!real) return CKR_CRYPTOKI_NOT_INITIALIZED;
  rv = real->C_OpenSession(a0, a1, a2, a3, a4);
  if (rv == CKR_OK && a4) remember_session(*a4, a0);
  return rv;
}

CK_RV C_CloseSession(CK_SESSION_HANDLE a0) {
  CK_RV rv;
  if (intercept(F_C_CloseSession, S_SESSION, a0, &rv)) return rv;
  CK_FUNCTION_LIST_PTR real = atomic_load(&g_real);
  if (!real) return CKR_CRYPTOKI_NOT_INITIALIZED;
  rv = real->C_CloseSession(a0);
  if (rv == CKR_OK || rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED) forget_sessions(a0, 0, 0);
  return rv;
}

CK_RV C_CloseAllSessions(CK_SLOT_ID a0) {
  CK_RV rv;
  if (intercept(F_C_CloseAllSessions, S_SLOT, a0, &rv)) return rv;
  CK_FUNCTION_LIST_PTR real = atomic_load(&g_real);
  if (!real) return CKR_CRYPTOKI_NOT_INITIALIZED;
  rv = real->C_CloseAllSessions(a0);
  if (rv == CKR_OK) forget_sessions(0, 1, a0);
  return rv;
}

/*
 * C_GetAttributeValue, for `empty` rules: an application that does not know the sizes (pkcs11js) makes a length
 * call (every pValue NULL), then a value call with buffers of those sizes, where an attribute of length 0 keeps a
 * NULL buffer. An `empty` rule reports its attribute as length 0 at the length call, as if the object had been
 * changed (by another process) right after it; the value call is forwarded untouched, so the real module answers
 * that attribute's NULL buffer with its real length and CKR_OK, as SoftHSM2 does when a provisioning process sets a
 * new object's label between the two calls. The value call is recognised as the next call of the same thread on
 * the same session and object (a template of only that attribute has NULL buffers in both calls).
 */
static __thread struct {
  int pending;
  CK_SESSION_HANDLE session;
  CK_OBJECT_HANDLE object;
} t_emptied;

CK_RV C_GetAttributeValue(CK_SESSION_HANDLE a0, CK_OBJECT_HANDLE a1, CK_ATTRIBUTE_PTR a2, CK_ULONG a3) {
  CK_RV rv;
  struct attr_call ac = {.template = a2, .count = a2 ? a3 : 0};
  int value_call = t_emptied.pending && t_emptied.session == a0 && t_emptied.object == a1;
  t_emptied.pending = 0;
  ac.length_call = !value_call && a2 != NULL;
  for (CK_ULONG i = 0; ac.length_call && i < a3; i++) ac.length_call = a2[i].pValue == NULL;
  if (intercept_call(F_C_GetAttributeValue, S_SESSION, a0, &rv, &ac)) return rv;
  CK_FUNCTION_LIST_PTR real = atomic_load(&g_real);
  if (!real) return CKR_CRYPTOKI_NOT_INITIALIZED;
  rv = real->C_GetAttributeValue(a0, a1, a2, a3);
  for (int e = 0; e < ac.emptied; e++) {
    for (CK_ULONG i = 0; i < a3; i++) {
      if (a2[i].type != ac.types[e] || a2[i].ulValueLen == CK_UNAVAILABLE_INFORMATION) continue;
      a2[i].ulValueLen = 0;
      t_emptied.pending = 1;
      t_emptied.session = a0;
      t_emptied.object = a1;
    }
  }
  return rv;
}

/* At unload (dlclose by the last user): give back what the process-wide state holds. */
__attribute__((destructor)) static void unload(void) {
  forget_everything();
  release_rules(g_rules);
  g_rules = NULL;
  struct counts_file *c = atomic_exchange(&g_counts, NULL);
  if (c) munmap(c, sizeof *c);
}
