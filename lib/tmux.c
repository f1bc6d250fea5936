/* tmux through its command line: see tmux.h. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tmux.h"
#include "uuid.h"

/* The output of list-panes and of the captures, at most. */
#define TMUX_OUT_MAX (64u * 1024 * 1024)
/* Fields of a pane, separated by the ASCII unit separator, which tmux
 * passes through and no name or title is expected to hold. */
#define SEP "\037"
#define PANE_FORMAT \
	"#{pane_id}" SEP "#{pane_pid}" SEP "#{session_name}" SEP \
	"#{window_index}" SEP "#{window_name}" SEP "#{pane_index}" SEP \
	"#{pane_current_command}" SEP "#{pane_title}" SEP "#{pane_active}" \
	SEP "#{pane_dead}" SEP "#{pane_width}" SEP "#{pane_height}"
#define PANE_FIELDS 12

struct growbuf {
	char *p;
	size_t len, cap;
};

static int
grow_read(int fd, struct growbuf *b, size_t max)
{
	ssize_t n;

	if (b->cap - b->len < 4096) {
		size_t cap = b->cap ? 2 * b->cap : 16384;
		char *p = realloc(b->p, cap + 1);

		if (p == NULL)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	n = read(fd, b->p + b->len, b->cap - b->len);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : -1;
	if (n == 0)
		return 0;
	if (b->len + (size_t)n > max) {
		errno = EFBIG;
		return -1;
	}
	b->len += (size_t)n;
	return 1;
}

char *
tmux_socket_path(const struct tmux_server *s)
{
	const char *env = getenv("TMUX"), *base = getenv("TMUX_TMPDIR");
	char *real, *path;

	if (s->path != NULL)
		return strdup(s->path);
	if (s->name == NULL && env != NULL && env[0] != '\0')
		return strndup(env, strcspn(env, ","));
	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	real = realpath(base, NULL);
	if (asprintf(&path, "%s/tmux-%ld/%s", real != NULL ? real : base,
	    (long)getuid(), s->name != NULL ? s->name : "default") < 0)
		path = NULL;
	free(real);
	return path;
}

void
tmux_server_key(const char *socket_path, char *buf, size_t size)
{
	const char *slash = strrchr(socket_path, '/');
	const char *base = slash != NULL ? slash + 1 : socket_path;
	uint32_t h = 2166136261u;
	char name[48];
	size_t n = 0;

	for (const char *p = socket_path; *p != '\0'; p++) {
		h ^= (unsigned char)*p;
		h *= 16777619u;
	}
	/* Only what is safe in a file name, and not too much of it. */
	for (; *base != '\0' && n < sizeof name - 1; base++)
		name[n++] = (isalnum((unsigned char)*base) || *base == '-' ||
		    *base == '_') ? *base : '_';
	name[n] = '\0';
	snprintf(buf, size, "%s-%08x", n > 0 ? name : "tmux", h);
}

int
tmux_run(const struct tmux_server *s, const char *const *args, size_t max,
    char **out, size_t *len, char *errline, size_t errcap,
    struct starry_err *err)
{
	const char *argv[8 + 4096];
	struct growbuf ob = {0}, eb = {0};
	int po[2] = {-1, -1}, pe[2] = {-1, -1}, status, rc;
	size_t n = 0;
	pid_t pid;

	if (errcap > 0)
		errline[0] = '\0';
	argv[n++] = "tmux";
	if (s->path != NULL) {
		argv[n++] = "-S";
		argv[n++] = s->path;
	} else if (s->name != NULL) {
		argv[n++] = "-L";
		argv[n++] = s->name;
	}
	for (size_t i = 0; args[i] != NULL; i++) {
		if (n >= sizeof argv / sizeof argv[0] - 1)
			return starry_err_set(err, EX_SOFTWARE, "too many "
			    "tmux arguments");
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
		starry_err_sys(err, EX_OSERR, "pipe");
		goto fail;
	}
	/* (bin/spawn.h shadows <spawn.h> on this include path.) */
	if ((pid = fork()) == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		if (devnull < 0 || dup2(devnull, 0) < 0 ||
		    dup2(po[1], 1) < 0 || dup2(pe[1], 2) < 0)
			_exit(127);
		execvp("tmux", (char *const *)argv);
		dprintf(2, "cannot run tmux: %s\n", strerror(errno));
		_exit(127);
	}
	rc = pid < 0 ? errno : 0;
	close(po[1]);
	close(pe[1]);
	po[1] = pe[1] = -1;
	if (rc != 0) {
		errno = rc;
		starry_err_sys(err, EX_UNAVAILABLE, "cannot run tmux");
		goto fail;
	}
	{
		struct pollfd pf[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
		int open_fds = 2, r;

		while (open_fds > 0) {
			if (poll(pf, 2, -1) < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			for (int i = 0; i < 2; i++) {
				if (pf[i].fd < 0 || pf[i].revents == 0)
					continue;
				r = grow_read(pf[i].fd, i == 0 ? &ob : &eb,
				    i == 0 ? max : 65536);
				if (r <= 0) {
					if (r < 0 && i == 0)
						rc = errno;
					close(pf[i].fd);
					pf[i].fd = -1;
					open_fds--;
				}
			}
		}
		po[0] = pe[0] = -1;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (rc != 0 || ob.p == NULL) {
		if (rc == 0 && (ob.p = malloc(1)) != NULL)
			goto done;
		errno = rc != 0 ? rc : ENOMEM;
		starry_err_sys(err, errno == EFBIG ? EX_DATAERR : EX_OSERR,
		    "reading tmux's output");
		goto fail;
	}
done:
	ob.p[ob.len] = '\0';
	if (eb.p != NULL && errcap > 0) {
		size_t m = strcspn(eb.p, "\n");

		eb.p[eb.len < m ? eb.len : m] = '\0';
		snprintf(errline, errcap, "%s", eb.p);
	}
	free(eb.p);
	*out = ob.p;
	if (len != NULL)
		*len = ob.len;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
fail:
	for (int i = 0; i < 2; i++) {
		if (po[i] >= 0)
			close(po[i]);
		if (pe[i] >= 0)
			close(pe[i]);
	}
	free(ob.p);
	free(eb.p);
	return -1;
}

static void
pane_free(struct tmux_pane *p)
{
	free(p->id);
	free(p->session);
	free(p->window_name);
	free(p->command);
	free(p->title);
	free(p->target);
	free(p->screen);
}

void
tmux_panes_free(struct tmux_panes *p)
{
	for (size_t i = 0; i < p->n; i++)
		pane_free(&p->v[i]);
	free(p->v);
	memset(p, 0, sizeof *p);
}

/* What tmux says when there is no server to talk to. */
static bool
no_server(const char *msg)
{
	return strstr(msg, "no server running") != NULL ||
	    strstr(msg, "error connecting to") != NULL;
}

static int
parse_pane(char *line, struct tmux_pane *p)
{
	char *f[PANE_FIELDS], *save = line;
	size_t n = 0;

	memset(p, 0, sizeof *p);
	while (n < PANE_FIELDS) {
		char *sep = strstr(save, SEP);

		f[n++] = save;
		if (sep == NULL)
			break;
		*sep = '\0';
		save = sep + 1;
	}
	if (n != PANE_FIELDS || f[0][0] != '%')
		return -1;
	p->pid = (pid_t)atoi(f[1]);
	p->window = atoi(f[3]);
	p->index = atoi(f[5]);
	p->active = strcmp(f[8], "1") == 0;
	p->dead = strcmp(f[9], "1") == 0;
	p->width = atoi(f[10]);
	p->height = atoi(f[11]);
	if ((p->id = strdup(f[0])) == NULL ||
	    (p->session = strdup(f[2])) == NULL ||
	    (p->window_name = strdup(f[4])) == NULL ||
	    (p->command = strdup(f[6])) == NULL ||
	    (p->title = strdup(f[7])) == NULL ||
	    asprintf(&p->target, "%s:%d.%d", p->session, p->window,
	    p->index) < 0) {
		p->target = NULL;
		pane_free(p);
		return -2;
	}
	return 0;
}

int
tmux_list_panes(const struct tmux_server *s, struct tmux_panes *p,
    struct starry_err *err)
{
	static const char *const args[] = {
		"list-panes", "-a", "-F", PANE_FORMAT, NULL
	};
	char *out, msg[512], *line, *next;
	size_t len, cap = 0;
	int rc;

	memset(p, 0, sizeof *p);
	if ((rc = tmux_run(s, args, TMUX_OUT_MAX, &out, &len, msg, sizeof msg,
	    err)) < 0)
		return -1;
	if (rc != 0) {
		free(out);
		if (no_server(msg)) {
			p->no_server = true;
			return 0;
		}
		return starry_err_set(err, EX_UNAVAILABLE, "tmux list-panes: "
		    "%s", msg[0] != '\0' ? msg : "failed");
	}
	for (line = out; *line != '\0'; line = next) {
		struct tmux_pane pane;

		next = strchrnul(line, '\n');
		if (*next == '\n')
			*next++ = '\0';
		if ((rc = parse_pane(line, &pane)) == -1)
			continue;	/* not a line of ours */
		if (rc < 0 || (p->n == cap && (cap = cap ? 2 * cap : 16,
		    (p->v = reallocarray(p->v, cap, sizeof *p->v)) == NULL))) {
			if (rc == 0)
				pane_free(&pane);
			p->n = 0;
			free(out);
			return starry_err_set(err, EX_OSERR, "out of memory");
		}
		p->v[p->n++] = pane;
	}
	free(out);
	return 0;
}

/* Capture the panes from first on, in one tmux process: a marker line
 * ("\036NONCE-I") from display-message, then the screen. Sets the
 * screens it got; returns the index of the first pane it did not get (n
 * when all), or -1 with err. */
static ssize_t
capture_from(const struct tmux_server *s, struct tmux_panes *p, size_t first,
    const char *nonce, struct starry_err *err)
{
	size_t per = 11, max = (4000 / per), n = 0, done = first;
	const char **args;
	char (*marks)[64], *out, msg[512];
	size_t len;
	int rc;

	if (p->n - first < max)
		max = p->n - first;
	if ((args = calloc(max * per + 1, sizeof *args)) == NULL ||
	    (marks = calloc(max, sizeof *marks)) == NULL) {
		free(args);
		return starry_err_set(err, EX_OSERR, "out of memory");
	}
	for (size_t i = 0; i < max; i++) {
		const char *id = p->v[first + i].id;

		/* No '%' in it: display-message expands strftime's. */
		snprintf(marks[i], sizeof marks[i], "\036%s-%zu", nonce, i);
		args[n++] = "display-message";
		args[n++] = "-p";
		args[n++] = "-t";
		args[n++] = id;
		args[n++] = marks[i];
		args[n++] = ";";
		args[n++] = "capture-pane";
		args[n++] = "-pJ";
		args[n++] = "-t";
		args[n++] = id;
		args[n++] = ";";
	}
	args[n - 1] = NULL;
	rc = tmux_run(s, args, TMUX_OUT_MAX, &out, &len, msg, sizeof msg, err);
	free(args);
	if (rc < 0) {
		free(marks);
		return -1;
	}
	/* Split at the markers; a pane's text runs to the next one. */
	{
		char *at = out, *end = out + len;
		size_t i = 0;

		while (i < max) {
			size_t ml = strlen(marks[i]);
			struct tmux_pane *pp;
			char *text, *stop;

			if ((size_t)(end - at) < ml + 1 ||
			    memcmp(at, marks[i], ml) != 0 || at[ml] != '\n')
				break;
			text = at + ml + 1;
			stop = i + 1 < max ? memmem(text, (size_t)(end - text),
			    marks[i + 1], strlen(marks[i + 1])) : NULL;
			/* No next marker: tmux stopped there, or this is
			 * the last pane. */
			if (stop == NULL)
				stop = end;
			pp = &p->v[first + i];
			if ((pp->screen = malloc((size_t)(stop - text) + 1)) ==
			    NULL) {
				free(out);
				free(marks);
				return starry_err_set(err, EX_OSERR,
				    "out of memory");
			}
			memcpy(pp->screen, text, (size_t)(stop - text));
			pp->screen[stop - text] = '\0';
			pp->screen_len = (size_t)(stop - text);
			at = stop;
			i++;
			done = first + i;
			if (stop == end)
				break;
		}
	}
	free(out);
	free(marks);
	if (done == first + max || rc == 0)
		return (ssize_t)(first + max);
	return (ssize_t)done;
}

int
tmux_capture(const struct tmux_server *s, struct tmux_panes *p,
    struct starry_err *err)
{
	char nonce[UUID_STR_LEN + 1];
	size_t next = 0;
	ssize_t got;

	if (uuid_v4(nonce) < 0)
		return starry_err_sys(err, EX_OSERR, "getrandom");
	while (next < p->n) {
		if ((got = capture_from(s, p, next, nonce, err)) < 0)
			return -1;
		/* The pane at got went away (or tmux refused it): it keeps
		 * no screen, and the rest are asked again. */
		next = (size_t)got == next ? next + 1 : (size_t)got;
	}
	return 0;
}
