/* The CDN allow-list (discord/cdn.h): which image URLs may be fetched, checked without a network.
 * The fetches themselves are tested against the CDN double in tests/bot/test_bot_vision.c. */
#include "base/base.h"
#include "discord/cdn.h"
#include "test.h"

static void ok(const char *url, const char *allowed) {
  if (discord_cdn_url_check(url, allowed) != 0) TEST_FAIL_("%s refused: %s", url, err_msg());
}

static void refused(const char *url, const char *allowed, const char *why) {
  int rc = discord_cdn_url_check(url, allowed);
  if (rc != MIMIC_EINVAL)
    TEST_FAIL_("%s: %d, not refused", url, rc);
  else if (!strstr(err_msg(), why))
    TEST_FAIL_("%s: \"%s\" lacks \"%s\"", url, err_msg(), why);
  /* the signed query never appears in the message */
  if (strstr(err_msg(), "ex=")) TEST_FAIL_("%s: the query leaked into \"%s\"", url, err_msg());
}

TEST(discord_hosts_over_https) {
  ok("https://cdn.discordapp.com/attachments/1/2/a.png?ex=65&is=66&hm=ab", NULL);
  ok("https://media.discordapp.net/attachments/1/2/a.png?width=100", "");
  ok("https://CDN.DiscordApp.com/attachments/1/2/a.png", NULL);
  ok("https://cdn.discordapp.com:443/attachments/1/2/a.png", NULL);
  ok("https://images.example.org/x.png", "cdn.example.net, images.example.org");
  ok("http://localhost:8080/a.png", "localhost");
}

TEST(everything_else_is_refused) {
  refused("http://cdn.discordapp.com/a.png?ex=1", NULL, "not https");
  refused("ftp://cdn.discordapp.com/a.png", NULL, "not https");
  refused("https://cdn.discordapp.com:8443/a.png", NULL, "port");
  refused("https://evil.com/a.png?ex=1", NULL, "not Discord's CDN");
  refused("https://cdn.discordapp.com.evil.com/a.png", NULL, "not Discord's CDN");
  refused("https://evilcdn.discordapp.com/a.png", NULL, "not Discord's CDN");
  refused("https://cdn.discordapp.com./a.png", NULL, "not Discord's CDN");
  refused("https://user:pw@cdn.discordapp.com/a.png", NULL, "user name");
  refused("https://127.0.0.1/a.png", "127.0.0.1", "IP address");
  refused("https://2130706433/a.png", "2130706433", "IP address");
  refused("https://0x7f.1/a.png", "0x7f.1", "IP address");
  refused("https://[::1]/a.png", "[::1]", "IP address");
  refused("https://169.254.169.254/latest/meta-data", NULL, "IP address");
  refused("http://localhost/a.png", NULL, "not Discord's CDN");
  refused("http://images.example.org/x.png", "images.example.org", "not https");
  refused("/relative/a.png", NULL, "valid absolute URL");
  refused("", NULL, "empty");
}

TEST(fetch_refuses_before_any_connection) {
  discord_cdn_file f;
  CHECK_INT(discord_cdn_fetch(NULL, "https://evil.com/a.png", &f), MIMIC_EINVAL);
  CHECK(f.data == NULL && f.n == 0);
  discord_cdn_file_free(&f);
}

int main(void) {
  RUN(discord_hosts_over_https);
  RUN(everything_else_is_refused);
  RUN(fetch_refuses_before_any_connection);
  TEST_MAIN_END();
}
