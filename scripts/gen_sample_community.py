#!/usr/bin/env python3
"""Generates demo/sample-community/: a small invented Discord server ("The Cozy Crater") exported in
DiscordChatExporter's JSON format, one file per channel as DCE writes a guild export (DCE names them
"Guild - Category - channel [id].json"; these are named cozy-crater-<channel>.json so shells need no
quoting). Fields older exports lack (roles, avatarUrl, callEndedTimestamp, inlineEmojis) are left
out to keep the files small; the importer tolerates their absence. Everything here
was written for mimic: seven regulars with recognisable voices, a lurker, two bots, a webhook and a
few system messages. Deterministic: the same seed gives the same bytes.

    python3 scripts/gen_sample_community.py [--seed 7] [--out demo/sample-community]
"""
import argparse
import datetime as dt
import json
import os
import random

GUILD = {"id": "1111111111111111111", "name": "The Cozy Crater", "iconUrl": ""}
CHANNELS = {
    "general": ("1111111111111111201", "hang out, say hi"),
    "gaming": ("1111111111111111202", "raids, patches, ranked pain"),
    "memes": ("1111111111111111203", "post the goose"),
    "off-topic": ("1111111111111111204", "food, pets, life"),
}
CATEGORY = ("1111111111111111200", "Text Channels")
DISCORD_EPOCH_MS = 1420070400000

# ---- people ----------------------------------------------------------------------------------------
# key: (user id, username, nickname, colour, weight in conversations)
PEOPLE = {
    "owl":    ("2222222222222222301", "nightowl.exe", "owl", "#5865F2", 1.3),
    "dex":    ("2222222222222222302", "dexhype", "DEX", "#ED4245", 1.0),
    "mochi":  ("2222222222222222303", "mochimochi", "mochi", "#EB459E", 1.1),
    "quill":  ("2222222222222222304", "prof.quill", "Professor Quill", "#57F287", 0.8),
    "k":      ("2222222222222222305", "kestrel", "k", "#99AAB5", 0.9),
    "benny":  ("2222222222222222306", "tyop_king", "Benny", "#FEE75C", 1.0),
    "jaylen": ("2222222222222222307", "jaylen.w", "jay", "#E67E22", 1.2),
    "sam":    ("2222222222222222308", "sam_lurks", "sam", "#95A5A6", 0.15),
}
BOTS = {
    "raidbot": ("3333333333333333401", "RaidBot", "RaidBot", "1234"),
    "levels":  ("3333333333333333402", "LevelUp", "LevelUp", "4242"),
}
WEBHOOK = ("3333333333333333403", "Patch Notes", "Patch Notes", "0000")
NEWCOMERS = [("2222222222222222390", "pixelpanda", "panda"), ("2222222222222222391", "rustyspoon", "rusty"),
             ("2222222222222222392", "lune.moth", "lune")]

CUSTOM_EMOJI = {"kekw": "4444444444444444501", "pog": "4444444444444444502", "goose": "4444444444444444503"}

# ---- what they say -----------------------------------------------------------------------------------
# A line starting with '*' is one of the funny ones (it draws reactions). {p} is another person in the
# conversation (rendered "@Name", as DCE renders mentions with markdown on).

GENERIC = {
    "owl": ["lol", "same", "wait what", "yeah fair", "im so tired but i cant sleep", "brb getting water",
            "ok that actually makes sense", "nah", "true", "lmao", "anyone else lagging or just me",
            "i should be asleep", "idk man", "sounds good to me", "hold on my cat is on the keyboard",
            "*my sleep schedule is a myth at this point", "gg", "back", "rip", "wait really"],
    "dex": ["LETS GOOOO", "W", "HUGE W", "NO WAY", "THIS IS THE BEST DAY OF MY LIFE", "HAHAHAHA",
            "I'M SCREAMING", "BRO", "W W W", "ABSOLUTELY NOT", "WE ARE SO BACK", "LETSGOOOOOO 🔥🔥",
            "*I JUST READ THAT OUT LOUD IN THE LIBRARY", "HYPE HYPE HYPE", "BIG IF TRUE", "NOOOOO",
            "YESSSS", "GOATED", "I'M IN", "*SOMEONE HOLD ME BACK"],
    "mochi": ["omg 🥺", "nooo 😭😭", "hehe ✨", "yesss 💖", "that's so cute 🥹",
              "i'm crying 😭💀", "love that for you 💕", "sleepy 😴", "hiii 👋✨", "aaaa 🥺👉👈",
              "*me pretending to understand the conversation 🧍‍♀️", "ok but why is this so real 😭",
              "sending hugs 🫂💗", "yay!! 🎉", "wait that's adorable 🐱", "🥺🥺🥺", "lmaooo 😂", "same tbh 😅",
              "stay hydrated besties 💧✨"],
    "quill": ["Fair point.", "I would argue the opposite, actually.", "That is a reasonable assumption.",
              "Interesting. Do you have a source for that?", "I suspect the answer is more boring than we think.",
              "I stand corrected.", "Noted; I will keep that in mind.",
              "That depends entirely on how you define 'good', which is the real question here.",
              "*For the record, I was right about this three weeks ago and I have the screenshots.",
              "Respectfully, no.", "I have thoughts, but they would not fit in a Discord message.",
              "Indeed.", "Let me check my notes.", "Correct, with one small caveat."],
    "k": ["ok", "no", "true", "lol", "mid", "yes", "same", "k", "nah", "fair", "based", "sure", "what",
          "nope", "gg", "real", "*no.", "ok.", "hm", "rip"],
    "benny": ["waht", "i thnik so", "lol yea", "sry typo", "wiat what happened", "brb", "hahah",
              "*i typed that so fast my keybaord is smoking", "yea same", "idk tbh", "thats soo true",
              "ok im back", "didnt see that srry", "lmaoo", "hwo did that happen", "nice one",
              "ok ok ok", "wiat", "i agree with {p}", "omg yes"],
    "jaylen": ["bruh", "fr", "fr fr", "ngl thats lowkey fire", "nah cause why", "bro what 💀", "ong",
               "lowkey yeah", "no cap", "bruh moment", "ngl i felt that", "deadass", "that's crazy",
               "*bro really said that with his whole chest", "nah thats wild", "fr tho",
               "ngl kinda mid", "it's giving", "respectfully bruh", "say less"],
    "sam": ["hi", "lurking as usual", "oh that's cool", "haha", "agreed", "o/"],
}

# Topics: channel, who tends to open, then per-person lines (the first one or two suit an opener).
TOPICS = [
    ("gaming", "raid", {
        "owl": ["anyone up for raid tonight {time}", "i can tank if nobody else wants to", "bring pots this time pls",
                "last raid we wiped like {n} times on the bridge", "*never trust the bridge", "im on in {n}"],
        "dex": ["RAID NIGHT LETS GOOOO", "I'M BRINGING THE SNACKS AND THE ENERGY", "WE CLEAR IT TONIGHT I CAN FEEL IT",
                "*IF WE WIPE ON THE BRIDGE AGAIN I'M UNINSTALLING (I WILL NOT UNINSTALL)"],
        "mochi": ["i'll heal!! 💚✨", "pls don't let me die first again 😭", "bringing cookies for everyone 🍪🍪",
                  "*i will stand in the fire and i will be happy about it 🔥😌"],
        "quill": ["I have prepared a short document on the bridge mechanics; please read it before we start.",
                  "The bridge collapses on a fixed timer, so we simply need to move after the second roar.",
                  "*The document is eleven pages. It is short by my standards."],
        "k": ["in", "late 20 min", "bridge again?", "ok"],
        "benny": ["im in!! waht time", "wiat is it 8 or 9", "i forgot my pots agian", "*i fell off the bridge in the loading screen somehow"],
        "jaylen": ["bet im in", "bruh not the bridge again", "ngl we got this tonight", "fr if quill reads the doc out loud im leaving"],
    }),
    ("gaming", "patch", {
        "owl": ["{game} patch notes are out", "they nerfed my main into the ground", "lowkey the new map is kinda good tho",
                "why do they always touch the one thing that wasnt broken"],
        "dex": ["NEW PATCH NEW ME", "THEY BUFFED HAMMERS. HAMMERS. WE ARE SO BACK", "I'M READING THE NOTES LIKE IT'S A LOVE LETTER"],
        "mochi": ["did they fix the pet bug 🥺🐾", "new skins are so pretty ✨💜", "my little guy got a hat now 🎩🥹"],
        "quill": ["The notes omit a change to armour scaling; I measured a 4% difference on the training dummy.",
                  "Balance patches are a moving average of complaints, nothing more.",
                  "*I have started a spreadsheet. Nobody asked. It has tabs."],
        "k": ["mid patch", "nerf was deserved", "still broken", "read it"],
        "benny": ["wiat they nerfed waht", "my build is ruined lol", "i didnt even read teh notes yet"],
        "jaylen": ["bruh they nerfed the only thing i was good at", "ngl the hammer buff is disgusting", "nah cause who asked for this"],
    }),
    ("gaming", "ranked", {
        "owl": ["just hit diamond finally", "lost {n} in a row im done for today", "solo queue is a social experiment",
                "my teammate went afk at 2 minutes", "*i think the matchmaking hates me personally"],
        "dex": ["DIAMOND???? CONGRATS {p} HUGE", "ONE MORE GAME. ONE MORE. (IT WAS NOT ONE MORE)",
                "I CARRIED SO HARD MY ARMS HURT"],
        "mochi": ["proud of you!! 🏆✨", "ranked makes me so nervous 😰", "i only play ranked with friends 🫶"],
        "quill": ["Win rates regress to the mean; five losses in a row is statistically unremarkable.",
                  "I recommend a break after three consecutive losses. The data supports it."],
        "k": ["gg", "skill issue", "uninstall", "congrats"],
        "benny": ["congrast!!", "i got demoted lol", "hwo are you all so good", "i queued for the wrong mode agian"],
        "jaylen": ["bruh diamond?? ok sweat", "ngl im hardstuck gold and im at peace with it", "ranked is not a game its a lifestyle fr"],
    }),
    ("memes", "goose", {
        "owl": ["the goose is back", "who posted the goose at 3am", "*the goose has seen things"],
        "dex": ["GOOSE SUPREMACY", "HONK HONK HONK", "*THE 3AM GOOSE IS OUR MASCOT NOW AND I WILL NOT BE TAKING QUESTIONS"],
        "mochi": ["the goose is kinda cute tho 🦢🥺", "honk 🦢✨", "protect the goose at all costs 🦢💖"],
        "quill": ["For newcomers: the goose is a long-running joke that started when Benny posted a goose at 3 a.m. with no context.",
                  "*I have a theory that the goose is a metaphor. I will not be elaborating."],
        "k": ["honk", "goose", "again?", "*honk."],
        "benny": ["i regret nothing", "*in my defence teh goose was looking at me", "the goose was an accident i swear"],
        "jaylen": ["bruh the goose", "nah the goose is undefeated", "fr the goose runs this server"],
    }),
    ("memes", "meme_dump", {
        "owl": ["meme dump incoming", "this one is so me", "who made this lmao"],
        "dex": ["I'M CRYING REAL TEARS", "THIS IS THE FUNNIEST THING I'VE EVER SEEN", "SEND IT TO THE GROUP CHAT"],
        "mochi": ["the cat one 😭😭😭", "saving this forever 💾✨", "i'm wheezing 😂💀"],
        "quill": ["I understood the reference, and I am not proud of it.", "This meme is, structurally, a three-act play."],
        "k": ["lol", "old", "seen it", "ok that one's good"],
        "benny": ["i dont get it", "OH wait i get it now lmao", "sending this to my mom"],
        "jaylen": ["bro this is literally me", "ngl this one got me", "nah whoever made this needs a raise 💀"],
    }),
    ("off-topic", "food", {
        "owl": ["made {food} at 2am again", "is cereal a soup", "im too lazy to cook so i just ate cheese"],
        "dex": ["PINEAPPLE ON PIZZA IS ELITE AND I WILL DIE ON THIS HILL", "I MADE {FOOD} AND IT WAS PERFECT",
                "*WHO TOLD YOU TO PUT KETCHUP ON THAT"],
        "mochi": ["baked cookies today 🍪✨", "strawberry milk is the best drink 🍓🥛", "i want {food} so bad 🥺"],
        "quill": ["Cereal is not a soup; a soup requires the liquid to be an integral part of the preparation.",
                  "I made a risotto this evening. It took forty minutes of stirring and it was worth every one.",
                  "*The pineapple debate has been settled by science, and I refuse to say which way."],
        "k": ["pizza", "cereal is soup", "no pineapple", "hungry"],
        "benny": ["i burned teh pasta somehow", "waht is the best {food} place near you", "i ate a whole bag of chips for dinner lol"],
        "jaylen": ["nah pineapple on pizza is crazy", "bruh cereal is NOT a soup", "ngl {food} at 1am hits different"],
    }),
    ("off-topic", "pets", {
        "owl": ["my cat knocked my headset off the desk mid game", "cat tax", "he just sits on my keyboard and stares"],
        "dex": ["PET TAX PET TAX", "YOUR CAT IS A CERTIFIED LEGEND", "I WANT A DOG SO BAD"],
        "mochi": ["my bunny did a binky today 🐰💖", "look at his little face 🥺🐶", "pets are the best thing ever 🐾✨"],
        "quill": ["My tortoise, Archimedes, is sixty-two years old and disapproves of everyone.",
                  "*Archimedes has outlived two of my laptops and one marriage."],
        "k": ["cute", "cat", "good dog", "10/10"],
        "benny": ["my dog ate my charger agian", "look at hmi", "he is so dumb and i love him"],
        "jaylen": ["bro your cat is built different", "ngl i'd die for that dog", "nah that cat is plotting something fr"],
    }),
    ("general", "morning", {
        "owl": ["gm i guess", "did not sleep", "morning", "coffee first then words"],
        "dex": ["GOOD MORNING CRATER", "RISE AND GRIND", "IT'S A BEAUTIFUL DAY TO BE LOUD"],
        "mochi": ["good morning everyone ☀️🌸", "morning!! have a good day 💕", "gm gm ✨☕"],
        "quill": ["Good morning. I trust everyone slept adequately.", "Morning. The weather is, once again, disappointing."],
        "k": ["gm", "morning", "no"],
        "benny": ["gm!!", "goood morning", "i overslept agian lol"],
        "jaylen": ["gm yall", "morning ngl i need coffee", "bruh its too early"],
    }),
    ("general", "weekend", {
        "owl": ["any plans this weekend", "im gonna do absolutely nothing and it will be great", "might finally finish that game"],
        "dex": ["WEEKEND!!!!!", "MOVIE NIGHT SATURDAY WHO'S IN", "I'M GOING TO THE CONCERT AAAAA"],
        "mochi": ["cozy weekend with tea and a book 📚🍵", "going to the park with my sister 🌳☀️", "movie night yes pls 🍿✨"],
        "quill": ["I intend to reorganise my bookshelf by publication date, then by regret.",
                  "A quiet weekend is an underrated luxury."],
        "k": ["sleep", "nothing", "in", "work"],
        "benny": ["i have to help my uncle move lol", "waht movie", "im in for movie night"],
        "jaylen": ["bruh i got work all weekend", "ngl movie night sounds fire", "im finna sleep till noon fr"],
    }),
    ("general", "school", {
        "owl": ["{subject} exam tomorrow and i have studied zero hours", "why do they put two exams on the same day",
                "*my study method is panic"],
        "dex": ["YOU GOT THIS", "I BELIEVE IN YOU MORE THAN I BELIEVE IN MYSELF", "PASSED MY EXAM LETS GOOOO"],
        "mochi": ["good luck!! you'll do great 📚💪✨", "study break? 🥺🍵", "i made flashcards if anyone wants 📝💕"],
        "quill": ["Spaced repetition, a good night's sleep, and water. In that order.",
                  "I once wrote a thirty-page essay on semicolons; I regret nothing.",
                  "*Panic is not a study method, though I admit it has a strong track record."],
        "k": ["good luck", "study", "same", "rip"],
        "benny": ["i failed my {subject} quiz lol", "waht is a semicolon for anyway", "i studied teh wrong chapter"],
        "jaylen": ["bruh the {subject} exam was actually crazy", "ngl i winged it", "fr who designed this syllabus"],
    }),
    ("general", "music", {
        "owl": ["what are yall listening to rn", "lofi and rain sounds every night", "{band} album is on repeat"],
        "dex": ["THIS SONG GOES SO HARD", "TURN IT UP", "CONCERT WAS INSANE I LOST MY VOICE"],
        "mochi": ["this song makes me so happy 🎶💖", "adding to my playlist ✨🎧", "it's giving main character 🌸🎵"],
        "quill": ["I have been listening to baroque harpsichord exclusively, for reasons I cannot explain.",
                  "Music taste is a personality test that nobody agreed to take."],
        "k": ["mid", "good song", "skip", "banger"],
        "benny": ["is this {band}", "i only listen to video game ost", "this slaps"],
        "jaylen": ["ngl this goes hard", "bro put me on", "nah this beat is crazy fr"],
    }),
    ("general", "toaster", {
        "owl": ["benny tell them about the toaster", "*the toaster incident changed all of us"],
        "dex": ["THE TOASTER INCIDENT IS LEGENDARY", "NEVER FORGET THE TOASTER"],
        "mochi": ["rip toaster 🍞😔", "the toaster did nothing wrong 😭"],
        "quill": ["For the archive: the toaster incident involved a bagel, a fork, and a fire alarm at 4 a.m.",
                  "*The toaster has since been replaced. The fork has not been seen again."],
        "k": ["toaster", "rip toaster", "never again"],
        "benny": ["i dont want to talk about the toaster", "in my defence the bagel was stuck", "*ok the fork was a bad idea"],
        "jaylen": ["bro nearly burned the house down for a bagel", "nah the toaster story gets better every time fr"],
    }),
    ("gaming", "new_game", {
        "owl": ["anyone tried {game} yet", "i played it for {n} hours straight oops", "the boss fight in chapter {n} is rigged"],
        "dex": ["THIS GAME IS A MASTERPIECE", "I BEAT THE FINAL BOSS AAAAAA", "BUY IT. BUY IT NOW."],
        "mochi": ["it's so cozy 🥺🌿", "i named my farm after the goose 🦢✨", "the music is so pretty 🎶"],
        "quill": ["The game is competent, though the third act leans heavily on a mechanic it never explains.",
                  "I have written a guide. It is on page four of the forum, where guides go to die."],
        "k": ["good", "refunded", "mid", "playing it"],
        "benny": ["is {game} on sale", "i got stuck on teh tutorial lol", "waht class should i pick"],
        "jaylen": ["ngl {game} is fire", "bruh the final boss is unfair", "fr best game this year"],
    }),
    ("general", "late_night", {
        "owl": ["its 3am why is everyone awake", "cant sleep again", "the night shift is here", "*3am is when the real ones come online"],
        "dex": ["WHY AM I AWAKE", "3AM CRATER GANG", "I HAVE WORK IN 5 HOURS HAHAHA"],
        "mochi": ["go to sleep everyone 😴💤", "i should sleep but 🥺", "night owls unite 🦉🌙"],
        "quill": ["I am awake for legitimate reasons; the rest of you have no excuse.",
                  "Sleep is a biological necessity, which I say while typing this at 3 a.m."],
        "k": ["sleep", "awake", "same"],
        "benny": ["i just woke up lol waht day is it", "cant sleep", "why is teh goose here"],
        "jaylen": ["bruh its 3am", "ngl 3am thoughts hit different", "nah im going to bed fr (i am not)"],
    }),
    ("general", "movies", {
        "owl": ["anyone seen the new space movie", "the ending made no sense but i loved it", "watched it at 1am no regrets"],
        "dex": ["BEST MOVIE OF THE YEAR NO CONTEST", "THE SOUNDTRACK!!!! THE SOUNDTRACK", "I CLAPPED IN THE THEATRE AND I'M NOT SORRY"],
        "mochi": ["i cried three times 😭🎬", "the little robot was so cute 🤖💖", "popcorn date anyone? 🍿✨"],
        "quill": ["The film is beautiful, but its physics would make a first-year student weep.",
                  "I counted four plot holes in the first act alone; I enjoyed it regardless.",
                  "*I brought a notebook to the cinema. The usher asked me to stop sighing."],
        "k": ["seen it", "mid", "good", "spoilers"],
        "benny": ["no spolers pls", "i fell asleep halfway lol", "waht was the twist"],
        "jaylen": ["bruh that twist", "ngl the robot carried", "nah the sequel better be good fr"],
    }),
    ("off-topic", "weather", {
        "owl": ["its raining again", "my power went out for like an hour", "perfect weather to stay inside"],
        "dex": ["IT'S SNOWING!!!!!", "SUN IS OUT GUNS OUT", "THUNDERSTORM HYPE"],
        "mochi": ["cozy rain day 🌧️☕", "it's so sunny today ☀️🌼", "snow!!! ❄️⛄✨"],
        "quill": ["The forecast promised sun. The forecast has, once again, lied.",
                  "Rain is simply the sky's way of suggesting a good book."],
        "k": ["cold", "rain", "hot", "same"],
        "benny": ["i got soaked on teh way home", "its so hot my phone is overheating", "is it snowing there too"],
        "jaylen": ["bruh its freezing", "ngl i love thunderstorms", "nah this heat is not it"],
    }),
    ("off-topic", "work", {
        "owl": ["work was so long today", "my boss scheduled a meeting about meetings", "finally friday"],
        "dex": ["GOT THE JOB!!!!!!", "PROMOTION LETS GOOOO", "SURVIVED MONDAY BARELY"],
        "mochi": ["congrats!! so proud 🥳💖", "you deserve a break 🫂✨", "treat yourself today 🍰"],
        "quill": ["Congratulations; I always said your cover letters were unusually persuasive.",
                  "*A meeting about meetings is the purest form of bureaucracy, and I almost admire it."],
        "k": ["congrats", "rip", "friday", "same"],
        "benny": ["i sent the email to the wrong person agian", "congrast!!", "my shift got moved lol"],
        "jaylen": ["bruh my manager is wild", "ngl congrats thats huge", "fr work is a scam"],
    }),
]

GENERIC_SKIP = set()

GAMER_OPENERS = {"raid": ["owl", "dex", "jaylen"], "patch": ["owl", "quill"], "ranked": ["owl", "jaylen"],
                 "goose": ["owl", "benny"], "meme_dump": ["owl", "jaylen"], "food": ["dex", "owl"],
                 "pets": ["mochi", "owl"], "morning": ["mochi", "dex"], "weekend": ["owl", "dex"],
                 "school": ["owl"], "music": ["owl", "mochi"], "toaster": ["owl"], "new_game": ["owl", "dex"],
                 "late_night": ["owl", "dex"],
                 "movies": ["owl", "dex"], "weather": ["owl", "mochi"], "work": ["owl", "dex"]}

SLOTS = {
    "game": ["Hollow Tides", "Star Forge", "the new roguelike", "Crater Kart", "Moss & Mortar", "Deep Rock Diner",
             "Skyline Tactics", "Petal Patrol"],
    "food": ["instant ramen", "tacos", "grilled cheese", "pancakes", "dumplings", "nachos", "fried rice", "curry"],
    "time": ["", "at 8", "at 9", "after dinner", "late", "around 10"],
    "subject": ["chem", "calc", "history", "bio", "stats", "physics"],
    "band": ["the new Velvet Static", "this lofi", "Paper Lanterns", "the Midnight Arcade", "that synthwave"],
}

FUNNY_EMOJI = [("😂", None), ("💀", None), ("kekw", "custom"), ("😭", None), ("goose", "custom")]
NICE_EMOJI = [("👍", None), ("❤️", None), ("🔥", None), ("pog", "custom"), ("✨", None)]

# ---- generation ------------------------------------------------------------------------------------

class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.msgs = {name: [] for name in CHANNELS}
        self.last_ms = {name: 0 for name in CHANNELS}
        self.seq = 0

    def snowflake(self, ms):
        self.seq += 1
        return str(((ms - DISCORD_EPOCH_MS) << 22) | (self.seq & 0x3FFFFF))

    def author(self, who):
        if who in PEOPLE:
            uid, name, nick, color, _ = PEOPLE[who]
            return {"id": uid, "name": name, "discriminator": "0000", "nickname": nick, "color": color,
                    "isBot": False}
        if who == "webhook":
            uid, name, nick, disc = WEBHOOK
        else:
            uid, name, nick, disc = BOTS[who]
        return {"id": uid, "name": name, "discriminator": disc, "nickname": nick, "color": None,
                "isBot": True}

    @staticmethod
    def fill(text, slots):
        for k, v in slots.items():
            text = text.replace("{" + k + "}", v).replace("{" + k.upper() + "}", v.upper())
        return " ".join(text.split())

    def typo(self, s):
        """Benny's fingers: swaps, doubled letters, dropped letters."""
        words = s.split(" ")
        for i, w in enumerate(words):
            if len(w) > 3 and w.isalpha() and self.r.random() < 0.18:
                j = self.r.randrange(len(w) - 1)
                kind = self.r.random()
                if kind < 0.5:
                    w = w[:j] + w[j + 1] + w[j] + w[j + 2:]
                elif kind < 0.75:
                    w = w[:j] + w[j] + w[j:]
                else:
                    w = w[:j] + w[j + 1:]
                words[i] = w
        return " ".join(words)

    def voice(self, who, line):
        """Small per-person variations so repeated lines are not always identical."""
        r = self.r
        if who == "benny":
            line = self.typo(line)
        elif who == "dex" and r.random() < 0.3:
            if line.endswith("O"):
                line += "O" * r.randint(1, 4)
            elif not line.endswith(("!", "?", ")")):
                line += "!" * r.randint(1, 3)
        elif who == "mochi" and r.random() < 0.25:
            line += " " + r.choice(["✨", "💖", "🥺", "🌸", "😭", "💕"])
        elif who == "owl" and r.random() < 0.1:
            line += " lol"
        elif who == "jaylen" and r.random() < 0.15:
            line += r.choice([" fr", " ngl", " 💀"])
        return line

    def reactions(self, funny, author_key, members):
        r = self.r
        if funny:
            n_kinds, pool = r.choice([1, 2, 2, 3]), FUNNY_EMOJI
        elif r.random() < 0.12:
            n_kinds, pool = 1, NICE_EMOJI
        else:
            return []
        out = []
        others = [m for m in members if m != author_key]
        for name, kind in r.sample(pool, n_kinds):
            count = r.randint(2, min(6, max(2, len(others)))) if funny else r.randint(1, 2)
            count = min(count, len(others))
            if count == 0:
                continue
            users = r.sample(others, count)
            if kind == "custom":
                emoji = {"id": CUSTOM_EMOJI[name], "name": name, "code": name, "isAnimated": False,
                         "imageUrl": "https://cdn.discordapp.com/emojis/%s.png" % CUSTOM_EMOJI[name]}
            else:
                emoji = {"id": "", "name": name, "code": name, "isAnimated": False, "imageUrl": ""}
            out.append({"emoji": emoji, "count": count,
                        "users": [{k: v for k, v in self.author(u).items() if k != "color"} for u in users]})
        return out

    def post(self, ch, ms, who, content, kind="Default", ref=None, mentions=(), reactions=()):
        m = {"id": self.snowflake(ms), "type": kind,
             "timestamp": dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).isoformat(timespec="milliseconds"),
             "timestampEdited": None, "isPinned": False, "content": content,
             "author": self.author(who), "attachments": [], "embeds": [], "stickers": [],
             "reactions": list(reactions), "mentions": [self.author(x) for x in mentions]}
        if ref is not None:
            m["reference"] = {"messageId": ref["id"], "channelId": CHANNELS[ch][0], "guildId": GUILD["id"]}
        self.msgs[ch].append(m)
        self.last_ms[ch] = ms
        return m

    def conversation(self, ch, topic, bank, start_ms):
        r = self.r
        regulars = [p for p in PEOPLE if p != "sam"]
        k = r.randint(3, 6)
        weights = [PEOPLE[p][4] for p in regulars]
        members = []
        while len(members) < k:
            p = r.choices(regulars, weights)[0]
            if p not in members:
                members.append(p)
        opener = r.choice([p for p in GAMER_OPENERS.get(topic, regulars) if p in bank] or ["owl"])
        if opener not in members:
            members[0] = opener
        if r.random() < 0.05:
            members.append("sam")
        used = set(GENERIC_SKIP)
        slots = {k: r.choice(v) for k, v in SLOTS.items()}
        slots["n"] = str(r.randint(2, 12))
        # the topic's openers say their first line only to open it
        for p in GAMER_OPENERS.get(topic, []):
            if p in bank and p != opener:
                used.add((p, bank[p][0]))
        ms = start_ms
        convo = []
        length = r.randint(6, 22)
        prev = None
        for i in range(length):
            if i == 0:
                who = opener
            else:
                cands = [m for m in members if m != prev] or members
                who = r.choices(cands, [PEOPLE[m][4] for m in cands])[0]
            lines = [l for l in bank.get(who, []) if (who, l) not in used]
            if i == 0:
                lines = bank.get(who, [])[:1] or lines
            if not lines or (i > 0 and r.random() < 0.35):
                lines = [l for l in GENERIC[who] if (who, l) not in used] or GENERIC[who]
            line = r.choice(lines)
            used.add((who, line))
            funny = line.startswith("*")
            text = self.fill(line.lstrip("*"), slots)
            mentions = []
            if "{p}" in text:
                others = [m for m in members if m != who]
                target = r.choice(others) if others else "owl"
                text = text.replace("{p}", "@" + PEOPLE[target][2])
                mentions.append(target)
            text = self.voice(who, text)
            ref = None
            kind = "Default"
            if convo and r.random() < 0.22:
                ref = r.choice(convo[-4:])
                if ref["author"]["id"] != PEOPLE[who][0]:
                    kind = "Reply"
                    ref_who = next(p for p in PEOPLE if PEOPLE[p][0] == ref["author"]["id"])
                    mentions.append(ref_who)
                else:
                    ref = None
            ms += int(r.expovariate(1 / 45000)) + 3000
            m = self.post(ch, ms, who, text, kind, ref, mentions, self.reactions(funny, who, members))
            convo.append(m)
            prev = who
            if who != "sam" and r.random() < 0.02:
                ms += 2000
                self.post("general" if ch != "gaming" else ch, ms, "levels",
                          "GG @%s, you just advanced to level %d!" % (PEOPLE[who][2], r.randint(5, 40)),
                          mentions=[who])
        return ms

    def run(self, days):
        r = self.r
        t0 = int(dt.datetime(2024, 3, 4, 0, 0, tzinfo=dt.timezone.utc).timestamp() * 1000)
        joins = list(NEWCOMERS)
        for day in range(days):
            day_ms = t0 + day * 86400000
            # evenings are busy, weekends busier, mornings and 3 a.m. have their regulars
            n_conv = r.randint(3, 6) + (2 if day % 7 in (5, 6) else 0)
            hours = sorted(r.choice([9, 12, 16, 18, 19, 20, 21, 22, 23, 27]) + r.random() for _ in range(n_conv))
            for h in hours:
                if 5 <= h % 24 < 11:
                    choices = ["morning", "school", "pets", "food"]
                elif h >= 25:
                    choices = ["late_night", "goose", "meme_dump", "music"]
                else:
                    choices = [t[1] for t in TOPICS if t[1] not in ("morning", "late_night")]
                topic = r.choice(choices)
                ch, _, bank = next(t for t in TOPICS if t[1] == topic)
                start = max(day_ms + int(h * 3600000), self.last_ms[ch] + 40 * 60000)
                self.conversation(ch, topic, bank, start)
            if day % 6 == 2:
                ms = day_ms + 11 * 3600000
                self.post("gaming", ms, "raidbot",
                          "⏰ Raid night is tomorrow at 20:00 UTC! React ✅ to sign up. Bring potions.",
                          reactions=[{"emoji": {"id": "", "name": "✅", "code": "white_check_mark", "isAnimated": False,
                                                "imageUrl": ""}, "count": r.randint(3, 6)}])
            if day % 13 == 4:
                self.post("gaming", day_ms + 10 * 3600000, "webhook",
                          "Patch 1.%d.%d is live: balance changes, bug fixes, and a new hat for pets." % (day // 13 + 4, r.randint(0, 9)))
            if joins and day % 12 == 7:
                uid, name, nick = joins.pop(0)
                ms = day_ms + 15 * 3600000
                m = self.post("general", ms, "owl", "", kind="GuildMemberJoin")
                m["author"] = {"id": uid, "name": name, "discriminator": "0000", "nickname": nick, "color": None,
                               "isBot": False}
                self.post("general", ms + 60000, "mochi", "welcome %s!! 👋✨" % nick)
            if day % 10 == 9:
                self.post("memes", day_ms + 13 * 3600000, "dex", "Pinned a message.", kind="ChannelPinnedMessage")

    def write(self, out_dir):
        os.makedirs(out_dir, exist_ok=True)
        total = 0
        for name, (cid, topic) in CHANNELS.items():
            msgs = sorted(self.msgs[name], key=lambda m: int(m["id"]))
            header = {"guild": GUILD,
                      "channel": {"id": cid, "type": "GuildTextChat", "categoryId": CATEGORY[0],
                                  "category": CATEGORY[1], "name": name, "topic": topic},
                      "dateRange": {"after": None, "before": None},
                      "exportedAt": "2024-04-20T12:00:00.000+00:00"}
            path = os.path.join(out_dir, "cozy-crater-%s.json" % name)
            with open(path, "w", encoding="utf-8") as f:
                head = json.dumps(header, ensure_ascii=False, indent=2)
                f.write(head[:-2] + ",\n  \"messages\": [\n")
                f.write(",\n".join("    " + json.dumps(m, ensure_ascii=False, separators=(",", ":")) for m in msgs))
                f.write("\n  ],\n  \"messageCount\": %d\n}\n" % len(msgs))
            total += len(msgs)
        return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--days", type=int, default=40)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "demo", "sample-community"))
    a = ap.parse_args()
    g = Gen(a.seed)
    g.run(a.days)
    n = g.write(a.out)
    print("wrote %d messages to %s" % (n, os.path.normpath(a.out)))


if __name__ == "__main__":
    main()
