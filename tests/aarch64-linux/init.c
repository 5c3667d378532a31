// SPDX-License-Identifier: MIT
/*
 * /init of the aarch64 Linux test initramfs (tests/aarch64-linux/run.sh).
 *
 * Mounts /proc, /sys and /dev (the tests read /sys/devices/system/cpu/
 * possible and /dev/urandom), then runs each line of /tests.list: a
 * program under /tests and its arguments, separated by spaces. Prints
 * "ok NAME (Ns)" or "FAIL NAME (...)" after each program's own output and
 * a last line "aarch64-linux: N passed, N failed", then powers off.
 * Static, no dependencies beyond libc.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/reboot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS 15

static void console(void)
{
	int fd = open("/dev/console", O_RDWR);

	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void off(void)
{
	fflush(NULL);
	sync();
	reboot(LINUX_REBOOT_CMD_POWER_OFF);
	for (;;)
		pause();
}

int main(void)
{
	char line[512], name[600];
	unsigned pass = 0, fail = 0;
	FILE *list;

	mkdir("/proc", 0755);
	mkdir("/sys", 0755);
	mkdir("/dev", 0755);
	/* test_cpu_ids writes a fake possible-CPU list with mkstemp there;
	 * without it the full run (make test-aarch64-linux) failed there
	 * since session 16. */
	mkdir("/tmp", 01777);
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	console();
	setvbuf(stdout, NULL, _IONBF, 0);

	list = fopen("/tests.list", "r");
	if (!list) {
		printf("init: /tests.list: %s\n", strerror(errno));
		printf("aarch64-linux: 0 passed, 1 failed\n");
		off();
	}
	while (fgets(line, sizeof(line), list)) {
		char *argv[MAX_ARGS + 1], *save = NULL, *tok;
		int argc = 0, status;
		double t0;
		pid_t pid;

		line[strcspn(line, "\n")] = 0;
		for (tok = strtok_r(line, " ", &save); tok && argc < MAX_ARGS;
		     tok = strtok_r(NULL, " ", &save))
			argv[argc++] = tok;
		if (!argc || argv[0][0] == '#')
			continue;
		argv[argc] = NULL;
		snprintf(name, sizeof(name), "%s", argv[0]);
		for (int i = 1; i < argc; i++)
			snprintf(name + strlen(name), sizeof(name) - strlen(name),
				 " %s", argv[i]);
		printf("=== %s\n", name);
		t0 = now();
		pid = fork();
		if (pid == 0) {
			char path[300];

			snprintf(path, sizeof(path), "/tests/%s", argv[0]);
			execv(path, argv);
			printf("init: exec %s: %s\n", path, strerror(errno));
			_exit(127);
		}
		if (pid < 0 || waitpid(pid, &status, 0) != pid) {
			printf("FAIL %s (fork/wait: %s)\n", name, strerror(errno));
			fail++;
			continue;
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			printf("ok   %s (%.1fs)\n", name, now() - t0);
			pass++;
		} else if (WIFEXITED(status)) {
			printf("FAIL %s (exit %d, %.1fs)\n", name,
			       WEXITSTATUS(status), now() - t0);
			fail++;
		} else {
			printf("FAIL %s (signal %d, %.1fs)\n", name,
			       WIFSIGNALED(status) ? WTERMSIG(status) : -1,
			       now() - t0);
			fail++;
		}
	}
	printf("aarch64-linux: %u passed, %u failed\n", pass, fail);
	off();
	return 0;
}
