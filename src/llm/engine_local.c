/* Binds the engine (engine.h) to mimic's model and tokenizer: the "local" llm_backend. Placeholder
 * until model.h and tokenizer.h are implemented on this branch. */
#include "base/base.h"
#include "llm/backend.h"

int llm_backend_local_new(const llm_local_opts *o, llm_backend **out) {
  *out = NULL;
  return err_set(MIMIC_EUNSUPPORTED, "%s: the local engine is not built yet; use engine.backend = openai",
                 o->model_path ? o->model_path : "(no model)");
}
