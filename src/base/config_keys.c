/* The table of every configuration key, its type, default, bounds and one line of help. This is the
 * single home of every default and bound: other layers read them through cfg_key_get,
 * cfg_key_default* and cfg_key_check rather than repeating them. mimic.conf.example documents every
 * row and config_ids.h names each one (tests/base/test_config.c checks both). */
#include <stddef.h>

#include "base/config.h"

/* Each row is indexed by its handle (config_ids.h) and records the handle's spelling, which the
 * test compares with the name. */
#define ROW(id, n, type, d, lo, hi, secret, h, flags)                                              \
  [CFG_##id] = {n, type, d, lo, hi, secret, h, flags, "CFG_" #id}
#define STR(id, n, d, h)         ROW(id, n, CFG_STR, d, 0, 0, false, h, 0)
#define PATH(id, n, d, h)        ROW(id, n, CFG_STR, d, 0, 0, false, h, CFG_F_PATH)
#define IDS(id, n, h)            ROW(id, n, CFG_STR, "", 0, 0, false, h, CFG_F_IDS)
#define INT(id, n, d, lo, hi, h) ROW(id, n, CFG_INT, d, lo, hi, false, h, 0)
#define NUM(id, n, d, lo, hi, h) ROW(id, n, CFG_NUM, d, lo, hi, false, h, 0)
#define BOOL(id, n, d, h)        ROW(id, n, CFG_BOOL, d, 0, 0, false, h, 0)

static const cfg_key keys[] = {
    /* general */
    STR(LOG_LEVEL, "log.level", "info", "error, warn, info, debug or trace"),
    STR(LOG_TRACE, "log.trace", "",
        "comma-separated subsystems to trace (gateway,rest,engine,bot,...) or all"),
    PATH(LOG_FILE, "log.file", "", "also append the log to this file"),
    INT(LOG_MAX_FILE_MB, "log.max_file_mb", "64", 1, 65536,
        "log.file is rotated when it passes this size, and at midnight (UTC)"),
    INT(LOG_RETENTION_DAYS, "log.retention_days", "30", 1, 36500,
        "days rotated log files and the bot's reply log in the database are kept"),
    BOOL(LOG_HASH_USER_IDS, "log.hash_user_ids", "false",
         "write user ids in the log as salted hashes (the salt: data.dir/log.salt)"),
    PATH(DATA_DIR, "data.dir", "data", "folder for the database, exports and reports"),
    ROW(STORE_PATH, "store.path", CFG_STR, "data/mimic.db", 0, 0, false,
        "the SQLite database file (default: mimic.db in data.dir)", CFG_F_PATH | CFG_F_IN_DATA_DIR),
    /* discord */
    ROW(DISCORD_TOKEN, "discord.token", CFG_STR, NULL, 0, 0, true,
        "bot token (prefer DISCORD_TOKEN or discord.token_file); refused in a config file that "
        "group or others can read",
        0),
    PATH(DISCORD_TOKEN_FILE, "discord.token_file", "",
         "file holding the bot token; must not be readable by group or others"),
    STR(DISCORD_API, "discord.api", "https://discord.com/api/v10",
        "REST base URL (a Discord-compatible server or a local double)"),
    INT(DISCORD_INTENTS, "discord.intents", "38401", 1, 4194303,
        "gateway intents: "
        "GUILDS|GUILD_MESSAGES|GUILD_MESSAGE_REACTIONS|DIRECT_MESSAGES|MESSAGE_CONTENT"),
    INT(DISCORD_SHARD_ID, "discord.shard_id", "0", 0, 65535, "this process's shard"),
    INT(DISCORD_SHARD_COUNT, "discord.shard_count", "0", 0, 65536,
        "total shards (0 = as GET /gateway/bot recommends)"),
    BOOL(DISCORD_COMPRESS, "discord.compress", "true",
         "use zlib-stream transport compression on the gateway"),
    STR(DISCORD_STATUS, "discord.status", "online",
        "presence status: online, idle, dnd or invisible"),
    STR(DISCORD_ACTIVITY, "discord.activity", "", "presence activity text (empty for none)"),
    IDS(DISCORD_GUILDS, "discord.guilds",
        "comma-separated guild ids to serve and collect (empty = all)"),
    STR(DISCORD_USER_AGENT_URL, "discord.user_agent_url", "https://github.com/mimic-bot/mimic",
        "URL in the User-Agent header"),
    /* bot */
    IDS(BOT_ADMINS, "bot.admins", "comma-separated user ids allowed to use admin commands"),
    STR(BOT_PREFIX, "bot.prefix", "!", "prefix of text commands"),
    NUM(BOT_RESPONSE_RATE, "bot.response_rate", "0.05", 0, 1,
        "chance of answering a message that is not addressed to the bot"),
    NUM(BOT_ACTIVE_BOOST, "bot.active_boost", "4", 1, 100,
        "multiplier on the rate in a conversation the bot is active in"),
    INT(BOT_ACTIVE_WINDOW_S, "bot.active_window_s", "300", 0, 86400,
        "seconds after its last message that the bot counts as active"),
    INT(BOT_COOLDOWN_S, "bot.cooldown_s", "20", 0, 86400,
        "per-channel cooldown between unprompted replies"),
    INT(BOT_USER_FLOOD_PER_MIN, "bot.user_flood_per_min", "6", 0, 1000,
        "most replies to one user per minute"),
    STR(BOT_KEYWORDS, "bot.keywords", "", "comma-separated keywords that trigger a reply"),
    IDS(BOT_CHANNELS, "bot.channels",
        "comma-separated channel ids the bot may speak in (empty = all)"),
    IDS(BOT_ALLOW_BOTS, "bot.allow_bots",
        "comma-separated bot ids the bot may answer (bot-to-bot)"),
    STR(BOT_SYSTEM_PROMPT, "bot.system_prompt",
        "You are a regular on this Discord server. Chat casually, like the others here do.",
        "system prompt"),
    INT(BOT_CONTEXT_MESSAGES, "bot.context_messages", "12", 0, 200,
        "recent channel messages given as context"),
    INT(BOT_MEMORY_TTL_S, "bot.memory_ttl_s", "1800", 0, 604800, "how long channel memory lives"),
    INT(BOT_QUEUE_MAX, "bot.queue_max", "64", 1, 100000,
        "pending generations before random engagements are skipped"),
    INT(BOT_BOT_TURNS_MAX, "bot.bot_turns_max", "3", 0, 1000,
        "replies to other (allowed) bots in a channel before a person must speak again"),
    BOOL(BOT_COMMANDS_SYNC, "bot.commands_sync", "true",
         "register the slash commands at start when they changed"),
    IDS(BOT_COMMANDS_GUILDS, "bot.commands_guilds",
        "comma-separated guild ids to register the slash commands in (empty = globally)"),
    IDS(BOT_GREET_CHANNEL, "bot.greet_channel",
        "channel where new members are welcomed (empty = no welcome; needs the GUILD_MEMBERS "
        "intent)"),
    STR(BOT_GREET_PERSONA, "bot.greet_persona", "",
        "persona who welcomes new members (empty = the bot itself)"),
    /* engine */
    STR(ENGINE_BACKEND, "engine.backend", "local",
        "local (mimic's engine) or openai (an OpenAI-compatible server)"),
    PATH(ENGINE_MODEL, "engine.model", "models/base.gguf", "base GGUF model"),
    PATH(ENGINE_ADAPTER, "engine.adapter", "", "LoRA adapter GGUF applied by default"),
    NUM(ENGINE_ADAPTER_SCALE, "engine.adapter_scale", "1.0", 0, 4, "scale of the default adapter"),
    INT(ENGINE_THREADS, "engine.threads", "0", 0, 1024, "worker threads (0 = one per core)"),
    INT(ENGINE_CTX, "engine.ctx", "4096", 128, 1048576, "context window in tokens"),
    INT(ENGINE_SLOTS, "engine.slots", "8", 1, 256, "KV cache slots (active conversations)"),
    INT(ENGINE_BATCH, "engine.batch", "512", 1, 65536, "prompt tokens evaluated per chunk"),
    STR(ENGINE_KV_TYPE, "engine.kv_type", "f32",
        "KV cache precision: f32 (reference) or f16 (half the memory)"),
    NUM(ENGINE_TEMPERATURE, "engine.temperature", "0.8", 0, 2, "sampling temperature"),
    INT(ENGINE_TOP_K, "engine.top_k", "40", 0, 1000000, "top-k (0 = off)"),
    NUM(ENGINE_TOP_P, "engine.top_p", "0.95", 0, 1, "top-p (1 = off)"),
    NUM(ENGINE_MIN_P, "engine.min_p", "0.05", 0, 1, "min-p (0 = off)"),
    NUM(ENGINE_REPEAT_PENALTY, "engine.repeat_penalty", "1.1", 0, 10,
        "repetition penalty (1 = off)"),
    INT(ENGINE_REPEAT_LAST_N, "engine.repeat_last_n", "64", 0, 100000,
        "tokens the repetition penalty looks back over"),
    INT(ENGINE_MAX_TOKENS, "engine.max_tokens", "160", 1, 100000, "most tokens per reply"),
    STR(ENGINE_OPENAI_URL, "engine.openai_url", "http://127.0.0.1:8080/v1",
        "base URL of the OpenAI-compatible server"),
    STR(ENGINE_OPENAI_MODEL, "engine.openai_model", "",
        "model name sent to the OpenAI-compatible server"),
    PATH(ENGINE_OPENAI_KEY_FILE, "engine.openai_key_file", "",
         "file holding the API key for the OpenAI-compatible server"),
    BOOL(ENGINE_PRELOAD, "engine.preload", "true",
         "load the model when mimic starts (false: on the first request)"),
    INT(ENGINE_IDLE_UNLOAD_S, "engine.idle_unload_s", "0", 0, 31536000,
        "unload the model after this many idle seconds, returning its memory (0 = never); the "
        "next request loads it again"),
    /* collect (prepare) */
    INT(COLLECT_GAP_MIN, "collect.gap_min", "30", 1, 10080,
        "minutes of silence that start a new conversation"),
    INT(COLLECT_WINDOW, "collect.window", "10", 2, 64,
        "most messages per training sample, the reply included"),
    INT(COLLECT_MIN_CONTEXT, "collect.min_context", "2", 0, 63,
        "fewest context messages before a training target"),
    INT(COLLECT_PER_USER_CAP, "collect.per_user_cap", "2000", 0, 100000000,
        "most training targets per person (0 = no cap)"),
    NUM(COLLECT_VALID_FRAC, "collect.valid_frac", "0.05", 0, 0.9,
        "newest fraction of targets held out for validation"),
    BOOL(COLLECT_REQUIRE_CONSENT, "collect.require_consent", "false",
         "train only on people who opted in (mimic privacy opt-in)"),
    INT(COLLECT_FETCH_CONCURRENCY, "collect.fetch_concurrency", "8", 1, 64,
        "channels mimic fetch pages at once (each its own rate-limit bucket)"),
    INT(COLLECT_FETCH_GLOBAL_LIMIT, "collect.fetch_global_limit", "50", 1, 50,
        "requests per second mimic fetch may send of Discord's global 50 (lower it to leave room "
        "for a running bot)"),
    /* embed */
    PATH(EMBED_MODEL, "embed.model", "",
         "sentence encoder GGUF (bge-small-en-v1.5, all-MiniLM) for lore, recall and eval's style "
         "cosine (empty = none: full text only)"),
    /* lore */
    BOOL(LORE_WORLD_INFO, "lore.world_info", "true",
         "add triggered World Info entries to the prompt (per guild: !set)"),
    BOOL(LORE_RETRIEVAL, "lore.retrieval", "true", "add retrieved lore passages to the prompt"),
    BOOL(LORE_RECALL, "lore.recall", "true",
         "add recalled community messages to the prompt as background"),
    NUM(LORE_MIN_SCORE, "lore.min_score", "0.5", -1, 1,
        "lowest cosine a vector match needs to count"),
    INT(LORE_TOP_K, "lore.top_k", "10", 1, 1000, "results of a lore search"),
    INT(LORE_RRF_K, "lore.rrf_k", "60", 1, 10000, "reciprocal rank fusion constant"),
    INT(LORE_BUDGET_TOKENS, "lore.budget_tokens", "512", 0, 100000,
        "most prompt tokens for World Info, lore and recall together"),
    INT(LORE_RECALL_K, "lore.recall_k", "4", 0, 20, "community messages recalled per reply"),
    INT(LORE_SCAN_MESSAGES, "lore.scan_messages", "4", 1, 200,
        "recent messages scanned for World Info keywords"),
    STR(LORE_SCOPES, "lore.scopes", "",
        "comma-separated lore scopes the bot reads besides the global one, the persona's name and "
        "guild:ID"),
    /* persona (speaking as personas in Discord) */
    NUM(PERSONA_RELEVANCE_THRESHOLD, "persona.relevance_threshold", "0.3", 0, 1,
        "cosine similarity above which a message is relevant to a persona"),
    INT(PERSONA_MAX_PER_MESSAGE, "persona.max_per_message", "1", 1, 10,
        "most personas answering one message"),
    BOOL(PERSONA_ANSWER_WEBHOOKS, "persona.answer_webhooks", "false",
         "personas may answer webhooks other than mimic's own"),
    INT(PERSONA_RELEVANCE_CONTEXT, "persona.relevance_context", "3", 0, 20,
        "recent messages embedded with a message for relevance"),
    /* vision (the bot's side: which images are fetched, how big, what is asked about them) */
    BOOL(VISION_ENABLED, "vision.enabled", "true",
         "describe images people post (a store setting for scope guild:ID or channel:ID "
         "overrides it there)"),
    STR(VISION_ALLOWED_HOSTS, "vision.allowed_hosts", "",
        "comma-separated hosts images may come from besides cdn.discordapp.com and "
        "media.discordapp.net"),
    INT(VISION_MAX_BYTES, "vision.max_bytes", "20971520", 1024, 268435456,
        "largest image file fetched, in bytes"),
    INT(VISION_MAX_SIDE, "vision.max_side", "16384", 16, 65535,
        "widest or tallest image decoded, in pixels"),
    INT(VISION_MAX_PIXELS, "vision.max_pixels", "40000000", 256, 1000000000,
        "most pixels (width x height) of an image decoded"),
    INT(VISION_MAX_IMAGES, "vision.max_images", "4", 0, 10, "images described per message"),
    STR(VISION_PROMPT, "vision.prompt",
        "Describe this image in one or two sentences, including any text in it.",
        "what the vision model is asked about each image"),
    INT(VISION_IDLE_UNLOAD_S, "vision.idle_unload_s", "600", 0, 604800,
        "seconds without an image before the vision model is unloaded (0 = keep it loaded)"),
    BOOL(VISION_OPENAI_IMAGES, "vision.openai_images", "false",
         "with engine.backend = openai: send images to the server as image_url parts (a "
         "vision model) instead of describing them locally"),
    PATH(VISION_MODEL, "vision.model", "",
         "the vision-language model's text GGUF (e.g. SmolVLM); empty: images are only named"),
    PATH(VISION_MMPROJ, "vision.mmproj", "", "its mmproj GGUF (vision encoder and projector)"),
    INT(VISION_THREADS, "vision.threads", "0", 0, 1024,
        "threads describing an image (0 = one per core)"),
    /* web.enabled / web.listen come back with the dashboard; nothing serves them yet. */
    /* web: /healthz /readyz /metrics, and the dashboard */
    STR(WEB_LISTEN, "web.listen", "",
        "host:port where `mimic run` serves /healthz, /readyz and /metrics (empty: not served)"),
    ROW(WEB_METRICS_TOKEN, "web.metrics_token", CFG_STR, NULL, 0, 0, true,
        "bearer token /metrics asks of clients beyond loopback (unset: loopback only)", 0),
    STR(DASHBOARD_LISTEN, "dashboard.listen", "127.0.0.1:8377",
        "host:port of `mimic dashboard` (beyond loopback only with --allow-remote and TLS)"),
    BOOL(DASHBOARD_AUTOSTART, "dashboard.autostart", "false",
         "start the bot when the dashboard starts"),
    INT(DASHBOARD_STOP_TIMEOUT_S, "dashboard.stop_timeout_s", "30", 1, 3600,
        "seconds a stopping bot may take to finish its replies before it is killed"),
    PATH(DASHBOARD_TLS_CERT, "dashboard.tls_cert", "", "TLS certificate (PEM) of the dashboard"),
    PATH(DASHBOARD_TLS_KEY, "dashboard.tls_key", "", "TLS private key (PEM) of the dashboard"),
    [CFG__COUNT] = {NULL, CFG_STR, NULL, 0, 0, false, NULL, 0, NULL},
};
_Static_assert(sizeof keys / sizeof keys[0] == CFG__COUNT + 1, "a handle without a row");

const cfg_key *cfg_keys(void) { return keys; }
