/* llm_backend_from_config (backend.h): the top of the backend stack. It reads the engine keys and
 * builds the local backend (engine_local.c) or the openai one (backend_openai.c); the backends
 * know nothing of it, and the generic front (backend.c) sits below them all. */
#include <string.h>

#include "base/base.h"
#include "llm/backend.h"

int llm_backend_from_config(const cfg *c, llm_backend **out) {
  *out = NULL;
  const char *kind = cfg_str(c, "engine.backend");
  int rc;
  if (strcmp(kind, "openai") == 0) {
    llm_openai_opts o = {
        .url = cfg_str(c, "engine.openai_url"),
        .model = cfg_str(c, "engine.openai_model"),
        .key_file =
            *cfg_str(c, "engine.openai_key_file") ? cfg_str(c, "engine.openai_key_file") : NULL,
        .workers = (int)cfg_int(c, "engine.slots"),
        .queue_max = (int)cfg_int(c, "bot.queue_max"),
    };
    return llm_backend_openai_new(&o, out);
  }
  if (strcmp(kind, "local") != 0)
    return err_set(MIMIC_EINVAL, "engine.backend is '%s'; use local or openai", kind);
  const char *kv = cfg_str(c, "engine.kv_type");
  if (strcmp(kv, "f32") != 0 && strcmp(kv, "f16") != 0)
    return err_set(
        MIMIC_EINVAL,
        "engine.kv_type is '%s'; use f32 (the reference precision) or f16 (half the memory)", kv);
  llm_local_opts o = {
      .model_path = cfg_str(c, "engine.model"),
      .threads = (int)cfg_int(c, "engine.threads"),
      .slots = (int)cfg_int(c, "engine.slots"),
      .ctx = (int)cfg_int(c, "engine.ctx"),
      .batch = (int)cfg_int(c, "engine.batch"),
      .queue_max = (int)cfg_int(c, "bot.queue_max"),
      .kv_f16 = strcmp(kv, "f16") == 0,
  };
  llm_backend *b = NULL;
  if ((rc = llm_backend_local_new(&o, &b))) return rc;
  const char *adapter = cfg_str(c, "engine.adapter");
  if (*adapter &&
      (rc = llm_backend_adapter_load(b, "", adapter, (float)cfg_num(c, "engine.adapter_scale")))) {
    llm_backend_destroy(b);
    return rc;
  }
  *out = b;
  return 0;
}
