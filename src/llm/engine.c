/* The "local" llm_backend: mimic's own engine. Placeholder until the model and tokenizer land. */
#include "base/base.h"
#include "llm/backend_int.h"

int llm_backend_local_new(const llm_local_opts *o, llm_backend **out) {
  *out = NULL;
  return err_set(MIMIC_EUNSUPPORTED, "%s: the local engine is not built yet; use engine.backend = openai",
                 o->model_path ? o->model_path : "(no model)");
}
