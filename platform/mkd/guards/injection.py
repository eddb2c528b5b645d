"""Prompt injection: attempts to make the model follow the query instead of its task.

Four families, each a reason code:
- `injection.override`: "ignore previous instructions", "from now on answer...";
- `injection.roleplay`: jailbreak personas (DAN, developer mode, "pretend you have no rules");
- `injection.prompt_leak`: system-prompt extraction ("repeat the text above");
- `injection.directive`: none of the above matched, but the query talks to the model about its
  own behaviour (second person + a verb aimed at the model + words such as schema, format,
  mode, instructions): the paraphrase catch-all;
- `injection.hidden`: instructions planted inside the query: chat-template tokens, fake
  `system:` turns, HTML comments, notes addressed to the model, output steering
  ('answer with {"category": ...}'), text smuggled in invisible tag characters.
Patterns run on the clean-up guard's skeleton (look-alikes mapped, case-folded), and the key
phrases also on a "squashed" form (letters only, leetspeak undone) that defeats
"i.g.n.o.r.e" and "1gn0re".
"""

from __future__ import annotations

import re

from mkd.config.guards import InjectionGuardConfig
from mkd.guards.decision import Action, Finding

GUARD = "injection"

_W = r"(?:\W+\w+){0,4}?\W+"  # up to four filler words between key words

_PATTERNS: dict[str, list[str]] = {
    "override": [
        rf"\b(?:ignore|ignoring|disregard|forget|skip|override|bypass|discard|abandon|neglect|drop)"
        rf"{_W}(?:previous|prior|preceding|above|earlier|former|foregoing|all|any|your|system|initial|original|the)"
        rf"(?:\W+\w+){{0,3}}?\W+(?:instructions?|prompts?|rules|directions|directives|guidelines|"
        r"context|constraints|restrictions|programming|commands?|orders|guardrails|polic(?:y|ies)|"
        r"messages|task|training)\b",
        r"\bforget (?:everything|all(?: of)? that|what) (?:you|i|above|before|we)\b",
        r"\bnew (?:instructions?|rules|task|directive|objective)\s*[:\-]",
        r"\bfrom now on\W+(?:you|ignore|answer|respond|always|only|reply|output|act)\b",
        r"\b(?:instead|rather)\W+(?:just )?(?:output|print|return|respond with|answer with|say|write|reply)\b",
        r"\bdo not (?:follow|obey|apply) (?:your|the|any|those|these) (?:instructions|rules|guidelines)\b",
        r"\b(?:no longer|don't|do not) (?:follow|obey|need to follow) (?:your|the|any) ",
        r"\boverride (?:your|the|all|any) ",
        r"\b(?:ignore|disregard|forget|set aside|put aside|never ?mind)\W+"
        r"(?:\w+\W+){0,6}?(?:you were told|you were given|you received|told you|instructed|"
        r"written (?:above|before)|said (?:above|before)|start of (?:this|the) (?:chat|conversation))",
        r"\byou (?:may|can|should|must|are allowed to|are free to) (?:now )?(?:ignore|disregard|"
        r"skip|forget|break|bypass)\b",
        r"\bignora(?:r)? (?:todas )?(?:las )?(?:instrucciones|reglas)\b",
        r"\bignore[zr]? (?:toutes )?(?:les )?(?:instructions|consignes|règles) ",
        r"\bignoriere (?:alle )?(?:vorherigen |bisherigen )?(?:anweisungen|regeln)\b",
        r"(?:निर्देश|नियम)\S*\s+(?:को\s+)?(?:अनदेखा|नज़रअंदाज़|नजरअंदाज|भूल)",
    ],
    "roleplay": [
        r"\b(?:you are|you're|u r|youre) (?:now |going to be |no longer an? )?(?:dan|stan|dude|aim|"
        r"an? (?:unrestricted|unfiltered|uncensored|jailbroken|evil|rogue|unaligned|amoral))\b",
        r"\byou are now\b",
        r"\bdo anything now\b",
        r"\b(?:developer|dev|god|debug|admin|sudo|unrestricted|opposite) mode\b",
        r"\bjail ?br(?:eak|oken|eaking)\b",
        r"\b(?:pretend|imagine|suppose)(?: that)? (?:to be|you are|you're|you have|you can|that you)\b",
        r"\b(?:role ?-?play|roleplay)(?:ing)? as\b|\blet's (?:role ?-?play|play a game)\b",
        r"\bact as (?:if you|an? (?:ai|assistant|model|chatbot|llm|unrestricted|unfiltered|"
        r"different|evil|rogue)|my (?:late|dead|deceased)?\s*\w+)\b",
        r"\bstay in character\b|\bbreak character\b",
        r"\b(?:without|with no|free (?:from|of)|not bound by|unbound by|no longer bound by) "
        r"(?:any |your |the |ethical |moral |content )*(?:restrictions|rules|filters|limitations|"
        r"guidelines|ethics|morals|censorship|policies|safeguards)\b",
        r"\bmy (?:late |dead |deceased )?grand(?:ma|mother|pa|father) used to\b",
        r"\bsimulate (?:an? )?(?:ai|chatbot|model|assistant|terminal|linux)\b",
        r"\b(?:behave|act|respond|answer|talk|speak) (?:as|like) (?:if |though )?(?:you (?:are|were|have)|"
        r"an? (?:ai|model|assistant|chatbot|bot|llm)|my)\b",
        r"\bwith (?:zero|no|0) (?:limitations|limits|restrictions|rules|filters|guardrails|censorship)\b",
        r"\b(?:freed|released|liberated|unshackled) from\b|\bfree of (?:your|its|all|any|the) ",
        r"\b(?:rules|policies|guidelines|restrictions|the schema|instructions|filters) "
        r"(?:don't|do not|doesn't|does not|no longer) (?:apply|exist|matter|bind)\b",
        r"\b(?:pretend|imagine|assume) (?:that )?(?:the|your) (?:schema|rules|instructions|"
        r"guidelines|filters|policies)\b",
    ],
    "prompt_leak": [
        r"\bsystem ?prompt\b|\bsystem message\b|\bpre-?prompt\b|\bmeta ?prompt\b",
        r"\b(?:your|the) (?:developer|hidden|initial|original|secret|internal|underlying|"
        r"confidential|first|full|exact) (?:prompt|instructions|rules|guidelines|message|configuration)\b",
        r"\b(?:repeat|print|output|show|reveal|recite|dump|display|echo|copy|return|translate|"
        r"summari[sz]e) (?:me )?(?:back )?(?:all |the |everything |every )?(?:text|words|"
        r"everything|lines|content|message|messages|tokens)? ?(?:above|before this|preceding|prior to|"
        r"verbatim|word for word)\b",
        r"\b(?:reveal|print|show|repeat|output|tell me|give me|leak|share|display|dump|list|"
        r"recite|what are|what were) (?:me )?(?:all )?(?:of )?your (?:\w+ )?(?:instructions|rules|"
        r"prompt|guidelines|directives|configuration|programming)\b",
        r"\b(?:what|which|how) (?:were|are|was) you (?:told|instructed|programmed|prompted|configured)\b",
        r"\b(?:instructions|prompt) (?:verbatim|word for word)\b",
        r"\bstarts? with [\"'“]?you are\b|\bbegins? with [\"'“]?you are\b",
        r"\b(?:instructions|prompt|rules|directives) (?:that )?you (?:received|were given|got|follow|"
        r"were told)\b",
        r"\byour (?:creators|developers|makers|designers|trainers|operators)\b",
        r"\b(?:print|dump|show|output|reveal|display|list|leak) (?:me )?(?:the |your |all )?"
        r"(?:raw |full |exact |internal )?(?:config|configuration|settings|env|environment "
        r"variables|api keys?|secrets?|credentials|passwords?)\b",
        r"\b(?:exact )?words of your\b",
        r"\byour (?:\w+ )?(?:instructions|directives|guidelines|programming|system rules|"
        r"formatting rules|policies|rules)\b",
    ],
    "hidden": [
        r"<\|?\s*(?:im_start|im_end|system|endoftext|eot_id|start_header_id|end_header_id|"
        r"assistant|user|begin_of_text)\s*\|?>",
        r"\[/?(?:inst|sys|system)\]|<</?sys>>|</?(?:system|instructions?|prompt|admin)>",
        r"(?:^|[\n.;!?)\]]\s*|\s{2,})(?:system|assistant|developer|admin)\s*:\s*\S",
        r"#{2,}\s*(?:instruction|system|response|new task)",
        r"<!--.*?-->",
        r"\b(?:system|admin|developer|operator|moderator) (?:note|message|override|instruction|"
        r"command|update)\b",
        r"\b(?:note|message|attention|instruction|reminder|p\.?s\.?)\W+(?:to|for) (?:the )?(?:ai|"
        r"assistant|model|llm|bot|chatbot|system|labell?er|classifier|annotator|grader)\b",
        r"\b(?:ai|assistant|model|llm|chatbot|gpt|bot)\s*[,:]\s*(?:ignore|output|print|respond|say|"
        r"answer|you must|always|never|reply|classify|return)\b",
        r"\b(?:tell|instruct) the (?:model|ai|system|assistant|classifier)\b",
        r"\bthe (?:developer|developers|admin|administrator|operator|system|moderator)s? "
        r"(?:says|said|wants|allows|permits|lets|told)\b",
        r"\bif you are an? (?:ai|llm|language model|assistant|chatbot|bot)\b",
        r"\b(?:respond|answer|reply|output|return)\s+(?:only |just )?(?:with\s*[:\-]?|:)\s*[\[{\"'`]",
        r"\b(?:classify|label|categori[sz]e|tag|mark) (?:this|it|the query|the following|me|this query)"
        r" (?:as|under|with)\b",
        r"\b(?:set|make|force|change) (?:the )?(?:category|currency|output|answer|label|result)"
        r" (?:to|=|as|into)\b",
        r"[\"']category[\"']\s*:|[\"']currency[\"']\s*:",
        r"\b(?:base64|rot13|rot-13|hex)[- ]?(?:encoded|decode|this)\b|\bdecode (?:this|the following)\b",
    ],
}

_SQUASHED: dict[str, list[str]] = {
    "override": [
        r"ignore(?:all|any|the|your)*(?:previous|prior|above|earlier)?(?:instructions?|prompts?|rules)",
        r"disregard(?:all|any|the|your)*(?:previous|prior|above|earlier)?instructions?",
        r"forget(?:all|your|the)*(?:previous|prior)?instructions",
    ],
    "roleplay": [r"developermode", r"doanythingnow", r"jailbr(?:eak|oken)", r"youarenowdan"],
    "prompt_leak": [r"systemprompt", r"revealyour(?:instructions|prompt)"],
}

_COMPILED = {
    fam: re.compile("|".join(f"(?:{p})" for p in pats), re.S) for fam, pats in _PATTERNS.items()
}
_COMPILED_SQUASHED = {
    fam: re.compile("|".join(f"(?:{p})" for p in pats)) for fam, pats in _SQUASHED.items()
}
# A query that addresses the model about its own behaviour ("you ... respond ... schema")
# is an instruction whatever its wording; finance questions rarely combine the three.
_SECOND_PERSON = frozenset(["you", "your", "yours", "yourself", "you're", "youre", "ur", "u"])
_META_VERBS = frozenset(
    [
        "ignore",
        "disregard",
        "forget",
        "override",
        "bypass",
        "pretend",
        "roleplay",
        "respond",
        "reply",
        "output",
        "print",
        "reveal",
        "repeat",
        "recite",
        "translate",
        "obey",
        "comply",
        "behave",
        "simulate",
        "switch",
        "enable",
        "unlock",
        "scratch",
        "dump",
        "leak",
        "skip",
    ]
)
_META_NOUNS = frozenset(
    [
        "instruction",
        "instructions",
        "prompt",
        "prompts",
        "rules",
        "schema",
        "json",
        "format",
        "formatting",
        "mode",
        "system",
        "developer",
        "developers",
        "context",
        "conversation",
        "chat",
        "directive",
        "directives",
        "policy",
        "policies",
        "guidelines",
        "persona",
        "character",
        "assistant",
        "llm",
        "chatbot",
        "bot",
        "uppercase",
        "lowercase",
        "haiku",
        "poem",
        "essay",
        "tweet",
        "prose",
        "limerick",
        "message",
        "messages",
        "debug",
        "safety",
        "filter",
        "filters",
        "initialised",
        "initialized",
        "window",
        "regardless",
        "task",
    ]
)
_WORDS = re.compile(r"[a-z']+")
DIRECTIVE_THRESHOLD = 3
_ORDER = ["override", "roleplay", "prompt_leak", "hidden", "directive"]


def directive_score(skeleton: str) -> int:
    """Second person (+1), a verb aimed at the model (+1), meta nouns (+1 each, at most 2)."""
    words = set(_WORDS.findall(skeleton))
    nouns = len(words & _META_NOUNS)
    return bool(words & _SECOND_PERSON) + bool(words & _META_VERBS) + min(2, nouns)


_LEET = str.maketrans("013457@$!|", "oieastasil")
_NON_LETTERS = re.compile(r"[^a-z]+")


def squash(skeleton: str) -> str:
    """Letters only, leetspeak undone: "I.g.n.0.r.e" -> "ignore"."""
    return _NON_LETTERS.sub("", skeleton.translate(_LEET))


def detect(skeleton: str, hidden: str = "") -> list[str]:
    """The injection families found in a skeleton (see `limits.skeleton`) and a hidden payload."""
    found = [fam for fam, rx in _COMPILED.items() if rx.search(skeleton)]
    squashed = squash(skeleton)
    found += [
        fam for fam, rx in _COMPILED_SQUASHED.items() if fam not in found and rx.search(squashed)
    ]
    if not found and directive_score(skeleton) >= DIRECTIVE_THRESHOLD:
        found.append("directive")
    if hidden.strip() and any(c.isalpha() for c in hidden) and "hidden" not in found:
        found.append("hidden")  # text smuggled in invisible characters is an instruction to hide
    return sorted(found, key=_ORDER.index)  # the primary reason does not depend on the route


def check(skeleton: str, hidden: str, cfg: InjectionGuardConfig) -> list[Finding]:
    """One finding per injection family found; block, or allow in "log" mode."""
    action = Action.BLOCK if cfg.action == "block" else Action.ALLOW
    return [Finding(GUARD, f"injection.{fam}", action) for fam in detect(skeleton, hidden)]
