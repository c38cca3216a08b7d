/*
 * A static glibc program: glibc's start-up reads the program's own path
 * (AT_EXECFN, the auxiliary vector), so the instruction stream depends on
 * what path the guest is started with. Tests run it under two different
 * file names to check both lockstep sides see the same path.
 */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    unsigned int h = 2166136261u;

    /* Walk argv[0] so its length shows in the instruction stream too. */
    for (const char *p = argv[0]; *p; p++) {
        h = (h ^ (unsigned char)*p) * 16777619u;
    }
    printf("argc %d, argv[0] hash 0x%08x, length %zu\n", argc, h,
           strlen(argv[0]));
    return 0;
}
