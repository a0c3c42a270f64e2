/* The eval layer: how close a tuned model's replies come to a community's real ones. Style metrics
 * between two lists of messages (pure functions, UTF-8 aware), held-out perplexity through the
 * inference engine, a blind-test kit people can fill in, and the HTML/SVG report. Not here:
 * generating the replies (the CLI drives llm_backend) or training (train/).
 *
 * Conventions: a "set" is an array of n NUL-terminated UTF-8 strings (invalid bytes count as
 * U+FFFD, never trusted). Each message is read up to EVAL_MSG_MAX bytes and a set holds at most
 * EVAL_MAX_ITEMS messages; bigger inputs are MIMIC_ERANGE. Functions allocate through the x*
 * wrappers (out of memory aborts) and are thread-safe (no shared state). */
#ifndef MIMIC_EVAL_H
#define MIMIC_EVAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "embed/embed.h"

#define EVAL_MAX_ITEMS 2000000u /* messages in one set */
#define EVAL_MSG_MAX                                                                               \
  16384u /* bytes of one message that the metrics read (Discord: <= 4000 chars) */

/* ---- text classification (exposed for tests and for the stats of other layers) ------------------
 */

/* Emoji by code point range: pictographs and emoticons (U+1F000-1FAFF), misc symbols and dingbats
 * (U+2600-27BF), misc technical (U+2300-23FF), arrows/stars block (U+2B00-2BFF). Variation
 * selectors, ZWJ and skin-tone modifiers are not emoji on their own. */
bool eval_cp_is_emoji(uint32_t cp);
/* Case over Latin (ASCII, Latin-1, Latin Extended-A), Greek and Cyrillic; other scripts have none.
 */
bool eval_cp_is_upper(uint32_t cp);
bool eval_cp_is_lower(uint32_t cp);

/* Code points in a message (up to EVAL_MSG_MAX bytes). */
size_t eval_msg_len(const char *s);
/* The text of a dataset reply without its "Name: " speaker prefix (prepare writes assistant turns
 * as "Name: text"); returns s itself when there is no prefix. The name part must be 1..64 bytes
 * without a newline. Borrowed pointer into s. */
const char *eval_strip_speaker(const char *s);
/* Copies the speaker name of "Name: text" into out (cap bytes); returns false when there is none.
 */
bool eval_speaker(const char *s, char *out, size_t cap);

/* ---- per-set style profile ---------------------------------------------------------------------
 */

/* Message length histogram bins, in code points: [0,5) [5,10) [10,20) [20,30) [30,50) [50,80)
 * [80,120) [120,200) [200,300) [300,500) [500,1000) [1000,inf). */
#define EVAL_LEN_BINS 12
extern const int eval_len_bin_lo[EVAL_LEN_BINS];

typedef struct eval_style {
  size_t n;                       /* messages */
  double len_mean;                /* code points */
  double len_hist[EVAL_LEN_BINS]; /* fraction of messages per bin (sums to 1 when n > 0) */
  double words_mean;              /* word tokens per message */
  double distinct1, distinct2;    /* unique / total word 1-grams and 2-grams over the set */
  /* Fractions of messages that ... */
  double rate_emoji;       /* contain an emoji (Unicode, <:name:id> or :name:) */
  double rate_caps;        /* have >= 2 cased letters, all upper case ("LETS GO 🔥") */
  double rate_lower_start; /* whose first cased letter is lower case ("yeah lol") */
  double rate_punct_run;   /* contain a run of 2+ of ! ? . ("!!!", "?!", "...") */
  double rate_question;    /* contain '?' */
  double rate_end_punct;   /* end (trailing spaces and emoji aside) with . ! or ? */
} eval_style;

/* Computes the profile of a set (n may be 0: everything is 0). MIMIC_ERANGE over EVAL_MAX_ITEMS. */
int eval_style_compute(const char *const *msgs, size_t n, eval_style *out) MIMIC_MUST;

/* ---- set-vs-set metrics ---------------------------------------------------------------------- */

/* Jensen-Shannon divergence of two distributions over n bins, in bits (log base 2), so it lies in
 * [0, 1]: 0 for equal distributions, 1 for disjoint supports. p and q need not be normalised (each
 * is divided by its sum); an all-zero side gives 1 unless both are all zero (0). */
double eval_jsd(const double *p, const double *q, size_t n);

/* Two-sample Kolmogorov-Smirnov statistic D = sup |F_a - F_b| over the message lengths (code
 * points); 0 when either set is empty. */
double eval_len_ks(const char *const *a, size_t na, const char *const *b, size_t nb);

/* distinct-n (Li et al. 2016): unique word n-grams / total word n-grams over the set (n-grams do
 * not cross messages); 0 when the set has no n-gram. order 1..8. Words: runs of letters, digits and
 * apostrophes (Latin/Greek/Cyrillic case-folded), and each emoji as its own word. */
int eval_distinct(const char *const *msgs, size_t n, int order, double *out) MIMIC_MUST;

/* Cosine between the TF-IDF centroids of two sets over character 3-,4- and 5-grams (code points,
 * case kept, each message padded with one space on both sides). Each message is a document: tf =
 * count / grams in the message, idf = ln((1 + N) / (1 + df)) + 1 over all N messages of both sets;
 * a set's vector is the mean of its messages' vectors. 1 for identical sets, 0 when no n-gram is
 * shared (or a set is empty). */
int eval_tfidf_cosine(const char *const *a, size_t na, const char *const *b, size_t nb,
                      double *out) MIMIC_MUST;

/* Vocabulary overlap: Jaccard |Va ∩ Vb| / |Va ∪ Vb| of the two sets' word vocabularies (words as
 * for eval_distinct); 0 when both are empty. */
int eval_vocab_jaccard(const char *const *a, size_t na, const char *const *b, size_t nb,
                       double *out) MIMIC_MUST;

/* Copy rate, the privacy check: the fraction of generated messages that reproduce a training
 * message verbatim (after trimming and collapsing whitespace; case kept). Generated messages with
 * fewer than min_chars code points are never counted as copies (short common replies like "lol"
 * are not memorisation), but stay in the denominator. *copies (may be NULL) receives the count.
 * 0 when ngen is 0. */
int eval_copy_rate(const char *const *gen, size_t ngen, const char *const *train, size_t ntrain,
                   size_t min_chars, double *rate, size_t *copies) MIMIC_MUST;

/* Everything above for real (held-out) vs generated replies to the same contexts. */
typedef struct eval_compare {
  eval_style real, gen;
  double len_jsd;   /* JSD of the length histograms, bits */
  double len_ks;    /* KS statistic of the lengths */
  double tfidf_cos; /* char 3-5-gram TF-IDF centroid cosine */
  double vocab_jaccard;
  double copy_rate; /* NAN when no training set was given */
  size_t copies;
  double embed_cos; /* NAN: filled by the caller when an embedding model is configured */
  /* The style-embedding cosine's parts (eval_embed_cosine; NAN without an encoder): */
  double embed_pair_cos;     /* mean cosine of each generated reply with the real one */
  double embed_centroid_cos; /* cosine of the two sets' mean (normalised) embeddings */
} eval_compare;

/* Fills out; train may be NULL (copy_rate = NAN). min_chars as eval_copy_rate. */
int eval_compare_sets(const char *const *real, size_t nr, const char *const *gen, size_t ng,
                      const char *const *train, size_t ntrain, size_t min_chars,
                      eval_compare *out) MIMIC_MUST;

/* The style-embedding cosine of the personality seed's targets (goal > 0.85): real[i] and gen[i]
 * are the real and the generated reply to the same context, embedded by the sentence encoder m
 * (L2-normalised). Fills *pair with the mean over i of cos(real_i, gen_i), *centroid with the
 * cosine of the two sets' mean vectors, and *mean with their average, the headline number. n 0
 * gives NAN. Errors as embed_texts (the model is used from this thread only). */
int eval_embed_cosine(embed_model *m, const char *const *real, const char *const *gen, size_t n,
                      double *pair, double *centroid, double *mean) MIMIC_MUST;

#endif

/* ---- datasets (TRL conversational JSONL, as `mimic prepare` writes sft-messages.*.jsonl) ------
 */

#define EVAL_LINE_MAX    (4u << 20) /* bytes in one JSONL line */
#define EVAL_MAX_SAMPLES 1000000u   /* samples read from one file */
#define EVAL_MAX_TURNS   256        /* messages in one sample */

typedef struct eval_turn {
  char *role, *content; /* owned */
} eval_turn;

/* One sample: turns[0..n-1) are the context (system, user, ...), turns[n-1] is the assistant reply
 * being imitated ("Name: text"). */
typedef struct eval_sample {
  eval_turn *turns;
  size_t n;
} eval_sample;

typedef struct eval_dataset {
  eval_sample *s;
  size_t n;
} eval_dataset;

/* Reads up to max samples (0 = all, at most EVAL_MAX_SAMPLES) of {"messages": [{role, content}...]}
 * lines; blank lines are skipped. A line that is not JSON, has no messages, or does not end with an
 * assistant turn is MIMIC_EFORMAT naming path:line; over the caps MIMIC_ERANGE. Invalid UTF-8 in a
 * string is repaired (U+FFFD). Free with eval_dataset_free (also after a failure). */
int eval_dataset_load(const char *path, size_t max, eval_dataset *out) MIMIC_MUST;
void eval_dataset_free(eval_dataset *d);

/* ---- perplexity ------------------------------------------------------------------------------ */

#define EVAL_MAX_AUTHORS                                                                           \
  256 /* distinct speakers tracked per run; the rest pool under "(others)"                         \
       */

typedef struct eval_ppl_author {
  char name[64];
  double nll; /* summed negative log-likelihood, nats */
  int64_t tokens;
  int64_t samples;
} eval_ppl_author;

typedef struct eval_ppl {
  double nll; /* over every scored token, nats */
  int64_t tokens, samples;
  int64_t skipped;          /* samples longer than the context window */
  eval_ppl_author *authors; /* owned, n_authors of them, in order of first appearance */
  size_t n_authors;
} eval_ppl;

/* exp(nll / tokens); NAN when tokens is 0. */
double eval_ppl_value(double nll, int64_t tokens);
void eval_ppl_free(eval_ppl *p); /* accepts NULL and a zeroed struct */

typedef struct eval_ppl_opts {
  const char *model_path; /* base GGUF */
  const char *lora_path;  /* adapter GGUF, or NULL for base only */
  float lora_scale;       /* user scale (1 = as trained) */
  int threads;            /* 0 = one per core */
  int n_ctx;              /* 0 = min(n_ctx_train, 4096) */
  /* Called after each sample (may be NULL): done of total. */
  void (*progress)(size_t done, size_t total, void *user);
  void *user;
} eval_ppl_opts;

/* Held-out perplexity of the assistant replies of ds under the base model and, when lora_path is
 * set, under base + adapter. Each sample is rendered with the model's chat template (chat_encode,
 * so message text can never inject control tokens); only the assistant turn's tokens are scored —
 * the "Name: " prefix, the text and the end-of-turn token, exactly the tokens SFT trains on — each
 * given everything before it. Per-author sums use the "Name: " prefix of the reply. Samples longer
 * than the context are skipped and counted. tuned may be NULL when there is no adapter. Errors name
 * the model or adapter file. */
int eval_perplexity(const eval_ppl_opts *o, const eval_dataset *ds, eval_ppl *base,
                    eval_ppl *tuned) MIMIC_MUST;

/* ---- blind test kit ----------------------------------------------------------------------------
 */

#define EVAL_CSV_MAX       (64u << 20) /* bytes in a sheet or key file the scorer reads */
#define EVAL_CSV_FIELD_MAX (1u << 20)  /* bytes in one CSV field */
#define EVAL_BLIND_MAX     100000u     /* items in one kit */

/* Writes a blind test for n contexts into dir (created if missing): every real and every generated
 * reply becomes one item (2n in all), shuffled with seed, in
 *   blind-sheet.csv   id,context,reply,guess   (judges fill guess with "real" or "generated")
 *   blind-sheet.html  the same items, readable, with the instructions
 *   blind-key.csv     id,truth                 (keep it away from the judges)
 * context[i] is shown as its last 4 lines. Fields that a spreadsheet would run as a formula
 * (leading = + - @) get a leading apostrophe. Each file is written atomically (temporary name, then
 * rename). real[i] and gen[i] should carry the same "Name: " prefix so the name gives nothing away.
 */
int eval_blind_write(const char *dir, const char *const *context, const char *const *real,
                     const char *const *gen, size_t n, uint64_t seed) MIMIC_MUST;

/* As eval_blind_write over up to max_items of the n contexts, chosen so that the kit does not give
 * its answers away: an item whose real reply appears word for word in another chosen item's shown
 * context (or whose context shows another's real reply) is left out, and logged. Text that is not
 * valid UTF-8 is repaired (U+FFFD) before it is written. *kept (may be NULL): the contexts used,
 * 2 * *kept items. */
int eval_blind_pick(const char *dir, const char *const *context, const char *const *real,
                    const char *const *gen, size_t n, size_t max_items, uint64_t seed,
                    size_t *kept) MIMIC_MUST;

typedef struct eval_blind_result {
  int items;    /* rows in the key */
  int answered; /* rows with a guess */
  int correct;
  int gen_answered, gen_caught; /* generated items judged, and judged "generated" */
  double accuracy;              /* correct / answered (NAN when none) */
  double p_value; /* one-sided binomial P(X >= correct | answered, 1/2): small = judges can tell */
  double ci_lo, ci_hi; /* Wilson 95% interval of the accuracy */
} eval_blind_result;

/* Scores a filled-in sheet against its key. Columns are found by header name (id, guess; id, truth)
 * so spreadsheet round trips that reorder columns still score. A guess is "real"/"human" (or r/h)
 * or "generated"/"bot"/"ai"/"machine"/"fake" (or g/b/m/f), any case; blank = unanswered. Unknown
 * guesses, ids missing from the key and malformed CSV are MIMIC_EFORMAT naming file and row. */
int eval_blind_score(const char *sheet_csv, const char *key_csv, eval_blind_result *out) MIMIC_MUST;

/* P(X >= k) for X ~ Binomial(n, 1/2). 1 when k <= 0; 0 when k > n. */
double eval_binom_tail_half(int k, int n);

/* ---- CSV (RFC 4180) ---------------------------------------------------------------------------
 */

/* Reads one record from data[*pos..n): fields separated by ',', optionally double-quoted (quotes
 * doubled inside, newlines allowed), ending at CRLF, LF or the end. Fields are NUL-terminated
 * copies in *fields (caller frees each and the array with mem_free). Returns 1 with a record, 0 at
 * the end, or MIMIC_EFORMAT (unterminated quote, text after a closing quote) / MIMIC_ERANGE (a
 * field over EVAL_CSV_FIELD_MAX, more than 1024 fields). */
int eval_csv_record(const char *data, size_t n, size_t *pos, char ***fields,
                    size_t *nfields) MIMIC_MUST;
void eval_csv_free(char **fields, size_t n);

/* ---- training log (loss curve) ------------------------------------------------------------------
 */

#define EVAL_LOSS_MAX_POINTS 200000u

typedef struct eval_loss_curve {
  double *step, *loss; /* training loss points */
  size_t n;
  double *vstep, *vloss; /* validation loss points */
  size_t nv;
} eval_loss_curve;

/* Reads a training log: CSV with a header naming a "step" column and a "loss" (or "train_loss")
 * column, optionally "val_loss" / "valid_loss" / "eval_loss" (empty cells are skipped); or JSONL
 * (the file name ends in .jsonl) with the same keys per line. Rows whose values do not parse are
 * skipped; a file without the columns is MIMIC_EFORMAT. At most EVAL_LOSS_MAX_POINTS points each
 * (MIMIC_ERANGE beyond). Free with eval_loss_curve_free. */
int eval_loss_curve_read(const char *path, eval_loss_curve *out) MIMIC_MUST;
void eval_loss_curve_free(eval_loss_curve *c);
/* The smoothed curve drawn over the raw one: a bias-corrected exponential moving average (as
 * TensorBoard draws it) whose window grows with the curve (about n/25 points, 2 to 200). out has
 * n values; non-finite inputs keep the previous average. */
void eval_loss_smooth(const double *v, size_t n, double *out);

/* ---- the HTML report ---------------------------------------------------------------------------
 */

typedef struct eval_example {
  const char *context, *real, *gen;
} eval_example;

typedef struct eval_report {
  const char *model, *lora, *data; /* shown in the header; lora may be NULL */
  const eval_compare *cmp;         /* style metrics; NULL = not computed */
  const eval_ppl *ppl_base;        /* NULL = not computed */
  const eval_ppl *ppl_tuned;       /* NULL = no adapter */
  const eval_loss_curve *loss;     /* NULL or empty = no loss curve */
  const eval_example *examples;    /* shown side by side (the first 12) */
  size_t n_examples;
  const char *blind_dir; /* where the blind kit was written, or NULL */
  double gen_seconds;    /* time spent generating (0 = not shown) */
  uint64_t seed;
} eval_report;

/* Writes one self-contained HTML page (inline SVG: length histograms real vs generated, surface
 * marker rates, the loss curve; tables: style metrics with class "metrics", perplexity per author;
 * sample replies side by side) to path atomically, creating its folder. */
int eval_report_write(const char *path, const eval_report *r) MIMIC_MUST;
/* The same numbers as JSON (for scripts and CI): {"metrics": {...}, "perplexity": {...}}. */
int eval_report_json(const char *path, const eval_report *r) MIMIC_MUST;
