/* llm_backend_from_config (backend.h): the top of the backend stack. It reads the engine keys and
 * builds the local backend (engine_local.c) or the openai one (backend_openai.c); the backends
 * know nothing of it, and the generic front (backend.c) sits below them all. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "llm/backend.h"

/* What the local engine is built from, copied out of the configuration (the on-demand backend
 * builds it again later, after the configuration may have changed or gone). */
typedef struct local_cfg {
  llm_local_opts o;
  char *model, *adapter;
  float scale;
} local_cfg;

static void local_cfg_free(void *p) {
  local_cfg *lc = p;
  if (!lc) return;
  mem_free(lc->model);
  mem_free(lc->adapter);
  mem_free(lc);
}

/* The local engine with engine.adapter as its default adapter. */
static int local_load(void *p, llm_backend **out) {
  local_cfg *lc = p;
  llm_backend *b = NULL;
  int rc;
  if ((rc = llm_backend_local_new(&lc->o, &b))) return rc;
  if (*lc->adapter && (rc = llm_backend_adapter_load(b, "", lc->adapter, lc->scale))) {
    llm_backend_destroy(b);
    return rc;
  }
  *out = b;
  return 0;
}

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
  local_cfg *lc = xcalloc(1, sizeof *lc);
  lc->model = xstrdup(cfg_str(c, CFG_ENGINE_MODEL));
  lc->o = (llm_local_opts){
      .model_path = lc->model,
      .threads = (int)cfg_int(c, CFG_ENGINE_THREADS),
      .slots = (int)cfg_int(c, CFG_ENGINE_SLOTS),
      .ctx = (int)cfg_int(c, CFG_ENGINE_CTX),
      .batch = (int)cfg_int(c, CFG_ENGINE_BATCH),
      .queue_max = (int)cfg_int(c, CFG_BOT_QUEUE_MAX),
      .kv_f16 = strcmp(kv, "f16") == 0,
  };
  lc->adapter = xstrdup(cfg_str(c, CFG_ENGINE_ADAPTER));
  lc->scale = (float)cfg_num(c, CFG_ENGINE_ADAPTER_SCALE);
  bool preload = cfg_bool(c, CFG_ENGINE_PRELOAD);
  int64_t idle_s = cfg_int(c, CFG_ENGINE_IDLE_UNLOAD_S);
  if (preload && idle_s == 0) { /* the model for the whole run, as it always was */
    rc = local_load(lc, out);
    local_cfg_free(lc);
    return rc;
  }
  /* A model that is not there is reported now, not at the first message. */
  if (!preload && access(lc->model, R_OK) != 0) {
    rc = err_set(MIMIC_ENOTFOUND, "%s: cannot read the model (engine.model): %s", lc->model,
                 strerror(errno));
    local_cfg_free(lc);
    return rc;
  }
  llm_ondemand_opts oo = {.load = local_load,
                          .user = lc,
                          .user_free = local_cfg_free,
                          .slots = lc->o.slots,
                          .preload = preload,
                          .idle_unload_ms = idle_s * 1000};
  return llm_backend_ondemand_new(&oo, out);
}
