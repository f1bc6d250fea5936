/* first-instruction: the agent of the spawn benchmark (tests/bench/run,
 * section (h)). Its first instruction reads CLOCK_MONOTONIC, which every
 * process on the host shares; it then writes that time in ns, one line,
 * to the FIFO named by the environment variable FIRST_INSTRUCTION_FIFO or,
 * when it is not set, by its first argument (s6-supervise runs ./run with
 * the service's name as its argument: the service's run file is a link to
 * this program, and s6-svscan's environment names the FIFO), and waits
 * for a signal. libc only.
 *   first-instruction [FIFO] */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	struct timespec ts;
	const char *fifo;
	char line[32];
	int fd, n;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if ((fifo = getenv("FIRST_INSTRUCTION_FIFO")) == NULL && argc > 1)
		fifo = argv[1];
	if (fifo == NULL) {
		fputs("usage: first-instruction FIFO (or FIRST_INSTRUCTION_FIFO)\n",
		    stderr);
		return 64;
	}
	n = snprintf(line, sizeof line, "%lld\n",
	    (long long)ts.tv_sec * 1000000000 + ts.tv_nsec);
	/* The harness holds the FIFO open for reading: this does not block. */
	if ((fd = open(fifo, O_WRONLY | O_NONBLOCK)) < 0 ||
	    write(fd, line, (size_t)n) != n) {
		perror("first-instruction");
		return 74;
	}
	close(fd);
	for (;;)
		pause();
}
