/* gen-events: write N valid starry events, one per line, for the
 * benchmarks (tests/bench/run). Deterministic for a seed; no library but
 * libc, so the bench can build it with a bare `cc`.
 *   gen-events [N [SEED]]      N defaults to 200000, SEED to 1
 * The events average about 330 bytes: UUID v4 ids (about 1% of them
 * repeating a recent id, so dedup has work), mostly priority 3, about 20
 * types, nested payloads with escapes and UTF-8. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECENT 512		/* ids a duplicate is drawn from */

static uint64_t rng_state;

static uint64_t
rng(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static unsigned
pick(unsigned n)
{
	return (unsigned)(rng() % n);
}

static void
uuid_v4(char out[37])
{
	static const char hex[] = "0123456789abcdef";
	uint64_t a = rng(), b = rng();
	unsigned char bytes[16];
	int i, k = 0;

	memcpy(bytes, &a, 8);
	memcpy(bytes + 8, &b, 8);
	bytes[6] = (bytes[6] & 0x0f) | 0x40;
	bytes[8] = (bytes[8] & 0x3f) | 0x80;
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[k++] = '-';
		out[k++] = hex[bytes[i] >> 4];
		out[k++] = hex[bytes[i] & 15];
	}
	out[k] = '\0';
}

static void
hex_string(char *out, int n)
{
	static const char hex[] = "0123456789abcdef";
	int i;

	for (i = 0; i < n; i++)
		out[i] = hex[pick(16)];
	out[n] = '\0';
}

static const char *const types[] = {
	"git:commit_pushed", "git:branch_created", "INPUT:USER_MESSAGE",
	"EXEC:TOOL_CALL", "EXEC:TOOL_RESULT", "AGENT:OUTPUT", "AGENT:SPAWNED",
	"AGENT:EXITED", "KERNEL:STATE_CHANGE", "KERNEL:ERROR",
	"STATE:SNAPSHOT", "TMUX:PANE_STATE", "HAL:READING", "SPAWN:REQUEST",
	"alert:server_down", "health:tick", "ci:build_finished",
	"OUTPUT:ASSISTANT_MESSAGE", "MEMORY:STORED", "fs:file_changed",
};
#define NTYPES (sizeof types / sizeof types[0])

/* JSON string bodies, escapes already written. */
static const char *const texts[] = {
	"hello world",
	"Fix \\\"quoted\\\" path in loader\\n\\nSigned-off-by: dev",
	"caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e",
	"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82"
	    "\xad\xe3\x82\xb9\xe3\x83\x88",
	"tab\\there\\tand a backslash \\\\ too",
	"emoji \xf0\x9f\x9a\x80 launch \\u2603 snowman",
	"please review the change in src/lib/event.c",
	"line one\\r\\nline two",
};
#define NTEXTS (sizeof texts / sizeof texts[0])

static const char *const states[] = {
	"RUNNING", "WAITING", "IDLE", "STOPPED", "BACKOFF", "STARTING",
};
static const char *const branches[] = { "main", "dev", "feature/x", "fix-42" };
static const char *const files[] = {
	"src/a.c", "lib/event.h", "README.md", "docs/\xc3\xbc" "ber.md", "t/x y.sh",
};

static int
priority(void)
{
	unsigned r = pick(100);

	if (r < 3)
		return 0;
	if (r < 8)
		return 1;
	if (r < 18)
		return 2;
	if (r < 88)
		return 3;
	if (r < 96)
		return 4;
	return 5;
}

static void
payload(FILE *f, unsigned type)
{
	char sha[41], id[37];

	switch (type % 10) {
	case 0:
		hex_string(sha, 40);
		fprintf(f, "{\"branch\":\"%s\",\"sha\":\"%s\",\"author\":{"
		    "\"name\":\"Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m\",\"email\":"
		    "\"z@example.org\"},\"files\":[\"%s\",\"%s\"],"
		    "\"message\":\"%s\"}", branches[pick(4)], sha,
		    files[pick(5)], files[pick(5)], texts[pick(NTEXTS)]);
		break;
	case 1:
		fprintf(f, "{\"text\":\"%s\",\"channel\":\"tty\",\"n\":%u}",
		    texts[pick(NTEXTS)], pick(100000));
		break;
	case 2:
		fprintf(f, "{\"toolCallId\":\"call_%u\",\"tool\":\"shell\","
		    "\"arguments\":{\"cmd\":[\"ls\",\"-la\",\"/tmp/%u\"],"
		    "\"timeout\":%u,\"env\":{\"LANG\":\"C.UTF-8\"}}}",
		    pick(1000000), pick(1000), 1 + pick(60));
		break;
	case 3:
		fprintf(f, "{\"toolCallId\":\"call_%u\",\"success\":%s,"
		    "\"error\":{\"code\":\"ENOENT\",\"message\":\"no such file: "
		    "\\\"%s\\\"\",\"source\":\"fs\"}}", pick(1000000),
		    pick(2) ? "true" : "false", files[pick(5)]);
		break;
	case 4:
		fprintf(f, "{\"agentId\":\"agent-%u\",\"from\":\"%s\",\"to\":"
		    "\"%s\",\"reason\":\"%s\"}", pick(32), states[pick(6)],
		    states[pick(6)], texts[pick(NTEXTS)]);
		break;
	case 5:
		fprintf(f, "{\"sensor\":\"temp%u\",\"value\":%u.%03u,\"unit\":"
		    "\"\xc2\xb0""C\",\"samples\":[%u.5,%u.25,-%u.125,1e-3]}",
		    pick(8), 15 + pick(15), pick(1000), pick(40), pick(40),
		    pick(10));
		break;
	case 6:
		fprintf(f, "{\"agents\":[{\"id\":\"a%u\",\"state\":\"%s\"},"
		    "{\"id\":\"a%u\",\"state\":\"%s\",\"tags\":[]}],"
		    "\"queue\":%u,\"ok\":null}", pick(9), states[pick(6)],
		    pick(9), states[pick(6)], pick(5000));
		break;
	case 7:
		fprintf(f, "{\"pane\":\"%%%u\",\"state\":\"waiting_input\","
		    "\"title\":\"claude \xe2\x80\x94 ~/src/%s\"}", pick(20),
		    branches[pick(4)]);
		break;
	case 8:
		uuid_v4(id);
		fprintf(f, "{\"template\":\"code-reviewer-agent\",\"request\":"
		    "\"%s\",\"args\":{\"depth\":%u,\"paths\":[\"%s\"]}}", id,
		    pick(5), files[pick(5)]);
		break;
	default:
		fprintf(f, "\"%s\"", texts[pick(NTEXTS)]);
		break;
	}
}

int
main(int argc, char **argv)
{
	static char recent[RECENT][37];
	static char obuf[1 << 16];
	char id[37], trace[37], parent[37];
	unsigned long long n = 200000, i;
	unsigned long long ts = 1795402315123ULL;
	unsigned type, session = 0, source = 0;
	char *end;

	if (argc > 1) {
		errno = 0;
		n = strtoull(argv[1], &end, 10);
		if (errno || *end || end == argv[1]) {
			fprintf(stderr, "usage: gen-events [N [SEED]]\n");
			return 64;
		}
	}
	rng_state = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
	rng_state = rng_state * 0x9e3779b97f4a7c15ULL + 0x2545f4914f6cdd1dULL;
	if (rng_state == 0)
		rng_state = 1;
	setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
	uuid_v4(trace);
	parent[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i > RECENT && pick(100) == 0)
			memcpy(id, recent[pick(RECENT)], 37);
		else
			uuid_v4(id);
		memcpy(recent[i % RECENT], id, 37);
		/* Chains of events share a trace; half name their cause. */
		if (pick(10) < 3) {
			uuid_v4(trace);
			parent[0] = '\0';
			session = pick(16);
			source = pick(12);
		}
		ts += pick(10);
		type = pick(NTYPES);
		printf("{\"id\":\"%s\",\"timestamp\":%llu,\"traceId\":\"%s\",",
		    id, ts, trace);
		if (parent[0] != '\0' && pick(2))
			printf("\"parentId\":\"%s\",", parent);
		if (source < 4)
			printf("\"source\":\"agent-%u\",", source);
		else if (source < 8)
			printf("\"source\":\"tmux:%%%u\",", source);
		else
			printf("\"source\":\"%s\",", source < 10 ? "git-hook" :
			    "starry-bus");
		if (session == 0)
			printf("\"sessionId\":\"default\",");
		else
			printf("\"sessionId\":\"sess-%u\",", session);
		printf("\"priority\":%d,\"type\":\"%s\",\"payload\":",
		    priority(), types[type]);
		payload(stdout, type);
		printf("}\n");
		memcpy(parent, id, 37);
	}
	if (fflush(stdout) == EOF || ferror(stdout)) {
		perror("gen-events: write");
		return 74;
	}
	return 0;
}
