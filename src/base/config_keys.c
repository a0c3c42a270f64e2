/* The table of every configuration key, its type, default, range and one line of help. This is the
 * single home of every default; mimic.conf.example and docs/config.md are kept in step with it
 * (tests/base/test_config.c checks that the example names only keys from this table). */
#include <stddef.h>

#include "base/config.h"

#define STR(n, d, h)                                                                               \
  { n, CFG_STR, d, 0, 0, false, h }
#define INT(n, d, lo, hi, h)                                                                       \
  { n, CFG_INT, d, lo, hi, false, h }
#define NUM(n, d, lo, hi, h)                                                                       \
  { n, CFG_NUM, d, lo, hi, false, h }
#define BOOL(n, d, h)                                                                              \
  { n, CFG_BOOL, d, 0, 0, false, h }

static const cfg_key keys[] = {
    /* general */
    STR("log.level", "info", "error, warn, info, debug or trace"),
    STR("log.trace", "",
        "comma-separated subsystems to trace (gateway,rest,engine,bot,...) or all"),
    STR("log.file", "", "also append the log to this file"),
    STR("data.dir", "data", "folder for the database, exports and reports"),
    STR("store.path", "data/mimic.db", "the SQLite database file"),
    /* discord */
    {"discord.token", CFG_STR, NULL, 0, 0, true,
     "bot token (prefer DISCORD_TOKEN or discord.token_file)"},
    STR("discord.token_file", "",
        "file holding the bot token; must not be readable by group or others"),
    STR("discord.api", "https://discord.com/api/v10",
        "REST base URL (a Discord-compatible server or a local double)"),
    INT("discord.intents", "38401", 0, 4194303,
        "gateway intents: "
        "GUILDS|GUILD_MESSAGES|GUILD_MESSAGE_REACTIONS|DIRECT_MESSAGES|MESSAGE_CONTENT"),
    INT("discord.shard_id", "0", 0, 65535, "this process's shard"),
    INT("discord.shard_count", "0", 0, 65536, "total shards (0 = as GET /gateway/bot recommends)"),
    BOOL("discord.compress", "true", "use zlib-stream transport compression on the gateway"),
    STR("discord.status", "online", "presence status: online, idle, dnd or invisible"),
    STR("discord.activity", "", "presence activity text (empty for none)"),
    STR("discord.guilds", "", "comma-separated guild ids to serve and collect (empty = all)"),
    STR("discord.user_agent_url", "https://github.com/mimic-bot/mimic",
        "URL in the User-Agent header"),
    /* bot */
    STR("bot.admins", "", "comma-separated user ids allowed to use admin commands"),
    STR("bot.prefix", "!", "prefix of text commands"),
    NUM("bot.response_rate", "0.05", 0, 1,
        "chance of answering a message that is not addressed to the bot"),
    NUM("bot.active_boost", "4", 1, 100,
        "multiplier on the rate in a conversation the bot is active in"),
    INT("bot.active_window_s", "300", 0, 86400,
        "seconds after its last message that the bot counts as active"),
    INT("bot.cooldown_s", "20", 0, 86400, "per-channel cooldown between unprompted replies"),
    INT("bot.user_flood_per_min", "6", 0, 1000, "most replies to one user per minute"),
    STR("bot.keywords", "", "comma-separated keywords that trigger a reply"),
    STR("bot.channels", "", "comma-separated channel ids the bot may speak in (empty = all)"),
    STR("bot.allow_bots", "", "comma-separated bot ids the bot may answer (bot-to-bot)"),
    STR("bot.system_prompt",
        "You are a regular on this Discord server. Chat casually, like the others here do.",
        "system prompt"),
    INT("bot.context_messages", "12", 0, 200, "recent channel messages given as context"),
    INT("bot.memory_ttl_s", "1800", 0, 604800, "how long channel memory lives"),
    INT("bot.queue_max", "64", 1, 100000,
        "pending generations before random engagements are skipped"),
    INT("bot.bot_turns_max", "3", 0, 1000,
        "replies to other (allowed) bots in a channel before a person must speak again"),
    /* engine */
    STR("engine.backend", "local",
        "local (mimic's engine) or openai (an OpenAI-compatible server)"),
    STR("engine.model", "models/base.gguf", "base GGUF model"),
    STR("engine.adapter", "", "LoRA adapter GGUF applied by default"),
    NUM("engine.adapter_scale", "1.0", 0, 4, "scale of the default adapter"),
    INT("engine.threads", "0", 0, 1024, "worker threads (0 = one per core)"),
    INT("engine.ctx", "4096", 128, 1048576, "context window in tokens"),
    INT("engine.slots", "8", 1, 256, "KV cache slots (active conversations)"),
    INT("engine.batch", "512", 1, 65536, "prompt tokens evaluated per chunk"),
    STR("engine.kv_type", "f32", "KV cache precision: f32 (reference) or f16 (half the memory)"),
    NUM("engine.temperature", "0.8", 0, 2, "sampling temperature"),
    INT("engine.top_k", "40", 0, 1000000, "top-k (0 = off)"),
    NUM("engine.top_p", "0.95", 0, 1, "top-p (1 = off)"),
    NUM("engine.min_p", "0.05", 0, 1, "min-p (0 = off)"),
    NUM("engine.repeat_penalty", "1.1", 0, 10, "repetition penalty (1 = off)"),
    INT("engine.repeat_last_n", "64", 0, 100000, "tokens the repetition penalty looks back over"),
    INT("engine.max_tokens", "160", 1, 100000, "most tokens per reply"),
    STR("engine.openai_url", "http://127.0.0.1:8080/v1",
        "base URL of the OpenAI-compatible server"),
    STR("engine.openai_model", "", "model name sent to the OpenAI-compatible server"),
    STR("engine.openai_key_file", "", "file holding the API key for the OpenAI-compatible server"),
    /* collect (prepare) */
    INT("collect.gap_min", "30", 1, 10080, "minutes of silence that start a new conversation"),
    INT("collect.window", "10", 2, 64, "most messages per training sample, the reply included"),
    INT("collect.min_context", "2", 0, 63, "fewest context messages before a training target"),
    INT("collect.per_user_cap", "2000", 0, 100000000,
        "most training targets per person (0 = no cap)"),
    NUM("collect.valid_frac", "0.05", 0, 0.9, "newest fraction of targets held out for validation"),
    BOOL("collect.require_consent", "false",
         "train only on people who opted in (mimic privacy opt-in)"),
    INT("collect.fetch_concurrency", "8", 1, 64,
        "channels mimic fetch pages at once (each its own rate-limit bucket)"),
    INT("collect.fetch_global_limit", "50", 1, 50,
        "requests per second mimic fetch may send of Discord's global 50 (lower it to leave room "
        "for a running bot)"),
    /* web */
    BOOL("web.enabled", "false", "serve the dashboard, /healthz and /metrics"),
    STR("web.listen", "127.0.0.1:8088", "address:port of the dashboard"),
    {NULL, CFG_STR, NULL, 0, 0, false, NULL},
};

const cfg_key *cfg_keys(void) { return keys; }
