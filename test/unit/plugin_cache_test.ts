// Where the plugin cache goes by default: never a directory others share.
import { defaultCacheDir } from "../../harness/qemu/plugin_cache.ts";
import { deepEqual, match, ok } from "../../deps/assert.ts";

Deno.test("the default plugin cache is the user's own, never a shared one", async (t) => {
  await t.step("XDG_CACHE_HOME first, then HOME", () => {
    deepEqual(defaultCacheDir({ XDG_CACHE_HOME: "/x/cache", HOME: "/home/u" }, 1000), {
      path: "/x/cache/qemu-lockstep",
    });
    deepEqual(defaultCacheDir({ HOME: "/home/u" }, 1000), {
      path: "/home/u/.cache/qemu-lockstep",
    });
  });
  await t.step("neither: a directory named for the user in TMPDIR, and a note saying so", () => {
    const none = defaultCacheDir({}, 1000);
    deepEqual(none.path, "/tmp/qemu-lockstep-1000");
    ok(!none.path.startsWith("/tmp/.cache"));
    match(none.note ?? "", /HOME and XDG_CACHE_HOME are unset: .*\/tmp\/qemu-lockstep-1000/);
    deepEqual(defaultCacheDir({ TMPDIR: "/run/t", HOME: "" }, 0).path, "/run/t/qemu-lockstep-0");
  });
});
