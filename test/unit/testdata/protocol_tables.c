/* Prints protocol.h's lists as JSON: test/unit/protocol_test.ts holds them
 * against harness/core/protocol.ts and harness/plan/plugin_args.ts. */
#include <stdio.h>

#include "protocol.h"

static int first;

#define STR(id, s) printf("%s\"%s\":\"%s\"", first++ ? "," : "", #id, s);
#define NUM(id, n) printf("%s\"%s\":%d", first++ ? "," : "", #id, (int)(n));

int main(void)
{
    printf("{\"messages\":{");
    first = 0;
    LS_MESSAGES(STR)
    printf("},\"commands\":{");
    first = 0;
    LS_COMMANDS(STR)
    printf("},\"events\":{");
    first = 0;
    LS_EVENT_KINDS(NUM)
    printf("},\"args\":{");
    first = 0;
    LS_ARGS(STR)
    printf("},\"recFrames\":{");
    first = 0;
    LS_REC_FRAMES(NUM)
    printf("},\"detailKinds\":{");
    first = 0;
    LS_DETAIL_KINDS(NUM)
    printf("}}\n");
    return 0;
}
