/* Prints syscall_args.h's tables as JSON: test/unit/syscalls_test.ts holds
 * them against harness/core/syscalls.ts. */
#include <stdio.h>

#include "syscall_args.h"

static int first;

#define TARGET(list, target) \
    printf("%s\"%s\":\"%s\"", first++ ? "," : "", target, #list);
#define CALL(num, name, n) \
    printf("%s[%d,\"%s\",%d]", first++ ? "," : "", num, #name, n);

int main(void)
{
    printf("{\"targets\":{");
    first = 0;
    LS_SYSCALL_TARGETS(TARGET)
    printf("},\"X86_64\":[");
    first = 0;
    LS_SYSCALLS_X86_64(CALL)
    printf("],\"GENERIC\":[");
    first = 0;
    LS_SYSCALLS_GENERIC(CALL)
    printf("]}\n");
    return 0;
}
