/* Fuzz target for character cards (collect/card.h): any bytes, as JSON or PNG, must give either a
 * persona that passes store_persona_check or one error sentence, never a crash or a leak; a card
 * that parses must also export (V2, V3, and into a PNG when it came from one) and parse back. */
#include <stdint.h>
#include <stdlib.h>

#include "base/base.h"
#include "collect/card.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  store_persona p, q;
  store_persona_init(&p);
  store_persona_init(&q);
  card_meta m;
  if (card_parse(data, size, &p, &m) == 0) {
    if (store_persona_check(&p) != 0) abort(); /* a parsed card is always storable */
    buf out;
    buf_init(&out, 0);
    if (card_to_json(&p, 3, &out) != 0) abort();
    if (card_parse(out.data, out.len, &q, NULL) != 0) abort(); /* our export reads back */
    buf_reset(&out);
    if (card_to_json(&p, 2, &out) != 0) abort();
    if (m.png) {
      buf_reset(&out);
      if (card_png_embed(data, size, &p, &out) != 0) abort();
      if (card_parse(out.data, out.len, &q, NULL) != 0) abort();
    }
    buf_free(&out);
  }
  store_persona_free(&q);
  store_persona_free(&p);
  return 0;
}
