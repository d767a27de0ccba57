/*
 * An Azure store opened by URL and options the way a service principal is
 * configured (object_store's option names), against the HTTPS Azurite with
 * `--oauth basic`, which checks every bearer token it gets. Microsoft
 * Entra ID does not exist here: a child process of this program plays its
 * v2.0 token endpoint on 127.0.0.1, answering a client-credentials POST
 * with the right client secret with an unsigned JWT of the claims Azurite
 * checks (audience storage, issuer sts.windows.net, nbf/exp/iat), and
 * anything else with the `invalid_client` error Entra ID gives. It tells
 * the parent, through a pipe, of every request it answered. It also plays
 * a workload identity's exchange (the federated token as client_assertion),
 * the instance metadata endpoint (GET with `Metadata: true`, a
 * user-assigned identity by client_id) and the App Service identity
 * endpoint (GET with X-IDENTITY-HEADER), as their documents describe.
 *
 * Needs BLOBIO_TEST_AZURITE_HTTPS_ENDPOINT, BLOBIO_TEST_CA_BUNDLE and
 * BLOBIO_TEST_AZURE_CONTAINER (an existing container on that Azurite):
 * `make -C examples/c test-azure-credentials`, part of test-servers.
 * Built under ASan+UBSan with -Wall -Wextra -Werror.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store_checks.h"
#include "test_open.h"

#define TENANT "dd0d0b8f-0000-4000-8000-000000000001"
#define CLIENT_ID "c-app-1"
#define SECRET "c-secret-value-1"
#define TOKEN_PATH "/" TENANT "/oauth2/v2.0/token"
/* The federated token a workload identity's token file holds. */
#define FEDERATED "eyJhbGciOiJub25lIn0.eyJzdWIiOiJjLXdvcmtsb2FkIn0."
#define MSI_CLIENT_ID "c-user-assigned-1"
#define IDENTITY_HEADER "c-identity-header-1"

static int aad_port;
static pid_t aad_pid = -1;
static int aad_seen = -1; /* read end: one byte per request answered */

/* base64url without padding of `len` bytes into `out` (NUL-terminated). */
static void b64url(const char *in, size_t len, char *out) {
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)in[i] << 16;
        if (i + 1 < len) v |= (uint32_t)(unsigned char)in[i + 1] << 8;
        if (i + 2 < len) v |= (uint32_t)(unsigned char)in[i + 2];
        out[o++] = abc[(v >> 18) & 63];
        out[o++] = abc[(v >> 12) & 63];
        if (i + 1 < len) out[o++] = abc[(v >> 6) & 63];
        if (i + 2 < len) out[o++] = abc[v & 63];
    }
    out[o] = '\0';
}

static void write_all(int fd, const char *text, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, text, len);
        if (n <= 0) return;
        text += n;
        len -= (size_t)n;
    }
}

/* Answers one connection: reads the request, checks it, replies. */
static void answer(int conn, int seen) {
    char req[16384];
    size_t got = 0;
    char *body = NULL;
    size_t want = 0;
    while (got < sizeof req - 1) {
        ssize_t n = read(conn, req + got, sizeof req - 1 - got);
        if (n <= 0) break;
        got += (size_t)n;
        req[got] = '\0';
        if (!body && (body = strstr(req, "\r\n\r\n")) != NULL) {
            body += 4;
            const char *cl = strstr(req, "content-length:");
            if (!cl) cl = strstr(req, "Content-Length:");
            want = cl ? (size_t)strtoul(cl + 15, NULL, 10) : 0;
        }
        if (body && (size_t)(req + got - body) >= want) break;
    }
    req[got] = '\0';
    /* IMDS and App Service: a GET of the token with the resource. */
    bool imds = strncmp(req, "GET /metadata/identity/oauth2/token?", 36) == 0 &&
                strstr(req, "api-version=2018-02-01") && strstr(req, "resource=https%3A%2F%2Fstorage.azure.com") &&
                (strstr(req, "\r\nMetadata: true\r\n") || strstr(req, "\r\nmetadata: true\r\n")) &&
                strstr(req, "client_id=" MSI_CLIENT_ID);
    bool app_service = strncmp(req, "GET /msi/token?", 15) == 0 && strstr(req, "api-version=2019-08-01") &&
                       strstr(req, "resource=https%3A%2F%2Fstorage.azure.com") &&
                       (strstr(req, "X-IDENTITY-HEADER: " IDENTITY_HEADER) ||
                        strstr(req, "x-identity-header: " IDENTITY_HEADER));
    bool well_formed = strncmp(req, "POST " TOKEN_PATH " ", strlen("POST " TOKEN_PATH " ")) == 0 && body &&
                       strstr(body, "grant_type=client_credentials") &&
                       strstr(body, "scope=https%3A%2F%2Fstorage.azure.com%2F.default") &&
                       strstr(body, "client_id=" CLIENT_ID);
    bool accepted = imds || app_service ||
                    (well_formed && (strstr(body, "client_secret=" SECRET) != NULL ||
                                     (strstr(body, "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer") &&
                                      strstr(body, "client_assertion=" FEDERATED))));
    char reply[4096], payload[1024], claims[512], header64[64], claims64[768];
    if (accepted) {
        long now = (long)time(NULL);
        const char *jose = "{\"alg\":\"none\",\"typ\":\"JWT\"}";
        b64url(jose, strlen(jose), header64);
        int n = snprintf(claims, sizeof claims,
                         "{\"aud\":\"https://storage.azure.com\",\"iss\":\"https://sts.windows.net/" TENANT
                         "/\",\"iat\":%ld,\"nbf\":%ld,\"exp\":%ld,\"tid\":\"" TENANT
                         "\",\"oid\":\"0b0b0b0b-0000-4000-8000-000000000002\"}",
                         now - 60, now - 60, now + 3600);
        b64url(claims, (size_t)n, claims64);
        if (imds || app_service) /* these give expires_on, unix seconds, as a string */
            n = snprintf(payload, sizeof payload,
                         "{\"token_type\":\"Bearer\",\"expires_on\":\"%ld\",\"resource\":\"https://storage.azure.com/\","
                         "\"access_token\":\"%s.%s.\"}",
                         now + 3600, header64, claims64);
        else
            n = snprintf(payload, sizeof payload,
                         "{\"token_type\":\"Bearer\",\"expires_in\":3600,\"access_token\":\"%s.%s.\"}", header64,
                         claims64);
        n = snprintf(reply, sizeof reply,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                     "Connection: close\r\n\r\n%s",
                     n, payload);
        write_all(conn, reply, (size_t)n);
    } else {
        const char *err = well_formed ? "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: "
                                        "Invalid client secret provided.\"}"
                                      : "{\"error\":\"invalid_request\",\"error_description\":\"AADSTS900144: "
                                        "malformed request\"}";
        int n = snprintf(reply, sizeof reply,
                         "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                         "Connection: close\r\n\r\n%s",
                         well_formed ? "401 Unauthorized" : "400 Bad Request", strlen(err), err);
        write_all(conn, reply, (size_t)n);
    }
    write_all(seen, accepted ? "+" : "-", 1);
}

/* Starts the stand-in for Entra ID in a child process. */
static void start_aad(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        perror("loopback token endpoint");
        exit(2);
    }
    aad_port = ntohs(addr.sin_port);
    int pipe_fds[2];
    if (pipe(pipe_fds) != 0) exit(2);
    fflush(NULL);
    aad_pid = fork();
    if (aad_pid < 0) exit(2);
    if (aad_pid == 0) {
        close(pipe_fds[0]);
        for (;;) {
            int conn = accept(fd, NULL, NULL);
            if (conn < 0) continue;
            answer(conn, pipe_fds[1]);
            close(conn);
        }
    }
    close(fd);
    close(pipe_fds[1]);
    aad_seen = pipe_fds[0];
    fcntl(aad_seen, F_SETFL, O_NONBLOCK);
}

/* The requests answered since the last call: accepted ones in *ok. */
static int requests_seen(int *ok) {
    char buf[256];
    int n = 0;
    *ok = 0;
    ssize_t got;
    while ((got = read(aad_seen, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < got; i++) *ok += buf[i] == '+';
        n += (int)got;
    }
    return n;
}

static const char *endpoint, *ca_bundle, *container;
static char authority[64];

static struct blobio_options *sp_options(const char *secret) {
    struct blobio_options *opts = new_options();
    SET_OPTION(opts, "azure_storage_endpoint", endpoint);
    SET_OPTION(opts, "ca_bundle_path", ca_bundle);
    SET_OPTION(opts, "azure_client_id", CLIENT_ID);
    SET_OPTION(opts, "azure_tenant_id", TENANT);
    SET_OPTION(opts, "azure_client_secret", secret);
    SET_OPTION(opts, "azure_authority_host", authority);
    return opts;
}

static void test_service_principal_options_get_a_token_azurite_accepts(void) {
    char url[512];
    snprintf(url, sizeof url, "az://%s/c-creds", container);
    blobio_store *store = open_url(url, sp_options(SECRET));
    if (!store) return;
    struct round_trip spec = {"azure", "sp", "a.parquet", "b.parquet", "BlobNotFound"};
    check_round_trip(store, &spec);
    CHECK(option_is(store, "credential_source", "client_secret"));
    CHECK(option_refused(store, "azure_client_secret", BLOBIO_STATUS_PERMISSION_DENIED));
    char *json = NULL;
    CHECK_OK(blobio_store_config_json(store, &json));
    CHECK(json && strstr(json, "\"credential_source\":\"client_secret\"") && !strstr(json, SECRET));
    blobio_string_free(json);
    blobio_store_free(store);
    int ok = 0;
    int n = requests_seen(&ok);
    if (n != 1 || ok != 1) fprintf(stderr, "  [%s] token requests: %d (%d accepted), expected 1\n", current_test, n, ok);
    CHECK(n == 1 && ok == 1);
}

static void test_a_refused_secret_is_permission_denied_naming_the_error_not_the_secret(void) {
    char url[512];
    snprintf(url, sizeof url, "az://%s/c-creds", container);
    blobio_store *store = open_url(url, sp_options("c-wrong-secret-2"));
    if (!store) return;
    blobio_buffer buf = {0};
    CHECK_STATUS(blobio_read(store, "sp/x", &buf), BLOBIO_STATUS_PERMISSION_DENIED);
    CHECK(last_error_has("invalid_client") && last_error_has("AADSTS7000215"));
    CHECK(!last_error_has("c-wrong-secret-2"));
    blobio_store_free(store);
    int ok = 0;
    CHECK(requests_seen(&ok) >= 1 && ok == 0);
}

/* Opens `opts` (freed) and round trips; the store's credential_source is
 * `source`, and exactly one token request was accepted. */
static void works_with(struct blobio_options *opts, const char *source, const char *dir) {
    char url[512];
    snprintf(url, sizeof url, "az://%s/c-creds", container);
    blobio_store *store = open_url(url, opts);
    if (!store) return;
    struct round_trip spec = {"azure", dir, "a.parquet", "b.parquet", "BlobNotFound"};
    check_round_trip(store, &spec);
    CHECK(option_is(store, "credential_source", source));
    blobio_store_free(store);
    int ok = 0;
    int n = requests_seen(&ok);
    if (n != 1 || ok != 1) fprintf(stderr, "  [%s] token requests: %d (%d accepted), expected 1\n", current_test, n, ok);
    CHECK(n == 1 && ok == 1);
}

static struct blobio_options *https_options(void) {
    struct blobio_options *opts = new_options();
    SET_OPTION(opts, "azure_storage_endpoint", endpoint);
    SET_OPTION(opts, "ca_bundle_path", ca_bundle);
    return opts;
}

static void test_workload_identity_exchanges_the_token_file(void) {
    char path[] = "/tmp/blobio-c-federated-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    write_all(fd, FEDERATED, strlen(FEDERATED));
    close(fd);
    struct blobio_options *opts = https_options();
    SET_OPTION(opts, "azure_client_id", CLIENT_ID);
    SET_OPTION(opts, "azure_tenant_id", TENANT);
    SET_OPTION(opts, "azure_federated_token_file", path);
    SET_OPTION(opts, "azure_authority_host", authority);
    works_with(opts, "workload_identity", "wi");
    unlink(path);
}

static void test_user_assigned_managed_identity_over_imds(void) {
    char imds[128];
    snprintf(imds, sizeof imds, "http://127.0.0.1:%d/metadata/identity/oauth2/token", aad_port);
    struct blobio_options *opts = https_options();
    SET_OPTION(opts, "use_managed_identity", "true");
    SET_OPTION(opts, "azure_msi_client_id", MSI_CLIENT_ID);
    SET_OPTION(opts, "managed_identity_endpoint", imds);
    works_with(opts, "managed_identity", "imds");
}

/* App Service's endpoint comes from the environment: set in a forked
 * child, whose checks come back through its exit status. */
static void test_app_service_identity_from_the_environment(void) {
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        char ep[128];
        snprintf(ep, sizeof ep, "http://127.0.0.1:%d/msi/token", aad_port);
        setenv("IDENTITY_ENDPOINT", ep, 1);
        setenv("IDENTITY_HEADER", IDENTITY_HEADER, 1);
        unsetenv("AZURE_TOKEN_CREDENTIALS");
        struct blobio_options *opts = https_options();
        SET_OPTION(opts, "use_managed_identity", "true");
        works_with(opts, "app_service", "appsvc");
        fflush(NULL);
        _exit(atomic_load(&failed_checks) == 0 ? 0 : 1);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void) {
    endpoint = need_env("BLOBIO_TEST_AZURITE_HTTPS_ENDPOINT");
    ca_bundle = need_env("BLOBIO_TEST_CA_BUNDLE");
    container = need_env("BLOBIO_TEST_AZURE_CONTAINER");
    start_aad();
    snprintf(authority, sizeof authority, "http://127.0.0.1:%d", aad_port);
    const struct test_case tests[] = {
        {"service_principal_options_get_a_token_azurite_accepts",
         test_service_principal_options_get_a_token_azurite_accepts},
        {"a_refused_secret_is_permission_denied_naming_the_error_not_the_secret",
         test_a_refused_secret_is_permission_denied_naming_the_error_not_the_secret},
        {"workload_identity_exchanges_the_token_file", test_workload_identity_exchanges_the_token_file},
        {"user_assigned_managed_identity_over_imds", test_user_assigned_managed_identity_over_imds},
        {"app_service_identity_from_the_environment", test_app_service_identity_from_the_environment},
    };
    int passed = 0, failed = 0;
    run_tests(tests, sizeof tests / sizeof tests[0], &passed, &failed);
    kill(aad_pid, SIGTERM);
    waitpid(aad_pid, NULL, 0);
    close(aad_seen);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
