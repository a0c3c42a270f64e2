/* The default gateway intents: named flags in discord.h, the same number in the config table. */
#include "base/base.h"
#include "discord/discord.h"
#include "test.h"

TEST(default_intents_are_the_named_flags) {
  /* GUILDS 1 + GUILD_MESSAGES 512 + GUILD_MESSAGE_REACTIONS 1024 + DIRECT_MESSAGES 4096 +
   * MESSAGE_CONTENT 32768. */
  CHECK_INT(DISCORD_INTENTS_DEFAULT, 38401);
  CHECK(DISCORD_INTENTS_DEFAULT & DISCORD_INTENT_GUILD_MESSAGE_REACTIONS);
}

TEST(config_default_matches_the_discord_layer) {
  cfg *c = cfg_new();
  CHECK_INT(cfg_int(c, CFG_DISCORD_INTENTS), DISCORD_INTENTS_DEFAULT);
  CHECK_INT(cfg_source_of(c, CFG_DISCORD_INTENTS), CFG_SRC_DEFAULT);
  cfg_destroy(c);
}

int main(void) {
  RUN(default_intents_are_the_named_flags);
  RUN(config_default_matches_the_discord_layer);
  TEST_MAIN_END();
}
