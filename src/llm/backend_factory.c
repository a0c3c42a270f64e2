/* llm_backend_from_config (backend.h): the top of the backend stack. It reads the engine keys and
 * builds the local backend (engine_local.c) or the openai one (backend_openai.c); the backends
 * know nothing of it, and the generic front (backend.c) sits below them all. */
#include <string.h>

#include "base/base.h"
#include "llm/backend.h"

int llm_backend_from_config(const cfg *c, llm_backend **out) {
  *out = NULL;
  const char *kind = cfg_str(c, CFG_ENGINE_BACKEND);
  int rc;
  if (strcmp(kind, "openai") == 0) {
    llm_openai_opts o = {
        .url = cfg_str(c, CFG_ENGINE_OPENAI_URL),
        .model = cfg_str(c, CFG_ENGINE_OPENAI_MODEL),
        .key_file =
            *cfg_str(c, CFG_ENGINE_OPENAI_KEY_FILE) ? cfg_str(c, CFG_ENGINE_OPENAI_KEY_FILE) : NULL,
        .workers = (int)cfg_int(c, CFG_ENGINE_SLOTS),
        .queue_max = (int)cfg_int(c, CFG_BOT_QUEUE_MAX),
    };
    return llm_backend_openai_new(&o, out);
  }
  if (strcmp(kind, "local") != 0)
    return err_set(MIMIC_EINVAL, "engine.backend is '%s'; use local or openai", kind);
  const char *kv = cfg_str(c, CFG_ENGINE_KV_TYPE);
  if (strcmp(kv, "f32") != 0 && strcmp(kv, "f16") != 0)
    return err_set(
        MIMIC_EINVAL,
        "engine.kv_type is '%s'; use f32 (the reference precision) or f16 (half the memory)", kv);
  llm_local_opts o = {
      .model_path = cfg_str(c, CFG_ENGINE_MODEL),
      .threads = (int)cfg_int(c, CFG_ENGINE_THREADS),
      .slots = (int)cfg_int(c, CFG_ENGINE_SLOTS),
      .ctx = (int)cfg_int(c, CFG_ENGINE_CTX),
      .batch = (int)cfg_int(c, CFG_ENGINE_BATCH),
      .queue_max = (int)cfg_int(c, CFG_BOT_QUEUE_MAX),
      .kv_f16 = strcmp(kv, "f16") == 0,
  };
  llm_backend *b = NULL;
  if ((rc = llm_backend_local_new(&o, &b))) return rc;
  const char *adapter = cfg_str(c, CFG_ENGINE_ADAPTER);
  if (*adapter && (rc = llm_backend_adapter_load(b, "", adapter,
                                                 (float)cfg_num(c, CFG_ENGINE_ADAPTER_SCALE)))) {
    llm_backend_destroy(b);
    return rc;
  }
  *out = b;
  return 0;
}
