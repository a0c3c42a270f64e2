/* Handles of the configuration keys: one per row of the key table (config_keys.c), in the same
 * order, written by hand next to it. A handle is CFG_ and the key's name in upper case with '.' as
 * '_' (CFG_BOT_RESPONSE_RATE is "bot.response_rate"), so a misspelt key does not compile.
 * tests/base/test_config.c checks that this list and the table agree. To add a key: add its handle
 * here and its row, indexed by the handle, in config_keys.c; document it in mimic.conf.example. */
#ifndef MIMIC_BASE_CONFIG_IDS_H
#define MIMIC_BASE_CONFIG_IDS_H

typedef enum cfg_id {
  CFG_LOG_LEVEL, /* log.level */
  CFG_LOG_TRACE, /* log.trace */
  CFG_LOG_FILE,  /* log.file */

  CFG_LOG_MAX_FILE_MB,    /* log.max_file_mb */
  CFG_LOG_RETENTION_DAYS, /* log.retention_days */
  CFG_LOG_HASH_USER_IDS,  /* log.hash_user_ids */

  CFG_DATA_DIR, /* data.dir */

  CFG_STORE_PATH, /* store.path */

  CFG_DISCORD_TOKEN,          /* discord.token */
  CFG_DISCORD_TOKEN_FILE,     /* discord.token_file */
  CFG_DISCORD_API,            /* discord.api */
  CFG_DISCORD_INTENTS,        /* discord.intents */
  CFG_DISCORD_SHARD_ID,       /* discord.shard_id */
  CFG_DISCORD_SHARD_COUNT,    /* discord.shard_count */
  CFG_DISCORD_COMPRESS,       /* discord.compress */
  CFG_DISCORD_STATUS,         /* discord.status */
  CFG_DISCORD_ACTIVITY,       /* discord.activity */
  CFG_DISCORD_GUILDS,         /* discord.guilds */
  CFG_DISCORD_USER_AGENT_URL, /* discord.user_agent_url */

  CFG_BOT_ADMINS,             /* bot.admins */
  CFG_BOT_PREFIX,             /* bot.prefix */
  CFG_BOT_RESPONSE_RATE,      /* bot.response_rate */
  CFG_BOT_ACTIVE_BOOST,       /* bot.active_boost */
  CFG_BOT_ACTIVE_WINDOW_S,    /* bot.active_window_s */
  CFG_BOT_COOLDOWN_S,         /* bot.cooldown_s */
  CFG_BOT_USER_FLOOD_PER_MIN, /* bot.user_flood_per_min */
  CFG_BOT_KEYWORDS,           /* bot.keywords */
  CFG_BOT_CHANNELS,           /* bot.channels */
  CFG_BOT_ALLOW_BOTS,         /* bot.allow_bots */
  CFG_BOT_SYSTEM_PROMPT,      /* bot.system_prompt */
  CFG_BOT_CONTEXT_MESSAGES,   /* bot.context_messages */
  CFG_BOT_MEMORY_TTL_S,       /* bot.memory_ttl_s */
  CFG_BOT_QUEUE_MAX,          /* bot.queue_max */
  CFG_BOT_BOT_TURNS_MAX,      /* bot.bot_turns_max */
  CFG_BOT_COMMANDS_SYNC,      /* bot.commands_sync */
  CFG_BOT_COMMANDS_GUILDS,    /* bot.commands_guilds */
  CFG_BOT_GREET_CHANNEL,      /* bot.greet_channel */
  CFG_BOT_GREET_PERSONA,      /* bot.greet_persona */

  CFG_ENGINE_BACKEND,         /* engine.backend */
  CFG_ENGINE_MODEL,           /* engine.model */
  CFG_ENGINE_ADAPTER,         /* engine.adapter */
  CFG_ENGINE_ADAPTER_SCALE,   /* engine.adapter_scale */
  CFG_ENGINE_THREADS,         /* engine.threads */
  CFG_ENGINE_CTX,             /* engine.ctx */
  CFG_ENGINE_SLOTS,           /* engine.slots */
  CFG_ENGINE_BATCH,           /* engine.batch */
  CFG_ENGINE_KV_TYPE,         /* engine.kv_type */
  CFG_ENGINE_TEMPERATURE,     /* engine.temperature */
  CFG_ENGINE_TOP_K,           /* engine.top_k */
  CFG_ENGINE_TOP_P,           /* engine.top_p */
  CFG_ENGINE_MIN_P,           /* engine.min_p */
  CFG_ENGINE_REPEAT_PENALTY,  /* engine.repeat_penalty */
  CFG_ENGINE_REPEAT_LAST_N,   /* engine.repeat_last_n */
  CFG_ENGINE_MAX_TOKENS,      /* engine.max_tokens */
  CFG_ENGINE_OPENAI_URL,      /* engine.openai_url */
  CFG_ENGINE_OPENAI_MODEL,    /* engine.openai_model */
  CFG_ENGINE_OPENAI_KEY_FILE, /* engine.openai_key_file */
  CFG_ENGINE_PRELOAD,         /* engine.preload */
  CFG_ENGINE_IDLE_UNLOAD_S,   /* engine.idle_unload_s */

  CFG_COLLECT_GAP_MIN,            /* collect.gap_min */
  CFG_COLLECT_WINDOW,             /* collect.window */
  CFG_COLLECT_MIN_CONTEXT,        /* collect.min_context */
  CFG_COLLECT_PER_USER_CAP,       /* collect.per_user_cap */
  CFG_COLLECT_VALID_FRAC,         /* collect.valid_frac */
  CFG_COLLECT_REQUIRE_CONSENT,    /* collect.require_consent */
  CFG_COLLECT_FETCH_CONCURRENCY,  /* collect.fetch_concurrency */
  CFG_COLLECT_FETCH_GLOBAL_LIMIT, /* collect.fetch_global_limit */

  CFG_EMBED_MODEL, /* embed.model */

  CFG_LORE_WORLD_INFO,             /* lore.world_info */
  CFG_LORE_RETRIEVAL,              /* lore.retrieval */
  CFG_LORE_RECALL,                 /* lore.recall */
  CFG_LORE_MIN_SCORE,              /* lore.min_score */
  CFG_LORE_TOP_K,                  /* lore.top_k */
  CFG_LORE_RRF_K,                  /* lore.rrf_k */
  CFG_LORE_BUDGET_TOKENS,          /* lore.budget_tokens */
  CFG_LORE_RECALL_K,               /* lore.recall_k */
  CFG_LORE_SCAN_MESSAGES,          /* lore.scan_messages */
  CFG_LORE_SCOPES,                 /* lore.scopes */
  CFG_PERSONA_RELEVANCE_THRESHOLD, /* persona.relevance_threshold */
  CFG_PERSONA_MAX_PER_MESSAGE,     /* persona.max_per_message */
  CFG_PERSONA_ANSWER_WEBHOOKS,     /* persona.answer_webhooks */
  CFG_PERSONA_RELEVANCE_CONTEXT,   /* persona.relevance_context */
  CFG_VISION_ENABLED,              /* vision.enabled */
  CFG_VISION_ALLOWED_HOSTS,        /* vision.allowed_hosts */
  CFG_VISION_MAX_BYTES,            /* vision.max_bytes */
  CFG_VISION_MAX_SIDE,             /* vision.max_side */
  CFG_VISION_MAX_PIXELS,           /* vision.max_pixels */
  CFG_VISION_MAX_IMAGES,           /* vision.max_images */
  CFG_VISION_PROMPT,               /* vision.prompt */
  CFG_VISION_IDLE_UNLOAD_S,        /* vision.idle_unload_s */
  CFG_VISION_OPENAI_IMAGES,        /* vision.openai_images */
  CFG_VISION_MODEL,                /* vision.model */
  CFG_VISION_MMPROJ,               /* vision.mmproj */
  CFG_VISION_THREADS,              /* vision.threads */
  CFG_VISION_LOW_DETAIL,           /* vision.low_detail */
  CFG_WEB_LISTEN,                  /* web.listen */
  CFG_WEB_METRICS_TOKEN,           /* web.metrics_token */
  CFG_DASHBOARD_LISTEN,            /* dashboard.listen */
  CFG_DASHBOARD_AUTOSTART,         /* dashboard.autostart */
  CFG_DASHBOARD_STOP_TIMEOUT_S,    /* dashboard.stop_timeout_s */
  CFG_DASHBOARD_TLS_CERT,          /* dashboard.tls_cert */
  CFG_DASHBOARD_TLS_KEY,           /* dashboard.tls_key */
  CFG_PROACTIVE_ENABLED,           /* proactive.enabled */
  CFG_PROACTIVE_JOBS,              /* proactive.jobs */
  CFG_PROACTIVE_CHANNELS,          /* proactive.channels */
  CFG_PROACTIVE_QUIET_HOURS,       /* proactive.quiet_hours */
  CFG_PROACTIVE_DAILY_CAP,         /* proactive.daily_cap */
  CFG_PROACTIVE_ACTIVE_WINDOW_MIN, /* proactive.active_window_min */
  CFG_PROACTIVE_TZ,                /* proactive.tz */
  CFG_GAMES_TRIVIA_BANK,           /* games.trivia_bank */
  CFG_GAMES_RIDDLE_BANK,           /* games.riddle_bank */
  CFG_GAMES_ANSWER_S,              /* games.answer_s */
  CFG_GAMES_ROUNDS,                /* games.rounds */
  CFG_GAMES_POINTS,                /* games.points */
  CFG_GAMES_STORY_VOTE_S,          /* games.story_vote_s */
  CFG_GAMES_STORY_ROUNDS,          /* games.story_rounds */

  CFG__COUNT /* number of keys, not a key */
} cfg_id;

#endif
