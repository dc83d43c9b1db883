/* mount_attack FSTYPE|bind|umount|remount TARGET: one mount-table change. */
#include <sys/mount.h>

#include "attack.h"

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	const char *kind = argv[1], *target = argv[2];
	char what[256];
	snprintf(what, sizeof what, "%s %s", kind, target);
	int rc;
	if (strcmp(kind, "bind") == 0)
		rc = mount("/", target, NULL, MS_BIND | MS_REC, NULL);
	else if (strcmp(kind, "umount") == 0)
		rc = umount2(target, MNT_DETACH);
	else if (strcmp(kind, "remount") == 0)
		rc = mount(NULL, target, NULL, MS_REMOUNT, NULL);
	else
		rc = mount("none", target, kind, 0, NULL);
	attempt(what, rc != 0);
	return 0;
}
